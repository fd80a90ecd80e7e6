#include "vmm/boot/bootparams.h"
#include <string.h>
#include "vmm/boot/layout.h"
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
static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

int e820_build(uint64_t ram, struct e820_entry *out, int max, isola_error *err)
{
	if (ram < 2 * LAYOUT_HIGH_MEM)
		return isola_err(err, 0, "guest RAM of %llu bytes is too small (need at least 2 MiB)",
		                 (unsigned long long)ram);
	if (max < 4)
		return isola_err(err, 0, "e820 table has room for %d entries, need 4", max);
	int n = 0;
	uint64_t low = ram < GUEST_MMIO_HOLE_START ? ram : GUEST_MMIO_HOLE_START;
	out[n++] = (struct e820_entry){0, LAYOUT_EBDA, E820_RAM};
	/* The EBDA/VGA/BIOS range is RAM in our slot but holds the MP table and ACPI tables, and Linux
	 * must not allocate it (it would overwrite the tables it has yet to parse). */
	out[n++] = (struct e820_entry){LAYOUT_EBDA, LAYOUT_HIGH_MEM - LAYOUT_EBDA, E820_RESERVED};
	out[n++] = (struct e820_entry){LAYOUT_HIGH_MEM, low - LAYOUT_HIGH_MEM, E820_RAM};
	if (ram > low)
		out[n++] = (struct e820_entry){GUEST_4G, ram - low, E820_RAM};
	return n;
}

int initrd_place(const struct bzimage *bz, uint64_t low_end, uint64_t kernel_end, uint64_t size, uint64_t *addr,
                 isola_error *err)
{
	/* initrd_addr_max is the last byte's highest address, so the limit (exclusive) is one above. */
	uint64_t limit = (uint64_t)bz->initrd_addr_max + 1;
	if (limit > low_end)
		limit = low_end;
	if (size == 0 || size > limit)
		return isola_err(err, 0, "initrd of %llu bytes does not fit below %#llx", (unsigned long long)size,
		                 (unsigned long long)limit);
	uint64_t a = (limit - size) & ~0xfffULL;
	if (a < kernel_end)
		return isola_err(err, 0,
		                 "initrd of %llu bytes does not fit between the kernel (ends %#llx) and %#llx; "
		                 "give the guest more memory",
		                 (unsigned long long)size, (unsigned long long)kernel_end, (unsigned long long)limit);
	*addr = a;
	return 0;
}

int zeropage_build(uint8_t *zp, const struct zeropage_args *a, isola_error *err)
{
	const struct bzimage *bz = a->bz;
	memset(zp, 0, ZP_SIZE);
	if (a->cmdline_len > bz->cmdline_size)
		return isola_err(err, 0, "command line is %zu bytes; this kernel accepts at most %u", a->cmdline_len,
		                 bz->cmdline_size);
	if (ZP_HDR + bz->hdr_len > ZP_E820_TABLE)
		return isola_err(err, 0, "setup header of %zu bytes overruns the zero page", bz->hdr_len);
	memcpy(zp + ZP_HDR, bz->hdr, bz->hdr_len);
	/* boot.rst: 0xff = "undefined" boot loader; we have no assigned id. */
	zp[ZP_TYPE_OF_LOADER] = 0xff;
	/* vid_mode 0xffff: "normal" text mode; there is no VGA, console is the serial port. */
	put16(zp + 0x1fa, 0xffff);
	put32(zp + ZP_CMD_LINE_PTR, (uint32_t)a->cmdline_addr);
	put32(zp + ZP_RAMDISK_IMAGE, (uint32_t)a->initrd_addr);
	put32(zp + ZP_RAMDISK_SIZE, (uint32_t)a->initrd_size);
	/* ext_ramdisk_image/size (0x0c0/0x0c4) hold bits 32..63; we place the initrd below 4 GiB. */
	if (a->rsdp_addr)
		put64(zp + ZP_ACPI_RSDP_ADDR, a->rsdp_addr);
	struct e820_entry e[ZP_E820_MAX];
	int n = e820_build(a->ram_size, e, ZP_E820_MAX, err);
	if (n < 0)
		return -1;
	zp[ZP_E820_ENTRIES] = (uint8_t)n;
	for (int i = 0; i < n; i++) {
		uint8_t *p = zp + ZP_E820_TABLE + 20 * i;
		put64(p, e[i].addr);
		put64(p + 8, e[i].size);
		put32(p + 16, e[i].type);
	}
	return 0;
}
