/* tests/integration/test_tcp_send.c: what the send entry points deliver (spec
 * §7.1, §11 items 22-23): SendLine, SendText, SendBytes, send_owned and
 * SendFile of 100 MiB while another connection keeps echoing. */
#include "helpers/rwtest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

TestSuite(send, .timeout = 90);

struct one {
	rwt_rec rec;
	rw_tcpserver *s;
	int fd;
	rw_connid id;
};

static void one_start(struct one *o)
{
	rwt_rec_init(&o->rec);
	o->s = rwt_server_new(&o->rec);
	int port = rwt_server_start(o->s);
	o->fd = rwt_connect_ready(o->s, &o->rec, port, 10000, 0, &o->id);
}

/* everything the client receives until EOF, after the server disconnects */
static uint8_t *one_collect(struct one *o, size_t *len)
{
	cr_assert_eq(rw_tcpserver_disconnect(o->s, o->id), 0);
	size_t cap = 1 << 16, n = 0;
	uint8_t *buf = malloc(cap);
	for (;;) {
		size_t k = rwt_pump_recv(o->s, o->fd, buf + n, cap - n, 5000);
		n += k;
		if (n < cap)
			break;
		cap *= 2;
		buf = realloc(buf, cap);
	}
	cr_expect_eq(rwt_pump_recv_end(o->s, o->fd, 5000), 0, "EOF after the data");
	*len = n;
	return buf;
}

static void one_end(struct one *o)
{
	close(o->fd);
	pump_until_ge(o->s, &o->rec.disconnected, 1, 5000);
	rwt_server_end(o->s, &o->rec);
}

Test(send, send_line_hi_is_exactly_hi_crlf)
{
	struct one o;
	one_start(&o);
	cr_assert_eq(rw_tcpserver_send_line(o.s, o.id, "hi"), 0);
	size_t n;
	uint8_t *got = one_collect(&o, &n);
	cr_expect(n == 4 && memcmp(got, "hi\r\n", 4) == 0, "got %zu bytes [%s]", n, rwt_hex(got, n));
	free(got);
	one_end(&o);
}

/* BytesSent is "bytes taken by the last send call": SendLine takes the text
 * and the CRLF (4 bytes for "hi"). */
Test(send, send_line_bytes_sent_counts_the_crlf)
{
	struct one o;
	one_start(&o);
	cr_assert_eq(rw_tcpserver_send_line(o.s, o.id, "hi"), 0);
	int64_t bs = rw_tcpserver_get_bytes_sent(o.s, o.id);
	cr_expect_eq(bs, 4, "BytesSent after SendLine(\"hi\"): %lld, expected 4 (\"hi\\r\\n\" taken)", (long long)bs);
	char b[4];
	cr_expect_eq(rwt_pump_recv(o.s, o.fd, b, 4, 5000), 4);
	one_end(&o);
}

Test(send, send_text_send_bytes_send_line_in_order)
{
	struct one o;
	one_start(&o);
	static const char text[] = "gr\xc3\xbc\xc3\x9f dich \xe2\x82\xac";
	static const uint8_t bin[] = {0, 1, 2, 0, 255, 0, '\r', '\n', 0};
	cr_assert_eq(rw_tcpserver_send_text(o.s, o.id, text), 0);
	cr_expect_eq(rw_tcpserver_get_bytes_sent(o.s, o.id), (int64_t)strlen(text));
	cr_assert_eq(rw_tcpserver_send_bytes(o.s, o.id, bin, sizeof(bin)), 0);
	cr_assert_eq(rw_tcpserver_send(o.s, o.id, "", 0), 0, "a zero-length send returns 0");
	cr_assert_eq(rw_tcpserver_send_text(o.s, o.id, ""), 0);
	cr_assert_eq(rw_tcpserver_send_line(o.s, o.id, ""), 0);
	cr_assert_eq(rw_tcpserver_send(o.s, o.id, "end", 3), 0);
	size_t n;
	uint8_t *got = one_collect(&o, &n);
	size_t want_len = strlen(text) + sizeof(bin) + 2 + 3;
	uint8_t *want = malloc(want_len), *p = want;
	memcpy(p, text, strlen(text));
	p += strlen(text);
	memcpy(p, bin, sizeof(bin));
	p += sizeof(bin);
	memcpy(p, "\r\nend", 5);
	cr_expect(n == want_len && memcmp(got, want, n) == 0, "got %zu bytes [%s]", n, rwt_hex(got, n));
	free(got);
	free(want);
	one_end(&o);
}

static void release_count(const void *data, void *arg)
{
	(*(int *)arg)++;
}

Test(send, send_owned_releases_once)
{
	struct one o;
	one_start(&o);
	size_t n = 3u << 20; /* beyond SendQueueLimit: owned bytes do not count */
	uint8_t *data = rwt_random(n, 8);
	int released = 0;
	cr_assert_eq(rw_tcpserver_send_owned(o.s, o.id, data, n, release_count, &released), 0);
	cr_assert_eq(rw_tcpserver_send(o.s, o.id, "tail", 4), 0, "a copy send queues after the owned buffer");
	uint8_t *got = malloc(n + 4);
	size_t k = rwt_pump_recv(o.s, o.fd, got, n + 4, 20000);
	cr_expect_eq(k, n + 4);
	cr_expect_eq(memcmp(got, data, n), 0, "owned bytes differ");
	cr_expect_eq(memcmp(got + n, "tail", 4), 0);
	/* release fires from a later do_events once the kernel is done */
	pump_until_ge(o.s, &released, 1, 5000);
	rwt_pump_for(o.s, 100);
	cr_expect_eq(released, 1);
	free(got);
	one_end(&o);
	cr_expect_eq(released, 1);
	free(data);
}

Test(send, send_owned_released_when_the_connection_dies)
{
	struct one o;
	one_start(&o);
	size_t n = 16u << 20;
	uint8_t *data = calloc(1, n);
	int released = 0;
	cr_assert_eq(rw_tcpserver_send_owned(o.s, o.id, data, n, release_count, &released), 0);
	rwt_close_rst(o.fd);
	o.fd = -1;
	pump_until_ge(o.s, &o.rec.disconnected, 1, 5000);
	pump_until_ge(o.s, &released, 1, 5000);
	RWT_ASSERT_CLEAN(&o.rec);
	rw_tcpserver_free(o.s);
	cr_expect_eq(released, 1, "release must run exactly once");
	rwt_rec_free(&o.rec);
	free(data);
}

/* ---- SendFile ------------------------------------------------------------------------- */

#define FILE_SEED 4242
static char file_path[64];

static void make_file(size_t size)
{
	snprintf(file_path, sizeof(file_path), "/tmp/rw-it-sendfile-XXXXXX");
	int fd = mkstemp(file_path);
	cr_assert(fd >= 0);
	size_t chunk = 1u << 20;
	uint8_t *buf = malloc(chunk);
	for (size_t off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		rwt_pattern(FILE_SEED, off, buf, n);
		cr_assert_eq(write(fd, buf, n), (ssize_t)n);
	}
	free(buf);
	close(fd);
}

static void drop_file(void)
{
	if (file_path[0])
		unlink(file_path);
	file_path[0] = 0;
}

struct file_reader {
	int fd;
	size_t total, got;
};

static void file_reader_thread(rwt_thread *t)
{
	struct file_reader *rd = t->arg;
	size_t bufsz = 1u << 20;
	uint8_t *buf = malloc(bufsz), *want = malloc(bufsz);
	while (rd->got < rd->total) {
		ssize_t k = recv(rd->fd, buf, bufsz, 0);
		if (k <= 0) {
			rwt_fail(t, "recv at %zu of %zu: %s", rd->got, rd->total, k == 0 ? "EOF" : strerror(errno));
			break;
		}
		if (rd->got + (size_t)k > rd->total) {
			rwt_fail(t, "more than the file: %zu", rd->got + (size_t)k);
			break;
		}
		rwt_pattern(FILE_SEED, rd->got, want, (size_t)k);
		if (memcmp(buf, want, (size_t)k) != 0) {
			rwt_fail(t, "file bytes differ in [%zu, +%zd)", rd->got, k);
			break;
		}
		rd->got += (size_t)k;
		atomic_store(&t->progress, (long long)rd->got);
	}
	atomic_store(&t->flag, 1);
	free(buf);
	free(want);
}

struct sf {
	rw_connid file_id, echo_id;
	rwt_thread *reader;
	bool file_queued;
	int echo_during; /* echo DataIn while the file was in transfer */
	int ready_after_file;
};

static void sf_data(rwt_rec *r, rw_tcpserver *s, const rw_tcpserver_data_in *e)
{
	struct sf *c = r->ctx;
	if (e->connection_id != c->echo_id)
		return;
	if (c->file_queued && !atomic_load(&c->reader->flag))
		c->echo_during++;
	int rc = rw_tcpserver_send(s, e->connection_id, e->text, e->text_len);
	if (rc != 0)
		snprintf(r->echo_error, sizeof(r->echo_error), "echo: %d", rc);
}

static void sf_ready(rwt_rec *r, rw_tcpserver *s, const rw_tcpserver_ready_to_send *e)
{
	struct sf *c = r->ctx;
	if (e->connection_id == c->file_id && c->file_queued)
		c->ready_after_file++;
}

Test(send, send_file_100MiB_while_another_connection_echoes, .fini = drop_file)
{
	size_t size = 100u << 20;
	make_file(size);
	rwt_rec rec;
	rwt_rec_init(&rec);
	struct sf c = {0};
	rec.ctx = &c;
	rec.on_data = sf_data;
	rec.on_ready = sf_ready;
	rw_tcpserver *s = rwt_server_new(&rec);
	int port = rwt_server_start(s);
	int ff = rwt_connect_ready(s, &rec, port, 20000, 0, &c.file_id);
	int fe = rwt_connect_ready(s, &rec, port, 20000, 0, &c.echo_id);

	struct file_reader rd = {.fd = ff, .total = size};
	rwt_thread tr = {0}, tp = {0};
	rwt_thread_start(&tr, file_reader_thread, &rd);
	c.reader = &tr;
	rwt_pinger pg = {.fd = fe, .until = &tr, .max_pings = 1000000};
	rwt_thread_start(&tp, rwt_pinger_thread, &pg);

	double t0 = rwt_now_ms();
	int rc = rw_tcpserver_send_file(s, c.file_id, file_path);
	double dt_call = rwt_now_ms() - t0;
	cr_assert_eq(rc, 0, "send_file: %d (%s)", rc, rw_strerror(rc));
	c.file_queued = true;
	cr_expect(dt_call < 1000, "send_file with Timeout=0 took %.0f ms: it must not block", dt_call);
	rwt_thread_finish(s, &tr, 60000);
	double dt = rwt_now_ms() - t0;
	pump_until_ge(s, &c.ready_after_file, 1, 10000);
	rwt_thread_finish(s, &tp, 15000);
	cr_expect_eq(rd.got, size);
	cr_expect(c.echo_during >= 3, "only %d echoes during the %.0f ms transfer: the loop looks blocked",
	          c.echo_during, dt);
	cr_expect_eq(c.ready_after_file, 1, "ReadyToSend fires once at the end of the file");
	cr_log_info("100 MiB SendFile: %.0f ms, %d echoes on the other connection during it", dt, c.echo_during);
	rwt_close_all_end(s, &rec, (int[]){ff, fe}, 2, 2);
	drop_file();
}

struct recv_job {
	int fd;
	uint8_t *buf;
	size_t n;
	ssize_t got;
};

static void recv_fn(rwt_thread *th)
{
	struct recv_job *job = th->arg;
	job->got = rwt_recv_n(job->fd, job->buf, job->n);
	if (job->got < 0)
		rwt_fail(th, "recv: %s", strerror((int)-job->got));
}

/* Data queued before SendFile goes first; data sent after it comes after. */
Test(send, send_file_ordered_with_sends_and_blocking_mode, .fini = drop_file)
{
	size_t size = 3u << 20;
	make_file(size);
	struct one o;
	one_start(&o);
	cr_assert_eq(rw_tcpserver_send(o.s, o.id, "HEAD", 4), 0);
	cr_assert_eq(rw_tcpserver_set_timeout(o.s, o.id, 10), 0);
	/* Timeout > 0: the call returns after the whole file was handed over; the
	 * client reads in a thread meanwhile. */
	uint8_t *got = malloc(size + 8);
	size_t total = 4 + size + 4;
	rwt_thread t = {0};
	struct recv_job job = {.fd = o.fd, .buf = got, .n = total};
	rwt_thread_start(&t, recv_fn, &job);
	int rc = rw_tcpserver_send_file(o.s, o.id, file_path);
	cr_expect_eq(rc, 0, "blocking send_file: %d (%s)", rc, rw_strerror(rc));
	cr_assert_eq(rw_tcpserver_set_timeout(o.s, o.id, 0), 0);
	cr_assert_eq(rw_tcpserver_send(o.s, o.id, "TAIL", 4), 0);
	rwt_thread_finish(o.s, &t, 20000);
	cr_assert_eq(job.got, (ssize_t)total);
	uint8_t *want = malloc(size);
	rwt_pattern(FILE_SEED, 0, want, size);
	cr_expect_eq(memcmp(got, "HEAD", 4), 0);
	cr_expect_eq(memcmp(got + 4, want, size), 0, "file bytes differ");
	cr_expect_eq(memcmp(got + 4 + size, "TAIL", 4), 0);
	free(want);
	free(got);
	one_end(&o);
	drop_file();
}

Test(send, send_file_missing_file)
{
	struct one o;
	one_start(&o);
	int rc = rw_tcpserver_send_file(o.s, o.id, "/tmp/rw-it-no-such-file-here");
	cr_expect_eq(rc, -(20000 + ENOENT), "send_file of a missing file: %d", rc);
	cr_expect_eq(rw_tcpserver_get_connected(o.s, o.id), 1);
	cr_expect_eq(rw_tcpserver_send_line(o.s, o.id, "ok"), 0);
	char b[4];
	cr_expect_eq(rwt_pump_recv(o.s, o.fd, b, 4, 5000), 4);
	cr_expect_eq(memcmp(b, "ok\r\n", 4), 0);
	one_end(&o);
}

/* Blocking SendFile (Timeout > 0) to a client that never reads: Interrupt
 * from another connection's DataIn stops it with -RW_EINTERRUPTED; a Timeout
 * stops it with -RW_ETIMEDOUT; either way the connection stays open. */
struct sfi {
	rw_connid x, y;
	int interrupts, interrupt_rc;
};

static void sfi_data(rwt_rec *r, rw_tcpserver *s, const rw_tcpserver_data_in *e)
{
	struct sfi *c = r->ctx;
	if (e->connection_id == c->y) {
		c->interrupt_rc = rw_tcpserver_interrupt(s, c->x);
		c->interrupts++;
	}
}

static void go_send(rwt_thread *t)
{
	int fd = *(int *)t->arg;
	if (!rwt_thread_wait_go(t, 20000))
		rwt_fail(t, "no go");
	else if (rwt_send_all(fd, "stop", 4) < 0)
		rwt_fail(t, "send");
}

/* Server with X (small receive buffer, never reads) and Y (its DataIn
 * interrupts X), X's send Timeout set to timeout_s for the blocking send_file. */
static void sfi_setup(rwt_rec *rec, struct sfi *c, rw_tcpserver **sp, int *fx, int *fy, int timeout_s)
{
	rwt_rec_init(rec);
	rec->ctx = c;
	rec->on_data = sfi_data;
	rw_tcpserver *s = rwt_server_new(rec);
	int port = rwt_server_start(s);
	*fx = rwt_connect_ready(s, rec, port, 10000, 16384, &c->x);
	*fy = rwt_connect_ready(s, rec, port, 10000, 0, &c->y);
	cr_assert_eq(rw_tcpserver_set_timeout(s, c->x, timeout_s), 0);
	*sp = s;
}

/* The blocking send_file of the test file to X; *dt is how long it took. */
static int sfi_timed_send_file(rw_tcpserver *s, struct sfi *c, double *dt)
{
	double t0 = rwt_now_ms();
	int rc = rw_tcpserver_send_file(s, c->x, file_path);
	*dt = rwt_now_ms() - t0;
	return rc;
}

Test(send, blocking_send_file_interrupted, .fini = drop_file)
{
	make_file(32u << 20);
	rwt_rec rec;
	struct sfi c = {0};
	rw_tcpserver *s;
	int fx, fy;
	sfi_setup(&rec, &c, &s, &fx, &fy, 30);
	rwt_thread t = {0};
	rwt_thread_start(&t, go_send, &fy);
	rwt_thread_go(&t);
	double dt;
	int rc = sfi_timed_send_file(s, &c, &dt);
	cr_expect_eq(rc, -RW_EINTERRUPTED, "interrupted send_file: %d (%s) after %.0f ms", rc, rw_strerror(rc), dt);
	cr_expect_eq(c.interrupts, 1);
	cr_expect_eq(c.interrupt_rc, 0);
	cr_expect_eq(rw_tcpserver_get_connected(s, c.x), 1, "the connection stays open after Interrupt");
	rwt_thread_finish(s, &t, 5000);
	rwt_close_all_end(s, &rec, (int[]){fx, fy}, 2, 2);
	drop_file();
}

Test(send, blocking_send_file_times_out, .fini = drop_file)
{
	make_file(32u << 20);
	rwt_rec rec;
	struct sfi c = {0};
	rw_tcpserver *s;
	int fx, fy;
	sfi_setup(&rec, &c, &s, &fx, &fy, 1);
	double dt;
	int rc = sfi_timed_send_file(s, &c, &dt);
	cr_expect_eq(rc, -RW_ETIMEDOUT, "send_file to a client that never reads: %d (%s)", rc, rw_strerror(rc));
	cr_expect(dt >= 900 && dt < 6000, "timed out after %.0f ms with Timeout=1", dt);
	cr_expect_eq(rw_tcpserver_get_connected(s, c.x), 1);
	cr_expect_eq(rwt_conn_get(&rec, c.x)->disconnected_n, 0);
	rwt_close_all_end(s, &rec, (int[]){fx, fy}, 2, 2);
	drop_file();
}
