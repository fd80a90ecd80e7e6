/* The virtual machine: KVM fds, guest RAM, vCPU threads, the port-I/O and MMIO buses and the legacy
 * devices. One struct vm per isola-vmm process. Threads: one per vCPU (KVM_RUN loop), one device thread
 * (epoll over ioeventfds, tap and console input), and the main thread (control socket, exit). */
#pragma once
#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "error.h"
#include "vmm/dev/legacy.h"
#include "vmm/guest_mem.h"
#include "vmm/pci.h"

/* How the guest ended: the process exit status (docs/vmm.md). */
enum vm_exit {
	VM_EXIT_POWEROFF = 0,     /* ACPI S5 (poweroff) */
	VM_EXIT_ERROR = 1,        /* VMM error, KVM internal error, failed entry */
	VM_EXIT_REBOOT = 2,       /* guest asked for a reset (i8042 0xFE, ACPI reset, reboot) */
	VM_EXIT_TRIPLE_FAULT = 3, /* KVM_EXIT_SHUTDOWN: triple fault */
	VM_EXIT_STOPPED = 4,      /* stopped from the host (control "stop", SIGTERM/SIGINT) */
	VM_EXIT_RUNNING = -1,
};

#define VM_MAX_CPUS       64
#define VM_MAX_MSI_ROUTES 256
#define VM_FIRST_MSI_GSI  24

/* Exit reason counters, reported by the control socket. */
struct vm_counters {
	atomic_uint_fast64_t exits_io, exits_mmio, exits_pci_conf, exits_other, exits_intr;
	atomic_uint_fast64_t unknown_io, unknown_mmio;
};

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
};

struct vm {
	int kvm_fd;
	int vm_fd;
	int run_size;
	unsigned ncpus;
	struct guest_mem mem;
	struct vcpu vcpus[VM_MAX_CPUS];
	struct kvm_cpuid2 *cpuid; /* KVM_GET_SUPPORTED_CPUID, filtered per vCPU */

	/* Lifecycle. exit_status stays VM_EXIT_RUNNING until the first reason to stop is recorded. */
	atomic_int exit_status;
	int exit_efd; /* eventfd signalled once when exit_status is set */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	bool paused;                        /* under pause_lock */
	unsigned running_vcpus;             /* vCPUs not parked, under pause_lock */
	uint64_t boot_ns;                   /* when the first vCPU entered the guest */
	atomic_uint_fast64_t boot_timer_ns; /* guest wrote the boot-timer port (0 = not yet) */

	/* GSI routing: the legacy PIC/IOAPIC routes plus one MSI route per programmed MSI-X vector. */
	pthread_mutex_t route_lock;
	struct kvm_irq_routing_entry msi_routes[VM_MAX_MSI_ROUTES];
	bool msi_route_used[VM_MAX_MSI_ROUTES];
	unsigned next_gsi;

	struct legacy_devices legacy;
	struct pci_bus pci;
	struct vm_counters counters;
};

struct vm_config {
	uint64_t memory;
	bool anon_memory; /* --memory-backend anon */
	unsigned cpus;
};

/* KVM setup up to (not including) the vCPUs: VM, TSS, irqchip, PIT, routing, memory slots. */
int vm_create(struct vm *vm, const struct vm_config *cfg, isola_error *err);
/* Create the vCPUs and put them in the 64-bit boot state at entry. */
int vm_create_vcpus(struct vm *vm, uint64_t entry, isola_error *err);
/* Start one thread per vCPU. */
int vm_start(struct vm *vm, isola_error *err);
/* Record why the VM ends (first caller wins) and kick every vCPU out of KVM_RUN. */
void vm_request_exit(struct vm *vm, enum vm_exit why);
void vm_join(struct vm *vm);
void vm_destroy(struct vm *vm);
int vm_pause(struct vm *vm, bool pause, isola_error *err);

/* Set an ISA/IOAPIC interrupt line (KVM_IRQ_LINE). */
void vm_irq_line(struct vm *vm, unsigned irq, int level);
/* Allocate a GSI for an MSI source; set (or clear with valid=false) its route. */
int vm_msi_gsi_alloc(struct vm *vm, isola_error *err);
int vm_msi_route(struct vm *vm, unsigned gsi, bool valid, uint64_t addr, uint32_t data, isola_error *err);

/* The KVM ioctl wrapper every call goes through, so --explain shows each one with its meaning. */
int kvm_ioctl(int fd, unsigned long req, void *arg, const char *name, const char *meaning, const char *file, int line);
#define KVM_IOCTL(fd, req, arg, meaning) kvm_ioctl((fd), (req), (void *)(arg), #req, (meaning), __FILE__, __LINE__)

/* vCPU exit dispatch (vcpu.c). */
void *vcpu_thread(void *arg);
