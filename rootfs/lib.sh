# shellcheck shell=sh
# Shared by the image builders (rootfs/*/build.sh); sourced, not run.
# The format these functions write is documented in docs/images.md.

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Every timestamp an image carries (creation_date, squashfs and ext4 times,
# busybox file mtimes) comes from SOURCE_DATE_EPOCH when it is set, so a build
# can be repeated byte for byte (reproducible-builds.org/specs/source-date-epoch).
image_epoch() { echo "${SOURCE_DATE_EPOCH:-$(date +%s)}"; }

# tar_c ARCHIVE DIR ENTRY... — an uncompressed tar of ENTRY... relative to DIR.
# Keeps what a rootfs needs: numeric uid/gid only (the build host's user names
# mean nothing inside the image) and xattrs (security.capability file caps,
# SELinux labels, user.*); pax headers are what carry them. POSIX ACLs are
# left out on purpose: squashfs cannot store them (only user/trusted/security
# xattrs), and the unified and split forms must hold the same tree; the one
# ACL Debian has (/var/log/journal) is re-applied by systemd-tmpfiles at boot.
# Sorted names and no atime/ctime make the same tree give the same bytes.
# ISOLA_ALL_ROOT=1 records every entry as 0:0 (images whose files are all
# root's by design, buildable by a non-root user).
tar_c() {
	_out=$1 _dir=$2
	shift 2
	if [ "${ISOLA_ALL_ROOT:-0}" = 1 ]; then
		set -- --owner=0 --group=0 "$@"
	fi
	tar --create --file="$_out" --directory="$_dir" --format=posix \
		--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
		--sort=name --numeric-owner --no-acls --xattrs --xattrs-include='*' \
		--xattrs-exclude='system.posix_acl_*' "$@"
}

# gz FILE — gzip in place without a name or time in the header (-n), so the
# compressed bytes depend only on the tar.
gz() { gzip -n -6 -f "$1"; }

# sha256 FILE... — hex SHA-256 of the concatenation of FILE... (Incus: the
# fingerprint of a unified image is that of its one file, of a split image
# that of metadata tarball ‖ rootfs).
sha256() { cat "$@" | sha256sum | cut -d' ' -f1; }

# write_fingerprints OUTDIR NAME UNIFIED|- META ROOTFS — NAME.fingerprints,
# one "<kind> <sha256> <file>..." line per form.
write_fingerprints() {
	_d=$1 _n=$2 _u=$3 _m=$4 _r=$5
	{
		[ "$_u" = - ] || echo "unified $(sha256 "$_d/$_u") $_u"
		echo "split $(sha256 "$_d/$_m" "$_d/$_r") $_m $_r"
	} > "$_d/$_n.fingerprints"
}

# stage_check STAGE — a stage is the unified layout: metadata.yaml, rootfs/,
# optional templates/. Refuse to pack something that is not.
stage_check() {
	[ -f "$1/metadata.yaml" ] || die "$1: no metadata.yaml"
	[ -d "$1/rootfs" ] || die "$1: no rootfs/"
	[ -e "$1/rootfs/sbin/init" ] || [ -L "$1/rootfs/sbin/init" ] || die "$1: rootfs has no /sbin/init"
}

# stage_meta_entries STAGE — the entries of the metadata tarball.
stage_meta_entries() {
	echo metadata.yaml
	[ ! -d "$1/templates" ] || echo templates
}

# pack_container NAME STAGE OUTDIR — OUTDIR/NAME.tar.gz (unified),
# NAME.meta.tar.gz + NAME.squashfs (split) and NAME.fingerprints. Everything is
# written under a temporary name and renamed at the end: a failed or
# interrupted build never leaves a half-written image behind a valid name.
pack_container() {
	_name=$1 _stage=$2 _outdir=$3
	stage_check "$_stage"
	_epoch=$(image_epoch)
	_tmp=$(mktemp -d "$_outdir/.$_name.pack.XXXXXX")
	# shellcheck disable=SC2034
	PACK_TMP=$_tmp # removed by the caller's EXIT trap if we fail
	# shellcheck disable=SC2046
	tar_c "$_tmp/$_name.tar" "$_stage" $(stage_meta_entries "$_stage") rootfs
	gz "$_tmp/$_name.tar"
	# shellcheck disable=SC2046
	tar_c "$_tmp/$_name.meta.tar" "$_stage" $(stage_meta_entries "$_stage")
	gz "$_tmp/$_name.meta.tar"
	# mksquashfs keeps uid/gid and xattrs by default (-xattrs); -mkfs-time
	# pins the superblock time; file mtimes are the tree's own.
	set -- -noappend -no-progress -quiet -processors "${ISOLA_BUILD_CPUS:-2}" \
		-comp "${ISOLA_SQUASHFS_COMP:-gzip}" -xattrs -mkfs-time "$_epoch"
	if [ "${ISOLA_ALL_ROOT:-0}" = 1 ]; then set -- "$@" -all-root; fi
	# (mksquashfs refuses SOURCE_DATE_EPOCH together with -mkfs-time.)
	env -u SOURCE_DATE_EPOCH mksquashfs "$_stage/rootfs" "$_tmp/$_name.squashfs" "$@" >&2
	write_fingerprints "$_tmp" "$_name" "$_name.tar.gz" "$_name.meta.tar.gz" "$_name.squashfs"
	for _f in "$_name.tar.gz" "$_name.meta.tar.gz" "$_name.squashfs" "$_name.fingerprints"; do
		mv -f "$_tmp/$_f" "$_outdir/$_f"
	done
	rmdir "$_tmp"
}

# pack_vm NAME STAGE OUTDIR SIZE — OUTDIR/NAME.img (a raw disk that is one
# whole-disk ext4 filesystem, label isola-root, no partition table: the guest
# sees it as /dev/vda), NAME.meta.tar.gz, the kernel and initramfs from the
# image's /boot exported as NAME.vmlinuz and NAME.initrd for direct kernel
# boot, and NAME.fingerprints (split only). mke2fs -d fills the filesystem
# from the directory as an ordinary file: no loop device, no mount
# (mke2fs(8) -d root-directory).
pack_vm() {
	_name=$1 _stage=$2 _outdir=$3 _size=$4
	stage_check "$_stage"
	_epoch=$(image_epoch)
	# Exactly one kernel: the VMM boots the one exported here, and the
	# guest's /boot must hold the same one for the next kernel update.
	set -- "$_stage"/rootfs/boot/vmlinuz-*
	if [ $# != 1 ] || [ ! -f "$1" ]; then
		die "$_stage: want exactly one /boot/vmlinuz-*, found: $*"
	fi
	_kernel=$1
	_initrd=$_stage/rootfs/boot/initrd.img-${_kernel##*/vmlinuz-}
	[ -f "$_initrd" ] || die "$_stage: no initramfs $_initrd for $_kernel"
	_tmp=$(mktemp -d "$_outdir/.$_name.pack.XXXXXX")
	# shellcheck disable=SC2034
	PACK_TMP=$_tmp # removed by the caller's EXIT trap if we fail
	# shellcheck disable=SC2046
	tar_c "$_tmp/$_name.meta.tar" "$_stage" $(stage_meta_entries "$_stage")
	gz "$_tmp/$_name.meta.tar"
	# A fixed UUID and hash seed derived from the name, and a fake clock,
	# make the same tree give the same disk bytes.
	_uuid=$(printf 'isola-%s' "$_name" | sha256sum |
		sed -E 's/^(.{8})(.{4}).(.{3}).(.{3})(.{12}).*/\1-\2-4\3-8\4-\5/')
	truncate -s "$_size" "$_tmp/$_name.img"
	E2FSPROGS_FAKE_TIME=$_epoch mkfs.ext4 -q -F -L isola-root -U "$_uuid" \
		-E "hash_seed=$_uuid,root_owner=0:0" -d "$_stage/rootfs" "$_tmp/$_name.img"
	cp "$_kernel" "$_tmp/$_name.vmlinuz"
	cp "$_initrd" "$_tmp/$_name.initrd"
	write_fingerprints "$_tmp" "$_name" - "$_name.meta.tar.gz" "$_name.img"
	for _f in "$_name.img" "$_name.meta.tar.gz" "$_name.vmlinuz" "$_name.initrd" "$_name.fingerprints"; do
		mv -f "$_tmp/$_f" "$_outdir/$_f"
	done
	rmdir "$_tmp"
}

# yaml_templates TEMPLATE... — the metadata.yaml `templates:` block for
# /etc/<name> ← <name>.tpl, rendered by Incus semantics on create and copy.
yaml_templates() {
	echo "templates:"
	for _t in "$@"; do
		printf '  /etc/%s:\n    when:\n    - create\n    - copy\n    template: %s.tpl\n' "$_t" "$_t"
	done
}
