# cli/: the `isola` command over libisola-manager.
CLI_SRCS := $(wildcard cli/*.c)
ISOLA_BIN := $(B)/bin/isola
BINS += $(ISOLA_BIN)
INSTALL_BINS += $(ISOLA_BIN)

$(ISOLA_BIN): $(CLI_SRCS:%.c=$(B)/obj/%.o) $(B)/lib/libisola-manager.a $(B)/lib/libisola-runtime.a $(B)/lib/libisola-common.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $^ $(call pc_libs,sqlite3 jansson libseccomp libcap)

.PHONY: bench-lifecycle
BENCHES += bench-lifecycle
bench-lifecycle: $(ISOLA_BIN) $(B)/bin/isola-imaged $(B)/bin/isola-netd
	/usr/bin/python3 tests/bench/lifecycle_bench.py
