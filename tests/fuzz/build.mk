# libFuzzer targets (clang -fsanitize=fuzzer). `make fuzz-vmm` builds and runs each for FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_CFLAGS := -std=gnu17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer -D_GNU_SOURCE -I. -Ilib
FUZZ_VMM_SRCS := $(filter-out vmm/main.c vmm/guest/%,$(sort $(wildcard vmm/*.c vmm/*/*.c))) $(wildcard lib/*.c)
FUZZ_VMM_TARGETS := $(B)/fuzz/fuzz_vmm_virtq $(B)/fuzz/fuzz_vmm_pci

$(B)/fuzz/fuzz_vmm_%: tests/fuzz/fuzz_vmm_%.c $(FUZZ_VMM_SRCS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_VMM_SRCS) $(call pc_libs,jansson libseccomp libcap) -lpthread

.PHONY: fuzz-vmm
fuzz-vmm: $(FUZZ_VMM_TARGETS)
	@set -e; for t in $(FUZZ_VMM_TARGETS); do \
	    mkdir -p $(B)/fuzz/corpus/$$(basename $$t); \
	    echo "== $$t ($(FUZZ_SECONDS) s)"; \
	    $$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(B)/fuzz/corpus/$$(basename $$t); \
	done
