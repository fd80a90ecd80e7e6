/* manager/bundle.c: the OCI config.json an instance's effective config becomes (runtime-spec config.md,
 * config-linux.md). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "json.h"
#include "manager/bundle.h"

static json_t *ns_find(json_t *c, const char *type)
{
	size_t i;
	json_t *n;
	json_array_foreach(json_object_get(json_object_get(c, "linux"), "namespaces"), i,
	                   n) if (!strcmp(json_string_value(json_object_get(n, "type")), type)) return n;
	return NULL;
}

static bool env_has(json_t *c, const char *kv)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(json_object_get(c, "process"), "env"), i,
	                   e) if (!strcmp(json_string_value(e), kv)) return true;
	return false;
}

static void test_unprivileged(void **state)
{
	isola_error err = {0};
	json_t *cfg = json_pack("{ss ss ss ss ss}", "limits.memory", "256MiB", "limits.cpu", "2", "limits.processes",
	                        "500", "environment.FOO", "bar baz", "user.x", "y");
	struct bundle_params p = {
	    .name = "web1", .rootfs = "/tmp/r", .config = cfg, .uid_base = 1065536, .host_mem = 8ULL << 30};
	json_t *c = bundle_config(&p, &err);
	if (!c)
		fail_msg("bundle_config: %s", err.msg);
	assert_string_equal(json_string_value(json_object_get(c, "hostname")), "web1");
	assert_string_equal(json_string_value(json_object_get(json_object_get(c, "root"), "path")), "/tmp/r");
	assert_non_null(ns_find(c, "user"));
	assert_non_null(ns_find(c, "network"));
	assert_non_null(ns_find(c, "pid"));
	json_t *lx = json_object_get(c, "linux");
	json_t *um = json_array_get(json_object_get(lx, "uidMappings"), 0);
	assert_int_equal(json_integer_value(json_object_get(um, "hostID")), 1065536);
	assert_int_equal(json_integer_value(json_object_get(um, "size")), 65536);
	assert_int_equal(json_integer_value(json_object_get(um, "containerID")), 0);
	assert_non_null(json_object_get(lx, "gidMappings"));
	json_t *res = json_object_get(lx, "resources");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "memory"), "limit")), 256 << 20);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "pids"), "limit")), 500);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "cpu"), "quota")), 200000);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "cpu"), "period")), 100000);
	assert_true(env_has(c, "FOO=bar baz"));
	assert_false(env_has(c, "x=y")); /* user.* is not environment */
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(json_object_get(c, "process"), "args"), 0)), "/sbin/init");
	assert_non_null(json_object_get(lx, "maskedPaths"));
	json_t *mounts = json_object_get(c, "mounts");
	assert_true(json_array_size(mounts) >= 5);
	assert_string_equal(json_string_value(json_object_get(json_array_get(mounts, 0), "destination")), "/proc");
	assert_true(json_array_size(json_object_get(json_array_get(mounts, 0), "options")) == 3);
	assert_true(json_array_size(json_object_get(json_object_get(lx, "resources"), "devices")) >= 5);
	json_decref(c);
	json_decref(cfg);
}

static void test_privileged_and_nesting(void **state)
{
	isola_error err = {0};
	json_t *cfg = json_pack("{ss ss}", "security.privileged", "true", "security.nesting", "true");
	struct bundle_params p = {.name = "p1", .rootfs = "/tmp/r", .config = cfg, .uid_base = 0};
	json_t *c = bundle_config(&p, &err);
	if (!c)
		fail_msg("bundle_config: %s", err.msg);
	assert_null(ns_find(c, "user"));
	json_t *lx = json_object_get(c, "linux");
	assert_null(json_object_get(lx, "uidMappings"));
	assert_null(json_object_get(lx, "maskedPaths")); /* nesting: a nested runtime mounts /proc itself */
	/* privileged drops CAP_SYS_MODULE */
	json_t *bound = json_object_get(json_object_get(json_object_get(c, "process"), "capabilities"), "bounding");
	size_t i;
	json_t *cap;
	json_array_foreach(bound, i, cap)
	{
		assert_string_not_equal(json_string_value(cap), "CAP_SYS_MODULE");
	}
	json_decref(c);
	json_decref(cfg);
}

static void test_bad_limit(void **state)
{
	isola_error err = {0};
	json_t *cfg = json_pack("{ss}", "limits.memory", "lots");
	struct bundle_params p = {.name = "b", .rootfs = "/r", .config = cfg, .uid_base = 0};
	assert_null(bundle_config(&p, &err));
	assert_non_null(strstr(err.msg, "limits.memory"));
	json_decref(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unprivileged),
	    cmocka_unit_test(test_privileged_and_nesting),
	    cmocka_unit_test(test_bad_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
