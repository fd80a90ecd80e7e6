/* ping: the agent's version and what the host cannot see from outside — the guest's hostname, its
 * interfaces and addresses (Incus's state.network shape: family/address/netmask/scope, hwaddr, mtu,
 * state, type, counters) and its process count. */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "agent.h"
#include "cleanup.h"
#include "json.h"

static json_t *interfaces(void)
{
	struct ifaddrs *ifa;
	json_t *out = json_object();
	if (getifaddrs(&ifa) < 0)
		return out;
	_cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		json_t *nic = json_object_get(out, i->ifa_name);
		if (!nic) {
			nic = json_pack("{s[] s{sIsIsIsI} ss ss si ss ss}", "addresses", "counters", "bytes_received",
			                (json_int_t)0, "bytes_sent", (json_int_t)0, "packets_received", (json_int_t)0,
			                "packets_sent", (json_int_t)0, "hwaddr", "", "host_name", "", "mtu", 0, "state",
			                (i->ifa_flags & IFF_UP) ? "up" : "down", "type",
			                (i->ifa_flags & IFF_LOOPBACK) ? "loopback" : "broadcast");
			struct ifreq ifr = {0};
			snprintf(ifr.ifr_name, IFNAMSIZ, "%s", i->ifa_name);
			if (s >= 0 && ioctl(s, SIOCGIFMTU, &ifr) == 0)
				json_object_set_new(nic, "mtu", json_integer(ifr.ifr_mtu));
			json_object_set_new(out, i->ifa_name, nic);
		}
		if (!i->ifa_addr)
			continue;
		int fam = i->ifa_addr->sa_family;
		if (fam == AF_PACKET) {
			struct sockaddr_ll *ll = (struct sockaddr_ll *)i->ifa_addr;
			if (ll->sll_halen == 6)
				json_object_set_new(nic, "hwaddr",
				                    json_sprintf("%02x:%02x:%02x:%02x:%02x:%02x", ll->sll_addr[0],
				                                 ll->sll_addr[1], ll->sll_addr[2], ll->sll_addr[3],
				                                 ll->sll_addr[4], ll->sll_addr[5]));
			if (i->ifa_data) {
				/* struct rtnl_link_stats for AF_PACKET entries (getifaddrs(3)) */
				const unsigned *st = i->ifa_data;
				json_object_set_new(nic, "counters",
				                    json_pack("{sIsIsIsI}", "packets_received", (json_int_t)st[0],
				                              "packets_sent", (json_int_t)st[1], "bytes_received",
				                              (json_int_t)st[2], "bytes_sent", (json_int_t)st[3]));
			}
			continue;
		}
		if (fam != AF_INET && fam != AF_INET6)
			continue;
		char addr[INET6_ADDRSTRLEN] = "";
		const void *a = fam == AF_INET ? (const void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr
		                               : (const void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
		inet_ntop(fam, a, addr, sizeof addr);
		int prefix = 0;
		if (i->ifa_netmask) {
			const unsigned char *mb =
			    fam == AF_INET ? (const unsigned char *)&((struct sockaddr_in *)i->ifa_netmask)->sin_addr
			                   : (const unsigned char *)&((struct sockaddr_in6 *)i->ifa_netmask)->sin6_addr;
			for (int b = 0; b < (fam == AF_INET ? 4 : 16); b++)
				prefix += __builtin_popcount(mb[b]);
		}
		const char *scope = (i->ifa_flags & IFF_LOOPBACK)                                          ? "local"
		                    : fam == AF_INET6 && IN6_IS_ADDR_LINKLOCAL((const struct in6_addr *)a) ? "link"
		                                                                                           : "global";
		json_array_append_new(json_object_get(nic, "addresses"),
		                      json_pack("{ss ss so ss}", "family", fam == AF_INET ? "inet" : "inet6", "address",
		                                addr, "netmask", json_sprintf("%d", prefix), "scope", scope));
	}
	freeifaddrs(ifa);
	return out;
}

static int processes(void)
{
	_cleanup_closedir_ DIR *d = opendir("/proc");
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += isdigit((unsigned char)e->d_name[0]) != 0;
	return n;
}

int agent_ping(int conn, json_t *req, isola_error *err)
{
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	_cleanup_json_ json_t *r = json_pack("{ss ss so si}", "version", AGENT_VERSION, "hostname", host, "network",
	                                     interfaces(), "processes", processes());
	return agent_reply_ok(conn, r, err);
}
