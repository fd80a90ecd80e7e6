/* lib/ unit tests: the hostile-path resolver (both the openat2 path and the fallback walk), JSON
 * accessors that name the JSON path, sizes, one IPC round trip with an fd, and the sparse file copy. */
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

/* A VM disk's shape: a little data at the start, 1 MiB in the middle, a long hole to the end. */
static void check_sparse_copy(const char *dst)
{
	char src[128];
	snprintf(src, sizeof src, "%s/sparse-src", root);
	_cleanup_close_ int s = open(src, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(s >= 0);
	static char mid[1 << 20];
	for (size_t i = 0; i < sizeof mid; i++)
		mid[i] = (char)(i * 7 + 1);
	assert_int_equal(pwrite(s, "head", 4, 0), 4);
	assert_int_equal(pwrite(s, mid, sizeof mid, 8 << 20), (ssize_t)sizeof mid);
	assert_int_equal(ftruncate(s, 64 << 20), 0);
	/* the copy lands on a file holding stale bytes where the source has a hole */
	_cleanup_close_ int d = open(dst, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(d >= 0);
	assert_int_equal(pwrite(d, "stale", 5, 4096), 5);
	isola_error err;
	if (copy_file_sparse(s, d, NULL, NULL, &err) < 0)
		fail_msg("copy_file_sparse to %s: %s", dst, err.msg);
	struct stat st;
	assert_int_equal(fstat(d, &st), 0);
	assert_int_equal(st.st_size, 64 << 20);
	if ((uint64_t)st.st_blocks * 512 > (4 << 20))
		fail_msg("the copy in %s is not sparse: %llu bytes allocated for 1 MiB of data", dst,
		         (unsigned long long)st.st_blocks * 512);
	static char a[1 << 20], b[1 << 20];
	for (off_t off = 0; off < (64 << 20); off += sizeof a) {
		assert_int_equal(pread(s, a, sizeof a, off), (ssize_t)sizeof a);
		assert_int_equal(pread(d, b, sizeof b, off), (ssize_t)sizeof b);
		if (memcmp(a, b, sizeof a))
			fail_msg("the copy in %s differs from the source in the MiB at %lld", dst, (long long)off);
	}
	unlink(dst);
}

struct shrink {
	int fd, calls;
};

static void shrink_source(uint64_t done, uint64_t total, void *ud)
{
	struct shrink *s = ud;
	if (s->calls++ == 0)
		assert_int_equal(ftruncate(s->fd, 70 << 20), 0);
}

/* A running container's file truncated while a snapshot copies it: the copy ends where the source did. */
static void test_copy_sparse_shrinking_source(void **state)
{
	char src[128], dst[128];
	snprintf(src, sizeof src, "%s/shrink-src", root);
	snprintf(dst, sizeof dst, "%s/shrink-dst", root);
	_cleanup_close_ int s = open(src, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	_cleanup_close_ int d = open(dst, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(s >= 0 && d >= 0);
	static char mib[1 << 20];
	memset(mib, 'x', sizeof mib);
	for (int i = 0; i < 130; i++)
		assert_int_equal(write(s, mib, sizeof mib), (ssize_t)sizeof mib);
	struct shrink sh = {.fd = s};
	isola_error err;
	if (copy_file_sparse(s, d, shrink_source, &sh, &err) < 0)
		fail_msg("copy of a shrinking file: %s", err.msg);
	assert_true(sh.calls >= 1);
	struct stat st;
	assert_int_equal(fstat(d, &st), 0);
	if (st.st_size != (70 << 20))
		fail_msg("the copy is %lld bytes; the source shrank to %d", (long long)st.st_size, 70 << 20);
	unlink(src);
	unlink(dst);
}

static void test_copy_sparse(void **state)
{
	char dst[128];
	snprintf(dst, sizeof dst, "%s/sparse-dst", root);
	check_sparse_copy(dst);
	/* another filesystem (tmpfs): copy_file_range may refuse across filesystems; the fallback must agree */
	if (access("/dev/shm", W_OK) == 0)
		check_sparse_copy("/dev/shm/isola-test-sparse-dst");
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
	    cmocka_unit_test(test_openat2),     cmocka_unit_test(test_fallback),
	    cmocka_unit_test(test_names),       cmocka_unit_test(test_json_paths),
	    cmocka_unit_test(test_sizes),       cmocka_unit_test(test_ipc_roundtrip),
	    cmocka_unit_test(test_copy_sparse), cmocka_unit_test(test_copy_sparse_shrinking_source),
	};
	return cmocka_run_group_tests_name("lib", tests, setup_tree, teardown_tree);
}
