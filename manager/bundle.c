#include "bundle.h"
#include <stdlib.h>
#include <string.h>
#include "cleanup.h"
#include "config.h"
#include "json.h"

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
