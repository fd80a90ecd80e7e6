/* Where ttyS0 goes: stdio (output to stdout, input from stdin), a pty (path logged), a unix socket
 * (one client at a time; output is dropped while none is connected), or none. */
#pragma once
#include "error.h"

struct vm;
struct evloop;

struct serial_port {
	int out_fd, in_fd, listen_fd;
	char path[108];
	struct vm *vm;
	struct evloop *ev;
	int in_slot;
};

int serial_port_open(const char *spec, struct serial_port *p, isola_error *err);
/* Watch its input on the device thread. */
int serial_port_attach(struct serial_port *p, struct vm *vm, struct evloop *ev, isola_error *err);
void serial_port_close(struct serial_port *p);
