#!/bin/sh
# rootfs/debian/build.sh container|vm [OUTDIR] — the isola Debian 12 images.
#
#   container → OUTDIR/debian.tar.gz (unified), debian.meta.tar.gz +
#               debian.squashfs (split), debian.fingerprints
#   vm        → OUTDIR/debian-vm.img (raw whole-disk ext4 = /dev/vda),
#               debian-vm.meta.tar.gz, debian-vm.vmlinuz, debian-vm.initrd,
#               debian-vm.fingerprints
#
# The slow part, debootstrap, is cached outside the checkout by
# debootstrap.sh; this script only unpacks that tree and applies the isola
# configuration (no mounts: systemctl --root edits unit links offline; the
# VM's initramfs is rebuilt chrooted), so a cached build takes seconds plus
# compression. Needs root: the
# tree holds files of many owners and device-free but setuid/setgid binaries.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=rootfs/lib.sh
. "$here/../lib.sh"

kind=${1:?usage: build.sh container|vm [OUTDIR]}
outdir=${2:-build/images}
case "$kind" in
container) name=debian list=base ;;
vm) name=debian-vm list=vm ;;
*) die "unknown kind '$kind' (want container or vm)" ;;
esac
[ "$(id -u)" = 0 ] || die "must run as root (the image keeps the ownership of every file)"

# One debootstrap at a time per cache (make -j, or two checkouts): both
# variants share the .deb download directory.
cachedir=${ISOLA_IMAGE_CACHE:-/var/cache/isola}
mkdir -p "$cachedir"
cache=$(flock "$cachedir/.lock" "$here/debootstrap.sh" "$list")

mkdir -p "$outdir"
stage=$(mktemp -d "$outdir/.$name.stage.XXXXXX")
PACK_TMP=
cleanup() { rm -rf "$stage" ${PACK_TMP:+"$PACK_TMP"}; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

root=$stage/rootfs
mkdir -m 0755 "$root"
# No ACLs (see tar_c in lib.sh); every other xattr, all owners and modes.
tar --extract --file="$cache" --directory="$root" --same-permissions \
	--numeric-owner --no-acls --xattrs --xattrs-include='*' \
	--xattrs-exclude='system.posix_acl_*'

# ---- identity: nothing of the build host, nothing that must be unique ----
# debootstrap copies the build host's hostname; the template (metadata
# templates) renders the instance's name over this default.
echo isola >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tisola\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n' \
	>"$root/etc/hosts"
# An empty machine-id: systemd generates one on first boot (machine-id(5),
# "first boot" semantics), so two instances of one image never share it.
: >"$root/etc/machine-id"
chmod 0444 "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
ln -s /etc/machine-id "$root/var/lib/dbus/machine-id"
# No ssh host keys (none is installed; never ship one if a package adds it)
# and no root password: the shadow field "!*" matches no password.
rm -f "$root"/etc/ssh/ssh_host_*
sed -i 's/^root:[^:]*:/root:!*:/' "$root/etc/shadow"
# Nothing downloaded at build time stays in the image.
find "$root/var/lib/apt/lists" -type f ! -name lock -delete
find "$root/var/cache/apt" -name '*.bin' -delete
cat >"$root/etc/apt/sources.list" <<SOURCES
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES

# ---- network: systemd-networkd (DHCP on eth0) + systemd-resolved ----
install -m 0644 "$here/files/80-isola-eth0.network" "$root/etc/systemd/network/80-isola-eth0.network"
install -m 0644 "$here/files/isola-booted.service" "$root/etc/systemd/system/isola-booted.service"
systemctl --root="$root" --quiet enable systemd-networkd.service systemd-resolved.service \
	isola-booted.service
# resolved's package points /etc/resolv.conf at its stub; insist on it.
ln -sfn ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"

# ---- kind-specific ----
epoch=$(image_epoch)
serial=$(date -u -d "@$epoch" +%Y%m%d_%H:%M)
if [ "$kind" = container ]; then
	# A container's root is handed over already mounted; the console getty
	# comes from systemd-getty-generator, which adds console-getty.service
	# when $container is set (systemd CONTAINER_INTERFACE).
	echo "# isola container: the runtime mounts the root filesystem" >"$root/etc/fstab"
	props="  isola.stop_signal: SIGRTMIN+3
  isola.ready: notify"
	desc="Debian 12 (bookworm) amd64, isola system container ($serial)"
else
	# The whole disk is one ext4 filesystem (no partition table): /dev/vda.
	printf '# isola VM: the whole virtio disk is the root filesystem\n/dev/vda\t/\text4\trw,errors=remount-ro\t0\t1\n' \
		>"$root/etc/fstab"
	# A login prompt on the serial console the VMM exposes.
	systemctl --root="$root" --quiet enable serial-getty@ttyS0.service
	set -- "$root"/boot/vmlinuz-*
	if [ $# != 1 ] || [ ! -f "$1" ]; then die "want exactly one /boot/vmlinuz-*, found: $*"; fi
	kver=${1##*/vmlinuz-}
	# Boot time (docs/images.md "VM boot time"). Debian's default initramfs
	# (MODULES=most) is 36 MB gzip, 130 MB unpacked, ~750 modules: nested, the
	# kernel spends minutes inflating it. The VMM's hardware is fixed (virtio-pci
	# disk, net, console; ext4 root), so the initramfs gets just those modules
	# (initramfs.conf(5) MODULES=list + initramfs-tools/modules), about 6 MB. The
	# setting stays in the image, so a kernel update in the guest keeps it.
	sed -i 's/^MODULES=.*/MODULES=list/' "$root/etc/initramfs-tools/initramfs.conf"
	printf '%s\n' virtio_pci virtio_blk virtio_net virtio_console ext4 \
		>>"$root/etc/initramfs-tools/modules"
	# mkinitramfs runs the image's own hooks against the image's own modules,
	# so it runs chrooted in the tree: no mounts (MODULES=list reads neither
	# /proc nor /sys), gzip -n under SOURCE_DATE_EPOCH (reproducible).
	chroot "$root" env SOURCE_DATE_EPOCH="$epoch" mkinitramfs -o "/boot/initrd.img-$kver" "$kver" 2>"$stage/mkinitramfs.log" ||
		die "mkinitramfs failed: $(cat "$stage/mkinitramfs.log")"
	rm -f "$stage/mkinitramfs.log"
	# Units a VM of ours does not need at boot: the VT getty (no VGA: the
	# console is ttyS0), the LVM-snapshot reaper (no LVM), and the apt/dpkg/
	# fstrim/e2scrub timers (a fresh instance must not start downloading or
	# scrubbing while it boots; an admin re-enables what they want).
	systemctl --root="$root" --quiet disable getty@tty1.service e2scrub_reap.service \
		apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer fstrim.timer e2scrub_all.timer
	# No DRM device and no EFI (the only pstore back end Debian loads): the
	# modprobe@ units logind and systemd-pstore want would load and verify
	# modules for nothing. Wireless and the PC speaker stay unloaded too.
	systemctl --root="$root" --quiet mask modprobe@drm.service modprobe@efi_pstore.service
	systemctl --root="$root" --quiet disable systemd-pstore.service
	install -m 0644 "$here/files/isola-vm-modprobe.conf" "$root/etc/modprobe.d/isola-vm.conf"
	# Nothing waits for network-online here; an instance without a NIC must
	# not spend networkd-wait-online's two minutes either.
	systemctl --root="$root" --quiet mask systemd-networkd-wait-online.service
	# MODULES=list: prove the initramfs can still mount /dev/vda.
	lsinitramfs "$root/boot/initrd.img-$kver" >"$stage/initrd.list"
	for m in virtio_blk virtio_pci ext4; do
		grep -q "/$m\.ko" "$stage/initrd.list" || die "initramfs lacks $m.ko"
	done
	rm -f "$stage/initrd.list"
	props="  isola.kernel: /boot/vmlinuz-$kver
  isola.initrd: /boot/initrd.img-$kver
  isola.cmdline: root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet"
	desc="Debian 12 (bookworm) amd64, isola virtual machine ($serial)"
fi

# ---- the guest agent of VMs (docs/agent.md): exec/file for the host over vsock ----
if [ "$kind" = vm ]; then
	agent=${ISOLA_AGENT:-}
	[ -n "$agent" ] && [ -x "$agent" ] || die "ISOLA_AGENT must name the isola-agent binary (make builds it)"
	install -D -s -m 0755 "$agent" "$root/usr/lib/isola/isola-agent"
	install -m 0644 "$here/agent/isola-agent.service" "$root/etc/systemd/system/isola-agent.service"
	install -D -m 0644 "$here/agent/isola-agent.conf" "$root/etc/modules-load.d/isola-agent.conf"
	systemctl --root="$root" --quiet enable isola-agent.service
fi

# With SOURCE_DATE_EPOCH, nothing in the image is newer than it (what this
# script wrote, and what debootstrap wrote at build time): the
# reproducible-builds "clamp" (reproducible-builds.org/docs/source-date-epoch).
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
	find "$root" -newermt "@$epoch" -exec touch -h -d "@$epoch" {} +
fi

mkdir -p "$stage/templates"
install -m 0644 "$here/../templates/hostname.tpl" "$here/../templates/hosts.tpl" "$stage/templates/"
cat >"$stage/metadata.yaml" <<YAML
architecture: x86_64
creation_date: $epoch
properties:
  os: Debian
  release: bookworm
  version: "12"
  variant: default
  architecture: amd64
  serial: "$serial"
  description: "$desc"
$props
$(yaml_templates hostname hosts)
YAML
chmod 0644 "$stage/metadata.yaml"

if [ "$kind" = container ]; then
	pack_container "$name" "$stage" "$outdir"
else
	pack_vm "$name" "$stage" "$outdir" "${ISOLA_VM_DISK_SIZE:-2G}"
fi
log "$(tr '\n' ';' <"$outdir/$name.fingerprints")"
