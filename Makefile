# isola — one non-recursive build. Each component owns a fragment (<dir>/build.mk) that appends to the
# variables below; this file holds only what every component shares. Outputs go under build/.
#
#   make            build everything into build/ (binaries in build/bin/)
#   make test       host tier (unit + integration), then the VM tier (check-vm)
#   make deps       install every build/test/runtime dependency (Debian 12, idempotent)
#   make check-asan the unit and host tiers built with ASan+UBSan
#   make lint       clang-format check and cppcheck
#   make bench      every benchmark, side by side with the peers installed here
#   make install    PREFIX=/usr/local DESTDIR=
#   make run        deps, build, and a first container

PREFIX  ?= /usr/local
DESTDIR ?=
B       ?= build
CC      ?= gcc
PKGS    := jansson libseccomp libcap
CFLAGS_BASE := -std=gnu17 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-truncation -Wshadow \
               -D_GNU_SOURCE -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE -I. -Ilib
LDFLAGS_BASE := -pie -Wl,-z,relro,-z,now
SAN     ?=
ifeq ($(SAN),1)
B       := build/asan
CFLAGS_BASE := $(filter-out -D_FORTIFY_SOURCE=2 -O2,$(CFLAGS_BASE)) -O1 -fsanitize=address,undefined -fno-omit-frame-pointer
LDFLAGS_BASE += -fsanitize=address,undefined
endif
PYTEST  := /usr/bin/python3 -m pytest
# Debian packages every part needs; fragments append their own with DEPS +=.
DEPS    := build-essential pkg-config clang clang-format cppcheck libjansson-dev libseccomp-dev libcap-dev \
           libcmocka-dev python3-pytest iproute2 kmod hyperfine busybox-static

BINS        :=
LIBS        :=
UNIT_TESTS  :=
INSTALL_BINS :=
BENCHES     :=

.PHONY: all test check-unit check-host check-vm check-asan lint bench deps install run clean images
all:

# pkg-config is resolved lazily so `make deps` works before the -dev packages exist.
pc_cflags = $(shell pkg-config --cflags $(1) 2>/dev/null)
pc_libs   = $(shell pkg-config --libs $(1) 2>/dev/null)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(call pc_cflags,$(PKGS)) $(CFLAGS_EXTRA) -MMD -MP -c $< -o $@

include lib/build.mk
-include $(filter-out lib/build.mk,$(sort $(wildcard */build.mk) $(wildcard tests/*/build.mk)))

all: $(LIBS) $(BINS)

check-unit: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $$t; done

# The container images the suites boot (Debian's debootstrap is cached in /var/cache/isola: ~2 min the
# first time on a quiet machine, seconds after). The Debian VM disk is left to `make images`: building it
# cold and booting it nested would take the VM tier past its budget (docs/notes.md).
check-host: all check-unit image-busybox image-debian
	tests/integration/run

check-vm: all
	tests/vm/run --timeout 3600 -- tests/integration/run --vm-tier

# Build in parallel first (GNU make 4.3 ignores a -j set inside the makefile), then the tiers in order.
NPROC := $(shell nproc 2>/dev/null || echo 2)
test:
	$(MAKE) -j$(NPROC) all
	$(MAKE) check-host
	$(MAKE) check-vm

check-asan:
	$(MAKE) SAN=1 check-unit

lint:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr -I lib \
	    --library=lint/cppcheck-jansson.cfg --suppress=missingIncludeSystem $$(git ls-files '*.c')

bench: all $(BENCHES)

deps:
	@missing=$$(for p in $(sort $(DEPS)); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "deps: all installed"; fi

# The first thing a new user runs: dependencies, the build, then the first container (run-demo is defined
# by cli/build.mk: defaults, then a networked busybox system container).
run:
	$(MAKE) deps
	$(MAKE) all
	$(MAKE) run-isola

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(INSTALL_BINS) $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
