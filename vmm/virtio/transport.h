/* virtio-pci, modern only (virtio 1.2 §4.1): one 32-bit memory BAR holds the common configuration, ISR,
 * device configuration, notification area and the MSI-X table and PBA; vendor capabilities point into
 * it. Queue notifications arrive on ioeventfds (KVM_IOEVENTFD) and interrupts leave through irqfds
 * (KVM_IRQFD) bound to MSI routes the guest programs in the MSI-X table. Legacy INTx is not offered.
 *
 * Guest-controlled: every register write (feature words, queue select/size, ring addresses, MSI-X
 * vectors and table entries). Out-of-range selects read as 0 and ignore writes, queue sizes must be
 * powers of two no larger than the device maximum, vectors beyond the table become NO_VECTOR. */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "error.h"
#include "vmm/pci.h"
#include "vmm/virtio/virtq.h"

#define VIRTIO_MAX_QUEUES     4
#define VIRTIO_MSIX_VECTORS   (VIRTIO_MAX_QUEUES + 1)
#define VIRTIO_BAR_SIZE       0x8000
#define VIRTIO_BAR_COMMON     0x0000
#define VIRTIO_BAR_ISR        0x1000
#define VIRTIO_BAR_DEVICE     0x2000
#define VIRTIO_BAR_NOTIFY     0x3000
#define VIRTIO_NOTIFY_MULT    4
#define VIRTIO_BAR_MSIX_TABLE 0x4000
#define VIRTIO_BAR_MSIX_PBA   0x5000
#define VIRTIO_DEV_CFG_MAX    256

#define VIRTIO_FEATURE_VERSION_1 (1ULL << 32) /* VIRTIO_F_VERSION_1 is bit 32 */
#define VIRTIO_NO_VECTOR         0xffff

struct vm;
struct evloop;
struct virtio_dev;

struct virtio_ops {
	/* Queue q was notified (device thread, dev->lock held). */
	void (*notify)(struct virtio_dev *d, unsigned q);
	/* The driver reset the device (dev->lock held): drop in-flight state. May be NULL. */
	void (*reset)(struct virtio_dev *d);
	/* DRIVER_OK was set (dev->lock held). May be NULL. */
	void (*activate)(struct virtio_dev *d);
	/* Where a queue's interrupt goes may have changed: a queue's MSI-X vector, a table entry (mask bit,
	 * address/data), or the MSI-X enable / function-mask bits (dev->lock held). For back ends whose
	 * interrupts are raised in the kernel (vhost) rather than through virtio_notify_used. May be NULL. */
	void (*irq_changed)(struct virtio_dev *d);
	/* Release the back end's kernel resources before guest RAM goes away (main thread). May be NULL. */
	void (*destroy)(struct virtio_dev *d);
};

struct virtio_dev {
	struct pci_device pci;
	struct vm *vm;
	const struct guest_mem *mem; /* where ring addresses point (vm's RAM; the fuzzer sets its own) */
	struct evloop *ev;
	pthread_mutex_t lock;
	const char *name;
	uint16_t device_id;
	const struct virtio_ops *ops;
	void *priv;

	uint64_t host_features, driver_features;
	uint32_t dfselect, gfselect;
	uint16_t msix_config;
	uint8_t status, config_gen, isr;
	uint16_t queue_sel;
	unsigned nqueues;
	uint16_t queue_max;
	struct virtq vq[VIRTIO_MAX_QUEUES];
	int ioeventfd[VIRTIO_MAX_QUEUES];
	/* Queues served in the kernel (vhost): their ioeventfd is the vhost kick fd, so the device thread must
	 * not read it. Set by the back end before virtio_dev_attach. */
	uint32_t kernel_queues;
	uint64_t ioeventfd_addr; /* BAR address the ioeventfds are bound to (0 = none) */

	uint8_t devcfg[VIRTIO_DEV_CFG_MAX];
	unsigned devcfg_len;

	uint8_t msix_cap; /* offset of the MSI-X capability in config space */
	uint32_t msix_table[VIRTIO_MSIX_VECTORS][4];
	uint64_t msix_pba;
	int irqfd[VIRTIO_MSIX_VECTORS];
	int gsi[VIRTIO_MSIX_VECTORS];

	uint64_t notifies, interrupts; /* counters */
};

/* Build the PCI function (ids, BAR, capabilities); when vm is non-NULL also bind irqfds. The device
 * back end then fills devcfg/devcfg_len and host_features. */
int virtio_dev_init(struct virtio_dev *d, struct vm *vm, struct evloop *ev, const char *name, uint16_t device_id,
                    uint32_t class_code, unsigned nqueues, uint16_t queue_max, const struct virtio_ops *ops, void *priv,
                    isola_error *err);
/* Put it on the PCI bus and watch its notifications on the device thread. */
int virtio_dev_attach(struct virtio_dev *d, isola_error *err);
void virtio_dev_destroy(struct virtio_dev *d);
/* Raise MSI-X vector v as the device (dev->lock held): sets the ISR bit, fires the irqfd, or records the
 * vector as pending (PBA) while it is masked. */
void virtio_dev_interrupt(struct virtio_dev *d, unsigned v);
/* Whether a write to vector v's irqfd would reach the guest now: MSI-X enabled, not function-masked, v in
 * the table and its entry unmasked. */
bool virtio_msix_deliverable(const struct virtio_dev *d, unsigned v);
/* The device hit an error it cannot recover from without a driver reset (§2.1.2, dev->lock held). */
void virtio_dev_needs_reset(struct virtio_dev *d, const char *why);

/* BAR access (the PCI layer calls it; the fuzzer too). */
void virtio_bar_rw(struct pci_device *p, unsigned bar, uint64_t off, bool write, uint8_t *data, unsigned len);
/* Signal queue q's MSI-X vector if the driver wants it (dev->lock held). */
void virtio_notify_used(struct virtio_dev *d, unsigned q);
/* Whether the driver finished setup (DRIVER_OK, not NEEDS_RESET). */
bool virtio_dev_ready(const struct virtio_dev *d);
