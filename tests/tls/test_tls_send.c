/* tests/tls/test_tls_send.c: SendFile and send_owned through TLS, read by
 * python3's ssl module: a file of a few MiB arrives byte-exact and in order
 * with the sends around it, sends wait (WOULDBLOCK, then ReadyToSend) while
 * the file streams, and an owned buffer is released once encrypted. */
#include "tls_test_util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILE_BYTES (3 * 1024 * 1024 + 12345)

static char path[300];
static int ready_events, owned_released, send_during_file;
static enum { START, FILE_SENT, DONE } phase;

static void released(const void *data, void *arg) { owned_released++; }

static void on_conn(rw_tcpserver *s, const rw_tcpserver_connected *e, void *u)
{
	on_connected(s, e, u);
	static const char head[] = "HEAD\n";
	cr_assert_eq(rw_tcpserver_send_owned(s, e->connection_id, head, 5, released, NULL), 0);
	cr_assert_eq(owned_released, 1, "released as soon as it is encrypted");
	cr_assert_eq(rw_tcpserver_send_file(s, e->connection_id, path), 0);
	phase = FILE_SENT;
	send_during_file = rw_tcpserver_send(s, e->connection_id, "x", 1);
	cr_assert_eq(rw_tcpserver_send_file(s, e->connection_id, path), -RW_EWOULDBLOCK, "one file at a time");
}

static void on_ready(rw_tcpserver *s, const rw_tcpserver_ready_to_send *e, void *u)
{
	ready_events++;
	/* Implicit TLS owes a ReadyToSend right after Connected, while the file
	 * still streams: that send waits too, and the next ReadyToSend comes
	 * when the file is out. */
	if (phase == FILE_SENT) {
		int rc = rw_tcpserver_send(s, e->connection_id, "TAIL\n", 5);
		cr_assert(rc == 0 || rc == -RW_EWOULDBLOCK, "%d", rc);
		if (rc == 0)
			phase = DONE;
	}
}

Test(tls_send, send_file_and_send_owned_through_tls)
{
	make_cert();
	snprintf(path, sizeof(path), "%s/blob", dir);
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	for (int i = 0; i < FILE_BYTES; i++)
		fputc((i * 131 + (i >> 12)) & 255, f);
	fclose(f);
	struct state st = {0};
	static const rw_tcpserver_events ev = {
		.connected = on_conn, .disconnected = on_disconnected, .data_in = on_data, .ready_to_send = on_ready,
	};
	rw_tcpserver *s = tls_server_unstarted(&st, &ev);
	cr_assert_eq(rw_tcpserver_start_listening(s), 0);
	char script[1200];
	snprintf(script, sizeof(script),
		PY_TLS_CTX
		"ctx.verify_mode = ssl.CERT_NONE\n"
		"s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[1]))), server_hostname='x')\n"
		"want = b'HEAD\\n' + open('%s', 'rb').read() + b'TAIL\\n'\n"
		"got = bytearray()\n"
		"while len(got) < len(want):\n"
		"    d = s.recv(1 << 20)\n"
		"    if not d: break\n"
		"    got += d\n"
		"print(len(got), got == want)\n", path);
	char out[64];
	cr_assert_eq(run_python(s, script, out, sizeof(out), 60), 0, "%s", out);
	char want[64];
	snprintf(want, sizeof(want), "%d True\n", 5 + FILE_BYTES + 5);
	cr_assert_str_eq(out, want);
	cr_assert_eq(send_during_file, -RW_EWOULDBLOCK, "sends wait while the file streams");
	cr_assert_eq(phase, DONE);
	cr_assert_geq(ready_events, 1);
	rw_tcpserver_free(s);
	drop_cert();
}
