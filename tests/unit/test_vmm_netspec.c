/* isola-vmm's --net argument (vmm/virtio/net_spec.h): tap/fd forms, the mac= option, and every malformed or
 * unusable MAC refused with a message that says which rule it broke. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "vmm/virtio/net_spec.h"

static void test_forms(void **s)
{
	struct net_spec ns;
	isola_error e;
	assert_int_equal(net_spec_parse("tap=vmtap0", &ns, &e), 0);
	assert_string_equal(ns.tap, "vmtap0");
	assert_int_equal(ns.fd, -1);
	assert_false(ns.has_mac);
	assert_int_equal(net_spec_parse("fd=3", &ns, &e), 0);
	assert_int_equal(ns.fd, 3);
	assert_string_equal(ns.tap, "");
	assert_int_equal(net_spec_parse("fd=17,mac=02:00:0a:Fe:00:07", &ns, &e), 0);
	assert_int_equal(ns.fd, 17);
	assert_true(ns.has_mac);
	const uint8_t want[6] = {0x02, 0x00, 0x0a, 0xfe, 0x00, 0x07};
	assert_memory_equal(ns.mac, want, 6);
	assert_int_equal(net_spec_parse("tap=t,mac=52:54:00:12:34:56", &ns, &e), 0);
	assert_string_equal(ns.tap, "t");
	assert_int_equal(ns.mac[5], 0x56);
}

#define REFUSED(spec, words)                                                                                           \
	do {                                                                                                           \
		isola_error e_ = {0};                                                                                  \
		struct net_spec ns_;                                                                                   \
		assert_int_equal(net_spec_parse((spec), &ns_, &e_), -1);                                               \
		if (!strstr(e_.msg, (words)))                                                                          \
			fail_msg("%s: error \"%s\" does not say \"%s\"", (spec), e_.msg, (words));                     \
	} while (0)

static void test_bad_specs(void **s)
{
	REFUSED("", "want tap=NAME or fd=N");
	REFUSED("tap=", "want tap=NAME or fd=N");
	REFUSED("fd=", "want tap=NAME or fd=N");
	REFUSED("vde=/tmp/x", "want tap=NAME or fd=N");
	REFUSED("tap=abcdefghijklmnop", "longer than 15");
	REFUSED("fd=2", "not an inherited descriptor");
	REFUSED("fd=x3", "not an inherited descriptor");
	REFUSED("fd=3x", "not an inherited descriptor");
	REFUSED("fd=99999999999999999999", "not a descriptor number");
	REFUSED("fd=3,", "unknown option");
	REFUSED("fd=3,mtu=9000", "unknown option 'mtu=9000'");
	REFUSED("fd=3,mac=02:00:00:00:00:01,mac=02:00:00:00:00:02", "given twice");
}

static void test_bad_macs(void **s)
{
	/* malformed */
	REFUSED("fd=3,mac=", "unknown option");
	REFUSED("fd=3,mac=02:00:00:00:00", "six hex pairs");
	REFUSED("fd=3,mac=02:00:00:00:00:0", "six hex pairs");
	REFUSED("fd=3,mac=02:00:00:00:00:001", "six hex pairs");
	REFUSED("fd=3,mac=02-00-00-00-00-01", "six hex pairs");
	REFUSED("fd=3,mac=02:00:00:00:00:g1", "six hex pairs");
	REFUSED("fd=3,mac=020000000001", "six hex pairs");
	REFUSED("fd=3,mac= 2:00:00:00:00:01", "six hex pairs");
	REFUSED("fd=3,mac=0x:00:00:00:00:01", "six hex pairs");
	/* multicast (I/G bit), broadcast, all-zero */
	REFUSED("fd=3,mac=01:00:5e:00:00:01", "multicast");
	REFUSED("tap=t,mac=33:33:00:00:00:01", "multicast");
	REFUSED("fd=3,mac=ff:ff:ff:ff:ff:ff", "multicast");
	REFUSED("fd=3,mac=00:00:00:00:00:00", "all-zero");
	/* the direct parser too, and nothing is half-written on refusal paths that matter to the caller */
	uint8_t mac[6];
	isola_error e;
	assert_int_equal(net_mac_parse("0A:1b:2C:3d:4E:5f", mac, &e), 0);
	assert_int_equal(mac[0], 0x0a);
	assert_int_equal(mac[5], 0x5f);
	assert_int_equal(net_mac_parse("0b:1b:2c:3d:4e:5f", mac, &e), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_forms),
	    cmocka_unit_test(test_bad_specs),
	    cmocka_unit_test(test_bad_macs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
