/* virtio-vsock (virtio 1.2 §5.10, device id 19) with its data path in the kernel: vhost-vsock.
 *
 * The guest's rx (0) and tx (1) queues are run by the vhost_vsock module: their kick fds are the
 * transport's ioeventfds (KVM_IOEVENTFD on the queue-notify address: a guest kick never leaves the
 * kernel) and their call fds are the irqfds of the queues' MSI-X vectors (KVM_IRQFD on a GSI whose MSI
 * route follows the guest's table). The host end of a connection is then a plain AF_VSOCK socket. The
 * event queue (2) stays here, in user space: it only carries transport-reset events.
 *
 * Guest-controlled and checked before vhost sees it: ring addresses (whole rings inside one RAM region,
 * aligned; vhost would otherwise be handed a user address of our choosing, i.e. of the guest's), queue
 * sizes, the MSI-X vector of each queue and its mask state (a masked vector's interrupts go to an eventfd
 * the device thread turns into a PBA bit, so vhost never bypasses the mask), and resets (vhost stopped
 * before anything is re-armed). */
#pragma once
#include <linux/vhost.h>
#include <stdbool.h>
#include <stdint.h>
#include "error.h"
#include "vmm/guest_mem.h"
#include "vmm/virtio/transport.h"

#define VSOCK_QUEUE_SIZE 128
#define VSOCK_RXQ        0
#define VSOCK_TXQ        1
#define VSOCK_EVQ        2
#define VSOCK_NQUEUES    3

/* Parse the --vsock argument "cid=N": N in 3..U32_MAX-1 (0 hypervisor, 1 local, 2 host and U32_MAX
 * VMADDR_CID_ANY are reserved, vsock(7)). */
int vsock_parse_spec(const char *spec, uint32_t *cid, isola_error *err);

/* The vhost_vring_addr for queue `index` from the driver's ring GPAs: every ring must lie in one RAM
 * region (guest_mem_ptr), with the split-ring alignment (§2.7: 16/2/4) and a power-of-two size. Pure. */
int vsock_vring_addr(const struct virtq *q, const struct guest_mem *m, unsigned index, struct vhost_vring_addr *out,
                     isola_error *err);

/* The features offered to the driver: VERSION_1, plus SEQPACKET when vhost has it. Never EVENT_IDX or
 * INDIRECT_DESC, which the user-space event queue does not implement. */
uint64_t vsock_offered_features(uint64_t vhost_features);

/* Counters for the control socket. */
struct vsock_stats {
	uint32_t cid;
	bool running;
	uint64_t activations, stops, kick_fallbacks, masked_interrupts, event_buffers;
};
void virtio_vsock_stats(struct virtio_dev *d, struct vsock_stats *out);
/* Whether d is the vsock device. */
bool virtio_is_vsock(const struct virtio_dev *d);

/* The PCI function and config space without vhost (vm may be NULL: unit tests). The device struct is
 * allocated by the caller; priv is allocated here. */
int virtio_vsock_init(struct virtio_dev *d, struct vm *vm, struct evloop *ev, uint32_t cid, uint64_t vhost_features,
                      isola_error *err);
