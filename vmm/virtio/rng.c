/* virtio-rng (virtio 1.2 §5.4): fill each writable buffer from getrandom(2). */
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <sys/random.h>
#include "cleanup.h"
#include "log.h"
#include "vmm/devices.h"

struct rng_dev {
	uint64_t bytes;
};

static void rng_notify(struct virtio_dev *d, unsigned qi)
{
	struct rng_dev *r = d->priv;
	struct virtq *q = &d->vq[qi];
	struct virtq_chain c;
	isola_error err;
	int k;
	bool any = false;
	while ((k = virtq_pop(q, &c, &err)) == 1) {
		uint32_t done = 0;
		for (unsigned i = c.nread; i < c.nread + c.nwrite; i++) {
			/* At most 64 KiB per request: the guest asks again if it wants more. */
			size_t want = c.iov[i].iov_len;
			if (done + want > 65536)
				want = 65536 - done;
			ssize_t n = want ? getrandom(c.iov[i].iov_base, want, 0) : 0;
			if (n <= 0)
				break;
			done += (uint32_t)n;
		}
		r->bytes += done;
		virtq_push(q, c.head, done);
		any = true;
	}
	if (k < 0)
		log_warn("%s: %s", d->name, err.msg);
	if (any)
		virtio_notify_used(d, qi);
}

static const struct virtio_ops rng_ops = {.notify = rng_notify};

int virtio_rng_create(struct vm *vm, struct evloop *ev, struct virtio_dev **out, isola_error *err)
{
	_cleanup_free_ struct rng_dev *r = calloc(1, sizeof *r);
	_cleanup_free_ struct virtio_dev *d = calloc(1, sizeof *d);
	if (!r || !d)
		return isola_err(err, ENOMEM, "virtio-rng");
	/* Class 0x00ff00: unclassified, as QEMU's virtio-rng-pci. */
	if (virtio_dev_init(d, vm, ev, "virtio-rng", VIRTIO_ID_RNG, 0x00ff00, 1, 64, &rng_ops, r, err) < 0)
		return -1;
	d->priv = steal_ptr(&r);
	*out = steal_ptr(&d);
	return 0;
}
