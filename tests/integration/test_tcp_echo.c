/* tests/integration/test_tcp_echo.c: byte-exact echo of binary data (NULs
 * included) from 1 byte to 4 MiB (spec §11 item 13). The server's echo handler
 * (helpers: rwt_rec.echo) handles -RW_EWOULDBLOCK: it keeps the remainder
 * using BytesSent, pauses, re-sends on ReadyToSend, then ProcessData. Clients:
 * a C thread (poll-driven, reads while it writes), python3, nc. */
#include "helpers/rwtest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TestSuite(echo, .timeout = 60);

struct echo_job {
	const uint8_t *out;
	uint8_t *in;
	size_t len;
	int rcvbuf;
};

static void echo_client(rwt_thread *t)
{
	struct echo_job *j = t->arg;
	int fd = rwt_connect_opts(t->host, t->port, 20000, j->rcvbuf, NULL);
	if (fd < 0) {
		rwt_fail(t, "connect: %s", strerror(-fd));
		return;
	}
	int rc = rwt_exchange(fd, j->out, j->len, j->in, j->len, 30000);
	if (rc < 0)
		rwt_fail(t, "exchange of %zu bytes: %s", j->len, strerror(-rc));
	close(fd);
}

static void run_echo(size_t len, uint64_t seed, int rcvbuf)
{
	rwt_rec rec;
	rwt_rec_init(&rec);
	rec.echo = true;
	rec.copy_data = len <= (1u << 20);
	rw_tcpserver *s = rwt_server_new(&rec);
	int port = rwt_server_start(s);

	uint8_t *out = rwt_random(len, seed);
	uint8_t *in = calloc(1, len);
	struct echo_job j = {.out = out, .in = in, .len = len, .rcvbuf = rcvbuf};
	rwt_thread t = {.port = port};
	rwt_thread_start(&t, echo_client, &j);
	rwt_thread_finish(s, &t, 45000);
	pump_until_ge(s, &rec.disconnected, 1, 5000);
	RWT_ASSERT_CLEAN(&rec);
	cr_expect_eq(memcmp(in, out, len), 0, "echoed bytes differ from what was sent (%zu bytes)", len);
	rw_connid id = rwt_id(&rec, 0);
	cr_expect_eq(rwt_conn_get(&rec, id)->data_bytes, len, "DataIn total");
	if (rec.copy_data) {
		size_t got;
		uint8_t *all = rwt_data_concat(&rec, id, &got);
		cr_expect_eq(got, len);
		cr_expect_eq(memcmp(all, out, len), 0, "DataIn bytes differ from the client's");
		free(all);
	}
	/* EOL is empty: DataIn's eol is always true */
	for (size_t i = 0; i < rec.n; i++)
		if (rec.ev[i].type == RWT_DATA)
			cr_assert(rec.ev[i].eol, "DataIn eol false with an empty EOL (event %zu)", i);
	cr_expect_eq(rwt_conn_get(&rec, id)->disconnected_n, 1);
	free(out);
	free(in);
	rw_tcpserver_free(s);
	rwt_rec_free(&rec);
}

Test(echo, size_1)
{
	run_echo(1, 1, 0); /* the single byte is a NUL */
}

Test(echo, size_1000)
{
	run_echo(1000, 2, 0);
}

Test(echo, size_65536)
{
	run_echo(65536, 3, 0);
}

Test(echo, size_1MiB)
{
	run_echo(1u << 20, 4, 0);
}

Test(echo, size_4MiB)
{
	run_echo(4u << 20, 5, 0);
}

/* A small client receive buffer makes the server's sends hit the queue limit,
 * so the WOULDBLOCK path of the echo is exercised. */
Test(echo, size_4MiB_small_client_window_small_queue)
{
	rwt_rec rec;
	rwt_rec_init(&rec);
	rec.echo = true;
	rec.copy_data = false;
	rw_tcpserver *s = rwt_server_new(&rec);
	rwt_config(s, "SendQueueLimit=65536");
	rwt_config(s, "OutBufferSize=16384");
	int port = rwt_server_start(s);
	size_t len = 4u << 20;
	uint8_t *out = rwt_random(len, 6);
	uint8_t *in = calloc(1, len);
	struct echo_job j = {.out = out, .in = in, .len = len, .rcvbuf = 16384};
	rwt_thread t = {.port = port};
	rwt_thread_start(&t, echo_client, &j);
	rwt_thread_finish(s, &t, 45000);
	pump_until_ge(s, &rec.disconnected, 1, 5000);
	RWT_ASSERT_CLEAN(&rec);
	cr_expect_eq(memcmp(in, out, len), 0, "echoed bytes differ");
	rwt_conn *c = rwt_conn_get(&rec, rwt_id(&rec, 0));
	cr_expect(c->echo_wouldblock > 0, "the echo never hit WOULDBLOCK: the test did not exercise backpressure");
	free(out);
	free(in);
	rw_tcpserver_free(s);
	rwt_rec_free(&rec);
}

static const char *py_echo =
	"import socket,sys,threading,random\n"
	"port,n,seed=int(sys.argv[1]),int(sys.argv[2]),int(sys.argv[3])\n"
	"r=random.Random(seed); data=bytes(r.getrandbits(8) for _ in range(n))\n"
	"data=b'\\x00'+data[1:]\n"
	"c=socket.create_connection(('127.0.0.1',port),timeout=20)\n"
	"t=threading.Thread(target=c.sendall,args=(data,)); t.start()\n"
	"got=bytearray()\n"
	"while len(got)<n:\n"
	"  b=c.recv(65536)\n"
	"  if not b: break\n"
	"  got+=b\n"
	"t.join(); c.close()\n"
	"if bytes(got)!=data: print('MISMATCH',len(got),n); sys.exit(1)\n"
	"print('OK',n)\n";

/* An echo server (recorder attached) for the external-client tests; its port
 * is also written to ports, ready to pass on a command line. */
static rw_tcpserver *echo_server_for_clients(rwt_rec *rec, char ports[16])
{
	rwt_rec_init(rec);
	rec->echo = true;
	rw_tcpserver *s = rwt_server_new(rec);
	int port = rwt_server_start(s);
	snprintf(ports, 16, "%d", port);
	return s;
}

Test(echo, python_clients)
{
	rwt_rec rec;
	char ports[16];
	rw_tcpserver *s = echo_server_for_clients(&rec, ports);
	/* three python clients at once */
	rwt_proc p[3];
	const char *sizes[3] = {"1", "70000", "300000"};
	for (int i = 0; i < 3; i++) {
		char seed[8];
		snprintf(seed, sizeof(seed), "%d", i + 11);
		const char *args[] = {ports, sizes[i], seed, NULL};
		cr_assert_eq(rwt_python(&p[i], py_echo, args), 0);
	}
	for (int i = 0; i < 3; i++) {
		rwt_proc_finish(s, &p[i], 30000);
		cr_expect_eq(p[i].exit_code, 0, "python client %d: %s", i, p[i].out);
		rwt_proc_free(&p[i]);
	}
	pump_until_ge(s, &rec.disconnected, 3, 5000);
	cr_expect_eq(rec.data_bytes, 1 + 70000 + 300000);
	rwt_server_end(s, &rec);
}

/* nc: stdin goes to the server, the echo comes back on stdout; -N shuts the
 * socket down after stdin's EOF; the server's Linger close delivers what is
 * queued before the connection ends. */
Test(echo, netcat_client)
{
	rwt_rec rec;
	char ports[16];
	rw_tcpserver *s = echo_server_for_clients(&rec, ports);
	char *argv[] = {"nc", "-N", "-w", "10", "127.0.0.1", ports, NULL};
	rwt_proc p;
	cr_assert_eq(rwt_proc_spawn(&p, argv, true), 0);
	const char *msg = "hello from netcat\nsecond line\n";
	cr_assert_eq(write(p.in_fd, msg, strlen(msg)), (ssize_t)strlen(msg));
	/* wait until the server has the bytes before closing stdin, so the
	 * echo is queued before nc's FIN arrives */
	pump_until_ge(s, &rec.data_bytes, strlen(msg), 10000);
	close(p.in_fd);
	p.in_fd = -1;
	rwt_proc_finish(s, &p, 20000);
	cr_expect_eq(p.exit_code, 0, "nc: %s", p.out);
	cr_expect_str_eq(p.out, msg);
	pump_until_ge(s, &rec.disconnected, 1, 5000);
	rwt_proc_free(&p);
	rwt_server_end(s, &rec);
}
