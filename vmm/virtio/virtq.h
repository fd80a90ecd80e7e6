/* Split virtqueues (virtio 1.2 §2.7), device side, with every guest-written value treated as hostile.
 *
 * The guest owns the descriptor table, the available ring and (for writing) nothing else; it can change any
 * of them at any time. So: ring addresses are validated once when the queue is enabled (whole rings inside
 * RAM, correct alignment), each descriptor's buffer is validated when popped (overflow-safe, one RAM
 * region), a chain longer than the queue size is a loop, an available index that runs more than queue size
 * ahead of what we consumed is rejected, and indirect descriptors are refused (not offered). A queue that
 * breaks a rule is marked broken and never touched again until reset (spec §2.1.2 DEVICE_NEEDS_RESET). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include "error.h"
#include "vmm/guest_mem.h"

#define VIRTQ_MAX_SIZE 1024
#define VIRTQ_MAX_SEGS 128 /* per chain; also the seg_max we advertise + 2 */

struct virtq {
	/* Set by the driver through the transport (validated in virtq_enable). */
	uint16_t size;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t msix_vector;
	bool enabled;
	bool broken;
	/* Device state. */
	uint16_t last_avail;
	uint16_t used_idx;
	struct vring_desc_raw *desc;
	struct vring_avail_raw *avail;
	struct vring_used_raw *used;
	const struct guest_mem *mem;
	uint64_t popped; /* counters */
};

/* One popped chain: readable (driver -> device) segments first, then writable ones. */
struct virtq_chain {
	uint16_t head;
	unsigned nread, nwrite;
	struct iovec iov[VIRTQ_MAX_SEGS]; /* [0, nread) readable, [nread, nread + nwrite) writable */
	uint64_t read_len, write_len;
};

/* Reset to the power-on state (size = max_size, not enabled). */
void virtq_reset(struct virtq *q, uint16_t max_size);
/* Check the driver's ring addresses and size and start using the queue. */
int virtq_enable(struct virtq *q, const struct guest_mem *m, isola_error *err);
/* Pop the next available chain: 1 popped, 0 none available, -1 the queue is broken (err says why). */
int virtq_pop(struct virtq *q, struct virtq_chain *c, isola_error *err);
/* Give back the last popped chain unconsumed (e.g. the tap had no packet). */
void virtq_unpop(struct virtq *q);
/* Return a chain to the driver with len bytes written into its writable part. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t len);
/* Whether the driver wants an interrupt now (VIRTQ_AVAIL_F_NO_INTERRUPT clear; no EVENT_IDX). */
bool virtq_needs_interrupt(const struct virtq *q);
/* Whether chains are waiting. */
bool virtq_has_avail(const struct virtq *q);
/* How many chains are waiting (0 for a disabled or broken queue; at most the queue size). */
uint16_t virtq_avail_count(const struct virtq *q);

/* Copy helpers over a chain's segments. Return the bytes copied. */
size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t skip, void *buf, size_t len);
size_t buf_to_iov(const struct iovec *iov, unsigned n, size_t skip, const void *buf, size_t len);
