/* The legacy PC devices a stock Linux touches: the 16550A UART on ttyS0 (0x3f8, IRQ 4), the i8042
 * controller (0x60/0x64; 0xFE = reset), the CMOS RTC (0x70/0x71), the ACPI PM1 registers (0x600..0x605;
 * S5 = power off, power button), and the isola boot-timer port (0x4f0). All are driven from vCPU threads
 * under one lock; serial input arrives from the device thread. */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vm;

#define SERIAL_PORT      0x3f8
#define SERIAL_IRQ       4
#define BOOT_TIMER_PORT  0x4f0
#define BOOT_TIMER_MAGIC 123
/* The serial log is emptied when it would pass this size (as the manager's container console.log). */
#define SERIAL_LOG_MAX (1u << 20)

struct serial {
	uint8_t ier, lcr, mcr, lsr_extra, scr, dll, dlm;
	bool fifo, thri_pending, irq_level;
	uint8_t rx[1024];
	unsigned rx_head, rx_len;
	int out_fd;         /* -1: output dropped */
	int log_fd;         /* --serial-log: every output byte appended too, whether a client is attached or not */
	uint64_t log_bytes; /* written to log_fd since it was last emptied (kept under SERIAL_LOG_MAX) */
	uint64_t tx_bytes, rx_bytes;
};

struct i8042 {
	uint8_t ctr;     /* controller command byte */
	uint8_t pending; /* command waiting for its data byte (0x60, 0xD1, 0xD3, 0xD4) */
	uint8_t out[8];
	unsigned out_len;
};

struct rtc {
	uint8_t index;
	uint8_t ram[128];
};

struct acpi_pm {
	uint16_t sts, en, cnt;
	bool sci_level;
};

struct legacy_devices {
	pthread_mutex_t lock;
	struct serial serial;
	struct i8042 i8042;
	struct rtc rtc;
	struct acpi_pm pm;
};

void legacy_init(struct legacy_devices *l, int serial_out_fd);
/* Port I/O from a vCPU: returns true when the port belongs to a legacy device. */
bool legacy_pio(struct vm *vm, uint16_t port, bool write, uint8_t *data, unsigned size);
/* Bytes typed on the serial console (device thread). */
void serial_input(struct vm *vm, const uint8_t *buf, size_t len);
/* Press the ACPI power button (guest-visible shutdown request). */
void acpi_power_button(struct vm *vm);

/* Pure register models, exported for the tests. */
uint8_t serial_read(struct serial *s, unsigned off);
void serial_write(struct serial *s, unsigned off, uint8_t v);
bool serial_irq_pending(const struct serial *s);
