/* The interfaces of a network namespace as Incus's state.network object: per interface its addresses
 * (family/address/netmask/scope), hwaddr, mtu, state, type and counters. The manager builds it for a
 * container from the host, the guest agent for a VM from inside: one shape, one builder. */
#pragma once
#include <jansson.h>

/* The calling thread's network namespace. Never NULL (an empty object when getifaddrs fails). */
json_t *netstate_interfaces(void);
/* The namespace behind nsfd (an open /proc/PID/ns/net): the calling thread joins it with setns(2) for the
 * getifaddrs(3) dump and returns to its own, no child process needed. NULL when it cannot join. */
json_t *netstate_interfaces_in(int nsfd);
