/* isola-netd wire protocol: the contract the instance manager codes against.
 *
 * Transport: lib/ipc.h (JSON over SOCK_SEQPACKET at /run/isola/netd.sock, fds by SCM_RIGHTS, SO_PEERCRED).
 * Every request is {"op": NETD_OP_*, ...}; every reply is {"ok": true, ...} or
 * {"ok": false, "error": "...", "errno": N}. Names (network, instance, ifname) are 1..15 bytes with no '/',
 * no whitespace, no control characters, not "." or "..". Unknown keys in a request are an error (EINVAL), so
 * a typo never silently does the default. Full field reference with examples: docs/netd.md "## Protocol". */
#pragma once

#define NETD_DEFAULT_SOCKET    "/run/isola/netd.sock"
#define NETD_DEFAULT_STATE_DIR "/var/lib/isola/netd"
#define NETD_NAME_MAX          15 /* IFNAMSIZ - 1: a network name is also its bridge name */

/* {name, ipv4?: "10.x.y.1/24"|"auto"|"none" (auto), ipv6?: "fdxx::1/64"|"auto"|"none" (none), mtu?: int (1500),
 *  ipv4_nat?: bool (true), ipv6_nat?: bool (false), dns_domain?: str ("isola"), dhcp?: bool (true),
 *  upstream_dns?: "" (none: dnsmasq --no-resolv) | "host" (/etc/resolv.conf) | "ip[,ip…]"}
 *  → {network: {...as network.show}} */
#define NETD_OP_NETWORK_CREATE "network.create"
/* {name} → {}. Fails (EBUSY) while instances are attached. Removes bridge, nft table, dnsmasq, state. */
#define NETD_OP_NETWORK_DELETE "network.delete"
/* {} → {networks: [{name, bridge, ipv4, ipv6, mtu, ...}]} */
#define NETD_OP_NETWORK_LIST "network.list"
/* {name} → {network: {name, bridge, ipv4, ipv6, mtu, ipv4_nat, ipv6_nat, dns_domain, dhcp, upstream_dns,
 *  attachments: [...], forwards: [...], leases: [...], dnsmasq_pid}} */
#define NETD_OP_NETWORK_SHOW "network.show"
/* {name, key, value} keys: mtu (int), ipv4_nat, ipv6_nat, dhcp (bool), dns_domain, upstream_dns (str)
 *  → {network: {...}} */
#define NETD_OP_NETWORK_SET "network.set"
/* {name} → {leases: [{instance?, mac, ipv4|ipv6, hostname, expires, kind: "dynamic"|"reservation"|"static"}]} */
#define NETD_OP_NETWORK_LEASES "network.leases"
/* {network, instance, kind: "veth"|"tap", ifname?: "eth0", mac?: "aa:bb:..", mtu?: int, ipv4?: "a.b.c.d",
 *  ipv6?: "fd..::n", static?: bool (false), vnet_hdr?: bool (false, tap only)}
 *  veth: exactly one fd passed: the target network namespace (open("/proc/PID/ns/net") or a bind mount).
 *        The peer is created inside it, named ifname, brought up; with static=true the address(es) and
 *        default route are configured inside it over netlink; otherwise the instance runs a DHCP client and
 *        gets ipv4 (a reservation for its MAC).
 *  tap:  no fd passed; the reply carries the tap fd (O_RDWR, IFF_TAP|IFF_NO_PI [|IFF_VNET_HDR]).
 *  → {host_ifname, mac, ipv4?, ipv6?, gateway4?, gateway6?, prefix4?, mtu} (+ tap fd) */
#define NETD_OP_ATTACH "attach"
/* {network, instance} → {}. ENOENT when that instance is not attached to that network. */
#define NETD_OP_DETACH "detach"
/* {network, listen: "A.B.C.D:PORT"|"0.0.0.0:PORT", proto?: "tcp"|"udp" (tcp), target: "A.B.C.D:PORT"} → {} */
#define NETD_OP_FORWARD_ADD "forward.add"
/* {network, listen, proto?} → {} */
#define NETD_OP_FORWARD_DELETE "forward.delete"
/* {network} → {forwards: [{listen, proto, target}]} */
#define NETD_OP_FORWARD_LIST "forward.list"
/* {} → {version, pid, networks, attachments, dnsmasq: [{network, pid, running}]} */
#define NETD_OP_STATUS "status"
