# agent/: isola-agent, the guest agent of isola VMs (docs/agent.md). A static PIE that links only
# libisola-common's objects it uses and jansson, so it runs in any guest without a matching libc.
AGENT_SRCS := $(wildcard agent/*.c)
AGENT_BIN := $(B)/bin/isola-agent
BINS += $(AGENT_BIN)
INSTALL_BINS += $(AGENT_BIN)
DEPS += libjansson-dev

# ASan/UBSan cannot link statically: the sanitizer build (SAN=1) is dynamic.
AGENT_LDFLAGS := $(if $(filter 1,$(SAN)),$(LDFLAGS_BASE),-static-pie -Wl,-z,relro,-z,now -Wl,--gc-sections)

$(AGENT_BIN): $(AGENT_SRCS:%.c=$(B)/obj/%.o) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(AGENT_LDFLAGS) -o $@ $^ $(shell pkg-config --static --libs jansson 2>/dev/null)

.PHONY: check-agent
check-agent: $(AGENT_BIN) $(B)/bin/isola
	SUITES=agent tests/integration/run

UNIT_TESTS += $(B)/tests/unit/test_agent_proto
$(B)/tests/unit/test_agent_proto: $(B)/obj/tests/unit/test_agent_proto.o $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $^ $(call pc_libs,cmocka jansson)
