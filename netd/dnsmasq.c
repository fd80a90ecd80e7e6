#include "dnsmasq.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"
#include "log.h"
#include "util.h"

static int strv_add(char ***v, size_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int strv_add(char ***v, size_t *n, const char *fmt, ...)
{
	char **nv = realloc(*v, (*n + 2) * sizeof **v);
	if (!nv)
		return -1;
	*v = nv;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&nv[*n], fmt, ap);
	va_end(ap);
	if (r < 0)
		return -1;
	nv[++*n] = NULL;
	return 0;
}

char **dnsmasq_argv(const struct dnsmasq_cfg *c, const char *dir)
{
	char **v = NULL;
	size_t n = 0;
	int bad = 0;
	char a[64], b[64], m[64];
	bad |= strv_add(&v, &n, "%s", DNSMASQ_PATH);
	bad |= strv_add(&v, &n, "--keep-in-foreground");
	bad |= strv_add(&v, &n, "--strict-order");
	bad |= strv_add(&v, &n, "--bind-interfaces");
	bad |= strv_add(&v, &n, "--except-interface=lo");
	bad |= strv_add(&v, &n, "--interface=%s", c->bridge);
	bad |= strv_add(&v, &n, "--conf-file=/dev/null");
	bad |= strv_add(&v, &n, "--user=nobody");
	bad |= strv_add(&v, &n, "--group=nogroup");
	bad |= strv_add(&v, &n, "--log-facility=-");
	bad |= strv_add(&v, &n, "--pid-file=%s/dnsmasq.pid", dir);
	bad |= strv_add(&v, &n, "--dhcp-leasefile=%s/dnsmasq.leases", dir);
	bad |= strv_add(&v, &n, "--dhcp-hostsfile=%s/dhcp-hosts", dir);
	bad |= strv_add(&v, &n, "--addn-hosts=%s/hosts", dir);
	bad |= strv_add(&v, &n, "--domain=%s", c->domain);
	bad |= strv_add(&v, &n, "--local=/%s/", c->domain);
	bad |= strv_add(&v, &n, "--expand-hosts");
	bad |= strv_add(&v, &n, "--dhcp-no-override");
	bad |= strv_add(&v, &n, "--dhcp-authoritative");
	if (c->has4) {
		bad |= strv_add(&v, &n, "--listen-address=%s", ip4_format(c->v4.addr, a, sizeof a));
		if (c->dhcp) {
			uint32_t lo = cidr4_net(c->v4) + 1, hi = cidr4_bcast(c->v4) - 1;
			if (lo == c->v4.addr)
				lo++;
			bad |= strv_add(&v, &n, "--dhcp-range=%s,%s,%s,1h", ip4_format(lo, a, sizeof a),
			                ip4_format(hi, b, sizeof b), ip4_format(cidr4_mask(c->v4.prefix), m, sizeof m));
		}
	}
	if (c->has6) {
		bad |= strv_add(&v, &n, "--listen-address=%s", cidr6_format(&c->v6, false, a, sizeof a));
		bad |= strv_add(&v, &n, "--enable-ra");
		/* RA with SLAAC (and names for SLAAC hosts): the instance derives its own address in the /64 */
		bad |= strv_add(&v, &n, "--dhcp-range=::,constructor:%s,ra-stateless,ra-names", c->bridge);
	}
	if (!c->upstream || !*c->upstream) {
		bad |= strv_add(&v, &n, "--no-resolv");
	} else if (strcmp(c->upstream, "host") != 0) {
		bad |= strv_add(&v, &n, "--no-resolv");
		_cleanup_free_ char *copy = strdup(c->upstream);
		char *save = NULL;
		for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
			bad |= strv_add(&v, &n, "--server=%s", t);
	}
	if (bad) {
		strv_freep(&v);
		return NULL;
	}
	return v;
}

static int write_atomic(const char *dir, const char *name, const char *text, isola_error *err)
{
	char tmp[4096], dst[4096];
	snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
	snprintf(dst, sizeof dst, "%s/%s", dir, name);
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return isola_err(err, errno, "create %s", tmp);
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len)
		return isola_err(err, errno ? errno : EIO, "write %s", tmp);
	if (fchmod(fd, 0644) < 0 || rename(tmp, dst) < 0)
		return isola_err(err, errno, "install %s", dst);
	return 0;
}

int dnsmasq_write_hosts(const char *dir, const char *domain, json_t *attachments, isola_error *err)
{
	_cleanup_free_ char *dh = NULL, *hosts = NULL;
	size_t dl = 0, hl = 0;
	FILE *fd = open_memstream(&dh, &dl), *fh = open_memstream(&hosts, &hl);
	if (!fd || !fh) {
		if (fd)
			fclose(fd);
		if (fh)
			fclose(fh);
		return isola_err(err, ENOMEM, "host files");
	}
	const char *inst;
	json_t *a;
	json_object_foreach(attachments, inst, a)
	{
		const char *mac = json_string_value(json_object_get(a, "mac"));
		const char *ip4 = json_string_value(json_object_get(a, "ipv4"));
		const char *ip6 = json_string_value(json_object_get(a, "ipv6"));
		if (mac && ip4)
			fprintf(fd, "%s,%s,%s\n", mac, ip4, inst);
		if (ip4)
			fprintf(fh, "%s %s.%s %s\n", ip4, inst, domain, inst);
		if (ip6)
			fprintf(fh, "%s %s.%s %s\n", ip6, inst, domain, inst);
	}
	fclose(fd);
	fclose(fh);
	if (write_atomic(dir, "dhcp-hosts", dh ? dh : "", err) < 0 ||
	    write_atomic(dir, "hosts", hosts ? hosts : "", err) < 0)
		return -1;
	return 0;
}

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}
static int pidfd_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

int dnsmasq_start(struct dnsmasq *d, const struct dnsmasq_cfg *c, const char *dir, isola_error *err)
{
	/* fail the request now, not five silent restarts later */
	if (access(DNSMASQ_PATH, X_OK) < 0)
		return isola_err(err, errno, "%s (Debian package dnsmasq-base)", DNSMASQ_PATH);
	_cleanup_strv_ char **argv = dnsmasq_argv(c, dir);
	if (!argv)
		return isola_err(err, ENOMEM, "dnsmasq arguments");
	pid_t pid = fork();
	if (pid < 0)
		return isola_err(err, errno, "fork for dnsmasq on %s", c->bridge);
	if (pid == 0) {
		/* child: nothing of netd's leaks into dnsmasq (close_range(2)); own process group so a
		 * terminal's signals aimed at netd never reach it; default signal state */
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		setpgid(0, 0);
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0 && nul != 0) {
			dup2(nul, 0);
			close(nul);
		}
		syscall(SYS_close_range, 3, ~0u, 0);
		char *envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
		execve(argv[0], argv, envp);
		_exit(127);
	}
	if (explain_enabled) {
		char line[2048] = "";
		for (char **p = argv; *p; p++) {
			strncat(line, *p, sizeof line - strlen(line) - 2);
			strncat(line, " ", sizeof line - strlen(line) - 1);
		}
		errno = 0;
		EXPLAIN(pid, "fork(2), execve(2)", "dnsmasq: %s", line);
	}
	int pfd = pidfd_open_(pid);
	if (pfd < 0) {
		int e = errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return isola_err(err, e, "pidfd_open for dnsmasq %d", pid);
	}
	fcntl(pfd, F_SETFD, FD_CLOEXEC);
	d->pid = pid;
	d->pidfd = pfd;
	d->child = true;
	d->started_ns = now_ns();
	log_info("dnsmasq for %s started, pid %d", c->bridge, pid);
	return 0;
}

int dnsmasq_adopt(struct dnsmasq *d, const char *dir)
{
	char path[4096], cmdpath[64];
	snprintf(path, sizeof path, "%s/dnsmasq.pid", dir);
	_cleanup_free_ char *txt = NULL;
	isola_error e;
	if (read_file_at(AT_FDCWD, path, &txt, NULL, &e) < 0)
		return 0;
	long pid = strtol(txt, NULL, 10);
	if (pid <= 1)
		return 0;
	snprintf(cmdpath, sizeof cmdpath, "/proc/%ld/cmdline", pid);
	_cleanup_free_ char *cmd = NULL;
	size_t len = 0;
	if (read_file_at(AT_FDCWD, cmdpath, &cmd, &len, &e) < 0)
		return 0;
	/* cmdline is NUL-separated: the pid file argument must be ours, exactly */
	char want[4200];
	snprintf(want, sizeof want, "--pid-file=%s", path);
	bool ours = false, is_dnsmasq = strcmp(cmd, DNSMASQ_PATH) == 0;
	for (size_t i = 0; i < len; i += strlen(cmd + i) + 1)
		if (strcmp(cmd + i, want) == 0)
			ours = true;
	if (!ours || !is_dnsmasq)
		return 0;
	int pfd = pidfd_open_((pid_t)pid);
	EXPLAIN(pfd, "pidfd_open(2)", "pidfd_open(%ld) adopting dnsmasq", pid);
	if (pfd < 0)
		return 0;
	fcntl(pfd, F_SETFD, FD_CLOEXEC);
	d->pid = (pid_t)pid;
	d->pidfd = pfd;
	d->child = false;
	d->started_ns = now_ns();
	return 1;
}

int dnsmasq_reload(struct dnsmasq *d, isola_error *err)
{
	if (d->pidfd < 0)
		return 0;
	int r = pidfd_signal(d->pidfd, SIGHUP);
	EXPLAIN(r, "pidfd_send_signal(2)", "pidfd_send_signal(dnsmasq %d, SIGHUP)", d->pid);
	if (r < 0 && errno != ESRCH)
		return isola_err(err, errno, "SIGHUP dnsmasq %d", d->pid);
	return 0;
}

static void forget(struct dnsmasq *d)
{
	if (d->child)
		waitpid(d->pid, NULL, WNOHANG);
	if (d->pidfd >= 0)
		close(d->pidfd);
	d->pidfd = -1;
	d->pid = 0;
	d->child = false;
}

void dnsmasq_stop(struct dnsmasq *d)
{
	if (d->pidfd < 0)
		return;
	int r = pidfd_signal(d->pidfd, SIGTERM);
	EXPLAIN(r, "pidfd_send_signal(2)", "pidfd_send_signal(dnsmasq %d, SIGTERM)", d->pid);
	struct pollfd p = {.fd = d->pidfd, .events = POLLIN};
	if (poll(&p, 1, 2000) <= 0) {
		pidfd_signal(d->pidfd, SIGKILL);
		poll(&p, 1, 2000);
	}
	if (d->child)
		waitpid(d->pid, NULL, 0);
	d->child = false;
	forget(d);
}

bool dnsmasq_check_exit(struct dnsmasq *d)
{
	if (d->pidfd < 0)
		return false;
	struct pollfd p = {.fd = d->pidfd, .events = POLLIN};
	if (poll(&p, 1, 0) <= 0)
		return false;
	int status = 0;
	if (d->child && waitpid(d->pid, &status, 0) == d->pid)
		log_warn("dnsmasq %d exited (status %#x)", d->pid, status);
	else
		log_warn("dnsmasq %d exited", d->pid);
	d->child = false;
	forget(d);
	return true;
}

json_t *dnsmasq_leases(const char *dir)
{
	json_t *out = json_array();
	char path[4096];
	snprintf(path, sizeof path, "%s/dnsmasq.leases", dir);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return out;
	char line[512];
	while (fgets(line, sizeof line, f)) {
		char mac[64], ip[64], host[256];
		long long exp;
		/* "expiry mac ip hostname client-id"; DHCPv6 lines use "duid …" and iaid instead of a MAC */
		if (sscanf(line, "%lld %63s %63s %255s", &exp, mac, ip, host) != 4 || strcmp(mac, "duid") == 0)
			continue;
		json_array_append_new(out,
		                      json_pack("{s:s,s:s,s:s,s:I,s:s}", "mac", mac, strchr(ip, ':') ? "ipv6" : "ipv4",
		                                ip, "hostname", strcmp(host, "*") ? host : "", "expires",
		                                (json_int_t)exp, "kind", "dynamic"));
	}
	return out;
}
