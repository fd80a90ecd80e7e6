# tests/vm/: the proving ground (tests/vm/run, a shell script: nothing to build for it) and kvm_hlt, the
# KVM smoke test its self-tests run inside the VM (tests/integration/vm/).
DEPS += qemu-system-x86 linux-image-amd64 busybox-static kmod cpio xz-utils binutils util-linux

VM_KVM_HLT := $(B)/tests/vm/kvm_hlt
all: $(VM_KVM_HLT)
$(VM_KVM_HLT): $(B)/obj/tests/vm/kvm_hlt.o $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $^ $(call pc_libs,jansson)

# Only the proving ground's own tests, inside the VM and from the host (a quicker loop than check-vm).
.PHONY: check-vm-self
check-vm-self: $(VM_KVM_HLT)
	tests/vm/run --timeout 900 -- $(PYTEST) -q tests/integration/vm -p no:cacheprovider --vm-tier
	$(PYTEST) -q tests/integration/vm -p no:cacheprovider
