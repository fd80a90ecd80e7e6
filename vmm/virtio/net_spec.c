#include "vmm/virtio/net_spec.h"
#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int net_mac_parse(const char *s, uint8_t mac[6], isola_error *err)
{
	/* exactly 17 characters: six two-digit hex groups separated by ':' */
	if (strlen(s) != 17)
		return isola_err(err, 0, "mac=%s: want XX:XX:XX:XX:XX:XX (six hex pairs)", s);
	for (int i = 0; i < 6; i++) {
		int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return isola_err(err, 0, "mac=%s: want XX:XX:XX:XX:XX:XX (six hex pairs)", s);
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	if (mac[0] & 1)
		return isola_err(err, 0, "mac=%s: a multicast address (bit 0 of the first byte is set)", s);
	if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return isola_err(err, 0, "mac=%s: the all-zero address", s);
	return 0;
}

int net_spec_parse(const char *spec, struct net_spec *out, isola_error *err)
{
	memset(out, 0, sizeof *out);
	out->fd = -1;
	const char *comma = strchr(spec, ',');
	size_t head = comma ? (size_t)(comma - spec) : strlen(spec);
	if (head > 4 && !strncmp(spec, "tap=", 4)) {
		if (head - 4 >= IFNAMSIZ)
			return isola_err(err, 0, "tap name %.*s is longer than %d", (int)(head - 4), spec + 4,
			                 IFNAMSIZ - 1);
		memcpy(out->tap, spec + 4, head - 4);
	} else if (head > 3 && !strncmp(spec, "fd=", 3)) {
		char num[16] = "";
		if (head - 3 >= sizeof num)
			return isola_err(err, 0, "fd=%.*s is not a descriptor number", (int)(head - 3), spec + 3);
		memcpy(num, spec + 3, head - 3);
		char *end;
		long v = strtol(num, &end, 10);
		if (*end || end == num || v < 3 || v > 65535)
			return isola_err(err, 0, "fd=%s is not an inherited descriptor number (3..65535)", num);
		out->fd = (int)v;
	} else {
		return isola_err(err, 0, "%s: want tap=NAME or fd=N, then optionally ,mac=XX:XX:XX:XX:XX:XX", spec);
	}
	/* options after the first comma */
	while (comma) {
		const char *opt = comma + 1;
		comma = strchr(opt, ',');
		size_t len = comma ? (size_t)(comma - opt) : strlen(opt);
		if (len > 4 && !strncmp(opt, "mac=", 4) && len - 4 < 32) {
			if (out->has_mac)
				return isola_err(err, 0, "%s: mac= given twice", spec);
			char m[32];
			memcpy(m, opt + 4, len - 4);
			m[len - 4] = 0;
			if (net_mac_parse(m, out->mac, err) < 0)
				return -1;
			out->has_mac = true;
		} else {
			return isola_err(err, 0, "%s: unknown option '%.*s' (want mac=XX:XX:XX:XX:XX:XX)", spec,
			                 (int)len, opt);
		}
	}
	return 0;
}
