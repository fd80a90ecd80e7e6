#include "addr.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "path.h"

bool netd_ifname_valid(const char *name)
{
	if (!name || !name_is_safe_component(name, 15))
		return false;
	for (const char *p = name; *p; p++)
		if (*p == ':' || isspace((unsigned char)*p) || (unsigned char)*p < 0x21 || (unsigned char)*p == 0x7f)
			return false;
	return true;
}

bool netd_instance_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > 63 || !isalpha((unsigned char)name[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-')
			return false;
	return true;
}

int ip4_parse(const char *s, uint32_t *out, isola_error *err)
{
	struct in_addr a;
	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return isola_err(err, EINVAL, "\"%s\" is not an IPv4 address", s ? s : "");
	*out = ntohl(a.s_addr);
	return 0;
}

int cidr4_parse_gateway(const char *s, struct cidr4 *out, isola_error *err)
{
	const char *slash = s ? strchr(s, '/') : NULL;
	if (!slash || slash - s > 15)
		return isola_err(err, EINVAL, "\"%s\" is not an IPv4 CIDR (want a.b.c.d/prefix)", s ? s : "");
	char ip[16];
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = 0;
	char *end;
	errno = 0;
	long p = strtol(slash + 1, &end, 10);
	if (!slash[1] || *end || errno)
		return isola_err(err, EINVAL, "\"%s\": bad prefix length", s);
	uint32_t a = 0;
	if (ip4_parse(ip, &a, err) < 0)
		return isola_err_wrap(err, "CIDR \"%s\"", s);
	if (p < 8 || p > 30)
		return isola_err(err, EINVAL, "\"%s\": prefix /%ld out of range (8..30)", s, p);
	struct cidr4 c = {a, (uint8_t)p};
	uint8_t top = (uint8_t)(a >> 24);
	if (top == 0 || top == 127 || top >= 224)
		return isola_err(err, EINVAL, "\"%s\": not a unicast network address", s);
	if (a == cidr4_net(c) || a == cidr4_bcast(c))
		return isola_err(err, EINVAL,
		                 "\"%s\": the gateway must be a host address, not the network or broadcast "
		                 "address (e.g. %u.%u.%u.1/%ld)",
		                 s, a >> 24, (a >> 16) & 255, (a >> 8) & 255, p);
	*out = c;
	return 0;
}

const char *ip4_format(uint32_t a, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
	return buf;
}

const char *cidr4_format(struct cidr4 c, bool with_prefix, char *buf, size_t len)
{
	char ip[16];
	ip4_format(c.addr, ip, sizeof ip);
	if (with_prefix)
		snprintf(buf, len, "%s/%u", ip, c.prefix);
	else
		snprintf(buf, len, "%s", ip);
	return buf;
}

bool cidr4_overlap(struct cidr4 a, struct cidr4 b)
{
	uint8_t p = a.prefix < b.prefix ? a.prefix : b.prefix;
	return (a.addr & cidr4_mask(p)) == (b.addr & cidr4_mask(p));
}

bool cidr4_contains(struct cidr4 net, uint32_t addr)
{
	return (addr & cidr4_mask(net.prefix)) == cidr4_net(net);
}

/* FNV-1a 64 over the strings with a separator, so ("ab","c") and ("a","bc") differ. */
uint64_t netd_hash(const char *a, const char *b, const char *c)
{
	uint64_t h = 0xcbf29ce484222325ull;
	const char *parts[3] = {a, b, c};
	for (int i = 0; i < 3; i++) {
		for (const char *p = parts[i] ? parts[i] : ""; *p; p++)
			h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
		h = (h ^ 0xff) * 0x100000001b3ull;
	}
	return h;
}

int cidr4_pick(const char *seed, const struct cidr4 *used, size_t nused, struct cidr4 *out, isola_error *err)
{
	uint32_t start = (uint32_t)(netd_hash(seed, NULL, NULL) % 65536);
	for (uint32_t i = 0; i < 65536; i++) {
		uint32_t slot = (start + i) % 65536;
		struct cidr4 c = {(10u << 24) | (slot << 8) | 1, 24};
		bool clash = false;
		for (size_t k = 0; k < nused && !clash; k++)
			clash = used[k].prefix > 0 && cidr4_overlap(c, used[k]);
		if (!clash) {
			*out = c;
			return 0;
		}
	}
	return isola_err(err, ENOSPC, "no free /24 left in 10.0.0.0/8 (every one overlaps a host address or route)");
}

int ip6_parse(const char *s, uint8_t out[16], isola_error *err)
{
	if (!s || inet_pton(AF_INET6, s, out) != 1)
		return isola_err(err, EINVAL, "\"%s\" is not an IPv6 address", s ? s : "");
	return 0;
}

int cidr6_parse_gateway(const char *s, struct cidr6 *out, isola_error *err)
{
	const char *slash = s ? strchr(s, '/') : NULL;
	if (!slash || slash - s > 45)
		return isola_err(err, EINVAL, "\"%s\" is not an IPv6 CIDR (want fdxx:…::1/64)", s ? s : "");
	char ip[46];
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = 0;
	if (strcmp(slash + 1, "64") != 0)
		return isola_err(err, EINVAL, "\"%s\": prefix must be /64 (SLAAC needs a /64, RFC 4862)", s);
	struct cidr6 c = {.prefix = 64};
	if (ip6_parse(ip, c.addr, err) < 0)
		return isola_err_wrap(err, "CIDR \"%s\"", s);
	if ((c.addr[0] & 0xfe) != 0xfc)
		return isola_err(err, EINVAL, "\"%s\": not a unique local address (fc00::/7, RFC 4193)", s);
	static const uint8_t zero[8];
	if (memcmp(c.addr + 8, zero, 8) == 0)
		return isola_err(err, EINVAL, "\"%s\": the gateway must be a host address (e.g. …::1/64)", s);
	*out = c;
	return 0;
}

const char *cidr6_format(const struct cidr6 *c, bool with_prefix, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET6, c->addr, ip, sizeof ip);
	if (with_prefix)
		snprintf(buf, len, "%s/%u", ip, c->prefix);
	else
		snprintf(buf, len, "%s", ip);
	return buf;
}

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;
	if (memcmp(a, b, bytes) != 0)
		return false;
	if (!rest)
		return true;
	uint8_t m = (uint8_t)(0xff << (8 - rest));
	return (a[bytes] & m) == (b[bytes] & m);
}

bool cidr6_contains(const struct cidr6 *net, const uint8_t addr[16])
{
	return prefix_equal(net->addr, addr, net->prefix);
}

bool cidr6_overlap(const struct cidr6 *a, const struct cidr6 *b)
{
	return prefix_equal(a->addr, b->addr, a->prefix < b->prefix ? a->prefix : b->prefix);
}

void cidr6_auto(const char *seed, struct cidr6 *out)
{
	uint64_t h = netd_hash("ula", seed, NULL);
	memset(out, 0, sizeof *out);
	out->addr[0] = 0xfd;
	for (int i = 0; i < 5; i++)
		out->addr[1 + i] = (uint8_t)(h >> (8 * i));
	out->addr[15] = 1;
	out->prefix = 64;
}

int endpoint4_parse(const char *s, uint32_t *addr, uint16_t *port, isola_error *err)
{
	const char *colon = s ? strrchr(s, ':') : NULL;
	if (!colon || colon - s > 15)
		return isola_err(err, EINVAL, "\"%s\" is not an IPv4 endpoint (want a.b.c.d:port)", s ? s : "");
	char ip[16];
	memcpy(ip, s, (size_t)(colon - s));
	ip[colon - s] = 0;
	char *end;
	errno = 0;
	long p = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || p < 1 || p > 65535)
		return isola_err(err, EINVAL, "\"%s\": port must be 1..65535", s);
	if (ip4_parse(ip, addr, err) < 0)
		return isola_err_wrap(err, "endpoint \"%s\"", s);
	*port = (uint16_t)p;
	return 0;
}

void netd_mac_derive(const char *network, const char *instance, const char *ifname, uint8_t mac[6])
{
	uint64_t h = netd_hash(network, instance, ifname);
	mac[0] = 0x0a;
	for (int i = 1; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * i));
}

int netd_mac_parse(const char *s, uint8_t mac[6], isola_error *err)
{
	unsigned v[6];
	char tail;
	if (!s || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6 ||
	    strlen(s) != 17)
		return isola_err(err, EINVAL, "\"%s\" is not a MAC address (want xx:xx:xx:xx:xx:xx)", s ? s : "");
	if (v[0] & 1)
		return isola_err(err, EINVAL, "\"%s\" is a multicast MAC (I/G bit set)", s);
	if ((v[0] | v[1] | v[2] | v[3] | v[4] | v[5]) == 0)
		return isola_err(err, EINVAL, "\"%s\": the all-zero MAC is not an address", s);
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

const char *netd_mac_format(const uint8_t mac[6], char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	return buf;
}

const char *netd_host_ifname(const char *prefix, const char *network, const char *instance, const char *ifname,
                             char *buf, size_t len)
{
	snprintf(buf, len, "%.3s%08x", prefix, (uint32_t)netd_hash(network, instance, ifname));
	return buf;
}
