/* Linux x86 bzImage parsing for the 64-bit boot protocol (Documentation/arch/x86/boot.rst).
 *
 * The file is untrusted input: every offset and size is checked against the file before it is used.
 * We require protocol >= 2.12 (xloadflags present) with XLF_KERNEL_64 (a 64-bit entry point at
 * load address + 0x200) and LOADED_HIGH (protected-mode kernel at 1 MiB or above). */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "error.h"

#define BZ_SETUP_HDR_OFF  0x1f1
#define BZ_HDR_MAGIC      0x53726448u /* "HdrS" */
#define BZ_MIN_VERSION    0x020c
#define BZ_XLF_KERNEL_64  (1u << 0)
#define BZ_LOADED_HIGH    (1u << 0)
#define BZ_ENTRY64_OFFSET 0x200
/* boot_params.hdr ends where edd_mbr_sig_buffer starts. */
#define BZ_ZEROPAGE_HDR_END 0x290

struct bzimage {
	uint16_t version;
	uint8_t setup_sects;
	uint8_t loadflags;
	uint16_t xloadflags;
	size_t setup_size;     /* (setup_sects ?: 4) + 1 sectors: file offset of the protected-mode kernel */
	size_t hdr_len;        /* bytes of setup header from 0x1f1 that belong in the zero page */
	const uint8_t *hdr;    /* file + 0x1f1 */
	const uint8_t *kernel; /* protected-mode kernel (file + setup_size) */
	size_t kernel_size;
	uint32_t initrd_addr_max; /* highest address the initrd's last byte may occupy */
	uint32_t kernel_alignment;
	uint8_t relocatable;
	uint32_t cmdline_size; /* max command line length without the NUL */
	uint64_t pref_address;
	uint32_t init_size; /* linear memory the kernel needs from its load address */
};

/* Parse and validate; out points into data (which must outlive it). */
int bzimage_parse(const uint8_t *data, size_t size, struct bzimage *out, isola_error *err);
