/* isola-agent internals: one handler per request kind. Each runs in a process of its own (forked per
 * connection by main.c), owns the connection for the request's whole life, and returns < 0 with *err set
 * when the request fails; main.c then sends the {"ok": false} reply. */
#pragma once
#include <jansson.h>
#include "agent_proto.h"
#include "error.h"

/* buf: AGENT_MSG_MAX + 1 bytes of receive buffer, shared by the handlers. */
int agent_ping(int conn, json_t *req, isola_error *err);
int agent_exec(int conn, json_t *req, char *buf, isola_error *err);
int agent_file_push(int conn, json_t *req, char *buf, isola_error *err);
int agent_file_pull(int conn, json_t *req, char *buf, isola_error *err);

/* {"ok": true} merged with extra (may be NULL, not consumed). */
int agent_reply_ok(int conn, json_t *extra, isola_error *err);
