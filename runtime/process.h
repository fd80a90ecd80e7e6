/* Process creation and the parent/child sync channel.
 *
 * clone3(2) creates the container's init with its new namespaces in one step (and, with a cgroup fd,
 * directly inside the container's cgroup: CLONE_INTO_CGROUP, so no process ever runs outside it). The
 * child is a copy of the runtime (no CLONE_VM) that sets the container up and reports over a
 * SOCK_SEQPACKET socketpair: each step is one fixed-size message, errors travel back with errno and text,
 * fds (the pty master) with SCM_RIGHTS. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>
#include "error.h"

enum sync_type {
	SYNC_GO = 1,  /* parent → child: continue (id maps written, hooks run) */
	SYNC_HOOKS,   /* child → parent: mounts done, run prestart + createRuntime now */
	SYNC_PTY,     /* child → parent: the pty master (SCM_RIGHTS) */
	SYNC_PID,     /* child → parent: the real init pid (after a double fork into a joined PID ns) */
	SYNC_READY,   /* child → parent: set up, waiting for start */
	SYNC_SECCOMP, /* child → parent: the seccomp listener fd (SCM_RIGHTS), for listenerPath */
	SYNC_STATE,   /* parent → child: a blob with the OCI state JSON follows (createContainer hooks) */
	SYNC_ERROR,   /* child → parent: failed; errnum + msg */
};

struct sync_msg {
	int type;
	int errnum;
	int value;
	char msg[ISOLA_ERR_MSG_MAX];
};

int sync_send(int fd, enum sync_type type, int value, int passfd);
/* Child side: report an error (never fails; best effort). */
void sync_send_error(int fd, const isola_error *e);
/* Receive one message; *fd_out (may be NULL) gets a passed fd or -1. EOF → -1 with ECONNRESET. */
int sync_recv(int fd, struct sync_msg *m, int *fd_out, isola_error *err);
/* Wait for one message of the given type; a SYNC_ERROR becomes *err (prefixed with what). */
int sync_expect(int fd, enum sync_type type, int *fd_out, isola_error *err);

/* clone3 without CLONE_VM: returns the pid in the parent, 0 in the child. cgroup_fd < 0: no
 * CLONE_INTO_CGROUP. *pidfd (may be NULL) gets a pidfd (CLONE_PIDFD). */
pid_t process_clone3(unsigned long flags, int cgroup_fd, int *pidfd, isola_error *err);

/* Write uid_map / gid_map of pid ("0 100000 65536\n" lines). */
struct rt_idmap;
int process_write_idmaps(pid_t pid, const struct rt_idmap *uid, size_t nuid, const struct rt_idmap *gid, size_t ngid,
                         isola_error *err);
/* Format id maps as the kernel wants them (tested by the unit tests). Returns bytes or -1. */
int process_format_idmap(const struct rt_idmap *m, size_t n, char *buf, size_t len);

/* A variable-size payload (the state JSON for in-container hooks): one packet of at most 64 KiB. */
int sync_send_blob(int fd, const char *data, size_t len);
/* *out malloc'd and NUL-terminated. */
int sync_recv_blob(int fd, char **out, isola_error *err);
