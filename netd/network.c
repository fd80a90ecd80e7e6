/* Bringing one network up (or back, after a restart) and down. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"
#include "firewall.h"
#include "json.h"
#include "link.h"
#include "log.h"
#include "netd.h"
#include "util.h"

json_t *netd_networks(struct netd *d)
{
	json_t *n = json_object_get(d->state, "networks");
	if (!n) {
		n = json_object();
		json_object_set_new(d->state, "networks", n);
	}
	return n;
}

int netd_save(struct netd *d, isola_error *err)
{
	if (json_store_path(d->state_path, d->state, false, err) < 0)
		return isola_err_wrap(err, "save netd state");
	return 0;
}

int netd_save_volatile(struct netd *d, isola_error *err)
{
	if (json_store_path_ex(d->state_path, d->state, false, false, err) < 0)
		return isola_err_wrap(err, "save netd state");
	return 0;
}

struct netd_net_rt *netd_rt(struct netd *d, const char *name)
{
	for (size_t i = 0; i < d->nrt; i++)
		if (strcmp(d->rt[i].name, name) == 0)
			return &d->rt[i];
	struct netd_net_rt *nv = realloc(d->rt, (d->nrt + 1) * sizeof *nv);
	if (!nv)
		abort(); /* a few bytes per network; there is no sane way on without it */
	d->rt = nv;
	struct netd_net_rt *r = &d->rt[d->nrt++];
	memset(r, 0, sizeof *r);
	snprintf(r->name, sizeof r->name, "%s", name);
	r->dns.pidfd = -1;
	return r;
}

void netd_rt_drop(struct netd *d, const char *name)
{
	for (size_t i = 0; i < d->nrt; i++)
		if (strcmp(d->rt[i].name, name) == 0) {
			d->rt[i] = d->rt[--d->nrt];
			return;
		}
}

const char *netd_net_dir(struct netd *d, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/networks/%s", d->state_dir, name);
	return buf;
}

void fault_point(struct netd *d, const char *name)
{
	if (!d->fault || strcmp(d->fault, name) != 0)
		return;
	char p[2200];
	snprintf(p, sizeof p, "%s/fault-%s", d->state_dir, name);
	isola_error e;
	write_file_at(AT_FDCWD, p, "1", 1, false, &e);
	log_warn("fault point %s reached: blocking until killed", name);
	for (;;)
		pause();
}

int net_cfg_parse(json_t *n, struct net_cfg *c, isola_error *err)
{
	memset(c, 0, sizeof *c);
	const char *v4 = NULL, *v6 = NULL;
	int64_t mtu = 1500;
	c->domain = "isola";
	c->upstream = "";
	c->nat4 = true;
	c->dhcp = true;
	if (json_get_str(n, "network", "name", true, &c->name, err) < 0 ||
	    json_get_str(n, c->name, "ipv4", false, &v4, err) < 0 ||
	    json_get_str(n, c->name, "ipv6", false, &v6, err) < 0 ||
	    json_get_int(n, c->name, "mtu", false, &mtu, err) < 0 ||
	    json_get_bool(n, c->name, "ipv4_nat", false, &c->nat4, err) < 0 ||
	    json_get_bool(n, c->name, "ipv6_nat", false, &c->nat6, err) < 0 ||
	    json_get_bool(n, c->name, "dhcp", false, &c->dhcp, err) < 0 ||
	    json_get_str(n, c->name, "dns_domain", false, &c->domain, err) < 0 ||
	    json_get_str(n, c->name, "upstream_dns", false, &c->upstream, err) < 0)
		return -1;
	c->mtu = (unsigned)mtu;
	if (v4 && cidr4_parse_gateway(v4, &c->v4, err) < 0)
		return -1;
	c->has4 = v4 != NULL;
	if (v6 && cidr6_parse_gateway(v6, &c->v6, err) < 0)
		return -1;
	c->has6 = v6 != NULL;
	return 0;
}

static void dns_cfg(const struct net_cfg *c, struct dnsmasq_cfg *dc)
{
	*dc = (struct dnsmasq_cfg){.bridge = c->name,
	                           .domain = c->domain,
	                           .upstream = c->upstream,
	                           .dhcp = c->dhcp,
	                           .has4 = c->has4,
	                           .has6 = c->has6,
	                           .v4 = c->v4,
	                           .v6 = c->v6};
}

int net_firewall_apply(struct netd *d, json_t *n, isola_error *err)
{
	struct net_cfg c;
	if (net_cfg_parse(n, &c, err) < 0)
		return -1;
	json_t *fw = json_object_get(n, "forwards");
	size_t nf = json_array_size(fw);
	_cleanup_free_ struct fw_forward *f = calloc(nf ? nf : 1, sizeof *f);
	if (!f)
		return isola_err(err, ENOMEM, "forwards of %s", c.name);
	for (size_t i = 0; i < nf; i++) {
		json_t *x = json_array_get(fw, i);
		f[i].proto = json_string_value(json_object_get(x, "proto"));
		if (endpoint4_parse(json_string_value(json_object_get(x, "listen")), &f[i].listen_addr,
		                    &f[i].listen_port, err) < 0 ||
		    endpoint4_parse(json_string_value(json_object_get(x, "target")), &f[i].target_addr,
		                    &f[i].target_port, err) < 0)
			return isola_err_wrap(err, "network %s: forward %zu", c.name, i);
	}
	struct fw_network fn = {.name = c.name,
	                        .bridge = c.name,
	                        .has4 = c.has4,
	                        .nat4 = c.nat4,
	                        .has6 = c.has6,
	                        .nat6 = c.nat6,
	                        .v4 = c.v4,
	                        .v6 = c.v6,
	                        .forwards = f,
	                        .nforwards = nf};
	_cleanup_free_ char *text = fw_ruleset_text(&fn);
	if (!text)
		return isola_err(err, ENOMEM, "ruleset of %s", c.name);
	if (fw_apply(text, err) < 0)
		return isola_err_wrap(err, "firewall of network %s", c.name);
	return 0;
}

static int ensure_dir(const char *path, isola_error *err)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return isola_err(err, errno, "mkdir %s", path);
	return 0;
}

int net_dns_reload(struct netd *d, json_t *n, isola_error *err)
{
	struct net_cfg c;
	if (net_cfg_parse(n, &c, err) < 0)
		return -1;
	char dir[2200];
	netd_net_dir(d, c.name, dir, sizeof dir);
	if (dnsmasq_write_hosts(dir, c.domain, json_object_get(n, "attachments"), err) < 0)
		return -1;
	return dnsmasq_reload(&netd_rt(d, c.name)->dns, err);
}

int net_dns_restart(struct netd *d, json_t *n, isola_error *err)
{
	struct net_cfg c;
	if (net_cfg_parse(n, &c, err) < 0)
		return -1;
	char dir[2200];
	netd_net_dir(d, c.name, dir, sizeof dir);
	struct netd_net_rt *rt = netd_rt(d, c.name);
	dnsmasq_stop(&rt->dns);
	if (dnsmasq_write_hosts(dir, c.domain, json_object_get(n, "attachments"), err) < 0)
		return -1;
	struct dnsmasq_cfg dc;
	dns_cfg(&c, &dc);
	rt->dns.quick_exits = 0;
	return dnsmasq_start(&rt->dns, &dc, dir, err);
}

/* Routing between the bridge and the uplink needs forwarding on (as Incus sets it for managed bridges). */
static void enable_forwarding(const struct net_cfg *c)
{
	isola_error e;
	if (c->has4 && write_file_at(AT_FDCWD, "/proc/sys/net/ipv4/ip_forward", "1", 1, false, &e) < 0)
		log_warn("net.ipv4.ip_forward: %s", e.msg);
	if (c->has6 && write_file_at(AT_FDCWD, "/proc/sys/net/ipv6/conf/all/forwarding", "1", 1, false, &e) < 0)
		log_warn("net.ipv6.conf.all.forwarding: %s", e.msg);
}

int net_bring_up(struct netd *d, json_t *n, isola_error *err)
{
	struct net_cfg c;
	if (net_cfg_parse(n, &c, err) < 0)
		return -1;
	char kind[16] = "";
	int idx = netlink_link_get(d->sk, c.name, NULL, kind, sizeof kind, err);
	if (idx < 0)
		return -1;
	if (idx > 0 && strcmp(kind, "bridge") != 0)
		return isola_err(err, EEXIST, "interface %s exists and is not a bridge (%s)", c.name,
		                 kind[0] ? kind : "?");
	if (idx == 0) {
		uint8_t mac[6];
		netd_mac_derive(c.name, "", "bridge", mac);
		if (netlink_bridge_create(d->sk, c.name, mac, c.mtu, err) < 0)
			return -1;
		idx = netlink_link_get(d->sk, c.name, NULL, NULL, 0, err);
		if (idx <= 0)
			return idx < 0 ? -1 : isola_err(err, ENODEV, "bridge %s vanished after creation", c.name);
	} else if (netlink_link_set(d->sk, c.name, 0, 0, true, err) < 0) {
		return -1;
	}
	if (c.has4 && netlink_addr4_add(d->sk, idx, c.v4.addr, c.v4.prefix, err) < 0)
		return -1;
	if (c.has6 && netlink_addr6_add(d->sk, idx, c.v6.addr, c.v6.prefix, err) < 0)
		return -1;
	if (!d->no_sysctl)
		enable_forwarding(&c);
	if (net_firewall_apply(d, n, err) < 0)
		return -1;
	char dir[2200], nets[2100];
	snprintf(nets, sizeof nets, "%s/networks", d->state_dir);
	netd_net_dir(d, c.name, dir, sizeof dir);
	if (ensure_dir(nets, err) < 0 || ensure_dir(dir, err) < 0)
		return -1;
	if (dnsmasq_write_hosts(dir, c.domain, json_object_get(n, "attachments"), err) < 0)
		return -1;
	struct netd_net_rt *rt = netd_rt(d, c.name);
	if (rt->dns.pidfd >= 0)
		return dnsmasq_reload(&rt->dns, err);
	if (dnsmasq_adopt(&rt->dns, dir) == 1) {
		log_info("network %s: adopted running dnsmasq %d", c.name, rt->dns.pid);
		return dnsmasq_reload(&rt->dns, err);
	}
	struct dnsmasq_cfg dc;
	dns_cfg(&c, &dc);
	return dnsmasq_start(&rt->dns, &dc, dir, err);
}

static void kill_stray_dnsmasq(const char *dir)
{
	/* after a restart netd may not hold it yet: adopt just to stop it */
	struct dnsmasq tmp = {.pidfd = -1};
	if (dnsmasq_adopt(&tmp, dir) == 1)
		dnsmasq_stop(&tmp);
}

void net_tear_down(struct netd *d, const char *name)
{
	char dir[2200];
	netd_net_dir(d, name, dir, sizeof dir);
	struct netd_net_rt *rt = netd_rt(d, name);
	dnsmasq_stop(&rt->dns);
	kill_stray_dnsmasq(dir);
	netd_rt_drop(d, name);
	isola_error e;
	_cleanup_free_ char *del = fw_delete_text(name);
	if (del && fw_apply(del, &e) < 0)
		log_warn("network %s: %s", name, e.msg);
	char kind[16] = "";
	int idx = netlink_link_get(d->sk, name, NULL, kind, sizeof kind, &e);
	if (idx > 0 && strcmp(kind, "bridge") == 0 && netlink_link_delete(d->sk, name, true, &e) < 0)
		log_warn("network %s: %s", name, e.msg);
	static const char *files[] = {"dnsmasq.pid", "dnsmasq.leases",  "dhcp-hosts",
	                              "hosts",       ".dhcp-hosts.tmp", ".hosts.tmp"};
	char p[2400];
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		snprintf(p, sizeof p, "%s/%s", dir, files[i]);
		unlink(p);
	}
	if (rmdir(dir) < 0 && errno != ENOENT)
		log_warn("network %s: rmdir %s: %s", name, dir, strerror(errno));
}

int net_attachment_remove(struct netd *d, json_t *att, isola_error *err)
{
	const char *host = json_string_value(json_object_get(att, "host_ifname"));
	if (!host)
		return 0;
	return netlink_link_delete(d->sk, host, true, err);
}
