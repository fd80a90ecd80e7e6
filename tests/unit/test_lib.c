/* lib/ unit tests: the hostile-path resolver (both the openat2 path and the fallback walk), JSON
 * accessors that name the JSON path, sizes, and one IPC round trip with an fd. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cleanup.h"
#include "ipc.h"
#include "json.h"
#include "path.h"
#include "util.h"

static char root[64];
static int rootfd = -1;

/* A tree full of traps:  root/etc/passwd (real), root/abs -> /etc, root/up -> ../../.., root/loop -> loop,
 * root/dir/rel -> ../etc.  Outside the root: a file "secret" next to it. */
static int setup_tree(void **state)
{
	strcpy(root, "/tmp/isola-test-lib-XXXXXX");
	assert_non_null(mkdtemp(root));
	char p[256];
	snprintf(p, sizeof p, "%s/r", root);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/secret", root);
	close(open(p, O_CREAT | O_WRONLY, 0600));
	rootfd = open(root, O_PATH | O_DIRECTORY);
	int r = openat(rootfd, "r", O_PATH | O_DIRECTORY);
	close(rootfd);
	rootfd = r;
	mkdirat(rootfd, "etc", 0755);
	close(openat(rootfd, "etc/passwd", O_CREAT | O_WRONLY, 0644));
	mkdirat(rootfd, "dir", 0755);
	assert_int_equal(symlinkat("/etc", rootfd, "abs"), 0);
	assert_int_equal(symlinkat("../../..", rootfd, "up"), 0);
	assert_int_equal(symlinkat("loop", rootfd, "loop"), 0);
	assert_int_equal(symlinkat("../etc", rootfd, "dir/rel"), 0);
	assert_int_equal(symlinkat("../secret", rootfd, "escape"), 0);
	return 0;
}

static int teardown_tree(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
	close(rootfd);
	return 0;
}

/* Open path in the root and say which file it really is, as "dev:ino". */
static void expect_same(const char *path, const char *hostpath)
{
	isola_error err = {0};
	int fd = safe_openat(rootfd, path, O_PATH, 0, &err);
	if (fd < 0)
		fail_msg("safe_openat(%s): %s", path, err.msg);
	struct stat a, b;
	fstat(fd, &a);
	close(fd);
	char hp[256];
	snprintf(hp, sizeof hp, "%s/r/%s", root, hostpath);
	assert_int_equal(stat(hp, &b), 0);
	if (a.st_ino != b.st_ino)
		fail_msg("%s resolved outside the expected %s", path, hostpath);
}

static void resolve_traps(void)
{
	expect_same("abs/passwd", "etc/passwd");    /* absolute symlink re-rooted */
	expect_same("up/etc/passwd", "etc/passwd"); /* .. clamps at the root */
	expect_same("/../../etc/passwd", "etc/passwd");
	expect_same("dir/rel/passwd", "etc/passwd");
	isola_error err = {0};
	/* ../secret from the root clamps to root/secret, which does not exist: never the host file */
	assert_true(safe_openat(rootfd, "escape", O_RDONLY, 0, &err) < 0);
	assert_int_equal(err.errnum, ENOENT);
	assert_true(safe_openat(rootfd, "loop/x", O_RDONLY, 0, &err) < 0);
	assert_int_equal(err.errnum, ELOOP);
	/* creating through a dangling symlink stays inside: root/secret is created, not the host one */
	int fd = safe_openat(rootfd, "escape", O_WRONLY | O_CREAT, 0600, &err);
	if (fd >= 0) {
		close(fd);
		char hp[256];
		snprintf(hp, sizeof hp, "%s/r/secret", root);
		assert_int_equal(access(hp, F_OK), 0);
		unlink(hp);
	}
	/* mkdir -p through a symlink lands inside */
	fd = safe_mkdir_p(rootfd, "abs/new/deeper", 0755, &err);
	assert_true(fd >= 0);
	close(fd);
	char hp[256];
	snprintf(hp, sizeof hp, "%s/r/etc/new/deeper", root);
	assert_int_equal(access(hp, F_OK), 0);
}

static void test_openat2(void **state)
{
	path_force_fallback = false;
	resolve_traps();
}

static void test_fallback(void **state)
{
	path_force_fallback = true;
	resolve_traps();
	path_force_fallback = false;
}

static void test_names(void **state)
{
	assert_true(name_is_safe_component("c1", 64));
	assert_false(name_is_safe_component("", 64));
	assert_false(name_is_safe_component("..", 64));
	assert_false(name_is_safe_component("a/b", 64));
	assert_false(name_is_safe_component("a\nb", 64));
	assert_false(name_is_safe_component("abcdef", 5));
}

static void test_json_paths(void **state)
{
	json_t *o = json_loads("{\"process\":{\"args\":[\"sh\",3],\"cwd\":7}}", 0, NULL);
	json_t *proc = NULL;
	isola_error err = {0};
	assert_int_equal(json_get_obj(o, "", "process", true, &proc, &err), 0);
	char **argv = NULL;
	assert_int_equal(json_get_strv(proc, "process", "args", true, &argv, &err), -1);
	assert_string_equal(err.msg, "process.args[1]: expected a string");
	const char *cwd = NULL;
	assert_int_equal(json_get_str(proc, "process", "cwd", true, &cwd, &err), -1);
	assert_string_equal(err.msg, "process.cwd: expected a string");
	assert_int_equal(json_get_str(proc, "process", "user", true, &cwd, &err), -1);
	assert_string_equal(err.msg, "process.user: missing");
	assert_int_equal(json_get_str(proc, "process", "user", false, &cwd, &err), 0);
	json_decref(o);
}

static void test_sizes(void **state)
{
	uint64_t v;
	isola_error err;
	assert_int_equal(parse_size("512", &v, &err), 0);
	assert_int_equal(v, 512);
	assert_int_equal(parse_size("64k", &v, &err), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(parse_size("2GiB", &v, &err), 0);
	assert_int_equal(v, 2ull << 30);
	assert_int_equal(parse_size("12X", &v, &err), -1);
	assert_int_equal(parse_size("-1", &v, &err), -1);
}

static void test_ipc_roundtrip(void **state)
{
	char path[128];
	snprintf(path, sizeof path, "%s/t.sock", root);
	isola_error err = {0};
	int l = ipc_listen(path, (gid_t)-1, &err);
	assert_true(l >= 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	pid_t pid = fork();
	if (pid == 0) {
		int c = ipc_accept(l, (gid_t)-1, NULL, &err);
		json_t *m;
		int fds[IPC_MAX_FDS];
		size_t n;
		if (c < 0 || ipc_recv(c, &m, fds, &n, &err) < 0)
			_exit(1);
		ipc_progress(c, json_object_get(m, "op"));
		if (strcmp(json_string_value(json_object_get(m, "op")), "fail") == 0) {
			isola_error e = {0};
			isola_err(&e, EEXIST, "network %s", "n1");
			ipc_reply_err(c, &e);
		} else {
			ipc_reply_ok(c, json_object_get(m, "echo"), fds, n);
		}
		_exit(0);
	}
	json_t *req = json_pack("{s:s,s:{s:i}}", "op", "echo", "echo", "x", 42);
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	json_t *reply = NULL;
	int rfds[IPC_MAX_FDS];
	size_t nr = 0;
	int progress = 0;
	assert_int_equal(ipc_call(path, req, &devnull, 1, &reply, rfds, &nr, NULL, &progress, &err), 0);
	assert_int_equal(json_integer_value(json_object_get(reply, "x")), 42);
	assert_int_equal(nr, 1);
	struct stat a, b;
	fstat(devnull, &a);
	fstat(rfds[0], &b);
	assert_int_equal(a.st_rdev, b.st_rdev);
	close(rfds[0]);
	json_decref(reply);
	json_decref(req);
	waitpid(pid, NULL, 0);

	pid = fork();
	if (pid == 0) {
		int c = ipc_accept(l, (gid_t)-1, NULL, &err);
		json_t *m;
		if (c < 0 || ipc_recv(c, &m, NULL, NULL, &err) < 0)
			_exit(1);
		isola_error e = {0};
		isola_err(&e, EEXIST, "network %s", "n1");
		ipc_reply_err(c, &e);
		_exit(0);
	}
	req = json_pack("{s:s}", "op", "fail");
	assert_int_equal(ipc_call(path, req, NULL, 0, NULL, NULL, NULL, NULL, NULL, &err), -1);
	assert_int_equal(err.errnum, EEXIST);
	assert_string_equal(err.msg, "network n1");
	json_decref(req);
	waitpid(pid, NULL, 0);
	close(l);
	close(devnull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_openat2),    cmocka_unit_test(test_fallback), cmocka_unit_test(test_names),
	    cmocka_unit_test(test_json_paths), cmocka_unit_test(test_sizes),    cmocka_unit_test(test_ipc_roundtrip),
	};
	return cmocka_run_group_tests_name("lib", tests, setup_tree, teardown_tree);
}
