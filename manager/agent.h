/* The host side of the isola-agent protocol (lib/agent_proto.h, docs/agent.md): exec, file push/pull and
 * ping against the agent inside a VM (vsock:CID:PORT) or at any address (unix:PATH, for tests and
 * `isola agent`).
 *
 * Everything the agent sends is hostile (a compromised guest): every packet is bounded by the receive
 * buffer, frames of the wrong kind end the call with a protocol error, an exit status outside 0–255 or a
 * signal outside 1–64 is refused, pulled data beyond the size the agent announced is refused (and never
 * written), text from the agent is stripped of control characters before it reaches an error message,
 * and the ping reply is rebuilt from validated fields only. Data is only ever written to the fd the
 * caller passed: no agent-supplied name is used as a host path. */
#pragma once
#include <jansson.h>
#include "error.h"
#include "manager.h"

/* How long exec/file wait for the agent to answer a connect (the VM may still be booting): the
 * ISOLA_AGENT_TIMEOUT environment variable (seconds), else 60 s. */
int agent_wait_ms(void);

/* *status: the command's exit code, or 128 + signal. Relays fds 0/1/2 (a pty in raw mode when o->tty). */
int agent_client_exec(const char *addr, int wait_ms, const struct exec_opts *o, int *status, isola_error *err);
int agent_client_push(const char *addr, int wait_ms, int src_fd, const char *path, int uid, int gid, int mode,
                      isola_error *err);
int agent_client_pull(const char *addr, int wait_ms, const char *path, int dst_fd, isola_error *err);
/* *info (new): {"version","hostname","network","processes"}, validated. */
int agent_client_ping(const char *addr, int wait_ms, json_t **info, isola_error *err);
