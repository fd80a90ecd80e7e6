#include "link.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/nsfs.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include "cleanup.h"
#include "explain.h"

DEFINE_CLEANUP(struct rtnl_link *, rtnl_link_put)
DEFINE_CLEANUP(struct rtnl_addr *, rtnl_addr_put)
DEFINE_CLEANUP(struct rtnl_route *, rtnl_route_put)
DEFINE_CLEANUP(struct nl_addr *, nl_addr_put)
DEFINE_CLEANUP(struct nl_sock *, nl_socket_free)
DEFINE_CLEANUP(struct mnl_socket *, mnl_socket_close)

/* libnl reports its own NLE_* codes; give callers the errno the kernel meant. */
static int nlerr_errno(int r)
{
	switch (-r) {
	case NLE_EXIST: return EEXIST;
	case NLE_NODEV: return ENODEV;
	case NLE_OBJ_NOTFOUND: return ENOENT;
	case NLE_PERM: return EPERM;
	case NLE_NOACCESS: return EACCES;
	case NLE_BUSY: return EBUSY;
	case NLE_INVAL: return EINVAL;
	case NLE_RANGE: return ERANGE;
	case NLE_NOMEM: return ENOMEM;
	case NLE_OPNOTSUPP: return EOPNOTSUPP;
	case NLE_AGAIN: return EAGAIN;
	case NLE_MSGSIZE: return EMSGSIZE;
	case NLE_AF_NOSUPPORT: return EAFNOSUPPORT;
	default: return EIO;
	}
}

/* Trace one libnl request: errno is set from the result so the explain line decodes it. */
#define NL_EXPLAIN(r, ...)                                                                                             \
	do {                                                                                                           \
		errno = (r) < 0 ? nlerr_errno(r) : 0;                                                                  \
		EXPLAIN((r) < 0 ? -1 : 0, "rtnetlink(7)", __VA_ARGS__);                                                \
	} while (0)

static int nl_fail(isola_error *err, int r, const char *what, const char *obj)
{
	return isola_err(err, nlerr_errno(r), "%s %s: %s", what, obj, nl_geterror(r));
}

struct nl_sock *netlink_open(isola_error *err)
{
	_cleanup_(nl_socket_freep) struct nl_sock *sk = nl_socket_alloc();
	if (!sk) {
		isola_err(err, ENOMEM, "nl_socket_alloc");
		return NULL;
	}
	int r = nl_connect(sk, NETLINK_ROUTE);
	NL_EXPLAIN(r, "socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)");
	if (r < 0) {
		nl_fail(err, r, "connect", "NETLINK_ROUTE");
		return NULL;
	}
	return steal_ptr(&sk);
}

void netlink_close(struct nl_sock *sk)
{
	if (sk)
		nl_socket_free(sk);
}

int netlink_link_get(struct nl_sock *sk, const char *name, int *master, char *kind, size_t kindlen, isola_error *err)
{
	_cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
	int r = rtnl_link_get_kernel(sk, 0, name, &l);
	NL_EXPLAIN(r, "RTM_GETLINK(ifname=%s)", name);
	if (r == -NLE_NODEV || r == -NLE_OBJ_NOTFOUND)
		return 0;
	if (r < 0)
		return nl_fail(err, r, "look up link", name);
	if (master)
		*master = rtnl_link_get_master(l);
	if (kind) {
		const char *t = rtnl_link_get_type(l);
		snprintf(kind, kindlen, "%s", t ? t : "");
	}
	return rtnl_link_get_ifindex(l);
}

static struct nl_addr *mac_addr(const uint8_t mac[6])
{
	return nl_addr_build(AF_LLC, mac, 6);
}

int netlink_bridge_create(struct nl_sock *sk, const char *name, const uint8_t mac[6], unsigned mtu, isola_error *err)
{
	_cleanup_(rtnl_link_putp) struct rtnl_link *l = rtnl_link_bridge_alloc();
	_cleanup_(nl_addr_putp) struct nl_addr *a = mac_addr(mac);
	if (!l || !a)
		return isola_err(err, ENOMEM, "allocate bridge %s", name);
	rtnl_link_set_name(l, name);
	rtnl_link_set_addr(l, a);
	rtnl_link_set_mtu(l, mtu);
	rtnl_link_set_flags(l, IFF_UP);
	int r = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
	char m[18];
	NL_EXPLAIN(r, "RTM_NEWLINK(kind=bridge, ifname=%s, address=%s, mtu=%u, flags=IFF_UP) NLM_F_CREATE|NLM_F_EXCL",
	           name, netd_mac_format(mac, m, sizeof m), mtu);
	if (r < 0)
		return nl_fail(err, r, "create bridge", name);
	return 0;
}

int netlink_link_delete(struct nl_sock *sk, const char *name, bool missing_ok, isola_error *err)
{
	_cleanup_(rtnl_link_putp) struct rtnl_link *l = rtnl_link_alloc();
	if (!l)
		return isola_err(err, ENOMEM, "allocate link %s", name);
	rtnl_link_set_name(l, name);
	int r = rtnl_link_delete(sk, l);
	NL_EXPLAIN(r, "RTM_DELLINK(ifname=%s)", name);
	if (r < 0 && missing_ok && (r == -NLE_NODEV || r == -NLE_OBJ_NOTFOUND))
		return 0;
	if (r < 0)
		return nl_fail(err, r, "delete link", name);
	return 0;
}

int netlink_link_set(struct nl_sock *sk, const char *name, int master, unsigned mtu, bool up, isola_error *err)
{
	_cleanup_(rtnl_link_putp) struct rtnl_link *orig = NULL;
	int r = rtnl_link_get_kernel(sk, 0, name, &orig);
	NL_EXPLAIN(r, "RTM_GETLINK(ifname=%s)", name);
	if (r < 0)
		return nl_fail(err, r, "look up link", name);
	_cleanup_(rtnl_link_putp) struct rtnl_link *ch = rtnl_link_alloc();
	if (!ch)
		return isola_err(err, ENOMEM, "allocate link %s", name);
	if (master)
		rtnl_link_set_master(ch, master);
	if (mtu)
		rtnl_link_set_mtu(ch, mtu);
	if (up)
		rtnl_link_set_flags(ch, IFF_UP);
	r = rtnl_link_change(sk, orig, ch, 0);
	NL_EXPLAIN(r, "RTM_NEWLINK(ifname=%s, master=%d, mtu=%u, flags=%s)", name, master, mtu, up ? "IFF_UP" : "0");
	if (r < 0)
		return nl_fail(err, r, "configure link", name);
	return 0;
}

static int addr_add(struct nl_sock *sk, int ifindex, int family, const void *bytes, size_t len, uint8_t prefix,
                    isola_error *err)
{
	char txt[INET6_ADDRSTRLEN];
	inet_ntop(family, bytes, txt, sizeof txt);
	_cleanup_(rtnl_addr_putp) struct rtnl_addr *a = rtnl_addr_alloc();
	_cleanup_(nl_addr_putp) struct nl_addr *local = nl_addr_build(family, bytes, len);
	if (!a || !local)
		return isola_err(err, ENOMEM, "allocate address %s", txt);
	nl_addr_set_prefixlen(local, prefix);
	rtnl_addr_set_ifindex(a, ifindex);
	rtnl_addr_set_family(a, family);
	if (rtnl_addr_set_local(a, local) < 0)
		return isola_err(err, EINVAL, "address %s", txt);
	if (family == AF_INET6)
		rtnl_addr_set_flags(a, IFA_F_NODAD);
	int r = rtnl_addr_add(sk, a, 0);
	NL_EXPLAIN(r, "RTM_NEWADDR(ifindex=%d, %s/%u%s) NLM_F_CREATE", ifindex, txt, prefix,
	           family == AF_INET6 ? ", IFA_F_NODAD" : "");
	if (r < 0 && r != -NLE_EXIST)
		return isola_err(err, nlerr_errno(r), "add address %s/%u to ifindex %d: %s", txt, prefix, ifindex,
		                 nl_geterror(r));
	return 0;
}

int netlink_addr4_add(struct nl_sock *sk, int ifindex, uint32_t addr, uint8_t prefix, isola_error *err)
{
	uint32_t be = htonl(addr);
	return addr_add(sk, ifindex, AF_INET, &be, 4, prefix, err);
}

int netlink_addr6_add(struct nl_sock *sk, int ifindex, const uint8_t addr[16], uint8_t prefix, isola_error *err)
{
	return addr_add(sk, ifindex, AF_INET6, addr, 16, prefix, err);
}

static int route_default(struct nl_sock *sk, int ifindex, int family, const void *gw, size_t len, isola_error *err)
{
	char txt[INET6_ADDRSTRLEN];
	inet_ntop(family, gw, txt, sizeof txt);
	static const uint8_t zero[16];
	_cleanup_(rtnl_route_putp) struct rtnl_route *rt = rtnl_route_alloc();
	_cleanup_(nl_addr_putp) struct nl_addr *dst = nl_addr_build(family, zero, len);
	_cleanup_(nl_addr_putp) struct nl_addr *via = nl_addr_build(family, gw, len);
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	if (!rt || !dst || !via || !nh) {
		if (nh)
			rtnl_route_nh_free(nh);
		return isola_err(err, ENOMEM, "allocate default route via %s", txt);
	}
	nl_addr_set_prefixlen(dst, 0);
	rtnl_route_set_family(rt, (uint8_t)family);
	rtnl_route_set_dst(rt, dst);
	rtnl_route_set_table(rt, RT_TABLE_MAIN);
	rtnl_route_set_protocol(rt, RTPROT_STATIC);
	rtnl_route_set_scope(rt, RT_SCOPE_UNIVERSE);
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_nh_set_gateway(nh, via);
	rtnl_route_add_nexthop(rt, nh); /* rt owns nh now */
	int r = rtnl_route_add(sk, rt, NLM_F_CREATE);
	NL_EXPLAIN(r, "RTM_NEWROUTE(%s default via %s dev ifindex %d, table main, proto static)",
	           family == AF_INET ? "inet" : "inet6", txt, ifindex);
	if (r < 0 && r != -NLE_EXIST)
		return isola_err(err, nlerr_errno(r), "add default route via %s: %s", txt, nl_geterror(r));
	return 0;
}

int netlink_route4_default(struct nl_sock *sk, int ifindex, uint32_t gw, isola_error *err)
{
	uint32_t be = htonl(gw);
	return route_default(sk, ifindex, AF_INET, &be, 4, err);
}

int netlink_route6_default(struct nl_sock *sk, int ifindex, const uint8_t gw[16], isola_error *err)
{
	return route_default(sk, ifindex, AF_INET6, gw, 16, err);
}

int netlink_veth_create(struct nl_sock *sk, const char *host_name, int master, const char *peer_name,
                        const uint8_t peer_mac[6], unsigned mtu, int netns_fd, isola_error *err)
{
	_cleanup_(rtnl_link_putp) struct rtnl_link *l = rtnl_link_veth_alloc();
	if (!l)
		return isola_err(err, ENOMEM, "allocate veth %s", host_name);
	_cleanup_(rtnl_link_putp) struct rtnl_link *peer = rtnl_link_veth_get_peer(l);
	_cleanup_(nl_addr_putp) struct nl_addr *a = mac_addr(peer_mac);
	if (!peer || !a)
		return isola_err(err, ENOMEM, "allocate veth %s", host_name);
	rtnl_link_set_name(l, host_name);
	rtnl_link_set_master(l, master);
	rtnl_link_set_mtu(l, mtu);
	rtnl_link_set_flags(l, IFF_UP);
	rtnl_link_set_name(peer, peer_name);
	rtnl_link_set_addr(peer, a);
	rtnl_link_set_mtu(peer, mtu);
	rtnl_link_set_ns_fd(peer, netns_fd);
	int r = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
	char m[18];
	NL_EXPLAIN(r,
	           "RTM_NEWLINK(kind=veth, ifname=%s, master=%d, mtu=%u, flags=IFF_UP, VETH_INFO_PEER={ifname=%s, "
	           "address=%s, IFLA_NET_NS_FD=%d}) NLM_F_CREATE|NLM_F_EXCL",
	           host_name, master, mtu, peer_name, netd_mac_format(peer_mac, m, sizeof m), netns_fd);
	if (r == -NLE_EXIST)
		return isola_err(err, EEXIST,
		                 "create veth %s/%s: an interface of that name already exists (on the host, "
		                 "or %s inside the instance's network namespace)",
		                 host_name, peer_name, peer_name);
	if (r < 0)
		return nl_fail(err, r, "create veth", host_name);
	return 0;
}

int netns_fd_check(int fd, isola_error *err)
{
	int t = ioctl(fd, NS_GET_NSTYPE);
	EXPLAIN(t, "ioctl_ns(2)", "ioctl(%d, NS_GET_NSTYPE) = %s", fd, t == CLONE_NEWNET ? "CLONE_NEWNET" : "?");
	if (t < 0)
		return isola_err(err, EINVAL, "the fd passed is not a namespace (NS_GET_NSTYPE: %s)", strerror(errno));
	if (t != CLONE_NEWNET)
		return isola_err(err, EINVAL, "the fd passed is a namespace but not a network namespace (type %#x)", t);
	return 0;
}

/* A rtnetlink socket bound to another netns: a netlink socket belongs to the netns it was created in
 * (netlink(7)), so enter, create, and come straight back — netd is single-threaded (setns(2) is per thread). */
static struct nl_sock *netlink_open_in(int netns_fd, isola_error *err)
{
	_cleanup_close_ int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		isola_err(err, errno, "open /proc/self/ns/net");
		return NULL;
	}
	int r = setns(netns_fd, CLONE_NEWNET);
	EXPLAIN(r, "setns(2)", "setns(%d, CLONE_NEWNET)", netns_fd);
	if (r < 0) {
		isola_err(err, errno, "enter the instance's network namespace");
		return NULL;
	}
	struct nl_sock *sk = netlink_open(err);
	r = setns(self, CLONE_NEWNET);
	EXPLAIN(r, "setns(2)", "setns(%d, CLONE_NEWNET) back to netd's own", self);
	if (r < 0) /* cannot happen for root with our own ns fd; if it does we must not go on in the wrong ns */
		abort();
	return sk;
}

int netlink_netns_configure(int netns_fd, const struct netns_ipcfg *c, isola_error *err)
{
	_cleanup_(nl_socket_freep) struct nl_sock *sk = netlink_open_in(netns_fd, err);
	if (!sk)
		return -1;
	if (netlink_link_set(sk, "lo", 0, 0, true, err) < 0)
		return isola_err_wrap(err, "in the instance's netns");
	if (netlink_link_set(sk, c->ifname, 0, 0, true, err) < 0)
		return isola_err_wrap(err, "in the instance's netns");
	int idx = netlink_link_get(sk, c->ifname, NULL, NULL, 0, err);
	if (idx <= 0)
		return idx < 0 ? -1 : isola_err(err, ENODEV, "%s vanished from the instance's netns", c->ifname);
	if (c->addr4) {
		if (netlink_addr4_add(sk, idx, c->addr4, c->prefix4, err) < 0 ||
		    netlink_route4_default(sk, idx, c->gw4, err) < 0)
			return isola_err_wrap(err, "in the instance's netns");
	}
	if (c->addr6) {
		if (netlink_addr6_add(sk, idx, c->addr6, c->prefix6, err) < 0 ||
		    netlink_route6_default(sk, idx, c->gw6, err) < 0)
			return isola_err_wrap(err, "in the instance's netns");
	}
	return 0;
}

int netlink_tap_create(struct nl_sock *sk, const char *name, int master, unsigned mtu, bool vnet_hdr, isola_error *err)
{
	_cleanup_close_ int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	EXPLAIN(fd, "open(2)", "open(\"/dev/net/tun\", O_RDWR|O_CLOEXEC)");
	if (fd < 0)
		return isola_err(err, errno, "open /dev/net/tun");
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0);
	int r = ioctl(fd, TUNSETIFF, &ifr);
	EXPLAIN(r, "tuntap(4)", "ioctl(%d, TUNSETIFF, {%s, IFF_TAP|IFF_NO_PI%s})", fd, name,
	        vnet_hdr ? "|IFF_VNET_HDR" : "");
	if (r < 0)
		return isola_err(err, errno, "create tap %s", name);
	/* persistent: the device outlives this fd, so a restarted netd still finds (and can remove) it */
	r = ioctl(fd, TUNSETPERSIST, 1);
	EXPLAIN(r, "tuntap(4)", "ioctl(%d, TUNSETPERSIST, 1)", fd);
	if (r < 0)
		return isola_err(err, errno, "make tap %s persistent", name);
	if (netlink_link_set(sk, name, master, mtu, true, err) < 0) {
		isola_error e2;
		netlink_link_delete(sk, name, true, &e2);
		return -1;
	}
	return steal_fd(&fd);
}

/* libmnl dump helpers: one request, walk every reply with a callback. */
struct used_acc {
	struct cidr4 *v;
	size_t n, cap;
};

static void used_push(struct used_acc *u, uint32_t addr, uint8_t prefix)
{
	if (u->n == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 32;
		struct cidr4 *nv = realloc(u->v, cap * sizeof *nv);
		if (!nv)
			return;
		u->v = nv;
		u->cap = cap;
	}
	u->v[u->n++] = (struct cidr4){addr, prefix};
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct nlattr *attr;
	mnl_attr_for_each(attr, nlh, sizeof *ifa)
	{
		if (mnl_attr_get_type(attr) == IFA_LOCAL && mnl_attr_get_payload_len(attr) == 4) {
			uint32_t be;
			memcpy(&be, mnl_attr_get_payload(attr), 4);
			used_push(data, ntohl(be), ifa->ifa_prefixlen);
		}
	}
	return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	if (rtm->rtm_dst_len == 0) /* the default route overlaps everything and means nothing here */
		return MNL_CB_OK;
	struct nlattr *attr;
	mnl_attr_for_each(attr, nlh, sizeof *rtm)
	{
		if (mnl_attr_get_type(attr) == RTA_DST && mnl_attr_get_payload_len(attr) == 4) {
			uint32_t be;
			memcpy(&be, mnl_attr_get_payload(attr), 4);
			used_push(data, ntohl(be), rtm->rtm_dst_len);
		}
	}
	return MNL_CB_OK;
}

static int mnl_dump(uint16_t type, size_t hdrlen, mnl_cb_t cb, void *data, isola_error *err)
{
	_cleanup_(mnl_socket_closep) struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return isola_err(err, errno, "libmnl NETLINK_ROUTE socket");
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	uint32_t seq = (uint32_t)time(NULL);
	nlh->nlmsg_seq = seq;
	struct rtgenmsg *g = mnl_nlmsg_put_extra_header(nlh, hdrlen);
	g->rtgen_family = AF_INET;
	ssize_t r = mnl_socket_sendto(nl, nlh, nlh->nlmsg_len);
	EXPLAIN(r, "rtnetlink(7)", "%s(AF_INET) NLM_F_DUMP via libmnl",
	        type == RTM_GETADDR ? "RTM_GETADDR" : "RTM_GETROUTE");
	if (r < 0)
		return isola_err(err, errno, "netlink dump request");
	unsigned portid = mnl_socket_get_portid(nl);
	while ((r = mnl_socket_recvfrom(nl, buf, sizeof buf)) > 0) {
		int c = mnl_cb_run(buf, (size_t)r, seq, portid, cb, data);
		if (c == MNL_CB_STOP)
			return 0;
		if (c < 0)
			return isola_err(err, errno, "netlink dump");
	}
	return r < 0 ? isola_err(err, errno, "netlink dump receive") : 0;
}

int netlink_used_prefixes4(struct cidr4 **out, size_t *n, isola_error *err)
{
	struct used_acc u = {0};
	if (mnl_dump(RTM_GETADDR, sizeof(struct ifaddrmsg), addr_cb, &u, err) < 0 ||
	    mnl_dump(RTM_GETROUTE, sizeof(struct rtmsg), route_cb, &u, err) < 0) {
		free(u.v);
		return -1;
	}
	*out = u.v;
	*n = u.n;
	return 0;
}
