/* spec [--rootless] [--bundle DIR]: write a default config.json (fails if one exists, like runc).
 * The defaults: pid, network, ipc, uts, mount, cgroup namespaces; read-only root; the usual /proc, /dev,
 * /dev/pts, /dev/shm, /dev/mqueue, /sys, /sys/fs/cgroup mounts; masked and read-only paths; the three
 * capabilities runc and crun keep; no_new_privs; isola's default seccomp allow-list (seccomp.h).
 * --rootless adds a user namespace mapping the caller's uid/gid to root, drops the network namespace and
 * binds /sys (a user namespace cannot mount a new sysfs for the host's network namespace). */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "json.h"
#include "runtime/caps.h"
#include "runtime/cli/cli.h"
#include "runtime/seccomp.h"

#define USAGE "spec [--rootless] [-b|--bundle DIR]"

static json_t *mnt(const char *dest, const char *type, const char *src, const char *opts)
{
	json_t *m = json_pack("{s:s, s:s, s:s}", "destination", dest, "type", type, "source", src);
	json_t *o = json_array();
	char buf[256];
	snprintf(buf, sizeof buf, "%s", opts);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
		json_array_append_new(o, json_string(t));
	json_object_set_new(m, "options", o);
	return m;
}

json_t *cli_default_spec(bool rootless)
{
	json_t *mounts = json_array();
	json_array_append_new(mounts, mnt("/proc", "proc", "proc", "nosuid,noexec,nodev"));
	json_array_append_new(mounts, mnt("/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k"));
	json_array_append_new(mounts, mnt("/dev/pts", "devpts", "devpts",
	                                  rootless ? "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620"
	                                           : "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5"));
	json_array_append_new(mounts, mnt("/dev/shm", "tmpfs", "shm", "nosuid,noexec,nodev,mode=1777,size=65536k"));
	json_array_append_new(mounts, mnt("/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"));
	json_array_append_new(mounts, rootless ? mnt("/sys", "none", "/sys", "rbind,nosuid,noexec,nodev,ro")
	                                       : mnt("/sys", "sysfs", "sysfs", "nosuid,noexec,nodev,ro"));
	if (!rootless)
		json_array_append_new(mounts,
		                      mnt("/sys/fs/cgroup", "cgroup", "cgroup", "nosuid,noexec,nodev,relatime,ro"));
	json_t *ns = json_array();
	static const char *const nss[] = {"pid", "network", "ipc", "uts", "mount", "cgroup"};
	for (size_t i = 0; i < sizeof nss / sizeof nss[0]; i++) {
		if (rootless && !strcmp(nss[i], "network"))
			continue;
		json_array_append_new(ns, json_pack("{s:s}", "type", nss[i]));
	}
	json_t *lnx = json_pack("{s:o, s:[sssssssssss], s:[ssssss], s:o}", "namespaces", ns, "maskedPaths",
	                        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	                        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
	                        "/proc/scsi", "/sys/devices/virtual/powercap", "readonlyPaths", "/proc/bus", "/proc/fs",
	                        "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", "/sys/kernel/security", "seccomp",
	                        isola_seccomp_default_profile());
	if (rootless) {
		json_array_append_new(ns, json_pack("{s:s}", "type", "user"));
		json_object_set_new(
		    lnx, "uidMappings",
		    json_pack("[{s:i, s:i, s:i}]", "containerID", 0, "hostID", (int)getuid(), "size", 1));
		json_object_set_new(
		    lnx, "gidMappings",
		    json_pack("[{s:i, s:i, s:i}]", "containerID", 0, "hostID", (int)getgid(), "size", 1));
	}
	return json_pack("{s:s, s:{s:b, s:{s:i, s:i}, s:[s], s:[ss], s:s, s:o, s:[{s:s, s:i, s:i}], s:b},"
	                 " s:{s:s, s:b}, s:s, s:o, s:o}",
	                 "ociVersion", "1.0.2", "process", "terminal", 1, "user", "uid", 0, "gid", 0, "args", "sh",
	                 "env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm",
	                 "cwd", "/", "capabilities", caps_default_spec_json(), "rlimits", "type", "RLIMIT_NOFILE",
	                 "hard", 1024, "soft", 1024, "noNewPrivileges", 1, "root", "path", "rootfs", "readonly", 1,
	                 "hostname", "isola", "mounts", mounts, "linux", lnx);
}

int cmd_spec(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"rootless", no_argument, NULL, 'r'}, {"bundle", required_argument, NULL, 'b'}, {NULL, 0, NULL, 0}};
	bool rootless = false;
	const char *bundle = ".";
	int o;
	while ((o = getopt_long(argc, argv, "+b:", opts, NULL)) != -1) {
		if (o == 'r')
			rootless = true;
		else if (o == 'b')
			bundle = optarg;
		else
			return cli_usage(c, USAGE);
	}
	if (optind != argc)
		return cli_usage(c, USAGE);
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/config.json", bundle);
	if (access(path, F_OK) == 0)
		return isola_err(&c->err, EEXIST, "%s", path);
	_cleanup_json_ json_t *spec = cli_default_spec(rootless);
	if (!spec)
		return isola_err(&c->err, ENOMEM, "spec");
	return json_store_path(path, spec, true, &c->err) < 0 ? -1 : 0;
}
