/* kvm_hlt — prove that /dev/kvm really runs a guest: the proving ground's KVM self-test.
 *
 * Opens /dev/kvm, checks KVM_GET_API_VERSION == 12 (the only stable API version, api.rst §4.1), makes a
 * VM with one vCPU and 4 KiB of guest memory holding 16-bit real-mode code
 *
 *     mov al, 42     ; b0 2a
 *     out 0x10, al   ; e6 10
 *     hlt            ; f4
 *
 * and runs it: the first KVM_RUN must stop with KVM_EXIT_IO (port 0x10, out, 1 byte, value 42), the
 * second with KVM_EXIT_HLT. Anything else is a failure that names what was seen. Exit status 0 on success,
 * 1 on a failure (printed), as a test wants. Real ioctls only: api.rst (Documentation/virt/kvm/api.rst). */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "cleanup.h"
#include "error.h"

#define GUEST_ADDR  0x1000
#define GUEST_PORT  0x10
#define GUEST_VALUE 42

static const uint8_t guest_code[] = {
    0xb0, GUEST_VALUE, /* mov al, 42 */
    0xe6, GUEST_PORT,  /* out 0x10, al */
    0xf4,              /* hlt */
};

struct mapping {
	void *addr;
	size_t len;
};
static void unmapp(struct mapping *m)
{
	if (m->addr && m->addr != MAP_FAILED)
		munmap(m->addr, m->len);
}
#define _cleanup_unmap_ _cleanup_(unmapp)

static const char *exit_reason_name(uint32_t r)
{
	switch (r) {
	case KVM_EXIT_UNKNOWN: return "KVM_EXIT_UNKNOWN";
	case KVM_EXIT_EXCEPTION: return "KVM_EXIT_EXCEPTION";
	case KVM_EXIT_IO: return "KVM_EXIT_IO";
	case KVM_EXIT_HLT: return "KVM_EXIT_HLT";
	case KVM_EXIT_MMIO: return "KVM_EXIT_MMIO";
	case KVM_EXIT_SHUTDOWN: return "KVM_EXIT_SHUTDOWN";
	case KVM_EXIT_FAIL_ENTRY: return "KVM_EXIT_FAIL_ENTRY";
	case KVM_EXIT_INTERNAL_ERROR: return "KVM_EXIT_INTERNAL_ERROR";
	default: return "another exit";
	}
}

/* Runs the guest; fills *api with the API version seen. */
static int kvm_run_hlt_guest(int *api, isola_error *err)
{
	_cleanup_close_ int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return ISOLA_SYS_ERR(err, "open /dev/kvm");
	*api = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (*api < 0)
		return ISOLA_SYS_ERR(err, "KVM_GET_API_VERSION on /dev/kvm");
	if (*api != KVM_API_VERSION)
		return isola_err(err, 0, "KVM_GET_API_VERSION gave %d, expected %d", *api, KVM_API_VERSION);

	_cleanup_close_ int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return ISOLA_SYS_ERR(err, "KVM_CREATE_VM");

	_cleanup_unmap_ struct mapping mem = {.len = 0x1000};
	mem.addr = mmap(NULL, mem.len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem.addr == MAP_FAILED)
		return ISOLA_SYS_ERR(err, "mmap 4 KiB of guest memory");
	memcpy(mem.addr, guest_code, sizeof(guest_code));
	struct kvm_userspace_memory_region region = {
	    .slot = 0,
	    .guest_phys_addr = GUEST_ADDR,
	    .memory_size = mem.len,
	    .userspace_addr = (uintptr_t)mem.addr,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return ISOLA_SYS_ERR(err, "KVM_SET_USER_MEMORY_REGION at guest 0x%x", GUEST_ADDR);

	_cleanup_close_ int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		return ISOLA_SYS_ERR(err, "KVM_CREATE_VCPU 0");
	int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < (int)sizeof(struct kvm_run))
		return ISOLA_SYS_ERR(err, "KVM_GET_VCPU_MMAP_SIZE gave %d", run_size);
	_cleanup_unmap_ struct mapping runm = {.len = (size_t)run_size};
	runm.addr = mmap(NULL, runm.len, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (runm.addr == MAP_FAILED)
		return ISOLA_SYS_ERR(err, "mmap the vCPU's kvm_run");
	struct kvm_run *run = runm.addr;

	/* Real mode at CS:IP = 0000:1000 (a vCPU starts at the reset vector F000:FFF0; point it at our code). */
	struct kvm_sregs sregs;
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		return ISOLA_SYS_ERR(err, "KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		return ISOLA_SYS_ERR(err, "KVM_SET_SREGS");
	struct kvm_regs regs = {.rip = GUEST_ADDR, .rflags = 0x2 /* bit 1 is reserved, always 1 */};
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		return ISOLA_SYS_ERR(err, "KVM_SET_REGS");

	if (ioctl(vcpu, KVM_RUN, 0) < 0)
		return ISOLA_SYS_ERR(err, "KVM_RUN (first)");
	if (run->exit_reason != KVM_EXIT_IO)
		return isola_err(err, 0, "first exit was %s (%u), expected KVM_EXIT_IO for 'out 0x10, al'",
		                 exit_reason_name(run->exit_reason), run->exit_reason);
	uint8_t value = *((uint8_t *)run + run->io.data_offset);
	if (run->io.direction != KVM_EXIT_IO_OUT || run->io.port != GUEST_PORT || run->io.size != 1 ||
	    run->io.count != 1 || value != GUEST_VALUE)
		return isola_err(err, 0,
		                 "I/O exit was %s port 0x%x size %u count %u value %u, expected out 0x%x 1 1 %u",
		                 run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in", run->io.port, run->io.size,
		                 run->io.count, value, GUEST_PORT, GUEST_VALUE);

	if (ioctl(vcpu, KVM_RUN, 0) < 0)
		return ISOLA_SYS_ERR(err, "KVM_RUN (second)");
	if (run->exit_reason != KVM_EXIT_HLT)
		return isola_err(err, 0, "second exit was %s (%u), expected KVM_EXIT_HLT",
		                 exit_reason_name(run->exit_reason), run->exit_reason);
	if (ioctl(vcpu, KVM_GET_REGS, &regs) < 0)
		return ISOLA_SYS_ERR(err, "KVM_GET_REGS");
	if (regs.rip != GUEST_ADDR + sizeof(guest_code))
		return isola_err(err, 0, "halted at rip 0x%llx, expected 0x%zx", (unsigned long long)regs.rip,
		                 GUEST_ADDR + sizeof(guest_code));
	return 0;
}

int main(void)
{
	isola_error err = {0};
	int api = -1;
	if (kvm_run_hlt_guest(&api, &err) < 0) {
		isola_err_print("kvm_hlt", &err);
		return 1;
	}
	printf("KVM_GET_API_VERSION %d; guest wrote %d to port 0x%x; KVM_EXIT_HLT at 0x%zx\n", api, GUEST_VALUE,
	       GUEST_PORT, GUEST_ADDR + sizeof(guest_code));
	return 0;
}
