#!/bin/sh
# rootfs/busybox/build.sh [OUTDIR] — the isola busybox system-container image,
# offline, in about a second: Debian's static busybox (/bin/busybox from the
# busybox-static package), one link per applet, busybox init with the inittab
# and scripts under files/, and the Incus-style metadata (docs/images.md).
#
# Writes OUTDIR/busybox.tar.gz (unified), busybox.meta.tar.gz +
# busybox.squashfs (split) and busybox.fingerprints. OUTDIR defaults to
# build/images. Every file in the image is root's (ISOLA_ALL_ROOT), so a
# non-root user can build it too.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=rootfs/lib.sh
. "$here/../lib.sh"

outdir=${1:-build/images}
busybox=${ISOLA_BUSYBOX:-/bin/busybox}
ISOLA_ALL_ROOT=1
export ISOLA_ALL_ROOT

[ -x "$busybox" ] || die "$busybox: not found (Debian package busybox-static)"
# A dynamic busybox would need the build host's libc inside the image.
if ldd "$busybox" >/dev/null 2>&1; then
	die "$busybox is dynamically linked; install busybox-static (not busybox)"
fi

mkdir -p "$outdir"
stage=$(mktemp -d "$outdir/.busybox.stage.XXXXXX")
PACK_TMP=
cleanup() { rm -rf "$stage" ${PACK_TMP:+"$PACK_TMP"}; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

root=$stage/rootfs
umask 022
for d in bin sbin usr/bin usr/sbin usr/share etc/init.d dev proc sys run tmp \
	var/log root home mnt; do
	mkdir -p "$root/$d"
done
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"

cp "$busybox" "$root/bin/busybox"
chmod 0755 "$root/bin/busybox"
# One absolute link per applet at the path busybox itself names for it
# (sbin/init, bin/sh, sbin/udhcpc, ...). perl (perl-base is Essential in
# Debian) makes the ~270 links in one process instead of ~800 forks.
"$busybox" --list-full | perl -e '
	my $root = shift;
	while (my $a = <STDIN>) {
		chomp $a;
		next if $a eq "bin/busybox";
		symlink("/bin/busybox", "$root/$a") or die "symlink $root/$a: $!\n";
	}' "$root"

# Configuration and boot scripts, with explicit modes (a checkout's modes
# follow the umask of whoever cloned it).
(cd "$here/files" && find . -type f) | while read -r f; do
	mkdir -p "$root/$(dirname "$f")"
	cp "$here/files/$f" "$root/$f"
	chmod 0644 "$root/$f"
done
chmod 0755 "$root/etc/init.d/rcS" "$root/etc/init.d/rcK" "$root/etc/init.d/console" \
	"$root/usr/share/udhcpc/default.script"
chmod 0600 "$root/etc/shadow"

mkdir -p "$stage/templates"
cp "$here/../templates/hostname.tpl" "$here/../templates/hosts.tpl" "$stage/templates/"
chmod 0644 "$stage/templates/"*

epoch=$(image_epoch)
bbver=$("$busybox" | sed -n '1s/^BusyBox v\([^ ]*\).*/\1/p')
cat >"$stage/metadata.yaml" <<YAML
architecture: x86_64
creation_date: $epoch
properties:
  os: busybox
  release: "$bbver"
  variant: default
  architecture: amd64
  description: "BusyBox $bbver (isola system container, busybox init)"
  isola.stop_signal: SIGUSR2
  isola.ready: file:/run/isola-booted
$(yaml_templates hostname hosts)
YAML
chmod 0644 "$stage/metadata.yaml"

# Pin every mtime so the same inputs give the same bytes (SOURCE_DATE_EPOCH).
find "$stage" -exec touch -h -d "@$epoch" {} +

pack_container busybox "$stage" "$outdir"
log "$(tr '\n' ';' <"$outdir/busybox.fingerprints")"
