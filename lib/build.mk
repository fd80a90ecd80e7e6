# lib/: libisola-common.a, linked into every binary. yamljson.o needs libyaml: only binaries that call it
# (isola-imaged, isola) link -lyaml; a static archive pulls in just the objects used.
LIB_COMMON_SRCS := $(wildcard lib/*.c)
LIB_COMMON := $(B)/lib/libisola-common.a
LIBS += $(LIB_COMMON)

$(LIB_COMMON): $(LIB_COMMON_SRCS:%.c=$(B)/obj/%.o)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

UNIT_TESTS += $(B)/tests/unit/test_lib
$(B)/tests/unit/test_lib: $(B)/obj/tests/unit/test_lib.o $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $^ $(call pc_libs,cmocka jansson)

PKGS += yaml-0.1
DEPS += libyaml-dev
UNIT_TESTS += $(B)/tests/unit/test_yamljson
$(B)/tests/unit/test_yamljson: $(B)/obj/tests/unit/test_yamljson.o $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $^ $(call pc_libs,cmocka jansson yaml-0.1)
