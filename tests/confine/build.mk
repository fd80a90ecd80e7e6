# confine: the security modules of runtime/ (caps, seccomp, cgroup) — their unit tests and the static
# attack helpers the security suite runs inside busybox containers. The modules themselves are compiled
# into libisola-runtime.a by runtime/build.mk; the unit tests link the objects directly so they do not
# depend on the rest of the runtime.
CONFINE_SRCS := runtime/caps.c runtime/seccomp.c runtime/seccomp_profile.c runtime/cgroup.c \
                runtime/cgroup_resources.c runtime/cgroup_stats.c
CONFINE_OBJS := $(CONFINE_SRCS:%.c=$(B)/obj/%.o)
CONFINE_LIBS := jansson libseccomp libcap
DEPS += libseccomp-dev libcap-dev libcmocka-dev libc6-dev

CONFINE_UNIT := caps seccomp cgroup
UNIT_TESTS += $(CONFINE_UNIT:%=$(B)/tests/unit/test_confine_%)
$(B)/tests/unit/test_confine_%: $(B)/obj/tests/unit/test_confine_%.o $(CONFINE_OBJS) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $^ $(call pc_libs,cmocka $(CONFINE_LIBS))

# Attack helpers: static, so they run in a busybox rootfs with no libc of its own.
CONFINE_HELPERS := $(patsubst tests/confine/helpers/%.c,$(B)/tests/helpers/%,$(wildcard tests/confine/helpers/*.c))
all: $(CONFINE_HELPERS)
$(B)/tests/helpers/%: tests/confine/helpers/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu17 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -static -o $@ $<

.PHONY: check-confine
check-confine: $(CONFINE_UNIT:%=$(B)/tests/unit/test_confine_%) $(CONFINE_HELPERS)
	@set -e; for t in $(CONFINE_UNIT); do $(B)/tests/unit/test_confine_$$t; done
