#include "vmm/boot/x86.h"
#include <string.h>
#include "vmm/boot/layout.h"

uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
	return (((uint64_t)base & 0xff000000ULL) << (56 - 24)) | (((uint64_t)flags & 0x0000f0ffULL) << 40) |
	       (((uint64_t)limit & 0x000f0000ULL) << (48 - 16)) | (((uint64_t)base & 0x00ffffffULL) << 16) |
	       ((uint64_t)limit & 0x0000ffffULL);
}

void gdt_build(uint64_t gdt[GDT_ENTRIES])
{
	gdt[0] = 0;
	gdt[1] = gdt_entry(0xa09b, 0, 0xfffff); /* code: P, DPL0, S, exec/read, accessed; L=1, G=1 */
	gdt[2] = gdt_entry(0xc093, 0, 0xfffff); /* data: P, DPL0, S, read/write, accessed; DB=1, G=1 */
	gdt[3] = gdt_entry(0x808b, 0, 0xfffff); /* TSS: P, busy 64-bit TSS; G=1 */
}

struct kvm_segment gdt_to_segment(uint64_t d, uint16_t index)
{
	struct kvm_segment s = {
	    .base = (uint32_t)(((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000)),
	    .limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000)),
	    .selector = (uint16_t)(index * 8),
	    .type = (uint8_t)((d >> 40) & 0xf),
	    .s = (uint8_t)((d >> 44) & 1),
	    .dpl = (uint8_t)((d >> 45) & 3),
	    .present = (uint8_t)((d >> 47) & 1),
	    .avl = (uint8_t)((d >> 52) & 1),
	    .l = (uint8_t)((d >> 53) & 1),
	    .db = (uint8_t)((d >> 54) & 1),
	    .g = (uint8_t)((d >> 55) & 1),
	};
	/* With G=1 the limit counts 4 KiB pages: KVM wants the byte limit. */
	if (s.g)
		s.limit = (s.limit << 12) | 0xfff;
	s.unusable = !s.present;
	return s;
}

static int put_u64(const struct guest_mem *m, uint64_t gpa, uint64_t v, isola_error *err)
{
	uint8_t *p = guest_mem_ptr(m, gpa, 8);
	if (!p)
		return isola_err(err, 0, "boot structure at %#llx is outside guest RAM", (unsigned long long)gpa);
	memcpy(p, &v, 8); /* x86 guest and host: little endian */
	return 0;
}

int pagetables_write(const struct guest_mem *m, isola_error *err)
{
	/* Present | writable. */
	if (put_u64(m, LAYOUT_PML4, LAYOUT_PDPT | 0x3, err) < 0)
		return -1;
	for (uint64_t i = 0; i < LAYOUT_PD_PAGES; i++)
		if (put_u64(m, LAYOUT_PDPT + i * 8, (LAYOUT_PD + i * 0x1000) | 0x3, err) < 0)
			return -1;
	/* 2048 PDEs: present | writable | PS (2 MiB page), identity. */
	for (uint64_t i = 0; i < 512 * LAYOUT_PD_PAGES; i++)
		if (put_u64(m, LAYOUT_PD + i * 8, (i << 21) | 0x83, err) < 0)
			return -1;
	return 0;
}

int gdt_write(const struct guest_mem *m, isola_error *err)
{
	uint64_t gdt[GDT_ENTRIES];
	gdt_build(gdt);
	for (int i = 0; i < GDT_ENTRIES; i++)
		if (put_u64(m, LAYOUT_GDT + (uint64_t)i * 8, gdt[i], err) < 0)
			return -1;
	return put_u64(m, LAYOUT_IDT, 0, err);
}

void sregs_long_mode(struct kvm_sregs *s)
{
	uint64_t gdt[GDT_ENTRIES];
	gdt_build(gdt);
	struct kvm_segment code = gdt_to_segment(gdt[1], 1);
	struct kvm_segment data = gdt_to_segment(gdt[2], 2);
	struct kvm_segment tss = gdt_to_segment(gdt[3], 3);
	s->gdt.base = LAYOUT_GDT;
	s->gdt.limit = sizeof(uint64_t) * GDT_ENTRIES - 1;
	s->idt.base = LAYOUT_IDT;
	s->idt.limit = sizeof(uint64_t) - 1;
	s->cs = code;
	s->ds = s->es = s->fs = s->gs = s->ss = data;
	s->tr = tss;
	s->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_PG;
	s->cr3 = LAYOUT_PML4;
	s->cr4 = X86_CR4_PAE;
	s->efer = X86_EFER_LME | X86_EFER_LMA;
}

void regs_boot(struct kvm_regs *r, uint64_t entry)
{
	memset(r, 0, sizeof *r);
	r->rflags = 2; /* bit 1 is reserved and always 1 */
	r->rip = entry;
	r->rsp = r->rbp = LAYOUT_BOOT_STACK;
	r->rsi = LAYOUT_ZERO_PAGE; /* boot.rst 64-bit protocol: %rsi holds the base of struct boot_params */
}

size_t msrs_boot(struct kvm_msr_entry *out, size_t max)
{
	static const struct kvm_msr_entry boot[] = {
	    {.index = 0x174, .data = 0},             /* IA32_SYSENTER_CS */
	    {.index = 0x175, .data = 0},             /* IA32_SYSENTER_ESP */
	    {.index = 0x176, .data = 0},             /* IA32_SYSENTER_EIP */
	    {.index = 0xc0000081, .data = 0},        /* STAR */
	    {.index = 0xc0000082, .data = 0},        /* LSTAR */
	    {.index = 0xc0000083, .data = 0},        /* CSTAR */
	    {.index = 0xc0000084, .data = 0},        /* SYSCALL_MASK */
	    {.index = 0xc0000102, .data = 0},        /* KERNEL_GS_BASE */
	    {.index = 0x10, .data = 0},              /* IA32_TSC */
	    {.index = 0x1a0, .data = 1},             /* IA32_MISC_ENABLE: fast strings */
	    {.index = 0x2ff, .data = (1 << 11) | 6}, /* MTRRdefType: enabled, write-back default */
	};
	size_t cnt = sizeof boot / sizeof boot[0];
	if (cnt > max)
		cnt = max;
	memcpy(out, boot, cnt * sizeof boot[0]);
	return cnt;
}

static unsigned ceil_log2(uint32_t n)
{
	unsigned s = 0;
	while ((1u << s) < n)
		s++;
	return s;
}

void cpuid_filter(struct kvm_cpuid_entry2 *e, uint32_t nent, uint32_t apic_id, uint32_t ncpus)
{
	for (uint32_t i = 0; i < nent; i++) {
		struct kvm_cpuid_entry2 *c = &e[i];
		switch (c->function) {
		case 1:
			/* EBX: [31:24] initial APIC id, [23:16] logical processors per package, [15:8] CLFLUSH
			 * line size in 8-byte units (64 bytes). */
			c->ebx = (apic_id << 24) | ((ncpus & 0xff) << 16) | (8 << 8) | (c->ebx & 0xff);
			c->ecx |= 1u << 31;    /* hypervisor present (CPUID.1:ECX[31]) */
			c->ecx &= ~(1u << 15); /* PDCM: no perf capabilities MSR */
			if (ncpus > 1)
				c->edx |= 1u << 28; /* HTT: the [23:16] count is valid */
			else
				c->edx &= ~(1u << 28);
			break;
		case 4:
			/* EAX[31:26]: addressable core ids per package - 1; [25:14] threads sharing the cache - 1. */
			if ((c->eax & 0x1f) == 0)
				break; /* null cache descriptor ends the list */
			c->eax = (c->eax & 0x3fff) | ((ncpus - 1) & 0x3f) << 26;
			break;
		case 6:
			c->ecx &= ~(1u << 3); /* energy-performance bias MSR is not virtualised */
			break;
		case 0xa:
			c->eax = c->ebx = c->ecx = c->edx = 0; /* no architectural PMU */
			break;
		case 0xb:
		case 0x1f:
			/* Extended topology: level 0 = SMT (1 thread per core), level 1 = core (ncpus per package). */
			c->edx = apic_id;
			if (c->index == 0) {
				c->eax = 0;
				c->ebx = 1;
				c->ecx = (1u << 8) | 0;
			} else if (c->index == 1) {
				c->eax = ceil_log2(ncpus);
				c->ebx = ncpus;
				c->ecx = (2u << 8) | 1;
			} else {
				c->eax = c->ebx = 0;
				c->ecx = c->index & 0xff;
			}
			break;
		default: break;
		}
	}
}
