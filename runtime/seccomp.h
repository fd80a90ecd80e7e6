/* seccomp: OCI `linux.seccomp` (runtime-spec config-linux.md "Seccomp") with libseccomp, plus isola's
 * default allow-list profile.
 *
 * Two halves, so the child does only the cheap part (seccomp(2), libseccomp(3)):
 *   PARENT, before clone:  isola_seccomp_build() parses the JSON, builds the filter with libseccomp and
 *                          exports the BPF program into memory (seccomp_export_bpf).
 *   CHILD, last step before execve (when no_new_privs is set):
 *                          isola_seccomp_install() is one seccomp(SECCOMP_SET_MODE_FILTER) call, no
 *                          allocation, no libseccomp. Without no_new_privs the kernel requires
 *                          CAP_SYS_ADMIN for it, so then it must run BEFORE caps_apply_pre_setuid()
 *                          (as runc and crun do) and the filter also covers the remaining setup syscalls.
 *   With SCMP_ACT_NOTIFY in the profile (listenerPath set), install returns the listener fd; the child passes
 *   it to the parent (over the runtime's sync socket), and the parent calls isola_seccomp_send_listener(),
 *   which connects to listenerPath and sends the "seccomp state" JSON with the fd (SCM_RIGHTS), exactly
 *   as runtime-spec runtime.md / config-linux.md "listenerPath" specify.
 *
 * Arguments are compared on the full 64 bits (SCMP_CMP_*; SCMP_CMP_MASKED_EQ takes value=mask, valueTwo=
 * datum): a filter that looked at 32 bits let TIOCSTI through with high bits set (CVE-2019-10063). */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "error.h"

/* A built filter. Owned by the caller; free with isola_seccomp_free (or _cleanup_seccomp_). */
struct isola_seccomp {
	void *bpf;               /* struct sock_filter[] */
	size_t bpf_len;          /* number of instructions */
	unsigned int flags;      /* SECCOMP_FILTER_FLAG_* from linux.seccomp.flags (+NEW_LISTENER if notify) */
	bool notify;             /* some rule (or the default) is SCMP_ACT_NOTIFY */
	char *listener_path;     /* linux.seccomp.listenerPath or NULL */
	char *listener_metadata; /* linux.seccomp.listenerMetadata or NULL */
	size_t nrules;           /* rules added (one per syscall name that exists on the arch), for tests */
};

/* Parse and build. obj = `linux.seccomp` (NULL = absent → *out = NULL, return 0: no filter).
 * jpath its path ("linux.seccomp"). Errors name the element:
 *   linux.seccomp.syscalls[4].action: unknown action "SCMP_ACT_FOO"
 *   linux.seccomp.syscalls[2].args[0].op: unknown operator "SCMP_CMP_XX"
 *   linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_FOO"
 * Syscall names unknown to libseccomp are skipped (profiles list syscalls of newer kernels), as runc/crun do.
 * notify with no listenerPath is an error. */
int isola_seccomp_build(json_t *obj, const char *jpath, struct isola_seccomp **out, isola_error *err);
void isola_seccomp_free(struct isola_seccomp *sc);
static inline void isola_seccomp_freep(struct isola_seccomp **p)
{
	if (*p)
		isola_seccomp_free(*p);
}
#define _cleanup_seccomp_ __attribute__((cleanup(isola_seccomp_freep)))

/* Child: load the filter. Returns the listener fd (>= 0) when sc->notify, else 0; < 0 on error.
 * Only calls seccomp(2) (and prctl(PR_SET_NO_NEW_PRIVS) is NOT done here: the runtime owns no_new_privs). */
int isola_seccomp_install(const struct isola_seccomp *sc, isola_error *err);

/* Parent: connect to sc->listener_path (a unix stream socket, as runc/crun use) and send
 *   {"ociVersion": "1.0.2", "fds": ["seccompFd"], "pid": PID, "metadata": "...", "state": <oci_state>}
 * with listener_fd as SCM_RIGHTS. oci_state is the container's OCI state object (borrowed).
 * The caller closes listener_fd afterwards. */
int isola_seccomp_send_listener(const struct isola_seccomp *sc, json_t *oci_state, pid_t pid, int listener_fd,
                                isola_error *err);

/* isola's default profile, the `linux.seccomp` object that `spec` writes (new reference). An allow-list:
 * defaultAction SCMP_ACT_ERRNO with defaultErrnoRet 38 (ENOSYS, so glibc/systemd fall back gracefully for
 * syscalls newer than the list); explicit EPERM for kexec_load, kexec_file_load, init_module,
 * finit_module, delete_module, bpf, keyctl, add_key, request_key, perf_event_open, open_by_handle_at;
 * ioctl TIOCSTI and TIOCLINUX → EPERM by a full 64-bit masked compare. See docs/security.md. */
json_t *isola_seccomp_default_profile(void);

/* For `features` (runtime-spec features.md "linux.seccomp"): enabled, actions, operators, archs,
 * knownFlags, supportedFlags. New reference. */
json_t *isola_seccomp_features(void);
