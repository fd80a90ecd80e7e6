/* virtio-blk (virtio 1.2 §5.2) over a raw file: IN/OUT with preadv/pwritev, FLUSH with fdatasync,
 * GET_ID. Read-only disks advertise VIRTIO_BLK_F_RO and fail writes with IOERR. Sector ranges are
 * checked against the capacity with overflow-safe math before any I/O. */
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"
#include "log.h"
#include "vmm/devices.h"
#include "vmm/vm.h"

#define BLK_QUEUE_SIZE 256

struct blk_dev {
	int fd;
	bool ro;
	uint64_t sectors;
	char id[VIRTIO_BLK_ID_BYTES];
	uint64_t reads, writes, flushes, bytes_read, bytes_written;
};

static uint8_t blk_request(struct blk_dev *b, struct virtq_chain *c, uint32_t *written)
{
	struct virtio_blk_outhdr h;
	if (c->nwrite == 0 || c->iov[c->nread + c->nwrite - 1].iov_len < 1)
		return 0xff; /* no status byte: nothing we can answer */
	if (iov_to_buf(c->iov, c->nread, 0, &h, sizeof h) != sizeof h)
		return VIRTIO_BLK_S_IOERR;
	/* Data segments: readable ones after the 16-byte header (OUT), or writable ones before the status byte
	 * (IN). The header must be a segment of its own to keep the iovec slicing simple (Linux does this). */
	if (c->iov[0].iov_len != sizeof h)
		return VIRTIO_BLK_S_IOERR;
	struct iovec *status_iov = &c->iov[c->nread + c->nwrite - 1];
	uint64_t off;
	switch (h.type) {
	case VIRTIO_BLK_T_IN: {
		struct iovec *iov = &c->iov[c->nread];
		unsigned n = c->nwrite;
		uint64_t len = c->write_len;
		/* The status byte is the last writable byte: trim it off the data. */
		struct iovec save = *status_iov;
		status_iov->iov_len -= 1;
		len -= 1;
		if (h.sector > b->sectors || len > (b->sectors - h.sector) * 512 || (len & 511)) {
			*status_iov = save;
			return VIRTIO_BLK_S_IOERR;
		}
		off = h.sector * 512;
		ssize_t r = len ? preadv(b->fd, iov, (int)n, (off_t)off) : 0;
		*status_iov = save;
		if (r < 0 || (uint64_t)r != len)
			return VIRTIO_BLK_S_IOERR;
		b->reads++;
		b->bytes_read += len;
		*written = (uint32_t)len;
		return VIRTIO_BLK_S_OK;
	}
	case VIRTIO_BLK_T_OUT: {
		if (b->ro)
			return VIRTIO_BLK_S_IOERR;
		uint64_t len = c->read_len - sizeof h;
		if (c->nwrite != 1 || h.sector > b->sectors || len > (b->sectors - h.sector) * 512 || (len & 511))
			return VIRTIO_BLK_S_IOERR;
		off = h.sector * 512;
		ssize_t r = len ? pwritev(b->fd, &c->iov[1], (int)c->nread - 1, (off_t)off) : 0;
		if (r < 0 || (uint64_t)r != len)
			return VIRTIO_BLK_S_IOERR;
		b->writes++;
		b->bytes_written += len;
		return VIRTIO_BLK_S_OK;
	}
	case VIRTIO_BLK_T_FLUSH: b->flushes++; return fdatasync(b->fd) < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID: {
		size_t k = buf_to_iov(&c->iov[c->nread], c->nwrite, 0, b->id,
		                      c->write_len - 1 < VIRTIO_BLK_ID_BYTES ? c->write_len - 1 : VIRTIO_BLK_ID_BYTES);
		*written = (uint32_t)k;
		return VIRTIO_BLK_S_OK;
	}
	default: return VIRTIO_BLK_S_UNSUPP;
	}
}

static void blk_notify(struct virtio_dev *d, unsigned qi)
{
	struct blk_dev *b = d->priv;
	struct virtq *q = &d->vq[qi];
	struct virtq_chain c;
	isola_error err;
	int r;
	bool any = false;
	while ((r = virtq_pop(q, &c, &err)) == 1) {
		uint32_t written = 0;
		uint8_t st = blk_request(b, &c, &written);
		if (st != 0xff) {
			struct iovec *s = &c.iov[c.nread + c.nwrite - 1];
			((uint8_t *)s->iov_base)[s->iov_len - 1] = st;
			written += 1;
		}
		virtq_push(q, c.head, written);
		any = true;
	}
	if (r < 0)
		log_warn("%s: %s", d->name, err.msg);
	if (any)
		virtio_notify_used(d, qi);
}

static const struct virtio_ops blk_ops = {.notify = blk_notify};

int virtio_blk_create(struct vm *vm, struct evloop *ev, const char *spec, struct virtio_dev **out, isola_error *err)
{
	_cleanup_free_ char *path = strdup(spec);
	if (!path)
		return isola_err(err, ENOMEM, "disk spec");
	bool ro = false;
	char *comma = strchr(path, ',');
	if (comma) {
		*comma = 0;
		if (strcmp(comma + 1, "ro"))
			/* cppcheck-suppress memleak ; released by its _cleanup_ attribute */
			return isola_err(err, 0, "unknown disk option \"%s\" (only \"ro\")", comma + 1);
		ro = true;
	}
	_cleanup_close_ int fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	EXPLAIN(fd, "open(2)", "open(\"%s\", %s|O_CLOEXEC)  /* virtio-blk backing file */", path,
	        ro ? "O_RDONLY" : "O_RDWR");
	if (fd < 0)
		return isola_err(err, errno, "open %s", path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return isola_err(err, errno, "stat %s", path);
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return isola_err(err, 0, "%s is not a regular file or block device", path);
	uint64_t size = (uint64_t)st.st_size;
	if (S_ISBLK(st.st_mode)) {
		off_t e = lseek(fd, 0, SEEK_END);
		size = e > 0 ? (uint64_t)e : 0;
	}
	if (size < 512)
		return isola_err(err, 0, "%s is smaller than one 512-byte sector", path);
	_cleanup_free_ struct blk_dev *b = calloc(1, sizeof *b);
	_cleanup_free_ struct virtio_dev *d = calloc(1, sizeof *d);
	if (!b || !d)
		return isola_err(err, ENOMEM, "virtio-blk");
	b->ro = ro;
	b->sectors = size / 512;
	snprintf(b->id, sizeof b->id, "isola-%llx", (unsigned long long)st.st_ino);
	static unsigned nblk;
	char *name = NULL;
	if (asprintf(&name, "virtio-blk%u", nblk++) < 0)
		return isola_err(err, ENOMEM, "name");
	/* Class 0x010000: mass storage, SCSI-class, as QEMU's virtio-blk-pci reports. */
	if (virtio_dev_init(d, vm, ev, name, VIRTIO_ID_BLOCK, 0x010000, 1, BLK_QUEUE_SIZE, &blk_ops, b, err) < 0)
		return -1;
	d->host_features |=
	    (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_FLUSH) | (ro ? 1ULL << VIRTIO_BLK_F_RO : 0);
	struct virtio_blk_config cfg = {0};
	cfg.capacity = b->sectors;
	cfg.seg_max = VIRTQ_MAX_SEGS - 2; /* header and status take two */
	memcpy(d->devcfg, &cfg, sizeof cfg);
	d->devcfg_len = sizeof cfg;
	b->fd = steal_fd(&fd);
	d->priv = steal_ptr(&b);
	*out = steal_ptr(&d);
	return 0;
}
