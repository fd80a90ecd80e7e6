/* lib/agent_proto unit tests: address parsing (every malformed form refused with a message), and the
 * packet layer over a real SOCK_SEQPACKET socketpair: JSON vs data frames, the size bound (MSG_TRUNC),
 * malformed JSON, EOF, and the receive timeout. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "agent_proto.h"
#include "cleanup.h"
#include "json.h"

static void test_addresses(void **state)
{
	struct agent_addr a;
	isola_error err;
	assert_int_equal(agent_addr_parse("vsock:8443", true, &a, &err), 0);
	assert_true(a.vsock);
	assert_int_equal(a.port, 8443);
	assert_int_equal(agent_addr_parse("vsock:10003:8443", false, &a, &err), 0);
	assert_int_equal(a.cid, 10003);
	assert_int_equal(agent_addr_parse("unix:/run/x.sock", false, &a, &err), 0);
	assert_false(a.vsock);
	assert_string_equal(a.path, "/run/x.sock");
	const char *bad[] = {"vsock:8443" /* connect needs a CID */,
	                     "vsock:",
	                     "vsock:x:1",
	                     "vsock:1:-1",
	                     "vsock:1:99999999999",
	                     "vsock:1:4294967295" /* VMADDR_PORT_ANY */,
	                     "unix:",
	                     "tcp:1.2.3.4:80",
	                     ""};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(agent_addr_parse(bad[i], false, &a, &err), -1);
		assert_int_equal(err.errnum, EINVAL);
		assert_non_null(strstr(err.msg, "agent address"));
	}
	char longp[300] = "unix:";
	memset(longp + 5, 'a', 200);
	assert_int_equal(agent_addr_parse(longp, false, &a, &err), -1);
}

static void test_packets(void **state)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	isola_error err;
	_cleanup_free_ char *buf = malloc(AGENT_MSG_MAX + 1);
	struct agent_packet p;

	_cleanup_json_ json_t *m = json_pack("{ss}", "op", "ping");
	assert_int_equal(agent_send_json(sv[0], m, &err), 0);
	assert_int_equal(agent_recv(sv[1], buf, 1000, &p, &err), 0);
	assert_int_equal(p.tag, '{');
	assert_string_equal(json_string_value(json_object_get(p.msg, "op")), "ping");
	json_decref(p.msg);

	assert_int_equal(agent_send_data(sv[0], AGENT_STDOUT, "hello", 5, &err), 0);
	assert_int_equal(agent_recv(sv[1], buf, 1000, &p, &err), 0);
	assert_int_equal(p.tag, 'o');
	assert_null(p.msg);
	assert_int_equal(p.len, 5);
	assert_memory_equal(p.data, "hello", 5);

	/* the largest data frame passes; one byte more cannot be sent, and a raw oversized packet is refused */
	_cleanup_free_ char *big = calloc(1, AGENT_MSG_MAX + 100);
	assert_int_equal(agent_send_data(sv[0], AGENT_FILE, big, AGENT_DATA_MAX, &err), 0);
	assert_int_equal(agent_recv(sv[1], buf, 1000, &p, &err), 0);
	assert_int_equal(p.len, AGENT_DATA_MAX);
	assert_int_equal(agent_send_data(sv[0], AGENT_FILE, big, AGENT_DATA_MAX + 1, &err), -1);
	assert_int_equal(err.errnum, EMSGSIZE);
	big[0] = 'o';
	assert_int_equal(send(sv[0], big, AGENT_MSG_MAX + 50, 0), AGENT_MSG_MAX + 50);
	assert_int_equal(agent_recv(sv[1], buf, 1000, &p, &err), -1);
	assert_int_equal(err.errnum, EMSGSIZE);

	assert_int_equal(send(sv[0], "{\"a\":", 5, 0), 5);
	assert_int_equal(agent_recv(sv[1], buf, 1000, &p, &err), -1);
	assert_int_equal(err.errnum, EPROTO);
	assert_non_null(strstr(err.msg, "malformed JSON"));

	/* nothing sent: the timeout; then EOF */
	assert_int_equal(agent_recv(sv[1], buf, 50, &p, &err), -1);
	assert_int_equal(err.errnum, ETIMEDOUT);
	close(sv[0]);
	assert_int_equal(agent_recv(sv[1], buf, 1000, &p, &err), -1);
	assert_int_equal(err.errnum, ECONNRESET);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_addresses), cmocka_unit_test(test_packets)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
