/* The --net argument: `tap=NAME[,mac=XX:XX:XX:XX:XX:XX]` or `fd=N[,mac=…]`. Parsed apart from the device so
 * it is unit-tested without KVM or a tap. The MAC becomes the virtio-net config MAC (virtio 1.2 §5.1.4),
 * which is what netd's DHCP reservation for the instance matches. */
#pragma once
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include "error.h"

struct net_spec {
	char tap[IFNAMSIZ]; /* tap=NAME, or "" */
	int fd;             /* fd=N, or -1 */
	bool has_mac;
	uint8_t mac[6];
};

/* Fill *out from spec; a clear error for anything malformed, an fd below 3, a tap name over 15 bytes, and
 * a MAC that is malformed, all-zero or multicast/broadcast (I/G bit, IEEE 802-2014 §8.2.2: a NIC cannot
 * own a group address). */
int net_spec_parse(const char *spec, struct net_spec *out, isola_error *err);
/* Parse one MAC "XX:XX:XX:XX:XX:XX" (hex, either case) and apply the rules above. */
int net_mac_parse(const char *s, uint8_t mac[6], isola_error *err);
