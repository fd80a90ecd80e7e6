/* Put a Linux bzImage, its initrd and command line, the zero page, MP table and ACPI tables into guest
 * RAM (64-bit boot protocol). */
#pragma once
#include <stdint.h>
#include "error.h"
#include "vmm/guest_mem.h"

struct boot_config {
	const char *kernel;
	const char *initrd; /* may be NULL */
	const char *cmdline;
	unsigned ncpus;
};

/* Check the kernel (and that the initrd is readable) before any KVM state exists: bad input fails fast
 * with a reason, on hosts without /dev/kvm too. */
int boot_validate(const struct boot_config *c, isola_error *err);
/* On success *entry is the 64-bit entry point (load address + 0x200). */
int boot_load(const struct guest_mem *m, const struct boot_config *c, uint64_t *entry, isola_error *err);
