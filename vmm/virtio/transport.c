#include "vmm/virtio/transport.h"
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "log.h"
#include "vmm/evloop.h"
#include "vmm/vm.h"

#define PCI_CAP_ID_VNDR   0x09
#define PCI_CAP_ID_MSIX   0x11
#define MSIX_CTRL_ENABLE  0x8000
#define MSIX_CTRL_MASKALL 0x4000

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static uint16_t msix_ctrl(const struct virtio_dev *d)
{
	return (uint16_t)(d->pci.cfg[d->msix_cap + 2] | d->pci.cfg[d->msix_cap + 3] << 8);
}

static void ioeventfds_bind(struct virtio_dev *d, uint64_t bar)
{
	if (!d->vm || bar == d->ioeventfd_addr)
		return;
	for (unsigned q = 0; q < d->nqueues; q++) {
		/* Linux writes the queue index as 16 bits to notify_off * multiplier (§4.1.4.4). */
		if (d->ioeventfd_addr) {
			struct kvm_ioeventfd io = {.addr =
			                               d->ioeventfd_addr + VIRTIO_BAR_NOTIFY + q * VIRTIO_NOTIFY_MULT,
			                           .len = 2,
			                           .fd = d->ioeventfd[q],
			                           .flags = KVM_IOEVENTFD_FLAG_DEASSIGN};
			KVM_IOCTL(d->vm->vm_fd, KVM_IOEVENTFD, &io,
			          "unbind a queue notify address (BAR moved or disabled)");
		}
		if (bar) {
			struct kvm_ioeventfd io = {
			    .addr = bar + VIRTIO_BAR_NOTIFY + q * VIRTIO_NOTIFY_MULT, .len = 2, .fd = d->ioeventfd[q]};
			if (KVM_IOCTL(d->vm->vm_fd, KVM_IOEVENTFD, &io,
			              "queue notify write -> eventfd, no exit to user space") < 0)
				log_warn("%s: KVM_IOEVENTFD queue %u: %s (notifies will exit instead)", d->name, q,
				         strerror(errno));
		}
	}
	d->ioeventfd_addr = bar;
}

/* Reprogram the MSI route of vector v from its table entry. */
static void msix_route(struct virtio_dev *d, unsigned v)
{
	if (!d->vm || d->gsi[v] < 0)
		return;
	uint64_t addr = d->msix_table[v][0] | (uint64_t)d->msix_table[v][1] << 32;
	isola_error err;
	if (vm_msi_route(d->vm, (unsigned)d->gsi[v], true, addr, d->msix_table[v][2], &err) < 0)
		log_warn("%s: MSI-X vector %u: %s", d->name, v, err.msg);
}

static void msix_fire(struct virtio_dev *d, unsigned v)
{
	if (v >= VIRTIO_MSIX_VECTORS)
		return;
	uint16_t ctrl = msix_ctrl(d);
	if (!(ctrl & MSIX_CTRL_ENABLE))
		return; /* no INTx fallback: the driver has not finished MSI-X setup */
	if ((ctrl & MSIX_CTRL_MASKALL) || (d->msix_table[v][3] & 1)) {
		d->msix_pba |= 1ULL << v; /* pending until unmasked (PCI 3.0 §6.8.2.9) */
		return;
	}
	d->interrupts++;
	if (d->irqfd[v] >= 0) {
		uint64_t one = 1;
		if (write(d->irqfd[v], &one, sizeof one) < 0)
			log_warn("%s: irqfd write: %s", d->name, strerror(errno));
	}
}

static void msix_unmask_check(struct virtio_dev *d)
{
	for (unsigned v = 0; v < VIRTIO_MSIX_VECTORS; v++)
		if ((d->msix_pba & (1ULL << v)) && !(d->msix_table[v][3] & 1) && !(msix_ctrl(d) & MSIX_CTRL_MASKALL) &&
		    (msix_ctrl(d) & MSIX_CTRL_ENABLE)) {
			d->msix_pba &= ~(1ULL << v);
			msix_fire(d, v);
		}
}

void virtio_dev_interrupt(struct virtio_dev *d, unsigned v)
{
	d->isr |= 1;
	msix_fire(d, v);
}

bool virtio_msix_deliverable(const struct virtio_dev *d, unsigned v)
{
	uint16_t ctrl = msix_ctrl(d);
	return v < VIRTIO_MSIX_VECTORS && (ctrl & MSIX_CTRL_ENABLE) && !(ctrl & MSIX_CTRL_MASKALL) &&
	       !(d->msix_table[v][3] & 1);
}

static void irq_changed(struct virtio_dev *d)
{
	if (d->ops->irq_changed)
		d->ops->irq_changed(d);
}

void virtio_notify_used(struct virtio_dev *d, unsigned q)
{
	if (q >= d->nqueues || !virtq_needs_interrupt(&d->vq[q]))
		return;
	d->isr |= 1;
	msix_fire(d, d->vq[q].msix_vector);
}

bool virtio_dev_ready(const struct virtio_dev *d)
{
	return (d->status & VIRTIO_CONFIG_S_DRIVER_OK) && !(d->status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

static void dev_reset(struct virtio_dev *d)
{
	if (d->ops->reset)
		d->ops->reset(d);
	d->driver_features = 0;
	d->dfselect = d->gfselect = 0;
	d->status = 0;
	d->isr = 0;
	d->queue_sel = 0;
	d->msix_config = VIRTIO_NO_VECTOR;
	for (unsigned q = 0; q < d->nqueues; q++)
		virtq_reset(&d->vq[q], d->queue_max);
}

void virtio_dev_needs_reset(struct virtio_dev *d, const char *why)
{
	log_warn("%s: %s; device needs reset", d->name, why);
	d->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	d->config_gen++;
	msix_fire(d, d->msix_config);
}

static struct virtq *selq(struct virtio_dev *d)
{
	return d->queue_sel < d->nqueues ? &d->vq[d->queue_sel] : NULL;
}

static uint32_t common_read(struct virtio_dev *d, unsigned off)
{
	struct virtq *q = selq(d);
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT: return d->dfselect;
	case VIRTIO_PCI_COMMON_DF: return d->dfselect < 2 ? (uint32_t)(d->host_features >> (32 * d->dfselect)) : 0;
	case VIRTIO_PCI_COMMON_GFSELECT: return d->gfselect;
	case VIRTIO_PCI_COMMON_GF: return d->gfselect < 2 ? (uint32_t)(d->driver_features >> (32 * d->gfselect)) : 0;
	case VIRTIO_PCI_COMMON_MSIX: return d->msix_config;
	case VIRTIO_PCI_COMMON_NUMQ: return d->nqueues;
	case VIRTIO_PCI_COMMON_STATUS: return d->status;
	case VIRTIO_PCI_COMMON_CFGGENERATION: return d->config_gen;
	case VIRTIO_PCI_COMMON_Q_SELECT: return d->queue_sel;
	case VIRTIO_PCI_COMMON_Q_SIZE: return q ? q->size : 0;
	case VIRTIO_PCI_COMMON_Q_MSIX: return q ? q->msix_vector : VIRTIO_NO_VECTOR;
	case VIRTIO_PCI_COMMON_Q_ENABLE: return q ? q->enabled : 0;
	case VIRTIO_PCI_COMMON_Q_NOFF: return q ? d->queue_sel : 0;
	case VIRTIO_PCI_COMMON_Q_DESCLO: return q ? (uint32_t)q->desc_gpa : 0;
	case VIRTIO_PCI_COMMON_Q_DESCHI: return q ? (uint32_t)(q->desc_gpa >> 32) : 0;
	case VIRTIO_PCI_COMMON_Q_AVAILLO: return q ? (uint32_t)q->avail_gpa : 0;
	case VIRTIO_PCI_COMMON_Q_AVAILHI: return q ? (uint32_t)(q->avail_gpa >> 32) : 0;
	case VIRTIO_PCI_COMMON_Q_USEDLO: return q ? (uint32_t)q->used_gpa : 0;
	case VIRTIO_PCI_COMMON_Q_USEDHI: return q ? (uint32_t)(q->used_gpa >> 32) : 0;
	}
	return 0;
}

static void set_lo(uint64_t *v, uint32_t x)
{
	*v = (*v & ~0xffffffffULL) | x;
}
static void set_hi(uint64_t *v, uint32_t x)
{
	*v = (*v & 0xffffffffULL) | (uint64_t)x << 32;
}

static void status_write(struct virtio_dev *d, uint8_t v)
{
	if (v == 0) {
		dev_reset(d);
		return;
	}
	/* §3.1.1: FEATURES_OK sticks only if we accept the subset the driver chose. */
	if ((v & VIRTIO_CONFIG_S_FEATURES_OK) && !(d->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
		if ((d->driver_features & ~d->host_features) || !(d->driver_features & VIRTIO_FEATURE_VERSION_1))
			v &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
	}
	bool activate = (v & VIRTIO_CONFIG_S_DRIVER_OK) && !(d->status & VIRTIO_CONFIG_S_DRIVER_OK);
	/* The driver cannot clear bits except by reset, nor set NEEDS_RESET itself. */
	d->status =
	    (uint8_t)((d->status | v) & ~VIRTIO_CONFIG_S_NEEDS_RESET) | (d->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	if (activate && d->ops->activate)
		d->ops->activate(d);
}

static void common_write(struct virtio_dev *d, unsigned off, uint32_t v)
{
	struct virtq *q = selq(d);
	/* Queue registers are frozen once the queue is enabled (§4.1.4.3.2: driver MUST NOT change them). */
	bool qw = q && !q->enabled;
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT: d->dfselect = v; break;
	case VIRTIO_PCI_COMMON_GFSELECT: d->gfselect = v; break;
	case VIRTIO_PCI_COMMON_GF:
		if (d->gfselect < 2 && !(d->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
			if (d->gfselect == 0)
				set_lo(&d->driver_features, v);
			else
				set_hi(&d->driver_features, v);
		}
		break;
	case VIRTIO_PCI_COMMON_MSIX: d->msix_config = v < VIRTIO_MSIX_VECTORS ? (uint16_t)v : VIRTIO_NO_VECTOR; break;
	case VIRTIO_PCI_COMMON_STATUS: status_write(d, (uint8_t)v); break;
	case VIRTIO_PCI_COMMON_Q_SELECT: d->queue_sel = (uint16_t)v; break;
	case VIRTIO_PCI_COMMON_Q_SIZE:
		if (qw) {
			uint16_t n = (uint16_t)v;
			/* Power of two, not above what we offered; otherwise keep the old value. */
			if (n && !(n & (n - 1)) && n <= d->queue_max)
				q->size = n;
		}
		break;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		if (q) {
			q->msix_vector = v < VIRTIO_MSIX_VECTORS ? (uint16_t)v : VIRTIO_NO_VECTOR;
			irq_changed(d);
		}
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		if (qw && v == 1 && d->mem) {
			isola_error err;
			if (virtq_enable(q, d->mem, &err) < 0)
				virtio_dev_needs_reset(d, err.msg);
		}
		break;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
		if (qw)
			set_lo(&q->desc_gpa, v);
		break;
	case VIRTIO_PCI_COMMON_Q_DESCHI:
		if (qw)
			set_hi(&q->desc_gpa, v);
		break;
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
		if (qw)
			set_lo(&q->avail_gpa, v);
		break;
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
		if (qw)
			set_hi(&q->avail_gpa, v);
		break;
	case VIRTIO_PCI_COMMON_Q_USEDLO:
		if (qw)
			set_lo(&q->used_gpa, v);
		break;
	case VIRTIO_PCI_COMMON_Q_USEDHI:
		if (qw)
			set_hi(&q->used_gpa, v);
		break;
	default: break;
	}
}

/* Field widths of the common configuration structure (§4.1.4.3). */
static unsigned common_width(unsigned off)
{
	switch (off) {
	case VIRTIO_PCI_COMMON_MSIX:
	case VIRTIO_PCI_COMMON_NUMQ:
	case VIRTIO_PCI_COMMON_Q_SELECT:
	case VIRTIO_PCI_COMMON_Q_SIZE:
	case VIRTIO_PCI_COMMON_Q_MSIX:
	case VIRTIO_PCI_COMMON_Q_ENABLE:
	case VIRTIO_PCI_COMMON_Q_NOFF: return 2;
	case VIRTIO_PCI_COMMON_STATUS:
	case VIRTIO_PCI_COMMON_CFGGENERATION: return 1;
	default: return off < 0x38 && !(off & 3) ? 4 : 0;
	}
}

void virtio_bar_rw(struct pci_device *p, unsigned bar, uint64_t off, bool write, uint8_t *data, unsigned len)
{
	struct virtio_dev *d = p->owner;
	uint32_t v = 0;
	if (write && len <= 4)
		memcpy(&v, data, len);
	if (!write)
		memset(data, 0, len);
	pthread_mutex_lock(&d->lock);
	if (off < VIRTIO_BAR_COMMON + 0x38) {
		/* Accesses of the field's own width only; a 64-bit field is two 32-bit halves. */
		if (common_width((unsigned)off) == len) {
			if (write)
				common_write(d, (unsigned)off, v);
			else {
				uint32_t r = common_read(d, (unsigned)off);
				memcpy(data, &r, len);
			}
		}
	} else if (off == VIRTIO_BAR_ISR && len == 1) {
		if (!write) {
			data[0] = d->isr; /* read-to-clear (§4.1.4.5) */
			d->isr = 0;
		}
	} else if (off >= VIRTIO_BAR_DEVICE && off < VIRTIO_BAR_DEVICE + d->devcfg_len) {
		uint64_t o = off - VIRTIO_BAR_DEVICE;
		if (len <= 8 && o + len <= d->devcfg_len && !write)
			memcpy(data, d->devcfg + o, len);
		/* Writable device config fields are not offered by our devices: writes are ignored. */
	} else if (off >= VIRTIO_BAR_NOTIFY && off < VIRTIO_BAR_NOTIFY + (uint64_t)d->nqueues * VIRTIO_NOTIFY_MULT) {
		/* A notify that missed the ioeventfd (other width, or before it was bound). */
		if (write) {
			unsigned q = (unsigned)(off - VIRTIO_BAR_NOTIFY) / VIRTIO_NOTIFY_MULT;
			d->notifies++;
			if (virtio_dev_ready(d) && d->vq[q].enabled)
				d->ops->notify(d, q);
		}
	} else if (off >= VIRTIO_BAR_MSIX_TABLE && off < VIRTIO_BAR_MSIX_TABLE + 16 * VIRTIO_MSIX_VECTORS) {
		uint64_t o = off - VIRTIO_BAR_MSIX_TABLE;
		unsigned vec = (unsigned)(o / 16), word = (unsigned)(o % 16) / 4;
		/* PCI 3.0 §6.8.2: dword (or aligned qword) accesses. */
		if ((len == 4 || len == 8) && !(o & 3) && (o % 16) + len <= 16) {
			for (unsigned i = 0; i < len / 4; i++, word++) {
				if (write) {
					uint32_t w;
					memcpy(&w, data + 4 * i, 4);
					d->msix_table[vec][word] = word == 3 ? (w & 1) : w;
				} else {
					memcpy(data + 4 * i, &d->msix_table[vec][word], 4);
				}
			}
			if (write) {
				msix_route(d, vec);
				msix_unmask_check(d);
				irq_changed(d);
			}
		}
	} else if (off >= VIRTIO_BAR_MSIX_PBA && off < VIRTIO_BAR_MSIX_PBA + 8) {
		if (!write && (len == 4 || len == 8) && !(off & 3)) {
			uint64_t pba = d->msix_pba >> (8 * (off - VIRTIO_BAR_MSIX_PBA));
			memcpy(data, &pba, len);
		}
	}
	pthread_mutex_unlock(&d->lock);
}

static void cfg_written(struct pci_device *p, unsigned off, unsigned len)
{
	struct virtio_dev *d = p->owner;
	/* Called with the bus lock held: BAR moves and MSI-X control changes. */
	pthread_mutex_lock(&d->lock);
	ioeventfds_bind(d, pci_bar_addr(p, 0));
	if (off + len > d->msix_cap + 2u && off < d->msix_cap + 4u) {
		msix_unmask_check(d);
		irq_changed(d);
	}
	pthread_mutex_unlock(&d->lock);
}

struct notify_ctx {
	struct virtio_dev *d;
	unsigned q;
};
static struct notify_ctx notify_ctxs[64 * VIRTIO_MAX_QUEUES];
static unsigned notify_nctx;

static void on_notify(void *ctx, uint32_t events)
{
	struct notify_ctx *n = ctx;
	struct virtio_dev *d = n->d;
	uint64_t cnt;
	if (read(d->ioeventfd[n->q], &cnt, sizeof cnt) != sizeof cnt)
		return;
	pthread_mutex_lock(&d->lock);
	d->notifies++;
	if (virtio_dev_ready(d) && d->vq[n->q].enabled)
		d->ops->notify(d, n->q);
	pthread_mutex_unlock(&d->lock);
}

int virtio_dev_init(struct virtio_dev *d, struct vm *vm, struct evloop *ev, const char *name, uint16_t device_id,
                    uint32_t class_code, unsigned nqueues, uint16_t queue_max, const struct virtio_ops *ops, void *priv,
                    isola_error *err)
{
	memset(d, 0, sizeof *d);
	pthread_mutex_init(&d->lock, NULL);
	d->vm = vm;
	d->mem = vm ? &vm->mem : NULL;
	d->ev = ev;
	d->name = name;
	d->device_id = device_id;
	d->ops = ops;
	d->priv = priv;
	d->nqueues = nqueues;
	d->queue_max = queue_max;
	d->host_features = VIRTIO_FEATURE_VERSION_1;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		d->ioeventfd[i] = -1;
	for (unsigned i = 0; i < VIRTIO_MSIX_VECTORS; i++) {
		d->irqfd[i] = d->gsi[i] = -1;
		d->msix_table[i][3] = 1; /* vectors start masked */
	}
	if (nqueues == 0 || nqueues > VIRTIO_MAX_QUEUES)
		return isola_err(err, 0, "%s: %u queues (max %d)", name, nqueues, VIRTIO_MAX_QUEUES);
	/* Modern virtio-pci ids: vendor 0x1af4, device 0x1040 + virtio device id, revision 1 (§4.1.2.1). */
	pci_device_init(&d->pci, 0x1af4, (uint16_t)(0x1040 + device_id), class_code, 1, 0x1af4, device_id);
	d->pci.owner = d;
	d->pci.bar_rw = virtio_bar_rw;
	d->pci.cfg_written = cfg_written;
	dev_reset(d);
	if (vm && pci_bar_alloc(&vm->pci, &d->pci, 0, VIRTIO_BAR_SIZE, err) < 0)
		return isola_err_wrap(err, "%s", name);
	if (!vm) /* fuzzing: a fixed BAR */
		put32(d->pci.cfg + 0x10, 0xc0000000), d->pci.bar_size[0] = VIRTIO_BAR_SIZE;

	/* Vendor capabilities (struct virtio_pci_cap): cfg_type, bar, id, pad[2], offset, length. */
	struct {
		uint8_t type;
		uint32_t off, len;
	} caps[] = {
	    {VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_BAR_COMMON, 0x38},
	    {VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_BAR_ISR, 1},
	    {VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_BAR_DEVICE, VIRTIO_DEV_CFG_MAX},
	    {VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_BAR_NOTIFY, VIRTIO_MAX_QUEUES * VIRTIO_NOTIFY_MULT},
	};
	for (unsigned i = 0; i < 4; i++) {
		uint8_t b[18] = {0};
		unsigned blen = caps[i].type == VIRTIO_PCI_CAP_NOTIFY_CFG ? 18 : 14;
		b[0] = (uint8_t)(blen + 2); /* cap_len */
		b[1] = caps[i].type;
		b[2] = 0; /* BAR 0 */
		put32(b + 6, caps[i].off);
		put32(b + 10, caps[i].len);
		if (blen == 18)
			put32(b + 14, VIRTIO_NOTIFY_MULT);
		if (!pci_add_cap(&d->pci, PCI_CAP_ID_VNDR, b, blen))
			return isola_err(err, 0, "%s: config space full", name);
	}
	uint8_t mx[10] = {0};
	put16(mx, VIRTIO_MSIX_VECTORS - 1);       /* table size - 1; enable/mask bits clear */
	put32(mx + 2, VIRTIO_BAR_MSIX_TABLE | 0); /* BIR 0 */
	put32(mx + 6, VIRTIO_BAR_MSIX_PBA | 0);
	d->msix_cap = pci_add_cap(&d->pci, PCI_CAP_ID_MSIX, mx, sizeof mx);
	if (!d->msix_cap)
		return isola_err(err, 0, "%s: config space full", name);
	/* Only MSI-X Enable and Function Mask are writable in Message Control. */
	d->pci.wmask[d->msix_cap + 3] = 0xc0;

	if (!vm)
		return 0;
	for (unsigned v = 0; v < VIRTIO_MSIX_VECTORS; v++) {
		d->irqfd[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->irqfd[v] < 0)
			return isola_err(err, errno, "%s: eventfd", name);
		d->gsi[v] = vm_msi_gsi_alloc(vm, err);
		if (d->gsi[v] < 0)
			return -1;
		struct kvm_irqfd irqfd = {.fd = (uint32_t)d->irqfd[v], .gsi = (uint32_t)d->gsi[v]};
		if (KVM_IOCTL(vm->vm_fd, KVM_IRQFD, &irqfd, "eventfd write -> interrupt on this GSI (MSI route)") < 0)
			return isola_err(err, errno, "%s: KVM_IRQFD", name);
	}
	for (unsigned q = 0; q < nqueues; q++) {
		d->ioeventfd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->ioeventfd[q] < 0)
			return isola_err(err, errno, "%s: eventfd", name);
	}
	return 0;
}

int virtio_dev_attach(struct virtio_dev *d, isola_error *err)
{
	if (pci_bus_add(&d->vm->pci, &d->pci, err) < 0)
		return -1;
	for (unsigned q = 0; q < d->nqueues; q++) {
		if (d->kernel_queues & (1u << q))
			continue; /* vhost reads this ioeventfd itself */
		if (notify_nctx >= sizeof notify_ctxs / sizeof notify_ctxs[0])
			return isola_err(err, 0, "too many virtqueues");
		struct notify_ctx *n = &notify_ctxs[notify_nctx++];
		n->d = d;
		n->q = q;
		if (evloop_add(d->ev, d->ioeventfd[q], EPOLLIN, on_notify, n, err) < 0)
			return -1;
	}
	return 0;
}

void virtio_dev_destroy(struct virtio_dev *d)
{
	if (d->ops && d->ops->destroy)
		d->ops->destroy(d);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		if (d->ioeventfd[i] >= 0)
			close(d->ioeventfd[i]);
	for (unsigned i = 0; i < VIRTIO_MSIX_VECTORS; i++)
		if (d->irqfd[i] >= 0)
			close(d->irqfd[i]);
}
