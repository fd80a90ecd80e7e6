# tests/bench/: the peers the benchmarks compare against, and the lifecycle benchmark in the proving ground.
#
#   make deps-bench           install Incus (bookworm-backports) without starting it here; NOT part of
#                             `make deps`: no test needs it.
#   make bench-lifecycle-vm   isola and Incus side by side, interleaved, each on a btrfs pool, inside the
#                             proving ground (tests/vm/run: own kernel, cgroup2 with every controller; both
#                             under the same TCG). Incus never runs on the host (docs/decisions.md, ## bench).
#                             BENCH=N runs per operation (default 5).

.PHONY: deps-bench bench-lifecycle-vm
deps-bench:
	tests/bench/deps-bench.sh

BENCH ?= 5
bench-lifecycle-vm: $(ISOLA_BIN) $(B)/bin/isola-imaged $(B)/bin/isola-netd $(B)/bin/isola-runtime image-busybox
	tests/vm/run --mem 3072 --disk 16 --timeout 2400 -- /usr/bin/python3 tests/bench/lifecycle_bench.py --incus -n $(BENCH)
