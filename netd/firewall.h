/* nftables for one network: one `inet isola-<network>` table holding its NAT, port forwards and isolation,
 * always replaced whole in ONE libnftables transaction (a batch is atomic: nft(8) "the whole ruleset is
 * applied or none of it"), so no packet ever sees half a ruleset and a crash never leaves half a table. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "addr.h"
#include "error.h"

struct fw_forward {
	const char *proto;    /* "tcp" | "udp" */
	uint32_t listen_addr; /* 0 = any local address of the host */
	uint16_t listen_port;
	uint32_t target_addr;
	uint16_t target_port;
};

struct fw_network {
	const char *name;   /* table isola-<name> */
	const char *bridge; /* interface name of the bridge */
	bool has4, nat4, has6, nat6;
	struct cidr4 v4;
	struct cidr6 v6;
	const struct fw_forward *forwards;
	size_t nforwards;
};

/* The batch text that atomically (re)creates the table: "table …; delete table …; table … { … }".
 * Pure: unit-tested. Returns a malloc'd string. */
char *fw_ruleset_text(const struct fw_network *n);
/* The batch that removes the table if present (idempotent). malloc'd. */
char *fw_delete_text(const char *name);
/* Run one batch through libnftables (traced with --explain). Errors carry nft's own message. */
int fw_apply(const char *batch, isola_error *err);
/* Whether table inet isola-<name> exists. */
bool fw_table_exists(const char *name);
