/* The VM cloud-init seed disk (manager/seed_disk.h), with the real genisoimage and read back with isoinfo
 * (both from the genisoimage package): label cidata, the NoCloud files with their exact bytes, rebuilt only
 * when the cloud-init.* keys change, a removed key removes its file, and a missing tool is a clear error. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "manager/seed_disk.h"

static char dir[64];

static int setup(void **s)
{
	snprintf(dir, sizeof dir, "/tmp/isola-seed-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **s)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* stdout of a shell command (isoinfo), NUL-terminated */
static char *run(const char *fmt, ...)
{
	static char out[8192];
	char cmd[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t n = fread(out, 1, sizeof out - 1, p);
	out[n] = 0;
	pclose(p);
	return out;
}

static const char *iso_file(const char *iso, const char *name)
{
	return run("isoinfo -R -i '%s' -x '/%s' 2>/dev/null", iso, name);
}

static void test_seed_contents_and_rebuild(void **s)
{
	char iso[4200];
	isola_error e;
	bool rebuilt = false;
	json_t *cfg = json_object();
	assert_int_equal(seed_disk_build(dir, "vm1", cfg, iso, sizeof iso, &rebuilt, &e), 0);
	assert_true(rebuilt);
	if (!strstr(run("isoinfo -d -i '%s'", iso), "Volume id: cidata"))
		fail_msg("seed volume id is not cidata:\n%s", run("isoinfo -d -i '%s'", iso));
	assert_string_equal(iso_file(iso, "meta-data"), "instance-id: vm1\nlocal-hostname: vm1\n");
	assert_string_equal(iso_file(iso, "user-data"), "#cloud-config\n{}\n");
	assert_null(strstr(run("isoinfo -R -f -i '%s'", iso), "network-config"));
	struct stat a, b;
	assert_int_equal(stat(iso, &a), 0);
	assert_int_equal(a.st_mode & 0777, 0600);

	/* unchanged keys: the same image, not rebuilt */
	assert_int_equal(seed_disk_build(dir, "vm1", cfg, iso, sizeof iso, &rebuilt, &e), 0);
	assert_false(rebuilt);
	assert_int_equal(stat(iso, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);

	/* new user-data and a network-config: rebuilt with exactly those bytes */
	const char *ud =
	    "#cloud-config\nhostname: from-seed\nwrite_files:\n- path: /etc/isola-seeded\n  content: yes\n";
	const char *nc = "version: 2\nethernets:\n  eth0:\n    dhcp4: true\n";
	json_object_set_new(cfg, "cloud-init.user-data", json_string(ud));
	json_object_set_new(cfg, "cloud-init.network-config", json_string(nc));
	assert_int_equal(seed_disk_build(dir, "vm1", cfg, iso, sizeof iso, &rebuilt, &e), 0);
	assert_true(rebuilt);
	assert_int_equal(stat(iso, &b), 0);
	assert_int_not_equal(a.st_ino, b.st_ino); /* replaced by rename, never rewritten in place */
	assert_string_equal(iso_file(iso, "user-data"), ud);
	assert_string_equal(iso_file(iso, "network-config"), nc);

	/* the key removed: its file leaves the seed */
	json_object_del(cfg, "cloud-init.network-config");
	assert_int_equal(seed_disk_build(dir, "vm1", cfg, iso, sizeof iso, &rebuilt, &e), 0);
	assert_true(rebuilt);
	assert_null(strstr(run("isoinfo -R -f -i '%s'", iso), "network-config"));
	assert_string_equal(iso_file(iso, "user-data"), ud);

	/* a deleted image is made again even though the inputs match */
	unlink(iso);
	assert_int_equal(seed_disk_build(dir, "vm1", cfg, iso, sizeof iso, &rebuilt, &e), 0);
	assert_true(rebuilt);
	assert_int_equal(access(iso, F_OK), 0);
	json_decref(cfg);
}

static void test_missing_tool_is_named(void **s)
{
	char iso[4200], d2[128];
	isola_error e;
	snprintf(d2, sizeof d2, "%s/vm2", dir);
	assert_int_equal(mkdir(d2, 0700), 0);
	json_t *cfg = json_pack("{ss}", "cloud-init.user-data", "#cloud-config\n");
	char *path = strdup(getenv("PATH") ?: "/usr/bin:/bin");
	setenv("PATH", "/nonexistent", 1);
	int r = seed_disk_build(d2, "vm2", cfg, iso, sizeof iso, NULL, &e);
	setenv("PATH", path, 1);
	free(path);
	assert_int_equal(r, -1);
	if (!strstr(e.msg, "genisoimage"))
		fail_msg("error does not name the missing tool: %s", e.msg);
	assert_int_not_equal(access(iso, F_OK), 0); /* no half-made image left */
	json_decref(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seed_contents_and_rebuild),
	    cmocka_unit_test(test_missing_tool_is_named),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
