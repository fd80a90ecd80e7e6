/* The isola-agent protocol (docs/agent.md), shared by the guest agent (agent/) and its host client
 * (manager/agent.c). One connection per request, SOCK_SEQPACKET (AF_VSOCK in a VM, AF_UNIX in tests), so
 * every packet is one message and needs no framing of its own:
 *
 *   a packet whose first byte is '{'  — a JSON object (the lib/ipc.h request/reply shapes)
 *   any other packet                  — a data frame: one tag byte + up to AGENT_DATA_MAX bytes
 *
 * Tags: 'i' stdin (client → agent; empty = EOF), 'o' stdout and 'e' stderr (agent → client), 'd' file
 * contents (either way). A stream of data frames always ends with a JSON message. Everything a peer sends
 * is bounded by the receive buffer (AGENT_MSG_MAX): a longer packet is an error, never a bigger buffer. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "error.h"

#define AGENT_VERSION  "1"
#define AGENT_PORT     8443u
#define AGENT_DATA_MAX (64 * 1024)
#define AGENT_MSG_MAX  (AGENT_DATA_MAX + 1) /* a JSON message is at most this long, too */

enum agent_tag { AGENT_STDIN = 'i', AGENT_STDOUT = 'o', AGENT_STDERR = 'e', AGENT_FILE = 'd' };

/* "unix:PATH", "vsock:PORT" (listen: any CID) or "vsock:CID:PORT" (connect). */
struct agent_addr {
	bool vsock;
	uint32_t cid, port;
	char path[108];
};
int agent_addr_parse(const char *s, bool for_listen, struct agent_addr *a, isola_error *err);

/* Listening socket (SOCK_SEQPACKET, CLOEXEC). unix: mode 0600 (ipc_listen). */
int agent_listen(const struct agent_addr *a, isola_error *err);
/* Connect. vsock: from a reserved source port (< 1024, which needs CAP_NET_BIND_SERVICE on the host —
 * the agent's proof that the caller is the host's root, vsock(7)). timeout_ms bounds the connect. */
int agent_connect(const struct agent_addr *a, int timeout_ms, isola_error *err);

/* One packet: a JSON message (msg set, *tag = '{') or a data frame (data/len point into buf).
 * buf must hold AGENT_MSG_MAX + 1 bytes. timeout_ms < 0: wait forever. EOF → ECONNRESET. */
struct agent_packet {
	char tag;
	json_t *msg; /* owned by the caller when set */
	const char *data;
	size_t len;
};
int agent_recv(int fd, char *buf, int timeout_ms, struct agent_packet *p, isola_error *err);
/* Send a data frame (len ≤ AGENT_DATA_MAX) or a JSON message. Blocking (EAGAIN → EAGAIN returned so a
 * non-blocking caller can retry). */
int agent_send_data(int fd, char tag, const void *data, size_t len, isola_error *err);
int agent_send_json(int fd, json_t *msg, isola_error *err);
/* Build a frame into out (AGENT_MSG_MAX bytes) and return its length: for callers that queue. */
size_t agent_frame(char *out, char tag, const void *data, size_t len);
