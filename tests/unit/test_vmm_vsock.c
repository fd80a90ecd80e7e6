/* virtio-vsock without KVM or vhost: --vsock parsing (reserved CIDs, junk, overflow), the device config
 * space (guest_cid as a little-endian u64 at offset 0 of the device-config window), the features offered
 * (never EVENT_IDX or INDIRECT_DESC even when vhost has them), which queues vhost owns, and the ring
 * address check that runs before any guest address reaches vhost (hostile rings: outside RAM, across the
 * MMIO hole, wrapping, misaligned, bad sizes). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_vsock.h>
#include <stdlib.h>
#include <string.h>
#include "vmm/virtio/vsock.h"

static void test_parse(void **s)
{
	isola_error e;
	uint32_t cid = 0;
	assert_int_equal(vsock_parse_spec("cid=3", &cid, &e), 0);
	assert_int_equal(cid, 3);
	assert_int_equal(vsock_parse_spec("cid=4294967294", &cid, &e), 0);
	assert_int_equal(cid, 4294967294u);
	assert_int_equal(vsock_parse_spec("cid=0042", &cid, &e), 0);
	assert_int_equal(cid, 42);
	/* Reserved: 0 hypervisor, 1 local, 2 host, U32_MAX any; above 32 bits. */
	static const char *const reserved[] = {"cid=0",          "cid=1",          "cid=2",
	                                       "cid=4294967295", "cid=4294967296", "cid=18446744073709551615"};
	for (unsigned i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
		cid = 77;
		assert_int_equal(vsock_parse_spec(reserved[i], &cid, &e), -1);
		assert_non_null(strstr(e.msg, "reserved"));
		assert_non_null(strstr(e.msg, reserved[i]));
		assert_int_equal(cid, 77); /* untouched on error */
	}
	/* Junk. */
	static const char *const junk[] = {
	    "",       "3",      "cid",      "cid=",     "cid=-3", "cid=+3",
	    "cid= 3", "cid=3 ", "cid=0x10", "cid=3,ro", "CID=3",  "cid=99999999999999999999999"};
	for (unsigned i = 0; i < sizeof junk / sizeof junk[0]; i++) {
		assert_int_equal(vsock_parse_spec(junk[i], &cid, &e), -1);
		assert_non_null(strstr(e.msg, "--vsock"));
	}
}

static uint32_t bar_read(struct virtio_dev *d, uint64_t off, unsigned len)
{
	uint32_t v = 0;
	virtio_bar_rw(&d->pci, 0, off, false, (uint8_t *)&v, len);
	return v;
}
static void bar_write(struct virtio_dev *d, uint64_t off, unsigned len, uint32_t v)
{
	virtio_bar_rw(&d->pci, 0, off, true, (uint8_t *)&v, len);
}

static void test_config_and_features(void **s)
{
	static struct virtio_dev d;
	isola_error e;
	/* vhost offering everything it can (EVENT_IDX, INDIRECT, SEQPACKET, VERSION_1, ACCESS_PLATFORM). */
	uint64_t vhost = (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |
	                 (1ULL << VIRTIO_VSOCK_F_SEQPACKET) | (1ULL << 32) | (1ULL << 33);
	assert_int_equal(virtio_vsock_init(&d, NULL, NULL, 0x12345678u, vhost, &e), 0);
	assert_true(virtio_is_vsock(&d));
	/* Modern id 0x1040 + 19, subsystem id 19. */
	assert_int_equal(pci_cfg_read(&d.pci, 0, 4), ((0x1040u + VIRTIO_ID_VSOCK) << 16) | 0x1af4);
	assert_int_equal(pci_cfg_read(&d.pci, 0x2e, 2), VIRTIO_ID_VSOCK);
	assert_int_equal(bar_read(&d, VIRTIO_PCI_COMMON_NUMQ, 2), 3);
	/* guest_cid: le64 at device config offset 0; upper half zero. Byte, dword and qword reads agree. */
	assert_int_equal(bar_read(&d, VIRTIO_BAR_DEVICE, 4), 0x12345678u);
	assert_int_equal(bar_read(&d, VIRTIO_BAR_DEVICE + 4, 4), 0);
	assert_int_equal(bar_read(&d, VIRTIO_BAR_DEVICE, 1), 0x78);
	assert_int_equal(bar_read(&d, VIRTIO_BAR_DEVICE + 3, 1), 0x12);
	uint64_t q = 0;
	virtio_bar_rw(&d.pci, 0, VIRTIO_BAR_DEVICE, false, (uint8_t *)&q, 8);
	assert_int_equal(q, 0x12345678u);
	/* Past the 8-byte config: nothing. Writes are ignored (guest_cid is read-only, §5.10.4). */
	assert_int_equal(bar_read(&d, VIRTIO_BAR_DEVICE + 8, 4), 0);
	bar_write(&d, VIRTIO_BAR_DEVICE, 4, 2);
	assert_int_equal(bar_read(&d, VIRTIO_BAR_DEVICE, 4), 0x12345678u);
	/* Features: VERSION_1 and SEQPACKET only. */
	bar_write(&d, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
	assert_int_equal(bar_read(&d, VIRTIO_PCI_COMMON_DF, 4), 1u << VIRTIO_VSOCK_F_SEQPACKET);
	bar_write(&d, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	assert_int_equal(bar_read(&d, VIRTIO_PCI_COMMON_DF, 4), 1);
	assert_int_equal(vsock_offered_features(0), 1ULL << 32);
	/* rx/tx are vhost's (the device thread must not read their kick eventfds), the event queue ours. */
	assert_int_equal(d.kernel_queues, 3);
	/* The driver cannot take EVENT_IDX (offered by vhost, not by us): FEATURES_OK refused. */
	bar_write(&d, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	bar_write(&d, VIRTIO_PCI_COMMON_GF, 4, 1u << VIRTIO_RING_F_EVENT_IDX);
	bar_write(&d, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	bar_write(&d, VIRTIO_PCI_COMMON_GF, 4, 1);
	bar_write(&d, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_CONFIG_S_FEATURES_OK);
	assert_false(bar_read(&d, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_FEATURES_OK);
	/* DRIVER_OK without FEATURES_OK (negotiation skipped): the device refuses to run (NEEDS_RESET)
	 * rather than arm vhost with features nobody agreed on. */
	bar_write(&d, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	bar_write(&d, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	bar_write(&d, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_CONFIG_S_DRIVER_OK);
	assert_true(bar_read(&d, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_NEEDS_RESET);
	/* After a reset, a proper negotiation reaches DRIVER_OK without NEEDS_RESET. */
	bar_write(&d, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	bar_write(&d, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	bar_write(&d, VIRTIO_PCI_COMMON_GF, 4, 1u << VIRTIO_VSOCK_F_SEQPACKET);
	bar_write(&d, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	bar_write(&d, VIRTIO_PCI_COMMON_GF, 4, 1);
	bar_write(&d, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_CONFIG_S_FEATURES_OK);
	bar_write(&d, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	uint32_t st8 = bar_read(&d, VIRTIO_PCI_COMMON_STATUS, 1);
	assert_true(st8 & VIRTIO_CONFIG_S_DRIVER_OK);
	assert_false(st8 & VIRTIO_CONFIG_S_NEEDS_RESET);
	struct vsock_stats st;
	virtio_vsock_stats(&d, &st);
	assert_int_equal(st.cid, 0x12345678u);
	assert_false(st.running);
	virtio_dev_destroy(&d);
	free(d.priv);
}

#define RAM (2u << 20)

static void test_ring_addr(void **s)
{
	uint8_t *ram = calloc(1, RAM);
	struct guest_mem m = {.host = ram, .memfd = -1};
	guest_mem_layout(&m, RAM);
	struct virtq q;
	virtq_reset(&q, 128);
	q.desc_gpa = 0x10000;
	q.avail_gpa = 0x10800;
	q.used_gpa = 0x11000;
	struct vhost_vring_addr a;
	isola_error e;
	assert_int_equal(vsock_vring_addr(&q, &m, 1, &a, &e), 0);
	assert_int_equal(a.index, 1);
	assert_int_equal(a.flags, 0);
	assert_ptr_equal((void *)(uintptr_t)a.desc_user_addr, ram + 0x10000);
	assert_ptr_equal((void *)(uintptr_t)a.avail_user_addr, ram + 0x10800);
	assert_ptr_equal((void *)(uintptr_t)a.used_user_addr, ram + 0x11000);
	/* A used ring whose last entry (plus avail_event) runs past the end of RAM: 6 + 8*128 bytes. */
	q.used_gpa = RAM - 1024; /* aligned, 6 bytes short */
	assert_int_equal(vsock_vring_addr(&q, &m, 0, &a, &e), -1);
	assert_non_null(strstr(e.msg, "outside guest RAM"));
	q.used_gpa = RAM - 1032; /* fits (4-aligned) */
	assert_int_equal(vsock_vring_addr(&q, &m, 0, &a, &e), 0);
	/* Wrapping 64-bit addresses, addresses in the MMIO hole, at 4 GiB without high RAM. */
	static const uint64_t bad[] = {0xfffffffffffffff0ULL, GUEST_MMIO_HOLE_START, GUEST_4G, RAM};
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		q.used_gpa = 0x11000;
		q.desc_gpa = bad[i];
		assert_int_equal(vsock_vring_addr(&q, &m, 0, &a, &e), -1);
		q.desc_gpa = 0x10000;
		q.avail_gpa = bad[i];
		assert_int_equal(vsock_vring_addr(&q, &m, 0, &a, &e), -1);
		q.avail_gpa = 0x10800;
		q.used_gpa = bad[i] & ~3ULL;
		assert_int_equal(vsock_vring_addr(&q, &m, 0, &a, &e), -1);
	}
	/* Misaligned: desc 16, avail 2, used 4. */
	q.used_gpa = 0x11000;
	q.desc_gpa = 0x10008;
	assert_int_equal(vsock_vring_addr(&q, &m, 0, &a, &e), -1);
	assert_non_null(strstr(e.msg, "misaligned"));
	q.desc_gpa = 0x10000;
	q.avail_gpa = 0x10801;
	assert_int_equal(vsock_vring_addr(&q, &m, 0, &a, &e), -1);
	q.avail_gpa = 0x10800;
	q.used_gpa = 0x11002;
	assert_int_equal(vsock_vring_addr(&q, &m, 0, &a, &e), -1);
	q.used_gpa = 0x11000;
	/* Sizes: zero, not a power of two, above the maximum. */
	static const uint16_t sizes[] = {0, 3, 100, 2048};
	for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		q.size = sizes[i];
		assert_int_equal(vsock_vring_addr(&q, &m, 0, &a, &e), -1);
		assert_non_null(strstr(e.msg, "size"));
	}
	free(ram);
}

/* A ring in high RAM (above 4 GiB) translates through the second region; one straddling the end of low
 * RAM and the hole is refused. Needs no real memory: guest_mem_ptr only computes. */
static void test_ring_addr_high(void **s)
{
	struct guest_mem m = {.host = (uint8_t *)0x100000000000ULL, .memfd = -1};
	guest_mem_layout(&m, GUEST_MMIO_HOLE_START + (1ULL << 30));
	struct virtq q;
	virtq_reset(&q, 256);
	q.desc_gpa = GUEST_4G;
	q.avail_gpa = GUEST_4G + 0x1000;
	q.used_gpa = GUEST_4G + 0x2000;
	struct vhost_vring_addr a;
	isola_error e;
	assert_int_equal(vsock_vring_addr(&q, &m, 0, &a, &e), 0);
	assert_int_equal(a.desc_user_addr, 0x100000000000ULL + GUEST_MMIO_HOLE_START);
	q.desc_gpa = GUEST_MMIO_HOLE_START - 16 * 128; /* half the table in RAM, half in the hole */
	assert_int_equal(vsock_vring_addr(&q, &m, 0, &a, &e), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_config_and_features),
	    cmocka_unit_test(test_ring_addr),
	    cmocka_unit_test(test_ring_addr_high),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
