#!/bin/sh
# tests/bench/deps-bench.sh — what `make deps-bench` runs: the peers the benchmarks compare against that
# `make deps` does not install, today Incus from Debian's bookworm-backports suite.
#
# Incus is only ever run inside the proving ground (tests/vm/run, make bench-lifecycle-vm): it creates a
# cgroup for every container and a host's cgroup mounts are not ours to write (docs/decisions.md, ## bench).
# So installing it must not start it here, now or at the next boot:
#   - /usr/sbin/policy-rc.d exiting 101 for the install (invoke-rc.d(8), "POLICY-RC.D Interface": 101 =
#     action forbidden), so the maintainer scripts start nothing; one that already exists is left alone;
#   - afterwards its units (and lxcfs, which it pulls in) are disabled, so a systemd boot does not start them.
set -eu
[ "$(id -u)" = 0 ] || { echo "deps-bench: must run as root (apt-get install)" >&2; exit 2; }

units="incus.service incus.socket incus-startup.service incus-user.service incus-user.socket lxcfs.service"
list=/etc/apt/sources.list.d/bookworm-backports.sources
if ! [ -e "$list" ]; then
	# deb822 (sources.list(5), "DEB822-STYLE FORMAT"); the archive and keyring the main suite uses.
	cat >"$list" <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	echo "deps-bench: added $list"
fi

if dpkg -s incus-base >/dev/null 2>&1 && dpkg -s incus-client >/dev/null 2>&1; then
	echo "deps-bench: incus $(dpkg-query -W -f '${Version}' incus-base) already installed"
else
	guard=
	if ! [ -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\n# make deps-bench: no service starts during the install\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 0755 /usr/sbin/policy-rc.d
		guard=/usr/sbin/policy-rc.d
		trap 'rm -f "$guard"' EXIT INT TERM
	else
		rc=0
		/usr/sbin/policy-rc.d incus start >/dev/null 2>&1 || rc=$?
		[ "$rc" = 101 ] || {
			echo "deps-bench: /usr/sbin/policy-rc.d exists and does not refuse starts (exit $rc, not 101); not installing" >&2
			exit 1
		}
	fi
	apt-get update -qq
	# Containers only: incus-base (the daemon) and incus-client, named with /bookworm-backports so only
	# they (and the dependencies bookworm lacks: libcowsql0, libraft0) come from backports. NOT
	# `-t bookworm-backports` and NOT the `incus` metapackage: the first upgrades every installed
	# dependency that backports carries (btrfs-progs, qemu-system-x86 7.2 -> 10.0: the proving ground's and
	# the vmm's qemu), the second depends on qemu-system-x86 >= 8.0 for Incus VMs, which we do not measure.
	# btrfs-progs: the storage driver both sides are measured on; squashfs-tools: the split image's rootfs.
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq incus-base/bookworm-backports \
		incus-client/bookworm-backports btrfs-progs squashfs-tools
fi

if command -v systemctl >/dev/null; then
	for u in $units; do
		[ -n "$(systemctl list-unit-files --no-legend "$u" 2>/dev/null)" ] || continue
		# disable works without a running systemd (it only removes the wants/ links).
		systemctl disable --quiet "$u" 2>/dev/null || true
		if systemctl is-active --quiet "$u" 2>/dev/null; then
			systemctl stop "$u" && echo "deps-bench: stopped $u (it had started)"
		fi
	done
fi
echo "deps-bench: incus $(dpkg-query -W -f '${Version}' incus-base), not started here; make bench-lifecycle-vm runs it in the proving ground"
