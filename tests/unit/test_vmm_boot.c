/* vmm boot structures without KVM: bzImage header validation, zero page, e820 around the MMIO hole,
 * initrd placement, identity page tables, GDT qwords, CPUID filtering, MP table and ACPI checksums. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "vmm/boot/acpi.h"
#include "vmm/boot/bootparams.h"
#include "vmm/boot/bzimage.h"
#include "vmm/boot/layout.h"
#include "vmm/boot/mptable.h"
#include "vmm/boot/x86.h"
#include "vmm/guest_mem.h"

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
static uint32_t get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

#define IMG_SIZE (64 * 1024)
/* A synthetic bzImage: 4 setup sectors + 5th, a protected-mode part, protocol 2.15. */
static uint8_t *fake_bzimage(void)
{
	uint8_t *d = calloc(1, IMG_SIZE);
	d[0x1f1] = 4;
	put32(d + 0x1f4, (IMG_SIZE - 5 * 512) / 16);
	put16(d + 0x1fe, 0xAA55);
	d[0x200] = 0xeb;
	d[0x201] = 0x6a; /* header end 0x26c */
	put32(d + 0x202, BZ_HDR_MAGIC);
	put16(d + 0x206, 0x020f);
	d[0x211] = BZ_LOADED_HIGH;
	put32(d + 0x22c, 0x7fffffff);
	put32(d + 0x230, 0x200000);
	d[0x234] = 1;
	put16(d + 0x236, 0x7f);
	put32(d + 0x238, 2047);
	put32(d + 0x260, 0x1000000);
	return d;
}

static void test_bzimage_valid(void **s)
{
	uint8_t *d = fake_bzimage();
	struct bzimage bz;
	isola_error e;
	assert_int_equal(bzimage_parse(d, IMG_SIZE, &bz, &e), 0);
	assert_int_equal(bz.setup_size, 5 * 512);
	assert_int_equal(bz.kernel_size, IMG_SIZE - 5 * 512);
	assert_int_equal(bz.hdr_len, 0x26c - 0x1f1);
	assert_int_equal(bz.cmdline_size, 2047);
	assert_int_equal(bz.init_size, 0x1000000);
	free(d);
}

/* Each corruption must be refused with a message naming what is wrong. */
static void test_bzimage_rejects(void **s)
{
	struct bzimage bz;
	isola_error e;
	uint8_t *d = fake_bzimage();
	assert_int_equal(bzimage_parse(d, 0x200, &bz, &e), -1);
	assert_non_null(strstr(e.msg, "too small"));

	put16(d + 0x1fe, 0x1234);
	assert_int_equal(bzimage_parse(d, IMG_SIZE, &bz, &e), -1);
	assert_non_null(strstr(e.msg, "0xAA55"));
	put16(d + 0x1fe, 0xAA55);

	put32(d + 0x202, 0x12345678);
	assert_int_equal(bzimage_parse(d, IMG_SIZE, &bz, &e), -1);
	assert_non_null(strstr(e.msg, "HdrS"));
	put32(d + 0x202, BZ_HDR_MAGIC);

	put16(d + 0x206, 0x020b);
	assert_int_equal(bzimage_parse(d, IMG_SIZE, &bz, &e), -1);
	assert_non_null(strstr(e.msg, "2.11"));
	put16(d + 0x206, 0x020f);

	put16(d + 0x236, 0x7e);
	assert_int_equal(bzimage_parse(d, IMG_SIZE, &bz, &e), -1);
	assert_non_null(strstr(e.msg, "XLF_KERNEL_64"));
	put16(d + 0x236, 0x7f);

	d[0x1f1] = 200; /* setup runs past the end of a 64 KiB file */
	assert_int_equal(bzimage_parse(d, IMG_SIZE, &bz, &e), -1);
	assert_non_null(strstr(e.msg, "past the end"));
	d[0x1f1] = 4;

	put32(d + 0x1f4, 0x10000000); /* syssize larger than the file */
	assert_int_equal(bzimage_parse(d, IMG_SIZE, &bz, &e), -1);
	assert_non_null(strstr(e.msg, "syssize"));
	put32(d + 0x1f4, 16);

	put32(d + 0x248, 0xfffffff0); /* payload offset + length wraps 32 bits */
	put32(d + 0x24c, 0x20);
	assert_int_equal(bzimage_parse(d, IMG_SIZE, &bz, &e), -1);
	assert_non_null(strstr(e.msg, "payload"));
	put32(d + 0x248, 0);
	put32(d + 0x24c, 0);

	d[0x1f1] = 0; /* 0 means 4 sectors (boot.rst) */
	assert_int_equal(bzimage_parse(d, IMG_SIZE, &bz, &e), 0);
	assert_int_equal(bz.setup_size, 5 * 512);
	free(d);
}

static void test_e820(void **s)
{
	struct e820_entry t[8];
	isola_error e;
	int n = e820_build(512ULL << 20, t, 8, &e);
	assert_int_equal(n, 3);
	assert_int_equal(t[0].addr, 0);
	assert_int_equal(t[0].size, LAYOUT_EBDA);
	assert_int_equal(t[1].type, E820_RESERVED);
	assert_int_equal(t[1].addr + t[1].size, 0x100000);
	assert_int_equal(t[2].addr, 0x100000);
	assert_int_equal(t[2].addr + t[2].size, 512ULL << 20);
	/* 4 GiB of RAM: 3 GiB below the hole, 1 GiB above 4 GiB; nothing inside [3 GiB, 4 GiB). */
	n = e820_build(4ULL << 30, t, 8, &e);
	assert_int_equal(n, 4);
	assert_int_equal(t[2].addr + t[2].size, GUEST_MMIO_HOLE_START);
	assert_int_equal(t[3].addr, GUEST_4G);
	assert_int_equal(t[3].size, 1ULL << 30);
	assert_int_equal(e820_build(1 << 20, t, 8, &e), -1);
}

static void test_guest_mem(void **s)
{
	struct guest_mem m = {.host = (uint8_t *)0x10000, .memfd = -1};
	guest_mem_layout(&m, 4ULL << 30);
	assert_int_equal(m.nregions, 2);
	assert_non_null(guest_mem_ptr(&m, 0, 16));
	assert_null(guest_mem_ptr(&m, GUEST_MMIO_HOLE_START - 8, 16)); /* runs into the hole */
	assert_null(guest_mem_ptr(&m, GUEST_MMIO_HOLE_START, 1));
	assert_ptr_equal(guest_mem_ptr(&m, GUEST_4G, 1), m.host + GUEST_MMIO_HOLE_START);
	assert_null(guest_mem_ptr(&m, GUEST_4G + (1ULL << 30), 1)); /* just past the end */
	assert_null(guest_mem_ptr(&m, UINT64_MAX - 4, 16));         /* wraps */
	assert_null(guest_mem_ptr(&m, 16, UINT64_MAX));             /* length wraps */
}

static void test_initrd_and_zeropage(void **s)
{
	uint8_t *d = fake_bzimage();
	struct bzimage bz;
	isola_error e;
	assert_int_equal(bzimage_parse(d, IMG_SIZE, &bz, &e), 0);
	uint64_t a;
	/* Highest page-aligned spot below RAM's end. */
	assert_int_equal(initrd_place(&bz, 256ULL << 20, 0x1100000, 10000, &a, &e), 0);
	assert_int_equal(a, ((256ULL << 20) - 10000) & ~0xfffULL);
	/* initrd_addr_max caps it. */
	put32(d + 0x22c, 0x37ffffff);
	assert_int_equal(bzimage_parse(d, IMG_SIZE, &bz, &e), 0);
	assert_int_equal(initrd_place(&bz, 2ULL << 30, 0x1100000, 4096, &a, &e), 0);
	assert_int_equal(a, 0x38000000 - 4096);
	/* Would overlap the kernel. */
	assert_int_equal(initrd_place(&bz, 32ULL << 20, 0x1100000, 16 << 20, &a, &e), -1);
	assert_non_null(strstr(e.msg, "more memory"));

	uint8_t zp[ZP_SIZE];
	struct zeropage_args za = {.bz = &bz,
	                           .ram_size = 256ULL << 20,
	                           .cmdline_addr = LAYOUT_CMDLINE,
	                           .cmdline_len = 20,
	                           .initrd_addr = 0x8000000,
	                           .initrd_size = 1234,
	                           .rsdp_addr = 0xe0000};
	assert_int_equal(zeropage_build(zp, &za, &e), 0);
	assert_int_equal(zp[ZP_TYPE_OF_LOADER], 0xff);
	assert_int_equal(get32(zp + 0x202), BZ_HDR_MAGIC);
	assert_int_equal(get32(zp + ZP_CMD_LINE_PTR), LAYOUT_CMDLINE);
	assert_int_equal(get32(zp + ZP_RAMDISK_IMAGE), 0x8000000);
	assert_int_equal(get32(zp + ZP_RAMDISK_SIZE), 1234);
	assert_int_equal(get64(zp + ZP_ACPI_RSDP_ADDR), 0xe0000);
	assert_int_equal(zp[ZP_E820_ENTRIES], 3);
	assert_int_equal(get64(zp + ZP_E820_TABLE + 40), 0x100000);
	assert_int_equal(get32(zp + ZP_E820_TABLE + 40 + 16), E820_RAM);
	assert_int_equal(zp[0x1ef], 0); /* sentinel stays 0: we built the page from zero */
	za.cmdline_len = 2048;          /* one over the kernel's cmdline_size */
	assert_int_equal(zeropage_build(zp, &za, &e), -1);
	assert_non_null(strstr(e.msg, "at most 2047"));
	free(d);
}

static void test_gdt_and_pagetables(void **s)
{
	uint64_t gdt[GDT_ENTRIES];
	gdt_build(gdt);
	/* The exact descriptors of the 64-bit boot GDT (Firecracker regs.rs tests). */
	assert_int_equal(gdt[0], 0);
	assert_int_equal(gdt[1], 0xaf9b000000ffffULL);
	assert_int_equal(gdt[2], 0xcf93000000ffffULL);
	assert_int_equal(gdt[3], 0x8f8b000000ffffULL);
	struct kvm_segment cs = gdt_to_segment(gdt[1], 1);
	assert_int_equal(cs.selector, 8);
	assert_int_equal(cs.l, 1);
	assert_int_equal(cs.type, 0xb);
	assert_int_equal(cs.limit, 0xffffffff);
	struct kvm_segment ds = gdt_to_segment(gdt[2], 2);
	assert_int_equal(ds.db, 1);
	assert_int_equal(ds.l, 0);

	struct kvm_sregs sr;
	memset(&sr, 0, sizeof sr);
	sregs_long_mode(&sr);
	assert_int_equal(sr.cr3, LAYOUT_PML4);
	assert_true(sr.cr0 & X86_CR0_PG);
	assert_true(sr.efer & X86_EFER_LMA);
	struct kvm_regs r;
	regs_boot(&r, 0x100200);
	assert_int_equal(r.rsi, LAYOUT_ZERO_PAGE);
	assert_int_equal(r.rip, 0x100200);

	struct guest_mem m = {.memfd = -1};
	m.host = calloc(1, 1 << 20);
	guest_mem_layout(&m, 1 << 20);
	isola_error e;
	assert_int_equal(pagetables_write(&m, &e), 0);
	assert_int_equal(get64(m.host + LAYOUT_PML4), LAYOUT_PDPT | 3);
	for (int i = 0; i < 4; i++)
		assert_int_equal(get64(m.host + LAYOUT_PDPT + 8 * i), (LAYOUT_PD + 0x1000 * i) | 3);
	for (uint64_t i = 0; i < 2048; i++)
		assert_int_equal(get64(m.host + LAYOUT_PD + 8 * i), (i << 21) + 0x83);
	assert_int_equal(gdt_write(&m, &e), 0);
	assert_int_equal(get64(m.host + LAYOUT_GDT + 8), 0xaf9b000000ffffULL);
	free(m.host);
	/* Too little RAM for the tables: refused, not written out of bounds. */
	struct guest_mem tiny = {.memfd = -1, .host = calloc(1, 0x9000)};
	guest_mem_layout(&tiny, 0x9000);
	assert_int_equal(pagetables_write(&tiny, &e), -1);
	free(tiny.host);
}

static void test_cpuid(void **s)
{
	struct kvm_cpuid_entry2 c[6] = {
	    {.function = 1, .ebx = 0xff0000aa, .ecx = 1u << 15, .edx = 0},
	    {.function = 4, .index = 0, .eax = 0x121},
	    {.function = 6, .ecx = 0xf},
	    {.function = 0xa, .eax = 0x7300805},
	    {.function = 0xb, .index = 0},
	    {.function = 0xb, .index = 1},
	};
	cpuid_filter(c, 6, 3, 4);
	assert_int_equal(c[0].ebx >> 24, 3);
	assert_int_equal((c[0].ebx >> 16) & 0xff, 4);
	assert_int_equal((c[0].ebx >> 8) & 0xff, 8);
	assert_int_equal(c[0].ebx & 0xff, 0xaa);
	assert_true(c[0].ecx & (1u << 31));
	assert_false(c[0].ecx & (1u << 15));
	assert_true(c[0].edx & (1u << 28));
	assert_int_equal(c[1].eax >> 26, 3);
	assert_int_equal(c[2].ecx, 0x7);
	assert_int_equal(c[3].eax, 0);
	assert_int_equal(c[4].edx, 3);
	assert_int_equal(c[4].ebx, 1);
	assert_int_equal(c[5].eax, 2);
	assert_int_equal(c[5].ebx, 4);
	assert_int_equal(c[5].ecx, 0x201);
	/* One vCPU: no HTT. */
	cpuid_filter(c, 1, 0, 1);
	assert_false(c[0].edx & (1u << 28));
}

static void test_mptable(void **s)
{
	uint8_t buf[2048];
	isola_error e;
	assert_int_equal(mptable_build(buf, sizeof buf, LAYOUT_MPTABLE, 4, &e), 0);
	assert_memory_equal(buf, "_MP_", 4);
	assert_int_equal(byte_sum(buf, 16), 0);
	assert_int_equal(get32(buf + 4), LAYOUT_MPTABLE + 16);
	uint8_t *c = buf + 16;
	assert_memory_equal(c, "PCMP", 4);
	uint16_t len = c[4] | c[5] << 8;
	assert_int_equal(16 + len, mptable_size(4));
	assert_int_equal(byte_sum(c, len), 0);
	assert_int_equal(c[34] | c[35] << 8, 4 + 2 + 1 + 16 + 2);
	/* Processor entries: ids 0..3, only the first is the BSP. */
	assert_int_equal(c[44 + 3], 3);
	assert_int_equal(c[44 + 20 + 3], 1);
	assert_int_equal(c[44 + 60 + 1], 3);
	assert_int_equal(mptable_build(buf, sizeof buf, 0, 0, &e), -1);
	assert_int_equal(mptable_build(buf, 100, 0, 4, &e), -1);
}

static void test_acpi(void **s)
{
	uint8_t buf[4096];
	struct acpi_layout l;
	isola_error e;
	assert_int_equal(acpi_build(buf, sizeof buf, LAYOUT_ACPI, 2, &l, &e), 0);
	assert_int_equal(l.rsdp, LAYOUT_ACPI);
	assert_memory_equal(buf, "RSD PTR ", 8);
	assert_int_equal(byte_sum(buf, 20), 0);
	assert_int_equal(byte_sum(buf, 36), 0);
	uint8_t *x = buf + (get64(buf + 24) - LAYOUT_ACPI);
	assert_memory_equal(x, "XSDT", 4);
	assert_int_equal(byte_sum(x, get32(x + 4)), 0);
	const char *sigs[] = {"FACP", "APIC"};
	for (int i = 0; i < 2; i++) {
		uint8_t *t = buf + (get64(x + 36 + 8 * i) - LAYOUT_ACPI);
		assert_memory_equal(t, sigs[i], 4);
		assert_int_equal(byte_sum(t, get32(t + 4)), 0);
	}
	uint8_t *f = buf + (get64(x + 36) - LAYOUT_ACPI);
	assert_int_equal(get32(f + 64), ACPI_PM1A_CNT_PORT);
	assert_int_equal(f[46], ACPI_SCI_IRQ);
	assert_int_equal(get32(f + 36) % 64, 0); /* FACS alignment */
	uint8_t *d = buf + (get32(f + 40) - LAYOUT_ACPI);
	assert_memory_equal(d, "DSDT", 4);
	assert_int_equal(byte_sum(d, get32(d + 4)), 0);
	assert_non_null(memmem(d, get32(d + 4), "_S5_", 4));
	assert_true(l.len < LAYOUT_ACPI_END - LAYOUT_ACPI);
	assert_int_equal(acpi_build(buf, 100, LAYOUT_ACPI, 2, &l, &e), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bzimage_valid),
	    cmocka_unit_test(test_bzimage_rejects),
	    cmocka_unit_test(test_e820),
	    cmocka_unit_test(test_guest_mem),
	    cmocka_unit_test(test_initrd_and_zeropage),
	    cmocka_unit_test(test_gdt_and_pagetables),
	    cmocka_unit_test(test_cpuid),
	    cmocka_unit_test(test_mptable),
	    cmocka_unit_test(test_acpi),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
