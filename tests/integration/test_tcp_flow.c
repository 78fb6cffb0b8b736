/* tests/integration/test_tcp_flow.c: flow control (spec §7.2-7.3, §8, §11
 * items 21, 24, 25): PauseData / ProcessData / AcceptData, a pause taken
 * inside DataIn between lines of one buffer, and asynchronous backpressure:
 * -RW_EWOULDBLOCK with BytesSent, the ReadyToSend property and event, and
 * byte-exact delivery of a stream re-sent by the application. */
#include "helpers/rwtest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

TestSuite(flow, .timeout = 60);

/* ---- PauseData holds data; ProcessData delivers all of it in order ---------------- */

struct pause_ctx {
	rw_connid echo_id; /* the unaffected connection: echo */
};

static void echo_one(rwt_rec *r, rw_tcpserver *s, const rw_tcpserver_data_in *e)
{
	struct pause_ctx *c = r->ctx;
	if (e->connection_id == c->echo_id)
		cr_assert_eq(rw_tcpserver_send(s, e->connection_id, e->text, e->text_len), 0);
}

struct sender {
	int fd;
	const uint8_t *data;
	size_t len;
};

static void send_thread(rwt_thread *t)
{
	struct sender *sd = t->arg;
	size_t off = 0;
	while (off < sd->len) {
		size_t n = sd->len - off < 65536 ? sd->len - off : 65536;
		int rc = rwt_send_all(sd->fd, sd->data + off, n);
		if (rc < 0) {
			rwt_fail(t, "send at %zu: %s", off, strerror(-rc));
			return;
		}
		off += n;
		atomic_store(&t->progress, (long long)off);
	}
}

static bool progress_or_done(void *p)
{
	rwt_thread *t = p;
	return atomic_load(&t->progress) >= 256 * 1024 || rwt_thread_done(t);
}

Test(flow, pause_holds_data_process_delivers_in_order)
{
	rwt_rec rec;
	rwt_rec_init(&rec);
	struct pause_ctx pc = {0};
	rec.ctx = &pc;
	rec.on_data = echo_one;
	rw_tcpserver *s = rwt_server_new(&rec);
	int port = rwt_server_start(s);

	rw_connid a;
	int fa = rwt_connect_ready(s, &rec, port, 20000, 0, &a);
	cr_expect_eq(rw_tcpserver_get_accept_data(s, a), 1);
	cr_assert_eq(rw_tcpserver_pause_data(s, a), 0);
	cr_expect_eq(rw_tcpserver_get_accept_data(s, a), 0, "AcceptData reads 0 while paused");
	cr_expect_eq(rw_tcpserver_pause_data(s, a), 0, "PauseData is idempotent");
	cr_expect_eq(rw_tcpserver_get_accept_data(s, a), 0);

	int fb = rwt_connect_ready(s, &rec, port, 5000, 0, &pc.echo_id);

	size_t len = 1u << 20;
	uint8_t *data = rwt_random(len, 21);
	struct sender sd = {.fd = fa, .data = data, .len = len};
	rwt_thread t = {0};
	rwt_thread_start(&t, send_thread, &sd);
	pump_until(s, progress_or_done, &t, 10000);
	cr_expect(rwt_pump_echo(s, fb, "other", 5, 5000), "the other connection is unaffected");
	/* observation window: the client keeps sending, nothing may arrive */
	rwt_pump_for(s, 300);
	cr_expect(rwt_pump_echo(s, fb, "still", 5, 5000), "the other connection is unaffected");
	cr_expect_eq(rwt_conn_get(&rec, a)->data_events, 0, "DataIn fired while paused (%zu bytes)",
	             rwt_conn_get(&rec, a)->data_bytes);
	cr_expect_eq(rw_tcpserver_get_accept_data(s, a), 0);

	/* resume through the AcceptData property */
	cr_assert_eq(rw_tcpserver_set_accept_data(s, a, true), 0);
	cr_expect_eq(rw_tcpserver_get_accept_data(s, a), 1, "AcceptData reads 1 after ProcessData");
	cr_expect_eq(rw_tcpserver_process_data(s, a), 0, "ProcessData is idempotent");
	rwt_thread_finish(s, &t, 20000);
	pump_until_ge(s, &rwt_conn_get(&rec, a)->data_bytes, len, 10000);
	size_t got;
	uint8_t *all = rwt_data_concat(&rec, a, &got);
	cr_expect_eq(got, len);
	cr_expect_eq(memcmp(all, data, len), 0, "withheld data delivered out of order or altered");
	free(all);
	free(data);
	rwt_close_all_end(s, &rec, (int[]){fa, fb}, 2, 2);
}

/* PauseData inside DataIn stops the next lines of the same buffer at once. */
static void pause_first(rwt_rec *r, rw_tcpserver *s, const rw_tcpserver_data_in *e)
{
	if (r->data_events == 1) {
		cr_assert_eq(rw_tcpserver_pause_data(s, e->connection_id), 0);
		cr_assert_eq(rw_tcpserver_get_accept_data(s, e->connection_id), 0);
	}
}

Test(flow, pause_inside_data_in_between_lines)
{
	rwt_rec rec;
	rwt_rec_init(&rec);
	rec.on_data = pause_first;
	rw_tcpserver *s = rwt_server_new(&rec);
	cr_assert_eq(rw_tcpserver_set_default_eol(s, "\n", 1), 0);
	int port = rwt_server_start(s);
	rw_connid id;
	int fd = rwt_connect_ready(s, &rec, port, 5000, 0, &id);
	cr_assert_eq(rwt_send_all(fd, "1\n2\n3\n", 6), 0);
	pump_until_ge(s, &rec.data_events, 1, 5000);
	rwt_pump_for(s, 200);
	cr_expect_eq(rec.data_events, 1, "lines 2 and 3 were delivered while paused");
	cr_assert_eq(rw_tcpserver_process_data(s, id), 0);
	pump_until_ge(s, &rec.data_events, 3, 5000);
	for (int i = 0; i < 3; i++) {
		const rwt_event *e = rwt_ev_nth(&rec, id, RWT_DATA, (size_t)i);
		char want = (char)('1' + i);
		cr_expect(e->len == 1 && e->data[0] == want && e->eol, "line %d: [%s]", i, rwt_hex(e->data, e->len));
	}
	rwt_close_all_end(s, &rec, &fd, 1, 1);
}

/* ---- asynchronous backpressure ------------------------------------------------------- */

#define QLIMIT 65536
#define TOTAL (4u << 20)
#define CHUNK (1u << 20)
#define SEED 77

struct bp {
	rw_connid id;
	uint8_t *stream;
	size_t off;          /* bytes taken so far */
	int wouldblock;      /* -RW_EWOULDBLOCK results */
	int ready_after_block;
	int ready_prop_in_event; /* ReadyToSend property read inside the event: min */
	bool blocked;
	char err[256];
};

/* Send chunks until -RW_EWOULDBLOCK or the end of the stream; every call's
 * BytesSent is checked against the call's outcome. */
static void bp_feed(rw_tcpserver *s, struct bp *b)
{
	for (int guard = 0; guard < 1000 && b->off < TOTAL; guard++) {
		size_t n = TOTAL - b->off < CHUNK ? TOTAL - b->off : CHUNK;
		int rc = rw_tcpserver_send(s, b->id, b->stream + b->off, n);
		int64_t bs = rw_tcpserver_get_bytes_sent(s, b->id);
		if (rc == 0) {
			if (bs != (int64_t)n && !b->err[0])
				snprintf(b->err, sizeof(b->err), "send of %zu returned 0 but BytesSent %lld", n, (long long)bs);
			b->off += n;
			continue;
		}
		if (rc != -RW_EWOULDBLOCK) {
			if (!b->err[0])
				snprintf(b->err, sizeof(b->err), "send: %d (%s)", rc, rw_strerror(rc));
			return;
		}
		if ((bs < 0 || bs > QLIMIT || bs >= (int64_t)n) && !b->err[0])
			snprintf(b->err, sizeof(b->err), "WOULDBLOCK with BytesSent %lld (limit %d, call %zu)",
			         (long long)bs, QLIMIT, n);
		if (rw_tcpserver_get_ready_to_send(s, b->id) != 0 && !b->err[0])
			snprintf(b->err, sizeof(b->err), "ReadyToSend reads %d after WOULDBLOCK",
			         rw_tcpserver_get_ready_to_send(s, b->id));
		if (bs > 0)
			b->off += (size_t)bs;
		b->wouldblock++;
		b->blocked = true;
		return;
	}
}

static void bp_ready(rwt_rec *r, rw_tcpserver *s, const rw_tcpserver_ready_to_send *e)
{
	struct bp *b = r->ctx;
	if (e->connection_id != b->id || !b->blocked)
		return;
	b->ready_after_block++;
	int prop = rw_tcpserver_get_ready_to_send(s, b->id);
	if (prop < b->ready_prop_in_event)
		b->ready_prop_in_event = prop;
	b->blocked = false;
	bp_feed(s, b);
}

struct reader {
	int fd;
	size_t total;
	uint64_t seed;
	char fill;       /* when non-zero: expect this byte instead of the pattern */
	const char *tail; /* when set: read until the data ends with it */
	size_t got;
};

static void reader_thread(rwt_thread *t)
{
	struct reader *rd = t->arg;
	size_t bufsz = 256 * 1024;
	uint8_t *buf = malloc(bufsz), *want = malloc(bufsz);
	while (rd->got < rd->total) {
		size_t n = rd->total - rd->got < bufsz ? rd->total - rd->got : bufsz;
		ssize_t k = recv(rd->fd, buf, n, 0);
		if (k <= 0) {
			rwt_fail(t, "recv at %zu of %zu: %s", rd->got, rd->total, k == 0 ? "EOF" : strerror(errno));
			break;
		}
		rwt_pattern(rd->seed, rd->got, want, (size_t)k);
		if (memcmp(buf, want, (size_t)k) != 0) {
			rwt_fail(t, "stream differs in [%zu, %zu)", rd->got, rd->got + (size_t)k);
			break;
		}
		rd->got += (size_t)k;
		atomic_store(&t->progress, (long long)rd->got);
	}
	if (!t->err[0]) {
		/* exactly once: nothing more may arrive */
		struct timeval tv = {.tv_sec = 0, .tv_usec = 300000};
		setsockopt(rd->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		ssize_t k = recv(rd->fd, buf, 1, 0);
		if (k > 0)
			rwt_fail(t, "extra bytes after the %zu expected", rd->total);
	}
	free(buf);
	free(want);
}

Test(flow, async_backpressure_wouldblock_ready_to_send_exact_stream)
{
	rwt_rec rec;
	rwt_rec_init(&rec);
	struct bp b = {0};
	b.ready_prop_in_event = 1;
	rec.ctx = &b;
	rec.on_ready = bp_ready;
	rw_tcpserver *s = rwt_server_new(&rec);
	rwt_config(s, "SendQueueLimit=65536");
	rwt_config(s, "OutBufferSize=16384");
	int port = rwt_server_start(s);
	int fd = rwt_connect_ready(s, &rec, port, 20000, 16384, &b.id);
	b.stream = malloc(TOTAL);
	rwt_pattern(SEED, 0, b.stream, TOTAL);
	cr_expect_eq(rw_tcpserver_get_ready_to_send(s, b.id), 1);

	/* the client does not read: the first 1 MiB call already hits the limit */
	bp_feed(s, &b);
	cr_assert_eq(b.err[0], 0, "%s", b.err);
	cr_assert_eq(b.wouldblock, 1, "no WOULDBLOCK although the client does not read");
	cr_expect(b.off <= QLIMIT, "the first call took %zu bytes, more than SendQueueLimit", b.off);
	cr_expect_eq(rw_tcpserver_get_ready_to_send(s, b.id), 0);

	/* the loop turns, the client still does not read: the amount taken stays
	 * bounded (queue limit plus what the kernel's small buffers hold) */
	rwt_pump_for(s, 300);
	cr_assert_eq(b.err[0], 0, "%s", b.err);
	cr_expect(b.off < 1024 * 1024, "%zu bytes taken while the client reads nothing", b.off);
	size_t before_read = b.off;

	/* now the client reads everything */
	struct reader rd = {.fd = fd, .total = TOTAL, .seed = SEED};
	rwt_thread t = {0};
	rwt_thread_start(&t, reader_thread, &rd);
	rwt_thread_finish(s, &t, 30000);
	cr_assert_eq(b.err[0], 0, "%s", b.err);
	cr_expect_eq(b.off, TOTAL);
	cr_expect(b.ready_after_block >= 1, "ReadyToSend never fired after WOULDBLOCK");
	cr_expect_eq(b.ready_prop_in_event, 1, "the ReadyToSend property read 0 inside the ReadyToSend event");
	cr_expect(b.wouldblock >= 2 || before_read + (size_t)QLIMIT >= TOTAL, "WOULDBLOCK count %d", b.wouldblock);
	cr_expect_eq(rw_tcpserver_get_ready_to_send(s, b.id), 1);
	cr_expect_eq(rd.got, TOTAL);
	close(fd);
	pump_until_ge(s, &rec.disconnected, 1, 5000);
	free(b.stream);
	rwt_server_end(s, &rec);
}

/* A send with zero bytes taken: ReadyToSend still fires once the queue
 * drains, and SendLine is all-or-nothing. */
Test(flow, send_line_all_or_nothing_under_backpressure)
{
	rwt_rec rec;
	rwt_rec_init(&rec);
	rw_tcpserver *s = rwt_server_new(&rec);
	rwt_config(s, "SendQueueLimit=65536");
	rwt_config(s, "OutBufferSize=16384");
	int port = rwt_server_start(s);
	rw_connid id;
	int fd = rwt_connect_ready(s, &rec, port, 20000, 16384, &id);
	/* fill: 'a' bytes until WOULDBLOCK */
	size_t n = 1u << 20, taken = 0;
	uint8_t *fill = malloc(n);
	memset(fill, 'a', n);
	int rc = rw_tcpserver_send(s, id, fill, n);
	cr_assert_eq(rc, -RW_EWOULDBLOCK);
	taken += (size_t)rw_tcpserver_get_bytes_sent(s, id);
	/* the queue is full now: a line longer than the free space is not taken */
	char *line = malloc(60001);
	memset(line, 'L', 60000);
	line[60000] = 0;
	rc = rw_tcpserver_send_line(s, id, line);
	cr_expect_eq(rc, -RW_EWOULDBLOCK, "SendLine into a full queue: %d", rc);
	cr_expect_eq(rw_tcpserver_get_bytes_sent(s, id), 0, "SendLine is all-or-nothing");
	int ready_before = rec.ready;
	/* the client drains: ReadyToSend fires */
	uint8_t *buf = malloc(taken + 1);
	size_t got = rwt_pump_recv(s, fd, buf, taken, 10000);
	cr_expect_eq(got, taken);
	for (size_t i = 0; i < got; i++)
		if (buf[i] != 'a')
			cr_assert_fail("byte %zu is %02x", i, buf[i]);
	pump_until_ge(s, &rec.ready, ready_before + 1, 5000);
	cr_expect_eq(rw_tcpserver_get_ready_to_send(s, id), 1);
	cr_expect_eq(rw_tcpserver_send_line(s, id, "tail"), 0);
	char tail[6];
	cr_expect_eq(rwt_pump_recv(s, fd, tail, 6, 5000), 6);
	cr_expect_eq(memcmp(tail, "tail\r\n", 6), 0, "only the later line arrives: [%s]", rwt_hex(tail, 6));
	free(buf);
	free(fill);
	free(line);
	rwt_close_all_end(s, &rec, &fd, 1, 1);
}

/* ReadyToSend fires once after the connection is established and not after
 * sends that were taken completely; no event fires from inside a Timeout = 0
 * send or from stop_listening. */
Test(flow, ready_to_send_not_fired_after_successful_sends)
{
	rwt_rec rec;
	rwt_rec_init(&rec);
	rw_tcpserver *s = rwt_server_new(&rec);
	int port = rwt_server_start(s);
	rw_connid id;
	int fd = rwt_connect_ready(s, &rec, port, 5000, 0, &id);
	cr_assert_eq(rwt_send_all(fd, "data", 4), 0); /* data waits in the kernel */
	size_t total = 0;
	for (int i = 0; i < 20; i++) {
		char msg[32];
		int n = snprintf(msg, sizeof(msg), "message %d;", i);
		size_t before = rec.n;
		cr_assert_eq(rw_tcpserver_send(s, id, msg, (size_t)n), 0);
		cr_expect_eq(rec.n, before, "an event fired from inside send");
		cr_expect_eq(rw_tcpserver_get_bytes_sent(s, id), n);
		total += (size_t)n;
	}
	char *buf = malloc(total);
	cr_expect_eq(rwt_pump_recv(s, fd, buf, total, 5000), total);
	pump_until_ge(s, &rec.data_bytes, 4, 5000);
	size_t before = rec.n;
	cr_assert_eq(rw_tcpserver_stop_listening(s), 0);
	cr_expect_eq(rec.n, before, "an event fired from inside stop_listening");
	rwt_pump_for(s, 150);
	cr_expect_eq(rwt_ev_count(&rec, id, RWT_READY), 1, "ReadyToSend fired after complete sends");
	free(buf);
	rwt_close_all_end(s, &rec, &fd, 1, 1);
}
