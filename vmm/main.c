/* isola-vmm: boot an x86-64 Linux bzImage in a KVM VM. See docs/vmm.md (exit statuses, devices, control
 * socket). Only this file prints and exits. */
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"
#include "log.h"
#include "util.h"
#include "vmm/boot/layout.h"
#include "vmm/control.h"
#include "vmm/dev/serial_port.h"
#include "vmm/devices.h"
#include "vmm/evloop.h"
#include "vmm/loader.h"
#include "vmm/sandbox.h"
#include "vmm/virtio/net_spec.h"
#include "vmm/vm.h"
#include "vmm/virtio/vsock.h"

/* Always prepended: the serial console, i8042 reset for reboot, panic -> reboot (the VMM then exits 2
 * instead of hanging), PCI found by the conf1 probe (our DSDT describes no host bridge), no early PCI scans
 * (pci=noearly: the AMD GART/AGP aperture probe reads the config space of every slot on 256 buses, twice,
 * before the kernel prints much: ~16k port-I/O exits, 7 s of a nested boot; early quirks have nothing to
 * find on our one host bridge), and the i8042
 * probes that would only time out skipped (as Firecracker does). Later words on the user's command line
 * override these. */
#define BASE_CMDLINE                                                                                                   \
	"console=ttyS0 reboot=k panic=1 pci=noacpi,noearly i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd"

static void usage(FILE *f)
{
	fprintf(f, "usage: isola-vmm --kernel PATH [--initrd PATH] [--cmdline STR] [--cpus N] [--memory MiB]\n"
	           "                 [--disk PATH[,ro]]... [--net tap=NAME|fd=N[,mac=MAC]]... [--console-log PATH]\n"
	           "                 [--rng] [--serial stdio|pty|unix:PATH|none] [--serial-log PATH]\n"
	           "                 [--control PATH] [--no-sandbox]\n"
	           "                 [--memory-backend memfd|anon]\n"
	           "                 [--vsock cid=N] [--explain] [--log FILE] [--debug]\n"
	           "exit status: 0 power-off, 1 error, 2 reboot requested, 3 triple fault, 4 stopped by the host\n");
}

int main(int argc, char **argv)
{
	struct devices_config dc = {0};
	struct boot_config bc = {.ncpus = 1};
	uint64_t mem_mib = 512;
	const char *user_cmdline = "", *control_path = NULL, *log_file = NULL, *serial = "stdio", *serial_log = NULL;
	bool debug = false, sandbox = true, anon_memory = false;
	_cleanup_close_ int slog = -1; /* --serial-log */
	enum {
		O_KERNEL = 256,
		O_INITRD,
		O_CMDLINE,
		O_CPUS,
		O_MEMORY,
		O_DISK,
		O_NET,
		O_SERIAL,
		O_CONTROL,
		O_EXPLAIN,
		O_LOG,
		O_DEBUG,
		O_CONSOLE_LOG,
		O_VSOCK,
		O_RNG,
		O_NO_SANDBOX,
		O_MEM_BACKEND,
		O_SERIAL_LOG,
		O_HELP
	};
	static const struct option opts[] = {
	    {"kernel", required_argument, 0, O_KERNEL},
	    {"initrd", required_argument, 0, O_INITRD},
	    {"cmdline", required_argument, 0, O_CMDLINE},
	    {"cpus", required_argument, 0, O_CPUS},
	    {"memory", required_argument, 0, O_MEMORY},
	    {"disk", required_argument, 0, O_DISK},
	    {"net", required_argument, 0, O_NET},
	    {"serial", required_argument, 0, O_SERIAL},
	    {"control", required_argument, 0, O_CONTROL},
	    {"explain", no_argument, 0, O_EXPLAIN},
	    {"log", required_argument, 0, O_LOG},
	    {"debug", no_argument, 0, O_DEBUG},
	    {"console-log", required_argument, 0, O_CONSOLE_LOG},
	    {"vsock", required_argument, 0, O_VSOCK},
	    {"rng", no_argument, 0, O_RNG},
	    {"no-sandbox", no_argument, 0, O_NO_SANDBOX},
	    {"help", no_argument, 0, O_HELP},
	    {"memory-backend", required_argument, 0, O_MEM_BACKEND},
	    {"serial-log", required_argument, 0, O_SERIAL_LOG},
	    {0, 0, 0, 0},
	};
	int o;
	char *end;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case O_KERNEL: bc.kernel = optarg; break;
		case O_INITRD: bc.initrd = optarg; break;
		case O_CMDLINE: user_cmdline = optarg; break;
		case O_CPUS:
			bc.ncpus = (unsigned)strtoul(optarg, &end, 10);
			if (*end || bc.ncpus == 0 || bc.ncpus > VM_MAX_CPUS) {
				fprintf(stderr, "isola-vmm: --cpus %s: need 1..%d\n", optarg, VM_MAX_CPUS);
				return 1;
			}
			break;
		case O_MEMORY:
			mem_mib = strtoull(optarg, &end, 10);
			if (*end || mem_mib < 64 || mem_mib > (1ULL << 20)) {
				fprintf(stderr, "isola-vmm: --memory %s: need 64..1048576 MiB\n", optarg);
				return 1;
			}
			break;
		case O_DISK:
			if (dc.ndisks >= DEVICES_MAX_DISKS) {
				fprintf(stderr, "isola-vmm: at most %d --disk\n", DEVICES_MAX_DISKS);
				return 1;
			}
			dc.disks[dc.ndisks++] = optarg;
			break;
		case O_NET:
			if (dc.nnets >= DEVICES_MAX_NETS) {
				fprintf(stderr, "isola-vmm: at most %d --net\n", DEVICES_MAX_NETS);
				return 1;
			}
			{
				/* refuse a bad spec (a multicast MAC…) before any KVM work */
				struct net_spec ns;
				isola_error e;
				if (net_spec_parse(optarg, &ns, &e) < 0) {
					fprintf(stderr, "isola-vmm: --net %s\n", e.msg);
					return 1;
				}
			}
			dc.nets[dc.nnets++] = optarg;
			break;
		case O_SERIAL: serial = optarg; break;
		case O_SERIAL_LOG: serial_log = optarg; break;
		case O_CONTROL: control_path = optarg; break;
		case O_EXPLAIN: explain_enabled = true; break;
		case O_LOG: log_file = optarg; break;
		case O_DEBUG: debug = true; break;
		case O_CONSOLE_LOG: dc.console_log = optarg; break;
		case O_RNG: dc.rng = true; break;
		case O_NO_SANDBOX: sandbox = false; break;
		case O_MEM_BACKEND:
			if (strcmp(optarg, "memfd") && strcmp(optarg, "anon")) {
				fprintf(stderr, "isola-vmm: --memory-backend %s: want memfd or anon\n", optarg);
				return 1;
			}
			anon_memory = !strcmp(optarg, "anon");
			break;
		case O_VSOCK: {
			/* One virtio-vsock per VM: the guest has one G2H transport (vsock(7)). */
			uint32_t cid;
			isola_error perr;
			if (dc.vsock) {
				fprintf(stderr, "isola-vmm: --vsock given twice (%s, %s): a VM has one vsock device\n",
				        dc.vsock, optarg);
				return 1;
			}
			if (vsock_parse_spec(optarg, &cid, &perr) < 0) {
				isola_err_print("isola-vmm", &perr);
				return 1;
			}
			dc.vsock = optarg;
			break;
		}
		case O_HELP: usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (!bc.kernel || optind != argc) {
		usage(stderr);
		return 1;
	}
	sandbox_enabled = sandbox;
	if (log_init("isola-vmm", log_file, false, debug) < 0) {
		fprintf(stderr, "isola-vmm: open log %s: %s\n", log_file, strerror(errno));
		return 1;
	}
	_cleanup_free_ char *cmdline = NULL;
	if (asprintf(&cmdline, "%s %s", BASE_CMDLINE, user_cmdline) < 0)
		return 1;
	bc.cmdline = cmdline;

	/* SIGTERM/SIGINT become "stop" through a signalfd on the main thread; every other thread inherits
	 * the block. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGPIPE);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sigdelset(&sigs, SIGPIPE);
	sigdelset(&sigs, SIGUSR1);
	_cleanup_close_ int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);

	isola_error err;
	isola_err_clear(&err);
	static struct vm vm;
	static struct evloop ev;
	static struct devices devs;
	int status = VM_EXIT_ERROR;
	struct serial_port sp;
	/* Declared before the first goto: a jump past a _cleanup_ declaration runs the cleanup on an
	 * uninitialised pointer at return. */
	_cleanup_(control_freep) struct control *ctl = NULL;
	if (boot_validate(&bc, &err) < 0)
		goto fail;
	if (serial_port_open(serial, &sp, &err) < 0)
		goto fail;
	legacy_init(&vm.legacy, sp.out_fd);
	/* The serial log keeps the guest's console output while nobody is attached (the manager's
	 * console.log: `isola console --show-log`, and the boot log of a VM nobody watched). */
	if (serial_log) {
		slog = open(serial_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		EXPLAIN(slog, "open(2)", "open(\"%s\", O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC, 0600)", serial_log);
		if (slog < 0) {
			isola_err(&err, errno, "--serial-log %s", serial_log);
			goto fail;
		}
		vm.legacy.serial.log_fd = slog;
	}
	pci_bus_init(&vm.pci, LAYOUT_PCI_MMIO, LAYOUT_PCI_MMIO_END);
	struct vm_config vc = {.memory = mem_mib << 20, .cpus = bc.ncpus, .anon_memory = anon_memory};
	if (vm_create(&vm, &vc, &err) < 0)
		goto fail;
	uint64_t entry;
	if (boot_load(&vm.mem, &bc, &entry, &err) < 0)
		goto fail;
	if (evloop_init(&ev, &err) < 0)
		goto fail;
	if (devices_create(&devs, &vm, &ev, &dc, &err) < 0)
		goto fail;
	if (serial_port_attach(&sp, &vm, &ev, &err) < 0)
		goto fail;
	if (vm_create_vcpus(&vm, entry, &err) < 0)
		goto fail;
	if (control_path && control_open(&ctl, control_path, &vm, &devs, &err) < 0)
		goto fail;
	if (evloop_start(&ev, &err) < 0)
		goto fail;
	if (control_start(ctl, &err) < 0)
		goto fail;
	if (vm_start(&vm, &err) < 0)
		goto fail;
	/* Every thread confines itself when it starts; the main thread last, after creating them. */
	if (sandbox_thread(SANDBOX_MAIN, &err) < 0)
		goto fail;

	/* Main thread: wait for the guest to end or the host to stop it. */
	for (;;) {
		struct pollfd p[2] = {{.fd = vm.exit_efd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) == sizeof si)
				log_info("signal %u: stopping the VM", si.ssi_signo);
			vm_request_exit(&vm, VM_EXIT_STOPPED);
		}
		if (p[0].revents & POLLIN)
			break;
	}
	vm_join(&vm);
	status = atomic_load(&vm.exit_status);
	control_stop(ctl);
	evloop_stop(&ev);
	devices_destroy(&devs);
	vm_destroy(&vm);
	serial_port_close(&sp);
	return status < 0 ? VM_EXIT_ERROR : status;
fail:
	isola_err_print("isola-vmm", &err);
	vm_request_exit(&vm, VM_EXIT_ERROR);
	return VM_EXIT_ERROR;
}
