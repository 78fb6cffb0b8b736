/* tests/integration/test_tcp_sync.c: synchronous sends (Timeout > 0, spec
 * §7.4-7.5, §11 items 26-28): a blocking 8 MiB send to a slow reader returns 0
 * with BytesSent 0 while another connection's events keep firing; a client
 * that never reads gives -RW_ETIMEDOUT and the connection stays open;
 * Interrupt from another connection's DataIn gives -RW_EINTERRUPTED. */
#include "helpers/rwtest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

TestSuite(sync, .timeout = 60);

struct two {
	rw_connid x, y;
	int interrupt_rc;
	int interrupts;
	int y_data_in_send;
};

/* Y echoes; a line "stop" on Y interrupts X's blocked send. */
static void y_data(rwt_rec *r, rw_tcpserver *s, const rw_tcpserver_data_in *e)
{
	struct two *c = r->ctx;
	if (e->connection_id != c->y)
		return;
	if (r->in_send)
		c->y_data_in_send++;
	if (e->text_len >= 4 && memcmp(e->text, "stop", 4) == 0) {
		c->interrupt_rc = rw_tcpserver_interrupt(s, c->x);
		c->interrupts++;
		return;
	}
	int rc = rw_tcpserver_send(s, e->connection_id, e->text, e->text_len);
	if (rc != 0)
		snprintf(r->echo_error, sizeof(r->echo_error), "echo on Y: %d", rc);
}

struct slow_reader {
	int fd;
	size_t total;
	uint64_t seed;
	size_t got;
};

static void slow_reader_thread(rwt_thread *t)
{
	struct slow_reader *rd = t->arg;
	uint8_t *buf = malloc(65536), *want = malloc(65536);
	struct timespec pace = {.tv_sec = 0, .tv_nsec = 3 * 1000 * 1000};
	while (rd->got < rd->total) {
		size_t n = rd->total - rd->got < 65536 ? rd->total - rd->got : 65536;
		ssize_t k = recv(rd->fd, buf, n, 0);
		if (k <= 0) {
			rwt_fail(t, "recv at %zu: %s", rd->got, k == 0 ? "EOF" : strerror(errno));
			break;
		}
		rwt_pattern(rd->seed, rd->got, want, (size_t)k);
		if (memcmp(buf, want, (size_t)k) != 0) {
			rwt_fail(t, "stream differs in [%zu, +%zd)", rd->got, k);
			break;
		}
		rd->got += (size_t)k;
		atomic_store(&t->progress, (long long)rd->got);
		nanosleep(&pace, NULL); /* the client's own pace: a slow reader */
	}
	atomic_store(&t->flag, 1);
	free(buf);
	free(want);
}

static void setup_two(rwt_rec *rec, struct two *c, rw_tcpserver **sp, int *fx, int *fy)
{
	rwt_rec_init(rec);
	rec->ctx = c;
	rec->on_data = y_data;
	rw_tcpserver *s = rwt_server_new(rec);
	int port = rwt_server_start(s);
	*fx = rwt_connect_ready(s, rec, port, 20000, 65536, &c->x);
	*fy = rwt_connect_ready(s, rec, port, 20000, 0, &c->y);
	*sp = s;
}

/* The blocking send of len bytes to X, timed into *dt; with mark_in_send the
 * recorder flags events fired while it blocks (rec->in_send). */
static int x_blocking_send(rwt_rec *rec, rw_tcpserver *s, struct two *c, const void *data, size_t len,
                           bool mark_in_send, double *dt)
{
	rec->in_send = mark_in_send;
	double t0 = rwt_now_ms();
	int rc = rw_tcpserver_send(s, c->x, data, len);
	*dt = rwt_now_ms() - t0;
	rec->in_send = false;
	return rc;
}

Test(sync, blocking_send_8MiB_to_slow_reader_other_connection_fires)
{
	rwt_rec rec;
	struct two c = {0};
	rw_tcpserver *s;
	int fx, fy;
	setup_two(&rec, &c, &s, &fx, &fy);
	cr_assert_eq(rw_tcpserver_set_timeout(s, c.x, 3), 0);
	cr_expect_eq(rw_tcpserver_get_timeout(s, c.x), 3);
	cr_expect_eq(rw_tcpserver_get_timeout(s, c.y), 0);

	size_t total = 8u << 20;
	uint8_t *data = malloc(total);
	rwt_pattern(91, 0, data, total);
	struct slow_reader rd = {.fd = fx, .total = total, .seed = 91};
	rwt_thread tr = {0}, tp = {0};
	rwt_thread_start(&tr, slow_reader_thread, &rd);
	rwt_pinger pg = {.fd = fy, .until = &tr, .max_pings = 100000};
	rwt_thread_start(&tp, rwt_pinger_thread, &pg);

	double dt;
	int rc = x_blocking_send(&rec, s, &c, data, total, true, &dt);
	cr_expect_eq(rc, 0, "blocking send: %d (%s) after %.0f ms", rc, rw_strerror(rc), dt);
	cr_expect_eq(rw_tcpserver_get_bytes_sent(s, c.x), 0, "BytesSent reads 0 in Timeout > 0 mode");
	cr_expect(c.y_data_in_send > 0, "no DataIn for the other connection during the %.0f ms block", dt);
	cr_expect_eq(rw_tcpserver_get_connected(s, c.x), 1);
	rwt_thread_finish(s, &tr, 30000);
	rwt_thread_finish(s, &tp, 30000);
	cr_expect_eq(rd.got, total);
	cr_log_info("blocking send took %.0f ms; %d Y DataIn during it, %d pings", dt, c.y_data_in_send, pg.pings);
	free(data);
	rwt_close_all_end(s, &rec, (int[]){fx, fy}, 2, 2);
}

Test(sync, never_reading_client_times_out_connection_stays)
{
	rwt_rec rec;
	struct two c = {0};
	rw_tcpserver *s;
	int fx, fy;
	setup_two(&rec, &c, &s, &fx, &fy);
	cr_assert_eq(rw_tcpserver_set_timeout(s, c.x, 1), 0);
	size_t total = 64u << 20;
	uint8_t *data = calloc(1, total);
	double dt;
	int rc = x_blocking_send(&rec, s, &c, data, total, false, &dt);
	cr_expect_eq(rc, -RW_ETIMEDOUT, "send to a client that never reads: %d (%s)", rc, rw_strerror(rc));
	cr_expect(dt >= 900 && dt < 6000, "timed out after %.0f ms with Timeout=1", dt);
	cr_expect_eq(rw_tcpserver_get_bytes_sent(s, c.x), 0);
	cr_expect_eq(rw_tcpserver_get_connected(s, c.x), 1, "the connection stays open after the timeout");
	cr_expect_eq(rw_tcpserver_get_connection_count(s), 2);
	cr_expect_eq(rwt_conn_get(&rec, c.x)->disconnected_n, 0);
	cr_expect(rwt_pump_echo(s, fy, "alive", 5, 5000));
	free(data);
	rwt_close_all_end(s, &rec, (int[]){fx, fy}, 2, 2);
}

static void stopper_thread(rwt_thread *t)
{
	int fd = *(int *)t->arg;
	if (!rwt_thread_wait_go(t, 20000)) {
		rwt_fail(t, "no go");
		return;
	}
	int rc = rwt_send_all(fd, "stop", 4);
	if (rc < 0)
		rwt_fail(t, "send stop: %s", strerror(-rc));
}

struct tail_reader {
	int fd;
	size_t got;
	char bad;
};

/* read 'a' bytes until "END" */
static void tail_reader_thread(rwt_thread *t)
{
	struct tail_reader *rd = t->arg;
	uint8_t buf[65536];
	char last[3] = {0};
	for (;;) {
		ssize_t k = recv(rd->fd, buf, sizeof(buf), 0);
		if (k <= 0) {
			rwt_fail(t, "recv at %zu: %s", rd->got, k == 0 ? "EOF" : strerror(errno));
			return;
		}
		for (ssize_t i = 0; i < k; i++) {
			last[0] = last[1];
			last[1] = last[2];
			last[2] = (char)buf[i];
			rd->got++;
			if (memcmp(last, "END", 3) == 0) {
				if (i != k - 1)
					rwt_fail(t, "bytes after END");
				return;
			}
			if (buf[i] != 'a' && buf[i] != 'E' && buf[i] != 'N') {
				rwt_fail(t, "unexpected byte %02x at %zu", buf[i], rd->got - 1);
				return;
			}
		}
	}
}

Test(sync, interrupt_from_other_connection_data_in)
{
	rwt_rec rec;
	struct two c = {0};
	rw_tcpserver *s;
	int fx, fy;
	setup_two(&rec, &c, &s, &fx, &fy);
	cr_assert_eq(rw_tcpserver_set_timeout(s, c.x, 30), 0);
	size_t total = 64u << 20;
	uint8_t *data = malloc(total);
	memset(data, 'a', total);
	rwt_thread ts = {0};
	rwt_thread_start(&ts, stopper_thread, &fy);
	rwt_thread_go(&ts);
	double dt;
	int rc = x_blocking_send(&rec, s, &c, data, total, true, &dt);
	cr_expect_eq(rc, -RW_EINTERRUPTED, "interrupted send: %d (%s) after %.0f ms", rc, rw_strerror(rc), dt);
	cr_expect_eq(c.interrupts, 1, "Y's DataIn with \"stop\" did not fire during the blocked send");
	cr_expect_eq(c.interrupt_rc, 0, "Interrupt returned %d", c.interrupt_rc);
	cr_expect(dt < 10000, "the interrupt took %.0f ms", dt);
	cr_expect_eq(rw_tcpserver_get_connected(s, c.x), 1, "the connection stays open after Interrupt");
	rwt_thread_finish(s, &ts, 5000);

	/* further sends work: the client drains, a blocking send of "END" returns 0 */
	struct tail_reader rd = {.fd = fx};
	rwt_thread tr = {0};
	rwt_thread_start(&tr, tail_reader_thread, &rd);
	cr_assert_eq(rw_tcpserver_set_timeout(s, c.x, 10), 0);
	rc = rw_tcpserver_send(s, c.x, "END", 3);
	cr_expect_eq(rc, 0, "send after Interrupt: %d (%s)", rc, rw_strerror(rc));
	rwt_thread_finish(s, &tr, 30000);
	cr_expect(rd.got < total + 3, "more than the interrupted send's data arrived: %zu", rd.got);
	free(data);
	rwt_close_all_end(s, &rec, (int[]){fx, fy}, 2, 2);
}

/* Interrupt with nothing blocked: no error, nothing happens. */
Test(sync, interrupt_without_blocked_send)
{
	rwt_rec rec;
	struct two c = {0};
	rw_tcpserver *s;
	int fx, fy;
	setup_two(&rec, &c, &s, &fx, &fy);
	cr_expect_eq(rw_tcpserver_interrupt(s, c.x), 0);
	cr_assert_eq(rw_tcpserver_set_timeout(s, c.x, 5), 0);
	cr_expect_eq(rw_tcpserver_send(s, c.x, "hi", 2), 0, "a stale Interrupt must not hit a later send");
	char b[2];
	cr_expect_eq(rwt_pump_recv(s, fx, b, 2, 5000), 2);
	rwt_close_all_end(s, &rec, (int[]){fx, fy}, 2, 2);
}
