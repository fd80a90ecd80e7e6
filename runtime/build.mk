# runtime/: libisola-runtime.a (the library of runtime.h, plus confine's caps/seccomp/cgroup modules) and
# the isola-runtime CLI (runtime/cli/, one file per verb).
LIB_RUNTIME_SRCS := $(wildcard runtime/*.c)
LIB_RUNTIME := $(B)/lib/libisola-runtime.a
LIBS += $(LIB_RUNTIME)
RUNTIME_LIBS := jansson libseccomp libcap
DEPS += libjansson-dev libseccomp-dev libcap-dev busybox-static hyperfine crun

$(LIB_RUNTIME): $(LIB_RUNTIME_SRCS:%.c=$(B)/obj/%.o)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

RUNTIME_CLI_SRCS := $(wildcard runtime/cli/*.c)
RUNTIME_BIN := $(B)/bin/isola-runtime
BINS += $(RUNTIME_BIN)
INSTALL_BINS += $(RUNTIME_BIN)

$(RUNTIME_BIN): $(RUNTIME_CLI_SRCS:%.c=$(B)/obj/%.o) $(LIB_RUNTIME) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $^ $(call pc_libs,$(RUNTIME_LIBS))

RUNTIME_UNIT := $(B)/tests/unit/test_runtime_config
UNIT_TESTS += $(RUNTIME_UNIT)
$(B)/tests/unit/test_runtime_%: $(B)/obj/tests/unit/test_runtime_%.o $(LIB_RUNTIME) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $^ $(call pc_libs,cmocka $(RUNTIME_LIBS))
