/* The request handlers: a fixed table of operations (the bubblewrap PRIV_SEP_OP shape), each validating
 * every field of its input before touching anything, and each mutating step bracketed by state writes
 * (see netd.h) so a crash at any point is either finished or undone by the next start. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cleanup.h"
#include "firewall.h"
#include "json.h"
#include "link.h"
#include "log.h"
#include "netd.h"
#include "protocol.h"

typedef int (*op_fn)(struct netd *d, json_t *req, int *fds, size_t nfds, json_t **reply, int *out_fd, isola_error *err);

/* Unknown keys are refused: a misspelt "ipv4_nat" must not silently become the default. */
static int check_keys(json_t *req, const char *op, const char *const *allowed, isola_error *err)
{
	const char *k;
	json_t *v;
	json_object_foreach(req, k, v)
	{
		if (strcmp(k, "op") == 0)
			continue;
		bool ok = false;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = strcmp(*a, k) == 0;
		if (!ok)
			return isola_err(err, EINVAL, "%s: unknown key \"%s\"", op, k);
	}
	return 0;
}

static int no_fds(size_t nfds, const char *op, isola_error *err)
{
	return nfds ? isola_err(err, EINVAL, "%s takes no file descriptors (%zu passed)", op, nfds) : 0;
}

static int get_name(json_t *req, const char *op, const char *key, const char **out, isola_error *err)
{
	if (json_get_str(req, op, key, true, out, err) < 0)
		return -1;
	if (!netd_ifname_valid(*out))
		return isola_err(err, EINVAL,
		                 "%s: %s \"%s\" is invalid (1-15 bytes, no '/', ':', whitespace or control "
		                 "characters)",
		                 op, key, *out);
	return 0;
}

static json_t *find_network(struct netd *d, const char *op, const char *name, isola_error *err)
{
	json_t *n = json_object_get(netd_networks(d), name);
	if (!n)
		isola_err(err, ENOENT, "%s: network \"%s\" does not exist", op, name);
	return n;
}

static bool dns_domain_valid(const char *s)
{
	size_t n = strlen(s), label = 0;
	if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!(isalnum((unsigned char)s[i]) || (s[i] == '-' && label > 0)) || ++label > 63)
			return false;
	}
	return true;
}

static int upstream_valid(const char *s, isola_error *err)
{
	if (!*s || strcmp(s, "host") == 0)
		return 0;
	_cleanup_free_ char *copy = strdup(s);
	if (!copy)
		return isola_err(err, ENOMEM, "upstream_dns");
	char *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		uint8_t b[16];
		if (inet_pton(AF_INET, t, b) != 1 && inet_pton(AF_INET6, t, b) != 1)
			return isola_err(err, EINVAL,
			                 "upstream_dns: \"%s\" is not an IP address (want \"\", \"host\" or "
			                 "\"ip[,ip…]\")",
			                 t);
	}
	return 0;
}

static int mtu_valid(int64_t mtu, isola_error *err)
{
	if (mtu < 1280 || mtu > 65535)
		return isola_err(err, EINVAL, "mtu %lld out of range (1280..65535)", (long long)mtu);
	return 0;
}

static json_t *leases_of(struct netd *d, json_t *n)
{
	char dir[2200];
	const char *name = json_string_value(json_object_get(n, "name"));
	netd_net_dir(d, name, dir, sizeof dir);
	json_t *dyn = dnsmasq_leases(dir);
	json_t *atts = json_object_get(n, "attachments");
	json_t *out = json_array();
	const char *inst;
	json_t *a;
	json_object_foreach(atts, inst, a)
	{
		bool st = json_is_true(json_object_get(a, "static"));
		json_t *l =
		    json_pack("{s:s,s:O,s:O,s:s,s:s}", "instance", inst, "mac", json_object_get(a, "mac"), "ipv4",
		              json_object_get(a, "ipv4"), "hostname", inst, "kind", st ? "static" : "reservation");
		if (json_object_get(a, "ipv6"))
			json_object_set(l, "ipv6", json_object_get(a, "ipv6"));
		json_array_append_new(out, l);
	}
	size_t i;
	json_t *l;
	json_array_foreach(dyn, i, l)
	{
		const char *mac = json_string_value(json_object_get(l, "mac"));
		json_object_foreach(atts, inst, a)
		{
			if (mac && json_equal(json_object_get(a, "mac"), json_object_get(l, "mac")))
				json_object_set_new(l, "instance", json_string(inst));
		}
		json_array_append(out, l);
	}
	json_decref(dyn);
	return out;
}

static json_t *network_view(struct netd *d, json_t *n, bool full)
{
	json_t *v = json_deep_copy(n);
	json_object_del(v, "phase");
	const char *name = json_string_value(json_object_get(n, "name"));
	json_object_set_new(v, "bridge", json_string(name));
	if (!full) {
		json_object_set_new(v, "attachments",
		                    json_integer((json_int_t)json_object_size(json_object_get(n, "attachments"))));
		json_object_del(v, "forwards");
		return v;
	}
	json_t *atts = json_array();
	const char *inst;
	json_t *a;
	json_object_foreach(json_object_get(n, "attachments"), inst, a)
	{
		json_t *c = json_deep_copy(a);
		json_object_set_new(c, "instance", json_string(inst));
		json_object_del(c, "phase");
		json_array_append_new(atts, c);
	}
	json_object_set_new(v, "attachments", atts);
	json_object_set_new(v, "leases", leases_of(d, n));
	struct netd_net_rt *rt = netd_rt(d, name);
	json_object_set_new(v, "dnsmasq_pid", json_integer(rt->dns.pid));
	return v;
}

/* ---- network.create ---- */

static int check_overlap4(struct netd *d, const char *self, struct cidr4 c, bool host_too, isola_error *err)
{
	char a[32], b[32];
	const char *name;
	json_t *n;
	json_object_foreach(netd_networks(d), name, n)
	{
		struct cidr4 o;
		const char *s = json_string_value(json_object_get(n, "ipv4"));
		isola_error e;
		if (strcmp(name, self) != 0 && s && cidr4_parse_gateway(s, &o, &e) == 0 && cidr4_overlap(c, o))
			return isola_err(err, EADDRINUSE, "ipv4 %s overlaps network \"%s\" (%s)",
			                 cidr4_format(c, true, a, sizeof a), name, s);
	}
	if (!host_too)
		return 0;
	_cleanup_free_ struct cidr4 *used = NULL;
	size_t nused = 0;
	if (netlink_used_prefixes4(&used, &nused, err) < 0)
		return -1;
	for (size_t i = 0; i < nused; i++)
		if (used[i].prefix > 0 && cidr4_overlap(c, used[i]))
			return isola_err(err, EADDRINUSE, "ipv4 %s overlaps %s already on this host",
			                 cidr4_format(c, true, a, sizeof a), cidr4_format(used[i], true, b, sizeof b));
	return 0;
}

static int pick4(struct netd *d, const char *name, struct cidr4 *out, isola_error *err)
{
	_cleanup_free_ struct cidr4 *used = NULL;
	size_t nused = 0;
	if (netlink_used_prefixes4(&used, &nused, err) < 0)
		return -1;
	size_t nnet = json_object_size(netd_networks(d));
	struct cidr4 *all = realloc(used, (nused + nnet + 1) * sizeof *all);
	if (!all)
		return isola_err(err, ENOMEM, "pick a subnet");
	used = all;
	const char *k;
	json_t *n;
	json_object_foreach(netd_networks(d), k, n)
	{
		isola_error e;
		const char *s = json_string_value(json_object_get(n, "ipv4"));
		if (s && cidr4_parse_gateway(s, &used[nused], &e) == 0)
			nused++;
	}
	return cidr4_pick(name, used, nused, out, err);
}

static int op_network_create(struct netd *d, json_t *req, int *fds, size_t nfds, json_t **reply, int *out_fd,
                             isola_error *err)
{
	static const char *const keys[] = {"name",     "ipv4",       "ipv6", "mtu",          "ipv4_nat",
	                                   "ipv6_nat", "dns_domain", "dhcp", "upstream_dns", NULL};
	const char *op = NETD_OP_NETWORK_CREATE, *name, *v4 = "auto", *v6 = "none", *domain = "isola", *up = "";
	int64_t mtu = 1500;
	bool nat4 = true, nat6 = false, dhcp = true;
	if (no_fds(nfds, op, err) < 0 || check_keys(req, op, keys, err) < 0 ||
	    get_name(req, op, "name", &name, err) < 0 || json_get_str(req, op, "ipv4", false, &v4, err) < 0 ||
	    json_get_str(req, op, "ipv6", false, &v6, err) < 0 || json_get_int(req, op, "mtu", false, &mtu, err) < 0 ||
	    json_get_bool(req, op, "ipv4_nat", false, &nat4, err) < 0 ||
	    json_get_bool(req, op, "ipv6_nat", false, &nat6, err) < 0 ||
	    json_get_bool(req, op, "dhcp", false, &dhcp, err) < 0 ||
	    json_get_str(req, op, "dns_domain", false, &domain, err) < 0 ||
	    json_get_str(req, op, "upstream_dns", false, &up, err) < 0)
		return -1;
	if (mtu_valid(mtu, err) < 0 || upstream_valid(up, err) < 0)
		return isola_err_wrap(err, "%s %s", op, name);
	if (!dns_domain_valid(domain))
		return isola_err(err, EINVAL, "%s %s: dns_domain \"%s\" is not a DNS name", op, name, domain);
	if (json_object_get(netd_networks(d), name))
		return isola_err(err, EEXIST, "%s: network \"%s\" already exists", op, name);
	char a[64];
	json_t *n = json_pack("{s:s,s:I,s:b,s:b,s:s,s:b,s:s,s:s,s:{},s:[]}", "name", name, "mtu", (json_int_t)mtu,
	                      "ipv4_nat", nat4, "ipv6_nat", nat6, "dns_domain", domain, "dhcp", dhcp, "upstream_dns",
	                      up, "phase", "creating", "attachments", "forwards");
	_cleanup_json_ json_t *hold = n;
	if (strcmp(v4, "none") != 0) {
		struct cidr4 c;
		if (strcmp(v4, "auto") == 0) {
			if (pick4(d, name, &c, err) < 0)
				return isola_err_wrap(err, "%s %s", op, name);
		} else if (cidr4_parse_gateway(v4, &c, err) < 0 || check_overlap4(d, name, c, true, err) < 0) {
			return isola_err_wrap(err, "%s %s", op, name);
		}
		json_object_set_new(n, "ipv4", json_string(cidr4_format(c, true, a, sizeof a)));
	}
	if (strcmp(v6, "none") != 0) {
		struct cidr6 c;
		if (strcmp(v6, "auto") == 0)
			cidr6_auto(name, &c);
		else if (cidr6_parse_gateway(v6, &c, err) < 0)
			return isola_err_wrap(err, "%s %s", op, name);
		const char *k;
		json_t *o;
		json_object_foreach(netd_networks(d), k, o)
		{
			struct cidr6 x;
			isola_error e;
			const char *s = json_string_value(json_object_get(o, "ipv6"));
			if (s && cidr6_parse_gateway(s, &x, &e) == 0 && cidr6_overlap(&c, &x))
				return isola_err(err, EADDRINUSE, "%s %s: ipv6 overlaps network \"%s\" (%s)", op, name,
				                 k, s);
		}
		json_object_set_new(n, "ipv6", json_string(cidr6_format(&c, true, a, sizeof a)));
	}
	/* an interface of that name that is not ours: refuse before recording anything */
	int idx = netlink_link_get(d->sk, name, NULL, NULL, 0, err);
	if (idx < 0)
		return -1;
	if (idx > 0)
		return isola_err(err, EEXIST, "%s: an interface named \"%s\" already exists on this host", op, name);
	json_object_set(netd_networks(d), name, n);
	if (netd_save(d, err) < 0) {
		json_object_del(netd_networks(d), name);
		return -1;
	}
	if (net_bring_up(d, n, err) < 0) {
		isola_err_wrap(err, "%s %s", op, name);
		net_tear_down(d, name);
		json_object_del(netd_networks(d), name);
		isola_error e2;
		netd_save(d, &e2);
		return -1;
	}
	fault_point(d, "network.create");
	json_object_set_new(n, "phase", json_string("ready"));
	if (netd_save(d, err) < 0)
		return -1;
	log_info("network %s created (%s%s%s)", name, json_string_value(json_object_get(n, "ipv4")) ?: "no ipv4",
	         json_object_get(n, "ipv6") ? ", " : "", json_string_value(json_object_get(n, "ipv6")) ?: "");
	*reply = json_pack("{s:o}", "network", network_view(d, n, true));
	return 0;
}

static int op_network_delete(struct netd *d, json_t *req, int *fds, size_t nfds, json_t **reply, int *out_fd,
                             isola_error *err)
{
	static const char *const keys[] = {"name", NULL};
	const char *op = NETD_OP_NETWORK_DELETE, *name;
	if (no_fds(nfds, op, err) < 0 || check_keys(req, op, keys, err) < 0 ||
	    get_name(req, op, "name", &name, err) < 0)
		return -1;
	json_t *n = find_network(d, op, name, err);
	if (!n)
		return -1;
	size_t na = json_object_size(json_object_get(n, "attachments"));
	if (na)
		return isola_err(err, EBUSY, "%s: network \"%s\" still has %zu attachment(s); detach them first", op,
		                 name, na);
	json_object_set_new(n, "phase", json_string("deleting"));
	if (netd_save(d, err) < 0)
		return -1;
	net_tear_down(d, name);
	json_object_del(netd_networks(d), name);
	if (netd_save(d, err) < 0)
		return -1;
	log_info("network %s deleted", name);
	*reply = json_object();
	return 0;
}

static int op_network_list(struct netd *d, json_t *req, int *fds, size_t nfds, json_t **reply, int *out_fd,
                           isola_error *err)
{
	static const char *const keys[] = {NULL};
	if (no_fds(nfds, NETD_OP_NETWORK_LIST, err) < 0 || check_keys(req, NETD_OP_NETWORK_LIST, keys, err) < 0)
		return -1;
	json_t *arr = json_array();
	const char *k;
	json_t *n;
	json_object_foreach(netd_networks(d), k, n)
	{
		json_array_append_new(arr, network_view(d, n, false));
	}
	*reply = json_pack("{s:o}", "networks", arr);
	return 0;
}

static int op_network_show(struct netd *d, json_t *req, int *fds, size_t nfds, json_t **reply, int *out_fd,
                           isola_error *err)
{
	static const char *const keys[] = {"name", NULL};
	const char *op = NETD_OP_NETWORK_SHOW, *name;
	if (no_fds(nfds, op, err) < 0 || check_keys(req, op, keys, err) < 0 ||
	    get_name(req, op, "name", &name, err) < 0)
		return -1;
	json_t *n = find_network(d, op, name, err);
	if (!n)
		return -1;
	*reply = json_pack("{s:o}", "network", network_view(d, n, true));
	return 0;
}

static int op_network_leases(struct netd *d, json_t *req, int *fds, size_t nfds, json_t **reply, int *out_fd,
                             isola_error *err)
{
	static const char *const keys[] = {"name", NULL};
	const char *op = NETD_OP_NETWORK_LEASES, *name;
	if (no_fds(nfds, op, err) < 0 || check_keys(req, op, keys, err) < 0 ||
	    get_name(req, op, "name", &name, err) < 0)
		return -1;
	json_t *n = find_network(d, op, name, err);
	if (!n)
		return -1;
	*reply = json_pack("{s:o}", "leases", leases_of(d, n));
	return 0;
}

static int op_network_set(struct netd *d, json_t *req, int *fds, size_t nfds, json_t **reply, int *out_fd,
                          isola_error *err)
{
	static const char *const keys[] = {"name", "key", "value", NULL};
	const char *op = NETD_OP_NETWORK_SET, *name, *key;
	json_t *value = json_object_get(req, "value");
	if (no_fds(nfds, op, err) < 0 || check_keys(req, op, keys, err) < 0 ||
	    get_name(req, op, "name", &name, err) < 0 || json_get_str(req, op, "key", true, &key, err) < 0)
		return -1;
	if (!value)
		return isola_err(err, EINVAL, "%s.value: missing", op);
	json_t *n = find_network(d, op, name, err);
	if (!n)
		return -1;
	enum { FW, DNS, MTU } what;
	if (strcmp(key, "ipv4_nat") == 0 || strcmp(key, "ipv6_nat") == 0 || strcmp(key, "dhcp") == 0) {
		if (!json_is_boolean(value))
			return isola_err(err, EINVAL, "%s %s: %s wants true or false", op, name, key);
		what = key[0] == 'd' ? DNS : FW;
	} else if (strcmp(key, "mtu") == 0) {
		if (!json_is_integer(value) || mtu_valid(json_integer_value(value), err) < 0)
			return isola_err(err, EINVAL, "%s %s: mtu wants an integer 1280..65535", op, name);
		what = MTU;
	} else if (strcmp(key, "dns_domain") == 0 || strcmp(key, "upstream_dns") == 0) {
		if (!json_is_string(value))
			return isola_err(err, EINVAL, "%s %s: %s wants a string", op, name, key);
		const char *s = json_string_value(value);
		if (key[0] == 'd' && !dns_domain_valid(s))
			return isola_err(err, EINVAL, "%s %s: dns_domain \"%s\" is not a DNS name", op, name, s);
		if (key[0] == 'u' && upstream_valid(s, err) < 0)
			return isola_err_wrap(err, "%s %s", op, name);
		what = DNS;
	} else {
		return isola_err(err, EINVAL,
		                 "%s %s: unknown key \"%s\" (mtu, ipv4_nat, ipv6_nat, dhcp, dns_domain, "
		                 "upstream_dns)",
		                 op, name, key);
	}
	_cleanup_json_ json_t *old = json_incref(json_object_get(n, key));
	json_object_set(n, key, value);
	int r;
	if (what == FW)
		r = net_firewall_apply(d, n, err);
	else if (what == DNS)
		r = net_dns_restart(d, n, err);
	else
		r = netlink_link_set(d->sk, name, 0, (unsigned)json_integer_value(value), false, err);
	if (r < 0) {
		json_object_set(n, key, old);
		return isola_err_wrap(err, "%s %s %s", op, name, key);
	}
	if (netd_save(d, err) < 0)
		return -1;
	*reply = json_pack("{s:o}", "network", network_view(d, n, true));
	return 0;
}

/* ---- attach / detach ---- */

static int alloc_ipv4(struct netd *d, json_t *n, const char *self_mac, const char *want, uint32_t *out,
                      isola_error *err)
{
	struct net_cfg c;
	if (net_cfg_parse(n, &c, err) < 0)
		return -1;
	if (!c.has4)
		return want ? isola_err(err, EINVAL, "network %s has no IPv4", c.name) : 0;
	uint32_t net = cidr4_net(c.v4), size = cidr4_bcast(c.v4) - net + 1;
	uint32_t w = 0;
	if (want) {
		if (ip4_parse(want, &w, err) < 0)
			return -1;
		if (!cidr4_contains(c.v4, w) || w == net || w == cidr4_bcast(c.v4))
			return isola_err(err, EINVAL, "ipv4 %s is not a host address of network %s (%s)", want, c.name,
			                 json_string_value(json_object_get(n, "ipv4")));
	}
	/* one pass over what is taken (gateway, attachments, other MACs' leases) into a bitmap: O(n), not O(n²) */
	_cleanup_free_ uint8_t *used = calloc(size / 8 + 1, 1);
	if (!used)
		return isola_err(err, ENOMEM, "address map of %s", c.name);
#define MARK(a)                                                                                                        \
	do {                                                                                                           \
		uint32_t _o = (a)-net;                                                                                 \
		if ((a) >= net && _o < size)                                                                           \
			used[_o / 8] |= (uint8_t)(1u << (_o % 8));                                                     \
	} while (0)
	MARK(c.v4.addr);
	const char *k;
	json_t *x;
	json_object_foreach(json_object_get(n, "attachments"), k, x)
	{
		uint32_t a;
		isola_error e;
		const char *s = json_string_value(json_object_get(x, "ipv4"));
		if (s && ip4_parse(s, &a, &e) == 0)
			MARK(a);
	}
	char dir[2200];
	netd_net_dir(d, c.name, dir, sizeof dir);
	_cleanup_json_ json_t *leases = dnsmasq_leases(dir);
	size_t i;
	json_array_foreach(leases, i, x)
	{
		uint32_t a;
		isola_error e;
		const char *s = json_string_value(json_object_get(x, "ipv4"));
		if (s && strcmp(json_string_value(json_object_get(x, "mac")) ?: "", self_mac) != 0 &&
		    ip4_parse(s, &a, &e) == 0)
			MARK(a);
	}
#undef MARK
	if (want) {
		uint32_t o = w - net;
		if (used[o / 8] & (1u << (o % 8)))
			return isola_err(err, EADDRINUSE, "ipv4 %s is already in use on network %s", want, c.name);
		*out = w;
		return 0;
	}
	for (uint32_t o = 1; o < size - 1; o++)
		if (!(used[o / 8] & (1u << (o % 8)))) {
			*out = net + o;
			return 0;
		}
	return isola_err(err, ENOSPC, "network %s has no free IPv4 address left", c.name);
}

/* EUI-64 interface identifier from the MAC (RFC 4291 appendix A): what SLAAC would pick. */
static void eui64(const struct cidr6 *net, const uint8_t mac[6], uint8_t out[16])
{
	memcpy(out, net->addr, 8);
	out[8] = mac[0] ^ 0x02;
	out[9] = mac[1];
	out[10] = mac[2];
	out[11] = 0xff;
	out[12] = 0xfe;
	out[13] = mac[3];
	out[14] = mac[4];
	out[15] = mac[5];
}

static int op_attach(struct netd *d, json_t *req, int *fds, size_t nfds, json_t **reply, int *out_fd, isola_error *err)
{
	static const char *const keys[] = {"network", "instance", "kind",   "ifname",   "mac", "mtu",
	                                   "ipv4",    "ipv6",     "static", "vnet_hdr", NULL};
	const char *op = NETD_OP_ATTACH, *net, *inst, *kind, *ifname = "eth0", *macs = NULL, *want4 = NULL,
	           *want6 = NULL;
	int64_t mtu = 0;
	bool st = false, vnet = false;
	if (check_keys(req, op, keys, err) < 0 || get_name(req, op, "network", &net, err) < 0 ||
	    json_get_str(req, op, "instance", true, &inst, err) < 0 ||
	    json_get_str(req, op, "kind", true, &kind, err) < 0 ||
	    json_get_str(req, op, "ifname", false, &ifname, err) < 0 ||
	    json_get_str(req, op, "mac", false, &macs, err) < 0 || json_get_int(req, op, "mtu", false, &mtu, err) < 0 ||
	    json_get_str(req, op, "ipv4", false, &want4, err) < 0 ||
	    json_get_str(req, op, "ipv6", false, &want6, err) < 0 ||
	    json_get_bool(req, op, "static", false, &st, err) < 0 ||
	    json_get_bool(req, op, "vnet_hdr", false, &vnet, err) < 0)
		return -1;
	if (!netd_instance_valid(inst))
		return isola_err(err, EINVAL,
		                 "%s: instance \"%s\" is invalid (letters, digits, '-', ≤ 63, starting with a "
		                 "letter)",
		                 op, inst);
	if (!netd_ifname_valid(ifname))
		return isola_err(err, EINVAL, "%s: ifname \"%s\" is invalid", op, ifname);
	bool veth = strcmp(kind, "veth") == 0;
	if (!veth && strcmp(kind, "tap") != 0)
		return isola_err(err, EINVAL, "%s: kind \"%s\" (want \"veth\" or \"tap\")", op, kind);
	if (veth && nfds != 1)
		return isola_err(err, EINVAL,
		                 "%s: a veth attach takes exactly one fd, the instance's network namespace "
		                 "(%zu passed)",
		                 op, nfds);
	if (!veth && nfds)
		return isola_err(err, EINVAL, "%s: a tap attach takes no fd (%zu passed)", op, nfds);
	if (veth && netns_fd_check(fds[0], err) < 0)
		return isola_err_wrap(err, "%s %s", op, inst);
	json_t *n = find_network(d, op, net, err);
	if (!n)
		return -1;
	if (strcmp(json_string_value(json_object_get(n, "phase")) ?: "", "ready") != 0)
		return isola_err(err, EAGAIN, "%s: network \"%s\" is not ready", op, net);
	json_t *atts = json_object_get(n, "attachments");
	if (json_object_get(atts, inst))
		return isola_err(err, EEXIST, "%s: instance \"%s\" is already attached to network \"%s\"", op, inst,
		                 net);
	struct net_cfg c;
	if (net_cfg_parse(n, &c, err) < 0)
		return -1;
	if (mtu == 0)
		mtu = c.mtu;
	if (mtu_valid(mtu, err) < 0)
		return isola_err_wrap(err, "%s %s", op, inst);
	uint8_t mac[6];
	if (macs) {
		if (netd_mac_parse(macs, mac, err) < 0)
			return isola_err_wrap(err, "%s %s", op, inst);
	} else {
		netd_mac_derive(net, inst, ifname, mac);
	}
	char ms[18], a4[16] = "", a6[64] = "", host[16];
	netd_mac_format(mac, ms, sizeof ms);
	uint32_t ip4 = 0;
	if (alloc_ipv4(d, n, ms, want4, &ip4, err) < 0)
		return isola_err_wrap(err, "%s %s", op, inst);
	if (ip4)
		ip4_format(ip4, a4, sizeof a4);
	uint8_t ip6[16];
	bool has6 = false;
	if (want6) {
		if (!c.has6 || ip6_parse(want6, ip6, err) < 0 || !cidr6_contains(&c.v6, ip6))
			return isola_err(err, EINVAL, "%s %s: ipv6 %s is not inside network %s's IPv6 subnet", op, inst,
			                 want6, net);
		has6 = true;
	} else if (st && c.has6) {
		eui64(&c.v6, mac, ip6);
		has6 = true;
	}
	if (has6)
		inet_ntop(AF_INET6, ip6, a6, sizeof a6);
	netd_host_ifname(veth ? "isv" : "ist", net, inst, ifname, host, sizeof host);
	/* a leftover of ours under that name (deterministic names) can only be stale: remove it */
	if (netlink_link_delete(d->sk, host, true, err) < 0)
		return -1;
	json_t *att = json_pack("{s:s,s:s,s:s,s:s,s:b,s:I,s:s}", "kind", kind, "ifname", ifname, "host_ifname", host,
	                        "mac", ms, "static", st, "mtu", (json_int_t)mtu, "phase", "attaching");
	if (a4[0])
		json_object_set_new(att, "ipv4", json_string(a4));
	if (a6[0])
		json_object_set_new(att, "ipv6", json_string(a6));
	json_object_set_new(atts, inst, att);
	if (netd_save_volatile(d, err) < 0) {
		json_object_del(atts, inst);
		return -1;
	}
	int master = netlink_link_get(d->sk, net, NULL, NULL, 0, err);
	int r = master > 0 ? 0 : -1;
	if (master == 0)
		isola_err(err, ENODEV, "bridge %s is missing", net);
	_cleanup_close_ int tapfd = -1;
	if (r == 0 && veth) {
		r = netlink_veth_create(d->sk, host, master, ifname, mac, (unsigned)mtu, fds[0], err);
		struct netns_ipcfg cfg = {.ifname = ifname};
		if (r == 0 && st) {
			cfg.addr4 = ip4;
			cfg.prefix4 = c.v4.prefix;
			cfg.gw4 = c.v4.addr;
			if (has6) {
				cfg.addr6 = ip6;
				cfg.prefix6 = 64;
				cfg.gw6 = c.v6.addr;
			}
		}
		if (r == 0)
			r = netlink_netns_configure(fds[0], &cfg, err);
	} else if (r == 0) {
		tapfd = netlink_tap_create(d->sk, host, master, (unsigned)mtu, vnet, err);
		r = tapfd < 0 ? -1 : 0;
	}
	if (r == 0)
		fault_point(d, "attach");
	if (r == 0)
		r = net_dns_reload(d, n, err);
	if (r < 0) {
		isola_err_wrap(err, "%s %s to %s", op, inst, net);
		isola_error e2;
		if (net_attachment_remove(d, att, &e2) < 0)
			log_warn("%s", e2.msg);
		json_object_del(atts, inst);
		netd_save_volatile(d, &e2);
		net_dns_reload(d, n, &e2);
		return -1;
	}
	json_object_set_new(att, "phase", json_string("ready"));
	if (netd_save_volatile(d, err) < 0)
		return -1;
	log_info("attached %s to %s as %s (%s %s)", inst, net, host, ms, a4[0] ? a4 : "-");
	*reply = json_pack("{s:s,s:s,s:I}", "host_ifname", host, "mac", ms, "mtu", (json_int_t)mtu);
	if (a4[0]) {
		char gw[16];
		json_object_set_new(*reply, "ipv4", json_string(a4));
		json_object_set_new(*reply, "prefix4", json_integer(c.v4.prefix));
		json_object_set_new(*reply, "gateway4", json_string(ip4_format(c.v4.addr, gw, sizeof gw)));
		json_object_set_new(*reply, "dns", json_string(gw));
	}
	if (a6[0]) {
		char gw[64];
		json_object_set_new(*reply, "ipv6", json_string(a6));
		json_object_set_new(*reply, "gateway6", json_string(cidr6_format(&c.v6, false, gw, sizeof gw)));
	}
	json_object_set_new(*reply, "domain", json_string(c.domain));
	*out_fd = steal_fd(&tapfd);
	return 0;
}

static int op_detach(struct netd *d, json_t *req, int *fds, size_t nfds, json_t **reply, int *out_fd, isola_error *err)
{
	static const char *const keys[] = {"network", "instance", NULL};
	const char *op = NETD_OP_DETACH, *net, *inst;
	if (no_fds(nfds, op, err) < 0 || check_keys(req, op, keys, err) < 0 ||
	    get_name(req, op, "network", &net, err) < 0 || json_get_str(req, op, "instance", true, &inst, err) < 0)
		return -1;
	json_t *n = find_network(d, op, net, err);
	if (!n)
		return -1;
	json_t *atts = json_object_get(n, "attachments");
	json_t *att = json_object_get(atts, inst);
	if (!att)
		return isola_err(err, ENOENT, "%s: instance \"%s\" is not attached to network \"%s\"", op, inst, net);
	/* no "detaching" record first: a crash between the delete and the save below leaves a ready attachment
	 * whose host link is gone, which the next start drops anyway (reconcile.c) */
	if (net_attachment_remove(d, att, err) < 0)
		return isola_err_wrap(err, "%s %s from %s", op, inst, net);
	json_object_del(atts, inst);
	if (netd_save_volatile(d, err) < 0 || net_dns_reload(d, n, err) < 0)
		return -1;
	log_info("detached %s from %s", inst, net);
	*reply = json_object();
	return 0;
}

/* ---- forwards ---- */

static int forward_args(struct netd *d, json_t *req, const char *op, bool need_target, json_t **n, const char **listen,
                        const char **proto, const char **target, isola_error *err)
{
	const char *net;
	*proto = "tcp";
	if (get_name(req, op, "network", &net, err) < 0 || json_get_str(req, op, "listen", true, listen, err) < 0 ||
	    json_get_str(req, op, "proto", false, proto, err) < 0 ||
	    (need_target && json_get_str(req, op, "target", true, target, err) < 0))
		return -1;
	if (strcmp(*proto, "tcp") != 0 && strcmp(*proto, "udp") != 0)
		return isola_err(err, EINVAL, "%s: proto \"%s\" (want \"tcp\" or \"udp\")", op, *proto);
	uint32_t a;
	uint16_t p;
	if (endpoint4_parse(*listen, &a, &p, err) < 0)
		return isola_err_wrap(err, "%s: listen", op);
	*n = find_network(d, op, net, err);
	if (!*n)
		return -1;
	if (need_target) {
		struct net_cfg c;
		if (endpoint4_parse(*target, &a, &p, err) < 0)
			return isola_err_wrap(err, "%s: target", op);
		if (net_cfg_parse(*n, &c, err) < 0)
			return -1;
		if (!c.has4 || !cidr4_contains(c.v4, a) || a == c.v4.addr)
			return isola_err(err, EINVAL, "%s: target %s is not an instance address inside network %s", op,
			                 *target, net);
	}
	return 0;
}

static ssize_t forward_find(json_t *n, const char *listen, const char *proto)
{
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(n, "forwards"), i, f)
	{
		if (strcmp(json_string_value(json_object_get(f, "listen")), listen) == 0 &&
		    strcmp(json_string_value(json_object_get(f, "proto")), proto) == 0)
			return (ssize_t)i;
	}
	return -1;
}

static int op_forward_add(struct netd *d, json_t *req, int *fds, size_t nfds, json_t **reply, int *out_fd,
                          isola_error *err)
{
	static const char *const keys[] = {"network", "listen", "proto", "target", NULL};
	const char *op = NETD_OP_FORWARD_ADD, *listen, *proto, *target;
	json_t *n;
	if (no_fds(nfds, op, err) < 0 || check_keys(req, op, keys, err) < 0 ||
	    forward_args(d, req, op, true, &n, &listen, &proto, &target, err) < 0)
		return -1;
	if (forward_find(n, listen, proto) >= 0)
		return isola_err(err, EEXIST, "%s: %s %s is already forwarded", op, proto, listen);
	json_t *fw = json_object_get(n, "forwards");
	json_array_append_new(fw, json_pack("{s:s,s:s,s:s}", "listen", listen, "proto", proto, "target", target));
	if (net_firewall_apply(d, n, err) < 0) {
		json_array_remove(fw, json_array_size(fw) - 1);
		return -1;
	}
	if (netd_save(d, err) < 0)
		return -1;
	*reply = json_object();
	return 0;
}

static int op_forward_delete(struct netd *d, json_t *req, int *fds, size_t nfds, json_t **reply, int *out_fd,
                             isola_error *err)
{
	static const char *const keys[] = {"network", "listen", "proto", NULL};
	const char *op = NETD_OP_FORWARD_DELETE, *listen, *proto;
	json_t *n;
	if (no_fds(nfds, op, err) < 0 || check_keys(req, op, keys, err) < 0 ||
	    forward_args(d, req, op, false, &n, &listen, &proto, NULL, err) < 0)
		return -1;
	ssize_t i = forward_find(n, listen, proto);
	if (i < 0)
		return isola_err(err, ENOENT, "%s: no %s forward on %s", op, proto, listen);
	json_t *fw = json_object_get(n, "forwards");
	_cleanup_json_ json_t *old = json_incref(json_array_get(fw, (size_t)i));
	json_array_remove(fw, (size_t)i);
	if (net_firewall_apply(d, n, err) < 0) {
		json_array_insert(fw, (size_t)i, old);
		return -1;
	}
	if (netd_save(d, err) < 0)
		return -1;
	*reply = json_object();
	return 0;
}

static int op_forward_list(struct netd *d, json_t *req, int *fds, size_t nfds, json_t **reply, int *out_fd,
                           isola_error *err)
{
	static const char *const keys[] = {"network", NULL};
	const char *op = NETD_OP_FORWARD_LIST, *net;
	if (no_fds(nfds, op, err) < 0 || check_keys(req, op, keys, err) < 0 ||
	    get_name(req, op, "network", &net, err) < 0)
		return -1;
	json_t *n = find_network(d, op, net, err);
	if (!n)
		return -1;
	*reply = json_pack("{s:O}", "forwards", json_object_get(n, "forwards"));
	return 0;
}

static int op_status(struct netd *d, json_t *req, int *fds, size_t nfds, json_t **reply, int *out_fd, isola_error *err)
{
	static const char *const keys[] = {NULL};
	if (no_fds(nfds, NETD_OP_STATUS, err) < 0 || check_keys(req, NETD_OP_STATUS, keys, err) < 0)
		return -1;
	json_t *dns = json_array();
	size_t natt = 0;
	const char *k;
	json_t *n;
	json_object_foreach(netd_networks(d), k, n)
	{
		natt += json_object_size(json_object_get(n, "attachments"));
		struct netd_net_rt *rt = netd_rt(d, k);
		json_array_append_new(
		    dns, json_pack("{s:s,s:i,s:b}", "network", k, "pid", rt->dns.pid, "running", rt->dns.pidfd >= 0));
	}
	*reply =
	    json_pack("{s:s,s:i,s:I,s:I,s:o}", "version", "0.1", "pid", getpid(), "networks",
	              (json_int_t)json_object_size(netd_networks(d)), "attachments", (json_int_t)natt, "dnsmasq", dns);
	return 0;
}

static const struct {
	const char *name;
	op_fn fn;
} ops[] = {
    {NETD_OP_NETWORK_CREATE, op_network_create},
    {NETD_OP_NETWORK_DELETE, op_network_delete},
    {NETD_OP_NETWORK_LIST, op_network_list},
    {NETD_OP_NETWORK_SHOW, op_network_show},
    {NETD_OP_NETWORK_SET, op_network_set},
    {NETD_OP_NETWORK_LEASES, op_network_leases},
    {NETD_OP_ATTACH, op_attach},
    {NETD_OP_DETACH, op_detach},
    {NETD_OP_FORWARD_ADD, op_forward_add},
    {NETD_OP_FORWARD_DELETE, op_forward_delete},
    {NETD_OP_FORWARD_LIST, op_forward_list},
    {NETD_OP_STATUS, op_status},
};

int netd_dispatch(struct netd *d, json_t *req, int *fds, size_t nfds, json_t **reply, int *out_fd, isola_error *err)
{
	*reply = NULL;
	*out_fd = -1;
	const char *op;
	if (json_get_str(req, "", "op", true, &op, err) < 0) {
		err->errnum = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		if (strcmp(ops[i].name, op) != 0)
			continue;
		int r = ops[i].fn(d, req, fds, nfds, reply, out_fd, err);
		/* a JSON type error carries no errno: to the caller it is bad input */
		if (r < 0 && err->errnum == 0)
			err->errnum = EINVAL;
		return r;
	}
	return isola_err(err, EOPNOTSUPP, "unknown op \"%s\"", op);
}
