/* trysys: call the syscalls named on the command line the way an attacker would, and print
 * "name=ERRNO_NAME" (or "name=ok") for each, one per line. Static, so it runs in a busybox rootfs.
 * The security suite compares the answers with what the seccomp profile and capabilities promise. */
#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const char *ename(int e)
{
	switch (e) {
	case 0: return "ok";
	case EPERM: return "EPERM";
	case ENOSYS: return "ENOSYS";
	case EACCES: return "EACCES";
	case EINVAL: return "EINVAL";
	case EFAULT: return "EFAULT";
	case ENOTTY: return "ENOTTY";
	case EBADF: return "EBADF";
	case EROFS: return "EROFS";
	case ENOENT: return "ENOENT";
	case EIO: return "EIO";
	case ENXIO: return "ENXIO";
	default: {
		static char b[32];
		snprintf(b, sizeof b, "E%d", e);
		return b;
	}
	}
}

static long call(const char *name)
{
	char c = 'x';
	if (!strcmp(name, "kexec_load"))
		return syscall(SYS_kexec_load, 0, 0, 0, 0);
	if (!strcmp(name, "kexec_file_load"))
		return syscall(SYS_kexec_file_load, -1, -1, 0, 0, 0);
	if (!strcmp(name, "init_module"))
		return syscall(SYS_init_module, 0, 0, "");
	if (!strcmp(name, "finit_module"))
		return syscall(SYS_finit_module, -1, "", 0);
	if (!strcmp(name, "delete_module"))
		return syscall(SYS_delete_module, "isola_nonexistent", 0);
	if (!strcmp(name, "bpf"))
		return syscall(SYS_bpf, 0, 0, 0);
	if (!strcmp(name, "keyctl"))
		return syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
	if (!strcmp(name, "add_key"))
		return syscall(SYS_add_key, "user", "isola", "x", 1, KEY_SPEC_SESSION_KEYRING);
	if (!strcmp(name, "request_key"))
		return syscall(SYS_request_key, "user", "isola", 0, 0);
	if (!strcmp(name, "perf_event_open"))
		return syscall(SYS_perf_event_open, 0, 0, -1, -1, 0);
	if (!strcmp(name, "open_by_handle_at"))
		return syscall(SYS_open_by_handle_at, AT_FDCWD, 0, 0);
	if (!strcmp(name, "io_uring_setup"))
		return syscall(SYS_io_uring_setup, 1, 0);
	if (!strcmp(name, "acct"))
		return syscall(SYS_acct, 0);
	if (!strcmp(name, "nosys")) /* a number no kernel has */
		return syscall(1000);
	/* TIOCSTI on stdin: the kernel would push a byte into the terminal's input queue */
	if (!strcmp(name, "tiocsti"))
		return syscall(SYS_ioctl, 0, (unsigned long)TIOCSTI, &c);
	if (!strcmp(name, "tiocsti_hi")) /* CVE-2019-10063: high bits the kernel ignores */
		return syscall(SYS_ioctl, 0, (1UL << 32) | TIOCSTI, &c);
	if (!strcmp(name, "tioclinux_hi"))
		return syscall(SYS_ioctl, 0, (0xffUL << 40) | TIOCLINUX, &c);
	if (!strcmp(name, "tiocgwinsz_null")) { /* a harmless ioctl must reach the kernel */
		int fd = open("/dev/null", O_RDONLY);
		struct winsize ws;
		long r = syscall(SYS_ioctl, fd, (unsigned long)TIOCGWINSZ, &ws);
		int e = errno;
		close(fd);
		errno = e;
		return r;
	}
	if (!strcmp(name, "devtty")) { /* a controlling terminal of the caller must not be reachable */
		int fd = open("/dev/tty", O_RDWR);
		if (fd >= 0)
			close(fd);
		return fd < 0 ? -1 : 0;
	}
	if (!strcmp(name, "mount_proc")) {
		mkdir("/tmp/isola-p", 0755);
		return mount("proc", "/tmp/isola-p", "proc", 0, NULL);
	}
	if (!strcmp(name, "mknod_sda"))
		return mknod("/tmp/isola-sda", S_IFBLK | 0600, makedev(8, 0));
	if (!strcmp(name, "chroot"))
		return chroot("/tmp");
	if (!strcmp(name, "unshare_mnt"))
		return unshare(CLONE_NEWNS);
	if (!strcmp(name, "setns"))
		return syscall(SYS_setns, 0, 0);
	/* for a config filter on dup's argument: same low 32 bits, different high bits */
	if (!strcmp(name, "dup_hi"))
		return syscall(SYS_dup, 0x100000005UL);
	if (!strcmp(name, "dup_lo"))
		return syscall(SYS_dup, 5UL);
	if (!strcmp(name, "getpid"))
		return syscall(SYS_getpid) > 0 ? 0 : -1;
	errno = EINVAL;
	fprintf(stderr, "trysys: unknown probe %s\n", name);
	return -2;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		errno = 0;
		if (!strcmp(argv[i], "getppid_val")) { /* the value, for a seccomp agent's answer */
			printf("getppid_val=%ld\n", (long)syscall(SYS_getppid));
			continue;
		}
		long r = call(argv[i]);
		if (r == -2)
			return 2;
		printf("%s=%s\n", argv[i], ename(r < 0 ? errno : 0));
	}
	return 0;
}
