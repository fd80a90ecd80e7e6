/* Device register models without KVM: PCI config space write masks (read-only ids, BAR sizing, hostile
 * offsets and widths), conf1 address decoding, the virtio-pci common config (feature negotiation, queue
 * size rules, MSI-X vector range), and the 16550A registers Linux's 8250 probe depends on. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "vmm/dev/legacy.h"
#include "vmm/pci.h"
#include "vmm/virtio/transport.h"

static void test_pci_masks(void **s)
{
	struct pci_bus bus;
	struct pci_device d;
	isola_error e;
	pci_bus_init(&bus, 0xc0000000, 0xc0100000);
	pci_device_init(&d, 0x1af4, 0x1042, 0x010000, 1, 0x1af4, 2);
	assert_int_equal(pci_bar_alloc(&bus, &d, 0, 0x8000, &e), 0);
	assert_int_equal(pci_cfg_read(&d, 0x10, 4), 0xc0000000);
	/* Ids are read-only. */
	pci_cfg_write(&d, 0, 4, 0xdeadbeef);
	assert_int_equal(pci_cfg_read(&d, 0, 4), 0x10421af4);
	/* BAR sizing: all ones reads back ~(size - 1). */
	pci_cfg_write(&d, 0x10, 4, 0xffffffff);
	assert_int_equal(pci_cfg_read(&d, 0x10, 4), 0xffff8000);
	pci_cfg_write(&d, 0x10, 4, 0xc0008123); /* low bits ignored */
	assert_int_equal(pci_cfg_read(&d, 0x10, 4), 0xc0008000);
	/* Decoding off: no address. */
	assert_int_equal(pci_bar_addr(&d, 0), 0);
	pci_cfg_write(&d, 4, 2, 0xffff);
	assert_int_equal(pci_cfg_read(&d, 4, 2), 0x0407); /* only IO|MEM|MASTER|INTX_DISABLE stick */
	assert_int_equal(pci_bar_addr(&d, 0), 0xc0008000);
	/* Hostile accesses: crossing a dword, bad widths, past the end. */
	assert_int_equal(pci_cfg_read(&d, 0x3, 2), 0xffffffff);
	assert_int_equal(pci_cfg_read(&d, 0x0, 3), 0xffffffff);
	assert_int_equal(pci_cfg_read(&d, 0x100, 1), 0xffffffff);
	pci_cfg_write(&d, 0xff, 4, 0xffffffff); /* ignored, no overflow */
	/* The allocator refuses to run past its window. */
	struct pci_device d2;
	pci_device_init(&d2, 1, 2, 0, 0, 0, 0);
	assert_int_equal(pci_bar_alloc(&bus, &d2, 0, 0x100000, &e), -1);
	assert_int_equal(pci_bar_alloc(&bus, &d2, 0, 0x3000, &e), -1); /* not a power of two */
}

static void test_conf1(void **s)
{
	struct pci_bus bus;
	struct pci_device d;
	pci_bus_init(&bus, 0xc0000000, 0xd0000000);
	pci_device_init(&d, 0x1b36, 0x0008, 0x060000, 0, 0, 0);
	isola_error e;
	assert_int_equal(pci_bus_add(&bus, &d, &e), 0);
	uint32_t a = 0x80000000, v = 0;
	pci_conf1_pio(&bus, 0xcf8, true, (uint8_t *)&a, 4);
	pci_conf1_pio(&bus, 0xcfc, false, (uint8_t *)&v, 4);
	assert_int_equal(v, 0x00081b36);
	uint16_t w = 0;
	pci_conf1_pio(&bus, 0xcfe, false, (uint8_t *)&w, 2); /* byte offset from the port */
	assert_int_equal(w, 0x0008);
	a = 0x80000800; /* slot 1: empty */
	pci_conf1_pio(&bus, 0xcf8, true, (uint8_t *)&a, 4);
	pci_conf1_pio(&bus, 0xcfc, false, (uint8_t *)&v, 4);
	assert_int_equal(v, 0xffffffff);
	a = 0x80010000; /* bus 1 does not exist */
	pci_conf1_pio(&bus, 0xcf8, true, (uint8_t *)&a, 4);
	pci_conf1_pio(&bus, 0xcfc, false, (uint8_t *)&v, 4);
	assert_int_equal(v, 0xffffffff);
	a = 0x00000000; /* enable bit clear */
	pci_conf1_pio(&bus, 0xcf8, true, (uint8_t *)&a, 4);
	pci_conf1_pio(&bus, 0xcfc, false, (uint8_t *)&v, 4);
	assert_int_equal(v, 0xffffffff);
}

static void nop_notify(struct virtio_dev *d, unsigned q)
{
	(void)d;
	(void)q;
}
static const struct virtio_ops nop_ops = {.notify = nop_notify};

static uint32_t bar_read(struct virtio_dev *d, unsigned off, unsigned len)
{
	uint32_t v = 0;
	virtio_bar_rw(&d->pci, 0, off, false, (uint8_t *)&v, len);
	return v;
}
static void bar_write(struct virtio_dev *d, unsigned off, unsigned len, uint32_t v)
{
	virtio_bar_rw(&d->pci, 0, off, true, (uint8_t *)&v, len);
}

static void test_virtio_common(void **s)
{
	static struct virtio_dev d;
	isola_error e;
	assert_int_equal(virtio_dev_init(&d, NULL, NULL, "t", 2, 0x010000, 2, 128, &nop_ops, NULL, &e), 0);
	uint8_t *ram = calloc(1, 1 << 20);
	struct guest_mem m = {.host = ram, .memfd = -1};
	guest_mem_layout(&m, 1 << 20);
	d.mem = &m;
	/* Capabilities chain: vendor caps then MSI-X. */
	assert_int_equal(pci_cfg_read(&d.pci, 0x34, 1), 0x40);
	assert_int_equal(pci_cfg_read(&d.pci, 0x40, 1), 0x09);
	assert_int_equal(bar_read(&d, VIRTIO_PCI_COMMON_NUMQ, 2), 2);
	/* Features: VERSION_1 (bit 32) in the high word. */
	bar_write(&d, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	assert_int_equal(bar_read(&d, VIRTIO_PCI_COMMON_DF, 4), 1);
	/* A driver asking for a feature we did not offer does not get FEATURES_OK. */
	bar_write(&d, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	bar_write(&d, VIRTIO_PCI_COMMON_GF, 4, 1u << 28);
	bar_write(&d, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	bar_write(&d, VIRTIO_PCI_COMMON_GF, 4, 1);
	bar_write(&d, VIRTIO_PCI_COMMON_STATUS, 1,
	          VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
	assert_false(bar_read(&d, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_FEATURES_OK);
	bar_write(&d, VIRTIO_PCI_COMMON_STATUS, 1, 0); /* reset */
	assert_int_equal(bar_read(&d, VIRTIO_PCI_COMMON_STATUS, 1), 0);
	bar_write(&d, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	bar_write(&d, VIRTIO_PCI_COMMON_GF, 4, 1);
	bar_write(&d, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_CONFIG_S_FEATURES_OK);
	assert_true(bar_read(&d, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_FEATURES_OK);
	/* Queue size: power of two <= max only. */
	bar_write(&d, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	assert_int_equal(bar_read(&d, VIRTIO_PCI_COMMON_Q_SIZE, 2), 128);
	bar_write(&d, VIRTIO_PCI_COMMON_Q_SIZE, 2, 100);
	assert_int_equal(bar_read(&d, VIRTIO_PCI_COMMON_Q_SIZE, 2), 128);
	bar_write(&d, VIRTIO_PCI_COMMON_Q_SIZE, 2, 256);
	assert_int_equal(bar_read(&d, VIRTIO_PCI_COMMON_Q_SIZE, 2), 128);
	bar_write(&d, VIRTIO_PCI_COMMON_Q_SIZE, 2, 64);
	assert_int_equal(bar_read(&d, VIRTIO_PCI_COMMON_Q_SIZE, 2), 64);
	/* MSI-X vector beyond the table becomes NO_VECTOR. */
	bar_write(&d, VIRTIO_PCI_COMMON_Q_MSIX, 2, 77);
	assert_int_equal(bar_read(&d, VIRTIO_PCI_COMMON_Q_MSIX, 2), 0xffff);
	/* Out-of-range queue select reads zero size and ignores writes. */
	bar_write(&d, VIRTIO_PCI_COMMON_Q_SELECT, 2, 9);
	assert_int_equal(bar_read(&d, VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);
	bar_write(&d, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	/* Enabling a queue whose rings run off RAM: the device needs a reset instead of trusting it. */
	bar_write(&d, VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
	bar_write(&d, VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0xfff000);
	bar_write(&d, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	assert_true(bar_read(&d, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_int_equal(bar_read(&d, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	/* Wrong-width access to a 16-bit register is ignored. */
	assert_int_equal(bar_read(&d, VIRTIO_PCI_COMMON_Q_SIZE, 4), 0);
	/* MSI-X table: entry writes stick, vector control keeps only the mask bit; out-of-table is ignored. */
	bar_write(&d, VIRTIO_BAR_MSIX_TABLE + 16 * 2 + 8, 4, 0x4041);
	assert_int_equal(bar_read(&d, VIRTIO_BAR_MSIX_TABLE + 16 * 2 + 8, 4), 0x4041);
	bar_write(&d, VIRTIO_BAR_MSIX_TABLE + 16 * 2 + 12, 4, 0xfffffffe);
	assert_int_equal(bar_read(&d, VIRTIO_BAR_MSIX_TABLE + 16 * 2 + 12, 4), 0);
	bar_write(&d, VIRTIO_BAR_MSIX_TABLE + 16 * VIRTIO_MSIX_VECTORS, 4, 1);
	assert_int_equal(bar_read(&d, VIRTIO_BAR_MSIX_TABLE + 16 * VIRTIO_MSIX_VECTORS, 4), 0);
	free(ram);
}

static void test_serial(void **s)
{
	struct serial u = {.out_fd = -1, .log_fd = -1};
	/* Linux's 8250 probe: scratch register, loopback MSR mapping, 16550A FIFO id. */
	serial_write(&u, 7, 0xa5);
	assert_int_equal(serial_read(&u, 7), 0xa5);
	serial_write(&u, 4, 0x10 | 0x0a); /* LOOP | OUT2 | RTS */
	assert_int_equal(serial_read(&u, 6) & 0xf0, 0x90);
	serial_write(&u, 2, 0x01); /* FCR: FIFO on */
	assert_int_equal(serial_read(&u, 2) & 0xc0, 0xc0);
	/* Loopback data comes back. */
	serial_write(&u, 0, 'x');
	assert_true(serial_read(&u, 5) & 0x01);
	assert_int_equal(serial_read(&u, 0), 'x');
	serial_write(&u, 4, 0);
	/* THRE interrupt: raised when enabled with an empty THR, cleared by reading IIR. */
	serial_write(&u, 1, 0x02);
	assert_true(serial_irq_pending(&u));
	assert_int_equal(serial_read(&u, 2) & 0x0f, 0x02);
	assert_false(serial_irq_pending(&u));
	assert_int_equal(serial_read(&u, 2) & 0x0f, 0x01);
	/* DLAB redirects 0/1 to the divisor. */
	serial_write(&u, 3, 0x80);
	serial_write(&u, 0, 0x0c);
	assert_int_equal(serial_read(&u, 0), 0x0c);
	assert_int_equal(serial_read(&u, 1), 0);
}

/* --serial-log: output bytes reach the log whether or not a client is attached, loopback bytes do not,
 * and the log is emptied instead of growing past SERIAL_LOG_MAX. */
static void test_serial_log(void **s)
{
	int log = memfd_create("serial-log", 0);
	assert_true(log >= 0);
	assert_int_equal(fcntl(log, F_SETFL, O_APPEND), 0); /* as isola-vmm opens --serial-log */
	struct serial u = {.out_fd = -1, .log_fd = log};
	for (const char *p = "login: "; *p; p++)
		serial_write(&u, 0, (uint8_t)*p);
	serial_write(&u, 4, 0x10); /* loopback: stays inside the UART */
	serial_write(&u, 0, '!');
	serial_write(&u, 4, 0);
	char buf[32] = "";
	assert_int_equal(pread(log, buf, sizeof buf - 1, 0), 7);
	assert_string_equal(buf, "login: ");
	/* at the cap the log starts again from empty with the new byte */
	u.log_bytes = SERIAL_LOG_MAX;
	serial_write(&u, 0, 'Z');
	struct stat st;
	assert_int_equal(fstat(log, &st), 0);
	assert_int_equal(st.st_size, 1);
	assert_int_equal(u.log_bytes, 1);
	close(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pci_masks), cmocka_unit_test(test_conf1),      cmocka_unit_test(test_virtio_common),
	    cmocka_unit_test(test_serial),    cmocka_unit_test(test_serial_log),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
