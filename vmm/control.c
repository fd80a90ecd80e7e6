#include "vmm/control.h"
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "cleanup.h"
#include "ipc.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "vmm/devices.h"
#include "vmm/sandbox.h"
#include "vmm/virtio/vsock.h"
#include "vmm/vm.h"

struct control {
	int lfd, stop_efd;
	char *path;
	struct vm *vm;
	struct devices *devs;
	pthread_t thread;
	bool started;
	uint64_t started_ns;
};

static json_t *counters_json(struct control *c)
{
	struct vm_counters *k = &c->vm->counters;
	json_t *devs = json_array();
	for (unsigned i = 0; i < c->devs->n; i++) {
		struct virtio_dev *d = c->devs->all[i];
		pthread_mutex_lock(&d->lock);
		uint64_t popped = 0;
		for (unsigned q = 0; q < d->nqueues; q++)
			popped += d->vq[q].popped;
		json_array_append_new(devs, json_pack("{s:s,s:I,s:I,s:I}", "name", d->name, "notifies",
		                                      (json_int_t)d->notifies, "interrupts", (json_int_t)d->interrupts,
		                                      "requests", (json_int_t)popped));
		pthread_mutex_unlock(&d->lock);
	}
	json_t *vsock = json_null();
	for (unsigned i = 0; i < c->devs->n; i++)
		if (virtio_is_vsock(c->devs->all[i])) {
			struct vsock_stats v;
			virtio_vsock_stats(c->devs->all[i], &v);
			json_decref(vsock);
			vsock =
			    json_pack("{s:I,s:b,s:I,s:I,s:I,s:I,s:I}", "cid", (json_int_t)v.cid, "running", v.running,
			              "activations", (json_int_t)v.activations, "stops", (json_int_t)v.stops,
			              "kick_fallbacks", (json_int_t)v.kick_fallbacks, "masked_interrupts",
			              (json_int_t)v.masked_interrupts, "event_buffers", (json_int_t)v.event_buffers);
		}
	pthread_mutex_lock(&c->vm->legacy.lock);
	uint64_t stx = c->vm->legacy.serial.tx_bytes, srx = c->vm->legacy.serial.rx_bytes;
	pthread_mutex_unlock(&c->vm->legacy.lock);
	return json_pack("{s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I},s:o,s:{s:I,s:I},s:o}", "exits", "io",
	                 (json_int_t)k->exits_io, "mmio", (json_int_t)k->exits_mmio, "pci_config",
	                 (json_int_t)k->exits_pci_conf, "interrupted", (json_int_t)k->exits_intr, "other",
	                 (json_int_t)k->exits_other, "unclaimed_io", (json_int_t)k->unknown_io, "unclaimed_mmio",
	                 (json_int_t)k->unknown_mmio, "devices", devs, "serial", "tx_bytes", (json_int_t)stx,
	                 "rx_bytes", (json_int_t)srx, "vsock", vsock);
}

static void handle(struct control *c, int fd, json_t *req)
{
	isola_error err;
	isola_err_clear(&err);
	const char *op = json_string_value(json_object_get(req, "op"));
	if (!op) {
		isola_err(&err, EINVAL, "request has no \"op\" string");
		ipc_reply_err(fd, &err);
		return;
	}
	if (!strcmp(op, "status")) {
		pthread_mutex_lock(&c->vm->pause_lock);
		bool paused = c->vm->paused;
		pthread_mutex_unlock(&c->vm->pause_lock);
		uint64_t bt = atomic_load(&c->vm->boot_timer_ns);
		_cleanup_(json_decrefp) json_t *r =
		    json_pack("{s:s,s:i,s:I,s:I,s:o}", "state", paused ? "paused" : "running", "cpus",
		              (int)c->vm->ncpus, "memory_mib", (json_int_t)(c->vm->mem.size >> 20), "uptime_ms",
		              (json_int_t)((now_ns() - c->started_ns) / 1000000), "boot_time_us",
		              bt ? json_integer((json_int_t)((bt - c->vm->boot_ns) / 1000)) : json_null());
		ipc_reply_ok(fd, r, NULL, 0);
	} else if (!strcmp(op, "pause") || !strcmp(op, "resume")) {
		if (vm_pause(c->vm, op[0] == 'p', &err) < 0)
			ipc_reply_err(fd, &err);
		else
			ipc_reply_ok(fd, NULL, NULL, 0);
	} else if (!strcmp(op, "shutdown")) {
		acpi_power_button(c->vm);
		ipc_reply_ok(fd, NULL, NULL, 0);
	} else if (!strcmp(op, "stop")) {
		ipc_reply_ok(fd, NULL, NULL, 0);
		vm_request_exit(c->vm, VM_EXIT_STOPPED);
	} else if (!strcmp(op, "counters")) {
		_cleanup_(json_decrefp) json_t *r = counters_json(c);
		ipc_reply_ok(fd, r, NULL, 0);
	} else {
		isola_err(&err, EINVAL, "unknown op \"%s\" (status, pause, resume, shutdown, stop, counters)", op);
		ipc_reply_err(fd, &err);
	}
}

static void *control_thread(void *arg)
{
	struct control *c = arg;
	pthread_setname_np(pthread_self(), "control");
	isola_error err;
	if (sandbox_thread(SANDBOX_CONTROL, &err) < 0) {
		log_error("control thread sandbox: %s", err.msg);
		vm_request_exit(c->vm, VM_EXIT_ERROR);
		return NULL;
	}
	for (;;) {
		struct pollfd p[2] = {{.fd = c->lfd, .events = POLLIN}, {.fd = c->stop_efd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0)
			continue;
		if (p[1].revents)
			return NULL;
		_cleanup_close_ int fd = ipc_accept(c->lfd, (gid_t)-1, NULL, &err);
		if (fd < 0) {
			log_warn("control: %s", err.msg);
			continue;
		}
		/* One client at a time, request after request, until it hangs up. Short-lived by design. */
		for (;;) {
			struct pollfd q[2] = {{.fd = fd, .events = POLLIN}, {.fd = c->stop_efd, .events = POLLIN}};
			if (poll(q, 2, -1) < 0 || q[1].revents)
				break;
			_cleanup_(json_decrefp) json_t *req = NULL;
			if (ipc_recv(fd, &req, NULL, NULL, &err) < 0)
				break;
			handle(c, fd, req);
		}
	}
}

int control_open(struct control **out, const char *path, struct vm *vm, struct devices *devs, isola_error *err)
{
	_cleanup_free_ struct control *c = calloc(1, sizeof *c);
	if (!c)
		return isola_err(err, ENOMEM, "control");
	c->vm = vm;
	c->devs = devs;
	c->stop_efd = -1;
	c->started_ns = now_ns();
	c->lfd = ipc_listen(path, (gid_t)-1, err);
	if (c->lfd < 0)
		/* cppcheck-suppress memleak ; released by its _cleanup_ attribute */
		return isola_err_wrap(err, "control socket %s", path);
	c->path = strdup(path);
	c->stop_efd = eventfd(0, EFD_CLOEXEC);
	if (c->stop_efd < 0 || !c->path)
		/* cppcheck-suppress memleak ; released by its _cleanup_ attribute */
		return isola_err(err, errno, "control eventfd");
	/* cppcheck-suppress memleak ; released by its _cleanup_ attribute */
	*out = steal_ptr(&c);
	return 0;
}

int control_start(struct control *c, isola_error *err)
{
	if (!c)
		return 0;
	int r = pthread_create(&c->thread, NULL, control_thread, c);
	if (r)
		return isola_err(err, r, "start the control thread");
	c->started = true;
	return 0;
}

void control_stop(struct control *c)
{
	if (!c || !c->started)
		return;
	uint64_t one = 1;
	if (write(c->stop_efd, &one, sizeof one) < 0) {
		/* cannot fail for a fresh eventfd */
	}
	pthread_join(c->thread, NULL);
	c->started = false;
}

void control_free(struct control *c)
{
	control_stop(c);
	if (c->lfd >= 0)
		close(c->lfd);
	if (c->stop_efd >= 0)
		close(c->stop_efd);
	if (c->path)
		unlink(c->path);
	free(c->path);
	free(c);
}
