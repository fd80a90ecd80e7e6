/* The one local IPC layer between isola/manager and the daemons (isola-netd, isola-imaged, the VMM
 * control socket). JSON messages over a SOCK_SEQPACKET unix socket under /run/isola/ — one message per
 * packet, so no framing — with fds passed as SCM_RIGHTS.
 *
 *   request   {"op": "attach", ...}                       (+ fds)
 *   progress  {"progress": {...}}                         zero or more, for long work
 *   reply     {"ok": true, ...}  or  {"ok": false, "error": "...", "errno": N}   (+ fds)
 *
 * The server checks the peer with SO_PEERCRED (ipc_peer_allowed). Sockets are 0600 root, or 0660 with a
 * group given at start. A message is at most IPC_MAX_MSG bytes and carries at most IPC_MAX_FDS fds. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <jansson.h>
#include "error.h"

#define IPC_MAX_MSG (192 * 1024)
#define IPC_MAX_FDS 16

/* Listen on path (stale socket replaced; parent dir created 0755). gid == (gid_t)-1: mode 0600 root. */
int ipc_listen(const char *path, gid_t gid, isola_error *err);
/* Accept one connection (O_CLOEXEC) and return it only if the peer is allowed: root, our own uid, or a
 * member of the socket's group (by primary gid). Rejected peers are closed and -1/EACCES returned. */
int ipc_accept(int lfd, gid_t gid, struct ucred *peer, isola_error *err);
int ipc_connect(const char *path, isola_error *err);

/* Send one message (not consumed) with optional fds. */
int ipc_send(int fd, json_t *msg, const int *fds, size_t nfds, isola_error *err);
/* Receive one message. *msg is new (caller decrefs). fds: array of IPC_MAX_FDS, *nfds set (0 if none);
 * pass fds == NULL to refuse fds (any received are closed). Returns 0, or -1 (errnum ECONNRESET on EOF). */
int ipc_recv(int fd, json_t **msg, int *fds, size_t *nfds, isola_error *err);

/* Server side: the final reply. extra's members (may be NULL; not consumed) are merged in. */
int ipc_reply_ok(int fd, json_t *extra, const int *fds, size_t nfds);
int ipc_reply_err(int fd, const isola_error *e);
/* A progress message: {"progress": p}. p is not consumed. */
int ipc_progress(int fd, json_t *p);

/* Client side, one round trip: connect (or use conn >= 0), send req (+fds), pass each progress message
 * to on_progress (may be NULL), return the final reply in *reply (caller decrefs; NULL allowed) and its
 * fds in rfds/nrfds (may be NULL). An {"ok": false} reply becomes an error carrying the daemon's message
 * and errno. */
typedef void (*ipc_progress_fn)(json_t *progress, void *ud);
int ipc_call(const char *path, json_t *req, const int *fds, size_t nfds, json_t **reply, int *rfds, size_t *nrfds,
             ipc_progress_fn on_progress, void *ud, isola_error *err);
