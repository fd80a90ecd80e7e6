/* manager/ pure logic: config keys and their errors, profile stacking, instance names, cron and expiry. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "json.h"
#include "manager/config.h"
#include "manager/cron.h"
#include "manager/name.h"

static void test_config_unknown_key_lists_valid(void **state)
{
	isola_error err = {0};
	assert_int_equal(config_key_check("limits.memroy", "1GiB", INSTANCE_CONTAINER, true, &err), -1);
	assert_non_null(strstr(err.msg, "unknown config key \"limits.memroy\""));
	/* the message carries the whole list, so the user sees the right spelling */
	assert_non_null(strstr(err.msg, "limits.memory"));
	assert_non_null(strstr(err.msg, "security.privileged"));
	assert_non_null(strstr(err.msg, "environment.*"));
}

static void test_config_values(void **state)
{
	isola_error err = {0};
	struct {
		const char *k, *v;
		int ok;
	} cases[] = {
	    {"limits.memory", "512MiB", 1},
	    {"limits.memory", "1GB", 1},
	    {"limits.memory", "50%", 1},
	    {"limits.memory", "lots", 0},
	    {"limits.memory", "1KiB", 0},
	    {"limits.memory", "150%", 0},
	    {"limits.cpu", "2", 1},
	    {"limits.cpu", "0-3,6", 1},
	    {"limits.cpu", "0", 0},
	    {"limits.cpu", "3-1", 0},
	    {"limits.cpu.allowance", "50%", 1},
	    {"limits.cpu.allowance", "25ms/100ms", 1},
	    {"limits.cpu.allowance", "25/100", 0},
	    {"limits.processes", "100", 1},
	    {"limits.processes", "-1", 0},
	    {"limits.processes", "0", 0},
	    {"security.privileged", "true", 1},
	    {"security.nesting", "maybe", 0},
	    {"boot.autostart", "1", 1},
	    {"environment.FOO", "bar", 1},
	    {"environment.A=B", "x", 0},
	    {"user.note", "anything at all", 1},
	    {"snapshots.schedule", "*/15 * * * *", 1},
	    {"snapshots.schedule", "61 * * * *", 0},
	    {"snapshots.expiry", "2w 3d", 1},
	    {"snapshots.expiry", "2q", 0},
	    {"cloud-init.user-data", "#cloud-config\n", 1},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int r = config_key_check(cases[i].k, cases[i].v, INSTANCE_CONTAINER, true, &err);
		if ((r == 0) != cases[i].ok)
			fail_msg("%s=%s: expected %s, got %s (%s)", cases[i].k, cases[i].v,
			         cases[i].ok ? "accepted" : "rejected", r == 0 ? "accepted" : "rejected", err.msg);
		if (!cases[i].ok)
			assert_non_null(strstr(err.msg, cases[i].k));
	}
}

static void test_config_volatile_and_type(void **state)
{
	isola_error err = {0};
	assert_int_equal(config_key_check("volatile.idmap.base", "1", INSTANCE_CONTAINER, true, &err), -1);
	assert_int_equal(err.errnum, EPERM);
	assert_int_equal(config_key_check("volatile.idmap.base", "1", INSTANCE_CONTAINER, false, &err), 0);
	assert_int_equal(config_key_check("security.privileged", "true", INSTANCE_VM, true, &err), -1);
	assert_non_null(strstr(err.msg, "virtual-machine"));
}

static void test_config_validate_object(void **state)
{
	isola_error err = {0};
	json_t *c = json_pack("{ss ss}", "limits.cpu", "2", "limits.memory", "64MiB");
	assert_int_equal(config_validate(c, INSTANCE_CONTAINER, true, &err), 0);
	json_object_set_new(c, "limits.cpu", json_integer(2));
	assert_int_equal(config_validate(c, INSTANCE_CONTAINER, true, &err), -1);
	assert_non_null(strstr(err.msg, "must be a string"));
	json_decref(c);
}

static void test_sizes_and_limits(void **state)
{
	isola_error err = {0};
	uint64_t v;
	assert_int_equal(incus_parse_size("1GB", &v, &err), 0);
	assert_int_equal(v, 1000000000ULL);
	assert_int_equal(incus_parse_size("1GiB", &v, &err), 0);
	assert_int_equal(v, 1ULL << 30);
	json_t *c = json_pack("{ss ss ss}", "limits.memory", "25%", "limits.cpu", "0-1,4", "limits.cpu.allowance",
	                      "25ms/100ms");
	assert_int_equal(config_memory_limit(c, 4ULL << 30, &v, &err), 0);
	assert_int_equal(v, 1ULL << 30);
	unsigned n;
	char *set;
	assert_int_equal(config_cpu_limit(c, &n, &set, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(set, "0-1,4");
	free(set);
	uint64_t q, p;
	assert_int_equal(config_cpu_allowance(c, n, &q, &p, &err), 0);
	assert_int_equal(q, 25000);
	assert_int_equal(p, 100000);
	json_object_set_new(c, "limits.cpu.allowance", json_string("50%"));
	assert_int_equal(config_cpu_allowance(c, 2, &q, &p, &err), 0);
	assert_int_equal(q, 100000);
	json_decref(c);
}

static void test_profile_stacking(void **state)
{
	json_t *p1 = json_pack("{ss ss}", "limits.memory", "1GiB", "limits.cpu", "1");
	json_t *p2 = json_pack("{ss}", "limits.memory", "2GiB");
	json_t *local = json_pack("{ss}", "limits.cpu", "4");
	json_t *profiles[] = {p1, p2};
	json_t *eff = config_stack(profiles, 2, local);
	assert_string_equal(json_string_value(json_object_get(eff, "limits.memory")), "2GiB"); /* later profile */
	assert_string_equal(json_string_value(json_object_get(eff, "limits.cpu")), "4");       /* local wins */
	/* the result is a deep copy: editing it leaves the inputs alone */
	json_object_set_new(eff, "limits.cpu", json_string("8"));
	assert_string_equal(json_string_value(json_object_get(local, "limits.cpu")), "4");
	json_decref(eff);

	/* devices: a later device of the same name replaces the earlier one whole */
	json_t *d1 = json_pack("{s{ss ss ss}}", "root", "type", "disk", "path", "/", "pool", "default");
	json_t *d2 =
	    json_pack("{s{ss ss ss ss}}", "root", "type", "disk", "path", "/", "pool", "fast", "size", "10GiB");
	json_t *devs[] = {d1};
	json_t *effd = config_stack(devs, 1, d2);
	assert_string_equal(json_string_value(json_object_get(json_object_get(effd, "root"), "pool")), "fast");
	json_decref(effd);
	json_decref(p1), json_decref(p2), json_decref(local), json_decref(d1), json_decref(d2);
}

static void test_devices(void **state)
{
	isola_error err = {0};
	json_t *ok = json_pack("{s{ss ss ss} s{ss ss ss}}", "root", "type", "disk", "path", "/", "pool", "default",
	                       "eth0", "type", "nic", "network", "isolabr0", "name", "eth0");
	assert_int_equal(devices_validate(ok, &err), 0);
	json_decref(ok);
	json_t *bad = json_pack("{s{ss ss}}", "x", "type", "gpu", "id", "0");
	assert_int_equal(devices_validate(bad, &err), -1);
	assert_non_null(strstr(err.msg, "gpu"));
	json_decref(bad);
	bad = json_pack("{s{ss ss ss ss}}", "eth0", "type", "nic", "network", "br", "speed", "fast", "name", "e");
	assert_int_equal(devices_validate(bad, &err), -1);
	assert_non_null(strstr(err.msg, "unknown nic key \"speed\""));
	assert_non_null(strstr(err.msg, "hwaddr"));
	json_decref(bad);
	bad = json_pack("{s{ss ss}}", "data", "type", "disk", "path", "/data");
	assert_int_equal(devices_validate(bad, &err), -1);
	assert_non_null(strstr(err.msg, "source"));
	json_decref(bad);
	char *kv[] = {"network=isolabr0", "name=eth1"};
	json_t *d = device_from_args("nic", kv, 2, &err);
	assert_non_null(d);
	assert_int_equal(device_validate("eth1", d, &err), 0);
	json_decref(d);
	char *badkv[] = {"network"};
	assert_null(device_from_args("nic", badkv, 1, &err));
}

static void test_instance_names(void **state)
{
	isola_error err = {0};
	const char *good[] = {"c1", "web-01", "A", "abc-def-123"};
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		if (instance_name_check(good[i], &err) < 0)
			fail_msg("\"%s\" should be valid: %s", good[i], err.msg);
	char long64[65];
	memset(long64, 'a', 64);
	long64[64] = 0;
	char ok63[64];
	memset(ok63, 'b', 63);
	ok63[63] = 0;
	assert_int_equal(instance_name_check(ok63, &err), 0);
	struct {
		const char *n, *why;
	} bad[] = {{"", "empty"},
	           {"1abc", "digit"},
	           {"-abc", "start with '-'"},
	           {"abc-", "end with"},
	           {"a_b", "'_'"},
	           {"a.b", "'.'"},
	           {"a b", "' '"},
	           {"a/b", "'/'"},
	           {long64, "longer than 63"},
	           {"caf\xc3\xa9", "not allowed"}};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (instance_name_check(bad[i].n, &err) == 0)
			fail_msg("\"%s\" should be rejected", bad[i].n);
		if (!strstr(err.msg, bad[i].why))
			fail_msg("\"%s\": message \"%s\" does not say \"%s\"", bad[i].n, err.msg, bad[i].why);
	}
	assert_int_equal(object_name_check("profile", "web", &err), 0);
	assert_int_equal(object_name_check("profile", "..", &err), -1);
	assert_int_equal(object_name_check("profile", "a b", &err), -1);
}

static time_t local(int y, int mo, int d, int h, int mi)
{
	struct tm tm = {
	    .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_isdst = -1};
	return mktime(&tm);
}

static void test_cron(void **state)
{
	isola_error err = {0};
	struct cron_schedule s;
	assert_int_equal(cron_parse("*/15 * * * *", &s, &err), 0);
	assert_true(cron_matches(&s, local(2026, 11, 25, 10, 30)));
	assert_false(cron_matches(&s, local(2026, 11, 25, 10, 31)));
	assert_int_equal(cron_next(&s, local(2026, 11, 25, 10, 31)), local(2026, 11, 25, 10, 45));

	assert_int_equal(cron_parse("30 2 * * mon-fri", &s, &err), 0);
	/* 2026-11-28 is a Saturday: next is Monday 30 Nov 02:30 */
	assert_int_equal(cron_next(&s, local(2026, 11, 27, 3, 0)), local(2026, 11, 30, 2, 30));

	assert_int_equal(cron_parse("@daily", &s, &err), 0);
	assert_int_equal(cron_next(&s, local(2026, 12, 31, 12, 0)), local(2027, 1, 1, 0, 0));
	assert_int_equal(cron_parse("@hourly, @daily", &s, &err), 0);
	assert_int_equal(s.n, 2);

	/* DOM and DOW both restricted: either matches (crontab(5)) */
	assert_int_equal(cron_parse("0 0 1 * sun", &s, &err), 0);
	assert_true(cron_matches(&s, local(2026, 11, 29, 0, 0))); /* a Sunday, not the 1st */
	assert_true(cron_matches(&s, local(2026, 12, 1, 0, 0)));  /* the 1st, a Tuesday */
	assert_int_equal(cron_parse("0 0 * * 7", &s, &err), 0);   /* 7 = sunday */
	assert_true(cron_matches(&s, local(2026, 11, 29, 0, 0)));
	assert_int_equal(cron_parse("0 12 * jan,jul *", &s, &err), 0);
	assert_int_equal(cron_next(&s, local(2026, 2, 1, 0, 0)), local(2026, 7, 1, 12, 0));
	assert_int_equal(cron_parse("0 0 31 2 *", &s, &err), 0);
	assert_int_equal(cron_next(&s, local(2026, 1, 1, 0, 0)), -1); /* never: Feb 31 */

	const char *bad[] = {"* * * *",     "60 * * * *",   "* 24 * * *", "* * 0 * *",    "* * * 13 *",
	                     "*/0 * * * *", "@fortnightly", "a b c d e",  "1,,2 * * * *", "* * * * * *"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (cron_parse(bad[i], &s, &err) == 0)
			fail_msg("cron \"%s\" should be rejected", bad[i]);
}

static void test_expiry(void **state)
{
	isola_error err = {0};
	struct expiry e;
	assert_int_equal(expiry_parse("1M 2H 3d 4w 5m 6y", &e, &err), 0);
	assert_int_equal(e.minutes, 1);
	assert_int_equal(e.hours, 2);
	assert_int_equal(e.days, 3);
	assert_int_equal(e.weeks, 4);
	assert_int_equal(e.months, 5);
	assert_int_equal(e.years, 6);
	assert_int_equal(expiry_parse("2w", &e, &err), 0);
	assert_int_equal(expiry_apply(&e, local(2026, 11, 25, 0, 0)), local(2026, 12, 9, 0, 0));
	assert_int_equal(expiry_parse("1m", &e, &err), 0);
	assert_int_equal(expiry_apply(&e, local(2026, 1, 15, 0, 0)), local(2026, 2, 15, 0, 0));
	assert_int_equal(expiry_parse("", &e, &err), 0);
	assert_int_equal(expiry_apply(&e, 1000), 0);
	assert_int_equal(expiry_parse("3 days", &e, &err), -1);
	assert_int_equal(expiry_parse("3x", &e, &err), -1);
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_unknown_key_lists_valid),
	    cmocka_unit_test(test_config_values),
	    cmocka_unit_test(test_config_volatile_and_type),
	    cmocka_unit_test(test_config_validate_object),
	    cmocka_unit_test(test_sizes_and_limits),
	    cmocka_unit_test(test_profile_stacking),
	    cmocka_unit_test(test_devices),
	    cmocka_unit_test(test_instance_names),
	    cmocka_unit_test(test_cron),
	    cmocka_unit_test(test_expiry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
