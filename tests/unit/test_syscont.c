/* syscont pure logic: id-range picking around used and delegated ranges, the persistent allocator
 * (flock'd JSON in a temporary directory), signal names, metadata.yaml properties, ready probes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include "cleanup.h"
#include "runtime/idmap_alloc.h"
#include "runtime/syscont.h"
#include "util.h"

static void test_pick_empty(void **s)
{
	(void)s;
	uint64_t b;
	isola_error e = {0};
	assert_int_equal(idmap_range_pick(NULL, 0, IDMAP_FIRST_BASE, IDMAP_RANGE_SIZE, &b, &e), 0);
	assert_int_equal(b % IDMAP_RANGE_SIZE, 0);
	assert_true(b >= IDMAP_FIRST_BASE);
	assert_true(b < IDMAP_FIRST_BASE + IDMAP_RANGE_SIZE);
}

static void test_pick_skips_overlaps(void **s)
{
	(void)s;
	uint64_t b;
	isola_error e = {0};
	/* an allocated block at the first slot, and a delegated subuid range straddling the next two */
	struct idmap_range used[] = {{1048576, 65536}, {1114112 + 100, 100000}};
	assert_int_equal(idmap_range_pick(used, 2, IDMAP_FIRST_BASE, IDMAP_RANGE_SIZE, &b, &e), 0);
	for (size_t i = 0; i < 2; i++)
		assert_false(b < used[i].base + used[i].size && used[i].base < b + IDMAP_RANGE_SIZE);
	assert_int_equal(b, 1114112 + 2 * 65536ull); /* 1114212 + 100000 = 1214212 → next aligned 1245184 */
}

static void test_pick_full(void **s)
{
	(void)s;
	uint64_t b;
	isola_error e = {0};
	struct idmap_range all = {0, IDMAP_ID_LIMIT + 1};
	assert_int_equal(idmap_range_pick(&all, 1, IDMAP_FIRST_BASE, IDMAP_RANGE_SIZE, &b, &e), -1);
	assert_int_equal(e.errnum, ENOSPC);
	assert_non_null(strstr(e.msg, "no free block"));
}

static void test_subid_parse(void **s)
{
	(void)s;
	struct idmap_range *v = NULL;
	size_t n = 0;
	isola_error e = {0};
	assert_int_equal(idmap_range_parse_subid(
	                     "# comment\nalice:100000:65536\nbroken line\nbob:x:1\ncarol:165536:65536\n", &v, &n, &e),
	                 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].base, 100000);
	assert_int_equal(v[1].base, 165536);
	free(v);
}

static char tmpdir[64];

static void test_alloc_persistent_disjoint(void **s)
{
	(void)s;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/test_syscont.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	isola_error e = {0};
	uint64_t a, b, a2, c;
	assert_int_equal(idmap_range_alloc(tmpdir, "c1", &a, &e), 0);
	assert_int_equal(idmap_range_alloc(tmpdir, "c2", &b, &e), 0);
	assert_true(a + IDMAP_RANGE_SIZE <= b || b + IDMAP_RANGE_SIZE <= a);
	/* idempotent per owner, and persisted (a second open reads the file) */
	assert_int_equal(idmap_range_alloc(tmpdir, "c1", &a2, &e), 0);
	assert_int_equal(a, a2);
	assert_int_equal(idmap_range_lookup(tmpdir, "c2", &a2, &e), 0);
	assert_int_equal(b, a2);
	/* released blocks are reused */
	assert_int_equal(idmap_range_release(tmpdir, "c1", &e), 0);
	assert_int_equal(idmap_range_lookup(tmpdir, "c1", &a2, &e), -1);
	assert_int_equal(e.errnum, ENOENT);
	assert_int_equal(idmap_range_alloc(tmpdir, "c3", &c, &e), 0);
	assert_int_equal(c, a);
	assert_int_equal(idmap_range_release(tmpdir, "nobody", &e), 0);
}

static void test_alloc_corrupt_file_is_an_error(void **s)
{
	(void)s;
	char p[128];
	snprintf(p, sizeof p, "%s/idmap.json", tmpdir);
	isola_error e = {0};
	const char *bad = "{\"ranges\": [{\"owner\": 3}]}";
	assert_int_equal(write_file_at(AT_FDCWD, p, bad, strlen(bad), false, &e), 0);
	uint64_t b;
	assert_int_equal(idmap_range_alloc(tmpdir, "c4", &b, &e), -1);
	if (!strstr(e.msg, "ranges[0]"))
		fail_msg("error does not name the bad entry: %s", e.msg);
	/* the bad file is left for the admin, not reset */
	_cleanup_free_ char *text = NULL;
	size_t len;
	assert_int_equal(read_file_at(AT_FDCWD, p, &text, &len, &e), 0);
	assert_non_null(strstr(text, "\"owner\": 3"));
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	assert_int_equal(system(cmd), 0);
}

static void test_signals(void **s)
{
	(void)s;
	assert_int_equal(syscont_parse_signal("SIGRTMIN+3"), SIGRTMIN + 3);
	assert_int_equal(syscont_parse_signal("RTMIN+3"), SIGRTMIN + 3);
	assert_int_equal(syscont_parse_signal("SIGPWR"), SIGPWR);
	assert_int_equal(syscont_parse_signal("USR2"), SIGUSR2);
	assert_int_equal(syscont_parse_signal("15"), 15);
	assert_int_equal(syscont_parse_signal("SIGFOO"), -1);
	assert_int_equal(syscont_parse_signal("SIGRTMIN+99"), -1);
	assert_int_equal(syscont_parse_signal("RTMIN+"), -1);
	assert_int_equal(syscont_parse_signal("0"), -1);
}

static void test_metadata(void **s)
{
	(void)s;
	const char *y = "architecture: x86_64\ncreation_date: 1\nproperties:\n  os: Debian\n"
	                "  isola.stop_signal: SIGRTMIN+3   # systemd\n  isola.ready: \"file:/run/isola-booted\"\n"
	                "templates:\n  isola.ready: notify\n";
	struct syscont_image_meta m = {0};
	isola_error e = {0};
	assert_int_equal(syscont_parse_metadata(y, &m, &e), 0);
	assert_int_equal(m.stop_signal, SIGRTMIN + 3);
	assert_int_equal(m.ready, SYSCONT_READY_FILE); /* the key under templates: is not a property */
	assert_string_equal(m.ready_path, "/run/isola-booted");

	struct syscont_image_meta m2 = {0};
	assert_int_equal(syscont_parse_metadata("properties:\n  isola.stop_signal: SIGNOPE\n", &m2, &e), -1);
	assert_non_null(strstr(e.msg, "isola.stop_signal"));
	assert_int_equal(syscont_parse_metadata("properties:\n  isola.ready: file:relative\n", &m2, &e), -1);
	assert_non_null(strstr(e.msg, "isola.ready"));
	assert_int_equal(syscont_parse_ready("file:/a/../b", &m2, &e), -1);
	assert_int_equal(syscont_parse_ready("none", &m2, &e), 0);
	assert_int_equal(m2.ready, SYSCONT_READY_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pick_empty),
	    cmocka_unit_test(test_pick_skips_overlaps),
	    cmocka_unit_test(test_pick_full),
	    cmocka_unit_test(test_subid_parse),
	    cmocka_unit_test(test_alloc_persistent_disjoint),
	    cmocka_unit_test(test_alloc_corrupt_file_is_an_error),
	    cmocka_unit_test(test_signals),
	    cmocka_unit_test(test_metadata),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
