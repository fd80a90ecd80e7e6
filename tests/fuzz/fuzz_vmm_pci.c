/* libFuzzer target: PCI configuration space (conf1 ports and direct) and the virtio-pci BAR (common
 * config, ISR, device config, notify, MSI-X table/PBA) of a virtio device, driven by an arbitrary
 * sequence of guest accesses. Queues point into a fuzz-owned RAM; a notify walks them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "vmm/pci.h"
#include "vmm/virtio/transport.h"

#define RAM (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_notify(struct virtio_dev *d, unsigned qi)
{
	struct virtq_chain c;
	isola_error err;
	for (int i = 0; i < 16 && virtq_pop(&d->vq[qi], &c, &err) == 1; i++)
		virtq_push(&d->vq[qi], c.head, 0);
	virtio_notify_used(d, qi);
}

static const struct virtio_ops fz_ops = {.notify = fz_notify};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	static struct virtio_dev d;
	static struct pci_bus bus;
	if (!ram)
		ram = calloc(1, RAM);
	struct guest_mem m = {.host = ram, .memfd = -1};
	guest_mem_layout(&m, RAM);
	isola_error err;
	if (virtio_dev_init(&d, NULL, NULL, "fuzz", 2, 0x010000, 2, 64, &fz_ops, NULL, &err) < 0)
		abort();
	d.mem = &m;
	d.devcfg_len = 24;
	pci_bus_init(&bus, 0xc0000000, 0xfec00000);
	bus.dev[1] = &d.pci;
	/* Each op: kind, 2 offset bytes, length selector, 4 value bytes. */
	for (size_t i = 0; i + 8 <= size; i += 8) {
		const uint8_t *o = data + i;
		unsigned off = o[1] | o[2] << 8;
		unsigned len = 1u << (o[3] % 4);
		uint8_t buf[8];
		memcpy(buf, o + 4, 4);
		memcpy(buf + 4, o + 4, 4);
		uint32_t v;
		memcpy(&v, o + 4, 4);
		switch (o[0] % 6) {
		case 0: pci_cfg_write(&d.pci, off & 0x1ff, len, v); break;
		case 1: (void)pci_cfg_read(&d.pci, off & 0x1ff, len); break;
		case 2: virtio_bar_rw(&d.pci, 0, off & 0x7fff, true, buf, len); break;
		case 3: virtio_bar_rw(&d.pci, 0, off & 0x7fff, false, buf, len); break;
		case 4: pci_conf1_pio(&bus, (uint16_t)(0xcf8 + (off & 7)), true, buf, len > 4 ? 4 : len); break;
		case 5: {
			uint64_t a = 0xc0000000ULL + (off & 0x7fff);
			pci_mmio(&bus, a, o[3] & 4, buf, len);
			break;
		}
		}
	}
	/* Invariants: BAR 0 only ever holds bits its size allows; the MSI-X table size field is ours. */
	uint32_t bar = pci_cfg_read(&d.pci, 0x10, 4);
	if (bar & (VIRTIO_BAR_SIZE - 1) & ~0xfu)
		abort();
	if (d.queue_sel < d.nqueues && d.vq[d.queue_sel].size > 64)
		abort();
	return 0;
}
