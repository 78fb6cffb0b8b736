/* tests/integration/test_tcp_lines.c: line-oriented input (spec §8, §11 items
 * 14-20): CRLF, multi-byte EOL with NULs, an EOL split across segments,
 * MaxLineLength overflow, SingleLineMode, RecordLength and
 * ChangeRecordLength inside DataIn, EOL changed inside DataIn, and a partial
 * line flushed with eol=false when the client closes. */
#include "helpers/rwtest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TestSuite(lines, .timeout = 30);

struct expect_line {
	const char *text;
	size_t len;
	bool eol;
};

static void expect_lines(const rwt_rec *rec, rw_connid id, const struct expect_line *want, size_t n)
{
	size_t got = rwt_ev_count(rec, id, RWT_DATA);
	for (size_t i = 0; i < n && i < got; i++) {
		const rwt_event *e = rwt_ev_nth(rec, id, RWT_DATA, i);
		cr_expect(e->len == want[i].len && memcmp(e->data, want[i].text, want[i].len) == 0,
		          "DataIn %zu: got %zu bytes [%s], expected %zu bytes", i, e->len, rwt_hex(e->data, e->len),
		          want[i].len);
		cr_expect_eq(e->eol, want[i].eol, "DataIn %zu: eol %d, expected %d", i, e->eol, want[i].eol);
	}
	cr_expect_eq(got, n, "DataIn count %zu, expected %zu", got, n);
}

#define L(s, e) {s, sizeof(s) - 1, e}

/* A server with the recorder, one connected main-thread client. */
struct one {
	rwt_rec rec;
	rw_tcpserver *s;
	int fd;
	rw_connid id;
};

/* Create the server (setup, if any, configures it before listening), connect
 * one client and wait for ReadyToSend; o->rec must be initialised (hooks set). */
static void one_open(struct one *o, void (*setup)(rw_tcpserver *s))
{
	o->s = rwt_server_new(&o->rec);
	if (setup)
		setup(o->s);
	int port = rwt_server_start(o->s);
	o->fd = rwt_connect_ready(o->s, &o->rec, port, 5000, 0, &o->id);
}

/* one_open with a fresh recorder (no hooks). */
static void one_start(struct one *o, void (*setup)(rw_tcpserver *s))
{
	rwt_rec_init(&o->rec);
	one_open(o, setup);
}

/* Close the client and wait for its Disconnected (for partial-flush tests). */
static void one_close_client(struct one *o)
{
	close(o->fd);
	o->fd = -1;
	pump_until_ge(o->s, &o->rec.disconnected, 1, 5000);
}

static void one_send(struct one *o, const void *p, size_t n)
{
	cr_assert_eq(rwt_send_all(o->fd, p, n), 0);
}

static void one_end(struct one *o)
{
	if (o->fd >= 0)
		close(o->fd);
	pump_until_ge(o->s, &o->rec.disconnected, 1, 5000);
	rwt_server_end(o->s, &o->rec);
}

/* Send in, wait for n DataIn events plus a 100 ms window for extra ones, and
 * check the DataIn events are exactly want[0..n). */
static void one_send_expect(struct one *o, const void *in, size_t len, const struct expect_line *want, size_t n)
{
	one_send(o, in, len);
	pump_until_ge(o->s, &o->rec.data_events, n, 5000);
	rwt_pump_for(o->s, 100);
	expect_lines(&o->rec, o->id, want, n);
}

static void eol_crlf(rw_tcpserver *s)
{
	cr_assert_eq(rw_tcpserver_set_default_eol(s, "\r\n", 2), 0);
}

Test(lines, crlf_two_lines)
{
	struct one o;
	one_start(&o, eol_crlf);
	uint8_t eol[8];
	cr_expect_eq(rw_tcpserver_get_eol(o.s, o.id, eol, sizeof(eol)), 2, "DefaultEOL seeds EOL");
	cr_expect_eq(memcmp(eol, "\r\n", 2), 0);
	static const struct expect_line want[] = {L("ab", true), L("cd", true)};
	one_send_expect(&o, "ab\r\ncd\r\n", 8, want, 2);
	one_end(&o);
}

/* NUL-bearing multi-byte EOL set per connection inside Connected. */
static void set_nul_eol(rwt_rec *r, rw_tcpserver *s, const rw_tcpserver_connected *e)
{
	cr_assert_eq(rw_tcpserver_set_eol(s, e->connection_id, "\0\0|", 3), 0);
}

Test(lines, multibyte_eol_with_nuls)
{
	struct one o;
	rwt_rec_init(&o.rec);
	o.rec.on_connected = set_nul_eol;
	one_open(&o, NULL);
	uint8_t eol[8];
	cr_expect_eq(rw_tcpserver_get_eol(o.s, o.id, eol, sizeof(eol)), 3);
	cr_expect_eq(memcmp(eol, "\0\0|", 3), 0);
	/* a lone NUL and "\0\0" without '|' are data, not EOL */
	static const char in[] = "x\0\0|y\0\0|a\0b\0\0c\0\0|";
	static const struct expect_line want[] = {L("x", true), L("y", true), L("a\0b\0\0c", true)};
	one_send_expect(&o, in, sizeof(in) - 1, want, 3);
	one_end(&o);
}

/* "ab\r" then "\n" in separate segments: one line "ab". The marker line "m"
 * sent with "ab\r" proves the server has read "ab\r" before "\n" is sent. */
Test(lines, crlf_split_across_segments)
{
	struct one o;
	one_start(&o, eol_crlf);
	one_send(&o, "m\r\nab\r", 6);
	pump_until_ge(o.s, &o.rec.data_events, 1, 5000);
	rwt_pump_for(o.s, 60);
	cr_expect_eq(o.rec.data_events, 1, "\"ab\\r\" alone must not be delivered");
	one_send(&o, "\n", 1);
	pump_until_ge(o.s, &o.rec.data_events, 2, 5000);
	/* one more split, EOL bytes split 1|1 with nothing before the CR */
	one_send(&o, "cd", 2);
	rwt_pump_for(o.s, 60);
	one_send(&o, "\r", 1);
	rwt_pump_for(o.s, 60);
	static const struct expect_line want[] = {L("m", true), L("ab", true), L("cd", true), L("ef", true)};
	one_send_expect(&o, "\nef\r\n", 5, want, 4);
	one_end(&o);
}

static void eol_lf(rw_tcpserver *s)
{
	cr_assert_eq(rw_tcpserver_set_default_eol(s, "\n", 1), 0);
}

Test(lines, max_line_length_overflow)
{
	struct one o;
	one_start(&o, eol_lf);
	cr_expect_eq(rw_tcpserver_get_max_line_length(o.s, o.id), 2048);
	size_t n = 5000;
	uint8_t *line = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		line[i] = (uint8_t)('a' + i % 26);
	line[n] = '\n';
	one_send(&o, line, n + 1);
	pump_until_ge(o.s, &o.rec.data_events, 3, 5000);
	rwt_pump_for(o.s, 100);
	cr_assert_eq(o.rec.data_events, 3);
	const size_t lens[3] = {2048, 2048, 904};
	const bool eols[3] = {false, false, true};
	size_t off = 0;
	for (int i = 0; i < 3; i++) {
		const rwt_event *e = rwt_ev_nth(&o.rec, o.id, RWT_DATA, (size_t)i);
		cr_expect_eq(e->len, lens[i], "DataIn %d length %zu", i, e->len);
		cr_expect_eq(e->eol, eols[i], "DataIn %d eol", i);
		cr_expect_eq(memcmp(e->data, line + off, lens[i]), 0, "DataIn %d bytes", i);
		off += e->len;
	}
	free(line);
	one_end(&o);
}

Test(lines, max_line_length_per_connection)
{
	struct one o;
	one_start(&o, eol_lf);
	cr_expect_eq(rw_tcpserver_set_max_line_length(o.s, o.id, 100), -RW_EBAD_VALUE);
	cr_assert_eq(rw_tcpserver_set_max_line_length(o.s, o.id, 300), 0);
	cr_expect_eq(rw_tcpserver_get_max_line_length(o.s, o.id), 300);
	char key[64], val[32];
	snprintf(key, sizeof(key), "MaxLineLength[%lld]", (long long)o.id);
	cr_expect_eq(rw_tcpserver_config(o.s, key, val, sizeof(val)), 3);
	cr_expect_str_eq(val, "300");
	uint8_t buf[701];
	memset(buf, 'z', 700);
	buf[700] = '\n';
	one_send(&o, buf, sizeof(buf));
	pump_until_ge(o.s, &o.rec.data_events, 3, 5000);
	rwt_pump_for(o.s, 100);
	cr_assert_eq(o.rec.data_events, 3);
	cr_expect_eq(rwt_ev_nth(&o.rec, o.id, RWT_DATA, 0)->len, 300);
	cr_expect_eq(rwt_ev_nth(&o.rec, o.id, RWT_DATA, 1)->len, 300);
	cr_expect_eq(rwt_ev_nth(&o.rec, o.id, RWT_DATA, 2)->len, 100);
	cr_expect_eq(rwt_ev_nth(&o.rec, o.id, RWT_DATA, 2)->eol, true);
	one_end(&o);
}

static void single_line(rw_tcpserver *s)
{
	cr_assert_eq(rw_tcpserver_set_default_single_line_mode(s, true), 0);
	cr_assert_eq(rw_tcpserver_set_default_eol(s, "|", 1), 0); /* ignored */
}

Test(lines, single_line_mode)
{
	struct one o;
	one_start(&o, single_line);
	cr_expect_eq(rw_tcpserver_get_single_line_mode(o.s, o.id), 1);
	one_send(&o, "a\rb\nc\r\nd\r\n", 10);
	pump_until_ge(o.s, &o.rec.data_events, 4, 5000);
	/* CR and LF of one CRLF arriving apart still end one line */
	one_send(&o, "e|f\r", 4);
	pump_until_ge(o.s, &o.rec.data_events, 5, 5000);
	rwt_pump_for(o.s, 60);
	static const struct expect_line want[] = {L("a", true), L("b", true), L("c", true),
	                                          L("d", true), L("e|f", true), L("g", true)};
	one_send_expect(&o, "\ng\n", 3, want, 6);
	one_end(&o);
}

/* RecordLength 10 on 25 bytes: two records; 5 wait for 5 more. */
static void record10(rwt_rec *r, rw_tcpserver *s, const rw_tcpserver_connected *e)
{
	cr_assert_eq(rw_tcpserver_change_record_length(s, e->connection_id, 10), 0);
}

Test(lines, record_length_10)
{
	struct one o;
	rwt_rec_init(&o.rec);
	o.rec.on_connected = record10;
	one_open(&o, eol_lf); /* RecordLength wins over EOL */
	cr_expect_eq(rw_tcpserver_get_record_length(o.s, o.id), 10);
	one_send(&o, "0123\n56789abcdefghij\nlmno", 25);
	pump_until_ge(o.s, &o.rec.data_events, 2, 5000);
	rwt_pump_for(o.s, 150);
	cr_expect_eq(o.rec.data_events, 2, "the last 5 bytes wait for a full record");
	one_send(&o, "qrstu", 5);
	pump_until_ge(o.s, &o.rec.data_events, 3, 5000);
	rwt_pump_for(o.s, 60);
	static const struct expect_line want[] = {L("0123\n56789", true), L("abcdefghij", true),
	                                          L("\nlmnoqrstu", true)};
	expect_lines(&o.rec, o.id, want, 3);
	cr_expect_eq(rw_tcpserver_change_record_length(o.s, o.id, -1), -RW_EBAD_VALUE);
	one_end(&o);
}

/* ChangeRecordLength(3) inside the first DataIn: the next records are 3 bytes,
 * including bytes already buffered. */
static void change_to_3(rwt_rec *r, rw_tcpserver *s, const rw_tcpserver_data_in *e)
{
	if (r->data_events == 1)
		cr_assert_eq(rw_tcpserver_change_record_length(s, e->connection_id, 3), 0);
}

Test(lines, change_record_length_inside_data_in)
{
	struct one o;
	rwt_rec_init(&o.rec);
	o.rec.on_connected = record10;
	o.rec.on_data = change_to_3;
	one_open(&o, NULL);
	static const struct expect_line want[] = {L("ABCDEFGHIJ", true), L("abc", true), L("def", true),
	                                          L("ghi", true), L("jkl", true), L("mno", true)};
	one_send_expect(&o, "ABCDEFGHIJabcdefghijklmno", 25, want, 6);
	cr_expect_eq(rw_tcpserver_get_record_length(o.s, o.id), 3);
	/* back to 0: EOL mode (empty EOL: as received) */
	cr_assert_eq(rw_tcpserver_change_record_length(o.s, o.id, 0), 0);
	one_send(&o, "zz", 2);
	pump_until_ge(o.s, &o.rec.data_events, 7, 5000);
	const rwt_event *e = rwt_ev_nth(&o.rec, o.id, RWT_DATA, 6);
	cr_expect(e->len == 2 && memcmp(e->data, "zz", 2) == 0);
	one_end(&o);
}

/* EOL changed inside DataIn applies to bytes not yet delivered. */
static void switch_eol(rwt_rec *r, rw_tcpserver *s, const rw_tcpserver_data_in *e)
{
	if (r->data_events == 1)
		cr_assert_eq(rw_tcpserver_set_eol(s, e->connection_id, ";", 1), 0);
}

Test(lines, eol_changed_inside_data_in)
{
	struct one o;
	rwt_rec_init(&o.rec);
	o.rec.on_data = switch_eol;
	one_open(&o, eol_lf);
	static const struct expect_line want[] = {L("a", true), L("b\nc", true), L("d", true)};
	one_send_expect(&o, "a\nb\nc;d;", 8, want, 3);
	one_end(&o);
}

/* A partial line is delivered with eol=false when the client closes, before
 * Disconnected. */
Test(lines, partial_line_flushed_on_close)
{
	struct one o;
	one_start(&o, eol_lf);
	one_send(&o, "abc\ndef", 7);
	pump_until_ge(o.s, &o.rec.data_events, 1, 5000);
	one_close_client(&o);
	static const struct expect_line want[] = {L("abc", true), L("def", false)};
	expect_lines(&o.rec, o.id, want, 2);
	const rwt_event *last = &o.rec.ev[o.rec.n - 1];
	cr_expect_eq(last->type, RWT_DISCONNECTED, "Disconnected comes after the flushed partial line");
	cr_expect_eq(last->status, 0);
	one_end(&o);
}

/* The same with a partial record in RecordLength mode. */
Test(lines, partial_record_flushed_on_close)
{
	struct one o;
	rwt_rec_init(&o.rec);
	o.rec.on_connected = record10;
	one_open(&o, NULL);
	one_send(&o, "0123456789xyz", 13);
	pump_until_ge(o.s, &o.rec.data_events, 1, 5000);
	one_close_client(&o);
	static const struct expect_line want[] = {L("0123456789", true), L("xyz", false)};
	expect_lines(&o.rec, o.id, want, 2);
	one_end(&o);
}

/* EOL matching restarts correctly after a partial match. */
static void eol_aab(rw_tcpserver *s)
{
	cr_assert_eq(rw_tcpserver_set_default_eol(s, "aab", 3), 0);
}

Test(lines, eol_partial_match_restarts)
{
	struct one o;
	one_start(&o, eol_aab);
	one_send(&o, "xaaab" "aaaab" "aabaab" "zaax" "aab", 23);
	pump_until_ge(o.s, &o.rec.data_events, 5, 5000);
	rwt_pump_for(o.s, 100);
	static const struct expect_line want[] = {L("xa", true), L("aa", true), L("", true),
	                                          L("", true), L("zaax", true)};
	/* empty lines between two EOLs are not pinned by the documents: accept
	 * either the empty DataIn events or none, but the text must match */
	size_t n = rwt_ev_count(&o.rec, o.id, RWT_DATA);
	if (n == 5) {
		expect_lines(&o.rec, o.id, want, 5);
	} else {
		static const struct expect_line want3[] = {L("xa", true), L("aa", true), L("zaax", true)};
		expect_lines(&o.rec, o.id, want3, 3);
	}
	one_end(&o);
}

Test(lines, cr_before_crlf_is_data)
{
	struct one o;
	one_start(&o, eol_crlf);
	static const struct expect_line want[] = {L("a\r", true), L("b\n", true)};
	one_send_expect(&o, "a\r\r\nb\n\r\n", 9, want, 2);
	one_end(&o);
}

/* Many lines of random length (1..2047) in one burst: lines and EOLs fall
 * across receive-buffer boundaries. */
struct burst_client {
	int fd;
	uint8_t *data;
	size_t len;
};

static void burst_thread(rwt_thread *t)
{
	struct burst_client *b = t->arg;
	int rc = rwt_send_all(b->fd, b->data, b->len);
	if (rc < 0)
		rwt_fail(t, "send: %s", strerror(-rc));
}

Test(lines, random_lines_across_buffer_boundaries)
{
	struct one o;
	one_start(&o, eol_crlf);
	enum { NLINES = 2000 };
	size_t *lens = malloc(NLINES * sizeof(*lens));
	uint64_t st = 99;
	size_t total = 0;
	for (int i = 0; i < NLINES; i++) {
		lens[i] = 1 + (size_t)(rwt_splitmix(&st) % 2047);
		total += lens[i] + 2;
	}
	uint8_t *data = malloc(total), *p = data;
	for (int i = 0; i < NLINES; i++) {
		rwt_pattern(1000 + (uint64_t)i, 0, p, lens[i]);
		for (size_t k = 0; k < lens[i]; k++)
			if (p[k] == '\r')
				p[k] = 'R'; /* no CR inside a line: "\r\n" only as EOL */
		p += lens[i];
		*p++ = '\r';
		*p++ = '\n';
	}
	struct burst_client bc = {.fd = o.fd, .data = data, .len = total};
	rwt_thread t = {0};
	rwt_thread_start(&t, burst_thread, &bc);
	rwt_thread_finish(o.s, &t, 20000);
	pump_until_ge(o.s, &o.rec.data_events, NLINES, 10000);
	rwt_pump_for(o.s, 50);
	cr_assert_eq(o.rec.data_events, NLINES);
	p = data;
	for (int i = 0; i < NLINES; i++) {
		const rwt_event *e = rwt_ev_nth(&o.rec, o.id, RWT_DATA, (size_t)i);
		if (e->len != lens[i] || memcmp(e->data, p, lens[i]) != 0 || !e->eol)
			cr_assert_fail("line %d: %zu bytes (want %zu), eol %d", i, e->len, lens[i], e->eol);
		p += lens[i] + 2;
	}
	free(lens);
	free(data);
	one_end(&o);
}
