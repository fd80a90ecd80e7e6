#include "vmm/devices.h"
#include <stdlib.h>
#include "vmm/vm.h"

int devices_create(struct devices *ds, struct vm *vm, struct evloop *ev, const struct devices_config *c,
                   isola_error *err)
{
	/* Slot 0: a host bridge, which Linux's conf1 sanity check looks for (arch/x86/pci/direct.c). Red Hat's
	 * generic host bridge id (1b36:0008) has no quirks attached in Linux. */
	pci_device_init(&ds->host_bridge, 0x1b36, 0x0008, 0x060000, 0, 0x1af4, 0x1100);
	if (pci_bus_add(&vm->pci, &ds->host_bridge, err) < 0)
		return -1;
	struct virtio_dev *d;
	for (unsigned i = 0; i < c->ndisks; i++) {
		if (virtio_blk_create(vm, ev, c->disks[i], &d, err) < 0)
			return isola_err_wrap(err, "--disk %s", c->disks[i]);
		ds->all[ds->n++] = d;
	}
	for (unsigned i = 0; i < c->nnets; i++) {
		if (virtio_net_create(vm, ev, c->nets[i], &d, err) < 0)
			return isola_err_wrap(err, "--net %s", c->nets[i]);
		ds->all[ds->n++] = d;
	}
	if (c->console_log) {
		if (virtio_console_create(vm, ev, c->console_log, &d, err) < 0)
			return isola_err_wrap(err, "--console-log %s", c->console_log);
		ds->all[ds->n++] = d;
	}
	if (c->rng) {
		if (virtio_rng_create(vm, ev, &d, err) < 0)
			return isola_err_wrap(err, "--rng");
		ds->all[ds->n++] = d;
	}
	if (c->vsock) {
		if (virtio_vsock_create(vm, ev, c->vsock, &d, err) < 0)
			return isola_err_wrap(err, "--vsock %s", c->vsock);
		ds->all[ds->n++] = d;
	}
	for (unsigned i = 0; i < ds->n; i++)
		if (virtio_dev_attach(ds->all[i], err) < 0)
			return isola_err_wrap(err, "%s", ds->all[i]->name);
	return 0;
}

void devices_destroy(struct devices *ds)
{
	for (unsigned i = 0; i < ds->n; i++) {
		virtio_dev_destroy(ds->all[i]);
		free(ds->all[i]->priv);
		free(ds->all[i]);
	}
	ds->n = 0;
}
