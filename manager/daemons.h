/* Clients of the daemons isola drives: isola-imaged (images, read-only rootfs layers) and isola-netd
 * (bridges, veths, taps). Both speak lib/ipc.h; their protocols are imaged's docs/imaged.md and
 * netd/protocol.h. There is no central daemon: when a socket is absent (or refuses), the daemon is
 * started on demand from the same directory as the running binary (fork/exec, own session, stderr to
 * $ISOLA_DIR/logs/<daemon>.log) and we wait for its socket.
 *
 * Locations (tests point them at temp dirs):
 *   socket   $ISOLA_IMAGED_SOCKET / $ISOLA_NETD_SOCKET, else $ISOLA_RUN_DIR/{imaged,netd}.sock
 *   state    imaged --store $ISOLA_DIR/images, netd --state-dir $ISOLA_DIR/netd
 *   binary   $ISOLA_BIN_DIR, else the directory of /proc/self/exe */
#pragma once
#include <stddef.h>
#include <jansson.h>
#include "error.h"
#include "ipc.h"

enum isola_daemon { DAEMON_IMAGED, DAEMON_NETD };

const char *daemon_name(enum isola_daemon d); /* "isola-imaged" */
void daemon_socket(enum isola_daemon d, char *out, size_t len);
/* Make sure the daemon answers; start it if its socket is absent or refuses. */
int daemon_ensure(enum isola_daemon d, isola_error *err);
/* One request (ensuring the daemon first). Same ownership rules as ipc_call. */
int daemon_call(enum isola_daemon d, json_t *req, const int *fds, size_t nfds, json_t **reply, int *rfds, size_t *nrfds,
                ipc_progress_fn on_progress, void *ud, isola_error *err);
/* Shorthand for a request with no fds: {"op": op, ...fields} (fields consumed; may be NULL). */
int daemon_op(enum isola_daemon d, const char *op, json_t *fields, json_t **reply, ipc_progress_fn on_progress,
              void *ud, isola_error *err);
