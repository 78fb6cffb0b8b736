/* tests/integration/test_tcp_props.c: defaults of a fresh TCPServer (spec
 * §11 items 1-6), Config parsing, error returns of bad calls, unknown ids on
 * every per-connection function, LocalPort 0 read back. */
#include "helpers/rwtest.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

TestSuite(props, .timeout = 30);

static void expect_cfg(rw_tcpserver *s, const char *name, const char *want)
{
	char buf[256];
	int rc = rw_tcpserver_config(s, name, buf, sizeof(buf));
	cr_assert(rc >= 0, "Config(\"%s\"): %d (%s)", name, rc, rw_strerror(rc));
	cr_expect_eq((size_t)rc, strlen(buf), "Config(\"%s\") length %d vs \"%s\"", name, rc, buf);
	cr_expect(strcasecmp(buf, want) == 0, "Config(\"%s\") = \"%s\", expected \"%s\"", name, buf, want);
}

Test(props, defaults_of_a_fresh_instance)
{
	rw_tcpserver *s = rw_tcpserver_new();
	cr_assert_not_null(s);
	uint8_t eol[8];
	char host[64] = "x";

	cr_expect_eq(rw_tcpserver_get_connection_backlog(s), 5);
	cr_expect_eq(rw_tcpserver_get_default_eol(s, eol, sizeof(eol)), 0, "DefaultEOL is empty");
	cr_expect_eq(rw_tcpserver_get_default_idle_timeout(s), 0);
	cr_expect_eq(rw_tcpserver_get_default_max_line_length(s), 2048);
	cr_expect_eq(rw_tcpserver_get_default_single_line_mode(s), false);
	cr_expect_eq(rw_tcpserver_get_default_timeout(s), 0);
	cr_expect_eq(rw_tcpserver_get_keep_alive(s), false);
	cr_expect_eq(rw_tcpserver_get_linger(s), true);
	cr_expect_eq(rw_tcpserver_get_listening(s), false);
	cr_expect_eq(rw_tcpserver_get_local_host(s, host, sizeof(host)), 0);
	cr_expect_str_eq(host, "");
	cr_expect_eq(rw_tcpserver_get_local_port(s), 0);
	cr_expect_eq(rw_tcpserver_get_connection_count(s), 0);
	rw_connid ids[4];
	cr_expect_eq(rw_tcpserver_get_connection_ids(s, ids, 4), 0);
	cr_expect_null(rw_tcpserver_get_loop(s), "an own loop exists only after start_listening");

	expect_cfg(s, "MaxConnections", "1000");
	expect_cfg(s, "AllowedClients", "*");
	expect_cfg(s, "BlockedClients", "");
	expect_cfg(s, "BindExclusively", "True");
	expect_cfg(s, "TcpNoDelay", "False");
	expect_cfg(s, "UseIPv6", "0");
	expect_cfg(s, "DefaultConnectionTimeout", "0");
	expect_cfg(s, "SendQueueLimit", "1048576");
	expect_cfg(s, "DoEventsTimeout", "1000");
	expect_cfg(s, "LogLevel", "2");
	expect_cfg(s, "LingerTimeout", "10");
	expect_cfg(s, "RejectedConnectionCount", "0");
	rw_tcpserver_free(s);
}

Test(props, config_booleans_any_case)
{
	rw_tcpserver *s = rw_tcpserver_new();
	static const char *const truthy[] = {"True", "TRUE", "true", "yes", "Yes", "1"};
	static const char *const falsy[] = {"False", "false", "No", "no", "0"};
	const char *names[] = {"TcpNoDelay", "BindExclusively", "ReusePort"};
	char set[64];
	for (size_t n = 0; n < 3; n++) {
		for (size_t i = 0; i < sizeof(truthy) / sizeof(*truthy); i++) {
			snprintf(set, sizeof(set), "%s=0", names[n]);
			rwt_config(s, set);
			snprintf(set, sizeof(set), "%s=%s", names[n], truthy[i]);
			rwt_config(s, set);
			expect_cfg(s, names[n], "True");
		}
		for (size_t i = 0; i < sizeof(falsy) / sizeof(*falsy); i++) {
			snprintf(set, sizeof(set), "%s=1", names[n]);
			rwt_config(s, set);
			snprintf(set, sizeof(set), "%s=%s", names[n], falsy[i]);
			rwt_config(s, set);
			expect_cfg(s, names[n], "False");
		}
		snprintf(set, sizeof(set), "%s=maybe", names[n]);
		cr_expect_eq(rw_tcpserver_config(s, set, NULL, 0), -RW_EBAD_VALUE, "%s", set);
	}
	/* Names are documented as case-insensitive in the components' Config;
	 * at least the documented spelling must work, checked above. */
	rw_tcpserver_free(s);
}

Test(props, localport_zero_reads_back_a_bound_port)
{
	rw_tcpserver *s = rwt_server_new(NULL);
	cr_assert_eq(rw_tcpserver_get_local_port(s), 0);
	int port = rwt_server_start(s);
	cr_expect(rw_tcpserver_get_listening(s));
	cr_expect_not_null(rw_tcpserver_get_loop(s));
	int fd = rwt_connect("127.0.0.1", port, 5000);
	cr_assert(fd >= 0, "connect to the read-back port %d: %s", port, strerror(-fd));
	char peer[64];
	cr_expect_eq(rwt_sock_port(fd, true, peer, sizeof(peer)), port);
	close(fd);
	rw_tcpserver_free(s);
}

Test(props, do_events_before_the_loop_exists)
{
	rw_tcpserver *s = rw_tcpserver_new();
	cr_expect_eq(rw_tcpserver_do_events(s), -RW_EBAD_STATE);
	rw_tcpserver_free(s);
}

Test(props, unknown_config_and_bad_values)
{
	rw_tcpserver *s = rw_tcpserver_new();
	char buf[64];
	cr_expect_eq(rw_tcpserver_config(s, "NoSuchSetting", buf, sizeof(buf)), -RW_EUNKNOWN_CONFIG);
	cr_expect_eq(rw_tcpserver_config(s, "NoSuchSetting=1", NULL, 0), -RW_EUNKNOWN_CONFIG);

	cr_expect_eq(rw_tcpserver_config(s, "MaxConnections=abc", NULL, 0), -RW_EBAD_VALUE);
	cr_expect_eq(rw_tcpserver_config(s, "MaxConnections=0", NULL, 0), -RW_EBAD_VALUE);
	cr_expect_eq(rw_tcpserver_config(s, "MaxConnections=-3", NULL, 0), -RW_EBAD_VALUE);
	cr_expect_eq(rw_tcpserver_config(s, "MaxConnections=1000001", NULL, 0), -RW_EBAD_VALUE);
	cr_expect_eq(rw_tcpserver_config(s, "MaxConnections=12x", NULL, 0), -RW_EBAD_VALUE);
	expect_cfg(s, "MaxConnections", "1000");
	rwt_config(s, "MaxConnections=5");
	expect_cfg(s, "MaxConnections", "5");
	cr_expect_eq(rw_tcpserver_config(s, "UseIPv6=3", NULL, 0), -RW_EBAD_VALUE);
	cr_expect_eq(rw_tcpserver_config(s, "SendQueueLimit=0", NULL, 0), -RW_EBAD_VALUE);

	cr_expect_eq(rw_tcpserver_config(s, "MaxConnections", buf, 1), -RW_EBUFFER_TOO_SMALL);

	cr_expect_eq(rw_tcpserver_set_default_max_line_length(s, 100), -RW_EBAD_VALUE);
	cr_expect_eq(rw_tcpserver_set_default_max_line_length(s, 255), -RW_EBAD_VALUE);
	cr_expect_eq(rw_tcpserver_get_default_max_line_length(s), 2048, "a rejected value leaves the old one");
	cr_expect_eq(rw_tcpserver_set_default_max_line_length(s, 256), 0);
	cr_expect_eq(rw_tcpserver_get_default_max_line_length(s), 256);
	cr_expect_eq(rw_tcpserver_set_default_idle_timeout(s, -1), -RW_EBAD_VALUE);
	cr_expect_eq(rw_tcpserver_set_default_timeout(s, -1), -RW_EBAD_VALUE);
	cr_expect_eq(rw_tcpserver_set_local_port(s, 65536), -RW_EBAD_VALUE);
	cr_expect_eq(rw_tcpserver_set_local_port(s, -1), -RW_EBAD_VALUE);
	uint8_t eol65[65];
	memset(eol65, '\n', sizeof(eol65));
	cr_expect_eq(rw_tcpserver_set_default_eol(s, eol65, 65), -RW_EBAD_VALUE);
	cr_expect_eq(rw_tcpserver_set_default_eol(s, eol65, 64), 0);
	cr_expect_eq(rw_tcpserver_set_default_eol(s, "\0\0|", 3), 0);
	uint8_t got[8];
	cr_expect_eq(rw_tcpserver_get_default_eol(s, got, sizeof(got)), 3);
	cr_expect_eq(memcmp(got, "\0\0|", 3), 0);

	cr_expect_eq(rw_tcpserver_config(s, "RejectedConnectionCount=3", NULL, 0) < 0, true,
	             "RejectedConnectionCount is read-only");
	rw_tcpserver_free(s);
}

Test(props, strerror_texts)
{
	cr_expect(strstr(rw_strerror(-RW_EWOULDBLOCK), "Operation would block") != NULL, "%s",
	          rw_strerror(-RW_EWOULDBLOCK));
	cr_expect(strstr(rw_strerror(RW_EWOULDBLOCK), "Operation would block") != NULL);
	cr_expect(strstr(rw_strerror(-RW_EINVALID_CONNID), "Invalid ConnectionId") != NULL, "%s",
	          rw_strerror(-RW_EINVALID_CONNID));
	cr_expect(strstr(rw_strerror(-RW_EALREADY_LISTENING), "already listening") != NULL);
	cr_expect_str_eq(rw_strerror(-123456), "Unknown error");
	cr_expect_eq(rw_errno_map(ECONNRESET), 10054);
	cr_expect_eq(rw_errno_map(-ETIMEDOUT), 10060);
}

Test(props, port_in_use_with_bind_exclusively)
{
	rw_tcpserver *a = rwt_server_new(NULL);
	int port = rwt_server_start(a);
	rw_tcpserver *b = rwt_server_new(NULL);
	expect_cfg(b, "BindExclusively", "True");
	cr_assert_eq(rw_tcpserver_set_local_port(b, port), 0);
	int rc = rw_tcpserver_start_listening(b);
	cr_expect_eq(rc, -RW_EADDRINUSE, "second bind on %d: %d (%s)", port, rc, rw_strerror(rc));
	cr_expect_eq(rw_tcpserver_get_listening(b), false);
	rw_tcpserver_free(b);
	rw_tcpserver_free(a);
}

Test(props, changes_refused_while_listening)
{
	rw_tcpserver *s = rwt_server_new(NULL);
	int port = rwt_server_start(s);
	cr_expect_eq(rw_tcpserver_start_listening(s), -RW_EALREADY_LISTENING);
	cr_expect_eq(rw_tcpserver_set_local_port(s, 1234), -RW_ELOCALPORT_LISTENING);
	cr_expect_eq(rw_tcpserver_set_local_host(s, "127.0.0.2"), -RW_ELOCALHOST_LISTENING);
	cr_expect_eq(rw_tcpserver_config(s, "MaxConnections=5", NULL, 0), -RW_EMAXCONN_LISTENING);
	cr_expect_eq(rw_tcpserver_get_local_port(s), port, "refused changes leave the port");
	char host[64];
	cr_expect_eq(rw_tcpserver_get_local_host(s, host, sizeof(host)), (int)strlen("127.0.0.1"));
	cr_expect_str_eq(host, "127.0.0.1");
	expect_cfg(s, "MaxConnections", "1000");

	cr_expect_eq(rw_tcpserver_stop_listening(s), 0);
	cr_expect_eq(rw_tcpserver_get_listening(s), false);
	cr_expect_eq(rw_tcpserver_stop_listening(s), 0, "StopListening is idempotent");
	cr_expect_eq(rw_tcpserver_set_local_port(s, 0), 0, "LocalPort can change once stopped");
	cr_expect_eq(rw_tcpserver_config(s, "MaxConnections=5", NULL, 0), 0);
	/* and listening again works */
	int port2 = rwt_server_start(s);
	int fd = rwt_connect("127.0.0.1", port2, 5000);
	cr_expect(fd >= 0, "connect after re-listen: %s", strerror(-fd));
	if (fd >= 0)
		close(fd);
	rw_tcpserver_free(s);
}

static void release_cb(const void *data, void *arg)
{
	(*(int *)arg)++;
}

/* Every per-connection function with an id that does not exist. */
static void check_unknown_id(rw_tcpserver *s, rw_connid id)
{
	char buf[64];
	uint8_t b[8];
	int released = 0;
	const int E = -RW_EINVALID_CONNID;
#define X(call) cr_expect_eq((int64_t)(call), (int64_t)E, "%s with unknown id %lld", #call, (long long)id)
	X(rw_tcpserver_get_accept_data(s, id));
	X(rw_tcpserver_set_accept_data(s, id, true));
	X(rw_tcpserver_get_bytes_sent(s, id));
	X(rw_tcpserver_get_connected(s, id));
	X(rw_tcpserver_set_connected(s, id, false));
	X(rw_tcpserver_get_eol(s, id, b, sizeof(b)));
	X(rw_tcpserver_set_eol(s, id, "\n", 1));
	X(rw_tcpserver_get_idle_timeout(s, id));
	X(rw_tcpserver_set_idle_timeout(s, id, 5));
	X(rw_tcpserver_get_local_address(s, id, buf, sizeof(buf)));
	X(rw_tcpserver_get_max_line_length(s, id));
	X(rw_tcpserver_set_max_line_length(s, id, 4096));
	X(rw_tcpserver_get_ready_to_send(s, id));
	X(rw_tcpserver_get_record_length(s, id));
	X(rw_tcpserver_get_remote_host(s, id, buf, sizeof(buf)));
	X(rw_tcpserver_get_remote_port(s, id));
	X(rw_tcpserver_get_single_line_mode(s, id));
	X(rw_tcpserver_set_single_line_mode(s, id, true));
	X(rw_tcpserver_get_timeout(s, id));
	X(rw_tcpserver_set_timeout(s, id, 1));
	X(rw_tcpserver_set_user_data(s, id, buf));
	X(rw_tcpserver_send(s, id, "x", 1));
	X(rw_tcpserver_send_bytes(s, id, "x", 1));
	X(rw_tcpserver_send_text(s, id, "x"));
	X(rw_tcpserver_send_line(s, id, "x"));
	X(rw_tcpserver_send_owned(s, id, "x", 1, release_cb, &released));
	X(rw_tcpserver_send_file(s, id, "/etc/hostname"));
	X(rw_tcpserver_disconnect(s, id));
	X(rw_tcpserver_interrupt(s, id));
	X(rw_tcpserver_pause_data(s, id));
	X(rw_tcpserver_process_data(s, id));
	X(rw_tcpserver_change_record_length(s, id, 10));
#undef X
	cr_expect_null(rw_tcpserver_get_user_data(s, id));
	/* Config with an index: a positive unknown id is EINVALID_CONNID; a
	 * non-positive index is never an id and may be refused as a bad value. */
	char key[64];
	int rc1, rc2;
	snprintf(key, sizeof(key), "MaxLineLength[%lld]", (long long)id);
	rc1 = rw_tcpserver_config(s, key, buf, sizeof(buf));
	snprintf(key, sizeof(key), "MaxLineLength[%lld]=4096", (long long)id);
	rc2 = rw_tcpserver_config(s, key, NULL, 0);
	if (id > 0) {
		cr_expect_eq(rc1, E, "Config(MaxLineLength[%lld]): %d", (long long)id, rc1);
		cr_expect_eq(rc2, E, "Config(MaxLineLength[%lld]=4096): %d", (long long)id, rc2);
	} else {
		cr_expect(rc1 == E || rc1 == -RW_EBAD_VALUE, "Config(MaxLineLength[%lld]): %d", (long long)id, rc1);
		cr_expect(rc2 == E || rc2 == -RW_EBAD_VALUE, "Config(MaxLineLength[%lld]=): %d", (long long)id, rc2);
	}
	cr_expect_eq(released, 0, "send_owned's release must not run when the call fails");
}

Test(props, unknown_id_on_every_per_connection_function)
{
	rw_tcpserver *s = rwt_server_new(NULL);
	check_unknown_id(s, 12345); /* before listening */
	rwt_server_start(s);
	rw_tcpserver_do_events(s);
	check_unknown_id(s, 12345);
	check_unknown_id(s, 1);
	check_unknown_id(s, 0);
	check_unknown_id(s, -7);
	rw_tcpserver_free(s);
}

/* The Default* properties seed the connections accepted afterwards. */
Test(props, defaults_seed_new_connections)
{
	rwt_rec rec;
	rwt_rec_init(&rec);
	rw_tcpserver *s = rwt_server_new(&rec);
	cr_assert_eq(rw_tcpserver_set_default_eol(s, "\r\n", 2), 0);
	cr_assert_eq(rw_tcpserver_set_default_idle_timeout(s, 77), 0);
	cr_assert_eq(rw_tcpserver_set_default_max_line_length(s, 4096), 0);
	cr_assert_eq(rw_tcpserver_set_default_single_line_mode(s, true), 0);
	cr_assert_eq(rw_tcpserver_set_default_timeout(s, 9), 0);
	cr_expect_eq(rw_tcpserver_get_default_timeout(s), 9);
	int port = rwt_server_start(s);
	rw_connid a;
	int fd = rwt_connect_ready(s, &rec, port, 5000, 0, &a);
	uint8_t eol[8];
	cr_expect_eq(rw_tcpserver_get_eol(s, a, eol, sizeof(eol)), 2);
	cr_expect_eq(memcmp(eol, "\r\n", 2), 0);
	cr_expect_eq(rw_tcpserver_get_idle_timeout(s, a), 77);
	cr_expect_eq(rw_tcpserver_get_max_line_length(s, a), 4096);
	cr_expect_eq(rw_tcpserver_get_single_line_mode(s, a), 1);
	cr_expect_eq(rw_tcpserver_get_timeout(s, a), 9);
	cr_expect_eq(rw_tcpserver_get_record_length(s, a), 0);
	cr_expect_eq(rw_tcpserver_get_connected(s, a), 1);
	/* changing the defaults later leaves the existing connection alone */
	cr_assert_eq(rw_tcpserver_set_default_timeout(s, 0), 0);
	cr_assert_eq(rw_tcpserver_set_default_idle_timeout(s, 0), 0);
	cr_expect_eq(rw_tcpserver_get_timeout(s, a), 9);
	cr_expect_eq(rw_tcpserver_get_idle_timeout(s, a), 77);
	rw_connid b;
	int fd2 = rwt_connect_ready(s, &rec, port, 5000, 0, &b);
	cr_expect_eq(rw_tcpserver_get_timeout(s, b), 0);
	cr_expect_eq(rw_tcpserver_get_idle_timeout(s, b), 0);
	/* per-connection setters */
	cr_expect_eq(rw_tcpserver_set_eol(s, b, "0123456789012345678901234567890123456789012345678901234567890123X", 65),
	             -RW_EBAD_VALUE);
	cr_expect_eq(rw_tcpserver_set_idle_timeout(s, b, -1), -RW_EBAD_VALUE);
	cr_expect_eq(rw_tcpserver_set_timeout(s, b, -1), -RW_EBAD_VALUE);
	rwt_close_all_end(s, &rec, (int[]){fd, fd2}, 2, 2);
}
