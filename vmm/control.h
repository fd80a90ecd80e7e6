/* The VMM control socket (lib/ipc.h: JSON over SOCK_SEQPACKET, peer checked with SO_PEERCRED).
 *
 *   {"op":"status"}    -> {"ok":true,"state":"running"|"paused","cpus":N,"memory_mib":M,"uptime_ms":T,
 *                          "boot_time_us":B|null}
 *   {"op":"pause"} / {"op":"resume"}
 *   {"op":"shutdown"}  -> presses the ACPI power button (the guest decides; systemd powers off)
 *   {"op":"stop"}      -> ends the VM now (exit status 4)
 *   {"op":"counters"}  -> exits by reason, per-device notifications/interrupts and I/O */
#pragma once
#include "error.h"

struct vm;
struct devices;
struct control;

int control_open(struct control **out, const char *path, struct vm *vm, struct devices *devs, isola_error *err);
/* Start the control thread (ctl may be NULL: no socket). */
int control_start(struct control *ctl, isola_error *err);
void control_stop(struct control *ctl);
void control_free(struct control *ctl);
static inline void control_freep(struct control **c)
{
	if (*c)
		control_free(*c);
}
