/* Start-up reconciliation and dnsmasq supervision.
 *
 * A restart must not disturb running instances: an existing bridge is adopted, never recreated; a ready
 * attachment whose host end still exists is kept; a running dnsmasq of ours is adopted through its pid file.
 * What a crash left half-made (phase "creating"/"attaching"/…) is undone, so the kernel never holds an
 * object the state does not know about. */
#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "link.h"
#include "log.h"
#include "netd.h"
#include "util.h"

static bool phase_is(json_t *o, const char *p)
{
	return strcmp(json_string_value(json_object_get(o, "phase")) ?: "", p) == 0;
}

static void reconcile_attachments(struct netd *d, const char *net, json_t *n)
{
	json_t *atts = json_object_get(n, "attachments");
	isola_error e;
	int bridge = netlink_link_get(d->sk, net, NULL, NULL, 0, &e);
	const char *inst;
	json_t *a, *tmp;
	json_object_foreach_safe(atts, tmp, inst, a)
	{
		const char *host = json_string_value(json_object_get(a, "host_ifname")) ?: "";
		if (!phase_is(a, "ready")) {
			log_warn("network %s: %s was half-%s when netd stopped: removing %s", net, inst,
			         phase_is(a, "detaching") ? "detached" : "attached", host);
			if (net_attachment_remove(d, a, &e) < 0)
				log_warn("%s", e.msg);
			json_object_del(atts, inst);
			continue;
		}
		int master = 0;
		int idx = netlink_link_get(d->sk, host, &master, NULL, 0, &e);
		if (idx == 0) {
			/* the instance's netns died (taking the veth with it) while we were away */
			log_warn("network %s: %s's interface %s is gone: dropping the attachment", net, inst, host);
			json_object_del(atts, inst);
		} else if (idx > 0 && bridge > 0 && master != bridge) {
			if (netlink_link_set(d->sk, host, bridge, 0, true, &e) < 0)
				log_warn("network %s: re-enslave %s: %s", net, host, e.msg);
		}
	}
}

int netd_reconcile(struct netd *d, isola_error *err)
{
	json_t *nets = netd_networks(d);
	const char *name;
	json_t *n, *tmp;
	json_object_foreach_safe(nets, tmp, name, n)
	{
		if (!phase_is(n, "ready")) {
			log_warn("network %s was half-made when netd stopped: removing it", name);
			net_tear_down(d, name);
			json_object_del(nets, name);
			continue;
		}
		isola_error e;
		if (net_bring_up(d, n, &e) < 0) {
			/* keep the state: an operator can fix the host and restart; nothing is lost */
			log_error("network %s: %s", name, e.msg);
			continue;
		}
		reconcile_attachments(d, name, n);
		if (net_dns_reload(d, n, &e) < 0)
			log_warn("network %s: %s", name, e.msg);
	}
	return netd_save(d, err);
}

void netd_supervise(struct netd *d)
{
	for (size_t i = 0; i < d->nrt; i++) {
		struct netd_net_rt *rt = &d->rt[i];
		uint64_t started = rt->dns.started_ns;
		if (!dnsmasq_check_exit(&rt->dns))
			continue;
		json_t *n = json_object_get(netd_networks(d), rt->name);
		if (!n)
			continue;
		int quick = now_ns() - started < 2000000000ull ? rt->dns.quick_exits + 1 : 0;
		if (quick > 5) {
			log_error(
			    "network %s: dnsmasq keeps dying at start; not restarting it (network.set or restart netd "
			    "to retry)",
			    rt->name);
			continue;
		}
		isola_error e;
		if (net_dns_restart(d, n, &e) < 0)
			log_error("network %s: restart dnsmasq: %s", rt->name, e.msg);
		else
			log_info("network %s: dnsmasq restarted (pid %d)", rt->name, rt->dns.pid);
		rt = netd_rt(d, json_string_value(json_object_get(n, "name")));
		rt->dns.quick_exits = quick;
	}
}
