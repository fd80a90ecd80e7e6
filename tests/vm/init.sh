#!/bin/sh
# /init of the proving ground's initramfs (run by busybox sh as PID 1). tests/vm/run builds the
# initramfs around this file, boots it and reads back what stage 2 writes into the shared checkout.
#
# Stage 1 (in the initramfs): load the few modules the boot needs, mount the host's / (virtio-9p, read
# only) under an overlay whose writes go to an ext4 scratch disk, mount the checkout read-write at its own
# path, prepare proc/sys/dev, cgroup2 with every controller, /dev/kvm; then switch_root. switch_root moves the new root onto / and
# chroots into it, which is what the kernel calls "not chrooted" (current_chrooted() follows the mount
# stack), so unshare(CLONE_NEWUSER) keeps working. A plain chroot or a pivot_root-less chroot would make
# user namespaces fail with EPERM (user_namespaces(7)).
#
# Stage 2 (PID 1 in the new root): restore the caller's cwd, PATH and environment, run CMD in the leaf
# cgroup /sys/fs/cgroup/vm-cmd with stdout on ttyS1 and stderr on ttyS2 (the host copies those ports to
# its own stdout/stderr, so the kernel console on ttyS0 never mixes in), write the exit status to the
# checkout, power off.
#
# Kernel command-line variables (the kernel hands unknown name=value words to init as environment):
#   ISOLA_VM_REPO  absolute path of the checkout (mounted read-write at the same path)
#   ISOLA_VM_DIR   the run's directory inside the checkout: env.sh (in), status (out)
#   ISOLA_VM_KVM   kvm_amd or kvm_intel or none: which module gives /dev/kvm

BB=/bin/busybox

fail() {
	echo "isola-vm init: $*" >/dev/console
	# Nothing sensible is left to do: power off so the host sees "no status" and prints the console.
	echo o >/proc/sysrq-trigger
	sleep 5
	exit 1
}

stage1() {
	export PATH=/bin
	mount -t devtmpfs dev /dev || fail "mount devtmpfs"
	mount -t proc proc /proc || fail "mount proc"
	mount -t sysfs sys /sys || fail "mount sysfs"

	# Modules, in the dependency order modprobe --show-depends gave when the initramfs was built.
	# kvm_amd nested=1: a guest of this guest (the VMM's tests) needs SVM itself (it is the default on
	# 6.1, said explicitly so a kernel with another default still nests).
	while read -r mod args; do
		name=${mod##*/}; name=${name%.ko}
		case "$name" in
		kvm-amd) [ "$ISOLA_VM_KVM" = kvm_amd ] || continue ;;
		kvm-intel) [ "$ISOLA_VM_KVM" = kvm_intel ] || continue ;;
		kvm) [ "$ISOLA_VM_KVM" = none ] && continue ;;
		esac
		insmod "$mod" $args 2>/dev/null || {
			# EEXIST (built in or already loaded) is fine; anything else is reported by the mounts below.
			grep -q "^${name//-/_} " /proc/modules || echo "isola-vm init: insmod $mod failed" >/dev/console
		}
	done </modules.load

	mkdir -p /lower /rw /newroot
	# cache=loose: the host root is a read-only view for the VM's lifetime, so caching dentries, inodes
	# and pages is safe and makes exec/import over 9p several times faster under TCG.
	mount -t 9p -o ro,trans=virtio,version=9p2000.L,cache=loose,msize=262144 hostroot /lower ||
		fail "mount the host root (9p tag hostroot)"
	# The scratch disk (ext4, made by run for this boot) holds every write: the overlay's upper layer here,
	# /tmp below. noinit_itable: no background zeroing of inode tables in a disk that lives minutes.
	mount -t ext4 -o noatime,noinit_itable /dev/vda /rw || fail "mount the scratch disk /dev/vda"
	mkdir -p /rw/upper /rw/work /rw/tmp
	chmod 1777 /rw/tmp
	# The whole host tree is the lower layer; every write lands on the scratch disk and vanishes with it.
	mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot ||
		fail "mount the overlay root"

	[ -d "/newroot$ISOLA_VM_REPO" ] || fail "checkout $ISOLA_VM_REPO not visible in the host root"

	for d in proc sys dev; do mount --move /$d /newroot/$d || fail "move /$d"; done
	mount -t tmpfs -o mode=0755,nosuid,nodev run /newroot/run || fail "mount /run"
	# /tmp on ext4, not tmpfs: idmapped mounts work there (tmpfs gained them only in 6.3), and it does not
	# eat guest RAM.
	mount --bind /rw/tmp /newroot/tmp || fail "bind the scratch disk's tmp on /tmp"
	# The checkout, read-write, at the same path: build outputs and logs come back to the host. Mounted
	# after /run and /tmp so a checkout under either (a CI clone in /tmp) is not hidden by them.
	# cache=mmap: no client-side caching of data (the host must see every write) but mmap works.
	mkdir -p "/newroot$ISOLA_VM_REPO"
	mount -t 9p -o trans=virtio,version=9p2000.L,cache=mmap,msize=262144 repo "/newroot$ISOLA_VM_REPO" ||
		fail "mount the checkout (9p tag repo) on $ISOLA_VM_REPO"
	mkdir -p /newroot/dev/pts /newroot/dev/shm /newroot/dev/mqueue
	mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts /newroot/dev/pts || fail "mount devpts"
	ln -sf pts/ptmx /newroot/dev/ptmx 2>/dev/null
	# Static nodes for modules that provide a device (modules.devname: "module name c<major>:<minor>"), as
	# kmod static-nodes + systemd do on a host: opening one makes the kernel request_module() it through
	# the host's modprobe. Modes as Debian's udev rules leave them (fuse and tun usable by anyone).
	devname="/newroot/lib/modules/$(uname -r)/modules.devname"
	[ -r "$devname" ] && while read -r _mod node dev; do
		case "$_mod" in '#'*|'') continue ;; esac
		type=${dev%%[0-9]*}; majmin=${dev#"$type"}    # "c10:229"
		[ -e "/newroot/dev/$node" ] && continue
		case "$node" in */*) mkdir -p "/newroot/dev/${node%/*}" ;; esac
		case "$node" in fuse|net/tun) mode=0666 ;; *) mode=0600 ;; esac
		mknod -m $mode "/newroot/dev/$node" "$type" "${majmin%:*}" "${majmin#*:}" 2>/dev/null
	done <"$devname"
	mount -t tmpfs -o mode=1777,nosuid,nodev shm /newroot/dev/shm || fail "mount /dev/shm"
	mount -t mqueue mqueue /newroot/dev/mqueue 2>/dev/null

	# cgroup v2 alone at /sys/fs/cgroup (nothing mounts v1 here), every controller the kernel offers
	# enabled for the children of the root. The root cgroup is exempt from the "no internal processes"
	# rule (cgroups(7), cgroup-v2.rst "No Internal Process Constraint"), so PID 1 may stay there while CMD
	# runs in the leaf /vm-cmd and the tests create their own cgroups beside it with every controller.
	mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 /newroot/sys/fs/cgroup ||
		mount -t cgroup2 cgroup2 /newroot/sys/fs/cgroup || fail "mount cgroup2"
	cg=/newroot/sys/fs/cgroup
	for c in $(cat $cg/cgroup.controllers); do
		echo "+$c" >$cg/cgroup.subtree_control || fail "enable cgroup controller $c"
	done
	mkdir -p $cg/vm-cmd || fail "create cgroup vm-cmd"

	hostname isola-vm
	ip link set lo up || fail "loopback up"

	# Stage 2 runs from the new root's /run, so it depends on nothing in the host root but the kernel.
	mkdir -p /newroot/run/isola-vm
	cp $BB /init /newroot/run/isola-vm/ || fail "copy stage 2"
	exec switch_root /newroot /run/isola-vm/busybox sh /run/isola-vm/init stage2
	fail "switch_root"
}

stage2() {
	BB=/run/isola-vm/busybox
	dir="$ISOLA_VM_REPO/$ISOLA_VM_DIR"
	[ -r "$dir/env.sh" ] || fail "no $dir/env.sh"
	for t in /dev/ttyS1 /dev/ttyS2; do
		# raw: no \n -> \r\n on the way out (termios(3) ONLCR), bytes reach the host unchanged.
		$BB stty -F $t raw -echo 2>/dev/null || fail "stty $t"
	done
	# A subshell: the caller's environment replaces init's (env -i), then cwd, the cgroup leaf, exec.
	# "echo 0 > cgroup.procs" moves the writing process itself (cgroup-v2.rst, cgroup.procs).
	# PID 1 (this shell) waits with waitpid(-1), so it also reaps orphans CMD leaves behind.
	$BB env -i $BB sh -c '
		. "$1/env.sh" || exit 125
		echo 0 >/sys/fs/cgroup/vm-cmd/cgroup.procs || exit 125
		cd "$ISOLA_VM_CWD" || { echo "tests/vm/run: cwd $ISOLA_VM_CWD not visible in the VM" >&2; exit 125; }
		unset ISOLA_VM_CWD
		command -v "$1" >/dev/null || { echo "tests/vm/run: $1: command not found" >&2; exit 127; }
		exec "$@"
	' sh "$dir" "$@" </dev/null >/dev/ttyS1 2>/dev/ttyS2
	rc=$?
	echo "$rc" >"$dir/status.tmp" && $BB mv "$dir/status.tmp" "$dir/status"
	$BB sync
	# sysrq o: immediate power off, the ACPI path, no dependence on any init system.
	echo o >/proc/sysrq-trigger
	$BB sleep 10
}

if [ "$1" = stage2 ]; then
	shift
	stage2 "$@"
else
	stage1
fi
