/* The guest-physical memory map isola-vmm sets up before the first instruction (x86-64 direct boot).
 * Values follow the Firecracker/Cloud Hypervisor layout for the 64-bit entry (research note vmm-anchors §3). */
#pragma once

#define LAYOUT_GDT         0x500ULL
#define LAYOUT_IDT         0x520ULL
#define LAYOUT_ZERO_PAGE   0x7000ULL
#define LAYOUT_BOOT_STACK  0x8ff0ULL
#define LAYOUT_PML4        0x9000ULL
#define LAYOUT_PDPT        0xa000ULL
#define LAYOUT_PD          0xb000ULL /* 4 pages: identity map of the first 4 GiB with 2 MiB pages */
#define LAYOUT_PD_PAGES    4
#define LAYOUT_CMDLINE     0x20000ULL
#define LAYOUT_CMDLINE_MAX 0x10000ULL
#define LAYOUT_EBDA        0x9fc00ULL /* [EBDA, 1 MiB) is reserved in e820: MP table here, ACPI at 0xe0000 */
#define LAYOUT_MPTABLE     LAYOUT_EBDA
#define LAYOUT_ACPI        0xe0000ULL
#define LAYOUT_ACPI_END    0x100000ULL
#define LAYOUT_KERNEL      0x100000ULL /* protected-mode kernel (boot.rst: loaded at 1 MiB) */
#define LAYOUT_HIGH_MEM    LAYOUT_KERNEL

#define LAYOUT_PCI_MMIO     0xC0000000ULL /* BARs are allocated upwards from here */
#define LAYOUT_PCI_MMIO_END 0xFEC00000ULL
#define LAYOUT_IOAPIC       0xFEC00000ULL
#define LAYOUT_LAPIC        0xFEE00000ULL
#define LAYOUT_TSS          0xfffbd000ULL /* KVM_SET_TSS_ADDR: three pages the VMX emulation needs */
#define LAYOUT_IDENTITY_MAP 0xfffbc000ULL
