/* tests/integration/test_tcp_proxy.c: Config ProxyProtocol with raw clients
 * that write PROXY v1 and v2 headers by hand: the client's address from the
 * header in ConnectionRequest, RemoteHost/RemotePort and AllowedClients; the
 * bytes after the header delivered as data; a header split in many writes;
 * garbage, a TLS ClientHello without a header, a partial header then EOF and
 * a late header each close only their own connection with one Error; a
 * connection that sends nothing (a TCP health check) closes quietly; two
 * servers behind Debian's haproxy (send-proxy-v2, round robin, checks). */
#include "helpers/rwtest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TestSuite(proxy, .timeout = 60);

static const uint8_t SIG[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

static rw_tcpserver *proxy_server(rwt_rec *rec, const char *mode, int *port)
{
	rwt_rec_init(rec);
	rw_tcpserver *s = rwt_server_new(rec);
	char set[64];
	snprintf(set, sizeof(set), "ProxyProtocol=%s", mode);
	rwt_config(s, set);
	*port = rwt_server_start(s);
	return s;
}

/* A v2 PROXY header (TCP4 or TCP6 by the source text) with `tlv` bytes of
 * NOOP TLV after the addresses. */
static size_t v2_header(uint8_t *out, const char *src, int sport, const char *dst, int dport, int tlv)
{
	bool six = strchr(src, ':') != NULL;
	size_t al = six ? 16 : 4, n = 16;
	memcpy(out, SIG, 12);
	out[12] = 0x21;
	out[13] = six ? 0x21 : 0x11;
	inet_pton(six ? AF_INET6 : AF_INET, src, out + n);
	inet_pton(six ? AF_INET6 : AF_INET, dst, out + n + al);
	n += 2 * al;
	out[n++] = (uint8_t)(sport >> 8);
	out[n++] = (uint8_t)sport;
	out[n++] = (uint8_t)(dport >> 8);
	out[n++] = (uint8_t)dport;
	if (tlv >= 3) {
		out[n++] = 0x04; /* PP2_TYPE_NOOP */
		out[n++] = (uint8_t)((tlv - 3) >> 8);
		out[n++] = (uint8_t)(tlv - 3);
		memset(out + n, 0, (size_t)tlv - 3);
		n += (size_t)tlv - 3;
	}
	size_t len = n - 16;
	out[14] = (uint8_t)(len >> 8);
	out[15] = (uint8_t)len;
	return n;
}

/* The first Error event (tests clear rec.errors after checking it, so that
 * rwt_server_end stays strict about any other). */
static const rwt_event *take_error(rwt_rec *rec)
{
	const rwt_event *e = rwt_ev_nth(rec, -1, RWT_ERROR, 0);
	return e;
}

Test(proxy, config_values)
{
	rwt_rec rec;
	rwt_rec_init(&rec);
	rw_tcpserver *s = rwt_server_new(&rec);
	cr_expect_str_eq(rwt_config_get(s, "ProxyProtocol"), "off");
	rwt_config(s, "ProxyProtocol=v2");
	cr_expect_str_eq(rwt_config_get(s, "ProxyProtocol"), "v2");
	rwt_config(s, "ProxyProtocol=AUTO");
	cr_expect_str_eq(rwt_config_get(s, "ProxyProtocol"), "auto");
	cr_expect_eq(rw_tcpserver_config(s, "ProxyProtocol=v3", NULL, 0), -RW_EBAD_VALUE);
	cr_expect_str_eq(rwt_config_get(s, "ProxyProtocol"), "auto");
	rwt_server_end(s, &rec);
}

Test(proxy, v1_tcp4_address_and_data_after_header)
{
	rwt_rec rec;
	int port;
	rw_tcpserver *s = proxy_server(&rec, "v1", &port);
	int fd = rwt_connect("127.0.0.1", port, 5000);
	cr_assert(fd >= 0);
	char msg[160];
	int n = snprintf(msg, sizeof(msg), "PROXY TCP4 203.0.113.7 127.0.0.1 40001 %d\r\nhello", port);
	cr_assert_eq(rwt_send_all(fd, msg, (size_t)n), 0);
	pump_until_ge(s, &rec.data_bytes, 5, 5000);
	RWT_ASSERT_CLEAN(&rec);
	cr_assert_eq(rec.requests, 1);
	cr_expect_str_eq(rec.ev[0].addr, "203.0.113.7");
	cr_expect_eq(rec.ev[0].port, 40001);
	rw_connid id = rwt_id(&rec, 0);
	rwt_conn *c = rwt_conn_get(&rec, id);
	cr_expect_str_eq(c->remote_host, "203.0.113.7", "RemoteHost inside Connected");
	cr_expect_eq(c->remote_port, 40001);
	char cfg[64];
	snprintf(cfg, sizeof(cfg), "RemoteHost[%lld]", (long long)id);
	cr_expect_str_eq(rwt_config_get(s, cfg), "203.0.113.7");
	snprintf(cfg, sizeof(cfg), "LocalAddress[%lld]", (long long)id);
	cr_expect_str_eq(rwt_config_get(s, cfg), "127.0.0.1", "LocalAddress stays the socket's");
	size_t len;
	uint8_t *all = rwt_data_concat(&rec, id, &len);
	cr_expect_eq(len, 5);
	cr_expect_eq(memcmp(all, "hello", 5), 0, "only the bytes after the header are data");
	free(all);
	close(fd);
	pump_until_ge(s, &rec.disconnected, 1, 5000);
	rwt_server_end(s, &rec);
}

/* The header in 1- to 7-byte writes with pauses: the connection stays
 * unexposed until the last one, then the data behind it arrives. */
Test(proxy, v1_tcp6_in_small_pieces)
{
	rwt_rec rec;
	int port;
	rw_tcpserver *s = proxy_server(&rec, "auto", &port);
	int fd = rwt_connect("127.0.0.1", port, 5000);
	cr_assert(fd >= 0);
	const char *h = "PROXY TCP6 2001:db8::abcd ::1 65535 443\r\n";
	size_t hl = strlen(h);
	for (size_t off = 0, step = 1; off < hl; off += step, step = step % 7 + 1) {
		size_t k = hl - off < step ? hl - off : step;
		cr_assert_eq(rwt_send_all(fd, h + off, k), 0);
		rwt_pump_for(s, 5);
		if (off + k < hl)
			cr_assert_eq(rec.requests, 0, "exposed before the header ended (at %zu)", off);
	}
	cr_assert_eq(rwt_send_all(fd, "line\r\n", 6), 0);
	pump_until_ge(s, &rec.data_bytes, 6, 5000);
	rwt_conn *c = rwt_conn_get(&rec, rwt_id(&rec, 0));
	cr_expect_str_eq(c->remote_host, "2001:db8::abcd");
	cr_expect_eq(c->remote_port, 65535);
	close(fd);
	pump_until_ge(s, &rec.disconnected, 1, 5000);
	rwt_server_end(s, &rec);
}

Test(proxy, v2_tcp4_tcp6_tlvs_and_local)
{
	rwt_rec rec;
	int port;
	rw_tcpserver *s = proxy_server(&rec, "v2", &port);
	rec.echo = true;
	uint8_t h[600];
	/* TCP4 with 500 bytes of TLVs, and data in the same write */
	size_t n = v2_header(h, "198.51.100.20", 1234, "127.0.0.1", port, 500);
	memcpy(h + n, "ping", 4);
	int fd1 = rwt_connect("127.0.0.1", port, 5000);
	cr_assert(fd1 >= 0);
	cr_assert_eq(rwt_send_all(fd1, h, n + 4), 0);
	char back[8] = {0};
	cr_assert_eq(rwt_pump_recv(s, fd1, back, 4, 5000), 4);
	cr_expect_eq(memcmp(back, "ping", 4), 0);
	/* TCP6 */
	n = v2_header(h, "2001:db8:1::7", 50000, "::1", port, 0);
	int fd2 = rwt_connect("127.0.0.1", port, 5000);
	cr_assert(fd2 >= 0);
	cr_assert_eq(rwt_send_all(fd2, h, n), 0);
	pump_until_ge(s, &rec.connected, 2, 5000);
	/* LOCAL (what a proxy's own health check sends): the socket's address */
	memcpy(h, SIG, 12);
	h[12] = 0x20;
	h[13] = 0x00;
	h[14] = h[15] = 0;
	int fd3 = rwt_connect("127.0.0.1", port, 5000);
	cr_assert(fd3 >= 0);
	char caddr[64];
	int cport = rwt_sock_port(fd3, false, caddr, sizeof(caddr));
	cr_assert_eq(rwt_send_all(fd3, h, 16), 0);
	pump_until_ge(s, &rec.connected, 3, 5000);
	RWT_ASSERT_CLEAN(&rec);
	cr_expect_str_eq(rwt_conn_get(&rec, rwt_id(&rec, 0))->remote_host, "198.51.100.20");
	cr_expect_eq(rwt_conn_get(&rec, rwt_id(&rec, 0))->remote_port, 1234);
	cr_expect_str_eq(rwt_conn_get(&rec, rwt_id(&rec, 1))->remote_host, "2001:db8:1::7");
	cr_expect_eq(rwt_conn_get(&rec, rwt_id(&rec, 1))->remote_port, 50000);
	cr_expect_str_eq(rwt_conn_get(&rec, rwt_id(&rec, 2))->remote_host, "127.0.0.1");
	cr_expect_eq(rwt_conn_get(&rec, rwt_id(&rec, 2))->remote_port, cport);
	int fds[3] = {fd1, fd2, fd3};
	rwt_close_all_end(s, &rec, fds, 3, 3);
}

/* One bad connection among good ones: it alone is closed, with one Error
 * naming ProxyProtocol, and no ConnectionRequest/Connected/Disconnected. */
static void bad_client_case(const char *mode, const void *bytes, size_t len, bool then_eof)
{
	rwt_rec rec;
	int port;
	rw_tcpserver *s = proxy_server(&rec, mode, &port);
	rec.echo = true;
	/* a good proxied connection first, kept open */
	int good = rwt_connect("127.0.0.1", port, 5000);
	cr_assert(good >= 0);
	const char *gh = "PROXY TCP4 192.0.2.50 127.0.0.1 1000 2000\r\n";
	uint8_t h[64];
	size_t gl = strcmp(mode, "v2") == 0 ? v2_header(h, "192.0.2.50", 1000, "127.0.0.1", 2000, 0) : strlen(gh);
	cr_assert_eq(rwt_send_all(good, strcmp(mode, "v2") == 0 ? (const void *)h : gh, gl), 0);
	pump_until_ge(s, &rec.ready, 1, 5000);

	int bad = rwt_connect("127.0.0.1", port, 5000);
	cr_assert(bad >= 0);
	cr_assert_eq(rwt_send_all(bad, bytes, len), 0);
	if (then_eof)
		shutdown(bad, SHUT_WR);
	pump_until_ge(s, &rec.errors, 1, 5000);
	int end = rwt_pump_recv_end(s, bad, 5000);
	cr_expect(end == 0 || end == -ECONNRESET, "the bad connection is closed (got %d)", end);
	const rwt_event *e = take_error(&rec);
	cr_expect_eq(e->id, 0);
	cr_expect(strstr(e->desc, "ProxyProtocol") != NULL, "error text: %s", e->desc);
	cr_expect(strstr(e->desc, "127.0.0.1") != NULL, "error names the peer: %s", e->desc);
	cr_expect_eq(e->status, then_eof ? RW_ECONNRESET : RW_EBAD_VALUE);
	cr_expect_eq(rec.requests, 1, "no ConnectionRequest for the bad one");
	cr_expect_eq(rec.connected, 1);
	cr_expect_eq(rec.disconnected, 0);
	/* the good one still echoes */
	cr_expect(rwt_pump_echo(s, good, "still here", 10, 5000));
	rwt_pump_for(s, 100);
	cr_expect_eq(rec.errors, 1);
	rec.errors = 0;
	close(bad);
	rwt_close_all_end(s, &rec, &good, 1, 1);
}

Test(proxy, garbage_closes_only_that_connection)
{
	bad_client_case("v1", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, false);
}

Test(proxy, v1_header_refused_in_v2_mode)
{
	bad_client_case("v2", "PROXY TCP4 1.2.3.4 1.2.3.4 1 2\r\n", 32, false);
}

Test(proxy, tls_client_hello_without_header_is_refused)
{
	/* The start of a real TLS 1.2/1.3 ClientHello record. */
	static const uint8_t hello[] = {0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03,
	                                0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa};
	bad_client_case("auto", hello, sizeof(hello), false);
}

Test(proxy, partial_header_then_eof)
{
	bad_client_case("auto", "PROXY TCP4 1.2.3.4", 18, true);
}

Test(proxy, header_timeout)
{
	rwt_rec rec;
	int port;
	rwt_rec_init(&rec);
	rw_tcpserver *s = rwt_server_new(&rec);
	rwt_config(s, "ProxyProtocol=auto");
	rwt_config(s, "DefaultConnectionTimeout=1");
	port = rwt_server_start(s);
	int fd = rwt_connect("127.0.0.1", port, 5000);
	cr_assert(fd >= 0);
	double t0 = rwt_now_ms();
	cr_assert_eq(rwt_send_all(fd, "PROXY TCP4 ", 11), 0);
	pump_until_ge(s, &rec.errors, 1, 5000);
	double dt = rwt_now_ms() - t0;
	cr_expect(dt >= 900 && dt < 3500, "timed out after %.0f ms", dt);
	const rwt_event *e = take_error(&rec);
	cr_expect_eq(e->status, RW_ETIMEDOUT);
	cr_expect(strstr(e->desc, "ProxyProtocol") != NULL, "%s", e->desc);
	int end = rwt_pump_recv_end(s, fd, 5000);
	cr_expect(end == 0 || end == -ECONNRESET, "closed (got %d)", end);
	cr_expect_eq(rec.requests, 0);
	rec.errors = 0;
	close(fd);
	rwt_server_end(s, &rec);
}

Test(proxy, health_check_connect_and_close_is_quiet)
{
	rwt_rec rec;
	int port;
	rw_tcpserver *s = proxy_server(&rec, "v2", &port);
	for (int i = 0; i < 5; i++) {
		int fd = rwt_connect("127.0.0.1", port, 5000);
		cr_assert(fd >= 0);
		close(fd);
	}
	rwt_pump_for(s, 300);
	cr_expect_eq(rec.requests, 0);
	cr_expect_eq(rec.errors, 0, "%s", rwt_first_error(&rec));
	cr_expect_eq(rw_tcpserver_get_connection_count(s), 0);
	rwt_server_end(s, &rec);
}

/* AllowedClients and ConnectionRequest see the header's address, not the
 * proxy's (127.0.0.1 is not in the list). */
static void refuse_odd_port(rwt_rec *r, rw_tcpserver *s, rw_tcpserver_connection_request *e)
{
	(void)r;
	(void)s;
	if (e->port % 2)
		e->accept = false;
}

Test(proxy, allowed_clients_and_request_use_client_address)
{
	rwt_rec rec;
	rwt_rec_init(&rec);
	rw_tcpserver *s = rwt_server_new(&rec);
	rwt_config(s, "ProxyProtocol=v1");
	rwt_config(s, "AllowedClients=203.0.113.0/24");
	rec.on_request = refuse_odd_port;
	int port = rwt_server_start(s);
	const char *hs[] = {
		"PROXY TCP4 203.0.113.9 127.0.0.1 2000 1\r\n",  /* allowed, even port */
		"PROXY TCP4 198.51.100.1 127.0.0.1 2000 1\r\n", /* not in AllowedClients */
		"PROXY TCP4 203.0.113.10 127.0.0.1 2001 1\r\n", /* refused in ConnectionRequest */
	};
	int fds[3];
	for (int i = 0; i < 3; i++) {
		fds[i] = rwt_connect("127.0.0.1", port, 5000);
		cr_assert(fds[i] >= 0);
		cr_assert_eq(rwt_send_all(fds[i], hs[i], strlen(hs[i])), 0);
		pump_until_ge(s, &rec.requests, i + 1, 5000);
	}
	cr_expect_str_eq(rec.ev[0].addr, "203.0.113.9");
	cr_expect(rec.ev[0].accept_initial);
	const rwt_event *r2 = rwt_ev_nth(&rec, -1, RWT_REQUEST, 1);
	cr_expect_str_eq(r2->addr, "198.51.100.1");
	cr_expect_not(r2->accept_initial, "AllowedClients judged the header's address");
	const rwt_event *r3 = rwt_ev_nth(&rec, -1, RWT_REQUEST, 2);
	cr_expect(r3->accept_initial);
	cr_expect_not(r3->accept_final);
	cr_expect_eq(rwt_pump_recv_end(s, fds[1], 5000) <= 0, 1);
	cr_expect_eq(rwt_pump_recv_end(s, fds[2], 5000) <= 0, 1);
	cr_expect_eq(rec.connected, 1);
	close(fds[1]);
	close(fds[2]);
	rwt_close_all_end(s, &rec, fds, 1, 1);
}

/* ---- behind Debian's haproxy ------------------------------------------------
 * haproxy (run as the current user, generated config in a temp dir, loopback
 * ports) balances round robin with send-proxy-v2 and TCP health checks over
 * two servers of this process on one loop. Both serve; RemoteHost/RemotePort
 * are the address haproxy's client side saw (127.0.0.1 and the client's own
 * port); health checks (connect, close) fire nothing; when one server stops,
 * the service goes on through the other. Skipped when haproxy is missing. */

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	getsockname(fd, (struct sockaddr *)&a, &l);
	close(fd);
	return ntohs(a.sin_port);
}

struct two {
	rwt_rec *a, *b;
	int want;
};
static bool both_data(void *ctx)
{
	struct two *t = ctx;
	return (int)(t->a->data_bytes + t->b->data_bytes) >= t->want;
}

/* One client through haproxy: send a line, read the echo (pumping the loop);
 * returns the client's local port, or -1. */
static int via_haproxy(rw_loop *l, rwt_rec *ra, rwt_rec *rb, int fport)
{
	int fd = rwt_connect("127.0.0.1", fport, 5000);
	if (fd < 0)
		return -1;
	char caddr[64];
	int cport = rwt_sock_port(fd, false, caddr, sizeof(caddr));
	char msg[32], back[32];
	int n = snprintf(msg, sizeof(msg), "hello %05d\n", cport);
	struct two t = {ra, rb, (int)(ra->data_bytes + rb->data_bytes) + n};
	if (rwt_send_all(fd, msg, (size_t)n) != 0 || !rwt_loop_pump_until(l, both_data, &t, 5000)) {
		close(fd);
		return -1;
	}
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	size_t got = 0;
	double t0 = rwt_now_ms();
	while (got < (size_t)n && rwt_now_ms() - t0 < 5000) {
		rw_loop_do_events(l, 10);
		ssize_t k = recv(fd, back + got, (size_t)n - got, 0);
		if (k > 0)
			got += (size_t)k;
		else if (k == 0)
			break;
	}
	close(fd);
	return got == (size_t)n && memcmp(back, msg, (size_t)n) == 0 ? cport : -1;
}

static bool has_conn_from_port(rwt_rec *r, int port)
{
	for (size_t i = 0; i < r->order_n; i++) {
		rwt_conn *c = rwt_conn_get(r, r->order[i]);
		if (c->remote_port == port && strcmp(c->remote_host, "127.0.0.1") == 0)
			return true;
	}
	return false;
}

Test(proxy, haproxy_send_proxy_v2_round_robin, .timeout = 90)
{
	const char *hap = access("/usr/sbin/haproxy", X_OK) == 0 ? "/usr/sbin/haproxy" : NULL;
	if (!hap)
		cr_skip_test("haproxy is not installed (tools/run deps installs it)");
	rw_loop *l = NULL;
	cr_assert_eq(rw_loop_new(&l, NULL), 0);
	rwt_rec ra, rb;
	rwt_rec_init(&ra);
	rwt_rec_init(&rb);
	ra.echo = rb.echo = true;
	rw_tcpserver *sa = rw_tcpserver_new_on_loop(l), *sb = rw_tcpserver_new_on_loop(l);
	rw_tcpserver *ss[2] = {sa, sb};
	rwt_rec *rr[2] = {&ra, &rb};
	int ports[2];
	for (int i = 0; i < 2; i++) {
		rwt_rec_attach(rr[i], ss[i]);
		cr_assert_eq(rw_tcpserver_set_local_host(ss[i], "127.0.0.1"), 0);
		cr_assert_eq(rw_tcpserver_set_local_port(ss[i], 0), 0);
		rwt_config(ss[i], "ProxyProtocol=v2");
		ports[i] = rwt_server_start(ss[i]);
	}
	char dir[] = "/tmp/rw-haproxy.XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char cfg[256], logf[256];
	snprintf(cfg, sizeof(cfg), "%s/haproxy.cfg", dir);
	snprintf(logf, sizeof(logf), "%s/haproxy.log", dir);
	int fport = free_port();
	FILE *f = fopen(cfg, "w");
	cr_assert_not_null(f);
	fprintf(f,
	        "global\n  maxconn 100\n"
	        "defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n"
	        "  retries 3\n  option redispatch\n"
	        "frontend fe\n  bind 127.0.0.1:%d\n  default_backend be\n"
	        "backend be\n  balance roundrobin\n"
	        "  server s1 127.0.0.1:%d send-proxy-v2 check inter 200ms fall 1 rise 1\n"
	        "  server s2 127.0.0.1:%d send-proxy-v2 check inter 200ms fall 1 rise 1\n",
	        fport, ports[0], ports[1]);
	fclose(f);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int lfd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (lfd >= 0) {
			dup2(lfd, 1);
			dup2(lfd, 2);
		}
		execl(hap, hap, "-db", "-f", cfg, (char *)NULL);
		_exit(127);
	}
	/* wait for the frontend (turning the loop: health checks come meanwhile) */
	bool up = false;
	for (int i = 0; i < 100 && !up; i++) {
		rw_loop_do_events(l, 50);
		int fd = rwt_connect("127.0.0.1", fport, 1000);
		if (fd >= 0) {
			up = true;
			close(fd);
		}
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
	}
	if (!up) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		cr_assert_fail("haproxy did not come up (see %s)", logf);
	}
	/* let the health checks see both servers up */
	for (int i = 0; i < 10; i++)
		rw_loop_do_events(l, 50);
	int cports[6];
	for (int i = 0; i < 6; i++) {
		cports[i] = via_haproxy(l, &ra, &rb, fport);
		cr_expect_gt(cports[i], 0, "client %d through haproxy", i);
	}
	cr_expect_geq(ra.connected, 2, "server A served %d", ra.connected);
	cr_expect_geq(rb.connected, 2, "server B served %d", rb.connected);
	for (int i = 0; i < 6; i++)
		cr_expect(has_conn_from_port(&ra, cports[i]) || has_conn_from_port(&rb, cports[i]),
		          "no connection with RemoteHost 127.0.0.1 and RemotePort %d (the client's port)", cports[i]);
	cr_expect_eq(ra.errors + rb.errors, 0, "%s %s", rwt_first_error(&ra), rwt_first_error(&rb));
	/* server A stops: the service goes on through B */
	rw_tcpserver_shutdown(sa);
	for (int i = 0; i < 20; i++)
		rw_loop_do_events(l, 50);
	int before_b = rb.connected;
	for (int i = 0; i < 4; i++)
		cr_expect_gt(via_haproxy(l, &ra, &rb, fport), 0, "client %d after server A stopped", i);
	cr_expect_eq(rb.connected - before_b, 4);
	kill(pid, SIGTERM);
	int st = 0;
	for (int i = 0; i < 300 && waitpid(pid, &st, WNOHANG) != pid; i++)
		usleep(10000);
	if (kill(pid, 0) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	unlink(cfg);
	unlink(logf);
	rmdir(dir);
	RWT_ASSERT_CLEAN(&ra);
	RWT_ASSERT_CLEAN(&rb);
	rw_tcpserver_free(sa);
	rw_tcpserver_free(sb);
	rwt_rec_free(&ra);
	rwt_rec_free(&rb);
	rw_loop_free(l);
}

/* The header comes in clear before the TLS ClientHello (as haproxy sends it
 * in front of a TLS server): with implicit TLS and ProxyProtocol=v1, a python
 * ssl client that writes the header first gets its handshake and its echo,
 * and RemoteHost is the header's address. */
Test(proxy, header_then_tls_handshake)
{
	char dir[] = "/tmp/rw-proxy-tls.XXXXXX", cmd[1024], pemf[300];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(pemf, sizeof(pemf), "%s/server.pem", dir);
	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s/k "
	         "-out %s/c -days 2 -subj /CN=localhost >/dev/null 2>&1 && cat %s/c %s/k > %s",
	         dir, dir, dir, dir, pemf);
	cr_assert_eq(system(cmd), 0, "openssl could not make a test certificate");
	rwt_rec rec;
	rwt_rec_init(&rec);
	rec.echo = true;
	rw_tcpserver *s = rwt_server_new(&rec);
	rwt_config(s, "ProxyProtocol=v1");
	cr_assert_eq(rw_tcpserver_set_ssl_enabled(s, true), 0);
	cr_assert_eq(rw_tcpserver_set_ssl_cert_store(s, pemf, strlen(pemf)), 0);
	int port = rwt_server_start(s);
	const char *script =
		"import socket, ssl, sys\n"
		"s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10)\n"
		"s.sendall(b'PROXY TCP4 192.0.2.99 127.0.0.1 4444 443\\r\\n')\n"
		"ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)\n"
		"ctx.check_hostname = False\n"
		"ctx.verify_mode = ssl.CERT_NONE\n"
		"t = ctx.wrap_socket(s, server_hostname='localhost')\n"
		"t.sendall(b'secret line\\n')\n"
		"got = b''\n"
		"while len(got) < 12:\n"
		"    d = t.recv(100)\n"
		"    if not d: break\n"
		"    got += d\n"
		"print(t.version(), got)\n"
		"sys.exit(0 if got == b'secret line\\n' else 1)\n";
	rwt_proc p;
	rwt_python_client(s, &p, script, port, 20000);
	cr_expect_eq(p.exit_code, 0, "python: %s", p.out);
	pump_until_ge(s, &rec.disconnected, 1, 5000);
	cr_assert_eq(rec.connected, 1);
	rwt_conn *c = rwt_conn_get(&rec, rwt_id(&rec, 0));
	cr_expect_str_eq(c->remote_host, "192.0.2.99");
	cr_expect_eq(c->remote_port, 4444);
	cr_expect_str_eq(rec.ev[0].addr, "192.0.2.99");
	rwt_proc_free(&p);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
	rwt_server_end(s, &rec);
}
