# manager/: libisola-manager.a — what an instance is (state DB, config, profiles, storage, snapshots,
# OCI bundles, cloud-init seeds) and the clients of the daemons it drives.
MANAGER_SRCS := $(wildcard manager/*.c)
LIB_MANAGER := $(B)/lib/libisola-manager.a
LIBS += $(LIB_MANAGER)
PKGS += sqlite3
DEPS += libsqlite3-dev btrfs-progs genisoimage
MANAGER_LDLIBS = $(call pc_libs,sqlite3 jansson libseccomp libcap)

$(LIB_MANAGER): $(MANAGER_SRCS:%.c=$(B)/obj/%.o)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

UNIT_TESTS += $(B)/tests/unit/test_manager_config $(B)/tests/unit/test_manager_db $(B)/tests/unit/test_manager_bundle \
	$(B)/tests/unit/test_manager_storage $(B)/tests/unit/test_manager_seed_disk
$(B)/tests/unit/test_manager_%: $(B)/obj/tests/unit/test_manager_%.o $(LIB_MANAGER) $(B)/lib/libisola-runtime.a $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $^ $(call pc_libs,cmocka) $(MANAGER_LDLIBS)
