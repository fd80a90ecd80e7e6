/* virtio-console (virtio 1.2 §5.3), single port, no multiport: hvc0 in the guest. Output (transmitq,
 * queue 1) is appended to a log file; the receive queue (0) gets nothing, so the guest reads EOF-less
 * silence. This is the guest-agent channel's console half until vsock exists. */
#include <fcntl.h>
#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"
#include "log.h"
#include "vmm/devices.h"

struct console_dev {
	int fd;
	uint64_t bytes;
};

static void console_notify(struct virtio_dev *d, unsigned qi)
{
	struct console_dev *cd = d->priv;
	if (qi != 1)
		return; /* receive buffers stay posted */
	struct virtq *q = &d->vq[qi];
	struct virtq_chain c;
	isola_error err;
	int k;
	bool any = false;
	while ((k = virtq_pop(q, &c, &err)) == 1) {
		if (c.nread) {
			ssize_t n = writev(cd->fd, c.iov, (int)c.nread);
			if (n > 0)
				cd->bytes += (uint64_t)n;
		}
		virtq_push(q, c.head, 0);
		any = true;
	}
	if (k < 0)
		log_warn("%s: %s", d->name, err.msg);
	if (any)
		virtio_notify_used(d, qi);
}

static const struct virtio_ops console_ops = {.notify = console_notify};

int virtio_console_create(struct vm *vm, struct evloop *ev, const char *path, struct virtio_dev **out, isola_error *err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	EXPLAIN(fd, "open(2)", "open(\"%s\", O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC|O_NOFOLLOW)  /* hvc0 log */", path);
	if (fd < 0)
		return isola_err(err, errno, "open %s", path);
	_cleanup_free_ struct console_dev *cd = calloc(1, sizeof *cd);
	_cleanup_free_ struct virtio_dev *d = calloc(1, sizeof *d);
	if (!cd || !d)
		return isola_err(err, ENOMEM, "virtio-console");
	/* Class 0x078000: simple communication controller, other. */
	if (virtio_dev_init(d, vm, ev, "virtio-console", VIRTIO_ID_CONSOLE, 0x078000, 2, 64, &console_ops, cd, err) < 0)
		return -1;
	struct virtio_console_config cfg = {.cols = 80, .rows = 25, .max_nr_ports = 1};
	memcpy(d->devcfg, &cfg, sizeof cfg);
	d->devcfg_len = sizeof cfg;
	cd->fd = steal_fd(&fd);
	d->priv = steal_ptr(&cd);
	*out = steal_ptr(&d);
	return 0;
}
