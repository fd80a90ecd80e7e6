/* The virtio devices of one VM, created from the command line: virtio-blk per --disk, virtio-net per
 * --net, virtio-console (hvc0, output to --console-log), virtio-rng (--rng), virtio-vsock (--vsock). */
#pragma once
#include <stdbool.h>
#include "error.h"
#include "vmm/virtio/transport.h"

#define DEVICES_MAX_DISKS 8
#define DEVICES_MAX_NETS  4

struct devices_config {
	const char *disks[DEVICES_MAX_DISKS]; /* PATH[,ro] */
	unsigned ndisks;
	const char *nets[DEVICES_MAX_NETS]; /* tap=NAME | fd=N, then ,mac=… (net_spec.h) */
	unsigned nnets;
	const char *console_log; /* NULL: no virtio-console */
	bool rng;
	const char *vsock; /* cid=N, NULL: no virtio-vsock */
};

struct blk_dev;
struct net_dev;

struct devices {
	struct pci_device host_bridge;
	struct virtio_dev *all[DEVICES_MAX_DISKS + DEVICES_MAX_NETS + 3];
	unsigned n;
};

struct vm;
struct evloop;
int devices_create(struct devices *ds, struct vm *vm, struct evloop *ev, const struct devices_config *c,
                   isola_error *err);
void devices_destroy(struct devices *ds);

/* Back ends (virtio/blk.c, net.c, rng.c, console.c). Each allocates its virtio_dev. */
int virtio_blk_create(struct vm *vm, struct evloop *ev, const char *spec, struct virtio_dev **out, isola_error *err);
int virtio_net_create(struct vm *vm, struct evloop *ev, const char *spec, struct virtio_dev **out, isola_error *err);
int virtio_rng_create(struct vm *vm, struct evloop *ev, struct virtio_dev **out, isola_error *err);
/* virtio-vsock over vhost-vsock (virtio/vsock.c): spec is "cid=N". */
int virtio_vsock_create(struct vm *vm, struct evloop *ev, const char *spec, struct virtio_dev **out, isola_error *err);
int virtio_console_create(struct vm *vm, struct evloop *ev, const char *log_path, struct virtio_dev **out,
                          isola_error *err);
