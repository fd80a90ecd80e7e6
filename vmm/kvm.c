/* KVM VM and vCPU setup, in the order of the research note (vmm-anchors §3): CREATE_VM -> SET_TSS_ADDR ->
 * SET_IDENTITY_MAP_ADDR -> CREATE_IRQCHIP -> CREATE_PIT2 -> GSI routing -> memory slots -> vCPUs (CPUID,
 * MSRs, regs, FPU, sregs, LAPIC LINT0/LINT1). Every ioctl goes through KVM_IOCTL so --explain shows it. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"
#include "log.h"
#include "vmm/boot/layout.h"
#include "vmm/boot/x86.h"
#include "vmm/vm.h"

int kvm_ioctl(int fd, unsigned long req, void *arg, const char *name, const char *meaning, const char *file, int line)
{
	int r;
	/* KVM_CREATE_VM can fail with EINTR under load (Firecracker retries it); so can anything else. */
	for (int tries = 0;; tries++) {
		r = ioctl(fd, req, arg);
		if (r >= 0 || errno != EINTR || tries >= 5 || req == KVM_RUN)
			break;
	}
	if (explain_enabled)
		explain_emit(file, line, "KVM API (Documentation/virt/kvm/api.rst)", r, errno, "ioctl(%d, %s) /* %s */",
		             fd, name, meaning);
	return r;
}

/* The legacy interrupt routes every PC-compatible guest expects (research note §3 step 3): GSI 0 goes to
 * PIC pin 0 and IOAPIC pin 2 (the IRQ0 -> GSI2 override in MADT/MP), 1..15 (not 2) to the 8259 pair and the
 * IOAPIC pin of the same number, 16..23 to the IOAPIC alone. KVM_SET_GSI_ROUTING replaces the whole
 * table, so the MSI routes are appended to these each time. */
static int routes_commit(struct vm *vm, isola_error *err)
{
	size_t max = 48 + VM_MAX_MSI_ROUTES;
	_cleanup_free_ struct kvm_irq_routing *t = calloc(1, sizeof *t + max * sizeof(struct kvm_irq_routing_entry));
	if (!t)
		return isola_err(err, ENOMEM, "GSI routing table");
	unsigned n = 0;
	for (unsigned gsi = 0; gsi < 24; gsi++) {
		if (gsi == 2)
			continue;
		if (gsi < 16)
			t->entries[n++] = (struct kvm_irq_routing_entry){
			    .gsi = gsi,
			    .type = KVM_IRQ_ROUTING_IRQCHIP,
			    .u.irqchip = {.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
			                  .pin = gsi % 8}};
		t->entries[n++] = (struct kvm_irq_routing_entry){
		    .gsi = gsi,
		    .type = KVM_IRQ_ROUTING_IRQCHIP,
		    .u.irqchip = {.irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi == 0 ? 2 : gsi}};
	}
	for (unsigned i = 0; i < VM_MAX_MSI_ROUTES; i++)
		if (vm->msi_route_used[i] && vm->msi_routes[i].type == KVM_IRQ_ROUTING_MSI)
			t->entries[n++] = vm->msi_routes[i];
	t->nr = n;
	if (KVM_IOCTL(vm->vm_fd, KVM_SET_GSI_ROUTING, t, "install the GSI -> irqchip pin / MSI routing table") < 0)
		return isola_err(err, errno, "KVM_SET_GSI_ROUTING (%u routes)", n);
	return 0;
}

int vm_msi_gsi_alloc(struct vm *vm, isola_error *err)
{
	pthread_mutex_lock(&vm->route_lock);
	int gsi = -1;
	if (vm->next_gsi - VM_FIRST_MSI_GSI < VM_MAX_MSI_ROUTES) {
		gsi = (int)vm->next_gsi++;
		vm->msi_route_used[gsi - VM_FIRST_MSI_GSI] = true;
	}
	pthread_mutex_unlock(&vm->route_lock);
	if (gsi < 0)
		return isola_err(err, 0, "out of MSI GSIs (%d)", VM_MAX_MSI_ROUTES);
	return gsi;
}

int vm_msi_route(struct vm *vm, unsigned gsi, bool valid, uint64_t addr, uint32_t data, isola_error *err)
{
	if (gsi < VM_FIRST_MSI_GSI || gsi - VM_FIRST_MSI_GSI >= VM_MAX_MSI_ROUTES)
		return isola_err(err, 0, "GSI %u is not an MSI GSI", gsi);
	pthread_mutex_lock(&vm->route_lock);
	struct kvm_irq_routing_entry *e = &vm->msi_routes[gsi - VM_FIRST_MSI_GSI];
	struct kvm_irq_routing_entry want = {.gsi = gsi};
	if (valid) {
		want.type = KVM_IRQ_ROUTING_MSI;
		want.u.msi.address_lo = (uint32_t)addr;
		want.u.msi.address_hi = (uint32_t)(addr >> 32);
		want.u.msi.data = data;
	}
	int r = 0;
	if (memcmp(e, &want, sizeof want) != 0) {
		*e = want;
		r = routes_commit(vm, err);
	}
	pthread_mutex_unlock(&vm->route_lock);
	return r;
}

void vm_irq_line(struct vm *vm, unsigned irq, int level)
{
	struct kvm_irq_level l = {.irq = irq, .level = (uint32_t)level};
	/* Hot path (serial, SCI): not traced. */
	ioctl(vm->vm_fd, KVM_IRQ_LINE, &l);
}

static int check_cap(struct vm *vm, long cap, const char *name, isola_error *err)
{
	int r = KVM_IOCTL(vm->vm_fd, KVM_CHECK_EXTENSION, cap, name);
	if (r <= 0)
		return isola_err(err, 0, "this KVM lacks %s, which isola-vmm needs", name);
	return r;
}

int vm_create(struct vm *vm, const struct vm_config *cfg, isola_error *err)
{
	vm->kvm_fd = vm->vm_fd = vm->exit_efd = -1;
	for (unsigned i = 0; i < VM_MAX_CPUS; i++)
		vm->vcpus[i].fd = -1;
	atomic_store(&vm->exit_status, VM_EXIT_RUNNING);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	pthread_mutex_init(&vm->route_lock, NULL);
	vm->next_gsi = VM_FIRST_MSI_GSI;
	vm->ncpus = cfg->cpus;
	if (cfg->cpus == 0 || cfg->cpus > VM_MAX_CPUS)
		return isola_err(err, 0, "--cpus %u: supported range is 1..%d", cfg->cpus, VM_MAX_CPUS);

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	EXPLAIN(vm->kvm_fd, "open(2), KVM API", "open(\"/dev/kvm\", O_RDWR|O_CLOEXEC)");
	if (vm->kvm_fd < 0)
		return isola_err(err, errno, "open /dev/kvm");
	int v = KVM_IOCTL(vm->kvm_fd, KVM_GET_API_VERSION, 0, "the KVM API version; 12 is the only stable one");
	if (v != KVM_API_VERSION)
		return isola_err(err, 0, "KVM API version %d, need %d", v, KVM_API_VERSION);
	vm->vm_fd = KVM_IOCTL(vm->kvm_fd, KVM_CREATE_VM, 0, "create an empty VM (no memory, no vCPUs)");
	if (vm->vm_fd < 0)
		return isola_err(err, errno, "KVM_CREATE_VM");
	fcntl(vm->vm_fd, F_SETFD, FD_CLOEXEC);
	if (check_cap(vm, KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", err) < 0 ||
	    check_cap(vm, KVM_CAP_PIT2, "KVM_CAP_PIT2", err) < 0 ||
	    check_cap(vm, KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING", err) < 0 ||
	    check_cap(vm, KVM_CAP_IRQFD, "KVM_CAP_IRQFD", err) < 0 ||
	    check_cap(vm, KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD", err) < 0 ||
	    check_cap(vm, KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", err) < 0 ||
	    check_cap(vm, KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", err) < 0 ||
	    check_cap(vm, KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR", err) < 0)
		return -1;
	if (KVM_IOCTL(vm->vm_fd, KVM_SET_TSS_ADDR, LAYOUT_TSS, "3 pages below 4 GiB for the VMX real-mode TSS") < 0)
		return isola_err(err, errno, "KVM_SET_TSS_ADDR");
	uint64_t idmap = LAYOUT_IDENTITY_MAP;
	if (KVM_IOCTL(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap,
	              "1 page for the EPT identity map, before any vCPU") < 0)
		return isola_err(err, errno, "KVM_SET_IDENTITY_MAP_ADDR");
	if (KVM_IOCTL(vm->vm_fd, KVM_CREATE_IRQCHIP, 0, "in-kernel 8259 PIC pair, IOAPIC and per-vCPU LAPICs") < 0)
		return isola_err(err, errno, "KVM_CREATE_IRQCHIP");
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	if (KVM_IOCTL(vm->vm_fd, KVM_CREATE_PIT2, &pit, "in-kernel i8254 PIT; port 0x61 answered in the kernel") < 0)
		return isola_err(err, errno, "KVM_CREATE_PIT2");
	if (routes_commit(vm, err) < 0)
		return -1;

	if (guest_mem_create(&vm->mem, cfg->memory, cfg->anon_memory, err) < 0)
		return isola_err_wrap(err, "guest memory");
	for (unsigned i = 0; i < vm->mem.nregions; i++) {
		struct kvm_userspace_memory_region r = {
		    .slot = i,
		    .guest_phys_addr = vm->mem.region[i].gpa,
		    .memory_size = vm->mem.region[i].size,
		    .userspace_addr = (uint64_t)(uintptr_t)(vm->mem.host + vm->mem.region[i].offset),
		};
		if (KVM_IOCTL(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r,
		              i == 0 ? "guest RAM below the 32-bit MMIO hole" : "guest RAM above 4 GiB") < 0)
			return isola_err(err, errno, "KVM_SET_USER_MEMORY_REGION slot %u", i);
	}
	vm->run_size = KVM_IOCTL(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0, "size of the shared kvm_run area");
	if (vm->run_size < (int)sizeof(struct kvm_run))
		return isola_err(err, errno, "KVM_GET_VCPU_MMAP_SIZE");

	/* The host's CPUID as KVM can virtualise it; filtered per vCPU below. */
	unsigned nent = 256;
	vm->cpuid = calloc(1, sizeof *vm->cpuid + nent * sizeof(struct kvm_cpuid_entry2));
	if (!vm->cpuid)
		return isola_err(err, ENOMEM, "CPUID table");
	vm->cpuid->nent = nent;
	if (KVM_IOCTL(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, vm->cpuid, "CPUID leaves KVM can offer a guest") < 0)
		return isola_err(err, errno, "KVM_GET_SUPPORTED_CPUID");
	/* The TSC-deadline LAPIC timer (CPUID.1:ECX[24]) is never in KVM_GET_SUPPORTED_CPUID: it depends on
	 * the in-kernel LAPIC, so KVM reports it as KVM_CAP_TSC_DEADLINE_TIMER (KVM API, KVM_GET_SUPPORTED_CPUID).
	 * Offering it matters: without it Linux calibrates the LAPIC timer against the PIT, which fails when the
	 * host is slow or loaded (nested: "APIC timer disabled due to verification failure"), and then runs
	 * on the PIT's periodic tick with no one-shot mode, no high-resolution timers and no tickless idle. */
	if (KVM_IOCTL(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER,
	              "can the in-kernel LAPIC run a TSC-deadline timer?") > 0)
		for (uint32_t i = 0; i < vm->cpuid->nent; i++)
			if (vm->cpuid->entries[i].function == 1)
				vm->cpuid->entries[i].ecx |= 1u << 24;
	vm->exit_efd = eventfd(0, EFD_CLOEXEC);
	if (vm->exit_efd < 0)
		return isola_err(err, errno, "eventfd for VM exit");
	return 0;
}

static int vcpu_setup(struct vm *vm, struct vcpu *c, uint64_t entry, isola_error *err)
{
	c->vm = vm;
	c->fd = KVM_IOCTL(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)c->id, "create a vCPU; its id is its APIC id");
	if (c->fd < 0)
		return isola_err(err, errno, "KVM_CREATE_VCPU %u", c->id);
	fcntl(c->fd, F_SETFD, FD_CLOEXEC);
	c->run = mmap(NULL, (size_t)vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	EXPLAIN(c->run == MAP_FAILED ? -1 : 0, "mmap(2), KVM API",
	        "mmap(vcpu%u fd) /* kvm_run: exit reason and data */", c->id);
	if (c->run == MAP_FAILED)
		return isola_err(err, errno, "map kvm_run of vCPU %u", c->id);

	size_t sz = sizeof *vm->cpuid + vm->cpuid->nent * sizeof(struct kvm_cpuid_entry2);
	_cleanup_free_ struct kvm_cpuid2 *cpuid = malloc(sz);
	if (!cpuid)
		return isola_err(err, ENOMEM, "CPUID copy");
	memcpy(cpuid, vm->cpuid, sz);
	cpuid_filter(cpuid->entries, cpuid->nent, c->id, vm->ncpus);
	if (KVM_IOCTL(c->fd, KVM_SET_CPUID2, cpuid, "CPUID with this vCPU's APIC id, topology, hypervisor bit") < 0)
		return isola_err(err, errno, "KVM_SET_CPUID2 vCPU %u", c->id);

	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[16];
	} msrs = {0};
	msrs.h.nmsrs = (uint32_t)msrs_boot(msrs.e, 16);
	int n = KVM_IOCTL(c->fd, KVM_SET_MSRS, &msrs, "boot MSRs: SYSCALL/SYSENTER 0, fast strings, MTRR write-back");
	if (n != (int)msrs.h.nmsrs)
		return isola_err(err, n < 0 ? errno : 0, "KVM_SET_MSRS vCPU %u set %d of %u", c->id, n, msrs.h.nmsrs);

	/* Only the boot processor starts at the kernel entry; the APs wait for INIT/SIPI in the LAPIC. */
	if (c->id == 0) {
		struct kvm_regs regs;
		regs_boot(&regs, entry);
		if (KVM_IOCTL(c->fd, KVM_SET_REGS, &regs, "RIP = 64-bit entry, RSI = zero page, RSP = boot stack") < 0)
			return isola_err(err, errno, "KVM_SET_REGS");
		struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};
		if (KVM_IOCTL(c->fd, KVM_SET_FPU, &fpu, "x87 control word and MXCSR at their reset values") < 0)
			return isola_err(err, errno, "KVM_SET_FPU");
		struct kvm_sregs sregs;
		if (KVM_IOCTL(c->fd, KVM_GET_SREGS, &sregs, "read segment/control registers to edit") < 0)
			return isola_err(err, errno, "KVM_GET_SREGS");
		sregs_long_mode(&sregs);
		if (KVM_IOCTL(c->fd, KVM_SET_SREGS, &sregs,
		              "long mode: GDT, CR0.PG|PE, CR3 = PML4, CR4.PAE, EFER.LME|LMA") < 0)
			return isola_err(err, errno, "KVM_SET_SREGS");
	}
	struct kvm_lapic_state lapic;
	if (KVM_IOCTL(c->fd, KVM_GET_LAPIC, &lapic, "read the local APIC registers") < 0)
		return isola_err(err, errno, "KVM_GET_LAPIC");
	/* LVT LINT0 (0x350) = ExtINT (the 8259 feeds the BSP), LINT1 (0x360) = NMI: delivery mode bits 8..10. */
	uint32_t *lint0 = (uint32_t *)(lapic.regs + 0x350), *lint1 = (uint32_t *)(lapic.regs + 0x360);
	*lint0 = (*lint0 & ~0x700u) | (7u << 8);
	*lint1 = (*lint1 & ~0x700u) | (4u << 8);
	if (KVM_IOCTL(c->fd, KVM_SET_LAPIC, &lapic, "LINT0 = ExtINT, LINT1 = NMI") < 0)
		return isola_err(err, errno, "KVM_SET_LAPIC");
	return 0;
}

int vm_create_vcpus(struct vm *vm, uint64_t entry, isola_error *err)
{
	if (pagetables_write(&vm->mem, err) < 0 || gdt_write(&vm->mem, err) < 0)
		return -1;
	for (unsigned i = 0; i < vm->ncpus; i++) {
		vm->vcpus[i].id = i;
		vm->vcpus[i].fd = -1;
		if (vcpu_setup(vm, &vm->vcpus[i], entry, err) < 0)
			return isola_err_wrap(err, "vCPU %u", i);
	}
	return 0;
}

static void kick_handler(int sig)
{
	(void)sig;
}

int vm_start(struct vm *vm, isola_error *err)
{
	/* SIGUSR1 interrupts KVM_RUN (EINTR) so a vCPU notices stop/pause; no SA_RESTART. */
	struct sigaction sa = {.sa_handler = kick_handler};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	vm->running_vcpus = vm->ncpus;
	for (unsigned i = 0; i < vm->ncpus; i++) {
		int r = pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread, &vm->vcpus[i]);
		if (r != 0) {
			vm_request_exit(vm, VM_EXIT_ERROR);
			return isola_err(err, r, "start vCPU %u thread", i);
		}
		vm->vcpus[i].started = true;
	}
	return 0;
}

void vm_request_exit(struct vm *vm, enum vm_exit why)
{
	int expected = VM_EXIT_RUNNING;
	if (atomic_compare_exchange_strong(&vm->exit_status, &expected, (int)why)) {
		uint64_t one = 1;
		if (write(vm->exit_efd, &one, sizeof one) < 0) {
			/* The counter cannot overflow with one write; nothing to do. */
		}
	}
	pthread_mutex_lock(&vm->pause_lock);
	vm->paused = false;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].started) {
			vm->vcpus[i].run->immediate_exit = 1;
			pthread_kill(vm->vcpus[i].thread, SIGUSR1);
		}
}

int vm_pause(struct vm *vm, bool pause, isola_error *err)
{
	if (atomic_load(&vm->exit_status) != VM_EXIT_RUNNING)
		return isola_err(err, 0, "the VM is stopping");
	pthread_mutex_lock(&vm->pause_lock);
	vm->paused = pause;
	if (pause) {
		for (unsigned i = 0; i < vm->ncpus; i++) {
			vm->vcpus[i].run->immediate_exit = 1;
			pthread_kill(vm->vcpus[i].thread, SIGUSR1);
		}
		/* Wait until every vCPU has parked, so "paused" really means no guest code runs. */
		while (vm->running_vcpus > 0 && atomic_load(&vm->exit_status) == VM_EXIT_RUNNING)
			pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	} else {
		pthread_cond_broadcast(&vm->pause_cond);
	}
	pthread_mutex_unlock(&vm->pause_lock);
	return 0;
}

void vm_join(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].started) {
			pthread_join(vm->vcpus[i].thread, NULL);
			vm->vcpus[i].started = false;
		}
}

void vm_destroy(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++) {
		if (vm->vcpus[i].run && vm->vcpus[i].run != MAP_FAILED)
			munmap(vm->vcpus[i].run, (size_t)vm->run_size);
		if (vm->vcpus[i].fd >= 0)
			close(vm->vcpus[i].fd);
	}
	guest_mem_destroy(&vm->mem);
	free(vm->cpuid);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->exit_efd >= 0)
		close(vm->exit_efd);
}
