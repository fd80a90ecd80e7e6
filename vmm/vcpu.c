/* The vCPU thread: KVM_RUN and the exit dispatch. Port I/O goes to the PCI conf1 fast path first (a
 * Linux boot does thousands of config accesses: research note §2, CH PR #3137), then the legacy devices;
 * MMIO goes to the PCI BARs. Anything unclaimed reads as all ones and is counted. */
#include <signal.h>
#include <sys/ioctl.h>
#include <string.h>
#include "log.h"
#include "util.h"
#include "vmm/sandbox.h"
#include "vmm/vm.h"

static void pio(struct vm *vm, struct kvm_run *run)
{
	bool write = run->io.direction == KVM_EXIT_IO_OUT;
	unsigned size = run->io.size;
	/* data_offset comes from the kernel, but check it lies in the mapping anyway. */
	if (run->io.data_offset + (uint64_t)size * run->io.count > (uint64_t)vm->run_size || size == 0 || size > 4)
		return;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		uint16_t port = run->io.port;
		if (pci_conf1_pio(&vm->pci, port, write, data, size)) {
			atomic_fetch_add(&vm->counters.exits_pci_conf, 1);
			continue;
		}
		if (legacy_pio(vm, port, write, data, size))
			continue;
		atomic_fetch_add(&vm->counters.unknown_io, 1);
		if (!write)
			memset(data, 0xff, size);
	}
}

static void mmio(struct vm *vm, struct kvm_run *run)
{
	unsigned len = run->mmio.len;
	if (len == 0 || len > 8)
		return;
	if (pci_mmio(&vm->pci, run->mmio.phys_addr, run->mmio.is_write, run->mmio.data, len))
		return;
	atomic_fetch_add(&vm->counters.unknown_mmio, 1);
	if (!run->mmio.is_write)
		memset(run->mmio.data, 0xff, len);
}

/* Park while paused. Returns false when the VM is stopping. */
static bool wait_unpaused(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	if (vm->paused) {
		vm->running_vcpus--;
		pthread_cond_broadcast(&vm->pause_cond);
		while (vm->paused && atomic_load(&vm->exit_status) == VM_EXIT_RUNNING)
			pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
		vm->running_vcpus++;
	}
	pthread_mutex_unlock(&vm->pause_lock);
	return atomic_load(&vm->exit_status) == VM_EXIT_RUNNING;
}

void *vcpu_thread(void *arg)
{
	struct vcpu *c = arg;
	struct vm *vm = c->vm;
	struct kvm_run *run = c->run;
	char name[16];
	snprintf(name, sizeof name, "vcpu%u", c->id);
	pthread_setname_np(pthread_self(), name);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	isola_error err;
	if (sandbox_thread(SANDBOX_VCPU, &err) < 0) {
		log_error("vCPU %u: %s", c->id, err.msg);
		vm_request_exit(vm, VM_EXIT_ERROR);
		return NULL;
	}
	bool first = true;
	while (wait_unpaused(vm)) {
		int r;
		if (first) {
			if (c->id == 0)
				vm->boot_ns = now_ns();
			r = KVM_IOCTL(c->fd, KVM_RUN, 0,
			              "enter the guest until the next exit (later KVM_RUNs not traced)");
			first = false;
		} else {
			r = ioctl(c->fd, KVM_RUN, 0);
		}
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				run->immediate_exit = 0;
				atomic_fetch_add(&vm->counters.exits_intr, 1);
				continue;
			}
			log_error("vCPU %u: KVM_RUN: %s", c->id, strerror(errno));
			vm_request_exit(vm, VM_EXIT_ERROR);
			break;
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			atomic_fetch_add(&vm->counters.exits_io, 1);
			pio(vm, run);
			break;
		case KVM_EXIT_MMIO:
			atomic_fetch_add(&vm->counters.exits_mmio, 1);
			mmio(vm, run);
			break;
		case KVM_EXIT_SHUTDOWN:
			/* Triple fault (or INIT in a weird state): the guest cannot continue. */
			log_info("vCPU %u: triple fault (KVM_EXIT_SHUTDOWN)", c->id);
			vm_request_exit(vm, VM_EXIT_TRIPLE_FAULT);
			break;
		case KVM_EXIT_SYSTEM_EVENT:
			if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
				vm_request_exit(vm, VM_EXIT_REBOOT);
			else
				vm_request_exit(vm, VM_EXIT_POWEROFF);
			break;
		case KVM_EXIT_FAIL_ENTRY:
			log_error("vCPU %u: VM entry failed, hardware reason %#llx", c->id,
			          (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			vm_request_exit(vm, VM_EXIT_ERROR);
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			log_error("vCPU %u: KVM internal error, suberror %u", c->id, run->internal.suberror);
			vm_request_exit(vm, VM_EXIT_ERROR);
			break;
		case KVM_EXIT_HLT:
		case KVM_EXIT_INTR: atomic_fetch_add(&vm->counters.exits_other, 1); break;
		default:
			atomic_fetch_add(&vm->counters.exits_other, 1);
			log_warn("vCPU %u: unhandled exit reason %u", c->id, run->exit_reason);
			break;
		}
	}
	return NULL;
}
