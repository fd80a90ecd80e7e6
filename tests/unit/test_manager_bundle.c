/* manager/bundle.c: the linux.resources an instance's effective config becomes (runtime-spec
 * config-linux.md), applied by runtime_boot() at start and runtime_update() live. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "json.h"
#include "manager/bundle.h"

static json_int_t res_int(json_t *res, const char *group, const char *key)
{
	return json_integer_value(json_object_get(json_object_get(res, group), key));
}

static void test_limits(void **state)
{
	isola_error err = {0};
	json_t *cfg = json_pack("{ss ss ss ss}", "limits.memory", "256MiB", "limits.cpu", "2", "limits.processes",
	                        "500", "user.x", "y");
	json_t *res = bundle_resources(cfg, 8ULL << 30, &err);
	if (!res)
		fail_msg("bundle_resources: %s", err.msg);
	assert_int_equal(res_int(res, "memory", "limit"), 256 << 20);
	assert_int_equal(res_int(res, "pids", "limit"), 500);
	/* a count without a set: that many CPUs' worth of time */
	assert_int_equal(res_int(res, "cpu", "quota"), 200000);
	assert_int_equal(res_int(res, "cpu", "period"), 100000);
	/* deny all first, then the nodes a system container needs */
	json_t *dev = json_object_get(res, "devices");
	assert_true(json_array_size(dev) >= 5);
	assert_false(json_boolean_value(json_object_get(json_array_get(dev, 0), "allow")));
	json_decref(res);
	json_decref(cfg);
}

static void test_percent_and_none(void **state)
{
	isola_error err = {0};
	json_t *cfg = json_pack("{ss}", "limits.memory", "50%");
	json_t *res = bundle_resources(cfg, 8ULL << 30, &err);
	if (!res)
		fail_msg("bundle_resources: %s", err.msg);
	assert_int_equal(res_int(res, "memory", "limit"), 4LL << 30);
	assert_null(json_object_get(res, "cpu"));
	assert_null(json_object_get(res, "pids"));
	json_decref(res);
	json_decref(cfg);
}

static void test_bad_limit(void **state)
{
	isola_error err = {0};
	json_t *cfg = json_pack("{ss}", "limits.memory", "lots");
	assert_null(bundle_resources(cfg, 8ULL << 30, &err));
	assert_non_null(strstr(err.msg, "limits.memory"));
	json_decref(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_percent_and_none),
	    cmocka_unit_test(test_bad_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
