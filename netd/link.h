/* Netlink of netd: links, addresses and routes through libnl-3 route (rtnetlink(7)), address/route dumps
 * through libmnl, taps through /dev/net/tun. Every request is traced with --explain (message type and the
 * attributes that matter). A netlink failure becomes an isola_error carrying the kernel's errno. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "addr.h"
#include "error.h"

struct nl_sock;

/* A NETLINK_ROUTE socket in the caller's current network namespace. */
struct nl_sock *netlink_open(isola_error *err);
void netlink_close(struct nl_sock *sk);

/* ifindex of name, 0 when there is none (other errors: -1). *master (may be NULL) gets its master ifindex,
 * *kind (may be NULL, ≥ 16 bytes) its link kind ("bridge", "veth", "tun", "" when unknown). */
int netlink_link_get(struct nl_sock *sk, const char *name, int *master, char *kind, size_t kindlen, isola_error *err);
/* RTM_NEWLINK kind bridge, up, with a fixed MAC (so ports joining never change it) and MTU. */
int netlink_bridge_create(struct nl_sock *sk, const char *name, const uint8_t mac[6], unsigned mtu, isola_error *err);
/* RTM_DELLINK. ENODEV is success when missing_ok. */
int netlink_link_delete(struct nl_sock *sk, const char *name, bool missing_ok, isola_error *err);
/* RTM_NEWLINK on an existing link: master (0 = leave), mtu (0 = leave), up. */
int netlink_link_set(struct nl_sock *sk, const char *name, int master, unsigned mtu, bool up, isola_error *err);
/* RTM_NEWADDR (IFA_F_NODAD for IPv6: the address is ours by construction). EEXIST counts as success. */
int netlink_addr4_add(struct nl_sock *sk, int ifindex, uint32_t addr, uint8_t prefix, isola_error *err);
int netlink_addr6_add(struct nl_sock *sk, int ifindex, const uint8_t addr[16], uint8_t prefix, isola_error *err);
/* RTM_NEWROUTE default route via gw on ifindex. */
int netlink_route4_default(struct nl_sock *sk, int ifindex, uint32_t gw, isola_error *err);
int netlink_route6_default(struct nl_sock *sk, int ifindex, const uint8_t gw[16], isola_error *err);

/* One RTM_NEWLINK creating a veth pair: host end host_name enslaved to master and up; the peer created
 * directly inside the network namespace netns_fd (IFLA_NET_NS_FD in VETH_INFO_PEER) as peer_name with
 * peer_mac and mtu. The pair exists whole or not at all: there is never a peer stranded on the host. */
int netlink_veth_create(struct nl_sock *sk, const char *host_name, int master, const char *peer_name,
                        const uint8_t peer_mac[6], unsigned mtu, int netns_fd, isola_error *err);

/* Configure inside the netns: lo up, ifname up; when addresses are given (addr4 != 0, addr6 != NULL) add
 * them and a default route via gw4/gw6. */
struct netns_ipcfg {
	const char *ifname;
	uint32_t addr4, gw4;
	uint8_t prefix4;
	const uint8_t *addr6, *gw6;
	uint8_t prefix6;
};
int netlink_netns_configure(int netns_fd, const struct netns_ipcfg *c, isola_error *err);
/* Is fd a network namespace? (NS_GET_NSTYPE, ioctl_ns(2)). */
int netns_fd_check(int fd, isola_error *err);

/* A tap (tuntap(4)): TUNSETIFF IFF_TAP|IFF_NO_PI[|IFF_VNET_HDR] + TUNSETPERSIST so it outlives netd and the
 * fd; then enslaved/mtu/up over netlink. Returns the tap fd (O_CLOEXEC) for the VMM. */
int netlink_tap_create(struct nl_sock *sk, const char *name, int master, unsigned mtu, bool vnet_hdr, isola_error *err);

/* Every IPv4 prefix in use in this netns: addresses (with their prefix) and routes (all tables, except the
 * default route). Through libmnl dumps (RTM_GETADDR, RTM_GETROUTE). *out is malloc'd. */
int netlink_used_prefixes4(struct cidr4 **out, size_t *n, isola_error *err);
