/* isola-agent: the guest agent of isola virtual machines (docs/agent.md). It listens on AF_VSOCK (or a
 * unix socket, for the host-tier tests), forks one process per connection and serves one request on it:
 * ping, exec, file.push, file.pull. The host is the only caller it accepts: vsock peers must come from
 * the host's CID and a reserved port (only the host's root can bind one), unix peers must be root or
 * the agent's own uid (SO_PEERCRED). */
#include <getopt.h>
#include <linux/vm_sockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "agent.h"
#include "cleanup.h"
#include "ipc.h"
#include "json.h"
#include "log.h"

#define FIRST_REQUEST_TIMEOUT_MS 30000

int agent_reply_ok(int conn, json_t *extra, isola_error *err)
{
	_cleanup_json_ json_t *m = json_pack("{sb}", "ok", 1);
	if (extra)
		json_object_update(m, extra);
	return agent_send_json(conn, m, err);
}

static void reply_err(int conn, const isola_error *e)
{
	_cleanup_json_ json_t *m = json_pack("{sb ss si}", "ok", 0, "error", e->msg, "errno", e->errnum);
	isola_error ignored;
	agent_send_json(conn, m, &ignored);
}

static int serve(int conn, isola_error *err)
{
	_cleanup_free_ char *buf = malloc(AGENT_MSG_MAX + 1);
	if (!buf)
		return isola_err(err, ENOMEM, "receive buffer");
	struct agent_packet p;
	if (agent_recv(conn, buf, FIRST_REQUEST_TIMEOUT_MS, &p, err) < 0)
		return -1;
	_cleanup_json_ json_t *req = p.msg;
	if (!req)
		return isola_err(err, EPROTO, "expected a JSON request, got a data frame ('%c')", p.tag);
	const char *op = NULL;
	if (json_get_str(req, "", "op", true, &op, err) < 0)
		return -1;
	log_debug("request %s", op);
	if (!strcmp(op, "ping"))
		return agent_ping(conn, req, err);
	if (!strcmp(op, "exec"))
		return agent_exec(conn, req, buf, err);
	if (!strcmp(op, "file.push"))
		return agent_file_push(conn, req, buf, err);
	if (!strcmp(op, "file.pull"))
		return agent_file_pull(conn, req, buf, err);
	return isola_err(err, EOPNOTSUPP, "unknown op \"%.64s\" (ping, exec, file.push, file.pull)", op);
}

/* Who may talk to us: see the file comment. */
static int peer_allowed(int conn, bool vsock, const uint32_t *cids, size_t ncids, isola_error *err)
{
	if (!vsock) {
		struct ucred c;
		socklen_t len = sizeof c;
		if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &c, &len) < 0)
			return isola_err(err, errno, "SO_PEERCRED");
		if (c.uid != 0 && c.uid != geteuid())
			return isola_err(err, EACCES, "peer pid %d uid %u refused", c.pid, c.uid);
		return 0;
	}
	struct sockaddr_vm sa;
	socklen_t len = sizeof sa;
	if (getpeername(conn, (struct sockaddr *)&sa, &len) < 0)
		return isola_err(err, errno, "getpeername");
	bool cid_ok = false;
	for (size_t i = 0; i < ncids; i++)
		cid_ok |= sa.svm_cid == cids[i];
	if (!cid_ok)
		return isola_err(err, EACCES, "peer vsock CID %u refused (only the host's)", sa.svm_cid);
	/* vsock(7): binding a port ≤ 1023 needs CAP_NET_BIND_SERVICE, so only the host's root has one */
	if (sa.svm_port > 1023)
		return isola_err(err, EACCES, "peer vsock %u:%u refused: not a reserved port", sa.svm_cid, sa.svm_port);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: isola-agent [--listen vsock:PORT|unix:PATH] [--allow-cid N]... [--debug] [--version]\n"
	        "  default: --listen vsock:%u, callers from the host (CID %u) only\n",
	        AGENT_PORT, VMADDR_CID_HOST);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, 'l'}, {"allow-cid", required_argument, NULL, 'c'},
	    {"debug", no_argument, NULL, 'd'},        {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
	char listen_default[32];
	snprintf(listen_default, sizeof listen_default, "vsock:%u", AGENT_PORT);
	const char *listen_s = listen_default;
	uint32_t cids[8] = {VMADDR_CID_HOST};
	size_t ncids = 1;
	bool debug = false;
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'l': listen_s = optarg; break;
		case 'c':
			if (ncids == ARRAY_SIZE(cids)) {
				fprintf(stderr, "isola-agent: at most %zu --allow-cid\n", ARRAY_SIZE(cids));
				return 2;
			}
			cids[ncids++] = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'd': debug = true; break;
		case 'V': printf("isola-agent %s\n", AGENT_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	log_init("isola-agent", NULL, false, debug);
	isola_error err = {0};
	struct agent_addr addr;
	if (agent_addr_parse(listen_s, true, &addr, &err) < 0) {
		isola_err_print("isola-agent", &err);
		return 2;
	}
	_cleanup_close_ int lfd = agent_listen(&addr, &err);
	if (lfd < 0) {
		isola_err_print("isola-agent", &err);
		return 1;
	}
	/* connection handlers are reaped by the kernel; each resets SIGCHLD for its own children */
	signal(SIGCHLD, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	log_info("listening on %s (version %s)", listen_s, AGENT_VERSION);
	for (;;) {
		int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (conn < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			isola_err(&err, errno, "accept");
			isola_err_print("isola-agent", &err);
			return 1;
		}
		if (peer_allowed(conn, addr.vsock, cids, ncids, &err) < 0) {
			log_warn("%s", err.msg);
			close(conn);
			continue;
		}
		pid_t pid = fork();
		if (pid < 0)
			log_warn("fork: %m");
		if (pid == 0) {
			close(lfd);
			signal(SIGCHLD, SIG_DFL);
			isola_error e = {0};
			if (serve(conn, &e) < 0) {
				log_debug("request failed: %s", e.msg);
				reply_err(conn, &e);
			}
			_exit(0);
		}
		close(conn);
	}
}
