# vmm/: isola-vmm, the KVM-ioctl VMM. Everything but main.c goes into libisola-vmm.a so the unit tests
# and fuzz targets link the same code the binary runs.
# vmm/guest/ is the test guest's code (built static on its own), not the VMM's.
VMM_SRCS := $(sort $(filter-out vmm/guest/%,$(wildcard vmm/*.c vmm/*/*.c)))
VMM_LIB_SRCS := $(filter-out vmm/main.c,$(VMM_SRCS))
VMM_LIB := $(B)/lib/libisola-vmm.a
VMM_BIN := $(B)/bin/isola-vmm
LIBS += $(VMM_LIB)
ifneq ($(wildcard vmm/main.c),)
BINS += $(VMM_BIN)
INSTALL_BINS += $(VMM_BIN)
endif
DEPS += libseccomp-dev libcap-dev linux-libc-dev linux-image-amd64 busybox-static cpio qemu-system-x86

$(VMM_LIB): $(VMM_LIB_SRCS:%.c=$(B)/obj/%.o)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(VMM_BIN): $(B)/obj/vmm/main.o $(VMM_LIB) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $^ $(call pc_libs,jansson libseccomp libcap) -lpthread

UNIT_TESTS += $(B)/tests/unit/test_vmm_boot $(B)/tests/unit/test_vmm_virtq $(B)/tests/unit/test_vmm_devices
UNIT_TESTS += $(B)/tests/unit/test_vmm_netspec
$(B)/tests/unit/test_vmm_%: $(B)/obj/tests/unit/test_vmm_%.o $(VMM_LIB) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $^ $(call pc_libs,cmocka jansson libseccomp libcap) -lpthread

# The busybox test initramfs the VM-tier tests and the benchmark boot (virtio modules of the installed
# Debian kernel: the newest /lib/modules/* that has a matching /boot/vmlinuz-*).
VMM_GUEST_KVER := $(shell ls /boot/vmlinuz-* 2>/dev/null | sed 's|/boot/vmlinuz-||' | sort -V | tail -1)
VMM_TEST_INITRAMFS := $(B)/vmm/test-initramfs.cpio
# Only part of `all` where a Debian kernel is installed (make deps installs linux-image-amd64).
ifneq ($(VMM_GUEST_KVER),)
all: $(VMM_TEST_INITRAMFS)
endif
UNIT_TESTS += $(B)/tests/unit/test_vmm_vsock
# The vsock test's guest side (busybox has no vsock tool): static, so the initramfs needs no libc.
VMM_VSOCK_HELPER := $(B)/vmm/vsock-helper
$(VMM_VSOCK_HELPER): vmm/guest/vsock-helper.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu17 -O2 -Wall -Wextra -Werror -static -o $@ $<
$(VMM_TEST_INITRAMFS): vmm/guest/init vmm/guest/mkinitramfs.sh $(VMM_VSOCK_HELPER)
	@mkdir -p $(dir $@)
	sh vmm/guest/mkinitramfs.sh $@ $(VMM_GUEST_KVER) $(VMM_VSOCK_HELPER)

BENCHES += bench-vmm
.PHONY: bench-vmm
bench-vmm: $(VMM_BIN) $(VMM_TEST_INITRAMFS)
	/usr/bin/python3 tests/bench/bench_vmm.py

# Where a Debian VM's boot time goes (needs /dev/kvm and `make image-debian-vm`; BENCH_RUNS, --verbose).
BENCHES += bench-vmboot
.PHONY: bench-vmboot
bench-vmboot: $(VMM_BIN)
	/usr/bin/python3 tests/bench/bench_vmboot.py $(BENCH_VMBOOT_ARGS)
