/* System containers (issue 4): a distribution's own init as PID 1, unprivileged by default.
 *
 * runtime_boot() turns a root filesystem into a running system container in one call, on top of the OCI
 * lifecycle of runtime.h (it writes a config.json and calls runtime_create/runtime_start):
 *   - PID 1 is the image's /sbin/init with container=isola and container_uuid in its environment, the
 *     checklist of systemd's docs/CONTAINER_INTERFACE.md: private tmpfs /dev with the standard nodes and a
 *     new devpts, /dev/console = the slave of a pty master the CALLER holds (opened from the master with
 *     TIOCGPTPEER, never by a path: CVE-2025-52565), /run and /run/lock tmpfs, /sys read-only, /proc/sys
 *     read-only unless a user namespace owns it, a cgroup2 mount of its own cgroup namespace;
 *   - unprivileged (default): a user namespace mapping 0..65535 onto the container's own 65,536-id host
 *     block (idmap_alloc.h), and the image shown with the right owners through an idmapped mount
 *     (open_tree(OPEN_TREE_CLONE) + mount_setattr(MOUNT_ATTR_IDMAP) with a user namespace of the same
 *     mapping, mount_setattr(2)) — the image is never chown'ed. With ephemeral, the idmapped image is the
 *     read-only lower layer of an overlayfs whose upper layer is a private tmpfs (the manager's shape,
 *     with a persistent upper instead). privileged = true is the explicit opt-in to no user namespace;
 *   - cgroup delegation: limits on the outer cgroup /isola/<id>, init in /isola/<id>/init owned by the
 *     container's root, and a cgroup namespace rooted there (clone3 CLONE_INTO_CGROUP|CLONE_NEWCGROUP), so
 *     root inside can neither see nor raise the limits (cgroup.h "Delegation shape");
 *   - readiness: READY=1 on NOTIFY_SOCKET (bound at /run/host/notify/notify.sock inside, sd_notify(3)),
 *     or a marker file appearing inside, or nothing — from the image's metadata.yaml (isola.ready),
 *     detected from /sbin/init when absent, overridable by the caller;
 *   - stop: runtime_halt() sends the init's own poweroff signal (isola.stop_signal, detected, or given),
 *     waits up to a timeout, then cgroup.kill (SIGKILL of the PID namespace's init without a cgroup),
 *     deletes the container and gives its host id block back.
 * Files: the bundle and notify socket live in <state_root>-syscont/<id>/ (removed by runtime_halt). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include "error.h"
#include "runtime/runtime.h"

enum syscont_ready { SYSCONT_READY_AUTO = 0, SYSCONT_READY_NOTIFY, SYSCONT_READY_FILE, SYSCONT_READY_NONE };

/* What an image says about its init (metadata.yaml "properties", docs/images.md). */
struct syscont_image_meta {
	int stop_signal;          /* 0: unknown */
	enum syscont_ready ready; /* AUTO: unknown */
	char ready_path[256];     /* SYSCONT_READY_FILE: absolute path inside the container */
};

/* "SIGRTMIN+3", "RTMIN+3", "SIGPWR", "USR2", "15" → the number; -1 when unknown. */
int syscont_parse_signal(const char *s);
/* "notify" | "file:/abs/path" | "none" into m; -1 with err otherwise. */
int syscont_parse_ready(const char *s, struct syscont_image_meta *m, isola_error *err);
/* Read isola.stop_signal / isola.ready from a metadata.yaml text (the flat "properties:" block of
 * Incus's format; other keys are ignored). Missing properties leave m's fields alone. */
int syscont_parse_metadata(const char *yaml, struct syscont_image_meta *m, isola_error *err);
/* Fill the fields still unknown from the init the root filesystem carries: /sbin/init resolving (inside
 * rootfs) to systemd → SIGRTMIN+3 + notify; to busybox → SIGUSR2 (+ none); anything else → SIGTERM. */
int syscont_detect_init(const char *rootfs, struct syscont_image_meta *m, isola_error *err);

struct syscont_bind {
	const char *source;      /* host path */
	const char *destination; /* absolute path inside */
	bool readonly;
};

struct runtime_boot_opts {
	const char *rootfs;        /* the image's root directory (required) */
	const char *metadata;      /* metadata.yaml of the image, NULL: none (detect) */
	bool ephemeral;            /* overlay: rootfs read-only below, a private tmpfs above */
	bool privileged;           /* no user namespace: root inside is root outside (explicit opt-in) */
	const char *idmap_dir;     /* id-range database directory, NULL: IDMAP_DEFAULT_DIR */
	const char *hostname;      /* NULL: the id when it is a valid hostname, else "isola" */
	const char *uuid;          /* container_uuid, NULL: a random one */
	int console_master;        /* a pty master the caller owns (posix_openpt + unlockpt); -1: none */
	int stop_signal;           /* 0: metadata, then detection */
	enum syscont_ready ready;  /* AUTO: metadata, then detection */
	const char *ready_path;    /* with SYSCONT_READY_FILE */
	unsigned ready_timeout_ms; /* 0: 120000 */
	int64_t memory_limit;      /* bytes on the outer cgroup, 0: none */
	int64_t pids_limit;        /* 0: none */
	const struct syscont_bind *binds;
	size_t n_binds;
	const char *netns; /* join this network namespace (netd's), NULL: a new empty one */
	/* For a caller that manages ids and storage itself (the instance manager): */
	uint64_t host_id_base; /* non-zero: the caller allocated this block (idmap_range_alloc) and keeps it;
	                        * boot neither allocates nor releases one */
	bool rootfs_idmapped;  /* rootfs already shows the container's files under their host ids (an
	                        * id-mapped overlay the caller mounted): attach it as is, no second id-map */
	json_t *resources;     /* OCI linux.resources for the outer cgroup (not consumed); replaces
	                        * memory_limit/pids_limit when set */
	char *const *env;      /* extra KEY=VALUE for init's environment, NULL-terminated; NULL: none */
	/* called between create and start with init's host pid (its namespaces exist, it has not exec'd):
	 * the manager moves the instance's nics into the new network namespace here. < 0 fails the boot. */
	int (*created)(pid_t pid, void *ud, isola_error *err);
	void *created_ud;
};

struct runtime_boot_result {
	pid_t pid;                     /* init's host pid */
	uint64_t host_id_base;         /* 0 when privileged */
	uint64_t created_ns, ready_ns; /* CLOCK_MONOTONIC durations from the call: create done, ready seen */
	enum syscont_ready ready;      /* what was waited for */
	int stop_signal;
};

/* Child side (init.c calls these between clone3 and execve; not for other callers):
 * attach the detached root mount onto root_path — before init becomes the user namespace's root, while its
 * fsuid is still the host's root and may search the path — after making "/" private (propagation: the
 * config's rootfsPropagation, 0 = rprivate). Returns an O_PATH fd of the new root. */
int syscont_attach_root(const char *root_path, unsigned long propagation, int mnt, isola_error *err);
/* attach each detached mount at its destination under rootfd (a directory or a file target is created to
 * match, with RESOLVE_IN_ROOT). */
int syscont_attach_mounts(int rootfd, const struct runtime_system_mount *m, size_t n, isola_error *err);

/* Boot: allocate ids, write the bundle, create, start, wait until ready. On failure nothing is left
 * (container deleted, ids released when this call allocated them). */
int runtime_boot(const struct runtime_ctx *ctx, const char *id, const struct runtime_boot_opts *o,
                 struct runtime_boot_result *res, isola_error *err);
/* Clean shutdown: stop signal, wait up to timeout_ms, cgroup.kill; then delete and (release_ids) give the
 * host id block back. A container already stopped is just deleted. */
int runtime_halt(const struct runtime_ctx *ctx, const char *id, unsigned timeout_ms, const char *idmap_dir,
                 bool release_ids, isola_error *err);
