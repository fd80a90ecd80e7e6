# netd/: isola-netd, the network helper (docs/netd.md).
NETD_PKGS := libnl-3.0 libnl-route-3.0 libmnl libnftables jansson
NETD_SRCS := $(wildcard netd/*.c)
NETD_OBJS := $(NETD_SRCS:%.c=$(B)/obj/%.o)
NETD_PURE := $(B)/obj/netd/addr.o $(B)/obj/netd/firewall.o $(B)/obj/netd/dnsmasq.o
PKGS += libnl-3.0 libnl-route-3.0 libmnl libnftables
BINS += $(B)/bin/isola-netd
INSTALL_BINS += $(B)/bin/isola-netd
DEPS += libnl-3-dev libnl-route-3-dev libmnl-dev libnftables-dev dnsmasq-base nftables iproute2 busybox-static

$(B)/bin/isola-netd: $(NETD_OBJS) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $^ $(call pc_libs,$(NETD_PKGS))

UNIT_TESTS += $(B)/tests/unit/test_netd
$(B)/tests/unit/test_netd: $(B)/obj/tests/unit/test_netd.o $(NETD_PURE) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $^ $(call pc_libs,cmocka $(NETD_PKGS))

.PHONY: bench-netd
BENCHES += bench-netd
bench-netd: $(B)/bin/isola-netd
	/usr/bin/python3 tests/bench/netd_bench.py --bin $(B)/bin/isola-netd
