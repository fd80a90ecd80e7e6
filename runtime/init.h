/* The container's init, from clone3() to execve(): everything that must run inside the new namespaces.
 * It reports each step to the parent over the sync socket and never returns. Order (each step's reason
 * is at its call site):
 *   join namespaces by path → wait for id maps → become root of the user ns → time offsets →
 *   hostname/domainname → rootfs (mounts, /dev) → [parent: prestart, createRuntime hooks] →
 *   createContainer hooks → masked/readonly paths → pivot_root → sysctl → console/setsid →
 *   rlimits, oom_score_adj → seccomp (without no_new_privs) → caps (pre) → setgroups/gid/uid → caps (post)
 *   → cwd (checked) → no_new_privs → READY → wait on exec.fifo → startContainer hooks →
 *   close_range → seccomp (with no_new_privs) → execve */
#pragma once
#include <stdbool.h>
#include "runtime/caps.h"
#include "runtime/config.h"
#include "runtime/dev.h"
#include "runtime/mount.h"
#include "runtime/runtime.h"
#include "runtime/seccomp.h"

struct init_args {
	const struct rt_config *cfg;
	const char *bundle;
	int sync_fd;
	int fifo_fd;                 /* exec.fifo opened O_RDWR; -1: exec at once (no start step) */
	struct devnull_src *devnull; /* host /dev/null, a detached mount */
	const struct dev_host_fds *devs;
	int ns_fds[RT_NS_COUNT]; /* fds of namespaces to join, parallel to cfg->namespaces; -1 otherwise */
	int stdio[3];
	unsigned preserve_fds;
	bool no_pivot;
	const struct isola_caps *caps;
	const struct isola_seccomp *seccomp;
	const char *notify_host_dir; /* host dir bound at /run/isola-notify in the container, or NULL */
	const struct runtime_system_opts *system;
	int console_slave_mnt; /* system container: detached mount of the host pty slave, -1 otherwise */
	int console_slave_fd;  /* ... and the slave itself (stdio), -1 otherwise */
	bool dumpable_off;
	int rootfs_mnt; /* syscont: detached mount to attach as the root instead of root.path, or -1 */
};

__attribute__((noreturn)) void container_init(const struct init_args *a);

/* The pieces exec reuses (they run in an exec'd process after setns): */
/* Set up the pty: open /dev/ptmx in the current mount namespace, send the master over sync_fd, make the
 * slave the controlling terminal and stdio. The slave belongs to uid (group: devpts gid= or gid), opened
 * as them. bind_console: also bind it onto /dev/console. */
int init_console(int sync_fd, unsigned rows, unsigned cols, uid_t uid, gid_t gid, bool bind_console, isola_error *err);
/* setgroups/setresgid/setresuid with caps_apply around it. */
int init_user(const struct rt_config *cfg, const struct isola_caps *caps, isola_error *err);
/* chdir to cwd and check that the result is inside the root (CVE-2024-21626). */
int init_cwd(const char *cwd, isola_error *err);
/* Find args[0] in PATH of env (no /proc, no shell). Returns a malloc'd path or NULL with err. */
char *init_find_exec(char *const *args, char *const *env, isola_error *err);
/* close_range(3 + preserve, ~0) then reset signals, then execve. Returns only on failure. */
int init_exec(const char *path, char *const *args, char *const *env, unsigned preserve_fds,
              const struct isola_seccomp *sc, bool seccomp_now, isola_error *err);
