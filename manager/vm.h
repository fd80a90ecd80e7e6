/* Virtual machines through isola-vmm (its CLI: --kernel --initrd --disk --net fd=N --control PATH).
 * Internal to manager/, called with the instance lock held. The disk is the instance volume's root.img
 * (a reflinked copy of the image's raw disk); the network is a tap fd from isola-netd handed to the VMM;
 * the console is the VMM's serial port on $ISOLA_DIR/instances/<name>/console.sock. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>
#include <jansson.h>
#include "manager.h"

bool vm_running(struct manager *m, const struct instance_rec *r, pid_t *pid);
/* fg_lock non-NULL: run in the foreground (systemd) and close *fg_lock once started. */
int vm_start(struct manager *m, const struct instance_rec *r, json_t *config, json_t *devices, int *fg_lock,
             isola_error *err);
int vm_stop(struct manager *m, const struct instance_rec *r, bool force, int timeout_s, isola_error *err);
int vm_freeze(struct manager *m, const struct instance_rec *r, bool freeze, isola_error *err);
void vm_state(struct manager *m, const struct instance_rec *r, json_t *state);

/* The guest agent (docs/agent.md): "vsock:CID:PORT" of the VM's isola-agent, from volatile.vsock_id. */
int vm_agent_address(const struct instance_rec *r, char *out, size_t len, isola_error *err);
