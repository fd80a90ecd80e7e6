#!/bin/sh
# Build the busybox test initramfs for isola-vmm: busybox-static, /init (vmm/guest/init) and the virtio
# modules of the installed linux-image-amd64 (the stock kernel has virtio-pci/blk/net as modules).
# usage: mkinitramfs.sh OUT.cpio KERNEL_RELEASE [VSOCK_HELPER]
set -eu
out=$1
kver=$2
vsock_helper=${3:-}
here=$(dirname "$0")
mods=/lib/modules/$kver
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/proc" "$tmp/sys" "$tmp/dev" "$tmp/tmp" "$tmp/lib/modules"
cp /bin/busybox "$tmp/bin/busybox"
cp "$here/init" "$tmp/init"
chmod 0755 "$tmp/init"
# The static vsock test helper (vmm/guest/vsock-helper.c) for isola.test=vsock-*.
[ -z "$vsock_helper" ] || install -m 0755 "$vsock_helper" "$tmp/bin/vsock-helper"
# Dependency order from modules.dep (each module after what it needs).
order=""
add() {
	local dep path d
	dep=$(grep "^kernel/.*/$1.ko:" "$mods/modules.dep" || true)
	[ -n "$dep" ] || return 0
	path=${dep%%:*}
	for d in ${dep#*:}; do add "$(basename "$d" .ko)"; done
	case " $order " in *" $path "*) ;; *) order="$order $path" ;; esac
}
# isofs: the NoCloud seed disk test (isola.test=seed)
for m in virtio_pci virtio_blk virtio_net virtio_console virtio-rng button evdev isofs; do add "$m"; done
for p in $order; do
	cp "$mods/$p" "$tmp/lib/modules/$(basename "$p")"
	basename "$p" >> "$tmp/lib/modules/load.order"
done
# The vsock tests (isola.test=vsock-*): vsock and its virtio transport, loaded after the rest (their
# virtio dependencies are already in; add() only appends what is new).
before=$order
add vmw_vsock_virtio_transport
for p in ${order#"$before"}; do
	cp "$mods/$p" "$tmp/lib/modules/$(basename "$p")"
	basename "$p" >> "$tmp/lib/modules/load.order"
done
(cd "$tmp" && find . | sort | cpio -o -H newc --quiet -R 0:0) > "$out.tmp"
mv "$out.tmp" "$out"
