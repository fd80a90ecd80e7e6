/* Pure address logic of netd (no syscalls, unit-tested in tests/unit/test_netd.c): names, IPv4/IPv6 CIDRs,
 * overlap and the default-subnet picker, "addr:port" endpoints, stable MACs and host interface names. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "error.h"

/* A network name is also its bridge name, so it follows the kernel's dev_valid_name() (net/core/dev.c):
 * 1..15 bytes, not "." or "..", no '/', ':' or whitespace; we also refuse control characters. */
bool netd_ifname_valid(const char *name);
/* Instance names follow ARCHITECTURE.md (Incus rules): letters, digits, '-', ≤ 63, not starting with a
 * digit or '-' — they also become DNS labels (RFC 1123). */
bool netd_instance_valid(const char *name);

struct cidr4 {
	uint32_t addr; /* host byte order: the address itself (e.g. the bridge's 10.1.2.1) */
	uint8_t prefix;
};
struct cidr6 {
	uint8_t addr[16];
	uint8_t prefix;
};

static inline uint32_t cidr4_mask(uint8_t prefix)
{
	return prefix ? ~0u << (32 - prefix) : 0;
}
static inline uint32_t cidr4_net(struct cidr4 c)
{
	return c.addr & cidr4_mask(c.prefix);
}
static inline uint32_t cidr4_bcast(struct cidr4 c)
{
	return cidr4_net(c) | ~cidr4_mask(c.prefix);
}

/* "10.1.2.1/24" → the host address with its prefix. A gateway CIDR must name a usable host address
 * (not the network or broadcast address), prefix 8..30, unicast, not loopback/0.0.0.0/multicast. */
int cidr4_parse_gateway(const char *s, struct cidr4 *out, isola_error *err);
/* "a.b.c.d" → host order. */
int ip4_parse(const char *s, uint32_t *out, isola_error *err);
/* Formats into buf (≥ 19 bytes): "10.1.2.1/24", or without the prefix when with_prefix is false. */
const char *cidr4_format(struct cidr4 c, bool with_prefix, char *buf, size_t len);
const char *ip4_format(uint32_t a, char *buf, size_t len);
bool cidr4_overlap(struct cidr4 a, struct cidr4 b);
bool cidr4_contains(struct cidr4 net, uint32_t addr);

/* The default subnet (as Incus does): a /24 inside 10.0.0.0/8 that overlaps none of used[]. The probe starts
 * at a slot derived from seed (the network name), so a name gets the same subnet on every host where it is
 * free, and walks the 65,536 slots in order. Result: the gateway x.y.z.1/24. ENOSPC when nothing is free. */
int cidr4_pick(const char *seed, const struct cidr4 *used, size_t nused, struct cidr4 *out, isola_error *err);

/* "fdxx:…::1/64" → a ULA /64 gateway address (fc00::/7, prefix exactly 64: SLAAC needs it, RFC 4862 §5.5.3). */
int cidr6_parse_gateway(const char *s, struct cidr6 *out, isola_error *err);
int ip6_parse(const char *s, uint8_t out[16], isola_error *err);
const char *cidr6_format(const struct cidr6 *c, bool with_prefix, char *buf, size_t len);
bool cidr6_contains(const struct cidr6 *net, const uint8_t addr[16]);
bool cidr6_overlap(const struct cidr6 *a, const struct cidr6 *b);
/* "auto": fdXX:XXXX:XXXX::1/64 with the 40-bit global ID derived from seed (RFC 4193 §3.2 wants it random;
 * deriving it from the name keeps it stable across re-creation, and the odds of collision are the same). */
void cidr6_auto(const char *seed, struct cidr6 *out);

/* "A.B.C.D:PORT" (PORT 1..65535). */
int endpoint4_parse(const char *s, uint32_t *addr, uint16_t *port, isola_error *err);

/* A stable MAC for (network, instance, ifname): 0a:xx:xx:xx:xx:xx — locally administered, unicast
 * (IEEE 802 U/L bit set, I/G bit clear), so it never collides with a vendor's OUI. */
void netd_mac_derive(const char *network, const char *instance, const char *ifname, uint8_t mac[6]);
int netd_mac_parse(const char *s, uint8_t mac[6], isola_error *err);
const char *netd_mac_format(const uint8_t mac[6], char *buf, size_t len);
/* The host-side name: prefix ("isv" veth, "ist" tap) + 8 hex digits of a hash of (network, instance,
 * ifname): deterministic, so a restarted netd finds it again, and ≤ 15 bytes. buf ≥ 16 bytes. */
const char *netd_host_ifname(const char *prefix, const char *network, const char *instance, const char *ifname,
                             char *buf, size_t len);
uint64_t netd_hash(const char *a, const char *b, const char *c);
