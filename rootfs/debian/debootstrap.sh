#!/bin/sh
# debootstrap.sh base|vm — print the path of a cached, pristine debootstrap of
# Debian 12 (tar, numeric owners, xattrs), building it first if it is missing.
#
# The cache lives OUTSIDE the checkout (default /var/cache/isola, override with
# ISOLA_IMAGE_CACHE) and is keyed by sha256(suite ‖ package list ‖ this
# script), so a fresh clone (CI) reuses it and any change to what would be
# installed rebuilds it. Everything isola-specific is applied afterwards by
# build.sh, which is cheap; keep this script stable, editing it costs minutes.
#
# The mirror is the Debian archive configured for apt on this machine
# (/etc/apt/sources.list{,.d/*.sources}); override with ISOLA_DEBIAN_MIRROR.
set -eu

variant=${1:?usage: debootstrap.sh base|vm}
here=$(cd "$(dirname "$0")" && pwd)
list=$here/packages.$variant
[ -f "$list" ] || { echo "debootstrap.sh: no package list $list" >&2; exit 2; }
suite=${ISOLA_DEBIAN_SUITE:-bookworm}
cache=${ISOLA_IMAGE_CACHE:-/var/cache/isola}

find_mirror() {
	# deb822 "URIs:" lines first, then one-line "deb URI suite ..." entries;
	# take the first one whose path ends in /debian (not -security).
	for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list; do
		[ -r "$f" ] || continue
		awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }
		     /^deb[ \t]/ { for (i = 2; i <= NF; i++) if ($i !~ /^\[/) { print $i; break } }' "$f"
	done | grep -E '/debian/?$' | head -n1
}
mirror=${ISOLA_DEBIAN_MIRROR:-$(find_mirror)}
[ -n "$mirror" ] || { echo "debootstrap.sh: no Debian mirror in apt sources; set ISOLA_DEBIAN_MIRROR" >&2; exit 2; }

pkgs=$(grep -v '^[[:space:]]*#' "$list" | tr -s ' \t\n' ',' | sed 's/^,//; s/,$//')
key=$({ echo "$suite"; echo "$pkgs"; cat "$0"; } | sha256sum | cut -c1-16)
out=$cache/debootstrap-$suite-$variant-$key.tar
if [ -f "$out" ]; then
	echo "$out"
	exit 0
fi

mkdir -p "$cache/debs"
tmp=$(mktemp -d "$cache/.debootstrap-$variant.XXXXXX")
cleanup() {
	# debootstrap mounts proc/sys (and sometimes dev/pts) inside the target;
	# never leave them behind, deepest first, even when it failed half-way.
	if [ -d "$tmp/root" ]; then
		findmnt -rn -o TARGET | grep -F "$tmp/root" | sort -r | while read -r m; do
			umount -l "$m" 2>/dev/null || true
		done
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "debootstrap.sh: building $out from $mirror (this takes minutes)" >&2
debootstrap --variant=minbase --include="$pkgs" --cache-dir="$cache/debs" \
	--merged-usr "$suite" "$tmp/root" "$mirror" >&2
# The .debs are kept in $cache/debs for the next variant; not in the image.
find "$tmp/root/var/cache/apt/archives" -name '*.deb' -delete
tar --numeric-owner --xattrs --xattrs-include='*' --acls -C "$tmp/root" \
	-cf "$tmp/out.tar" .
mv "$tmp/out.tar" "$out"
echo "$out"
