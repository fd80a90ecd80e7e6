# runtime/: libisola-runtime.a (the library of runtime.h, plus confine's caps/seccomp/cgroup modules) and
# the isola-runtime CLI (runtime/cli/, one file per verb).
LIB_RUNTIME_SRCS := $(wildcard runtime/*.c)
LIB_RUNTIME := $(B)/lib/libisola-runtime.a
LIBS += $(LIB_RUNTIME)
RUNTIME_LIBS := jansson libseccomp libcap
DEPS += libjansson-dev libseccomp-dev libcap-dev busybox-static hyperfine crun

# the seccomp filter cache keys on the sources that build filters: a change there invalidates it
FILTER_SRCS := $(wildcard runtime/seccomp*.c)
FILTER_BUILD_ID := $(shell cat $(FILTER_SRCS) 2>/dev/null | sha256sum | cut -c1-16)
$(B)/obj/runtime/filtercache.o: CFLAGS_EXTRA += -DISOLA_FILTER_BUILD_ID='"$(FILTER_BUILD_ID)"'
$(B)/obj/runtime/filtercache.o: $(FILTER_SRCS)

$(LIB_RUNTIME): $(LIB_RUNTIME_SRCS:%.c=$(B)/obj/%.o)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

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

# make run-demo (the top Makefile's `run` calls it until the instance manager exists): a busybox bundle
# under build/demo and one container that prints what is isolated.
.PHONY: run-demo bench-runtime check-runtime
run-demo: $(RUNTIME_BIN)
	@runtime/scripts/mkbundle.sh $(B)/demo /bin/sh /demo.sh >/dev/null
	@cp runtime/scripts/demo.sh $(B)/demo/rootfs/demo.sh
	@echo "== on the host: hostname $$(hostname), pid $$$$, $$(readlink /proc/self/ns/pid)"
	@echo "== $(RUNTIME_BIN) run demo-$$$$  (bundle $(B)/demo)"
	@cd $(B)/demo && python3 -c 'import json,socket; c=json.load(open("config.json")); c["process"]["env"]+=["HOST_HOSTNAME="+socket.gethostname()]; json.dump(c,open("config.json","w"))'
	@cd $(B)/demo && $(abspath $(RUNTIME_BIN)) run demo-$$$$

BENCHES += bench-runtime
bench-runtime: $(RUNTIME_BIN)
	tests/bench/runtime.sh $(RUNTIME_BIN)

check-runtime: $(RUNTIME_BIN) $(RUNTIME_UNIT)
	$(RUNTIME_UNIT)
	$(PYTEST) -q tests/integration/runtime

# static helpers the runtime integration tests bind into busybox containers
RUNTIME_HELPERS := $(patsubst tests/integration/runtime/helpers/%.c,$(B)/tests/helpers/rt-%,$(wildcard tests/integration/runtime/helpers/*.c))
all: $(RUNTIME_HELPERS)
$(B)/tests/helpers/rt-%: tests/integration/runtime/helpers/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu17 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -static -o $@ $<

# the library's system-container mode, driven from C (runtime.h has no CLI for it yet)
RUNTIME_SYSDRIVER := $(B)/tests/helpers/rt-syscontainer
all: $(RUNTIME_SYSDRIVER)
$(RUNTIME_SYSDRIVER): $(B)/obj/tests/integration/runtime/syscontainer_driver.o $(LIB_RUNTIME) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $^ $(call pc_libs,$(RUNTIME_LIBS))
