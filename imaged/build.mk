# imaged/: isola-imaged, the image store daemon. Everything but daemon.c goes into an internal library
# so the unit tests link the same objects.
IMAGED_PKGS := libarchive libcurl libcrypto yaml-0.1 jansson
PKGS += libarchive libcurl libcrypto yaml-0.1
IMAGED_LIB := $(B)/lib/libisola-imaged.a
IMAGED_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(filter-out imaged/daemon.c,$(wildcard imaged/*.c)))
LIBS += $(IMAGED_LIB)
BINS += $(B)/bin/isola-imaged
INSTALL_BINS += $(B)/bin/isola-imaged
DEPS += libarchive-dev libssl-dev libcurl4-openssl-dev libyaml-dev squashfs-tools squashfuse fuse3 qemu-utils \
	openssl python3

$(IMAGED_LIB): $(IMAGED_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(B)/bin/isola-imaged: $(B)/obj/imaged/daemon.o $(IMAGED_LIB) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $^ $(call pc_libs,$(IMAGED_PKGS))

UNIT_TESTS += $(B)/tests/unit/test_imaged
$(B)/tests/unit/test_imaged: $(B)/obj/tests/unit/test_imaged.o $(IMAGED_LIB) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $^ $(call pc_libs,cmocka $(IMAGED_PKGS))

.PHONY: bench-imaged check-imaged
BENCHES += bench-imaged
bench-imaged: $(B)/bin/isola-imaged
	/usr/bin/python3 tests/bench/imaged_bench.py --bin $(B)/bin/isola-imaged

check-imaged: $(B)/bin/isola-imaged $(B)/tests/unit/test_imaged
	$(B)/tests/unit/test_imaged
	$(PYTEST) -q tests/integration/imaged

# libFuzzer targets for the parsers of untrusted image input (clang; not part of make test).
FUZZ_IMAGED := $(B)/fuzz/fuzz_imaged_metadata $(B)/fuzz/fuzz_imaged_names
FUZZ_IMAGED_SRCS := imaged/yaml.c imaged/metadata.c imaged/extract.c lib/error.c lib/log.c
.PHONY: fuzz-imaged
$(B)/fuzz/fuzz_imaged_%: tests/fuzz/fuzz_imaged_%.c $(FUZZ_IMAGED_SRCS)
	@mkdir -p $(dir $@)
	clang -std=gnu17 -g -O1 -D_GNU_SOURCE -I. -Ilib -fsanitize=fuzzer,address,undefined $^ -o $@ \
	    $(call pc_libs,$(IMAGED_PKGS))
fuzz-imaged: $(FUZZ_IMAGED)
	@mkdir -p $(B)/fuzz/corpus-metadata $(B)/fuzz/corpus-names
	$(B)/fuzz/fuzz_imaged_metadata -max_total_time=60 $(B)/fuzz/corpus-metadata tests/fuzz/corpus/imaged_metadata
	$(B)/fuzz/fuzz_imaged_names -max_total_time=30 $(B)/fuzz/corpus-names
