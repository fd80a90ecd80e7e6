#include "vmm/sandbox.h"
#include <linux/kvm.h>
#include <linux/vhost.h>
#include <seccomp.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include "cleanup.h"
#include "explain.h"

bool sandbox_enabled = true;

static const char *const kind_name[] = {"vcpu", "device", "control", "main"};

/* Everything a thread of any kind needs from glibc: locks, memory, signals, time, exit, logging. */
static const int common[] = {
    SCMP_SYS(futex),
    SCMP_SYS(mmap),
    SCMP_SYS(munmap),
    SCMP_SYS(mprotect),
    SCMP_SYS(madvise),
    SCMP_SYS(brk),
    SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(rt_sigreturn),
    SCMP_SYS(exit),
    SCMP_SYS(exit_group),
    SCMP_SYS(write),
    SCMP_SYS(read),
    SCMP_SYS(close),
    SCMP_SYS(clock_gettime),
    SCMP_SYS(gettid),
    SCMP_SYS(getpid),
    SCMP_SYS(sched_yield),
    SCMP_SYS(restart_syscall),
    SCMP_SYS(clock_nanosleep),
    SCMP_SYS(newfstatat),
    SCMP_SYS(fstat),
    SCMP_SYS(lseek),
    SCMP_SYS(rseq),
    SCMP_SYS(set_robust_list),
    SCMP_SYS(getrandom),
    /* pthread_kill: any thread may end the VM and must kick every vCPU out of KVM_RUN. */
    SCMP_SYS(tgkill),
};
/* Device back ends (run on the device thread, and on a vCPU when a notify misses its ioeventfd). */
static const int device_io[] = {
    SCMP_SYS(readv),     SCMP_SYS(writev),    SCMP_SYS(preadv),     SCMP_SYS(pwritev),
    SCMP_SYS(fdatasync), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait),
    SCMP_SYS(accept4),   SCMP_SYS(ftruncate), /* the serial log, emptied at SERIAL_LOG_MAX on the vCPU that writes it */
};
static const int control_io[] = {
    SCMP_SYS(poll),    SCMP_SYS(ppoll),      SCMP_SYS(accept4), SCMP_SYS(recvmsg),
    SCMP_SYS(sendmsg), SCMP_SYS(getsockopt), SCMP_SYS(geteuid), SCMP_SYS(tgkill),
};
static const int main_io[] = {
    SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(tgkill), SCMP_SYS(unlink), SCMP_SYS(unlinkat),
};
/* The KVM ioctls allowed after setup: running, interrupts, routes for MSI-X programming, notify
 * rebinding when a BAR moves. Nothing that creates vCPUs, memory slots or devices. */
static const unsigned long kvm_ioctls[] = {KVM_RUN, KVM_IRQ_LINE, KVM_SET_GSI_ROUTING, KVM_IOEVENTFD};
/* virtio-vsock: the driver's DRIVER_OK, reset, queue-vector and MSI-X mask writes (vCPU threads) re-arm
 * or stop vhost. Not SET_OWNER, SET_MEM_TABLE or VSOCK_SET_GUEST_CID: after setup no thread can change
 * which memory vhost may touch or which address the guest has. */
static const unsigned long vhost_ioctls[] = {
    VHOST_SET_FEATURES,   VHOST_SET_VRING_NUM,  VHOST_SET_VRING_BASE,    VHOST_SET_VRING_ADDR,
    VHOST_SET_VRING_KICK, VHOST_SET_VRING_CALL, VHOST_VSOCK_SET_RUNNING,
};

DEFINE_CLEANUP(scmp_filter_ctx, seccomp_release)
DEFINE_CLEANUP(cap_t, cap_free)

static int allow(scmp_filter_ctx ctx, const int *s, size_t n, isola_error *err)
{
	for (size_t i = 0; i < n; i++) {
		int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, s[i], 0);
		if (r < 0)
			return isola_err(err, -r, "seccomp_rule_add syscall %d", s[i]);
	}
	return 0;
}

int sandbox_thread(enum sandbox_kind kind, isola_error *err)
{
	if (!sandbox_enabled)
		return 0;
	/* Drop every capability of this thread: setup (opening /dev/kvm, taps, files) is over. */
	_cleanup_(cap_freep) cap_t none = cap_init();
	if (!none || cap_set_proc(none) < 0)
		return isola_err(err, errno, "drop capabilities (%s thread)", kind_name[kind]);
	int r = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	EXPLAIN(r, "prctl(2)", "prctl(PR_SET_NO_NEW_PRIVS, 1)  /* %s thread */", kind_name[kind]);
	if (r < 0)
		return isola_err(err, errno, "PR_SET_NO_NEW_PRIVS");
	_cleanup_(seccomp_releasep) scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	if (!ctx)
		return isola_err(err, ENOMEM, "seccomp_init");
	if (allow(ctx, common, sizeof common / sizeof common[0], err) < 0)
		return -1;
	if (kind == SANDBOX_VCPU || kind == SANDBOX_DEVICE) {
		if (allow(ctx, device_io, sizeof device_io / sizeof device_io[0], err) < 0)
			return -1;
		for (size_t i = 0; i < sizeof kvm_ioctls / sizeof kvm_ioctls[0]; i++) {
			int k = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
			                         SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)kvm_ioctls[i]));
			if (k < 0)
				return isola_err(err, -k, "seccomp rule for ioctl %#lx", kvm_ioctls[i]);
		}
		for (size_t i = 0; i < sizeof vhost_ioctls / sizeof vhost_ioctls[0]; i++) {
			int k = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
			                         SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)vhost_ioctls[i]));
			if (k < 0)
				return isola_err(err, -k, "seccomp rule for ioctl %#lx", vhost_ioctls[i]);
		}
	}
	if (kind == SANDBOX_CONTROL) {
		if (allow(ctx, control_io, sizeof control_io / sizeof control_io[0], err) < 0)
			return -1;
		/* The power button raises the SCI with KVM_IRQ_LINE. */
		int k = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
		                         SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)KVM_IRQ_LINE));
		if (k < 0)
			return isola_err(err, -k, "seccomp rule for KVM_IRQ_LINE");
	}
	if (kind == SANDBOX_MAIN && allow(ctx, main_io, sizeof main_io / sizeof main_io[0], err) < 0)
		return -1;
	r = seccomp_load(ctx);
	EXPLAIN(r, "seccomp(2), seccomp_load(3)", "seccomp_load(allow-list of the %s thread, default EPERM)",
	        kind_name[kind]);
	if (r < 0)
		return isola_err(err, -r, "load the seccomp filter of the %s thread", kind_name[kind]);
	return 0;
}
