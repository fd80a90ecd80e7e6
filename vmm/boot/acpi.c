#include "vmm/boot/acpi.h"
#include <string.h>
#include "vmm/boot/layout.h"
#include "vmm/boot/mptable.h"

#define SDT_HDR  36
#define FADT_LEN 276
#define FACS_LEN 64

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

/* ACPI 6.4 §5.2.6 system description table header. */
static void sdt_header(uint8_t *t, const char sig[4], uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put32(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, "ISOLA ", 6);
	memcpy(t + 16, "ISOLAVMM", 8);
	put32(t + 24, 1);
	memcpy(t + 28, "ISLA", 4);
	put32(t + 32, 1);
}

static void sdt_checksum(uint8_t *t)
{
	uint32_t len = (uint32_t)(t[4] | t[5] << 8 | t[6] << 16 | (uint32_t)t[7] << 24);
	t[9] = 0;
	t[9] = (uint8_t)-byte_sum(t, len);
}

/* DSDT body: Name (_S5, Package (4) { 5, 5, 0, 0 }) in AML (ACPI 6.4 §20.2.5.2 NameOp 0x08,
 * §20.2.5.4 PackageOp 0x12 with a one-byte PkgLength, BytePrefix 0x0A, ZeroOp 0x00). */
static const uint8_t dsdt_aml[] = {
    0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0A, ACPI_S5_SLP_TYP, 0x0A, ACPI_S5_SLP_TYP, 0x00, 0x00,
};

int acpi_build(uint8_t *buf, size_t cap, uint64_t gpa, unsigned ncpus, struct acpi_layout *out, isola_error *err)
{
	if (ncpus == 0 || ncpus > ACPI_MAX_CPUS)
		return isola_err(err, 0, "ACPI tables support 1..%d CPUs, not %u", ACPI_MAX_CPUS, ncpus);
	size_t madt_len = SDT_HDR + 8 + 8 * ncpus + 12 + 10 + 10 + 6;
	size_t off_rsdp = 0, off_xsdt = 64, off_fadt = off_xsdt + SDT_HDR + 16;
	size_t off_facs = (off_fadt + FADT_LEN + 63) & ~(size_t)63; /* FACS must be 64-byte aligned */
	size_t off_madt = off_facs + FACS_LEN, off_dsdt = off_madt + madt_len;
	size_t end = off_dsdt + SDT_HDR + sizeof dsdt_aml;
	if (end > cap)
		return isola_err(err, 0, "ACPI tables need %zu bytes, have %zu", end, cap);
	memset(buf, 0, end);

	/* RSDP, ACPI 6.4 §5.2.5.3: revision 2, XSDT only. */
	uint8_t *r = buf + off_rsdp;
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, "ISOLA ", 6);
	r[15] = 2;
	put32(r + 20, 36);
	put64(r + 24, gpa + off_xsdt);
	r[8] = (uint8_t)-byte_sum(r, 20);
	r[32] = (uint8_t)-byte_sum(r, 36);

	uint8_t *x = buf + off_xsdt;
	sdt_header(x, "XSDT", SDT_HDR + 16, 1);
	put64(x + SDT_HDR, gpa + off_fadt);
	put64(x + SDT_HDR + 8, gpa + off_madt);
	sdt_checksum(x);

	/* FADT, ACPI 6.4 §5.2.9 (revision 6). Only the 32-bit block addresses are set; ACPICA derives the
	 * X_ generic addresses from them. */
	uint8_t *f = buf + off_fadt;
	sdt_header(f, "FACP", FADT_LEN, 6);
	put32(f + 36, (uint32_t)(gpa + off_facs));
	put32(f + 40, (uint32_t)(gpa + off_dsdt));
	put16(f + 46, ACPI_SCI_IRQ);
	put32(f + 48, 0); /* SMI_CMD = 0: no SMM, always in ACPI mode */
	put32(f + 56, ACPI_PM1A_EVT_PORT);
	put32(f + 64, ACPI_PM1A_CNT_PORT);
	f[88] = 4;               /* PM1_EVT_LEN */
	f[89] = 2;               /* PM1_CNT_LEN */
	put16(f + 96, 101);      /* P_LVL2_LAT > 100: C2 not supported */
	put16(f + 98, 1001);     /* P_LVL3_LAT > 1000: C3 not supported */
	f[108] = 0x32;           /* CENTURY register in CMOS */
	put16(f + 109, 1u << 1); /* IAPC_BOOT_ARCH: 8042 present (reboot=k, keyboard probe) */
	/* Flags: WBINVD (0), PROC_C1 (2), SLP_BUTTON (5) = no sleep button; PWR_BUTTON (4) clear = the power
	 * button is a fixed feature; HW_REDUCED_ACPI (20) clear. */
	put32(f + 112, (1u << 0) | (1u << 2) | (1u << 5));
	f[131] = 4;                     /* FADT minor version: 6.4 */
	put64(f + 140, gpa + off_dsdt); /* X_DSDT */
	sdt_checksum(f);

	uint8_t *fc = buf + off_facs; /* FACS, §5.2.10: no checksum */
	memcpy(fc, "FACS", 4);
	put32(fc + 4, FACS_LEN);
	fc[32] = 2; /* version */

	/* MADT, §5.2.12. */
	uint8_t *m = buf + off_madt, *p = m + SDT_HDR;
	sdt_header(m, "APIC", (uint32_t)madt_len, 5);
	put32(p, (uint32_t)LAYOUT_LAPIC);
	put32(p + 4, 1); /* PCAT_COMPAT: 8259s present (Linux masks them) */
	p += 8;
	for (unsigned i = 0; i < ncpus; i++, p += 8) {
		p[0] = 0;
		p[1] = 8;
		p[2] = (uint8_t)i;
		p[3] = (uint8_t)i;
		put32(p + 4, 1); /* enabled */
	}
	p[0] = 1;
	p[1] = 12;
	p[2] = (uint8_t)ncpus; /* IOAPIC id after the LAPIC ids */
	put32(p + 4, (uint32_t)LAYOUT_IOAPIC);
	put32(p + 8, 0); /* GSI base */
	p += 12;
	/* Interrupt source overrides: ISA IRQ0 -> GSI 2 (edge, high: conforms); the SCI on GSI 9 is level,
	 * active high (flags: polarity 01, trigger 11), which the VMM drives with KVM_IRQ_LINE levels. */
	p[0] = 2;
	p[1] = 10;
	p[2] = 0;
	p[3] = 0;
	put32(p + 4, 2);
	put16(p + 8, 0);
	p += 10;
	p[0] = 2;
	p[1] = 10;
	p[2] = 0;
	p[3] = ACPI_SCI_IRQ;
	put32(p + 4, ACPI_SCI_IRQ);
	put16(p + 8, 0x000d);
	p += 10;
	p[0] = 4;
	p[1] = 6;
	p[2] = 0xff;
	put16(p + 3, 0);
	p[5] = 1; /* LAPIC NMI on LINT1 of every CPU */
	sdt_checksum(m);

	uint8_t *d = buf + off_dsdt;
	sdt_header(d, "DSDT", (uint32_t)(SDT_HDR + sizeof dsdt_aml), 2);
	memcpy(d + SDT_HDR, dsdt_aml, sizeof dsdt_aml);
	sdt_checksum(d);

	out->rsdp = gpa + off_rsdp;
	out->len = end;
	return 0;
}
