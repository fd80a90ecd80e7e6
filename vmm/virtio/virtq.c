#include "vmm/virtio/virtq.h"
#include <linux/virtio_ring.h>
#include <string.h>

/* The ring layouts of virtio 1.2 §2.7.5-2.7.8, little-endian (x86 guest and host). */
struct vring_desc_raw {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
struct vring_avail_raw {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};
struct vring_used_elem_raw {
	uint32_t id;
	uint32_t len;
};
struct vring_used_raw {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem_raw ring[];
};

void virtq_reset(struct virtq *q, uint16_t max_size)
{
	memset(q, 0, sizeof *q);
	q->size = max_size;
	q->msix_vector = 0xffff; /* VIRTIO_MSI_NO_VECTOR */
}

int virtq_enable(struct virtq *q, const struct guest_mem *m, isola_error *err)
{
	uint16_t n = q->size;
	/* §2.7: Queue Size is a power of 2 for split queues; we also cap it. */
	if (n == 0 || (n & (n - 1)) || n > VIRTQ_MAX_SIZE)
		return isola_err(err, 0, "queue size %u is not a power of two in 1..%d", n, VIRTQ_MAX_SIZE);
	/* §2.7 alignment: descriptors 16, available ring 2, used ring 4. */
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
		return isola_err(err, 0, "misaligned ring address (desc %#llx avail %#llx used %#llx)",
		                 (unsigned long long)q->desc_gpa, (unsigned long long)q->avail_gpa,
		                 (unsigned long long)q->used_gpa);
	/* Sizes include the used_event/avail_event trailers so that a later EVENT_IDX stays in bounds. */
	q->desc = guest_mem_ptr(m, q->desc_gpa, 16ULL * n);
	q->avail = guest_mem_ptr(m, q->avail_gpa, 6 + 2ULL * n);
	q->used = guest_mem_ptr(m, q->used_gpa, 6 + 8ULL * n);
	if (!q->desc || !q->avail || !q->used)
		return isola_err(err, 0, "ring of %u entries at desc %#llx avail %#llx used %#llx is outside guest RAM",
		                 n, (unsigned long long)q->desc_gpa, (unsigned long long)q->avail_gpa,
		                 (unsigned long long)q->used_gpa);
	q->mem = m;
	q->last_avail = 0;
	q->used_idx = 0;
	q->broken = false;
	q->enabled = true;
	return 0;
}

static int broken(struct virtq *q, isola_error *err, const char *why, unsigned a, unsigned b)
{
	q->broken = true;
	return isola_err(err, 0, "virtqueue broken: %s (%u, %u)", why, a, b);
}

bool virtq_has_avail(const struct virtq *q)
{
	if (!q->enabled || q->broken)
		return false;
	uint16_t idx = __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE);
	return idx != q->last_avail;
}

uint16_t virtq_avail_count(const struct virtq *q)
{
	if (!q->enabled || q->broken)
		return 0;
	uint16_t n = (uint16_t)(__atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE) - q->last_avail);
	return n > q->size ? q->size : n;
}

int virtq_pop(struct virtq *q, struct virtq_chain *c, isola_error *err)
{
	if (!q->enabled || q->broken)
		return 0;
	/* Acquire: the ring entry and descriptors the driver wrote before bumping idx are visible (§2.7.13). */
	uint16_t avail_idx = __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE);
	uint16_t pending = (uint16_t)(avail_idx - q->last_avail);
	if (pending == 0)
		return 0;
	if (pending > q->size)
		return broken(q, err, "available index ran more than the queue size ahead", avail_idx, q->last_avail);
	uint16_t head = __atomic_load_n(&q->avail->ring[q->last_avail % q->size], __ATOMIC_RELAXED);
	if (head >= q->size)
		return broken(q, err, "head descriptor index out of range", head, q->size);
	c->head = head;
	c->nread = c->nwrite = 0;
	c->read_len = c->write_len = 0;
	uint16_t i = head;
	for (unsigned steps = 0;; steps++) {
		if (steps >= q->size || c->nread + c->nwrite >= VIRTQ_MAX_SEGS)
			return broken(q, err, "descriptor chain loops or is too long", steps, head);
		/* Copy the descriptor once: the guest may rewrite it under us (TOCTOU). */
		struct vring_desc_raw d;
		memcpy(&d, &q->desc[i], sizeof d);
		if (d.flags & VRING_DESC_F_INDIRECT)
			return broken(q, err, "indirect descriptor (not negotiated)", i, d.flags);
		void *p = guest_mem_ptr(q->mem, d.addr, d.len);
		if (!p)
			return broken(q, err, "descriptor buffer outside guest RAM", i, d.len);
		bool w = d.flags & VRING_DESC_F_WRITE;
		if (!w && c->nwrite)
			return broken(q, err, "readable descriptor after a writable one", i, head);
		c->iov[c->nread + c->nwrite] = (struct iovec){.iov_base = p, .iov_len = d.len};
		if (w) {
			c->nwrite++;
			c->write_len += d.len;
		} else {
			c->nread++;
			c->read_len += d.len;
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		if (d.next >= q->size)
			return broken(q, err, "next descriptor index out of range", d.next, q->size);
		i = d.next;
	}
	q->last_avail++;
	q->popped++;
	return 1;
}

void virtq_unpop(struct virtq *q)
{
	q->last_avail--;
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	if (!q->enabled || q->broken)
		return;
	struct vring_used_elem_raw *e = &q->used->ring[q->used_idx % q->size];
	__atomic_store_n(&e->id, head, __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, len, __ATOMIC_RELAXED);
	q->used_idx++;
	/* Release: the element (and the data written into the buffers) is visible before the index. */
	__atomic_store_n(&q->used->idx, q->used_idx, __ATOMIC_RELEASE);
}

bool virtq_needs_interrupt(const struct virtq *q)
{
	/* Full barrier: our used->idx store must be ordered before reading the driver's flags (§2.7.10). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return !(__atomic_load_n(&q->avail->flags, __ATOMIC_RELAXED) & VRING_AVAIL_F_NO_INTERRUPT);
}

size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t skip, void *buf, size_t len)
{
	size_t done = 0;
	for (unsigned i = 0; i < n && done < len; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		size_t k = iov[i].iov_len - skip;
		if (k > len - done)
			k = len - done;
		memcpy((uint8_t *)buf + done, (uint8_t *)iov[i].iov_base + skip, k);
		done += k;
		skip = 0;
	}
	return done;
}

size_t buf_to_iov(const struct iovec *iov, unsigned n, size_t skip, const void *buf, size_t len)
{
	size_t done = 0;
	for (unsigned i = 0; i < n && done < len; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		size_t k = iov[i].iov_len - skip;
		if (k > len - done)
			k = len - done;
		memcpy((uint8_t *)iov[i].iov_base + skip, (const uint8_t *)buf + done, k);
		done += k;
		skip = 0;
	}
	return done;
}
