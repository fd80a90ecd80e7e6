# cli/: the `isola` command over libisola-manager.
CLI_SRCS := $(wildcard cli/*.c)
ISOLA_BIN := $(B)/bin/isola
BINS += $(ISOLA_BIN)
INSTALL_BINS += $(ISOLA_BIN)

$(ISOLA_BIN): $(CLI_SRCS:%.c=$(B)/obj/%.o) $(B)/lib/libisola-manager.a $(B)/lib/libisola-runtime.a $(B)/lib/libisola-common.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $^ $(call pc_libs,sqlite3 jansson libseccomp libcap yaml-0.1)

.PHONY: bench-lifecycle
BENCHES += bench-lifecycle
bench-lifecycle: $(ISOLA_BIN) $(B)/bin/isola-imaged $(B)/bin/isola-netd
	/usr/bin/python3 tests/bench/lifecycle_bench.py

# make run-isola: what `sudo make run` ends with:
# defaults (btrfs pool if usable, else dir; bridge isolabr0; profile
# default), the busybox image, and a first networked system container.
.PHONY: run-isola
run-isola: $(ISOLA_BIN) $(B)/bin/isola-imaged $(B)/bin/isola-netd $(B)/bin/isola-runtime image-busybox
	@$(ISOLA_BIN) storage show default >/dev/null 2>&1 || $(ISOLA_BIN) admin init --minimal
	@$(ISOLA_BIN) image show busybox >/dev/null 2>&1 || $(ISOLA_BIN) image import $(B)/images/busybox.tar.gz --alias busybox
	@$(ISOLA_BIN) info first >/dev/null 2>&1 || $(ISOLA_BIN) launch busybox first
	@$(ISOLA_BIN) list first
	@echo "first is running: \`$(ISOLA_BIN) exec first -- sh\` for a shell, \`$(ISOLA_BIN) console first\` for its console"
	@echo "(ctrl+a q detaches), \`$(ISOLA_BIN) delete --force first\` to remove it."

# make check-manager: the manager's unit tests and its integration suite (root).
.PHONY: check-manager
check-manager: $(ISOLA_BIN) $(B)/bin/isola-imaged $(B)/bin/isola-netd $(filter %/test_manager_config %/test_manager_db %/test_manager_bundle %/test_manager_storage,$(UNIT_TESTS))
	@set -e; for t in $(filter %/test_manager_config %/test_manager_db %/test_manager_bundle %/test_manager_storage,$(UNIT_TESTS)); do $$t; done
	SUITES=manager tests/integration/run
