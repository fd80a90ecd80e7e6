/* virtio-net (virtio 1.2 §5.1) on a tap: receiveq 0, transmitq 1, no control queue, no offloads (the
 * guest sends and receives plain frames behind a 12-byte virtio_net_hdr). The tap comes by name
 * (tap=NAME: opened here with IFF_VNET_HDR) or as an inherited fd from netd (fd=N); if that tap lacks
 * IFF_VNET_HDR the header is added and stripped here. `,mac=` sets the config-space MAC (net_spec.h). */
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"
#include "log.h"
#include "vmm/devices.h"
#include "vmm/evloop.h"
#include "vmm/virtio/net_spec.h"

#define NET_QUEUE_SIZE 256
#define NET_HDR_LEN    12 /* struct virtio_net_hdr_v1: VERSION_1 always includes num_buffers */
#define RXQ            0
#define TXQ            1

struct net_dev {
	int tap;
	bool vnet_hdr;  /* the tap reads/writes the header itself */
	int slot;       /* evloop slot of the tap */
	bool rx_paused; /* no receive buffers: tap not watched until the guest posts some */
	struct virtio_dev *d;
	uint64_t rx_packets, tx_packets, rx_bytes, tx_bytes, rx_dropped;
};

/* iovecs for the chain's writable (or readable) part, minus the first skip bytes. */
static unsigned iov_skip(const struct iovec *in, unsigned n, size_t skip, struct iovec *out)
{
	unsigned k = 0;
	for (unsigned i = 0; i < n; i++) {
		if (skip >= in[i].iov_len) {
			skip -= in[i].iov_len;
			continue;
		}
		out[k].iov_base = (uint8_t *)in[i].iov_base + skip;
		out[k].iov_len = in[i].iov_len - skip;
		skip = 0;
		k++;
	}
	return k;
}

static void net_rx(struct net_dev *n)
{
	struct virtio_dev *d = n->d;
	struct virtq *q = &d->vq[RXQ];
	struct virtq_chain c;
	isola_error err;
	bool any = false;
	for (;;) {
		int r = virtq_pop(q, &c, &err);
		if (r < 0)
			log_warn("%s: %s", d->name, err.msg);
		if (r != 1) {
			/* No buffers: stop watching the tap until the guest posts some (backpressure). */
			n->rx_paused = true;
			evloop_mod(d->ev, n->slot, 0);
			break;
		}
		if (c.write_len < NET_HDR_LEN || c.nread) {
			virtq_push(q, c.head, 0);
			any = true;
			continue;
		}
		struct iovec iov[VIRTQ_MAX_SEGS];
		unsigned k = iov_skip(&c.iov[c.nread], c.nwrite, n->vnet_hdr ? 0 : NET_HDR_LEN, iov);
		ssize_t len = readv(n->tap, iov, (int)k);
		if (len < 0) {
			virtq_unpop(q);
			break; /* EAGAIN: nothing more to read now */
		}
		struct virtio_net_hdr_v1 h = {0};
		if (n->vnet_hdr)
			iov_to_buf(&c.iov[c.nread], c.nwrite, 0, &h, sizeof h);
		else
			len += NET_HDR_LEN;
		h.num_buffers = 1; /* no mergeable buffers: always one */
		buf_to_iov(&c.iov[c.nread], c.nwrite, 0, &h, sizeof h);
		virtq_push(q, c.head, (uint32_t)len);
		n->rx_packets++;
		n->rx_bytes += (uint64_t)len;
		any = true;
	}
	if (any)
		virtio_notify_used(d, RXQ);
}

static void net_tx(struct net_dev *n)
{
	struct virtio_dev *d = n->d;
	struct virtq *q = &d->vq[TXQ];
	struct virtq_chain c;
	isola_error err;
	int r;
	bool any = false;
	while ((r = virtq_pop(q, &c, &err)) == 1) {
		struct iovec iov[VIRTQ_MAX_SEGS];
		unsigned k = iov_skip(c.iov, c.nread, n->vnet_hdr ? 0 : NET_HDR_LEN, iov);
		if (c.read_len > NET_HDR_LEN && k) {
			ssize_t w = writev(n->tap, iov, (int)k);
			if (w > 0) {
				n->tx_packets++;
				n->tx_bytes += (uint64_t)w;
			}
		}
		virtq_push(q, c.head, 0);
		any = true;
	}
	if (r < 0)
		log_warn("%s: %s", d->name, err.msg);
	if (any)
		virtio_notify_used(d, TXQ);
}

static void net_notify(struct virtio_dev *d, unsigned qi)
{
	struct net_dev *n = d->priv;
	if (qi == TXQ) {
		net_tx(n);
	} else if (qi == RXQ && n->rx_paused) {
		n->rx_paused = false;
		evloop_mod(d->ev, n->slot, EPOLLIN);
		net_rx(n);
	}
}

static void net_activate(struct virtio_dev *d)
{
	struct net_dev *n = d->priv;
	n->rx_paused = false;
	evloop_mod(d->ev, n->slot, EPOLLIN);
}

static void net_reset(struct virtio_dev *d)
{
	struct net_dev *n = d->priv;
	if (n->slot >= 0) {
		n->rx_paused = true;
		evloop_mod(d->ev, n->slot, 0);
	}
}

static void on_tap(void *ctx, uint32_t events)
{
	struct net_dev *n = ctx;
	pthread_mutex_lock(&n->d->lock);
	if (virtio_dev_ready(n->d) && n->d->vq[RXQ].enabled)
		net_rx(n);
	else
		evloop_mod(n->d->ev, n->slot, 0);
	pthread_mutex_unlock(&n->d->lock);
}

static const struct virtio_ops net_ops = {.notify = net_notify, .activate = net_activate, .reset = net_reset};

static int tap_open(const char *name, isola_error *err)
{
	if (strlen(name) >= IFNAMSIZ)
		return isola_err(err, 0, "tap name %s is longer than %d", name, IFNAMSIZ - 1);
	_cleanup_close_ int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	EXPLAIN(fd, "open(2), tuntap", "open(\"/dev/net/tun\", O_RDWR|O_CLOEXEC|O_NONBLOCK)");
	if (fd < 0)
		return isola_err(err, errno, "open /dev/net/tun");
	struct ifreq ifr = {0};
	strcpy(ifr.ifr_name, name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	int r = ioctl(fd, TUNSETIFF, &ifr);
	EXPLAIN(r, "ioctl(2), Documentation/networking/tuntap.rst",
	        "ioctl(tun, TUNSETIFF, {\"%s\", IFF_TAP|IFF_NO_PI|IFF_VNET_HDR})", name);
	if (r < 0)
		return isola_err(err, errno, "attach to tap %s", name);
	return steal_fd(&fd);
}

int virtio_net_create(struct vm *vm, struct evloop *ev, const char *spec, struct virtio_dev **out, isola_error *err)
{
	struct net_spec ns;
	if (net_spec_parse(spec, &ns, err) < 0)
		return -1;
	_cleanup_close_ int fd = -1;
	if (ns.tap[0]) {
		fd = tap_open(ns.tap, err);
		if (fd < 0)
			return -1;
	} else {
		struct ifreq ifr;
		if (ioctl(ns.fd, TUNGETIFF, &ifr) < 0)
			return isola_err(err, errno, "fd %d is not a tap", ns.fd);
		fd = ns.fd;
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	}
	struct ifreq ifr;
	bool vnet = ioctl(fd, TUNGETIFF, &ifr) == 0 && (ifr.ifr_flags & IFF_VNET_HDR);
	if (vnet) {
		int sz = NET_HDR_LEN;
		if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0)
			return isola_err(err, errno, "TUNSETVNETHDRSZ 12");
	}
	_cleanup_free_ struct net_dev *n = calloc(1, sizeof *n);
	_cleanup_free_ struct virtio_dev *d = calloc(1, sizeof *d);
	if (!n || !d)
		return isola_err(err, ENOMEM, "virtio-net");
	static unsigned nnet;
	char *name = NULL;
	if (asprintf(&name, "virtio-net%u", nnet) < 0)
		/* cppcheck-suppress memleak ; released by its _cleanup_ attribute */
		return isola_err(err, ENOMEM, "name");
	if (virtio_dev_init(d, vm, ev, name, VIRTIO_ID_NET, 0x020000, 2, NET_QUEUE_SIZE, &net_ops, n, err) < 0)
		return -1;
	d->host_features |= 1ULL << VIRTIO_NET_F_MAC;
	struct virtio_net_config cfg = {0};
	/* The caller's MAC (netd reserved an address for it), else a locally administered unicast one:
	 * 02:15:01:a0:pp:nn from our pid and the device index. */
	uint8_t mac[6] = {0x02, 0x15, 0x01, 0xa0, (uint8_t)getpid(), (uint8_t)nnet++};
	memcpy(cfg.mac, ns.has_mac ? ns.mac : mac, 6);
	memcpy(d->devcfg, &cfg, sizeof cfg);
	d->devcfg_len = 8; /* mac + status */
	n->tap = fd;
	n->vnet_hdr = vnet;
	n->d = d;
	n->rx_paused = true;
	n->slot = evloop_add(ev, fd, 0, on_tap, n, err);
	if (n->slot < 0)
		return -1;
	fd = -1;
	d->priv = steal_ptr(&n);
	*out = steal_ptr(&d);
	return 0;
}
