#include "bundle.h"
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cleanup.h"
#include "config.h"
#include "json.h"
#include "runtime/caps.h"

json_t *bundle_resources(json_t *config, uint64_t host_mem, isola_error *err)
{
	_cleanup_json_ json_t *res = json_object();
	uint64_t mem;
	if (config_memory_limit(config, host_mem, &mem, err) < 0)
		return NULL;
	if (mem)
		json_object_set_new(res, "memory", json_pack("{sI}", "limit", (json_int_t)mem));
	unsigned ncpu;
	_cleanup_free_ char *cpuset = NULL;
	if (config_cpu_limit(config, &ncpu, &cpuset, err) < 0)
		return NULL;
	uint64_t quota, period;
	if (config_cpu_allowance(config, ncpu, &quota, &period, err) < 0)
		return NULL;
	json_t *cpu = json_object();
	if (cpuset)
		json_object_set_new(cpu, "cpus", json_string(cpuset));
	if (!quota && ncpu && !cpuset) {
		/* a count without a set: as much CPU time as that many CPUs (Incus pins instead; we do not
		 * know which CPUs are free, the scheduler does) */
		period = 100000;
		quota = 100000ULL * ncpu;
	}
	if (quota) {
		json_object_set_new(cpu, "quota", json_integer((json_int_t)quota));
		json_object_set_new(cpu, "period", json_integer((json_int_t)period));
	}
	if (json_object_size(cpu))
		json_object_set_new(res, "cpu", cpu);
	else
		json_decref(cpu);
	const char *procs = json_string_value(json_object_get(config, "limits.processes"));
	if (procs)
		json_object_set_new(res, "pids", json_pack("{sI}", "limit", (json_int_t)strtoll(procs, NULL, 10)));
	/* device cgroup: deny all, then what a system container needs (runtime-spec config-linux.md "Allowed
	 * Device Cgroup"); /dev itself is a tmpfs with these nodes */
	json_object_set_new(res, "devices",
	                    json_pack("[{sbss} {sbsssIsIss} {sbsssIsIss} {sbsssIsIss} {sbsssIsIss} {sbsssIsIss}"
	                              " {sbsssIsIss} {sbsssIsIss} {sbsssIsIss} {sbsssIss}]",
	                              "allow", 0, "access", "rwm", "allow", 1, "type", "c", "major", (json_int_t)1,
	                              "minor", (json_int_t)3, "access", "rwm", "allow", 1, "type", "c", "major",
	                              (json_int_t)1, "minor", (json_int_t)5, "access", "rwm", "allow", 1, "type", "c",
	                              "major", (json_int_t)1, "minor", (json_int_t)7, "access", "rwm", "allow", 1,
	                              "type", "c", "major", (json_int_t)1, "minor", (json_int_t)8, "access", "rwm",
	                              "allow", 1, "type", "c", "major", (json_int_t)1, "minor", (json_int_t)9, "access",
	                              "rwm", "allow", 1, "type", "c", "major", (json_int_t)5, "minor", (json_int_t)0,
	                              "access", "rwm", "allow", 1, "type", "c", "major", (json_int_t)5, "minor",
	                              (json_int_t)1, "access", "rwm", "allow", 1, "type", "c", "major", (json_int_t)5,
	                              "minor", (json_int_t)2, "access", "rwm", "allow", 1, "type", "c", "major",
	                              (json_int_t)136, "access", "rwm"));
	return steal_ptr(&res);
}

/* Capabilities of root in a system container. Unprivileged: everything (they only act on what the user
 * namespace owns). Privileged: Incus's default drop list (sys_module, sys_time, mac_admin, mac_override). */
static json_t *caps(bool privileged)
{
	static const char *const drop_privileged[] = {"CAP_SYS_MODULE", "CAP_SYS_TIME", "CAP_MAC_ADMIN",
	                                              "CAP_MAC_OVERRIDE"};
	json_t *set = json_array();
	/* every capability the runtime knows, by number (runtime/caps.h is the one name table) */
	for (int cap = 0; caps_from_name(caps_to_name(cap)) == cap; cap++) {
		const char *name = caps_to_name(cap);
		/* a privileged container cannot hold what this host process may not have (capset(2) EPERM):
		 * keep only what is in our own bounding set (a host running us in a container may lack some) */
		bool drop = privileged && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1;
		for (size_t j = 0; privileged && j < ARRAY_SIZE(drop_privileged); j++)
			drop |= !strcmp(name, drop_privileged[j]);
		if (!drop)
			json_array_append_new(set, json_string(name));
	}
	/* root needs no ambient set (capabilities(7)); inheritable stays empty too */
	json_t *caps_obj = json_pack("{sOsOso so so}", "bounding", set, "effective", set, "permitted", set,
	                             "inheritable", json_array(), "ambient", json_array());
	json_decref(set);
	return caps_obj;
}

/* {"destination", "type", "source", "options": [...]} from a comma list */
static json_t *mount_entry(const char *dst, const char *type, const char *src, const char *opts)
{
	json_t *o = json_array();
	char buf[256];
	snprintf(buf, sizeof buf, "%s", opts);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
		json_array_append_new(o, json_string(t));
	return json_pack("{ss ss ss so}", "destination", dst, "type", type, "source", src, "options", o);
}

json_t *bundle_config(const struct bundle_params *p, isola_error *err)
{
	bool privileged = p->uid_base == 0;
	bool nesting = config_bool(p->config, "security.nesting", false);
	_cleanup_json_ json_t *env =
	    json_pack("[ss]", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=linux");
	const char *k;
	json_t *v;
	json_object_foreach(p->config, k, v) if (!strncmp(k, "environment.", 12))
	{
		json_array_append_new(env, json_sprintf("%s=%s", k + 12, json_string_value(v)));
	}

	_cleanup_json_ json_t *resources = bundle_resources(p->config, p->host_mem, err);
	if (!resources)
		return NULL;
	/* no rlimits: init inherits the host's (raising a hard limit would need CAP_SYS_RESOURCE outside a
	 * user namespace) */
	json_t *process =
	    json_pack("{sb s{sisi} s[s] sO ss so}", "terminal", 0, "user", "uid", 0, "gid", 0, "args",
	              p->init ? p->init : "/sbin/init", "env", env, "cwd", "/", "capabilities", caps(privileged));
	_cleanup_json_ json_t *c = json_pack("{ss s{ssso} so s{sssO} ss}", "ociVersion", "1.2.0", "root", "path",
	                                     p->rootfs, "readonly", json_false(), "process", process, "linux",
	                                     "cgroupsPath", p->name, "resources", resources, "hostname", p->name);
	if (!c)
		return isola_err(err, ENOMEM, "config.json for %s", p->name), NULL;
	json_object_set_new(c, "annotations",
	                    json_pack("{ss ss}", "org.isola.instance", p->name, "org.isola.type", "container"));

	json_t *ns = json_pack("[{ss}{ss}{ss}{ss}{ss}{ss}]", "type", "pid", "type", "mount", "type", "ipc", "type",
	                       "uts", "type", "network", "type", "cgroup");
	if (!privileged)
		json_array_append_new(ns, json_pack("{ss}", "type", "user"));
	json_t *lx = json_object_get(c, "linux");
	json_object_set_new(lx, "namespaces", ns);
	if (!privileged) {
		json_t *map =
		    json_pack("[{sisIsi}]", "containerID", 0, "hostID", (json_int_t)p->uid_base, "size", 65536);
		json_object_set(lx, "uidMappings", map);
		json_object_set_new(lx, "gidMappings", map);
	}
	if (!nesting) {
		json_object_set_new(lx, "maskedPaths",
		                    json_pack("[ssssssss]", "/proc/acpi", "/proc/kcore", "/proc/keys",
		                              "/proc/latency_stats", "/proc/timer_list", "/proc/sched_debug",
		                              "/proc/scsi", "/sys/firmware"));
		json_object_set_new(lx, "readonlyPaths",
		                    json_pack("[sssss]", "/proc/bus", "/proc/fs", "/proc/irq",
		                              "/proc/sys/kernel/core_pattern", "/proc/sysrq-trigger"));
	}
	/* sysfs can only be mounted in a user namespace that owns the network namespace: with one it is
	 * mounted read-write like Incus does for unprivileged containers */
	json_t *mounts = json_array();
	json_array_append_new(mounts, mount_entry("/proc", "proc", "proc", "nosuid,noexec,nodev"));
	json_array_append_new(mounts, mount_entry("/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k"));
	json_array_append_new(mounts, mount_entry("/dev/pts", "devpts", "devpts",
	                                          privileged ? "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5"
	                                                     : "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620"));
	json_array_append_new(mounts, mount_entry("/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"));
	json_array_append_new(mounts, mount_entry("/sys", "sysfs", "sysfs",
	                                          privileged ? "nosuid,noexec,nodev,ro" : "nosuid,noexec,nodev,rw"));
	json_array_append_new(mounts, mount_entry("/sys/fs/cgroup", "cgroup", "cgroup", "nosuid,noexec,nodev,rw"));
	json_array_append_new(mounts,
	                      mount_entry("/dev/shm", "tmpfs", "shm", "nosuid,noexec,nodev,mode=1777,size=65536k"));
	json_object_set_new(c, "mounts", mounts);
	/* the standard device nodes, created by the runtime (config-linux.md "Default Devices" are implied;
	 * listing none keeps the defaults) */
	return steal_ptr(&c);
}
