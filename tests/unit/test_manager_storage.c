/* manager/fsutil.c: the tree copy used by dir-pool snapshots and copies, and the removal used by delete.
 * Both walk trees an instance controls, so each test plants what a hostile container would. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "manager/fsutil.h"

static char dir[64];

static int setup(void **state)
{
	strcpy(dir, "/tmp/isola-test-mgr-fs-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void put(const char *rel, const char *text, mode_t mode)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	chmod(p, mode);
}

static const char *at(const char *rel)
{
	static char bufs[4][256];
	static int k;
	char *b = bufs[k++ % 4];
	snprintf(b, 256, "%s/%s", dir, rel);
	return b;
}

static void test_copy_keeps_links_and_modes(void **state)
{
	isola_error err = {0};
	mkdir(at("src"), 0755);
	mkdir(at("src/etc"), 0700);
	put("src/etc/conf", "hello\n", 0640);
	put("outside", "host secret\n", 0600);
	/* symlinks a container could plant: absolute to the host's files, relative climbing out */
	assert_int_equal(symlink("/etc/passwd", at("src/abs")), 0);
	assert_int_equal(symlink("../outside", at("src/rel")), 0);
	assert_int_equal(mkfifo(at("src/fifo"), 0600), 0);
	struct copy_stats cs;
	if (tree_copy(at("src"), at("dst"), &cs, &err) < 0)
		fail_msg("tree_copy: %s", err.msg);
	struct stat st;
	char t[256];
	/* links are copied as links, never followed: no host file content lands in the copy */
	assert_int_equal(lstat(at("dst/abs"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	ssize_t n = readlink(at("dst/abs"), t, sizeof t - 1);
	t[n > 0 ? n : 0] = 0;
	assert_string_equal(t, "/etc/passwd");
	assert_int_equal(lstat(at("dst/rel"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(lstat(at("dst/fifo"), &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(stat(at("dst/etc"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(at("dst/etc/conf"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(cs.files, 1);
	/* the destination must not exist: a copy never merges into (or through) something already there */
	assert_int_equal(tree_copy(at("src"), at("dst"), NULL, &err), -1);
	assert_int_equal(err.errnum, EEXIST);
}

static void test_copy_shifts_owners(void **state)
{
	if (geteuid() != 0)
		skip();
	isola_error err = {0};
	mkdir(at("s"), 0755);
	put("s/mine", "x", 0644);
	put("s/foreign", "y", 0644);
	assert_int_equal(chown(at("s"), 1000000, 1000000), 0);
	assert_int_equal(chown(at("s/mine"), 1000005, 1000007), 0);
	assert_int_equal(chown(at("s/foreign"), 42, 42), 0); /* outside the range: left alone */
	struct id_shift sh = {1000000, 2000000, 65536};
	if (tree_copy_shifted(at("s"), at("d"), &sh, NULL, &err) < 0)
		fail_msg("tree_copy_shifted: %s", err.msg);
	struct stat st;
	assert_int_equal(stat(at("d"), &st), 0);
	assert_int_equal(st.st_uid, 2000000);
	assert_int_equal(stat(at("d/mine"), &st), 0);
	assert_int_equal(st.st_uid, 2000005);
	assert_int_equal(st.st_gid, 2000007);
	assert_int_equal(stat(at("d/foreign"), &st), 0);
	assert_int_equal(st.st_uid, 42);
}

static void test_remove_never_follows_links(void **state)
{
	isola_error err = {0};
	mkdir(at("victim"), 0755);
	put("victim/precious", "keep me\n", 0644);
	mkdir(at("inst"), 0755);
	mkdir(at("inst/sub"), 0755);
	/* the instance points at a host directory and at a host file */
	assert_int_equal(symlink(at("victim"), at("inst/sub/todir")), 0);
	assert_int_equal(symlink(at("victim/precious"), at("inst/tofile")), 0);
	if (tree_remove(at("inst"), &err) < 0)
		fail_msg("tree_remove: %s", err.msg);
	struct stat st;
	assert_int_equal(lstat(at("inst"), &st), -1);
	assert_int_equal(stat(at("victim/precious"), &st), 0);
	/* removing what is not there is not an error (delete of a half-made instance) */
	assert_int_equal(tree_remove(at("inst"), &err), 0);
}

static void test_clone_file(void **state)
{
	isola_error err = {0};
	char big[100000];
	for (size_t i = 0; i < sizeof big - 1; i++)
		big[i] = (char)('a' + i % 26);
	big[sizeof big - 1] = 0;
	put("disk.img", big, 0600);
	bool ref;
	if (file_clone(at("disk.img"), at("copy.img"), &ref, &err) < 0)
		fail_msg("file_clone: %s", err.msg);
	struct stat a, b;
	assert_int_equal(stat(at("disk.img"), &a), 0);
	assert_int_equal(stat(at("copy.img"), &b), 0);
	assert_int_equal(a.st_size, b.st_size);
	assert_int_equal(b.st_mode & 07777, 0600);
	/* never onto an existing file (or through a symlink planted there) */
	assert_int_equal(symlink(at("victim2"), at("planted.img")), 0);
	assert_int_equal(file_clone(at("disk.img"), at("planted.img"), &ref, &err), -1);
	assert_int_equal(access(at("victim2"), F_OK), -1);
	uint64_t used;
	assert_int_equal(tree_usage(at("disk.img"), &used, &err), 0);
	assert_true(used >= 4096);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_copy_keeps_links_and_modes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_copy_shifts_owners, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_never_follows_links, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_clone_file, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
