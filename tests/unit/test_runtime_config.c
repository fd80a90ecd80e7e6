/* config.json parsing: each malformed document fails with the JSON path of the bad value; ids; id maps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include "json.h"
#include "runtime/config.h"
#include "runtime/process.h"
#include "runtime/runtime.h"

static const char *base =
    "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"rootfs\",\"readonly\":true},"
    "\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"env\":[\"PATH=/bin\"],\"user\":{\"uid\":0,\"gid\":0}},"
    "\"hostname\":\"h\",\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"}],"
    "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},{\"type\":\"uts\"}]}}";

/* Parse base with one change applied at a dotted path (value given as JSON text, or NULL to delete). */
static struct rt_config *parse_with(const char *path, const char *value, isola_error *err)
{
	json_error_t je;
	json_t *doc = json_loads(base, 0, &je);
	assert_non_null(doc);
	if (path) {
		char buf[256];
		snprintf(buf, sizeof buf, "%s", path);
		json_t *obj = doc;
		char *save = NULL, *tok = strtok_r(buf, ".", &save), *next;
		while ((next = strtok_r(NULL, ".", &save))) {
			char *br = strchr(tok, '[');
			if (br) {
				*br = 0;
				obj = json_array_get(json_object_get(obj, tok), (size_t)atoi(br + 1));
			} else {
				json_t *child = json_object_get(obj, tok);
				if (!child) {
					child = json_object();
					json_object_set_new(obj, tok, child);
				}
				obj = child;
			}
			tok = next;
		}
		if (value)
			json_object_set_new(obj, tok, json_loads(value, JSON_DECODE_ANY, &je));
		else
			json_object_del(obj, tok);
	}
	memset(err, 0, sizeof *err);
	return config_parse(doc, "/bundle", err);
}

static void expect_error(const char *path, const char *value, const char *msg)
{
	isola_error err;
	struct rt_config *c = parse_with(path, value, &err);
	if (c) {
		config_free(c);
		fail_msg("setting %s = %s was accepted; expected an error containing \"%s\"", path, value, msg);
	}
	if (!strstr(err.msg, msg))
		fail_msg("setting %s = %s: error \"%s\" does not contain \"%s\"", path, value, err.msg, msg);
}

static void test_valid(void **state)
{
	(void)state;
	isola_error err;
	struct rt_config *c = parse_with(NULL, NULL, &err);
	if (!c)
		fail_msg("base config rejected: %s", err.msg);
	assert_string_equal(c->root_path, "/bundle/rootfs");
	assert_true(c->root_readonly);
	assert_int_equal(c->clone_flags, CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS);
	assert_string_equal(c->args[0], "sh");
	assert_int_equal(c->n_mounts, 1);
	assert_string_equal(c->mounts[0].type, "proc");
	config_free(c);
}

static void test_errors_name_json_path(void **state)
{
	(void)state;
	expect_error("ociVersion", NULL, "ociVersion: missing");
	expect_error("ociVersion", "\"2.0.0\"", "ociVersion: \"2.0.0\" is not a 1.x");
	expect_error("root.path", "5", "root.path: expected a string");
	expect_error("root", NULL, "root: missing");
	expect_error("process.args", "[]", "process.args: must not be empty");
	expect_error("process.args", "[\"sh\", 3]", "process.args[1]");
	expect_error("process.cwd", "\"relative\"", "process.cwd: \"relative\" is not an absolute path");
	expect_error("process.user.uid", "-1", "process.user.uid");
	expect_error("process.user.uid", "4294967296", "process.user.uid: 4294967296 is out of range");
	expect_error("process.terminal", "\"yes\"", "process.terminal: expected");
	expect_error("process.oomScoreAdj", "5000", "process.oomScoreAdj: 5000 is outside -1000..1000");
	expect_error("process.rlimits", "[{\"type\":\"RLIMIT_BOGUS\",\"soft\":1,\"hard\":1}]",
	             "process.rlimits[0].type: unknown rlimit \"RLIMIT_BOGUS\"");
	expect_error("process.rlimits", "[{\"type\":\"RLIMIT_NOFILE\",\"soft\":9,\"hard\":1}]",
	             "process.rlimits[0]: soft 9 exceeds hard 1");
	expect_error("linux.namespaces", "[{\"type\":\"pid\"},{\"type\":\"foo\"}]",
	             "linux.namespaces[1].type: unknown namespace \"foo\"");
	expect_error("linux.namespaces", "[{\"type\":\"pid\"},{\"type\":\"pid\"}]",
	             "linux.namespaces[1].type: namespace \"pid\" listed twice");
	expect_error("linux.namespaces", "[{\"type\":\"net\"}]", "linux.namespaces[0].type: unknown namespace \"net\"");
	expect_error("linux.namespaces", "[{\"type\":\"uts\",\"path\":\"rel\"}]", "linux.namespaces[0].path");
	expect_error("linux.namespaces", "\"pid\"", "linux.namespaces: expected an array");
	expect_error("mounts", "[{\"type\":\"tmpfs\"}]", "mounts[0].destination: missing");
	expect_error("mounts", "[{\"destination\":\"dev\",\"type\":\"tmpfs\"}]",
	             "mounts[0].destination: \"dev\" is not an absolute path");
	expect_error("mounts", "[{\"destination\":\"/a\",\"options\":[\"bind\"]}]",
	             "mounts[0].source: missing for a bind mount");
	expect_error("mounts", "[{\"destination\":\"/a\",\"type\":\"tmpfs\",\"options\":[7]}]",
	             "mounts[0].options[0]: expected a string");
	expect_error("linux.namespaces", "[{\"type\":\"pid\"}]", "hostname: needs a new \"uts\" namespace");
	expect_error("linux.uidMappings", "[{\"containerID\":0,\"hostID\":1000,\"size\":1}]",
	             "linux.uidMappings: mappings need a new \"user\" namespace");
	expect_error("linux.sysctl", "{\"net.ipv4.ip_forward\": 1}",
	             "linux.sysctl.net.ipv4.ip_forward: expected a string");
	expect_error("linux.sysctl", "{\"../../etc/x\": \"1\"}", "not a sysctl name");
	expect_error("linux.rootfsPropagation", "\"sideways\"",
	             "linux.rootfsPropagation: unknown propagation \"sideways\"");
	expect_error("linux.devices", "[{\"path\":\"/dev/x\",\"type\":\"q\",\"major\":1,\"minor\":1}]",
	             "linux.devices[0].type: \"q\" is not one of c, b, u, p");
	expect_error("hooks.prestart", "[{\"path\":\"relative\"}]",
	             "hooks.prestart[0].path: \"relative\" is not an absolute path");
	expect_error("hooks.poststop", "[{\"path\":\"/bin/x\",\"timeout\":0}]",
	             "hooks.poststop[0].timeout: must be a positive");
	expect_error("hooks.createRuntime", "{}", "hooks.createRuntime: expected an array");
}

static void test_id_valid(void **state)
{
	(void)state;
	assert_true(runtime_id_valid("c1"));
	assert_true(runtime_id_valid("a.b-c_d"));
	assert_false(runtime_id_valid(""));
	assert_false(runtime_id_valid("."));
	assert_false(runtime_id_valid(".."));
	assert_false(runtime_id_valid("a/b"));
	assert_false(runtime_id_valid("/"));
	assert_false(runtime_id_valid("a\nb"));
	assert_false(runtime_id_valid(NULL));
	char big[RUNTIME_ID_MAX + 2];
	memset(big, 'a', sizeof big);
	big[RUNTIME_ID_MAX] = 0;
	assert_true(runtime_id_valid(big));
	big[RUNTIME_ID_MAX] = 'a';
	big[RUNTIME_ID_MAX + 1] = 0;
	assert_false(runtime_id_valid(big));
}

static int idmaps(const char *text, struct rt_idmap **m, size_t *n, isola_error *err)
{
	json_error_t je;
	json_t *a = json_loads(text, 0, &je);
	memset(err, 0, sizeof *err);
	int r = config_parse_idmaps(a, "linux.uidMappings", m, n, err);
	json_decref(a);
	return r;
}

static void test_idmaps(void **state)
{
	(void)state;
	struct rt_idmap *m = NULL;
	size_t n = 0;
	isola_error err;
	assert_int_equal(idmaps("[{\"containerID\":0,\"hostID\":100000,\"size\":65536},"
	                        "{\"containerID\":65536,\"hostID\":300000,\"size\":10}]",
	                        &m, &n, &err),
	                 0);
	assert_int_equal(n, 2);
	char buf[128];
	assert_true(process_format_idmap(m, n, buf, sizeof buf) > 0);
	assert_string_equal(buf, "0 100000 65536\n65536 300000 10\n");
	assert_int_equal(process_format_idmap(m, n, buf, 8), -1);
	free(m);
	assert_int_equal(idmaps("[{\"containerID\":0,\"hostID\":100000,\"size\":10},"
	                        "{\"containerID\":5,\"hostID\":200000,\"size\":10}]",
	                        &m, &n, &err),
	                 -1);
	assert_non_null(strstr(err.msg, "linux.uidMappings[1]: containerID range overlaps linux.uidMappings[0]"));
	assert_int_equal(idmaps("[{\"containerID\":0,\"hostID\":100000,\"size\":10},"
	                        "{\"containerID\":50,\"hostID\":100005,\"size\":10}]",
	                        &m, &n, &err),
	                 -1);
	assert_non_null(strstr(err.msg, "hostID range overlaps"));
	assert_int_equal(idmaps("[{\"containerID\":0,\"hostID\":1,\"size\":0}]", &m, &n, &err), -1);
	assert_non_null(strstr(err.msg, "linux.uidMappings[0].size: must be at least 1"));
	assert_int_equal(idmaps("[{\"containerID\":4294967290,\"hostID\":1,\"size\":100}]", &m, &n, &err), -1);
	assert_non_null(strstr(err.msg, "range wraps"));
	assert_int_equal(idmaps("[{\"containerID\":0,\"size\":1}]", &m, &n, &err), -1);
	assert_non_null(strstr(err.msg, "linux.uidMappings[0].hostID: missing"));
}

static void test_mount_options(void **state)
{
	(void)state;
	json_error_t je;
	json_t *o = json_loads("[\"ro\",\"nosuid\",\"rbind\",\"rslave\",\"size=64k\",\"mode=755\",\"rw\"]", 0, &je);
	struct rt_mount m = {0};
	isola_error err = {0};
	assert_int_equal(config_parse_mount_options(o, "mounts[0].options", &m, &err), 0);
	assert_true(m.bind && m.recursive);
	assert_int_equal(m.flags, MS_NOSUID); /* "rw" after "ro" wins */
	assert_int_equal(m.clear, MS_RDONLY);
	assert_int_equal(m.propagation, MS_SLAVE | MS_REC);
	assert_string_equal(m.data, "size=64k,mode=755");
	free(m.data);
	json_decref(o);
	o = json_loads("[\"idmap\"]", 0, &je);
	memset(&m, 0, sizeof m);
	assert_int_equal(config_parse_mount_options(o, "mounts[2].options", &m, &err), -1);
	assert_non_null(strstr(err.msg, "mounts[2].options[0]: mount option \"idmap\" is not supported"));
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),         cmocka_unit_test(test_errors_name_json_path),
	    cmocka_unit_test(test_id_valid),      cmocka_unit_test(test_idmaps),
	    cmocka_unit_test(test_mount_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
