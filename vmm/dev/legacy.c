/* Legacy PC devices (see legacy.h). Register behaviour follows the 16550A data sheet (TI SLLS177), the
 * i8042 as Linux drives it (drivers/input/serio/i8042.c), the MC146818 CMOS RTC, and ACPI 6.4 §4.8.3
 * (PM1 event/control registers). */
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "log.h"
#include "util.h"
#include "vmm/boot/acpi.h"
#include "vmm/dev/legacy.h"
#include "vmm/vm.h"

/* ---- 16550A UART ---- */
#define UART_RBR      0
#define UART_IER      1
#define UART_IIR      2
#define UART_LCR      3
#define UART_MCR      4
#define UART_LSR      5
#define UART_MSR      6
#define UART_SCR      7
#define UART_LCR_DLAB 0x80
#define UART_IER_RDI  0x01
#define UART_IER_THRI 0x02
#define UART_MCR_LOOP 0x10
#define UART_LSR_DR   0x01
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40

bool serial_irq_pending(const struct serial *s)
{
	return ((s->ier & UART_IER_RDI) && s->rx_len) || ((s->ier & UART_IER_THRI) && s->thri_pending);
}

static void rx_push(struct serial *s, uint8_t c)
{
	if (s->rx_len < sizeof s->rx) {
		s->rx[(s->rx_head + s->rx_len) % sizeof s->rx] = c;
		s->rx_len++;
	}
}

uint8_t serial_read(struct serial *s, unsigned off)
{
	bool dlab = s->lcr & UART_LCR_DLAB;
	switch (off) {
	case UART_RBR:
		if (dlab)
			return s->dll;
		if (!s->rx_len)
			return 0;
		uint8_t c = s->rx[s->rx_head];
		s->rx_head = (s->rx_head + 1) % sizeof s->rx;
		s->rx_len--;
		return c;
	case UART_IER: return dlab ? s->dlm : s->ier;
	case UART_IIR: {
		uint8_t fifo = s->fifo ? 0xc0 : 0;
		if ((s->ier & UART_IER_RDI) && s->rx_len)
			return fifo | 0x04;
		if ((s->ier & UART_IER_THRI) && s->thri_pending) {
			s->thri_pending = false; /* reading IIR with THRE as the source clears it */
			return fifo | 0x02;
		}
		return fifo | 0x01;
	}
	case UART_LCR: return s->lcr;
	case UART_MCR: return s->mcr;
	case UART_LSR: return UART_LSR_THRE | UART_LSR_TEMT | (s->rx_len ? UART_LSR_DR : 0);
	case UART_MSR:
		if (s->mcr & UART_MCR_LOOP) {
			/* Loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD (Linux's probe checks this). */
			return (uint8_t)(((s->mcr & 0x01) << 5) | ((s->mcr & 0x02) << 3) | ((s->mcr & 0x04) << 4) |
			                 ((s->mcr & 0x08) << 4));
		}
		return 0xb0; /* DCD, DSR, CTS: a cable is attached */
	case UART_SCR: return s->scr;
	}
	return 0xff;
}

void serial_write(struct serial *s, unsigned off, uint8_t v)
{
	bool dlab = s->lcr & UART_LCR_DLAB;
	switch (off) {
	case UART_RBR:
		if (dlab) {
			s->dll = v;
			break;
		}
		if (s->mcr & UART_MCR_LOOP) {
			rx_push(s, v);
		} else if (s->out_fd >= 0) {
			/* Transmit at once: the line is infinitely fast, so THR is empty again immediately. */
			if (write(s->out_fd, &v, 1) == 1)
				s->tx_bytes++;
		}
		if (!(s->mcr & UART_MCR_LOOP) && s->log_fd >= 0) {
			if (s->log_bytes >= SERIAL_LOG_MAX && ftruncate(s->log_fd, 0) == 0)
				s->log_bytes = 0;
			if (write(s->log_fd, &v, 1) == 1)
				s->log_bytes++;
		}
		s->thri_pending = true;
		break;
	case UART_IER:
		if (dlab) {
			s->dlm = v;
			break;
		}
		/* Enabling THRE interrupts with an empty THR raises one at once (the 8250 driver relies on it). */
		if (!(s->ier & UART_IER_THRI) && (v & UART_IER_THRI))
			s->thri_pending = true;
		s->ier = v & 0x0f;
		break;
	case UART_IIR: /* FCR */
		s->fifo = v & 1;
		if (v & 0x02) { /* clear receive FIFO */
			s->rx_len = 0;
			s->rx_head = 0;
		}
		break;
	case UART_LCR: s->lcr = v; break;
	case UART_MCR: s->mcr = v & 0x1f; break;
	case UART_SCR: s->scr = v; break;
	}
}

static void serial_update_irq(struct vm *vm)
{
	struct serial *s = &vm->legacy.serial;
	bool level = serial_irq_pending(s);
	if (level != s->irq_level) {
		s->irq_level = level;
		vm_irq_line(vm, SERIAL_IRQ, level);
	}
}

void serial_input(struct vm *vm, const uint8_t *buf, size_t len)
{
	pthread_mutex_lock(&vm->legacy.lock);
	for (size_t i = 0; i < len; i++)
		rx_push(&vm->legacy.serial, buf[i]);
	vm->legacy.serial.rx_bytes += len;
	serial_update_irq(vm);
	pthread_mutex_unlock(&vm->legacy.lock);
}

/* ---- i8042 ---- */
static void kbc_out(struct i8042 *k, uint8_t v)
{
	if (k->out_len < sizeof k->out)
		k->out[k->out_len++] = v;
}

static void i8042_io(struct vm *vm, uint16_t port, bool write, uint8_t *d)
{
	struct i8042 *k = &vm->legacy.i8042;
	if (!write) {
		if (port == 0x64) {
			/* OBF when a byte waits; bit 2 "system flag" is set after self-test. */
			*d = (uint8_t)((k->out_len ? 0x01 : 0) | 0x04 | 0x10); /* 0x10: keyboard not locked */
		} else {
			*d = k->out_len ? k->out[0] : 0;
			if (k->out_len)
				memmove(k->out, k->out + 1, --k->out_len);
		}
		return;
	}
	if (port == 0x60) {
		uint8_t cmd = k->pending;
		k->pending = 0;
		if (cmd == 0x60) {
			k->ctr = *d;
		} else if (cmd == 0xd1 && !(*d & 1)) {
			vm_request_exit(vm, VM_EXIT_REBOOT); /* output port bit 0 = CPU reset line */
		} else if (cmd == 0xd3) {
			kbc_out(k, *d); /* AUX loopback */
		}
		/* Bytes for the keyboard itself (0xd2/0xd4 or no command) get no answer: there is no keyboard,
		 * so atkbd's probe times out in its own thread without delaying boot. */
		return;
	}
	switch (*d) {
	case 0x20: kbc_out(k, k->ctr); break;
	case 0x60:
	case 0xd1:
	case 0xd2:
	case 0xd3:
	case 0xd4: k->pending = *d; break;
	case 0xa7: k->ctr |= 0x20; break;
	case 0xa8: k->ctr &= (uint8_t)~0x20; break;
	case 0xa9: kbc_out(k, 0x00); break; /* AUX interface test passed */
	case 0xaa: kbc_out(k, 0x55); break; /* controller self-test passed */
	case 0xab: kbc_out(k, 0x00); break; /* keyboard interface test passed */
	case 0xad: k->ctr |= 0x10; break;
	case 0xae: k->ctr &= (uint8_t)~0x10; break;
	case 0xfe: vm_request_exit(vm, VM_EXIT_REBOOT); break; /* pulse the reset line: Linux reboot=k */
	default: break;
	}
}

/* ---- CMOS RTC (MC146818), time in BCD, 24-hour mode ---- */
static uint8_t bcd(int v)
{
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static uint8_t rtc_read(struct rtc *r)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	switch (r->index) {
	case 0x00: return bcd(tm.tm_sec);
	case 0x02: return bcd(tm.tm_min);
	case 0x04: return bcd(tm.tm_hour);
	case 0x06: return bcd(tm.tm_wday + 1);
	case 0x07: return bcd(tm.tm_mday);
	case 0x08: return bcd(tm.tm_mon + 1);
	case 0x09: return bcd(tm.tm_year % 100);
	case 0x32: return bcd((1900 + tm.tm_year) / 100);
	case 0x0a: return 0x26; /* 32.768 kHz base, 1024 Hz rate, no update in progress */
	case 0x0b: return 0x02; /* 24-hour, BCD, no interrupts */
	case 0x0c: return 0x00;
	case 0x0d: return 0x80; /* valid RAM and time */
	default: return r->ram[r->index & 0x7f];
	}
}

/* ---- ACPI PM1 ---- */
static void pm_update_sci(struct vm *vm)
{
	struct acpi_pm *pm = &vm->legacy.pm;
	bool level = (pm->sts & pm->en) != 0;
	if (level != pm->sci_level) {
		pm->sci_level = level;
		vm_irq_line(vm, ACPI_SCI_IRQ, level);
	}
}

static void pm_io(struct vm *vm, uint16_t port, bool write, uint8_t *d, unsigned size)
{
	struct acpi_pm *pm = &vm->legacy.pm;
	uint32_t v = 0;
	if (write)
		memcpy(&v, d, size);
	for (unsigned i = 0; i < size; i++) {
		unsigned p = port + i - ACPI_PM1A_EVT_PORT;
		uint8_t b = (uint8_t)(v >> (8 * i));
		uint16_t *reg = p < 2 ? &pm->sts : p < 4 ? &pm->en : &pm->cnt;
		unsigned shift = 8 * (p & 1);
		if (p >= 6)
			continue;
		if (!write) {
			d[i] = (uint8_t)(*reg >> shift);
		} else if (p < 2) {
			pm->sts &= (uint16_t) ~((uint16_t)b << shift); /* write 1 to clear */
		} else if (p < 4) {
			pm->en = (uint16_t)((pm->en & ~(0xff << shift)) | (b << shift));
		} else {
			pm->cnt = (uint16_t)((pm->cnt & ~(0xff << shift)) | (b << shift)) | ACPI_PM1_CNT_SCI_EN;
		}
	}
	if (write && (pm->cnt & ACPI_PM1_CNT_SLP_EN)) {
		pm->cnt &= (uint16_t)~ACPI_PM1_CNT_SLP_EN;
		if (ACPI_PM1_CNT_SLP_TYP(pm->cnt) == ACPI_S5_SLP_TYP)
			vm_request_exit(vm, VM_EXIT_POWEROFF);
	}
	pm_update_sci(vm);
}

void acpi_power_button(struct vm *vm)
{
	pthread_mutex_lock(&vm->legacy.lock);
	vm->legacy.pm.sts |= ACPI_PM1_PWRBTN;
	pm_update_sci(vm);
	pthread_mutex_unlock(&vm->legacy.lock);
}

void legacy_init(struct legacy_devices *l, int serial_out_fd)
{
	memset(l, 0, sizeof *l);
	pthread_mutex_init(&l->lock, NULL);
	l->serial.out_fd = serial_out_fd;
	l->serial.log_fd = -1;
	l->i8042.ctr = 0x45; /* translate, system flag, keyboard interrupt enabled */
	l->pm.cnt = ACPI_PM1_CNT_SCI_EN;
}

bool legacy_pio(struct vm *vm, uint16_t port, bool write, uint8_t *d, unsigned size)
{
	struct legacy_devices *l = &vm->legacy;
	if (port >= SERIAL_PORT && port < SERIAL_PORT + 8) {
		pthread_mutex_lock(&l->lock);
		if (write)
			serial_write(&l->serial, port - SERIAL_PORT, d[0]);
		else
			d[0] = serial_read(&l->serial, port - SERIAL_PORT);
		serial_update_irq(vm);
		pthread_mutex_unlock(&l->lock);
		return true;
	}
	if (port >= ACPI_PM1A_EVT_PORT && port < ACPI_PM1A_CNT_PORT + 2) {
		if (port + size > ACPI_PM1A_CNT_PORT + 2)
			size = ACPI_PM1A_CNT_PORT + 2 - port;
		pthread_mutex_lock(&l->lock);
		pm_io(vm, port, write, d, size);
		pthread_mutex_unlock(&l->lock);
		return true;
	}
	switch (port) {
	case 0x60:
	case 0x64:
		pthread_mutex_lock(&l->lock);
		i8042_io(vm, port, write, d);
		pthread_mutex_unlock(&l->lock);
		return true;
	case 0x70:
	case 0x71:
		pthread_mutex_lock(&l->lock);
		if (port == 0x70 && write)
			l->rtc.index = d[0] & 0x7f; /* bit 7 is the NMI mask */
		else if (port == 0x71 && write)
			l->rtc.ram[l->rtc.index] = d[0];
		else if (port == 0x71)
			d[0] = rtc_read(&l->rtc);
		else
			d[0] = l->rtc.index;
		pthread_mutex_unlock(&l->lock);
		return true;
	case BOOT_TIMER_PORT:
		if (write && d[0] == BOOT_TIMER_MAGIC) {
			uint64_t zero = 0, t = now_ns();
			if (atomic_compare_exchange_strong(&vm->boot_timer_ns, &zero, t))
				log_info("guest boot time: %llu us (first vCPU entry to init's boot-timer write)",
				         (unsigned long long)((t - vm->boot_ns) / 1000));
		}
		if (!write)
			memset(d, 0xff, size);
		return true;
	case 0x80: /* POST code / io delay */
		if (!write)
			d[0] = 0xff;
		return true;
	}
	return false;
}
