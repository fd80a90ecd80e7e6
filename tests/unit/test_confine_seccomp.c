/* runtime/seccomp: OCI linux.seccomp → BPF. Every filter here is proven by RUNNING it in a forked child
 * and calling the syscalls it should stop (and some it must let through): the default profile's
 * EPERM/ENOSYS answers, TIOCSTI with high bits set (CVE-2019-10063), 64-bit argument compares, the
 * same-argument split, and a full SCMP_ACT_NOTIFY round trip through listenerPath. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <string.h>
#include <linux/netlink.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cleanup.h"
#include "json.h"
#include "runtime/seccomp.h"

static json_t *parse_json(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, 0, &je);
	if (!v)
		fail_msg("test JSON does not parse: %s (%s)", je.text, text);
	return v;
}

struct probe {
	const char *what;
	long nr;
	unsigned long a0, a1, a2;
	int want_errno; /* 0 = must not fail with an errno the filter would give (we only check != blocked) */
	int not_errno;  /* when want_errno == 0: the call must not fail with this errno */
};

/* Install sc in a forked child (with no_new_privs) and run the probes; any mismatch is reported back. */
static void run_probes(const struct isola_seccomp *sc, const struct probe *p, size_t n)
{
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		char msg[1024] = "";
		isola_error err = {0};
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || isola_seccomp_install(sc, &err) < 0)
			snprintf(msg, sizeof(msg), "install: %s (errno %d)", err.msg, err.errnum);
		for (size_t i = 0; i < n && !msg[0]; i++) {
			unsigned long a0 = p[i].a0 == (unsigned long)-2 ? (unsigned long)null : p[i].a0;
			errno = 0;
			long r = syscall(p[i].nr, a0, p[i].a1, p[i].a2, 0, 0, 0);
			int e = r < 0 ? errno : 0;
			if (p[i].want_errno && e != p[i].want_errno)
				snprintf(msg, sizeof(msg), "%s: got %ld errno %d (%s), want errno %d (%s)", p[i].what,
				         r, e, strerror(e), p[i].want_errno, strerror(p[i].want_errno));
			if (!p[i].want_errno && e && e == p[i].not_errno)
				snprintf(msg, sizeof(msg), "%s: blocked with errno %d (%s), must pass the filter",
				         p[i].what, e, strerror(e));
		}
		if (write(pfd[1], msg, strlen(msg)) < 0)
			_exit(3);
		_exit(0);
	}
	close(pfd[1]);
	char buf[1024] = "";
	ssize_t got = read(pfd[0], buf, sizeof(buf) - 1);
	close(pfd[0]);
	int st;
	waitpid(pid, &st, 0);
	if (got > 0)
		fail_msg("%s", buf);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("probe child died (status %#x): the filter killed it", st);
}

static void test_default_profile_content(void **state)
{
	_cleanup_json_ json_t *p = isola_seccomp_default_profile();
	assert_string_equal(json_string_value(json_object_get(p, "defaultAction")), "SCMP_ACT_ERRNO");
	assert_int_equal(json_integer_value(json_object_get(p, "defaultErrnoRet")), ENOSYS);
	json_t *rules = json_object_get(p, "syscalls");
	static const char *const must_deny[] = {
	    "kexec_load", "kexec_file_load", "init_module", "finit_module",    "delete_module",    "bpf",
	    "keyctl",     "add_key",         "request_key", "perf_event_open", "open_by_handle_at"};
	for (size_t d = 0; d < sizeof(must_deny) / sizeof(*must_deny); d++) {
		bool denied = false, allowed = false;
		size_t i, k;
		json_t *r, *nm;
		json_array_foreach(rules, i, r)
		{
			const char *act = json_string_value(json_object_get(r, "action"));
			json_array_foreach(json_object_get(r, "names"), k,
			                   nm) if (!strcmp(json_string_value(nm), must_deny[d]))
			{
				if (!strcmp(act, "SCMP_ACT_ALLOW"))
					allowed = true;
				else if (!strcmp(act, "SCMP_ACT_ERRNO") &&
				         json_integer_value(json_object_get(r, "errnoRet")) == EPERM)
					denied = true;
			}
		}
		if (!denied || allowed)
			fail_msg("default profile: %s must be EPERM and never allowed (denied=%d allowed=%d)",
			         must_deny[d], denied, allowed);
	}
	/* TIOCSTI/TIOCLINUX rules compare the low 32 bits with a mask over the whole 64-bit argument */
	int tty_rules = 0;
	size_t i;
	json_t *r;
	json_array_foreach(rules, i, r)
	{
		json_t *a = json_array_get(json_object_get(r, "args"), 0);
		if (!a || json_integer_value(json_object_get(a, "index")) != 1)
			continue;
		json_int_t v2 = json_integer_value(json_object_get(a, "valueTwo"));
		if (v2 != TIOCSTI && v2 != TIOCLINUX)
			continue;
		assert_string_equal(json_string_value(json_object_get(a, "op")), "SCMP_CMP_MASKED_EQ");
		assert_true(json_integer_value(json_object_get(a, "value")) == 0xffffffff);
		assert_string_equal(json_string_value(json_object_get(r, "action")), "SCMP_ACT_ERRNO");
		tty_rules++;
	}
	assert_int_equal(tty_rules, 2);
}

static void test_default_profile_runs(void **state)
{
	_cleanup_json_ json_t *p = isola_seccomp_default_profile();
	_cleanup_seccomp_ struct isola_seccomp *sc = NULL;
	isola_error err = {0};
	if (isola_seccomp_build(p, "linux.seccomp", &sc, &err) < 0)
		fail_msg("build default profile: %s", err.msg);
	assert_non_null(sc);
	assert_false(sc->notify);
	assert_true(sc->bpf_len > 100);
	const unsigned long hi = 1UL << 32;
	const struct probe probes[] = {
	    {"kexec_load", SYS_kexec_load, 0, 0, 0, EPERM, 0},
	    {"kexec_file_load", SYS_kexec_file_load, 0, 0, 0, EPERM, 0},
	    {"init_module", SYS_init_module, 0, 0, 0, EPERM, 0},
	    {"finit_module", SYS_finit_module, 0, 0, 0, EPERM, 0},
	    {"delete_module", SYS_delete_module, 0, 0, 0, EPERM, 0},
	    {"bpf", SYS_bpf, 0, 0, 0, EPERM, 0},
	    {"keyctl", SYS_keyctl, 0, 0, 0, EPERM, 0},
	    {"add_key", SYS_add_key, 0, 0, 0, EPERM, 0},
	    {"request_key", SYS_request_key, 0, 0, 0, EPERM, 0},
	    {"perf_event_open", SYS_perf_event_open, 0, 0, 0, EPERM, 0},
	    {"open_by_handle_at", SYS_open_by_handle_at, 0, 0, 0, EPERM, 0},
	    /* not in the allow-list → looks unimplemented */
	    {"io_uring_setup", SYS_io_uring_setup, 0, 0, 0, ENOSYS, 0},
	    {"syslog", SYS_syslog, 3, 0, 0, ENOSYS, 0},
	    {"acct", SYS_acct, 0, 0, 0, ENOSYS, 0},
	    /* TIOCSTI/TIOCLINUX: plain, and with high bits the kernel ignores (CVE-2019-10063) */
	    {"ioctl TIOCSTI", SYS_ioctl, (unsigned long)-2, TIOCSTI, 0, EPERM, 0},
	    {"ioctl TIOCSTI|1<<32", SYS_ioctl, (unsigned long)-2, hi | TIOCSTI, 0, EPERM, 0},
	    {"ioctl TIOCSTI|0xffffffff<<32", SYS_ioctl, (unsigned long)-2, 0xffffffff00000000UL | TIOCSTI, 0, EPERM, 0},
	    {"ioctl TIOCLINUX|1<<33", SYS_ioctl, (unsigned long)-2, (hi << 1) | TIOCLINUX, 0, EPERM, 0},
	    /* other ioctls reach the kernel: /dev/null is not a tty → ENOTTY, not EPERM/ENOSYS */
	    {"ioctl TIOCGWINSZ", SYS_ioctl, (unsigned long)-2, TIOCGWINSZ, 0, ENOTTY, 0},
	    {"ioctl FIONREAD", SYS_ioctl, (unsigned long)-2, FIONREAD, 0, 0, ENOSYS},
	    {"getpid", SYS_getpid, 0, 0, 0, 0, ENOSYS},
	    /* audit sockets look unsupported (what audit userspace expects in a container); others work */
	    {"socket NETLINK_AUDIT", SYS_socket, AF_NETLINK, SOCK_RAW, NETLINK_AUDIT, EAFNOSUPPORT, 0},
	    {"socket AF_UNIX", SYS_socket, AF_UNIX, SOCK_STREAM, 0, 0, EAFNOSUPPORT},
	    {"socket NETLINK_ROUTE", SYS_socket, AF_NETLINK, SOCK_RAW, 0 /* NETLINK_ROUTE */, 0, EAFNOSUPPORT},
	    {"fanotify_init", SYS_fanotify_init, 0, 0, 0, ENOSYS, 0},
	    {"userfaultfd", SYS_userfaultfd, 0, 0, 0, ENOSYS, 0},
	    {"uname", SYS_uname, 0, 0, 0, EFAULT, 0},
	};
	run_probes(sc, probes, sizeof(probes) / sizeof(*probes));
}

/* Real programs run under the default profile: busybox, bash, a dynamic glibc python with threads and
 * subprocesses. A syscall the allow-list forgot makes one of them fail. */
static void test_default_profile_programs(void **state)
{
	_cleanup_json_ json_t *p = isola_seccomp_default_profile();
	_cleanup_seccomp_ struct isola_seccomp *sc = NULL;
	isola_error err = {0};
	assert_int_equal(isola_seccomp_build(p, "linux.seccomp", &sc, &err), 0);
	static const char *const progs[][6] = {
	    {"/bin/busybox", "sh", "-c",
	     "ls / >/dev/null && echo hi | cat >/dev/null && sleep 0 && id >/dev/null && ps >/dev/null", NULL},
	    {"/bin/bash", "-c", "x=$(echo $((1+1))); [ $x = 2 ] && read -t 0 < /dev/null; true", NULL},
	    {"/usr/bin/python3", "-c",
	     "import socket, threading, subprocess, os, tempfile\n"
	     "t = threading.Thread(target=lambda: None); t.start(); t.join()\n"
	     "assert subprocess.run(['/bin/true']).returncode == 0\n"
	     "a, b = socket.socketpair(); a.send(b'x'); assert b.recv(1) == b'x'\n"
	     "with tempfile.TemporaryDirectory() as d: open(os.path.join(d, 'f'), 'w').write('y')\n",
	     NULL},
	};
	for (size_t i = 0; i < sizeof(progs) / sizeof(*progs); i++) {
		if (access(progs[i][0], X_OK) != 0)
			continue;
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			int null = open("/dev/null", O_RDWR);
			dup2(null, 0);
			dup2(null, 1);
			if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || isola_seccomp_install(sc, &err) < 0)
				_exit(100);
			execv(progs[i][0], (char *const *)progs[i]);
			_exit(101);
		}
		int st;
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fail_msg("%s under the default profile: status %#x", progs[i][0], st);
	}
}

static void test_args_64bit(void **state)
{
	/* dup(fd) with fds nobody has: the kernel says EBADF; the filter answers with its own errnos */
	_cleanup_json_ json_t *p = parse_json(
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
	    " {\"names\":[\"dup\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":42,"
	    "  \"args\":[{\"index\":0,\"value\":4294967301,\"op\":\"SCMP_CMP_EQ\"}]},"
	    " {\"names\":[\"dup\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":43,"
	    "  \"args\":[{\"index\":0,\"value\":-4294967296,\"valueTwo\":30064771072,\"op\":\"SCMP_CMP_MASKED_EQ\"}]},"
	    " {\"names\":[\"dup\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":44,"
	    "  "
	    "\"args\":[{\"index\":0,\"value\":900,\"op\":\"SCMP_CMP_EQ\"},{\"index\":0,\"value\":901,\"op\":\"SCMP_CMP_"
	    "EQ\"}]},"
	    " {\"names\":[\"getppid\",\"no_such_syscall_in_any_kernel\"],\"action\":\"SCMP_ACT_ERRNO\"}]}");
	_cleanup_seccomp_ struct isola_seccomp *sc = NULL;
	isola_error err = {0};
	if (isola_seccomp_build(p, "linux.seccomp", &sc, &err) < 0)
		fail_msg("build: %s", err.msg);
	/* 1 + 1 + 2 (the same-argument rule split in two) + 1 (the unknown name skipped) */
	assert_int_equal(sc->nrules, 5);
	const struct probe probes[] = {
	    {"dup(0x100000005) EQ 64-bit", SYS_dup, 0x100000005UL, 0, 0, 42, 0},
	    {"dup(5) must not match 0x100000005", SYS_dup, 5, 0, 0, EBADF, 0},
	    {"dup(0x700000123) MASKED_EQ high word", SYS_dup, 0x700000123UL, 0, 0, 43, 0},
	    {"dup(0x800000123) no match", SYS_dup, 0x800000123UL, 0, 0, EBADF, 0},
	    {"dup(900) first of split", SYS_dup, 900, 0, 0, 44, 0},
	    {"dup(901) second of split", SYS_dup, 901, 0, 0, 44, 0},
	    {"dup(902) neither", SYS_dup, 902, 0, 0, EBADF, 0},
	    {"getppid default errnoRet EPERM", SYS_getppid, 0, 0, 0, EPERM, 0},
	};
	run_probes(sc, probes, sizeof(probes) / sizeof(*probes));
}

static void expect_error(const char *text, const char *msg)
{
	_cleanup_json_ json_t *j = parse_json(text);
	_cleanup_seccomp_ struct isola_seccomp *sc = NULL;
	isola_error err = {0};
	assert_int_equal(isola_seccomp_build(j, "linux.seccomp", &sc, &err), -1);
	assert_null(sc);
	if (strcmp(err.msg, msg) != 0)
		fail_msg("for %s\n  expected: %s\n  got:      %s", text, msg, err.msg);
}

static void test_errors(void **state)
{
	expect_error("{}", "linux.seccomp.defaultAction: missing");
	expect_error("{\"defaultAction\":\"SCMP_ACT_FOO\"}",
	             "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_FOO\"");
	expect_error(
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_FOO\"]}",
	    "linux.seccomp.architectures[1]: unknown architecture \"SCMP_ARCH_FOO\"");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_BOGUS\"]}",
	             "linux.seccomp.flags[0]: unknown seccomp flag SECCOMP_FILTER_FLAG_BOGUS");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"]}]}",
	             "linux.seccomp.syscalls[0].action: missing");
	expect_error(
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\"},"
	    "{\"names\":[\"write\"],\"action\":\"SCMP_ACT_KILL\",\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_"
	    "XX\"}]}]}",
	    "linux.seccomp.syscalls[1].args[0].op: unknown operator \"SCMP_CMP_XX\"");
	expect_error(
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"write\"],\"action\":\"SCMP_ACT_KILL\","
	    "\"args\":[{\"index\":6,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}",
	    "linux.seccomp.syscalls[0].args[0].index: 6 is not a syscall argument index (0..5)");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":70000}",
	             "linux.seccomp.defaultErrnoRet: 70000 is out of range (0..65535)");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getppid\"],\"action\":\"SCMP_"
	             "ACT_NOTIFY\"}]}",
	             "linux.seccomp: SCMP_ACT_NOTIFY needs listenerPath");
	expect_error(
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":\"read\",\"action\":\"SCMP_ACT_LOG\"}]}",
	    "linux.seccomp.syscalls[0].names: expected an array");
	/* absent = no filter */
	_cleanup_seccomp_ struct isola_seccomp *sc = NULL;
	isola_error err = {0};
	assert_int_equal(isola_seccomp_build(NULL, "linux.seccomp", &sc, &err), 0);
	assert_null(sc);
}

static void test_features(void **state)
{
	_cleanup_json_ json_t *f = isola_seccomp_features();
	assert_true(json_is_true(json_object_get(f, "enabled")));
	assert_true(json_array_size(json_object_get(f, "actions")) >= 9);
	assert_true(json_array_size(json_object_get(f, "archs")) >= 1);
}

/* SCMP_ACT_NOTIFY: the child's getppid() is answered by us (the "agent") through the listener fd that
 * isola_seccomp_send_listener delivered to listenerPath together with the seccomp state JSON. */
static void test_notify_roundtrip(void **state)
{
	char dir[] = "/tmp/isola-test-seccomp-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char sock[128];
	snprintf(sock, sizeof(sock), "%s/agent.sock", dir);
	char text[512];
	snprintf(text, sizeof(text),
	         "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"%s\",\"listenerMetadata\":\"hello\","
	         "\"syscalls\":[{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}",
	         sock);
	_cleanup_json_ json_t *p = parse_json(text);
	_cleanup_seccomp_ struct isola_seccomp *sc = NULL;
	isola_error err = {0};
	if (isola_seccomp_build(p, "linux.seccomp", &sc, &err) < 0)
		fail_msg("build: %s", err.msg);
	assert_true(sc->notify);
	assert_true(sc->flags & SECCOMP_FILTER_FLAG_NEW_LISTENER);

	_cleanup_close_ int agent = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	assert_int_equal(bind(agent, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(agent, 1), 0);

	int sp[2]; /* the runtime's sync socket stand-in: child → parent listener fd */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sp[0]);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(10);
		int lfd = isola_seccomp_install(sc, &err);
		if (lfd <= 0)
			_exit(11);
		char b = 'x';
		struct iovec iov = {&b, 1};
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr a;
		} u = {0};
		struct msghdr mh = {
		    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &lfd, sizeof(int));
		if (sendmsg(sp[1], &mh, 0) != 1)
			_exit(12);
		close(lfd);
		long v = syscall(SYS_getppid);
		_exit(v == 4242 ? 0 : 13);
	}
	close(sp[1]);
	/* receive the listener fd from the child */
	char b;
	struct iovec iov = {&b, 1};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr a;
	} u = {0};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	assert_int_equal(recvmsg(sp[0], &mh, 0), 1);
	int lfd;
	memcpy(&lfd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
	close(sp[0]);

	_cleanup_json_ json_t *state_obj = json_pack("{s:s, s:s, s:i}", "ociVersion", "1.0.2", "id", "c1", "pid", pid);
	if (isola_seccomp_send_listener(sc, state_obj, pid, lfd, &err) < 0)
		fail_msg("send: %s", err.msg);
	close(lfd);
	_cleanup_close_ int conn = accept4(agent, NULL, NULL, SOCK_CLOEXEC);
	assert_true(conn >= 0);
	char jbuf[4096];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr a;
	} u2 = {0};
	struct iovec iov2 = {jbuf, sizeof(jbuf) - 1};
	struct msghdr mh2 = {
	    .msg_iov = &iov2, .msg_iovlen = 1, .msg_control = u2.buf, .msg_controllen = sizeof(u2.buf)};
	ssize_t n = recvmsg(conn, &mh2, MSG_CMSG_CLOEXEC);
	assert_true(n > 0);
	jbuf[n] = 0;
	int afd;
	assert_non_null(CMSG_FIRSTHDR(&mh2));
	memcpy(&afd, CMSG_DATA(CMSG_FIRSTHDR(&mh2)), sizeof(int));
	_cleanup_json_ json_t *st = parse_json(jbuf);
	assert_string_equal(json_string_value(json_object_get(st, "metadata")), "hello");
	assert_string_equal(json_string_value(json_array_get(json_object_get(st, "fds"), 0)), "seccompFd");
	assert_int_equal(json_integer_value(json_object_get(st, "pid")), pid);
	assert_string_equal(json_string_value(json_object_get(json_object_get(st, "state"), "id")), "c1");

	/* be the agent: answer getppid() with 4242 */
	struct seccomp_notif req;
	memset(&req, 0, sizeof(req));
	assert_int_equal(ioctl(afd, SECCOMP_IOCTL_NOTIF_RECV, &req), 0);
	struct seccomp_notif_resp resp = {.id = req.id, .val = 4242, .error = 0, .flags = 0};
	assert_int_equal(ioctl(afd, SECCOMP_IOCTL_NOTIF_SEND, &resp), 0);
	close(afd);
	int wst;
	waitpid(pid, &wst, 0);
	unlink(sock);
	rmdir(dir);
	if (!WIFEXITED(wst) || WEXITSTATUS(wst) != 0)
		fail_msg("notify child status %#x (exit 13 = getppid was not answered by the agent)", wst);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default_profile_content),
	    cmocka_unit_test(test_default_profile_runs),
	    cmocka_unit_test(test_default_profile_programs),
	    cmocka_unit_test(test_args_64bit),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_features),
	    cmocka_unit_test(test_notify_roundtrip),
	};
	return cmocka_run_group_tests_name("confine seccomp", tests, NULL, NULL);
}
