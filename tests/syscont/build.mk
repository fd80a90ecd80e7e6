# syscont: system containers in the runtime (runtime/syscont.c, runtime/idmap_alloc.c, runtime/cli/boot.c):
# unit tests, the integration suite (tests/integration/syscont) and `make bench-syscont`.
SYSCONT_UNIT := $(B)/tests/unit/test_syscont
UNIT_TESTS += $(SYSCONT_UNIT)
$(SYSCONT_UNIT): $(B)/obj/tests/unit/test_syscont.o $(LIB_RUNTIME) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $^ $(call pc_libs,cmocka $(RUNTIME_LIBS))

# The images the suite and the benchmark boot (rootfs/build.mk builds them); lxc and systemd-nspawn are
# the peers of the benchmark.
DEPS += lxc systemd-container

.PHONY: check-syscont bench-syscont
check-syscont: $(RUNTIME_BIN) $(SYSCONT_UNIT) image-busybox
	$(SYSCONT_UNIT)
	$(PYTEST) -q tests/integration/syscont

BENCHES += bench-syscont
bench-syscont: $(RUNTIME_BIN) image-busybox image-debian
	tests/bench/syscont.sh $(RUNTIME_BIN) $(B)/images
