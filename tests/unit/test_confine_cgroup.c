/* runtime/cgroup: OCI linux.resources → cgroup v2 file values (shares→weight, memory+swap → swap.max,
 * cpu.max), parse errors by JSON path, the missing-controller message; and, as root on the real
 * cgroup2 mount, a cgroup of our own: create, move a child in, list, freeze/thaw, kill, delegation shape,
 * destroy — plus "a limit on a controller this host lacks fails naming it" (skipped where it has it). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cleanup.h"
#include "json.h"
#include "runtime/cgroup.h"
#include "util.h"

static json_t *parse_json(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, 0, &je);
	if (!v)
		fail_msg("test JSON does not parse: %s (%s)", je.text, text);
	return v;
}

/* resources JSON → "file=value;file=value" */
static char *files_of(const char *text, isola_error *err)
{
	_cleanup_json_ json_t *j = parse_json(text);
	struct cgroup_resources r;
	if (cgroup_resources_parse(j, "linux.resources", &r, err) < 0)
		return NULL;
	struct cgroup_kv *kv = NULL;
	size_t n = 0;
	int rc = cgroup_resources_to_files(&r, &kv, &n, err);
	cgroup_resources_clear(&r);
	if (rc < 0)
		return NULL;
	char *out = calloc(1, 4096);
	for (size_t i = 0; i < n; i++)
		snprintf(out + strlen(out), 4096 - strlen(out), "%s%s=%s", i ? ";" : "", kv[i].key, kv[i].value);
	cgroup_kv_free(kv, n);
	return out;
}

static void expect_files(const char *text, const char *want)
{
	isola_error err = {0};
	_cleanup_free_ char *got = files_of(text, &err);
	if (!got)
		fail_msg("for %s: unexpected error: %s", text, err.msg);
	if (strcmp(got, want) != 0)
		fail_msg("for %s\n  expected: %s\n  got:      %s", text, want, got);
}

static void expect_error(const char *text, const char *want)
{
	isola_error err = {0};
	_cleanup_free_ char *got = files_of(text, &err);
	if (got)
		fail_msg("for %s: expected error \"%s\", got files %s", text, want, got);
	if (strcmp(err.msg, want) != 0)
		fail_msg("for %s\n  expected: %s\n  got:      %s", text, want, err.msg);
}

static void test_cpu(void **state)
{
	/* runc's mapping: 2 → 1, 1024 → 39, 262144 → 10000 */
	expect_files("{\"cpu\":{\"shares\":1024}}", "cpu.weight=39");
	expect_files("{\"cpu\":{\"shares\":2}}", "cpu.weight=1");
	expect_files("{\"cpu\":{\"shares\":262144}}", "cpu.weight=10000");
	expect_files("{\"cpu\":{\"shares\":512}}", "cpu.weight=20");
	expect_files("{\"cpu\":{\"quota\":50000,\"period\":100000}}", "cpu.max=50000 100000");
	expect_files("{\"cpu\":{\"quota\":25000}}", "cpu.max=25000 100000");
	expect_files("{\"cpu\":{\"quota\":-1,\"period\":50000}}", "cpu.max=max 50000");
	expect_files("{\"cpu\":{\"period\":200000}}", "cpu.max=max 200000");
	expect_files("{\"cpu\":{\"cpus\":\"0-1\",\"mems\":\"0\"}}", "cpuset.cpus=0-1;cpuset.mems=0");
	expect_error("{\"cpu\":{\"period\":10}}", "linux.resources.cpu.period: 10 is out of range (1000..1000000 us)");
	expect_error("{\"cpu\":{\"cpus\":\"0;rm\"}}",
	             "linux.resources.cpu.cpus: \"0;rm\" is not a cpu/node list like \"0-3,7\"");
	expect_error("{\"cpu\":{\"shares\":\"a lot\"}}", "linux.resources.cpu.shares: expected a non-negative integer");
}

static void test_memory(void **state)
{
	expect_files("{\"memory\":{\"limit\":268435456}}", "memory.max=268435456");
	expect_files("{\"memory\":{\"limit\":-1}}", "memory.max=max");
	/* OCI swap = memory + swap: 256M memory, 512M total → 256M of swap */
	expect_files("{\"memory\":{\"limit\":268435456,\"swap\":536870912}}",
	             "memory.max=268435456;memory.swap.max=268435456");
	expect_files("{\"memory\":{\"limit\":268435456,\"swap\":268435456}}", "memory.max=268435456;memory.swap.max=0");
	expect_files("{\"memory\":{\"limit\":268435456,\"swap\":-1}}", "memory.max=268435456;memory.swap.max=max");
	expect_files("{\"memory\":{\"reservation\":1048576}}", "memory.low=1048576");
	expect_error(
	    "{\"memory\":{\"limit\":268435456,\"swap\":1000}}",
	    "linux.resources.memory.swap: 1000 is below memory.limit 268435456 (OCI swap counts memory+swap, so "
	    "it must be >= the memory limit)");
	expect_error("{\"memory\":{\"swap\":1048576}}",
	             "linux.resources.memory.swap: a swap limit needs a memory limit (OCI swap counts memory+swap)");
	expect_error("{\"memory\":{\"limit\":0}}", "linux.resources.memory.limit: 0 is not a limit (bytes > 0, or -1)");
	expect_error("{\"memory\":{\"limit\":\"1G\"}}", "linux.resources.memory.limit: expected an integer");
	expect_error("{\"memory\":[]}", "linux.resources.memory: expected an object");
}

static void test_pids_io_unified(void **state)
{
	expect_files("{\"pids\":{\"limit\":64}}", "pids.max=64");
	expect_files("{\"pids\":{\"limit\":-1}}", "pids.max=max");
	expect_files("{\"pids\":{\"limit\":0}}", "pids.max=max");
	expect_files("{\"blockIO\":{\"weight\":500}}", "io.weight=default 4950");
	expect_files("{\"blockIO\":{\"weight\":10,\"weightDevice\":[{\"major\":8,\"minor\":0,\"weight\":1000}]}}",
	             "io.weight=default 1;io.weight=8:0 10000");
	expect_files("{\"blockIO\":{\"throttleReadBpsDevice\":[{\"major\":8,\"minor\":0,\"rate\":1048576}],"
	             "\"throttleWriteIOPSDevice\":[{\"major\":8,\"minor\":0,\"rate\":100},{\"major\":8,\"minor\":16,"
	             "\"rate\":5}]}}",
	             "io.max=8:0 rbps=1048576 wiops=100;io.max=8:16 wiops=5");
	expect_files("{\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":4194304}]}", "hugetlb.2MB.max=4194304");
	/* unified comes last and wins */
	expect_files("{\"memory\":{\"limit\":1048576},\"unified\":{\"memory.high\":\"524288\"}}",
	             "memory.max=1048576;memory.high=524288");
	expect_error("{\"unified\":{\"../../cgroup.procs\":\"1\"}}",
	             "linux.resources.unified: \"../../cgroup.procs\" is not a cgroup file name");
	expect_error("{\"blockIO\":{\"weight\":5}}", "linux.resources.blockIO.weight: 5 is out of range (10..1000)");
	expect_error("{\"blockIO\":{\"throttleReadBpsDevice\":[{\"major\":8,\"rate\":1}]}}",
	             "linux.resources.blockIO.throttleReadBpsDevice[0].minor: missing");
	expect_error("{\"hugepageLimits\":[{\"pageSize\":\"../x\",\"limit\":1}]}",
	             "linux.resources.hugepageLimits[0].pageSize: bad page size \"../x\"");
	expect_files("{}", "");
}

static void test_merge(void **state)
{
	_cleanup_json_ json_t *a = parse_json("{\"memory\":{\"limit\":1048576},\"pids\":{\"limit\":10}}");
	_cleanup_json_ json_t *b = parse_json("{\"pids\":{\"limit\":20},\"cpu\":{\"quota\":1000}}");
	struct cgroup_resources ra, rb;
	isola_error err = {0};
	assert_int_equal(cgroup_resources_parse(a, "r", &ra, &err), 0);
	assert_int_equal(cgroup_resources_parse(b, "r", &rb, &err), 0);
	assert_int_equal(cgroup_resources_merge(&ra, &rb, &err), 0);
	assert_true(ra.has_memory_limit && ra.memory_limit == 1048576);
	assert_true(ra.pids_limit == 20 && ra.has_cpu_quota && ra.cpu_quota == 1000);
	cgroup_resources_clear(&ra);
	cgroup_resources_clear(&rb);
}

static void test_controllers_and_message(void **state)
{
	struct cgroup_kv kv[] = {{"cpu.max", "1"},
	                         {"memory.max", "1"},
	                         {"memory.swap.max", "0"},
	                         {"cgroup.freeze", "0"},
	                         {"io.weight", "1"}};
	_cleanup_strv_ char **c = cgroup_files_controllers(kv, 5);
	assert_string_equal(c[0], "cpu");
	assert_string_equal(c[1], "memory");
	assert_string_equal(c[2], "io");
	assert_null(c[3]);
	isola_error err = {0};
	cgroup_missing_controller_err(&err, "memory", "/sys/fs/cgroup/unified", true);
	assert_string_equal(err.msg, "cgroup controller \"memory\" is not available in the cgroup v2 hierarchy at "
	                             "/sys/fs/cgroup/unified (it is bound to cgroup v1): boot with "
	                             "systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all");
	enum cgroup_manager m;
	assert_int_equal(cgroup_manager_parse("disabled", &m, &err), 0);
	assert_int_equal(m, CGROUP_MANAGER_DISABLED);
	assert_int_equal(cgroup_manager_parse("lxc", &m, &err), -1);
	assert_non_null(strstr(err.msg, "unknown manager \"lxc\""));
}

static void test_managers(void **state)
{
	struct cgroup_resources none = {0};
	struct isola_cgroup *cg = NULL;
	isola_error err = {0};
	struct cgroup_options o = {.manager = CGROUP_MANAGER_SYSTEMD, .id = "c1"};
	assert_int_equal(cgroup_create(&o, &none, &cg, &err), -1);
	assert_non_null(strstr(err.msg, "--systemd-cgroup"));
	assert_non_null(strstr(err.msg, "not implemented"));
	o.manager = CGROUP_MANAGER_DISABLED;
	assert_int_equal(cgroup_create(&o, &none, &cg, &err), 0);
	assert_false(cg->available);
	assert_int_equal(cgroup_enter_fd(cg, &err), -1);
	assert_int_equal(cgroup_freeze(cg, true, &err), -1);
	assert_non_null(strstr(err.msg, "--cgroup-manager disabled"));
	assert_int_equal(cgroup_destroy(cg, &err), 0);
	cgroup_free(cg);
	cg = NULL;
	struct cgroup_resources lim = {.has_pids_limit = true, .pids_limit = 5};
	assert_int_equal(cgroup_create(&o, &lim, &cg, &err), -1);
	assert_null(cg);
	assert_non_null(strstr(err.msg, "pids.max, but --cgroup-manager disabled"));
	/* hostile cgroupsPath never leaves the mount */
	o.manager = CGROUP_MANAGER_CGROUPFS;
	o.cgroups_path = "/isola/../../etc";
	assert_int_equal(cgroup_create(&o, &none, &cg, &err), -1);
	assert_non_null(strstr(err.msg, "component \"..\" is not allowed"));
	o.cgroups_path = "machine.slice:isola:c1";
	assert_int_equal(cgroup_create(&o, &none, &cg, &err), -1);
	assert_non_null(strstr(err.msg, "--systemd-cgroup"));
}

static bool have_cgroup2_root(void)
{
	if (geteuid() != 0)
		return false;
	char *m = NULL;
	isola_error err;
	if (cgroup_find_mount(&m, &err) < 0)
		return false;
	free(m);
	return true;
}

/* Real cgroup: create (no limits), put a sleeping child in it, list, freeze, thaw, kill, destroy. */
static void test_real_lifecycle(void **state)
{
	if (!have_cgroup2_root())
		skip();
	char path[128];
	snprintf(path, sizeof(path), "/isola-confine-unit/life-%d", (int)getpid());
	struct cgroup_options o = {.manager = CGROUP_MANAGER_CGROUPFS, .id = "x", .cgroups_path = path};
	struct cgroup_resources none = {0};
	_cleanup_cgroup_ struct isola_cgroup *cg = NULL;
	isola_error err = {0};
	if (cgroup_create(&o, &none, &cg, &err) < 0)
		fail_msg("create: %s", err.msg);
	if (!cg->available)
		skip(); /* the host refuses even mkdir: degraded cleanly, nothing more to test */
	assert_string_equal(cg->path, path);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		for (;;)
			pause();
	}
	if (cgroup_add_pid(cg, child, &err) < 0)
		fail_msg("add pid: %s", err.msg);
	pid_t *pids = NULL;
	size_t n = 0;
	assert_int_equal(cgroup_pids(cg, &pids, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pids[0], child);
	free(pids);
	bool frozen = false;
	if (cgroup_freeze(cg, true, &err) < 0)
		fail_msg("freeze: %s", err.msg);
	assert_int_equal(cgroup_is_frozen(cg, &frozen, &err), 0);
	assert_true(frozen);
	if (cgroup_freeze(cg, false, &err) < 0)
		fail_msg("thaw: %s", err.msg);
	assert_int_equal(cgroup_is_frozen(cg, &frozen, &err), 0);
	assert_false(frozen);
	json_t *stats = NULL;
	if (cgroup_stats(cg, &stats, &err) < 0)
		fail_msg("stats: %s", err.msg);
	assert_non_null(json_object_get(json_object_get(json_object_get(stats, "cpu"), "usage"), "total"));
	json_decref(stats);
	if (cgroup_kill(cg, &err) < 0)
		fail_msg("kill: %s", err.msg);
	int st;
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	/* a nested cgroup made "inside" is removed too */
	assert_int_equal(mkdirat(cg->dirfd, "nested", 0755), 0);
	if (cgroup_destroy(cg, &err) < 0)
		fail_msg("destroy: %s", err.msg);
	char full[256];
	snprintf(full, sizeof(full), "%s%s", cg->mount, path);
	struct stat sb;
	assert_int_equal(stat(full, &sb), -1);
	snprintf(full, sizeof(full), "%s/isola-confine-unit", cg->mount);
	rmdir(full);
}

static void test_real_delegation(void **state)
{
	if (!have_cgroup2_root())
		skip();
	char path[128];
	snprintf(path, sizeof(path), "/isola-confine-unit/deleg-%d", (int)getpid());
	struct cgroup_options o = {.manager = CGROUP_MANAGER_CGROUPFS,
	                           .id = "x",
	                           .cgroups_path = path,
	                           .inner = "init",
	                           .inner_uid = 100000,
	                           .inner_gid = 100000};
	struct cgroup_resources none = {0};
	_cleanup_cgroup_ struct isola_cgroup *cg = NULL;
	isola_error err = {0};
	if (cgroup_create(&o, &none, &cg, &err) < 0)
		fail_msg("create: %s", err.msg);
	if (!cg->available)
		skip();
	_cleanup_close_ int fd = cgroup_enter_fd(cg, &err);
	assert_true(fd >= 0);
	struct stat sb;
	assert_int_equal(fstat(fd, &sb), 0);
	assert_int_equal(sb.st_uid, 100000); /* the inner cgroup belongs to the container's root */
	assert_int_equal(fstatat(fd, "cgroup.procs", &sb, 0), 0);
	assert_int_equal(sb.st_uid, 100000);
	assert_int_equal(fstat(cg->dirfd, &sb), 0);
	assert_int_equal(sb.st_uid, 0); /* the outer one, with the limits, does not */
	pid_t child = fork();
	if (child == 0) {
		for (;;)
			pause();
	}
	assert_int_equal(cgroup_add_pid(cg, child, &err), 0);
	char want[256], got[256] = "";
	snprintf(want, sizeof(want), "0::%s/init\n", path);
	snprintf(got, sizeof(got), "/proc/%d/cgroup", (int)child);
	_cleanup_free_ char *content = NULL;
	assert_int_equal(read_file_at(AT_FDCWD, got, &content, NULL, &err), 0);
	if (!strstr(content, want))
		fail_msg("child's cgroup is %s, want %s", content, want);
	assert_int_equal(cgroup_kill(cg, &err), 0);
	waitpid(child, NULL, 0);
	assert_int_equal(cgroup_destroy(cg, &err), 0);
	char full[256];
	snprintf(full, sizeof(full), "%s/isola-confine-unit", cg->mount);
	rmdir(full);
}

/* Asking for a limit whose controller this hierarchy lacks fails naming it — and never half-creates. */
static void test_real_missing_controller(void **state)
{
	if (!have_cgroup2_root())
		skip();
	char *m = NULL;
	isola_error err = {0};
	assert_int_equal(cgroup_find_mount(&m, &err), 0);
	char p[256], *avail = NULL;
	snprintf(p, sizeof(p), "%s/cgroup.controllers", m);
	assert_int_equal(read_file_at(AT_FDCWD, p, &avail, NULL, &err), 0);
	bool has_pids = strstr(avail, "pids") != NULL;
	free(avail);
	if (has_pids) {
		free(m);
		/* the VM tier has pids; the integration tests cover the limit there */
		skip();
		return; /* skip() does not return; this tells static analysers so */
	}
	struct cgroup_options o = {
	    .manager = CGROUP_MANAGER_CGROUPFS, .id = "x", .cgroups_path = "/isola-confine-unit/missing"};
	_cleanup_json_ json_t *j = parse_json("{\"pids\":{\"limit\":10}}");
	struct cgroup_resources r;
	assert_int_equal(cgroup_resources_parse(j, "linux.resources", &r, &err), 0);
	struct isola_cgroup *cg = NULL;
	assert_int_equal(cgroup_create(&o, &r, &cg, &err), -1);
	assert_null(cg);
	assert_non_null(strstr(err.msg, "cgroup controller \"pids\" is not available"));
	assert_non_null(strstr(err.msg, "cgroup_no_v1=all"));
	snprintf(p, sizeof(p), "%s/isola-confine-unit/missing", m);
	struct stat sb;
	assert_int_equal(stat(p, &sb), -1);
	cgroup_resources_clear(&r);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cpu),
	    cmocka_unit_test(test_memory),
	    cmocka_unit_test(test_pids_io_unified),
	    cmocka_unit_test(test_merge),
	    cmocka_unit_test(test_controllers_and_message),
	    cmocka_unit_test(test_managers),
	    cmocka_unit_test(test_real_lifecycle),
	    cmocka_unit_test(test_real_delegation),
	    cmocka_unit_test(test_real_missing_controller),
	};
	return cmocka_run_group_tests_name("confine cgroup", tests, NULL, NULL);
}
