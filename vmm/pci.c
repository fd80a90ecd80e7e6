#include "vmm/pci.h"
#include <string.h>

#define PCI_COMMAND              0x04
#define PCI_COMMAND_IO           0x1
#define PCI_COMMAND_MEMORY       0x2
#define PCI_COMMAND_MASTER       0x4
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS               0x06
#define PCI_STATUS_CAP_LIST      0x10
#define PCI_BAR0                 0x10
#define PCI_CAP_PTR              0x34

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

void pci_bus_init(struct pci_bus *bus, uint64_t base, uint64_t end)
{
	memset(bus, 0, sizeof *bus);
	pthread_mutex_init(&bus->lock, NULL);
	bus->mmio_next = base;
	bus->mmio_end = end;
}

void pci_device_init(struct pci_device *d, uint16_t vendor, uint16_t device, uint32_t class_code, uint8_t rev,
                     uint16_t subsys_vendor, uint16_t subsys)
{
	memset(d, 0, sizeof *d);
	put16(d->cfg + 0x00, vendor);
	put16(d->cfg + 0x02, device);
	d->cfg[0x08] = rev;
	d->cfg[0x09] = (uint8_t)class_code;
	d->cfg[0x0a] = (uint8_t)(class_code >> 8);
	d->cfg[0x0b] = (uint8_t)(class_code >> 16);
	put16(d->cfg + 0x2c, subsys_vendor);
	put16(d->cfg + 0x2e, subsys);
	/* Command: I/O, memory, bus master, INTx disable are the guest's to set. */
	put16(d->wmask + PCI_COMMAND,
	      PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	d->wmask[0x0c] = 0xff; /* cache line size */
	d->wmask[0x0d] = 0xff; /* latency timer */
	d->wmask[0x3c] = 0xff; /* interrupt line: scratch for the OS */
	d->next_cap = 0x40;
}

int pci_bar_alloc(struct pci_bus *bus, struct pci_device *d, unsigned n, uint32_t size, isola_error *err)
{
	if (n >= PCI_NBARS || size < 4096 || (size & (size - 1)))
		return isola_err(err, 0, "BAR %u of size %#x: need a power of two >= 4 KiB", n, size);
	uint64_t a = (bus->mmio_next + size - 1) & ~((uint64_t)size - 1);
	if (a + size > bus->mmio_end)
		return isola_err(err, 0, "PCI MMIO window exhausted (BAR %u of %#x bytes)", n, size);
	bus->mmio_next = a + size;
	d->bar_size[n] = size;
	/* Type bits 0 (memory, 32-bit, non-prefetchable) are read-only; address bits below size are too. */
	put32(d->cfg + PCI_BAR0 + 4 * n, (uint32_t)a);
	put32(d->wmask + PCI_BAR0 + 4 * n, ~(size - 1));
	return 0;
}

uint8_t pci_add_cap(struct pci_device *d, uint8_t id, const uint8_t *body, unsigned len)
{
	unsigned off = d->next_cap;
	if (off < 0x40 || off + 2 + len > PCI_CFG_SIZE)
		return 0;
	d->cfg[off] = id;
	d->cfg[off + 1] = 0;
	memcpy(d->cfg + off + 2, body, len);
	/* Link it at the end of the list. */
	if (!(d->cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST)) {
		d->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
		d->cfg[PCI_CAP_PTR] = (uint8_t)off;
	} else {
		unsigned p = d->cfg[PCI_CAP_PTR];
		while (d->cfg[p + 1])
			p = d->cfg[p + 1];
		d->cfg[p + 1] = (uint8_t)off;
	}
	d->next_cap = (uint8_t)((off + 2 + len + 3) & ~3u);
	return (uint8_t)off;
}

int pci_bus_add(struct pci_bus *bus, struct pci_device *d, isola_error *err)
{
	for (unsigned s = 0; s < PCI_SLOTS; s++)
		if (!bus->dev[s]) {
			bus->dev[s] = d;
			d->slot = s;
			return (int)s;
		}
	return isola_err(err, 0, "PCI bus 0 is full (%d slots)", PCI_SLOTS);
}

static bool access_ok(unsigned off, unsigned len)
{
	/* Natural sizes that stay inside one dword of the 256-byte space. */
	return (len == 1 || len == 2 || len == 4) && off < PCI_CFG_SIZE && (off & 3) + len <= 4;
}

uint32_t pci_cfg_read(struct pci_device *d, unsigned off, unsigned len)
{
	if (!access_ok(off, len))
		return 0xffffffff;
	uint32_t v = 0;
	for (unsigned i = 0; i < len; i++)
		v |= (uint32_t)d->cfg[off + i] << (8 * i);
	return v;
}

void pci_cfg_write(struct pci_device *d, unsigned off, unsigned len, uint32_t val)
{
	if (!access_ok(off, len))
		return;
	for (unsigned i = 0; i < len; i++) {
		uint8_t b = (uint8_t)(val >> (8 * i)), m = d->wmask[off + i];
		d->cfg[off + i] = (uint8_t)((d->cfg[off + i] & ~m) | (b & m));
		d->cfg[off + i] &= (uint8_t) ~(b & d->w1cmask[off + i]);
	}
	if (d->cfg_written)
		d->cfg_written(d, off, len);
}

uint64_t pci_bar_addr(const struct pci_device *d, unsigned n)
{
	if (n >= PCI_NBARS || !d->bar_size[n] || !(d->cfg[PCI_COMMAND] & PCI_COMMAND_MEMORY))
		return 0;
	uint32_t v = (uint32_t)d->cfg[PCI_BAR0 + 4 * n] | (uint32_t)d->cfg[PCI_BAR0 + 4 * n + 1] << 8 |
	             (uint32_t)d->cfg[PCI_BAR0 + 4 * n + 2] << 16 | (uint32_t)d->cfg[PCI_BAR0 + 4 * n + 3] << 24;
	return v & ~0xfu;
}

bool pci_conf1_pio(struct pci_bus *bus, uint16_t port, bool write, uint8_t *data, unsigned size)
{
	if (port < PCI_CONF1_ADDR || port > PCI_CONF1_DATA + 3)
		return false;
	pthread_mutex_lock(&bus->lock);
	bus->cfg_accesses++;
	if (port >= PCI_CONF1_ADDR && port < PCI_CONF1_ADDR + 4) {
		/* Only dword accesses hit the address register; the rest is the legacy "PCI reset" region. */
		if (port == PCI_CONF1_ADDR && size == 4) {
			if (write)
				memcpy(&bus->conf_addr, data, 4);
			else
				memcpy(data, &bus->conf_addr, 4);
		} else if (!write) {
			memset(data, 0xff, size);
		}
		pthread_mutex_unlock(&bus->lock);
		return true;
	}
	uint32_t a = bus->conf_addr;
	unsigned bus_no = (a >> 16) & 0xff, slot = (a >> 11) & 0x1f, fn = (a >> 8) & 7;
	unsigned off = (a & 0xfc) + (port - PCI_CONF1_DATA);
	struct pci_device *d = (a & 0x80000000u) && bus_no == 0 && fn == 0 ? bus->dev[slot] : NULL;
	if (!write) {
		uint32_t v = d ? pci_cfg_read(d, off, size) : 0xffffffff;
		memcpy(data, &v, size);
	} else if (d) {
		uint32_t v = 0;
		memcpy(&v, data, size);
		pci_cfg_write(d, off, size, v);
	}
	pthread_mutex_unlock(&bus->lock);
	return true;
}

bool pci_mmio(struct pci_bus *bus, uint64_t addr, bool write, uint8_t *data, unsigned len)
{
	struct pci_device *hit = NULL;
	unsigned hit_bar = 0;
	uint64_t off = 0;
	pthread_mutex_lock(&bus->lock);
	for (unsigned s = 0; s < PCI_SLOTS && !hit; s++) {
		struct pci_device *d = bus->dev[s];
		if (!d || !d->bar_rw)
			continue;
		for (unsigned n = 0; n < PCI_NBARS; n++) {
			uint64_t base = pci_bar_addr(d, n);
			if (base && addr >= base && addr - base < d->bar_size[n] &&
			    len <= d->bar_size[n] - (addr - base)) {
				hit = d, hit_bar = n, off = addr - base;
				break;
			}
		}
	}
	pthread_mutex_unlock(&bus->lock);
	if (!hit)
		return false;
	hit->bar_rw(hit, hit_bar, off, write, data, len);
	return true;
}
