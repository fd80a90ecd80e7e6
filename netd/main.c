/* isola-netd: the privileged network helper (docs/netd.md). One thread, one poll loop: the listening
 * socket, a signalfd for SIGTERM/SIGINT, and one pidfd per supervised dnsmasq. Requests are handled one at
 * a time, to completion: every op is short, and serialising them is what keeps the state file coherent. */
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"
#include "ipc.h"
#include "json.h"
#include "link.h"
#include "log.h"
#include "netd.h"
#include "protocol.h"

/* mkdir -p of a host path we own (not a path inside an instance: lib/path.h is for those) */
static int mkdir_parents(const char *dir, isola_error *err)
{
	char p[2048];
	snprintf(p, sizeof p, "%s", dir);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return isola_err(err, errno, "mkdir %s", p);
		*s = '/';
	}
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		return isola_err(err, errno, "mkdir %s", p);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: isola-netd [--socket PATH] [--state-dir DIR] [--group GROUP] [--explain] [--debug]\n"
	           "                  [--log FILE] [--log-format text|json] [--no-sysctl]\n"
	           "       isola-netd [--socket PATH] call JSON [NETNS-PATH]     (one request, reply on stdout)\n"
	           "The isola network helper: managed bridges, veths, taps, dnsmasq, nftables (docs/netd.md).\n");
}

/* `isola-netd [--socket S] call JSON [NETNS]`: one request, reply printed as JSON (for scripts, debugging and
 * the docs' walkthrough). NETNS, a path such as /run/netns/NAME, is passed as the fd an attach needs. */
static int client_call(const char *sock, const char *text, const char *netns)
{
	isola_error err = {0};
	json_error_t je;
	_cleanup_json_ json_t *req = json_loads(text, 0, &je);
	if (!req || !json_is_object(req)) {
		fprintf(stderr, "isola-netd call: the request is not a JSON object: %s\n", req ? "" : je.text);
		return 2;
	}
	_cleanup_close_ int nsfd = -1;
	if (netns && (nsfd = open(netns, O_RDONLY | O_CLOEXEC)) < 0) {
		isola_err(&err, errno, "open %s", netns);
		isola_err_print("isola-netd call", &err);
		return 1;
	}
	_cleanup_json_ json_t *reply = NULL;
	int rfds[IPC_MAX_FDS];
	size_t nr = 0;
	if (ipc_call(sock, req, nsfd >= 0 ? &nsfd : NULL, nsfd >= 0 ? 1 : 0, &reply, rfds, &nr, NULL, NULL, &err) < 0) {
		isola_err_print("isola-netd call", &err);
		return 1;
	}
	for (size_t i = 0; i < nr; i++)
		close(rfds[i]);
	_cleanup_free_ char *out = json_dumps(reply, JSON_INDENT(2));
	printf("%s\n", out ? out : "{}");
	return 0;
}

/* sd_notify(3) without libsystemd: one datagram "READY=1" to $NOTIFY_SOCKET (Type=notify). */
static void notify_ready(void)
{
	const char *p = getenv("NOTIFY_SOCKET");
	if (!p || (p[0] != '/' && p[0] != '@') || strlen(p) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	strcpy(a.sun_path, p);
	if (a.sun_path[0] == '@')
		a.sun_path[0] = 0;
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0)
		sendto(fd, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *)&a,
		       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(p)));
}

static void serve_one(struct netd *d, int lfd, gid_t gid)
{
	isola_error err = {0};
	struct ucred peer;
	_cleanup_close_ int c = ipc_accept(lfd, gid, &peer, &err);
	if (c < 0) {
		log_warn("%s", err.msg);
		return;
	}
	/* a client that connects and goes silent must not wedge the daemon */
	struct timeval tv = {.tv_sec = 10};
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	_cleanup_json_ json_t *req = NULL;
	int fds[IPC_MAX_FDS];
	size_t nfds = 0;
	if (ipc_recv(c, &req, fds, &nfds, &err) < 0) {
		ipc_reply_err(c, &err);
		return;
	}
	_cleanup_json_ json_t *reply = NULL;
	int out_fd = -1;
	const char *op = json_string_value(json_object_get(req, "op"));
	log_debug("request %s from pid %d uid %u", op ? op : "?", peer.pid, peer.uid);
	int r = netd_dispatch(d, req, fds, nfds, &reply, &out_fd, &err);
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	if (r < 0) {
		log_info("%s from pid %d failed: %s", op ? op : "request", peer.pid, err.msg);
		ipc_reply_err(c, &err);
		return;
	}
	ipc_reply_ok(c, reply, out_fd >= 0 ? &out_fd : NULL, out_fd >= 0 ? 1 : 0);
	if (out_fd >= 0)
		close(out_fd);
}

int main(int argc, char **argv)
{
	const char *sock = NETD_DEFAULT_SOCKET, *state_dir = NETD_DEFAULT_STATE_DIR, *group = NULL, *logf = NULL;
	bool debug = false, json_log = false;
	struct netd d = {0};
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"state-dir", required_argument, NULL, 'd'},
	    {"group", required_argument, NULL, 'g'},
	    {"explain", no_argument, NULL, 'e'},
	    {"debug", no_argument, NULL, 'D'},
	    {"log", required_argument, NULL, 'l'},
	    {"log-format", required_argument, NULL, 'f'},
	    {"fault-point", required_argument, NULL, 'F'},
	    {"no-sysctl", no_argument, NULL, 'N'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int o;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 's': sock = optarg; break;
		case 'd': state_dir = optarg; break;
		case 'g': group = optarg; break;
		case 'e': explain_enabled = true; break;
		case 'D': debug = true; break;
		case 'l': logf = optarg; break;
		case 'f': json_log = strcmp(optarg, "json") == 0; break;
		case 'F': d.fault = optarg; break;
		case 'N': d.no_sysctl = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc && strcmp(argv[optind], "call") == 0 && argc - optind >= 2 && argc - optind <= 3)
		return client_call(sock, argv[optind + 1], argc - optind == 3 ? argv[optind + 2] : NULL);
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (log_init("isola-netd", logf, json_log, debug) < 0) {
		fprintf(stderr, "isola-netd: open log %s: %s\n", logf, strerror(errno));
		return 1;
	}
	isola_error err = {0};
	gid_t gid = (gid_t)-1;
	if (group) {
		struct group *g = getgrnam(group);
		if (!g) {
			isola_err(&err, ENOENT, "group %s does not exist", group);
			isola_err_print("isola-netd", &err);
			return 1;
		}
		gid = g->gr_gid;
	}
	signal(SIGPIPE, SIG_IGN);
	if (strlen(state_dir) >= 1900) {
		fprintf(stderr, "isola-netd: state dir path too long\n");
		return 2;
	}
	if (mkdir_parents(state_dir, &err) < 0) {
		isola_err_print("isola-netd", &err);
		return 1;
	}
	/* absolute: the path is baked into dnsmasq's command line, which is how a restarted netd recognises it */
	_cleanup_free_ char *abs_state = realpath(state_dir, NULL);
	if (!abs_state) {
		isola_err(&err, errno, "state dir %s", state_dir);
		isola_err_print("isola-netd", &err);
		return 1;
	}
	state_dir = abs_state;
	snprintf(d.state_dir, sizeof d.state_dir, "%s", state_dir);
	snprintf(d.state_path, sizeof d.state_path, "%s/state.json", state_dir);
	/* dnsmasq drops to nobody and re-reads its host files on SIGHUP: every directory above them must be
	 * searchable by others (0711 is enough: nothing is listable) */
	chmod(state_dir, 0711);
	for (char p[2048], *s = strcpy(p, state_dir) + strlen(state_dir); s > p; s--) {
		struct stat st;
		if (*s != '/')
			continue;
		*s = 0;
		if (stat(p[0] ? p : "/", &st) == 0 && !(st.st_mode & S_IXOTH))
			log_warn("%s is not searchable by others (mode %o): dnsmasq, running as nobody, will not read "
			         "reservations under %s",
			         p, st.st_mode & 07777, state_dir);
	}
	/* one netd per state dir: a second one would fight the first over every bridge */
	char lockp[2100];
	snprintf(lockp, sizeof lockp, "%s/lock", state_dir);
	_cleanup_close_ int lock = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) < 0) {
		isola_err(&err, errno, "another isola-netd owns %s (lock %s)", state_dir, lockp);
		isola_err_print("isola-netd", &err);
		return 1;
	}
	if (access(d.state_path, F_OK) == 0) {
		d.state = json_load_path(d.state_path, &err);
		if (!d.state || !json_is_object(d.state)) {
			/* never start over a state we cannot read: that would orphan every bridge it names */
			isola_err_wrap(&err, "refusing to start: state %s is unreadable (fix or move it)",
			               d.state_path);
			isola_err_print("isola-netd", &err);
			return 1;
		}
	} else {
		d.state = json_pack("{s:i,s:{}}", "version", 1, "networks");
	}
	d.sk = netlink_open(&err);
	if (!d.sk || netd_reconcile(&d, &err) < 0) {
		isola_err_print("isola-netd", &err);
		return 1;
	}
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	_cleanup_close_ int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	_cleanup_close_ int lfd = ipc_listen(sock, gid, &err);
	if (sfd < 0 || lfd < 0) {
		if (sfd < 0)
			isola_err(&err, errno, "signalfd");
		isola_err_print("isola-netd", &err);
		return 1;
	}
	log_info("listening on %s, state in %s", sock, state_dir);
	notify_ready();
	for (;;) {
		struct pollfd p[2 + 256];
		size_t np = 0;
		p[np++] = (struct pollfd){.fd = lfd, .events = POLLIN};
		p[np++] = (struct pollfd){.fd = sfd, .events = POLLIN};
		for (size_t i = 0; i < d.nrt && np < ARRAY_SIZE(p); i++)
			if (d.rt[i].dns.pidfd >= 0)
				p[np++] = (struct pollfd){.fd = d.rt[i].dns.pidfd, .events = POLLIN};
		if (poll(p, np, -1) < 0) {
			if (errno == EINTR)
				continue;
			isola_err(&err, errno, "poll");
			isola_err_print("isola-netd", &err);
			return 1;
		}
		if (p[1].revents) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) != sizeof si) {
				continue;
			} else if (si.ssi_signo == SIGHUP) {
				/* reload: re-check every object against the state and repair what drifted */
				log_info("SIGHUP: reconciling");
				if (netd_reconcile(&d, &err) < 0)
					log_error("reconcile: %s", err.msg);
			} else {
				/* leave bridges, veths and dnsmasq running: instances keep their network, and the next
				 * netd adopts it all (systemd unit: KillMode=process) */
				log_info("signal %u: exiting, networks stay up", si.ssi_signo);
				unlink(sock);
				return 0;
			}
		}
		if (np > 2)
			netd_supervise(&d);
		if (p[0].revents & POLLIN)
			serve_one(&d, lfd, gid);
	}
}
