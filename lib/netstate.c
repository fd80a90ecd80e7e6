#include "netstate.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "cleanup.h"
#include "json.h"
#include "log.h"

static json_t *new_nic(const struct ifaddrs *i, int sock)
{
	json_t *nic =
	    json_pack("{s[] s{sIsIsIsI} ss ss si ss ss}", "addresses", "counters", "bytes_received", (json_int_t)0,
	              "bytes_sent", (json_int_t)0, "packets_received", (json_int_t)0, "packets_sent", (json_int_t)0,
	              "hwaddr", "", "host_name", "", "mtu", 0, "state", (i->ifa_flags & IFF_UP) ? "up" : "down", "type",
	              (i->ifa_flags & IFF_LOOPBACK) ? "loopback" : "broadcast");
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", i->ifa_name);
	if (sock >= 0 && ioctl(sock, SIOCGIFMTU, &ifr) == 0)
		json_object_set_new(nic, "mtu", json_integer(ifr.ifr_mtu));
	return nic;
}

/* getifaddrs(3) gives AF_PACKET entries the MAC and a struct rtnl_link_stats in ifa_data */
static void set_link(json_t *nic, const struct ifaddrs *i)
{
	const struct sockaddr_ll *ll = (const struct sockaddr_ll *)i->ifa_addr;
	if (ll->sll_halen == 6)
		json_object_set_new(nic, "hwaddr",
		                    json_sprintf("%02x:%02x:%02x:%02x:%02x:%02x", ll->sll_addr[0], ll->sll_addr[1],
		                                 ll->sll_addr[2], ll->sll_addr[3], ll->sll_addr[4], ll->sll_addr[5]));
	if (i->ifa_data) {
		const unsigned *st = i->ifa_data;
		json_object_set_new(nic, "counters",
		                    json_pack("{sIsIsIsI}", "packets_received", (json_int_t)st[0], "packets_sent",
		                              (json_int_t)st[1], "bytes_received", (json_int_t)st[2], "bytes_sent",
		                              (json_int_t)st[3]));
	}
}

static json_t *address(const struct ifaddrs *i)
{
	int fam = i->ifa_addr->sa_family;
	const void *a = fam == AF_INET ? (const void *)&((const struct sockaddr_in *)i->ifa_addr)->sin_addr
	                               : (const void *)&((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
	char addr[INET6_ADDRSTRLEN] = "";
	inet_ntop(fam, a, addr, sizeof addr);
	int prefix = 0;
	if (i->ifa_netmask) {
		const unsigned char *mb =
		    fam == AF_INET ? (const unsigned char *)&((const struct sockaddr_in *)i->ifa_netmask)->sin_addr
		                   : (const unsigned char *)&((const struct sockaddr_in6 *)i->ifa_netmask)->sin6_addr;
		for (int b = 0; b < (fam == AF_INET ? 4 : 16); b++)
			prefix += __builtin_popcount(mb[b]);
	}
	const char *scope = (i->ifa_flags & IFF_LOOPBACK)                                          ? "local"
	                    : fam == AF_INET6 && IN6_IS_ADDR_LINKLOCAL((const struct in6_addr *)a) ? "link"
	                                                                                           : "global";
	return json_pack("{ss ss so ss}", "family", fam == AF_INET ? "inet" : "inet6", "address", addr, "netmask",
	                 json_sprintf("%d", prefix), "scope", scope);
}

json_t *netstate_interfaces(void)
{
	json_t *out = json_object();
	struct ifaddrs *ifa;
	if (getifaddrs(&ifa) < 0)
		return out;
	_cleanup_close_ int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		json_t *nic = json_object_get(out, i->ifa_name);
		if (!nic) {
			nic = new_nic(i, sock);
			json_object_set_new(out, i->ifa_name, nic);
		}
		if (!i->ifa_addr)
			continue;
		int fam = i->ifa_addr->sa_family;
		if (fam == AF_PACKET)
			set_link(nic, i);
		else if (fam == AF_INET || fam == AF_INET6)
			json_array_append_new(json_object_get(nic, "addresses"), address(i));
	}
	freeifaddrs(ifa);
	return out;
}

json_t *netstate_interfaces_in(int nsfd)
{
	_cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0 || setns(nsfd, CLONE_NEWNET) < 0)
		return NULL;
	json_t *out = netstate_interfaces();
	/* Staying in a container's namespace would point every later socket of this process into it. */
	if (setns(self, CLONE_NEWNET) < 0) {
		log_error("setns back to the host network namespace: %m");
		abort();
	}
	return out;
}
