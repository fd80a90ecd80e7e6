/* Guest physical memory: one memfd, mapped once in the VMM, exposed to KVM as up to two slots split
 * around the 32-bit PCI/MMIO hole.
 *
 *   guest physical                      memfd offset
 *   [0, low_end)                        [0, low_end)                 slot 0
 *   [4 GiB, 4 GiB + (size - low_end))   [low_end, size)              slot 1 (only when size > low_end)
 *
 * low_end = min(size, GUEST_MMIO_HOLE_START). Every translation of a guest-supplied address goes through
 * guest_mem_ptr(), which refuses ranges that wrap, leave RAM or straddle the hole: the guest controls
 * descriptor addresses and lengths, so nothing else may turn a GPA into a pointer. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "error.h"

#define GUEST_MMIO_HOLE_START 0xC0000000ULL /* 3 GiB: PCI BARs, IOAPIC, LAPIC, TSS live above */
#define GUEST_4G              0x100000000ULL

struct guest_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t offset; /* into host mapping / memfd */
};

struct guest_mem {
	uint8_t *host; /* mapping of the whole memfd (size bytes) */
	uint64_t size; /* bytes of RAM */
	int memfd;     /* -1 when the memory is not backed by a memfd (unit tests) */
	struct guest_region region[2];
	unsigned nregions;
};

/* Fill m->region[] for size bytes of RAM (host and memfd untouched). Pure; used by the tests. */
void guest_mem_layout(struct guest_mem *m, uint64_t size);
/* Create a memfd of size bytes ("isola-vmm guest RAM", MFD_CLOEXEC), map it shared and lay it out.
 * anon: private anonymous memory instead (memfd = -1), which the kernel can back with transparent huge
 * pages when THP is "madvise" or "always" (shmem THP is usually "never"): fewer EPT faults at boot. */
int guest_mem_create(struct guest_mem *m, uint64_t size, bool anon, isola_error *err);
void guest_mem_destroy(struct guest_mem *m);

/* Host pointer for [gpa, gpa + len) or NULL when any byte of it is not guest RAM of one region
 * (overflow-safe). len == 0 is allowed and checks only that gpa is inside (or at the end of) a region. */
void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);
/* End of RAM below the hole (exclusive). */
uint64_t guest_mem_low_end(const struct guest_mem *m);
