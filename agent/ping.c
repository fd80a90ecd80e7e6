/* ping: the agent's version and what the host cannot see from outside — the guest's hostname, its
 * interfaces and addresses (lib/netstate.c: Incus's state.network shape) and its process count. */
#include <ctype.h>
#include <dirent.h>
#include <unistd.h>
#include "agent.h"
#include "cleanup.h"
#include "json.h"
#include "netstate.h"

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
	                                     netstate_interfaces(), "processes", processes());
	return agent_reply_ok(conn, r, err);
}
