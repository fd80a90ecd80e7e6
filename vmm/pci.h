/* PCI bus 0 behind configuration mechanism #1 (ports 0xCF8/0xCFC, PCI Local Bus 3.0 §3.2.2.3.2), with a
 * generic 256-byte configuration space per function.
 *
 * Guest writes are filtered byte by byte through a write mask (and a write-1-to-clear mask), so read-only
 * registers stay read-only and a BAR only takes the address bits its size allows: writing all ones reads
 * back ~(size - 1) | type, which is how the guest sizes it. Accesses must be 1, 2 or 4 bytes and may not
 * cross a dword; anything else is ignored (reads return all ones). Only function 0 of bus 0 exists. */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "error.h"

#define PCI_SLOTS      32
#define PCI_CFG_SIZE   256
#define PCI_CONF1_ADDR 0xcf8
#define PCI_CONF1_DATA 0xcfc
#define PCI_NBARS      6

struct pci_device;
typedef void (*pci_bar_rw_fn)(struct pci_device *d, unsigned bar, uint64_t off, bool write, uint8_t *data,
                              unsigned len);
typedef void (*pci_cfg_hook_fn)(struct pci_device *d, unsigned off, unsigned len);

struct pci_device {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];
	uint8_t w1cmask[PCI_CFG_SIZE];
	uint32_t bar_size[PCI_NBARS]; /* 0: unused; 32-bit memory BARs only */
	pci_bar_rw_fn bar_rw;         /* MMIO inside an enabled BAR */
	pci_cfg_hook_fn cfg_written;  /* after a config write was applied (may be NULL) */
	void *owner;
	unsigned slot;
	uint8_t next_cap; /* where pci_add_cap puts the next capability */
};

struct pci_bus {
	pthread_mutex_t lock; /* config space, conf1 address, BAR layout */
	uint32_t conf_addr;
	struct pci_device *dev[PCI_SLOTS];
	uint64_t mmio_next, mmio_end; /* BAR allocator */
	uint64_t cfg_accesses;
};

void pci_bus_init(struct pci_bus *bus, uint64_t mmio_base, uint64_t mmio_end);
/* Reset d to an empty type-0 header with the given ids and class (class_code = base<<16|sub<<8|progif). */
void pci_device_init(struct pci_device *d, uint16_t vendor, uint16_t device, uint32_t class_code, uint8_t rev,
                     uint16_t subsys_vendor, uint16_t subsys);
/* Give BAR n a 32-bit, non-prefetchable memory window of size bytes (power of two >= 4 KiB) from the
 * bus's MMIO window; the address is pre-assigned like firmware would. */
int pci_bar_alloc(struct pci_bus *bus, struct pci_device *d, unsigned n, uint32_t size, isola_error *err);
/* Append a capability with id and len bytes of body (after id/next), returns its offset, or 0 when full. */
uint8_t pci_add_cap(struct pci_device *d, uint8_t id, const uint8_t *body, unsigned len);
int pci_bus_add(struct pci_bus *bus, struct pci_device *d, isola_error *err);

/* Config space access on one function (the conf1 path and the fuzzer call these). */
uint32_t pci_cfg_read(struct pci_device *d, unsigned off, unsigned len);
void pci_cfg_write(struct pci_device *d, unsigned off, unsigned len, uint32_t val);
/* Current address of BAR n, or 0 when memory decoding is off or the BAR is unassigned. */
uint64_t pci_bar_addr(const struct pci_device *d, unsigned n);

/* Port I/O on 0xCF8..0xCFF: true when handled. */
bool pci_conf1_pio(struct pci_bus *bus, uint16_t port, bool write, uint8_t *data, unsigned size);
/* An MMIO access: true when it hit an enabled BAR (dispatched to that device). */
bool pci_mmio(struct pci_bus *bus, uint64_t addr, bool write, uint8_t *data, unsigned len);
