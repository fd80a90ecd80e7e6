/* One supervised dnsmasq per network: DHCPv4, router advertisements and DNS on the bridge (dnsmasq(8)).
 *
 * Files in the network's state dir (0755/0644: dnsmasq drops to nobody and re-reads the host files on
 * SIGHUP): dnsmasq.pid, dnsmasq.leases, dhcp-hosts (one reservation "mac,ip,name" per attachment) and hosts
 * (one "ip name.domain name" per attachment, so a name resolves before its first lease, and static
 * instances that never speak DHCP resolve too).
 *
 * Supervision: every dnsmasq is watched through a pidfd (pidfd_open(2)), whether netd started it (a child,
 * reaped with waitpid) or adopted it after a restart (found by its pid file and command line). */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "addr.h"
#include "error.h"

#define DNSMASQ_PATH "/usr/sbin/dnsmasq"

struct dnsmasq_cfg {
	const char *bridge;
	const char *domain;
	const char *upstream; /* "" none (--no-resolv), "host" (/etc/resolv.conf), or "ip[,ip…]" */
	bool dhcp;
	bool has4, has6;
	struct cidr4 v4;
	struct cidr6 v6;
};

struct dnsmasq {
	pid_t pid; /* 0: not running */
	int pidfd; /* -1 when not running */
	bool child;
	uint64_t started_ns;
	int quick_exits; /* consecutive deaths within 2 s of start: restart gives up after 5 */
};

/* The argv for dnsmasq (NULL-terminated, malloc'd; free with strv_freep). Pure: unit-tested. */
char **dnsmasq_argv(const struct dnsmasq_cfg *c, const char *dir);
/* (Re)write dhcp-hosts and hosts from the attachments object {instance: {mac, ipv4, ipv6?}} atomically. */
int dnsmasq_write_hosts(const char *dir, const char *domain, json_t *attachments, isola_error *err);
/* Start it (fork + exec, close_range(2) first). */
int dnsmasq_start(struct dnsmasq *d, const struct dnsmasq_cfg *c, const char *dir, isola_error *err);
/* Adopt the dnsmasq named by dir/dnsmasq.pid if it is alive and really ours (its command line names our
 * pid file). Returns 1 adopted, 0 nothing to adopt. */
int dnsmasq_adopt(struct dnsmasq *d, const char *dir);
/* SIGHUP: re-read the host files. */
int dnsmasq_reload(struct dnsmasq *d, isola_error *err);
/* SIGTERM, wait ≤ 2 s, then SIGKILL; reap when ours. */
void dnsmasq_stop(struct dnsmasq *d);
/* Call when d->pidfd is readable: reaps, clears pid/pidfd. Returns true if it had died. */
bool dnsmasq_check_exit(struct dnsmasq *d);
/* Leases from dir/dnsmasq.leases: [{mac, ipv4|ipv6, hostname, expires}]. New reference. */
json_t *dnsmasq_leases(const char *dir);
