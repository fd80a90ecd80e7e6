/* The zero page (struct boot_params, Documentation/arch/x86/zero-page.rst) and what it points to:
 * e820 map, command line, initrd. Pure functions over a byte buffer so the tests need no KVM. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "error.h"
#include "vmm/boot/bzimage.h"

#define ZP_SIZE           4096
#define ZP_ACPI_RSDP_ADDR 0x070
#define ZP_E820_ENTRIES   0x1e8
#define ZP_HDR            0x1f1
#define ZP_TYPE_OF_LOADER 0x210
#define ZP_LOADFLAGS      0x211
#define ZP_RAMDISK_IMAGE  0x218
#define ZP_RAMDISK_SIZE   0x21c
#define ZP_CMD_LINE_PTR   0x228
#define ZP_E820_TABLE     0x2d0
#define ZP_E820_MAX       128

#define E820_RAM      1
#define E820_RESERVED 2

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/* The map for size bytes of RAM laid out as guest_mem does: low RAM up to the EBDA, reserved EBDA + BIOS
 * area (MP table, ACPI), RAM from 1 MiB to the MMIO hole, RAM above 4 GiB for the rest. Returns the
 * number of entries written (<= max), or -1 when RAM is too small to boot (< 2 MiB). */
int e820_build(uint64_t ram_size, struct e820_entry *out, int max, isola_error *err);

/* Where the initrd goes: page aligned, as high as possible below min(initrd_addr_max, low_end), and
 * above kernel_end. */
int initrd_place(const struct bzimage *bz, uint64_t low_end, uint64_t kernel_end, uint64_t initrd_size, uint64_t *addr,
                 isola_error *err);

struct zeropage_args {
	const struct bzimage *bz;
	uint64_t ram_size;
	uint64_t cmdline_addr;
	size_t cmdline_len;   /* without the NUL */
	uint64_t initrd_addr; /* 0: none */
	uint64_t initrd_size;
	uint64_t rsdp_addr; /* 0: none */
};

/* Fill zp (ZP_SIZE bytes) from scratch. Validates the command line length against the kernel's limit. */
int zeropage_build(uint8_t *zp, const struct zeropage_args *a, isola_error *err);
