/* NOTIFY_SOCKET proxy (sd_notify(3)): a container's init that speaks sd_notify gets
 * NOTIFY_SOCKET=/run/isola-notify/notify.sock, a datagram socket in the state directory bound into the
 * container. `start` (or `run`) listens on it and forwards the message that carries READY=1 to the
 * caller's own NOTIFY_SOCKET with MAINPID set to init's host pid, so systemd's Type=notify units work
 * around `isola-runtime run` the way they do around runc and crun. */
#pragma once
#include <sys/types.h>
#include "error.h"

struct notify_proxy {
	int fd;
	char host[108];
};
#define NOTIFY_PROXY_INIT                                                                                              \
	{                                                                                                              \
		.fd = -1                                                                                               \
	}

/* Bind <state_dir>/notify/notify.sock. host_socket: the caller's NOTIFY_SOCKET ("@abstract" allowed). */
int notify_proxy_open(struct notify_proxy *np, const char *state_dir, const char *host_socket, isola_error *err);
/* Wait for READY=1 from inside, forward it with MAINPID=pid. Fails (ECHILD) if pid exits first. Like runc,
 * start and run block here until the container is ready: under systemd Type=notify the runtime is the
 * unit's main process, the only one allowed to notify by default (NotifyAccess=main). */
int notify_proxy_forward(struct notify_proxy *np, pid_t pid, isola_error *err);
void notify_proxy_close(struct notify_proxy *np);
