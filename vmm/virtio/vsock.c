/* virtio-vsock through vhost-vsock (see vsock.h). The vhost ioctl order follows linux/vhost.h and
 * drivers/vhost/vsock.c: SET_OWNER (binds the vhost worker to this process's mm), GET_FEATURES,
 * SET_MEM_TABLE (GPA -> our user address, so vhost can walk the rings), VSOCK_SET_GUEST_CID once at
 * start; then on every DRIVER_OK: SET_FEATURES (what the driver accepted), per queue SET_VRING_NUM /
 * BASE / ADDR / KICK / CALL, and VSOCK_SET_RUNNING 1. A driver reset is VSOCK_SET_RUNNING 0 (vhost
 * refuses NUM/BASE while a backend is attached: -EBUSY), and the next DRIVER_OK re-arms everything. */
#include "vmm/virtio/vsock.h"
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_vsock.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"
#include "log.h"
#include "vmm/devices.h"
#include "vmm/evloop.h"
#include "vmm/vm.h"

#define VHOST_REF "vhost (include/uapi/linux/vhost.h, drivers/vhost/vsock.c)"

struct vsock_dev;
struct vsock_call {
	struct vsock_dev *v;
	unsigned q;
};

struct vsock_dev {
	int vhost; /* /dev/vhost-vsock; -1 without a VM (unit tests) */
	uint32_t cid;
	bool armed; /* vhost has our rings and is running */
	/* While a queue's vector cannot be delivered (masked, MSI-X off, no vector), vhost signals this
	 * eventfd instead of the irqfd; the device thread turns it into a pending bit. */
	int call_masked[2];
	int call_cur[2]; /* the call fd vhost holds for queue 0/1 (-1: none yet) */
	struct vsock_call call_ctx[2];
	struct virtio_dev *d;
	uint64_t activations, stops, kick_fallbacks, masked_interrupts, event_buffers;
};

static int vhost_ioctl(int fd, unsigned long req, void *arg, const char *name, const char *meaning, const char *file,
                       int line)
{
	int r = ioctl(fd, req, arg);
	if (explain_enabled) /* explain_emit keeps errno */
		explain_emit(file, line, VHOST_REF, r, errno, "ioctl(%d, %s) /* %s */", fd, name, meaning);
	return r;
}
#define VHOST_IOCTL(fd, req, arg, meaning) vhost_ioctl((fd), (req), (void *)(arg), #req, (meaning), __FILE__, __LINE__)

int vsock_parse_spec(const char *spec, uint32_t *cid, isola_error *err)
{
	if (strncmp(spec, "cid=", 4) != 0 || !spec[4])
		return isola_err(err, 0, "--vsock %s: want cid=N", spec);
	const char *s = spec + 4;
	if (*s < '0' || *s > '9')
		return isola_err(err, 0, "--vsock %s: the CID is not a decimal number", spec);
	char *end;
	errno = 0;
	unsigned long long n = strtoull(s, &end, 10);
	if (*end || errno == ERANGE)
		return isola_err(err, 0, "--vsock %s: the CID is not a decimal number", spec);
	/* vsock(7): 0 (hypervisor), 1 (local loopback) and 2 (the host) are reserved, U32_MAX is
	 * VMADDR_CID_ANY; CIDs are 32-bit on the wire of every transport (vhost refuses more). */
	if (n <= 2 || n >= 0xffffffffULL)
		return isola_err(err, 0,
		                 "--vsock %s: CID %llu is reserved or out of range (0 hypervisor, 1 local, 2 host, "
		                 "4294967295 any); use 3..4294967294",
		                 spec, n);
	*cid = (uint32_t)n;
	return 0;
}

int vsock_vring_addr(const struct virtq *q, const struct guest_mem *m, unsigned index, struct vhost_vring_addr *out,
                     isola_error *err)
{
	uint16_t n = q->size;
	if (n == 0 || (n & (n - 1)) || n > VIRTQ_MAX_SIZE)
		return isola_err(err, 0, "queue %u: size %u is not a power of two in 1..%d", index, n, VIRTQ_MAX_SIZE);
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
		return isola_err(err, 0, "queue %u: misaligned ring (desc %#llx avail %#llx used %#llx)", index,
		                 (unsigned long long)q->desc_gpa, (unsigned long long)q->avail_gpa,
		                 (unsigned long long)q->used_gpa);
	/* The sizes include the used_event/avail_event trailers (§2.7.6, §2.7.8): vhost may touch them. */
	void *desc = guest_mem_ptr(m, q->desc_gpa, 16ULL * n);
	void *avail = guest_mem_ptr(m, q->avail_gpa, 6 + 2ULL * n);
	void *used = guest_mem_ptr(m, q->used_gpa, 6 + 8ULL * n);
	if (!desc || !avail || !used)
		return isola_err(
		    err, 0, "queue %u: ring of %u entries at desc %#llx avail %#llx used %#llx is outside guest RAM",
		    index, n, (unsigned long long)q->desc_gpa, (unsigned long long)q->avail_gpa,
		    (unsigned long long)q->used_gpa);
	*out = (struct vhost_vring_addr){
	    .index = index,
	    .flags = 0, /* no dirty logging (no migration) */
	    .desc_user_addr = (uint64_t)(uintptr_t)desc,
	    .used_user_addr = (uint64_t)(uintptr_t)used,
	    .avail_user_addr = (uint64_t)(uintptr_t)avail,
	};
	return 0;
}

uint64_t vsock_offered_features(uint64_t vhost_features)
{
	return VIRTIO_FEATURE_VERSION_1 | (vhost_features & (1ULL << VIRTIO_VSOCK_F_SEQPACKET));
}

/* Point vhost's call fd of each queue at the irqfd of the queue's vector when the guest can take that
 * interrupt, else at the masked eventfd. Moving back to the irqfd drains what arrived while masked. */
static void irq_update(struct vsock_dev *v, struct virtio_dev *d)
{
	if (!v->armed)
		return;
	for (unsigned q = 0; q < 2; q++) {
		unsigned vec = d->vq[q].msix_vector;
		bool direct = virtio_msix_deliverable(d, vec) && d->irqfd[vec] >= 0;
		int fd = direct ? d->irqfd[vec] : v->call_masked[q];
		if (fd == v->call_cur[q])
			continue;
		struct vhost_vring_file f = {.index = q, .fd = fd};
		if (VHOST_IOCTL(
		        v->vhost, VHOST_SET_VRING_CALL, &f,
		        direct
		            ? "used-buffer signal -> irqfd of the queue's MSI-X vector (KVM_IRQFD)"
		            : "used-buffer signal -> eventfd the VMM turns into a pending bit (vector masked)") < 0) {
			log_warn("%s: VHOST_SET_VRING_CALL queue %u: %s", d->name, q, strerror(errno));
			continue;
		}
		v->call_cur[q] = fd;
		uint64_t cnt;
		if (direct && read(v->call_masked[q], &cnt, sizeof cnt) == sizeof cnt && cnt)
			virtio_dev_interrupt(d, vec);
	}
}

static void on_masked_call(void *ctx, uint32_t events)
{
	struct vsock_call *c = ctx;
	struct vsock_dev *v = c->v;
	struct virtio_dev *d = v->d;
	pthread_mutex_lock(&d->lock);
	uint64_t cnt;
	if (read(v->call_masked[c->q], &cnt, sizeof cnt) == sizeof cnt && cnt) {
		v->masked_interrupts++;
		/* Sets the PBA bit while the vector stays masked; the transport fires it on unmask. */
		virtio_dev_interrupt(d, d->vq[c->q].msix_vector);
	}
	pthread_mutex_unlock(&d->lock);
}

static void vhost_stop(struct vsock_dev *v)
{
	if (v->vhost < 0 || !v->armed)
		return;
	int zero = 0;
	if (VHOST_IOCTL(v->vhost, VHOST_VSOCK_SET_RUNNING, &zero, "stop: detach the rings, flush the vhost worker") < 0)
		log_warn("virtio-vsock: VHOST_VSOCK_SET_RUNNING 0: %s", strerror(errno));
	v->armed = false;
	v->stops++;
	uint64_t cnt;
	for (unsigned q = 0; q < 2; q++)
		if (read(v->call_masked[q], &cnt, sizeof cnt) < 0) {
			/* EAGAIN: nothing was pending */
		}
}

static int vhost_start(struct vsock_dev *v, struct virtio_dev *d, isola_error *err)
{
	uint64_t features = d->driver_features;
	if (VHOST_IOCTL(v->vhost, VHOST_SET_FEATURES, &features, "the features the driver accepted") < 0)
		return isola_err(err, errno, "VHOST_SET_FEATURES %#llx", (unsigned long long)features);
	for (unsigned q = 0; q < 2; q++) {
		if (!d->vq[q].enabled)
			return isola_err(err, 0, "queue %u was not enabled before DRIVER_OK", q);
		struct vhost_vring_addr a;
		if (vsock_vring_addr(&d->vq[q], d->mem, q, &a, err) < 0)
			return -1;
		struct vhost_vring_state s = {.index = q, .num = d->vq[q].size};
		if (VHOST_IOCTL(v->vhost, VHOST_SET_VRING_NUM, &s, "ring size the driver chose") < 0)
			return isola_err(err, errno, "VHOST_SET_VRING_NUM queue %u", q);
		s.num = 0; /* a freshly enabled ring starts at avail index 0 (§2.7.13) */
		if (VHOST_IOCTL(v->vhost, VHOST_SET_VRING_BASE, &s, "next available index to consume") < 0)
			return isola_err(err, errno, "VHOST_SET_VRING_BASE queue %u", q);
		if (VHOST_IOCTL(v->vhost, VHOST_SET_VRING_ADDR, &a,
		                "ring addresses in our mapping of guest RAM (checked)") < 0)
			return isola_err(err, errno, "VHOST_SET_VRING_ADDR queue %u", q);
		struct vhost_vring_file k = {.index = q, .fd = d->ioeventfd[q]};
		if (VHOST_IOCTL(v->vhost, VHOST_SET_VRING_KICK, &k,
		                "guest kick: the queue's KVM_IOEVENTFD, so a notify never leaves the kernel") < 0)
			return isola_err(err, errno, "VHOST_SET_VRING_KICK queue %u", q);
		v->call_cur[q] = -1;
	}
	v->armed = true;
	irq_update(v, d);
	int one = 1;
	if (VHOST_IOCTL(v->vhost, VHOST_VSOCK_SET_RUNNING, &one, "start: vhost checks the rings and serves them") < 0) {
		v->armed = false;
		return isola_err(err, errno, "VHOST_VSOCK_SET_RUNNING 1");
	}
	return 0;
}

static void vsock_activate(struct virtio_dev *d)
{
	struct vsock_dev *v = d->priv;
	/* §3.1.1: DRIVER_OK without FEATURES_OK is a driver that skipped negotiation; vhost would run the
	 * rings with features nobody agreed on. */
	if (!(d->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
		virtio_dev_needs_reset(d, "DRIVER_OK without FEATURES_OK");
		return;
	}
	if (v->vhost < 0)
		return; /* no vhost (unit tests) */
	isola_error err;
	vhost_stop(v); /* DRIVER_OK only follows a reset, but never arm twice */
	if (vhost_start(v, d, &err) < 0) {
		virtio_dev_needs_reset(d, err.msg);
		return;
	}
	v->activations++;
	log_debug("%s: vhost running, guest CID %u", d->name, v->cid);
}

static void vsock_reset(struct virtio_dev *d)
{
	struct vsock_dev *v = d->priv;
	if (v)
		vhost_stop(v);
}

static void vsock_notify(struct virtio_dev *d, unsigned q)
{
	struct vsock_dev *v = d->priv;
	if (q == VSOCK_EVQ) {
		/* The driver posted event buffers. They stay posted: the only event (§5.10.6.5,
		 * VIRTIO_VSOCK_EVENT_TRANSPORT_RESET) follows a migration or snapshot restore, which this VMM
		 * does not do. Counted so the control socket shows the queue is alive. */
		struct virtq *e = &d->vq[VSOCK_EVQ];
		v->event_buffers = virtq_avail_count(e);
		return;
	}
	/* A kick that missed the ioeventfd (another access width, or the BAR being moved): hand it to vhost
	 * through the same eventfd. */
	uint64_t one = 1;
	v->kick_fallbacks++;
	if (d->ioeventfd[q] >= 0 && write(d->ioeventfd[q], &one, sizeof one) < 0)
		log_warn("%s: kick queue %u: %s", d->name, q, strerror(errno));
}

static void vsock_irq_changed(struct virtio_dev *d)
{
	irq_update(d->priv, d);
}

static void vsock_destroy(struct virtio_dev *d)
{
	struct vsock_dev *v = d->priv;
	if (!v)
		return;
	/* No VHOST_VSOCK_SET_RUNNING 0 here: this runs on the main thread, whose seccomp filter has no
	 * ioctl. Closing the fd is enough: vhost_vsock_dev_release stops the rings, flushes the worker and
	 * resets every host socket still connected to this guest. */
	if (v->vhost >= 0)
		close(v->vhost);
	v->armed = false;
	for (unsigned q = 0; q < 2; q++)
		if (v->call_masked[q] >= 0)
			close(v->call_masked[q]);
	v->vhost = v->call_masked[0] = v->call_masked[1] = -1;
}

static const struct virtio_ops vsock_ops = {
    .notify = vsock_notify,
    .reset = vsock_reset,
    .activate = vsock_activate,
    .irq_changed = vsock_irq_changed,
    .destroy = vsock_destroy,
};

bool virtio_is_vsock(const struct virtio_dev *d)
{
	return d->ops == &vsock_ops;
}

void virtio_vsock_stats(struct virtio_dev *d, struct vsock_stats *out)
{
	struct vsock_dev *v = d->priv;
	pthread_mutex_lock(&d->lock);
	*out = (struct vsock_stats){
	    .cid = v->cid,
	    .running = v->armed,
	    .activations = v->activations,
	    .stops = v->stops,
	    .kick_fallbacks = v->kick_fallbacks,
	    .masked_interrupts = v->masked_interrupts,
	    .event_buffers = v->event_buffers,
	};
	pthread_mutex_unlock(&d->lock);
}

int virtio_vsock_init(struct virtio_dev *d, struct vm *vm, struct evloop *ev, uint32_t cid, uint64_t vhost_features,
                      isola_error *err)
{
	struct vsock_dev *v = calloc(1, sizeof *v);
	if (!v)
		return isola_err(err, ENOMEM, "virtio-vsock");
	v->vhost = -1;
	v->cid = cid;
	v->d = d;
	for (unsigned q = 0; q < 2; q++) {
		v->call_masked[q] = v->call_cur[q] = -1;
		v->call_ctx[q] = (struct vsock_call){.v = v, .q = q};
	}
	/* Class 0x078000: "other communication controller", as QEMU's vhost-vsock-pci. */
	if (virtio_dev_init(d, vm, ev, "virtio-vsock", VIRTIO_ID_VSOCK, 0x078000, VSOCK_NQUEUES, VSOCK_QUEUE_SIZE,
	                    &vsock_ops, v, err) < 0) {
		free(v);
		d->priv = NULL;
		return -1;
	}
	d->host_features = vsock_offered_features(vhost_features);
	/* struct virtio_vsock_config: le64 guest_cid (§5.10.4). */
	for (unsigned i = 0; i < 8; i++)
		d->devcfg[i] = (uint8_t)((uint64_t)cid >> (8 * i));
	d->devcfg_len = 8;
	/* rx and tx are vhost's; the event queue is ours. */
	d->kernel_queues = (1u << VSOCK_RXQ) | (1u << VSOCK_TXQ);
	return 0;
}

/* /dev/vhost-vsock, loading vhost_vsock first when the node is missing (no udev, or a fresh boot). */
static int open_vhost(isola_error *err)
{
	int fd = open("/dev/vhost-vsock", O_RDWR | O_CLOEXEC);
	int e = errno;
	EXPLAIN(fd, "open(2), vhost", "open(\"/dev/vhost-vsock\", O_RDWR|O_CLOEXEC)");
	if (fd >= 0)
		return fd;
	if (e != ENOENT && e != ENODEV && e != ENXIO)
		return isola_err(err, e, "open /dev/vhost-vsock");
	static const char *const modprobe[] = {"/usr/sbin/modprobe", "/sbin/modprobe"};
	for (unsigned i = 0; i < 2; i++) {
		if (access(modprobe[i], X_OK) < 0)
			continue;
		char *argv[] = {(char *)modprobe[i], (char *)"-q", (char *)"vhost_vsock", NULL};
		char *envp[] = {(char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
		pid_t pid;
		int r = posix_spawn(&pid, modprobe[i], NULL, NULL, argv, envp);
		EXPLAIN(r ? -1 : pid, "posix_spawn(3), modprobe(8)", "%s -q vhost_vsock", modprobe[i]);
		int st = 0;
		if (r == 0)
			waitpid(pid, &st, 0);
		break;
	}
	fd = open("/dev/vhost-vsock", O_RDWR | O_CLOEXEC);
	e = errno;
	EXPLAIN(fd, "open(2), vhost", "open(\"/dev/vhost-vsock\", O_RDWR|O_CLOEXEC)  /* after modprobe */");
	if (fd < 0)
		return isola_err(err, e,
		                 "open /dev/vhost-vsock, even after `modprobe vhost_vsock`: load the kernel module "
		                 "vhost_vsock (without udev, its node is: mknod /dev/vhost-vsock c 10 241)");
	return fd;
}

int virtio_vsock_create(struct vm *vm, struct evloop *ev, const char *spec, struct virtio_dev **out, isola_error *err)
{
	uint32_t cid;
	if (vsock_parse_spec(spec, &cid, err) < 0)
		return -1;
	_cleanup_close_ int fd = open_vhost(err);
	if (fd < 0)
		return -1;
	if (VHOST_IOCTL(fd, VHOST_SET_OWNER, 0, "bind the vhost worker to this process (its mm is guest RAM)") < 0)
		return isola_err(err, errno, "VHOST_SET_OWNER");
	uint64_t features = 0;
	if (VHOST_IOCTL(fd, VHOST_GET_FEATURES, &features, "virtio features vhost-vsock implements") < 0)
		return isola_err(err, errno, "VHOST_GET_FEATURES");
	_cleanup_free_ struct vhost_memory *mt =
	    calloc(1, sizeof *mt + vm->mem.nregions * sizeof(struct vhost_memory_region));
	if (!mt)
		return isola_err(err, ENOMEM, "vhost memory table");
	mt->nregions = vm->mem.nregions;
	for (unsigned i = 0; i < vm->mem.nregions; i++)
		mt->regions[i] = (struct vhost_memory_region){
		    .guest_phys_addr = vm->mem.region[i].gpa,
		    .memory_size = vm->mem.region[i].size,
		    .userspace_addr = (uint64_t)(uintptr_t)(vm->mem.host + vm->mem.region[i].offset),
		};
	if (VHOST_IOCTL(fd, VHOST_SET_MEM_TABLE, mt, "guest RAM regions: GPA -> our user address, as the KVM slots") <
	    0)
		return isola_err(err, errno, "VHOST_SET_MEM_TABLE");
	uint64_t cid64 = cid;
	if (VHOST_IOCTL(fd, VHOST_VSOCK_SET_GUEST_CID, &cid64, "the guest's address; unique per host") < 0) {
		if (errno == EADDRINUSE)
			return isola_err(err, errno,
			                 "guest CID %u is already in use by another VM on this host "
			                 "(VHOST_VSOCK_SET_GUEST_CID)",
			                 cid);
		return isola_err(err, errno, "VHOST_VSOCK_SET_GUEST_CID %u", cid);
	}
	struct virtio_dev *d = calloc(1, sizeof *d);
	if (!d)
		return isola_err(err, ENOMEM, "virtio-vsock");
	if (virtio_vsock_init(d, vm, ev, cid, features, err) < 0) {
		free(d);
		return -1;
	}
	struct vsock_dev *v = d->priv;
	v->vhost = steal_fd(&fd);
	for (unsigned q = 0; q < 2; q++) {
		v->call_masked[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (v->call_masked[q] < 0 ||
		    evloop_add(ev, v->call_masked[q], EPOLLIN, on_masked_call, &v->call_ctx[q], err) < 0) {
			if (v->call_masked[q] < 0)
				isola_err(err, errno, "virtio-vsock: eventfd");
			virtio_dev_destroy(d);
			free(v);
			free(d);
			return -1;
		}
	}
	*out = d;
	log_debug("virtio-vsock: guest CID %u, vhost features %#llx", cid, (unsigned long long)features);
	return 0;
}
