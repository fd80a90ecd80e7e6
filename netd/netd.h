/* The daemon's shared state between main.c (event loop), ops.c (request handlers), network.c (bringing a
 * network up and down) and reconcile.c (start-up adoption).
 *
 * The source of truth is the JSON state (state.json under the state dir), written atomically before and
 * after every mutating step, each object carrying a "phase" ("creating"/"attaching" while half-made,
 * "ready" when done) so a restart after SIGKILL knows what to finish and what to undo:
 *
 *   {"version": 1, "networks": {"<name>": {"name", "ipv4", "ipv6", "mtu", "ipv4_nat", "ipv6_nat",
 *     "dns_domain", "dhcp", "upstream_dns", "phase", "attachments": {"<instance>": {"kind", "ifname",
 *     "host_ifname", "mac", "ipv4", "ipv6", "static", "mtu", "phase"}}, "forwards": [{"listen", "proto",
 *     "target"}]}}} */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include "addr.h"
#include "dnsmasq.h"
#include "error.h"

struct nl_sock;

struct netd_net_rt {
	char name[16];
	struct dnsmasq dns;
};

struct netd {
	char state_dir[2048];
	char state_path[2100];
	json_t *state;
	struct nl_sock *sk;
	struct netd_net_rt *rt;
	size_t nrt;
	const char *fault; /* --fault-point NAME (tests only): stop dead there, see fault_point() */
};

/* Parsed view of one network's JSON (pointers into the JSON; valid while it is unchanged). */
struct net_cfg {
	const char *name, *domain, *upstream;
	bool has4, has6, nat4, nat6, dhcp;
	struct cidr4 v4;
	struct cidr6 v6;
	unsigned mtu;
};

json_t *netd_networks(struct netd *d);
int netd_save(struct netd *d, isola_error *err);
/* Attachments only: no fsync (a veth does not outlive a reboot either; see json_store_path_ex). */
int netd_save_volatile(struct netd *d, isola_error *err);
struct netd_net_rt *netd_rt(struct netd *d, const char *name);
void netd_rt_drop(struct netd *d, const char *name);
const char *netd_net_dir(struct netd *d, const char *name, char *buf, size_t len);
/* Tests only: with --fault-point NAME, reaching NAME writes <state>/fault-NAME and blocks forever, so a
 * test can SIGKILL netd at exactly that step and prove the restart cleans up. */
void fault_point(struct netd *d, const char *name);

int net_cfg_parse(json_t *n, struct net_cfg *c, isola_error *err);
/* Make the network's kernel objects match its JSON: bridge (created if missing, never recreated),
 * addresses, nft table, host files, dnsmasq (adopted or started). Idempotent. */
int net_bring_up(struct netd *d, json_t *n, isola_error *err);
/* Remove everything the network owns (best effort, logged): dnsmasq, nft table, bridge, its directory. */
void net_tear_down(struct netd *d, const char *name);
int net_firewall_apply(struct netd *d, json_t *n, isola_error *err);
/* Rewrite the host files from the attachments and SIGHUP dnsmasq. */
int net_dns_reload(struct netd *d, json_t *n, isola_error *err);
/* Stop and start dnsmasq (after a config change). */
int net_dns_restart(struct netd *d, json_t *n, isola_error *err);
/* Remove one attachment's kernel objects (host link; the peer goes with it). */
int net_attachment_remove(struct netd *d, json_t *att, isola_error *err);

/* Dispatch one request; reply is filled (new ref) or err set; *out_fd an fd to send back (or -1). */
int netd_dispatch(struct netd *d, json_t *req, int *fds, size_t nfds, json_t **reply, int *out_fd, isola_error *err);
/* Start-up: adopt what matches the state, finish or undo half-made steps. */
int netd_reconcile(struct netd *d, isola_error *err);
/* Supervision tick: restart any dnsmasq that died. */
void netd_supervise(struct netd *d);
