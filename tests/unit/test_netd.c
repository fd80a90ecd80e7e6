/* netd unit tests: the pure logic — CIDR parsing, overlap and the default-subnet picker, name validation,
 * MAC and host-ifname derivation, endpoints, the nft ruleset text and the dnsmasq command line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cleanup.h"
#include "netd/addr.h"
#include "netd/dnsmasq.h"
#include "netd/firewall.h"

static void test_cidr4_parse(void **state)
{
	struct cidr4 c;
	isola_error e;
	char buf[32];
	assert_int_equal(cidr4_parse_gateway("10.1.2.1/24", &c, &e), 0);
	assert_int_equal(c.addr, 0x0a010201);
	assert_int_equal(c.prefix, 24);
	assert_string_equal(cidr4_format(c, true, buf, sizeof buf), "10.1.2.1/24");
	assert_int_equal(cidr4_net(c), 0x0a010200);
	assert_int_equal(cidr4_bcast(c), 0x0a0102ff);
	assert_int_equal(cidr4_parse_gateway("192.168.7.255/30", &c, &e), -1); /* broadcast of .252/30 */
	assert_int_equal(cidr4_parse_gateway("192.168.7.254/30", &c, &e), 0);
	static const struct {
		const char *in, *word;
	} bad[] = {
	    {"10.1.2.0/24", "network or broadcast"},
	    {"10.1.2.255/24", "network or broadcast"},
	    {"10.1.2.1", "not an IPv4 CIDR"},
	    {"10.1.2.1/", "bad prefix"},
	    {"10.1.2.1/2x", "bad prefix"},
	    {"10.1.2.1/31", "out of range"},
	    {"10.1.2.1/7", "out of range"},
	    {"10.1.2/24", "not an IPv4 address"},
	    {"0.1.2.1/24", "unicast"},
	    {"127.0.0.2/8", "unicast"},
	    {"239.1.1.1/24", "unicast"},
	    {"1234567890123456/24", "not an IPv4 CIDR"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		isola_err_clear(&e);
		assert_int_equal(cidr4_parse_gateway(bad[i].in, &c, &e), -1);
		if (!strstr(e.msg, bad[i].word))
			fail_msg("%s: error \"%s\" lacks \"%s\"", bad[i].in, e.msg, bad[i].word);
	}
}

static void test_cidr4_overlap(void **state)
{
	struct cidr4 a = {0x0a000001, 8}, b = {0x0a010201, 24}, c = {0x0b000001, 24}, d = {0x0a0102fe, 30};
	assert_true(cidr4_overlap(a, b));
	assert_true(cidr4_overlap(b, a));
	assert_false(cidr4_overlap(b, c));
	assert_true(cidr4_overlap(b, d));
	struct cidr4 e = {0x0a010301, 24};
	assert_false(cidr4_overlap(b, e));
	assert_true(cidr4_contains(b, 0x0a010263));
	assert_false(cidr4_contains(b, 0x0a010363));
}

static void test_cidr4_pick(void **state)
{
	isola_error e;
	struct cidr4 p1, p2;
	assert_int_equal(cidr4_pick("isolabr0", NULL, 0, &p1, &e), 0);
	assert_int_equal(p1.prefix, 24);
	assert_int_equal(p1.addr >> 24, 10);
	assert_int_equal(p1.addr & 255, 1);
	/* deterministic for a name */
	assert_int_equal(cidr4_pick("isolabr0", NULL, 0, &p2, &e), 0);
	assert_int_equal(p1.addr, p2.addr);
	/* skips what is used, including a wider route covering the preferred slot */
	struct cidr4 used[] = {p1, {(p1.addr & 0xffff0000u) | 1, 16}};
	assert_int_equal(cidr4_pick("isolabr0", used, 2, &p2, &e), 0);
	assert_false(cidr4_overlap(p2, used[0]));
	assert_false(cidr4_overlap(p2, used[1]));
	/* a default-route-sized prefix (0) is ignored; 10.0.0.0/8 used means nothing is left */
	struct cidr4 dflt = {0, 0};
	assert_int_equal(cidr4_pick("x", &dflt, 1, &p2, &e), 0);
	struct cidr4 all = {0x0a000001, 8};
	assert_int_equal(cidr4_pick("x", &all, 1, &p2, &e), -1);
	assert_int_equal(e.errnum, ENOSPC);
}

static void test_cidr6(void **state)
{
	struct cidr6 c, d;
	isola_error e;
	char buf[64];
	assert_int_equal(cidr6_parse_gateway("fd42:1:2:3::1/64", &c, &e), 0);
	assert_string_equal(cidr6_format(&c, true, buf, sizeof buf), "fd42:1:2:3::1/64");
	assert_int_equal(cidr6_parse_gateway("2001:db8::1/64", &c, &e), -1);
	assert_non_null(strstr(e.msg, "unique local"));
	assert_int_equal(cidr6_parse_gateway("fd00::1/56", &c, &e), -1);
	assert_int_equal(cidr6_parse_gateway("fd00::/64", &c, &e), -1);
	cidr6_auto("isolabr0", &c);
	cidr6_auto("isolabr0", &d);
	assert_memory_equal(c.addr, d.addr, 16);
	assert_int_equal(c.addr[0], 0xfd);
	assert_int_equal(c.addr[15], 1);
	cidr6_auto("other", &d);
	assert_false(cidr6_overlap(&c, &d));
	uint8_t in[16];
	assert_int_equal(ip6_parse("fd42:1:2:3:aa::5", in, &e), 0);
	assert_int_equal(cidr6_parse_gateway("fd42:1:2:3::1/64", &c, &e), 0);
	assert_true(cidr6_contains(&c, in));
}

static void test_names(void **state)
{
	assert_true(netd_ifname_valid("isolabr0"));
	assert_true(netd_ifname_valid("a23456789012345"));
	static const char *bad[] = {"", "a234567890123456", "a/b", "a b", "a\tb", "a\nb", ".", "..", "a:1", "\x7f"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (netd_ifname_valid(bad[i]))
			fail_msg("ifname \"%s\" accepted", bad[i]);
	assert_true(netd_instance_valid("c1"));
	assert_true(netd_instance_valid("web-01"));
	char long63[64], long64[65];
	memset(long63, 'a', 63);
	long63[63] = 0;
	memset(long64, 'a', 64);
	long64[64] = 0;
	assert_true(netd_instance_valid(long63));
	assert_false(netd_instance_valid(long64));
	assert_false(netd_instance_valid("1c"));
	assert_false(netd_instance_valid("-c"));
	assert_false(netd_instance_valid("c_1"));
	assert_false(netd_instance_valid("c.1"));
	assert_false(netd_instance_valid(""));
}

static void test_mac_and_ifname(void **state)
{
	uint8_t a[6], b[6], c[6];
	netd_mac_derive("n1", "c1", "eth0", a);
	netd_mac_derive("n1", "c1", "eth0", b);
	netd_mac_derive("n1", "c1", "eth1", c);
	assert_memory_equal(a, b, 6);
	assert_memory_not_equal(a, c, 6);
	assert_int_equal(a[0] & 1, 0); /* unicast */
	assert_int_equal(a[0] & 2, 2); /* locally administered */
	char s[18];
	isola_error e;
	netd_mac_format(a, s, sizeof s);
	assert_int_equal(netd_mac_parse(s, b, &e), 0);
	assert_memory_equal(a, b, 6);
	assert_int_equal(netd_mac_parse("01:00:5e:00:00:01", b, &e), -1);
	assert_int_equal(netd_mac_parse("00:00:00:00:00:00", b, &e), -1);
	assert_int_equal(netd_mac_parse("0a:00:00:00:00", b, &e), -1);
	assert_int_equal(netd_mac_parse("0a:00:00:00:00:001", b, &e), -1);
	/* separators matter: ("ab","c") is not ("a","bc") */
	netd_mac_derive("ab", "c", "", a);
	netd_mac_derive("a", "bc", "", b);
	assert_memory_not_equal(a, b, 6);
	char h1[16], h2[16];
	netd_host_ifname("isv", "n1", "c1", "eth0", h1, sizeof h1);
	netd_host_ifname("isv", "n1", "c1", "eth0", h2, sizeof h2);
	assert_string_equal(h1, h2);
	assert_int_equal(strlen(h1), 11);
	assert_true(netd_ifname_valid(h1));
	assert_memory_equal(h1, "isv", 3);
}

static void test_endpoint(void **state)
{
	uint32_t a;
	uint16_t p;
	isola_error e;
	assert_int_equal(endpoint4_parse("127.0.0.1:8080", &a, &p, &e), 0);
	assert_int_equal(a, 0x7f000001);
	assert_int_equal(p, 8080);
	assert_int_equal(endpoint4_parse("0.0.0.0:1", &a, &p, &e), 0);
	assert_int_equal(endpoint4_parse("1.2.3.4:0", &a, &p, &e), -1);
	assert_int_equal(endpoint4_parse("1.2.3.4:65536", &a, &p, &e), -1);
	assert_int_equal(endpoint4_parse("1.2.3.4", &a, &p, &e), -1);
	assert_int_equal(endpoint4_parse("1.2.3:80", &a, &p, &e), -1);
	assert_int_equal(endpoint4_parse("1.2.3.4:8a", &a, &p, &e), -1);
}

static void test_ruleset(void **state)
{
	struct fw_forward f[] = {{"tcp", 0xc6336401, 8080, 0x0a010205, 80}, {"udp", 0, 53, 0x0a010206, 5353}};
	struct fw_network n = {.name = "br1",
	                       .bridge = "br1",
	                       .has4 = true,
	                       .nat4 = true,
	                       .v4 = {0x0a010201, 24},
	                       .forwards = f,
	                       .nforwards = 2};
	_cleanup_free_ char *t = fw_ruleset_text(&n);
	assert_non_null(t);
	/* atomic replace: create-if-missing, delete, define — in one batch */
	assert_non_null(strstr(t, "table inet isola-br1\ndelete table inet isola-br1\ntable inet isola-br1 {\n"));
	assert_non_null(strstr(t, "ip saddr 10.1.2.0/24 oifname != \"br1\" masquerade"));
	assert_null(strstr(t, "ip6 saddr"));
	assert_non_null(strstr(t, "ip daddr 198.51.100.1 tcp dport 8080 dnat ip to 10.1.2.5:80"));
	assert_non_null(strstr(t, "fib daddr type local udp dport 53 dnat ip to 10.1.2.6:5353"));
	/* forwards in both prerouting (from outside) and output (from the host itself) */
	char *pre = strstr(t, "hook prerouting"), *out = strstr(t, "hook output");
	assert_non_null(pre);
	assert_non_null(out);
	assert_non_null(strstr(pre, "dport 8080"));
	assert_non_null(strstr(out, "dport 8080"));
	assert_non_null(strstr(t, "oifname \"br1\" iifname != \"br1\" drop"));
	assert_non_null(strstr(t, "iifname \"br1\" udp dport { 53, 67, 547 } accept"));
	/* NAT off, IPv6 with NAT on */
	n.nat4 = false;
	n.has6 = n.nat6 = true;
	isola_error e;
	assert_int_equal(cidr6_parse_gateway("fd42:1:2:3::1/64", &n.v6, &e), 0);
	n.nforwards = 0;
	_cleanup_free_ char *t2 = fw_ruleset_text(&n);
	assert_null(strstr(t2, "ip saddr"));
	assert_non_null(strstr(t2, "ip6 saddr fd42:1:2:3::/64 oifname != \"br1\" masquerade"));
	assert_null(strstr(t2, "dnat ip to"));
	_cleanup_free_ char *d = fw_delete_text("br1");
	assert_string_equal(d, "table inet isola-br1\ndelete table inet isola-br1\n");
}

static bool has_arg(char **v, const char *a)
{
	for (; *v; v++)
		if (strcmp(*v, a) == 0)
			return true;
	return false;
}

static void test_dnsmasq_argv(void **state)
{
	struct dnsmasq_cfg c = {
	    .bridge = "br1", .domain = "isola", .upstream = "", .dhcp = true, .has4 = true, .v4 = {0x0a010201, 24}};
	_cleanup_strv_ char **v = dnsmasq_argv(&c, "/var/lib/isola/netd/networks/br1");
	assert_string_equal(v[0], DNSMASQ_PATH);
	static const char *want[] = {"--keep-in-foreground",
	                             "--strict-order",
	                             "--bind-interfaces",
	                             "--interface=br1",
	                             "--except-interface=lo",
	                             "--no-resolv",
	                             "--conf-file=/dev/null",
	                             "--dhcp-range=10.1.2.2,10.1.2.254,255.255.255.0,1h",
	                             "--domain=isola",
	                             "--local=/isola/",
	                             "--listen-address=10.1.2.1",
	                             "--pid-file=/var/lib/isola/netd/networks/br1/dnsmasq.pid",
	                             "--dhcp-leasefile=/var/lib/isola/netd/networks/br1/dnsmasq.leases",
	                             "--dhcp-hostsfile=/var/lib/isola/netd/networks/br1/dhcp-hosts",
	                             "--addn-hosts=/var/lib/isola/netd/networks/br1/hosts"};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		if (!has_arg(v, want[i]))
			fail_msg("dnsmasq argv lacks %s", want[i]);
	assert_false(has_arg(v, "--enable-ra"));
	c.upstream = "192.0.2.53,2001:db8::53";
	c.dhcp = false;
	c.has6 = true;
	isola_error e;
	assert_int_equal(cidr6_parse_gateway("fd42:1:2:3::1/64", &c.v6, &e), 0);
	_cleanup_strv_ char **w = dnsmasq_argv(&c, "/d");
	assert_true(has_arg(w, "--no-resolv"));
	assert_true(has_arg(w, "--server=192.0.2.53"));
	assert_true(has_arg(w, "--server=2001:db8::53"));
	assert_true(has_arg(w, "--enable-ra"));
	assert_true(has_arg(w, "--dhcp-range=::,constructor:br1,ra-stateless,ra-names"));
	for (char **p = w; *p; p++)
		assert_false(strncmp(*p, "--dhcp-range=10.", 16) == 0);
	c.upstream = "host";
	_cleanup_strv_ char **x = dnsmasq_argv(&c, "/d");
	assert_false(has_arg(x, "--no-resolv"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cidr4_parse),  cmocka_unit_test(test_cidr4_overlap),
	    cmocka_unit_test(test_cidr4_pick),   cmocka_unit_test(test_cidr6),
	    cmocka_unit_test(test_names),        cmocka_unit_test(test_mac_and_ifname),
	    cmocka_unit_test(test_endpoint),     cmocka_unit_test(test_ruleset),
	    cmocka_unit_test(test_dnsmasq_argv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
