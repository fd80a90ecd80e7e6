/* Minimal ACPI 6 tables for a stock kernel: RSDP -> XSDT -> {FADT -> {FACS, DSDT}, MADT}.
 *
 * Why: Linux powers off only through ACPI S5 (it writes SLP_TYP|SLP_EN to PM1a_CNT), and the fixed power
 * button (PM1 status bit 8 + SCI) is how the VMM asks the guest to shut down. The FADT is a full
 * (not hardware-reduced) one with SMI_CMD = 0, i.e. the machine is always in ACPI mode. The DSDT holds only
 * \_S5; PCI is found by the kernel's conf1 probe (the VMM adds pci=noacpi unless told otherwise). */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "error.h"

#define ACPI_PM1A_EVT_PORT      0x600 /* PM1a_STS (2 bytes) + PM1a_EN (2 bytes) */
#define ACPI_PM1A_CNT_PORT      0x604 /* PM1a_CNT (2 bytes) */
#define ACPI_SCI_IRQ            9
#define ACPI_S5_SLP_TYP         5
#define ACPI_PM1_PWRBTN         (1u << 8) /* PM1_STS.PWRBTN_STS / PM1_EN.PWRBTN_EN */
#define ACPI_PM1_CNT_SCI_EN     (1u << 0)
#define ACPI_PM1_CNT_SLP_EN     (1u << 13)
#define ACPI_PM1_CNT_SLP_TYP(v) (((v) >> 10) & 7)

#define ACPI_MAX_CPUS 64

struct acpi_layout {
	uint64_t rsdp; /* guest address of the RSDP (for boot_params.acpi_rsdp_addr) */
	size_t len;    /* bytes used from the start of buf */
};

/* Build all tables into buf, which will be placed at guest address gpa. */
int acpi_build(uint8_t *buf, size_t cap, uint64_t gpa, unsigned ncpus, struct acpi_layout *out, isola_error *err);
