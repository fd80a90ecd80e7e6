/* isola's default seccomp profile: an allow-list that a normal distribution with systemd as PID 1 runs under
 * (systemd-nspawn's allow-list in nspawn-seccomp.c and the syscall groups in systemd's seccomp-util.c were
 * studied for which syscalls systemd and its services need; the list below is isola's own).
 *
 * Shape (docs/security.md "seccomp"):
 *  - defaultAction SCMP_ACT_ERRNO with errnoRet ENOSYS (38): a syscall not in the list — notably any newer
 *    than this list — looks unimplemented, so glibc and systemd fall back (e.g. clone3 → clone) instead of
 *    failing hard on EPERM.
 *  - explicit EPERM for the kernel-attack-surface syscalls no container needs: kexec, module loading, bpf,
 *    the keyring (not namespaced), perf_event_open, open_by_handle_at (the "shocker" escape).
 *  - ioctl allowed except TIOCSTI and TIOCLINUX, matched on the low 32 bits with a MASKED_EQ over the full
 *    64-bit argument (the kernel truncates cmd to unsigned int: a 64-bit EQ misses TIOCSTI|1<<32,
 *    CVE-2019-10063). libseccomp checks argument comparisons from the highest index down, so the two deny
 *    rules on args[1] are tested before the allow rule on args[0] (fd >= 0, i.e. always); the unit test
 *    runs the filter to prove that order holds.
 *  - socket(AF_NETLINK, *, NETLINK_AUDIT) → EAFNOSUPPORT, which audit userspace reads as "no audit in
 *    this kernel" (audit is not namespaced; systemd-nspawn does the same); every other socket() passes.
 *  Left out on purpose (ENOSYS): io_uring (a large, often-exploited surface), userfaultfd (widens kernel
 *  race windows in exploits), fanotify, quotactl, acct, syslog, swapon/off, iopl/ioperm, modify_ldt,
 *  lookup_dcookie, pkey_*, the obsolete calls. nspawn's list (nspawn-seccomp.c) also keeps fanotify,
 *  quotactl, @swap, @obsolete, @cpu-emulation, @pkey and the keyring out. */
#include "runtime/seccomp.h"

#include <errno.h>
#include <string.h>
#include <seccomp.h>
#include <linux/netlink.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "cleanup.h"

static const char *const allowed[] = {
	/* files and directories */
	"read", "write", "open", "openat", "openat2", "close", "close_range", "creat", "stat", "fstat", "lstat",
	"newfstatat", "statx", "statfs", "fstatfs", "lseek", "_llseek", "pread64", "pwrite64", "readv", "writev",
	"preadv", "pwritev", "preadv2", "pwritev2", "access", "faccessat", "faccessat2", "dup", "dup2", "dup3",
	"fcntl", "fcntl64", "flock", "fsync", "fdatasync", "syncfs", "sync", "sync_file_range", "truncate",
	"ftruncate", "truncate64", "ftruncate64", "fallocate", "fadvise64", "fadvise64_64", "readahead",
	"getdents", "getdents64", "getcwd", "chdir", "fchdir", "rename", "renameat", "renameat2", "mkdir",
	"mkdirat", "rmdir", "link", "linkat", "unlink", "unlinkat", "symlink", "symlinkat", "readlink",
	"readlinkat", "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat",
	"chown32", "fchown32", "lchown32", "umask", "utime", "utimes", "futimesat", "utimensat", "mknod",
	"mknodat", "stat64", "fstat64", "lstat64", "fstatat64", "statfs64", "fstatfs64", "copy_file_range",
	"sendfile", "sendfile64", "splice", "tee", "vmsplice", "name_to_handle_at", "cachestat",
	"setxattr", "lsetxattr", "fsetxattr", "getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr",
	"flistxattr", "removexattr", "lremovexattr", "fremovexattr", "setxattrat", "getxattrat", "listxattrat",
	"removexattrat", "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch",
	"ioctl",
	/* memory */
	"brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "msync", "mincore", "madvise", "process_madvise",
	"mlock", "mlock2", "munlock", "mlockall", "munlockall", "remap_file_pages", "mbind", "set_mempolicy",
	"get_mempolicy", "set_mempolicy_home_node", "migrate_pages", "move_pages", "membarrier", "memfd_create",
	"memfd_secret", "mseal", "map_shadow_stack",
	/* processes, threads, scheduling */
	"clone", "clone3", "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid",
	"waitpid", "kill", "tkill", "tgkill", "getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp",
	"getsid", "setsid", "set_tid_address", "set_robust_list", "get_robust_list", "rseq", "futex",
	"futex_time64", "futex_waitv", "futex_wake", "futex_wait", "futex_requeue", "sched_yield",
	"sched_setparam", "sched_getparam", "sched_setscheduler", "sched_getscheduler", "sched_get_priority_max",
	"sched_get_priority_min", "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
	"sched_getaffinity", "sched_setattr", "sched_getattr", "getpriority", "setpriority", "ioprio_set",
	"ioprio_get", "getcpu", "prctl", "arch_prctl", "set_thread_area", "get_thread_area",
	"personality", "getrlimit", "setrlimit", "ugetrlimit", "prlimit64", "getrusage", "times", "capget", "capset",
	"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_open", "pidfd_send_signal",
	"pidfd_getfd", "process_mrelease", "seccomp", "landlock_create_ruleset", "landlock_add_rule",
	"landlock_restrict_self", "restart_syscall",
	/* credentials */
	"getuid", "geteuid", "getgid", "getegid", "getuid32", "geteuid32", "getgid32", "getegid32", "setuid",
	"setgid", "setuid32", "setgid32", "setreuid", "setregid", "setreuid32", "setregid32", "setresuid",
	"setresgid", "setresuid32", "setresgid32", "getresuid", "getresgid", "getresuid32", "getresgid32",
	"getgroups", "setgroups", "getgroups32", "setgroups32", "setfsuid", "setfsgid", "setfsuid32",
	"setfsgid32",
	/* signals, timers, time */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigreturn", "rt_sigpending", "rt_sigtimedwait",
	"rt_sigtimedwait_time64", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "rt_sigsuspend", "sigaltstack",
	"signalfd", "signalfd4", "sigaction", "sigprocmask", "sigpending", "sigsuspend", "signal", "pause",
	"alarm", "nanosleep", "clock_nanosleep", "clock_nanosleep_time64", "getitimer", "setitimer",
	"timer_create", "timer_settime", "timer_settime64", "timer_gettime", "timer_gettime64",
	"timer_getoverrun", "timer_delete", "timerfd_create", "timerfd_settime", "timerfd_settime64",
	"timerfd_gettime", "timerfd_gettime64", "time", "gettimeofday", "clock_gettime", "clock_gettime64",
	"clock_getres", "clock_getres_time64", "settimeofday", "clock_settime", "clock_settime64", "adjtimex",
	"clock_adjtime", "clock_adjtime64",
	/* polling, events, ipc */
	"poll", "ppoll", "ppoll_time64", "select", "_newselect", "pselect6", "pselect6_time64", "epoll_create",
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "pipe",
	"pipe2", "shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semtimedop_time64",
	"semctl", "msgget", "msgsnd", "msgrcv", "msgctl", "ipc", "mq_open", "mq_unlink", "mq_timedsend",
	"mq_timedsend_time64", "mq_timedreceive", "mq_timedreceive_time64", "mq_notify", "mq_getsetattr",
	"io_setup", "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64", "io_submit",
	"io_cancel",
	/* sockets */
	"socketpair", "connect", "accept", "accept4", "bind", "listen", "getsockname", "getpeername",
	"sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "recvmmsg_time64", "shutdown",
	"setsockopt", "getsockopt", "socketcall", "send", "recv",
	/* system: what systemd as a container's PID 1 does (namespaces for PrivateTmp= and friends, the new
	 * mount API, hostname, reboot of the pid namespace). Each is also gated by a capability. */
	"uname", "olduname", "oldolduname", "sysinfo", "getrandom", "sethostname", "setdomainname", "reboot",
	"mount", "umount", "umount2", "pivot_root", "chroot", "unshare", "setns", "open_tree", "move_mount",
	"fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "statmount", "listmount", "vhangup", "sync_file_range2", "lsm_get_self_attr", "lsm_set_self_attr",
	"lsm_list_modules",
};

/* EPERM, not ENOSYS: these exist, and the container must not have them. */
static const char *const denied[] = {
	"kexec_load",	   "kexec_file_load", "init_module", "finit_module", "delete_module", "bpf", "keyctl",
	"add_key",	   "request_key",     "perf_event_open", "open_by_handle_at",
};

static json_t *names_array(const char *const *names, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], "ioctl") != 0)
			json_array_append_new(a, json_string(names[i]));
	return a;
}

static json_t *arch_list(void)
{
	/* the native architecture and its compat ABIs */
	switch (seccomp_arch_native()) {
	case SCMP_ARCH_X86_64: return json_pack("[sss]", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32");
	case SCMP_ARCH_AARCH64: return json_pack("[ss]", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM");
	case SCMP_ARCH_PPC64LE: return json_pack("[s]", "SCMP_ARCH_PPC64LE");
	case SCMP_ARCH_S390X: return json_pack("[ss]", "SCMP_ARCH_S390X", "SCMP_ARCH_S390");
	case SCMP_ARCH_RISCV64: return json_pack("[s]", "SCMP_ARCH_RISCV64");
	default: return json_array();
	}
}

json_t *isola_seccomp_default_profile(void)
{
	json_t *tty_rules = json_array();
	static const unsigned long tty_ioctls[] = { TIOCSTI, TIOCLINUX };
	for (size_t i = 0; i < ARRAY_SIZE(tty_ioctls); i++)
		json_array_append_new(
			tty_rules,
			json_pack("{s:[s], s:s, s:i, s:[{s:i, s:I, s:I, s:s}]}", "names", "ioctl", "action",
				  "SCMP_ACT_ERRNO", "errnoRet", EPERM, "args", "index", 1, "value", (json_int_t)0xffffffff,
				  "valueTwo", (json_int_t)tty_ioctls[i], "op", "SCMP_CMP_MASKED_EQ"));
	json_t *syscalls = json_array();
	json_array_append_new(syscalls, json_pack("{s:o, s:s}", "names", names_array(allowed, ARRAY_SIZE(allowed)),
						  "action", "SCMP_ACT_ALLOW"));
	json_array_append_new(syscalls, json_pack("{s:o, s:s, s:i}", "names", names_array(denied, ARRAY_SIZE(denied)),
						  "action", "SCMP_ACT_ERRNO", "errnoRet", EPERM));
	json_array_extend(syscalls, tty_rules);
	json_decref(tty_rules);
	json_array_append_new(syscalls,
			      json_pack("{s:[s], s:s, s:i, s:[{s:i, s:I, s:i, s:s}, {s:i, s:I, s:i, s:s}]}", "names",
					"socket", "action", "SCMP_ACT_ERRNO", "errnoRet", EAFNOSUPPORT, "args", "index", 0,
					"value", (json_int_t)0xffffffff, "valueTwo", AF_NETLINK, "op", "SCMP_CMP_MASKED_EQ",
					"index", 2, "value", (json_int_t)0xffffffff, "valueTwo", NETLINK_AUDIT, "op",
					"SCMP_CMP_MASKED_EQ"));
	json_array_append_new(syscalls, json_pack("{s:[s], s:s, s:[{s:i, s:i, s:s}]}", "names", "socket", "action",
						  "SCMP_ACT_ALLOW", "args", "index", 0, "value", 0, "op",
						  "SCMP_CMP_GE"));
	/* every other ioctl: fd >= 0 holds for any call that can succeed, and this check comes after the
	 * args[1] checks above (see the comment at the top) */
	json_array_append_new(syscalls, json_pack("{s:[s], s:s, s:[{s:i, s:i, s:s}]}", "names", "ioctl", "action",
						  "SCMP_ACT_ALLOW", "args", "index", 0, "value", 0, "op",
						  "SCMP_CMP_GE"));
	return json_pack("{s:s, s:i, s:o, s:o}", "defaultAction", "SCMP_ACT_ERRNO", "defaultErrnoRet", ENOSYS,
			 "architectures", arch_list(), "syscalls", syscalls);
}
