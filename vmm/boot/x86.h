/* x86-64 CPU state for the 64-bit boot entry, computed as plain data so the tests can check the bytes
 * without KVM: identity page tables, GDT, segment registers, control registers, boot MSRs, CPUID. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>
#include "error.h"
#include "vmm/guest_mem.h"

#define X86_CR0_PE   (1ULL << 0)
#define X86_CR0_ET   (1ULL << 4)
#define X86_CR0_PG   (1ULL << 31)
#define X86_CR4_PAE  (1ULL << 5)
#define X86_EFER_LME (1ULL << 8)
#define X86_EFER_LMA (1ULL << 10)

#define GDT_ENTRIES  4
#define GDT_SEL_CODE 0x08
#define GDT_SEL_DATA 0x10
#define GDT_SEL_TSS  0x18

/* A GDT descriptor from flags (type/S/DPL/P in bits 0..7, AVL/L/DB/G in bits 12..15), base and limit:
 * Intel SDM vol. 3 §3.4.5. */
uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit);
/* The boot GDT: null, 64-bit code (0xa09b), data (0xc093), TSS (0x808b). */
void gdt_build(uint64_t gdt[GDT_ENTRIES]);
/* Decode a descriptor into the form KVM_SET_SREGS takes, with selector = index * 8. */
struct kvm_segment gdt_to_segment(uint64_t desc, uint16_t index);

/* Identity-map the first 4 GiB with 2 MiB pages at LAYOUT_PML4/PDPT/PD in guest RAM. */
int pagetables_write(const struct guest_mem *m, isola_error *err);
/* Write the GDT and an empty IDT at LAYOUT_GDT/LAYOUT_IDT. */
int gdt_write(const struct guest_mem *m, isola_error *err);
/* sregs for long mode: segments from the GDT, CR0/CR3/CR4/EFER. Other fields of *s are preserved. */
void sregs_long_mode(struct kvm_sregs *s);
/* regs for the kernel entry: RIP = entry, RSI = zero page, RSP = RBP = boot stack, RFLAGS = 2. */
void regs_boot(struct kvm_regs *r, uint64_t entry);

/* Boot MSRs (value pairs for KVM_SET_MSRS). Returns the count written (<= max). */
size_t msrs_boot(struct kvm_msr_entry *out, size_t max);

/* Tailor KVM_GET_SUPPORTED_CPUID's answer for vCPU apic_id of ncpus (one thread per core, one package):
 * leaf 1 APIC id, CLFLUSH, logical count + HTT, hypervisor bit, no PDCM; leaf 4 core count; leaf 6 no
 * EPB; leaf 0xA zeroed (no PMU); leaves 0xB/0x1F topology with x2APIC id. Entries are edited in place. */
void cpuid_filter(struct kvm_cpuid_entry2 *e, uint32_t nent, uint32_t apic_id, uint32_t ncpus);
