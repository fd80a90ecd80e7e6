# rootfs/: the image builders (docs/images.md).
#
#   make image-busybox   build/images/busybox.* only — offline, about a second;
#                        what tests depend on
#   make images          all four images: busybox and debian (containers),
#                        debian-vm (raw disk + kernel + initrd)
#
# The Debian images need root and, on the first run, Debian's archive
# (debootstrap, minutes); the debootstrap result is cached outside the
# checkout (/var/cache/isola, ISOLA_IMAGE_CACHE) keyed by package list, suite
# and script, so a fresh clone rebuilds in seconds. Each recipe writes under
# temporary names and renames at the end, so an interrupted build leaves no
# output that make would take for finished.
IMAGES_DIR := $(B)/images
ROOTFS_COMMON := rootfs/lib.sh rootfs/templates/hostname.tpl rootfs/templates/hosts.tpl
ROOTFS_BUSYBOX_SRCS := rootfs/busybox/build.sh $(shell find rootfs/busybox/files -type f 2>/dev/null)
ROOTFS_DEBIAN_SRCS := rootfs/debian/build.sh rootfs/debian/debootstrap.sh $(wildcard rootfs/debian/files/*)

IMAGE_BUSYBOX := $(addprefix $(IMAGES_DIR)/busybox.,tar.gz meta.tar.gz squashfs fingerprints)
IMAGE_DEBIAN := $(addprefix $(IMAGES_DIR)/debian.,tar.gz meta.tar.gz squashfs fingerprints)
IMAGE_DEBIAN_VM := $(addprefix $(IMAGES_DIR)/debian-vm.,img meta.tar.gz vmlinuz initrd fingerprints)

.PHONY: image-busybox image-debian image-debian-vm
image-busybox: $(IMAGE_BUSYBOX)
image-debian: $(IMAGE_DEBIAN)
image-debian-vm: $(IMAGE_DEBIAN_VM)
images: image-busybox image-debian image-debian-vm

# Grouped targets (&:, GNU make 4.3): one run of the script makes all of them.
# (wildcard: a missing busybox-static is reported by build.sh, not as "no rule".)
$(IMAGE_BUSYBOX) &: $(ROOTFS_BUSYBOX_SRCS) $(ROOTFS_COMMON) $(wildcard /bin/busybox)
	rootfs/busybox/build.sh $(IMAGES_DIR)

$(IMAGE_DEBIAN) &: $(ROOTFS_DEBIAN_SRCS) rootfs/debian/packages.base $(ROOTFS_COMMON)
	rootfs/debian/build.sh container $(IMAGES_DIR)

$(IMAGE_DEBIAN_VM) &: $(ROOTFS_DEBIAN_SRCS) rootfs/debian/packages.vm $(ROOTFS_COMMON) \
                      $(wildcard rootfs/debian/agent/*) $(B)/bin/isola-agent
	ISOLA_AGENT=$(B)/bin/isola-agent rootfs/debian/build.sh vm $(IMAGES_DIR)

# Building (debootstrap, mksquashfs, mkfs.ext4 -d, xz-compressed .debs) and
# the tests (python3-yaml parses metadata.yaml; unsquashfs; lsinitramfs).
DEPS += debootstrap squashfs-tools e2fsprogs busybox-static xz-utils python3-yaml \
        initramfs-tools-core

# The Debian VM tests (tests/integration/vmm/test_vmm_debian.py, the manager's VM module with the guest
# agent) need this image; the VM tier builds it (under a minute with the debootstrap cache warm).
check-vm: image-debian-vm
