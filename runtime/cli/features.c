/* features: what this runtime implements (runtime-spec features.md). */
#include <stdio.h>
#include <stdlib.h>
#include "json.h"
#include "runtime/cli/cli.h"
#include "runtime/seccomp.h"

static json_t *strings(const char *const *v)
{
	json_t *a = json_array();
	for (; *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

int cmd_features(struct cli *c, int argc, char **argv)
{
	static const char *const hooks[] = {
	    "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop", NULL};
	static const char *const mopts[] = {
	    "ro",       "rw",         "suid",        "nosuid",        "dev",         "nodev",
	    "exec",     "noexec",     "sync",        "async",         "dirsync",     "remount",
	    "mand",     "nomand",     "atime",       "noatime",       "diratime",    "nodiratime",
	    "relatime", "norelatime", "strictatime", "nostrictatime", "nosymfollow", "lazytime",
	    "bind",     "rbind",      "private",     "rprivate",      "shared",      "rshared",
	    "slave",    "rslave",     "unbindable",  "runbindable",   NULL};
	static const char *const ns[] = {"cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time", NULL};
	_cleanup_json_ json_t *f =
	    json_pack("{s:s, s:s, s:o, s:o, s:{s:o, s:{s:b, s:b}, s:o, s:{s:b}, s:{s:b}}}", "ociVersionMin", "1.0.0",
	              "ociVersionMax", "1.2.0", "hooks", strings(hooks), "mountOptions", strings(mopts), "linux",
	              "namespaces", strings(ns), "cgroup", "v1", 0, "v2", 1, "seccomp", isola_seccomp_features(),
	              "apparmor", "enabled", 0, "selinux", "enabled", 0);
	if (!f)
		return isola_err(&c->err, ENOMEM, "features");
	char *s = json_dumps(f, JSON_INDENT(2));
	if (s)
		puts(s);
	free(s);
	(void)argc;
	(void)argv;
	return 0;
}
