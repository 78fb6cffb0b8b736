/* tests/ws/test_ws_flow.c: flow control and scale. WOULDBLOCK, BytesSent and
 * ReadyToSend against a client that stops reading (the bytes that arrive are
 * exactly the bytes accepted, in valid frames); blocking sends with Timeout;
 * AcceptData pausing; clients that vanish mid-frame while others are served;
 * 1,000 concurrent WebSocket clients (python3 asyncio websockets). */
#include "wstest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define GO(...)                                                         \
	wst_rec *r = calloc(1, sizeof(wst_rec));                            \
	int port;                                                           \
	const char *cfg__[] = {__VA_ARGS__, NULL};                          \
	rw_wsserver *s = wst_server(r, cfg__[0] ? cfg__ : NULL, &port)
#define END()              \
	do {                   \
		wst_end(s, r); \
		free(r);       \
	} while (0)

/* Read every frame until `want` payload bytes arrived; checks they are the
 * pattern stream and that frames are well formed (FIN per message). */
static size_t read_stream(rw_wsserver *s, int fd, size_t want, uint64_t seed, int *messages)
{
	size_t got = 0;
	bool open = false;
	*messages = 0;
	uint8_t *exp = malloc(1 << 20);
	while (got < want) {
		uint8_t *p;
		size_t n;
		bool masked;
		int b0 = wst_read_frame(s, fd, &p, &n, &masked, 5000);
		cr_assert_geq(b0, 0, "stream ended after %zu of %zu bytes", got, want);
		cr_assert_not(masked);
		int op = b0 & 0x0f;
		cr_assert_eq(op, open ? 0 : 2, "opcode %d (message %s)", op, open ? "open" : "closed");
		open = !(b0 & 0x80);
		if (!open)
			(*messages)++;
		cr_assert_leq(n, 1u << 20);
		rwt_pattern(seed, got, exp, n);
		cr_assert_eq(memcmp(p, exp, n), 0, "payload differs at %zu", got);
		got += n;
		free(p);
	}
	cr_assert_not(open, "the last message is complete");
	free(exp);
	return got;
}

/* The rest of the open message, sent from ReadyToSend (the documented
 * retry protocol); the stream offset continues. */
struct rest {
	uint64_t off;   /* stream offset of the next byte to send */
	size_t left;    /* bytes of the open message still to send */
	int readies;
};

static void send_rest(wst_rec *r, rw_wsserver *s, rw_connid id)
{
	struct rest *x = r->ctx;
	x->readies++;
	while (x->left) {
		uint8_t *buf = malloc(x->left);
		rwt_pattern(1, x->off, buf, x->left);
		int rc = rw_wsserver_send_bytes(s, id, buf, x->left);
		free(buf);
		size_t took = rc == 0 ? x->left : (size_t)rw_wsserver_get_bytes_sent(s, id);
		x->off += took;
		x->left -= took;
		if (rc == -RW_EWOULDBLOCK && took == 0)
			return; /* wait for the next ReadyToSend */
		cr_assert(rc == 0 || rc == -RW_EWOULDBLOCK, "%d", rc);
	}
}

Test(ws_flow, wouldblock_bytes_sent_ready_to_send)
{
	GO("SendQueueLimit=262144");
	struct rest x = {0};
	r->ctx = &x;
	/* A client with a small receive buffer that does not read yet. */
	int fd = rwt_connect_opts("127.0.0.1", port, 5000, 16384, NULL);
	const char *req = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
	rwt_send_all(fd, req, strlen(req));
	wst_wait(s, r->ready == 1, 3000);
	rw_connid id = r->last_id;
	char head[512];
	size_t hn = 0;
	while (hn < 4 || memcmp(head + hn - 4, "\r\n\r\n", 4)) {
		cr_assert_eq(rwt_pump_recv(rw_wsserver_get_tcpserver(s), fd, head + hn, 1, 3000), 1);
		hn++;
	}
	cr_assert(strncmp(head, "HTTP/1.1 101", 12) == 0);
	uint8_t *chunk = malloc(65536);
	int rc = 0, full = 0;
	for (int i = 0; i < 2000 && rc == 0; i++) {
		rwt_pattern(1, x.off, chunk, 65536);
		rc = rw_wsserver_send_bytes(s, id, chunk, 65536);
		int64_t bs = rw_wsserver_get_bytes_sent(s, id);
		if (rc == 0) {
			cr_assert_eq(bs, 65536);
			full++;
		}
		x.off += (uint64_t)bs;
		if (rc == -RW_EWOULDBLOCK)
			x.left = 65536 - (size_t)bs;
		wst_pump_for(s, 2);
	}
	free(chunk);
	cr_assert_eq(rc, -RW_EWOULDBLOCK, "the queue never filled");
	cr_assert_gt(full, 3, "the kernel and the queue took %d messages", full);
	cr_assert_eq(rw_wsserver_get_ready_to_send(s, id), 0);
	/* A partial take leaves the message open: the next send continues it. */
	bool partial = x.left != 65536;
	int readies = r->ready;
	wst_pump_for(s, 100);
	cr_assert_eq(r->ready, readies, "no ReadyToSend while the client does not read");
	r->on_ready = send_rest;
	if (!partial)
		x.left = 0; /* nothing of the refused message was taken */
	/* The client reads: every byte accepted arrives, in whole messages. */
	int msgs;
	size_t total = (size_t)x.off + x.left;
	read_stream(s, fd, total, 1, &msgs);
	cr_assert_eq(x.left, 0);
	cr_assert_eq(msgs, full + (partial ? 1 : 0));
	cr_assert_geq(x.readies, 1, "ReadyToSend fired");
	wst_wait(s, rw_wsserver_get_ready_to_send(s, id) == 1, 3000);
	close(fd);
	END();
}

Test(ws_flow, blocking_send_with_timeout)
{
	GO("SendQueueLimit=65536");
	rw_connid id;
	int fd = wst_raw(s, r, port, NULL, &id);
	cr_assert_eq(rw_wsserver_set_timeout(s, id, 1), 0);
	/* A 32 MiB message to a client that never reads: blocks, then fails
	 * about a second after progress stops. */
	size_t n = 32u << 20;
	uint8_t *big = calloc(1, n);
	double t0 = rwt_now_ms();
	int rc = rw_wsserver_send_bytes(s, id, big, n);
	double dt = rwt_now_ms() - t0;
	cr_assert_eq(rc, -RW_ETIMEDOUT);
	cr_assert(dt >= 900 && dt < 10000, "%.0f ms", dt);
	cr_assert_eq(rw_wsserver_get_bytes_sent(s, id), 0, "BytesSent is 0 in blocking mode");
	free(big);
	close(fd);
	/* A cooperating client: a blocking 4 MiB send completes as one message. */
	wst_rec *r2 = r;
	(void)r2;
	END();
}

Test(ws_flow, accept_data_pauses_delivery)
{
	GO(NULL);
	rw_connid id;
	int fd = wst_raw(s, r, port, NULL, &id);
	cr_assert_eq(rw_wsserver_set_accept_data(s, id, false), 0);
	cr_assert_eq(rw_wsserver_get_accept_data(s, id), 0);
	wst_frame(fd, 0x81, "one", 3);
	wst_frame(fd, 0x89, "p", 1);
	wst_pump_for(s, 200);
	cr_assert_eq(r->data + r->pings, 0, "nothing while paused");
	rw_wsserver_set_accept_data(s, id, true);
	wst_wait(s, r->data == 1 && r->pings == 1, 2000);
	cr_assert_str_eq((char *)wst_nth(r, id, WE_DATA, 0)->data, "one");
	close(fd);
	END();
}

Test(ws_flow, clients_vanishing_mid_frame)
{
	GO(NULL);
	r->echo = true;
	rw_connid keep;
	int kfd = wst_raw(s, r, port, NULL, &keep);
	for (int i = 0; i < 20; i++) {
		rw_connid id;
		int fd = wst_raw(s, r, port, NULL, &id);
		/* a 1000-byte frame cut after a few payload bytes (or in the header) */
		static const uint8_t part[] = {0x82, 0xfe, 0x03, 0xe8, 1, 2, 3, 4, 9, 9, 9};
		rwt_send_all(fd, part, i % 2 ? sizeof(part) : 3);
		if (i % 3 == 0)
			rwt_close_rst(fd);
		else
			close(fd); /* FIN */
		wst_frame(kfd, 0x81, "alive", 5);
		uint8_t *p;
		size_t n;
		cr_assert_eq(wst_read_frame(s, kfd, &p, &n, NULL, 3000), 0x81);
		cr_assert(n == 5 && !memcmp(p, "alive", 5));
		free(p);
		wst_wait(s, wst_count(r, id, WE_DISC) == 1, 3000);
		cr_assert_eq(wst_nth(r, id, WE_DISC, 0)->code, 1006);
		/* Pieces of the cut frame may have been delivered, never its end. */
		for (int k = 0; k < wst_count(r, id, WE_DATA); k++)
			cr_assert_not(wst_nth(r, id, WE_DATA, k)->eom);
	}
	wst_pump_for(s, 100);
	cr_assert_eq(r->disc, 20);
	cr_assert_eq(rw_wsserver_get_connection_count(s), 1);
	close(kfd);
	END();
}

Test(ws_flow, thousand_concurrent_clients, .timeout = 240)
{
	cr_assert(wst_have_python_websockets(), "python3-websockets is missing");
	GO("MaxConnections=2000", "BufferMessage=True");
	r->echo = true;
	/* The recorder keeps counts; its event list is not needed. */
	const char *out = wst_python(s,
		"import asyncio, sys, websockets\n"
		"port = int(sys.argv[1]); N = 1000\n"
		"async def one(i, opened, go):\n"
		"    async with websockets.connect(f'ws://127.0.0.1:{port}/c{i}', open_timeout=60,\n"
		"                                  compression=None if i % 2 else 'deflate') as ws:\n"
		"        opened.append(i)\n"
		"        await go.wait()\n"
		"        for k in range(3):\n"
		"            m = f'{i}-{k}-' + 'x' * (i % 300)\n"
		"            await ws.send(m)\n"
		"            assert await ws.recv() == m\n"
		"        await ws.send(bytes([i % 256]) * 1000)\n"
		"        assert await ws.recv() == bytes([i % 256]) * 1000\n"
		"async def main():\n"
		"    opened = []; go = asyncio.Event()\n"
		"    tasks = [asyncio.create_task(one(i, opened, go)) for i in range(N)]\n"
		"    while len(opened) < N:\n"
		"        await asyncio.sleep(0.05)\n"
		"        if any(t.done() for t in tasks): break\n"
		"    print('open', len(opened), flush=True)\n"
		"    go.set()\n"
		"    res = await asyncio.gather(*tasks, return_exceptions=True)\n"
		"    bad = [r for r in res if r is not None]\n"
		"    print('done', N - len(bad), 'errors', len(bad), repr(bad[:3]))\n"
		"    sys.exit(1 if bad else 0)\n"
		"asyncio.run(main())\n",
		port, NULL, 200000);
	cr_assert(strstr(out, "open 1000"), "%s", out);
	cr_assert(strstr(out, "done 1000 errors 0"), "%s", out);
	wst_wait(s, r->disc == 1000, 30000);
	cr_assert_eq(r->connected, 1000);
	cr_assert_eq(r->data, 4000);
	cr_assert_eq(r->errors, 0);
	cr_assert_eq(rw_wsserver_get_connection_count(s), 0);
	END();
}

static char *temp_file(size_t n, uint64_t seed)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/rw-ws-file-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	uint8_t *d = malloc(n ? n : 1);
	rwt_pattern(seed, 0, d, n);
	cr_assert_eq(write(fd, d, n), (ssize_t)n);
	free(d);
	close(fd);
	return path;
}

Test(ws_flow, send_file_one_message)
{
	cr_assert(wst_have_python_websockets(), "python3-websockets is missing");
	GO("MaxFrameSize=100000");
	const char *path = temp_file(3u << 20, 5);
	rwt_proc p = {0};
	char ps[16];
	snprintf(ps, sizeof(ps), "%d", port);
	char *argv[] = {"/usr/bin/python3", "-c",
		"import asyncio, hashlib, sys, websockets\n"
		"async def main():\n"
		"    async with websockets.connect(f'ws://127.0.0.1:{sys.argv[1]}/', max_size=None) as ws:\n"
		"        m = await ws.recv()\n"
		"        print('got', type(m).__name__, len(m), hashlib.sha256(m).hexdigest())\n"
		"asyncio.run(main())\n",
		ps, NULL};
	cr_assert_eq(rwt_proc_spawn(&p, argv, false), 0);
	wst_wait(s, r->ready == 1, 10000);
	cr_assert_eq(rw_wsserver_send_file(s, r->last_id, path), 0);
	cr_assert(wst_pump_until(s, rwt_proc_done, &p, 20000));
	cr_assert_eq(p.exit_code, 0, "%s", p.out);
	char cmd[256], want[128] = "";
	snprintf(cmd, sizeof(cmd), "sha256sum %s", path);
	FILE *f = popen(cmd, "r");
	cr_assert(f && fscanf(f, "%64s", want) == 1);
	pclose(f);
	char line[256];
	snprintf(line, sizeof(line), "got bytes %u %s", 3u << 20, want);
	cr_assert(strstr(p.out, line), "%s\nwant %s", p.out, line);
	rwt_proc_free(&p);
	cr_assert_eq(rw_wsserver_send_file(s, r->last_id, "/nonexistent/file"), -RW_EINVALID_CONNID);
	unlink(path);
	END();
}

Test(ws_flow, send_file_timeout_keeps_the_stream_valid)
{
	GO("SendQueueLimit=65536");
	rw_connid id;
	int fd = wst_raw(s, r, port, NULL, &id);
	cr_assert_lt(rw_wsserver_send_file(s, id, "/nonexistent/file"), 0);
	const char *path = temp_file(64u << 20, 9);
	rw_wsserver_set_timeout(s, id, 1);
	double t0 = rwt_now_ms();
	cr_assert_eq(rw_wsserver_send_file(s, id, path), -RW_ETIMEDOUT);
	cr_assert_lt(rwt_now_ms() - t0, 15000);
	/* The client reads: a prefix of the file in frames, then an empty FIN
	 * frame that ends the message, and the connection still works. */
	size_t got = 0;
	uint8_t *exp = malloc(1 << 17);
	for (int i = 0;; i++) {
		uint8_t *p;
		size_t n;
		int b0 = wst_read_frame(s, fd, &p, &n, NULL, 5000);
		cr_assert_geq(b0, 0);
		cr_assert_eq(b0 & 0x0f, i == 0 ? 2 : 0);
		rwt_pattern(9, got, exp, n);
		cr_assert_eq(memcmp(p, exp, n), 0);
		got += n;
		free(p);
		if (b0 & 0x80) {
			cr_assert_eq(n, 0, "the message ends with an empty final frame");
			break;
		}
	}
	free(exp);
	cr_assert_gt(got, 0);
	cr_assert_lt(got, 64u << 20);
	rw_wsserver_set_timeout(s, id, 0);
	cr_assert_eq(rw_wsserver_send_text(s, id, "after"), 0);
	uint8_t *p;
	size_t n;
	cr_assert_eq(wst_read_frame(s, fd, &p, &n, NULL, 3000), 0x81);
	free(p);
	unlink(path);
	close(fd);
	END();
}

static void interrupt_on_stop(wst_rec *r, rw_wsserver *s, const rw_wsserver_data_in *e)
{
	if (e->text_len == 4 && !memcmp(e->text, "stop", 4))
		rw_wsserver_interrupt(s, *(rw_connid *)r->ctx);
}

Test(ws_flow, interrupt_stops_send_file_from_another_event)
{
	GO("SendQueueLimit=65536");
	rw_connid a, b;
	int fa = wst_raw(s, r, port, NULL, &a);
	int fb = wst_raw(s, r, port, NULL, &b);
	r->ctx = &a;
	r->on_data = interrupt_on_stop;
	const char *path = temp_file(64u << 20, 3);
	rw_wsserver_set_timeout(s, a, 10);
	/* B's "stop" is read by a loop turn inside the blocking SendFile. */
	wst_frame(fb, 0x81, "stop", 4);
	double t0 = rwt_now_ms();
	cr_assert_eq(rw_wsserver_send_file(s, a, path), -RW_EINTERRUPTED);
	cr_assert_lt(rwt_now_ms() - t0, 3000);
	cr_assert_eq(wst_count(r, b, WE_DATA), 1);
	/* A's message ends with an empty final frame; A still works. */
	for (int i = 0;; i++) {
		uint8_t *p;
		size_t n;
		int b0 = wst_read_frame(s, fa, &p, &n, NULL, 5000);
		cr_assert_geq(b0, 0);
		free(p);
		if (b0 & 0x80) {
			cr_assert_eq(n, 0);
			break;
		}
	}
	rw_wsserver_set_timeout(s, a, 0);
	cr_assert_eq(rw_wsserver_send_text(s, a, "next"), 0);
	uint8_t *p;
	size_t n;
	cr_assert_eq(wst_read_frame(s, fa, &p, &n, NULL, 3000), 0x81);
	free(p);
	unlink(path);
	close(fa);
	close(fb);
	END();
}
