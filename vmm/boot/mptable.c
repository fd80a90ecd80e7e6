#include "vmm/boot/mptable.h"
#include <string.h>
#include "vmm/boot/layout.h"

#define MPF_SIZE       16
#define MPC_HDR_SIZE   44
#define MPC_CPU_SIZE   20
#define MPC_SMALL_SIZE 8
#define MP_NBUS        2
#define MP_NIRQ        16
#define MP_NLINT       2

uint8_t byte_sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

size_t mptable_size(unsigned ncpus)
{
	return MPF_SIZE + MPC_HDR_SIZE + (size_t)ncpus * MPC_CPU_SIZE +
	       (MP_NBUS + 1 + MP_NIRQ + MP_NLINT) * MPC_SMALL_SIZE;
}

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

int mptable_build(uint8_t *buf, size_t len, uint32_t gpa, unsigned ncpus, isola_error *err)
{
	if (ncpus == 0 || ncpus > MPTABLE_MAX_CPUS)
		return isola_err(err, 0, "MP table supports 1..%d CPUs, not %u", MPTABLE_MAX_CPUS, ncpus);
	size_t need = mptable_size(ncpus);
	if (len < need)
		return isola_err(err, 0, "MP table needs %zu bytes, have %zu", need, len);
	memset(buf, 0, need);
	/* Floating pointer structure (MP spec §4.1). */
	uint8_t *f = buf;
	memcpy(f, "_MP_", 4);
	put32(f + 4, gpa + MPF_SIZE);
	f[8] = 1; /* length in 16-byte paragraphs */
	f[9] = 4; /* spec revision 1.4 */
	/* feature bytes 0: a configuration table is present (no default configuration). */
	f[10] = (uint8_t)-byte_sum(f, MPF_SIZE);

	uint8_t *c = buf + MPF_SIZE, *p = c + MPC_HDR_SIZE;
	uint16_t count = 0;
	uint8_t ioapic_id = (uint8_t)ncpus; /* after the LAPIC ids */
	for (unsigned i = 0; i < ncpus; i++, p += MPC_CPU_SIZE, count++) {
		p[0] = 0; /* processor */
		p[1] = (uint8_t)i;
		p[2] = MP_LAPIC_VERSION;
		p[3] = 1 | (i == 0 ? 2 : 0); /* enabled; bootstrap processor */
		put32(p + 4, 0x600);         /* family 6 signature */
		put32(p + 8, 0x201);         /* features: FPU, APIC */
	}
	static const char *const buses[MP_NBUS] = {"PCI   ", "ISA   "};
	for (int b = 0; b < MP_NBUS; b++, p += MPC_SMALL_SIZE, count++) {
		p[0] = 1; /* bus */
		p[1] = (uint8_t)b;
		memcpy(p + 2, buses[b], 6);
	}
	p[0] = 2; /* I/O APIC */
	p[1] = ioapic_id;
	p[2] = MP_IOAPIC_VERSION;
	p[3] = 1; /* enabled */
	put32(p + 4, (uint32_t)LAYOUT_IOAPIC);
	p += MPC_SMALL_SIZE, count++;
	/* ISA IRQs: IRQ0 (the PIT) is wired to pin 2 as on every PC since the IOAPIC; the others are
	 * identity-mapped. Flags 0 = "conforms to the bus" (edge, active high for ISA). */
	for (int irq = 0; irq < MP_NIRQ; irq++, p += MPC_SMALL_SIZE, count++) {
		p[0] = 3; /* I/O interrupt */
		p[1] = 0; /* INT */
		p[4] = 1; /* source bus: ISA */
		p[5] = (uint8_t)irq;
		p[6] = ioapic_id;
		p[7] = (uint8_t)(irq == 0 ? 2 : irq);
	}
	/* Local interrupts: LINT0 = ExtINT (the 8259), LINT1 = NMI, on every LAPIC (0xff). */
	for (int l = 0; l < MP_NLINT; l++, p += MPC_SMALL_SIZE, count++) {
		p[0] = 4;
		p[1] = l == 0 ? 3 : 1; /* ExtINT, NMI */
		p[4] = 1;
		p[5] = 0;
		p[6] = 0xff;
		p[7] = (uint8_t)l;
	}
	memcpy(c, "PCMP", 4);
	put16(c + 4, (uint16_t)(p - c));
	c[6] = 4;
	memcpy(c + 8, "ISOLA   ", 8);
	memcpy(c + 16, "isola-vmm   ", 12);
	put16(c + 34, count);
	put32(c + 36, (uint32_t)LAYOUT_LAPIC);
	c[7] = (uint8_t)-byte_sum(c, (size_t)(p - c));
	return 0;
}
