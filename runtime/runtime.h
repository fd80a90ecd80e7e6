/* libisola-runtime: the public contract of isola's OCI container runtime.
 *
 * The `isola-runtime` CLI is a thin layer over these calls; the instance manager links the same library.
 * Semantics follow the OCI runtime spec (runtime.md: "Lifecycle" and "Operations"):
 *
 *   runtime_create  config.json → namespaces, mounts, cgroup, hooks (prestart, createRuntime,
 *                   createContainer) → state "created"; the container process waits before execve.
 *   runtime_start   releases it (startContainer hooks run in it, then execve) → "running"; poststart hooks.
 *   runtime_kill    signal the init process (or every process of the cgroup with all = true).
 *   runtime_delete  only "stopped" unless force (then SIGKILL first); poststop hooks; removes the cgroup,
 *                   the state directory and everything the runtime created on the host.
 *
 * Every fallible call returns 0 (or a documented non-negative value) on success and < 0 on failure with
 * *err naming the object ("create c1: config.json: linux.namespaces[2].type: unknown namespace \"foo\"").
 * Nothing here prints or exits. Container ids follow runtime_id_valid().
 *
 * State lives in <state_root>/<id>/state.json (default root /run/isola/runtime), written atomically; the
 * directory also holds the start fifo (exec.fifo) while the container is "created".
 *
 * Process model: runtime_create forks the container's init process with clone3(); with a new PID namespace
 * it becomes PID 1 there. On return the caller is its parent: a long-lived caller (the manager) reaps it
 * with waitpid() or a pidfd, or sets PR_SET_CHILD_SUBREAPER before so grandchildren come back to it too.
 * The CLI instead exits, and init is reparented (the OCI "detached" model, like runc/crun). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include "error.h"

#define RUNTIME_DEFAULT_ROOT "/run/isola/runtime"
#define RUNTIME_ID_MAX       1024

enum runtime_cgroup_manager {
	RUNTIME_CGROUP_CGROUPFS = 0, /* write the cgroup2 filesystem directly (default) */
	RUNTIME_CGROUP_DISABLED,     /* no cgroup at all: the container stays in the caller's cgroup */
	RUNTIME_CGROUP_SYSTEMD,      /* --systemd-cgroup: "slice:prefix:name" cgroupsPath; delegated scope */
};

/* Shared by every call. Zero-initialise, then set what differs from the defaults. */
struct runtime_ctx {
	const char *state_root; /* NULL → RUNTIME_DEFAULT_ROOT */
	enum runtime_cgroup_manager cgroup_manager;
};

/* What the caller wants from a system container (issue 4). A plain OCI application container leaves
 * this zeroed. With enabled = true the runtime additionally:
 *   - sets container=isola (and container_uuid when uuid is set) in init's environment, as systemd's
 *     CONTAINER_INTERFACE.md asks; init is PID 1 of its PID namespace;
 *   - binds the pty slave of console_master onto /dev/console (and uses it as init's stdio) when
 *     console_master >= 0, so the caller keeps the master and can attach to the console any time;
 *   - records stop_signal (default SIGRTMIN+3, what systemd takes as "halt") in the state, so
 *     runtime_stop() asks init to shut down cleanly before killing. */
struct runtime_system_opts {
	bool enabled;
	const char *uuid;   /* container_uuid, NULL: none */
	int console_master; /* a pty master the caller owns (posix_openpt), -1: none; never closed by us */
	int stop_signal;    /* 0: SIGRTMIN+3 */
	/* syscont (runtime/syscont.h) — root and cgroup delegation of a system container: */
	bool rootfs_mnt_set; /* rootfs_mnt is a detached mount (open_tree/fsmount fd) attached as the root in
	                      * place of root.path (an id-mapped image, an overlay); the caller closes it */
	int rootfs_mnt;
	const char *cgroup_inner; /* non-NULL: limits on the outer cgroup, init in OUTER/<inner> owned by
	                           * cgroup_owner_uid/gid, cgroup namespace rooted there (cgroup.h "Delegation") */
	uid_t cgroup_owner_uid;
	gid_t cgroup_owner_gid;
	/* detached mounts (open_tree(OPEN_TREE_CLONE) fds the caller made and keeps) attached after the config's
	 * mounts, by fd: host sources the namespace's root could not even look up by path */
	const struct runtime_system_mount *mounts;
	size_t n_mounts;
};
struct runtime_system_mount {
	int fd;
	const char *destination; /* absolute, inside the container */
};

struct runtime_create_opts {
	const char *bundle;      /* directory with config.json; NULL → "." */
	const char *config_path; /* overrides <bundle>/config.json when set */
	const char *pid_file;    /* write init's host pid here (atomically), NULL: none */
	/* --console-socket: with process.terminal, the pty master is sent over this AF_UNIX socket as
	 * SCM_RIGHTS (runc's protocol). Give a path or an already connected fd (>= 0), not both. */
	const char *console_socket;
	int console_socket_fd; /* -1: none */
	/* With process.terminal and no console socket, the master is returned here instead (library mode;
	 * `run -t` uses it). NULL: process.terminal without a socket is an error. */
	int *console_master_out;
	unsigned preserve_fds;     /* fds 3 .. 3+N-1 of the caller stay open in the container (LISTEN_FDS) */
	int stdio[3];              /* init's stdin/out/err; -1 → the caller's own. Use RUNTIME_STDIO_INHERIT */
	const char *notify_socket; /* NOTIFY_SOCKET of the caller; the runtime proxies READY=1 from inside */
	bool no_pivot;             /* MS_MOVE + chroot instead of pivot_root (ramfs roots; unsafe otherwise) */
	bool force_terminal;       /* run -t: process.terminal = true whatever the config says */
	bool no_new_keyring;
	struct runtime_system_opts system;
};
#define RUNTIME_STDIO_INHERIT                                                                                          \
	{                                                                                                              \
		-1, -1, -1                                                                                             \
	}

/* The OCI state (runtime.md "State") plus what the runtime keeps for itself. */
enum runtime_status { RUNTIME_CREATING, RUNTIME_CREATED, RUNTIME_RUNNING, RUNTIME_PAUSED, RUNTIME_STOPPED };

struct runtime_state {
	char id[RUNTIME_ID_MAX + 1];
	enum runtime_status status;
	pid_t pid; /* 0 when stopped */
	char bundle[4096];
	char created[40];       /* RFC 3339, UTC */
	char cgroup_path[4096]; /* "" when the cgroup manager is disabled */
	int stop_signal;        /* system containers; 0 otherwise */
};

const char *runtime_status_name(enum runtime_status s); /* "created", "running", ... */

/* Ids: 1..1024 bytes, no '/', not "." or "..", no NUL, no control characters. */
bool runtime_id_valid(const char *id);

/* create: returns init's host pid (> 0). An id already present is an error (EEXIST), and nothing of the
 * existing container is touched. On failure everything created so far is removed. */
pid_t runtime_create(const struct runtime_ctx *ctx, const char *id, const struct runtime_create_opts *opts,
                     isola_error *err);
int runtime_start(const struct runtime_ctx *ctx, const char *id, isola_error *err);

/* Current state (status re-derived from the live process: a dead init means "stopped"). */
int runtime_state(const struct runtime_ctx *ctx, const char *id, struct runtime_state *out, isola_error *err);
/* The OCI state JSON object (ociVersion, id, status, pid, bundle, annotations). Caller decrefs. */
json_t *runtime_state_json(const struct runtime_ctx *ctx, const char *id, isola_error *err);

/* sig: a signal number. all: every process of the container (cgroup.kill for SIGKILL, else a walk). */
int runtime_kill(const struct runtime_ctx *ctx, const char *id, int sig, bool all, isola_error *err);
int runtime_delete(const struct runtime_ctx *ctx, const char *id, bool force, isola_error *err);
/* System containers: stop_signal to init, wait up to timeout_ms for it to exit, then SIGKILL everything. */
int runtime_stop(const struct runtime_ctx *ctx, const char *id, unsigned timeout_ms, isola_error *err);

struct runtime_exec_opts {
	/* Either a full OCI "process" object (--process FILE; not consumed) or the fields below. */
	json_t *process;
	char *const *args; /* NULL-terminated */
	char *const *env;  /* extra KEY=VALUE, added to the container's process.env */
	const char *cwd;   /* NULL: the config's process.cwd */
	const char *user;  /* "uid[:gid]" (numeric), NULL: the config's process.user */
	bool tty;
	const char *console_socket; /* as in create */
	int console_socket_fd;
	int *console_master_out; /* with tty and no console socket: the pty master comes back here */
	const char *pid_file;
	unsigned preserve_fds;
	int stdio[3];
	bool no_new_privs; /* force no_new_privs on top of the config */
};

/* Runs a new process in the container's namespaces (setns with a pidfd of init), its cgroup and its
 * confinement (caps, seccomp, user of the config unless overridden). Returns the process's host pid; the
 * caller is its parent and reaps it (runtime_wait). The container must be created or running. */
pid_t runtime_exec(const struct runtime_ctx *ctx, const char *id, const struct runtime_exec_opts *opts,
                   isola_error *err);
/* waitpid(pid) and encode the result like a shell: exit code, or 128 + signal. */
int runtime_wait(pid_t pid, isola_error *err);

/* cgroup.freeze = 1 / 0 (cgroup v2 freezer). */
int runtime_pause(const struct runtime_ctx *ctx, const char *id, isola_error *err);
int runtime_resume(const struct runtime_ctx *ctx, const char *id, isola_error *err);
/* resources: an OCI linux.resources object (not consumed); applied to the live cgroup. */
int runtime_update(const struct runtime_ctx *ctx, const char *id, json_t *resources, isola_error *err);

/* Every container under the state root, as a JSON array of runtime_state_json objects. Caller decrefs. */
json_t *runtime_list(const struct runtime_ctx *ctx, isola_error *err);
/* Host pids of the container's processes (from its cgroup; init alone when cgroups are disabled).
 * *pids is malloc'd; caller frees. */
int runtime_ps(const struct runtime_ctx *ctx, const char *id, pid_t **pids, size_t *n, isola_error *err);
/* cgroup statistics (events --stats) as JSON: cpu, memory, pids, io. Caller decrefs. */
json_t *runtime_stats(const struct runtime_ctx *ctx, const char *id, isola_error *err);

/* System containers (boot/halt: a distribution's init as PID 1, unprivileged by default). */
#include "runtime/syscont.h"
