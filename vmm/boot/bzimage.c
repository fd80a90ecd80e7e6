#include "vmm/boot/bzimage.h"
#include <string.h>

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16;
}
static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

int bzimage_parse(const uint8_t *d, size_t size, struct bzimage *bz, isola_error *err)
{
	memset(bz, 0, sizeof *bz);
	/* The 2.12 header runs to init_size (0x260..0x264); anything shorter cannot be a usable bzImage. */
	if (size < 0x264)
		return isola_err(err, 0, "kernel image is %zu bytes, too small for a bzImage setup header", size);
	if (le16(d + 0x1fe) != 0xAA55)
		return isola_err(err, 0, "kernel image has no boot sector signature 0xAA55 at 0x1fe (not a bzImage)");
	if (le32(d + 0x202) != BZ_HDR_MAGIC)
		return isola_err(err, 0, "kernel image has no \"HdrS\" magic at 0x202 (not a bzImage)");
	bz->version = le16(d + 0x206);
	if (bz->version < BZ_MIN_VERSION)
		return isola_err(err, 0, "boot protocol %u.%02u is too old: the 64-bit entry needs >= 2.12",
		                 bz->version >> 8, bz->version & 0xff);
	bz->loadflags = d[0x211];
	bz->xloadflags = le16(d + 0x236);
	if (!(bz->xloadflags & BZ_XLF_KERNEL_64))
		return isola_err(err, 0, "kernel has no 64-bit entry point (xloadflags %#x lacks XLF_KERNEL_64)",
		                 bz->xloadflags);
	if (!(bz->loadflags & BZ_LOADED_HIGH))
		return isola_err(err, 0, "kernel is not loadable at 1 MiB (loadflags %#x lacks LOADED_HIGH)",
		                 bz->loadflags);
	bz->setup_sects = d[0x1f1];
	/* boot.rst: "If this field is 0, the real value is 4." */
	size_t sects = bz->setup_sects ? bz->setup_sects : 4;
	bz->setup_size = (sects + 1) * 512;
	if (bz->setup_size >= size)
		return isola_err(err, 0, "setup code (%zu bytes) runs past the end of the %zu-byte kernel image",
		                 bz->setup_size, size);
	bz->kernel = d + bz->setup_size;
	bz->kernel_size = size - bz->setup_size;
	if (bz->kernel_size <= BZ_ENTRY64_OFFSET)
		return isola_err(err, 0, "protected-mode kernel is %zu bytes: no room for the 64-bit entry at +0x200",
		                 bz->kernel_size);
	uint32_t syssize = le32(d + 0x1f4);
	if ((uint64_t)syssize * 16 > bz->kernel_size)
		return isola_err(err, 0, "syssize says %llu bytes of kernel but the file holds %zu",
		                 (unsigned long long)syssize * 16, bz->kernel_size);
	/* boot.rst: the setup header ends at 0x202 + the byte at 0x201 (the jump's displacement). */
	size_t hdr_end = 0x202 + (size_t)d[0x201];
	if (hdr_end > BZ_ZEROPAGE_HDR_END)
		hdr_end = BZ_ZEROPAGE_HDR_END;
	if (hdr_end > size || hdr_end < 0x264)
		return isola_err(err, 0, "setup header end %#zx is outside the image or before init_size", hdr_end);
	bz->hdr = d + BZ_SETUP_HDR_OFF;
	bz->hdr_len = hdr_end - BZ_SETUP_HDR_OFF;
	bz->initrd_addr_max = le32(d + 0x22c);
	bz->kernel_alignment = le32(d + 0x230);
	bz->relocatable = d[0x234];
	bz->cmdline_size = le32(d + 0x238);
	bz->pref_address = le64(d + 0x258);
	bz->init_size = le32(d + 0x260);
	if (bz->init_size < bz->kernel_size)
		bz->init_size = (uint32_t)(bz->kernel_size > UINT32_MAX ? UINT32_MAX : bz->kernel_size);
	uint32_t payload_off = le32(d + 0x248), payload_len = le32(d + 0x24c);
	if ((uint64_t)payload_off + payload_len > bz->kernel_size)
		return isola_err(err, 0, "compressed payload [%#x, +%#x) lies outside the protected-mode kernel",
		                 payload_off, payload_len);
	return 0;
}
