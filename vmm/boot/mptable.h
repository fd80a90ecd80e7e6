/* Intel MultiProcessor Specification 1.4 tables (floating pointer + configuration table): the CPU and
 * IOAPIC layout for kernels booted with acpi=off. Linux prefers the ACPI MADT when both exist. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "error.h"

#define MPTABLE_MAX_CPUS  64
#define MP_IOAPIC_VERSION 0x11
#define MP_LAPIC_VERSION  0x14

/* Size of the whole structure for ncpus. */
size_t mptable_size(unsigned ncpus);
/* Write the floating pointer at buf (guest address gpa) followed by the configuration table. */
int mptable_build(uint8_t *buf, size_t len, uint32_t gpa, unsigned ncpus, isola_error *err);
/* Byte sum mod 256 of [p, p + n): every MP and ACPI checksum makes this 0. */
uint8_t byte_sum(const uint8_t *p, size_t n);
