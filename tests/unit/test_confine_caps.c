/* runtime/caps: OCI capability names, set parsing with JSON-path errors, the empty-by-default rule
 * (CVE-2022-29162), and applying the sets in a forked child, read back from /proc/self/status. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>
#include "cleanup.h"
#include "json.h"
#include "runtime/caps.h"

#define BIT(c) (1ULL << (c))

static json_t *parse_json(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, 0, &je);
	if (!v)
		fail_msg("test JSON does not parse: %s", je.text);
	return v;
}

static void test_names(void **state)
{
	assert_int_equal(caps_from_name("CAP_CHOWN"), CAP_CHOWN);
	assert_int_equal(caps_from_name("CAP_SYS_ADMIN"), CAP_SYS_ADMIN);
	assert_int_equal(caps_from_name("cap_net_raw"), CAP_NET_RAW);
	assert_int_equal(caps_from_name("CAP_CHECKPOINT_RESTORE"), 40);
	assert_int_equal(caps_from_name("SYS_ADMIN"), -1); /* the OCI spelling has the prefix */
	assert_int_equal(caps_from_name("CAP_FOO"), -1);
	assert_int_equal(caps_from_name("21"), -1);
	assert_int_equal(caps_from_name(""), -1);
	assert_string_equal(caps_to_name(CAP_KILL), "CAP_KILL");
	assert_string_equal(caps_to_name(999), "CAP_?");
	for (int c = 0; c <= 40; c++)
		assert_int_equal(caps_from_name(caps_to_name(c)), c);
}

static void test_parse_ok(void **state)
{
	_cleanup_json_ json_t *j =
	    parse_json("{\"bounding\":[\"CAP_KILL\",\"CAP_NET_RAW\"],\"effective\":[\"CAP_KILL\"],"
	               "\"permitted\":[\"CAP_KILL\",\"CAP_NET_RAW\"],\"inheritable\":[\"CAP_NET_RAW\"],"
	               "\"ambient\":[\"CAP_NET_RAW\"]}");
	struct isola_caps c;
	isola_error err = {0};
	assert_int_equal(caps_parse(j, "process.capabilities", &c, &err), 0);
	assert_true(c.set[CAPS_BOUNDING] == (BIT(CAP_KILL) | BIT(CAP_NET_RAW)));
	assert_true(c.set[CAPS_EFFECTIVE] == BIT(CAP_KILL));
	assert_true(c.set[CAPS_AMBIENT] == BIT(CAP_NET_RAW));
	_cleanup_json_ json_t *back = caps_to_json(&c);
	assert_int_equal(json_array_size(json_object_get(back, "bounding")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(back, "ambient"), 0)), "CAP_NET_RAW");
}

static void test_defaults_empty(void **state)
{
	struct isola_caps c;
	isola_error err = {0};
	memset(&c, 0xff, sizeof(c));
	assert_int_equal(caps_parse(NULL, "process.capabilities", &c, &err), 0);
	for (int s = 0; s < CAPS_NSETS; s++)
		assert_true(c.set[s] == 0);
	/* a config that names only bounding gets nothing in inheritable/ambient (CVE-2022-29162) */
	_cleanup_json_ json_t *j = parse_json("{\"bounding\":[\"CAP_SYS_ADMIN\"]}");
	assert_int_equal(caps_parse(j, "process.capabilities", &c, &err), 0);
	assert_true(c.set[CAPS_INHERITABLE] == 0 && c.set[CAPS_AMBIENT] == 0 && c.set[CAPS_EFFECTIVE] == 0);
	/* and what `spec` writes has neither */
	_cleanup_json_ json_t *d = caps_default_spec_json();
	assert_null(json_object_get(d, "inheritable"));
	assert_null(json_object_get(d, "ambient"));
	assert_int_equal(caps_parse(d, "process.capabilities", &c, &err), 0);
	assert_true(c.set[CAPS_BOUNDING] == (BIT(CAP_AUDIT_WRITE) | BIT(CAP_KILL) | BIT(CAP_NET_BIND_SERVICE)));
}

static void expect_error(const char *text, const char *msg)
{
	_cleanup_json_ json_t *j = parse_json(text);
	struct isola_caps c;
	isola_error err = {0};
	assert_int_equal(caps_parse(j, "process.capabilities", &c, &err), -1);
	if (strcmp(err.msg, msg) != 0)
		fail_msg("for %s\n  expected: %s\n  got:      %s", text, msg, err.msg);
}

static void test_parse_errors(void **state)
{
	expect_error("{\"bounding\":[\"CAP_KILL\",\"CAP_CHOWN\",\"CAP_SETUID\",\"CAP_FOO\"]}",
	             "process.capabilities.bounding[3]: unknown capability \"CAP_FOO\"");
	expect_error("{\"effective\":\"CAP_KILL\"}", "process.capabilities.effective: expected an array");
	expect_error("{\"permitted\":[1]}", "process.capabilities.permitted[0]: expected a string");
	expect_error("{\"ambiant\":[]}", "process.capabilities.ambiant: unknown capability set \"ambiant\" (expected "
	                                 "bounding, effective, inheritable, permitted or ambient)");
	expect_error(
	    "{\"permitted\":[\"CAP_KILL\"],\"inheritable\":[\"CAP_KILL\"],\"ambient\":[\"CAP_KILL\",\"CAP_NET_RAW\"]}",
	    "process.capabilities.ambient[1]: CAP_NET_RAW is not in permitted (an ambient capability must be "
	    "permitted and inheritable)");
	expect_error("[]", "process.capabilities: expected an object");
}

/* Apply in a forked child (root here) with a uid change to 1000, then read /proc/self/status. */
static void test_apply_child(void **state)
{
	if (geteuid() != 0)
		skip();
	_cleanup_json_ json_t *j = parse_json("{\"bounding\":[\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\",\"CAP_NET_RAW\"],"
	                                      "\"effective\":[\"CAP_NET_BIND_SERVICE\",\"CAP_NET_RAW\"],"
	                                      "\"permitted\":[\"CAP_NET_BIND_SERVICE\",\"CAP_NET_RAW\"],"
	                                      "\"inheritable\":[\"CAP_NET_RAW\"],\"ambient\":[\"CAP_NET_RAW\"]}");
	struct isola_caps want;
	isola_error err = {0};
	assert_int_equal(caps_parse(j, "process.capabilities", &want, &err), 0);
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		struct isola_caps got;
		char msg[ISOLA_ERR_MSG_MAX + 64] = "";
		if (caps_apply_pre_setuid(&want, &err) < 0 || setresgid(1000, 1000, 1000) < 0 ||
		    setresuid(1000, 1000, 1000) < 0 || caps_apply_post_setuid(&want, &err) < 0 ||
		    caps_read_proc(0, &got, &err) < 0)
			snprintf(msg, sizeof(msg), "apply: %s (errno %d)", err.msg, err.errnum);
		else
			for (int s = 0; s < CAPS_NSETS && !msg[0]; s++)
				if (got.set[s] != want.set[s])
					snprintf(msg, sizeof(msg), "%s is %#llx, want %#llx", caps_set_name(s),
					         (unsigned long long)got.set[s], (unsigned long long)want.set[s]);
		if (!msg[0] && prctl(PR_GET_KEEPCAPS) != 0)
			snprintf(msg, sizeof(msg), "KEEPCAPS still set after post_setuid");
		if (write(pfd[1], msg, strlen(msg)) < 0)
			_exit(2);
		_exit(0);
	}
	close(pfd[1]);
	char buf[ISOLA_ERR_MSG_MAX + 64] = "";
	ssize_t n = read(pfd[0], buf, sizeof(buf) - 1);
	close(pfd[0]);
	int st;
	waitpid(pid, &st, 0);
	if (n > 0)
		fail_msg("child: %s", buf);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),          cmocka_unit_test(test_parse_ok),
	    cmocka_unit_test(test_defaults_empty), cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_apply_child),
	};
	return cmocka_run_group_tests_name("confine caps", tests, NULL, NULL);
}
