/* tests/integration/test_tcp_ipv6.c: address families (spec §11 item 35:
 * UseIPv6 0, 1, 2) and a loop shared by two servers (loop.h). */
#include "helpers/rwtest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

TestSuite(family, .timeout = 30);

static void need_ipv6(void)
{
	if (!rwt_have_ipv6_loopback())
		cr_skip_test("no ::1 on this machine");
}

static rw_tcpserver *server_on(rwt_rec *rec, const char *use_ipv6, const char *host)
{
	rw_tcpserver *s = rwt_server_new(rec);
	char set[32];
	snprintf(set, sizeof(set), "UseIPv6=%s", use_ipv6);
	rwt_config(s, set);
	cr_assert_eq(rw_tcpserver_set_local_host(s, host), 0);
	return s;
}

/* Skip without ::1, then start an echo server with UseIPv6=use_ipv6 on host;
 * returns the port (the family tests all start this way). */
static int family_server_start(rwt_rec *rec, rw_tcpserver **s, const char *use_ipv6, const char *host)
{
	need_ipv6();
	rwt_rec_init(rec);
	rec->echo = true;
	*s = server_on(rec, use_ipv6, host);
	return rwt_server_start(*s);
}

static void check_conn(rw_tcpserver *s, rwt_rec *rec, int fd, const char *family_addr)
{
	int want = rec->ready + 1;
	pump_until_ge(s, &rec->ready, want, 5000);
	rw_connid id = rec->order[rec->order_n - 1];
	char rh[64], la[64], caddr[64], paddr[64];
	int cport = rwt_sock_port(fd, false, caddr, sizeof(caddr));
	rwt_sock_port(fd, true, paddr, sizeof(paddr));
	cr_assert(rw_tcpserver_get_remote_host(s, id, rh, sizeof(rh)) > 0);
	cr_assert(rw_tcpserver_get_local_address(s, id, la, sizeof(la)) > 0);
	cr_expect_str_eq(rh, family_addr, "RemoteHost %s for a %s client", rh, family_addr);
	cr_expect_str_eq(la, family_addr, "LocalAddress %s for a %s client", la, family_addr);
	cr_expect_eq(rw_tcpserver_get_remote_port(s, id), cport);
	const rwt_event *req = rwt_ev_nth(rec, -1, RWT_REQUEST, (size_t)rec->requests - 1);
	cr_expect_str_eq(req->addr, family_addr, "ConnectionRequest address");
	cr_expect(rwt_pump_echo(s, fd, "fam", 3, 5000));
}

Test(family, use_ipv6_2_accepts_both_families)
{
	rwt_rec rec;
	rw_tcpserver *s;
	int port = family_server_start(&rec, &s, "2", "");
	int f4 = rwt_connect("127.0.0.1", port, 5000);
	cr_assert(f4 >= 0, "IPv4 connect with UseIPv6=2: %s", strerror(-f4));
	check_conn(s, &rec, f4, "127.0.0.1");
	int f6 = rwt_connect("::1", port, 5000);
	cr_assert(f6 >= 0, "IPv6 connect with UseIPv6=2: %s", strerror(-f6));
	check_conn(s, &rec, f6, "::1");
	rwt_close_all_end(s, &rec, (int[]){f4, f6}, 2, 2);
}

/* With UseIPv6=use_ipv6 a client of the refused family cannot connect, while
 * one of the other family is served (echo, addresses) and is the only one. */
static void check_one_family_only(const char *use_ipv6, const char *refused_addr, const char *accepted_addr)
{
	rwt_rec rec;
	rw_tcpserver *s;
	int port = family_server_start(&rec, &s, use_ipv6, "");
	int bad = rwt_connect(refused_addr, port, 2000);
	cr_expect(bad < 0, "a client to %s connected with UseIPv6=%s", refused_addr, use_ipv6);
	if (bad >= 0)
		close(bad);
	int fd = rwt_connect(accepted_addr, port, 5000);
	cr_assert(fd >= 0, "connect to %s with UseIPv6=%s: %s", accepted_addr, use_ipv6, strerror(-fd));
	check_conn(s, &rec, fd, accepted_addr);
	close(fd);
	pump_until_ge(s, &rec.disconnected, 1, 5000);
	cr_expect_eq(rec.connected, 1);
	rwt_server_end(s, &rec);
}

Test(family, use_ipv6_0_refuses_ipv6)
{
	check_one_family_only("0", "::1", "127.0.0.1");
}

Test(family, use_ipv6_1_refuses_ipv4)
{
	check_one_family_only("1", "127.0.0.1", "::1");
}

Test(family, ipv6_loopback_host_with_python_client)
{
	rwt_rec rec;
	rw_tcpserver *s;
	int port = family_server_start(&rec, &s, "1", "::1");
	const char *script =
		"import socket,sys\n"
		"c=socket.create_connection(('::1',int(sys.argv[1])),timeout=10)\n"
		"c.sendall(b'six\\x00')\n"
		"b=b''\n"
		"while len(b)<4:\n"
		"  x=c.recv(10)\n"
		"  if not x: break\n"
		"  b+=x\n"
		"sys.exit(0 if b==b'six\\x00' else 1)\n";
	rwt_proc p;
	rwt_python_client(s, &p, script, port, 15000);
	cr_expect_eq(p.exit_code, 0, "python over ::1: %s", p.out);
	pump_until_ge(s, &rec.disconnected, 1, 5000);
	cr_expect_str_eq(rwt_conn_get(&rec, rwt_id(&rec, 0))->remote_host, "::1");
	rwt_proc_free(&p);
	rwt_server_end(s, &rec);
}

/* ---- a shared loop ----------------------------------------------------------- */

TestSuite(loop, .timeout = 30);

struct two_done {
	rwt_rec *a, *b;
	int fa, fb;
	int got_a, got_b;
	char ba[16], bb[16];
};

static bool both_echoed(void *p)
{
	struct two_done *d = p;
	ssize_t k;
	if (d->got_a < 5 && (k = recv(d->fa, d->ba + d->got_a, (size_t)(5 - d->got_a), MSG_DONTWAIT)) > 0)
		d->got_a += (int)k;
	if (d->got_b < 5 && (k = recv(d->fb, d->bb + d->got_b, (size_t)(5 - d->got_b), MSG_DONTWAIT)) > 0)
		d->got_b += (int)k;
	return d->got_a == 5 && d->got_b == 5;
}

static bool both_disconnected(void *p)
{
	struct two_done *d = p;
	return d->a->disconnected >= 1 && d->b->disconnected >= 1;
}

Test(loop, two_servers_one_loop)
{
	rw_loop *loop = NULL;
	int rc = rw_loop_new(&loop, NULL);
	cr_assert_eq(rc, 0, "rw_loop_new: %d (%s) %s", rc, rw_strerror(rc), rw_loop_unavailable_reason());
	rwt_rec ra, rb;
	rwt_rec_init(&ra);
	rwt_rec_init(&rb);
	ra.echo = rb.echo = true;
	rw_tcpserver *a = rw_tcpserver_new_on_loop(loop);
	rw_tcpserver *b = rw_tcpserver_new_on_loop(loop);
	cr_assert(a && b);
	cr_expect_eq(rw_tcpserver_get_loop(a), loop);
	cr_expect_eq(rw_tcpserver_get_loop(b), loop);
	rwt_rec_attach(&ra, a);
	rwt_rec_attach(&rb, b);
	cr_assert_eq(rw_tcpserver_set_local_host(a, "127.0.0.1"), 0);
	cr_assert_eq(rw_tcpserver_set_local_host(b, "127.0.0.1"), 0);
	int pa = rwt_server_start(a);
	int pb = rwt_server_start(b);
	cr_expect_neq(pa, pb);
	struct two_done d = {.a = &ra, .b = &rb};
	d.fa = rwt_connect("127.0.0.1", pa, 5000);
	d.fb = rwt_connect("127.0.0.1", pb, 5000);
	cr_assert(d.fa >= 0 && d.fb >= 0);
	cr_assert_eq(rwt_send_all(d.fa, "to-a!", 5), 0);
	cr_assert_eq(rwt_send_all(d.fb, "to-b!", 5), 0);
	/* only the loop is turned: one call serves both servers */
	loop_pump_until(loop, both_echoed, &d, 5000);
	cr_expect_eq(memcmp(d.ba, "to-a!", 5), 0);
	cr_expect_eq(memcmp(d.bb, "to-b!", 5), 0);
	cr_expect_eq(ra.connected, 1);
	cr_expect_eq(rb.connected, 1);
	cr_expect_eq(rw_loop_free(loop), -RW_EBAD_STATE, "a loop with servers on it must not be freed");
	close(d.fa);
	close(d.fb);
	loop_pump_until(loop, both_disconnected, &d, 5000);
	RWT_ASSERT_CLEAN(&ra);
	RWT_ASSERT_CLEAN(&rb);
	/* free one server: the other keeps working on the loop */
	rw_tcpserver_free(a);
	d.fb = rwt_connect("127.0.0.1", pb, 5000);
	cr_assert(d.fb >= 0);
	cr_assert_eq(rwt_send_all(d.fb, "again", 5), 0);
	d.got_a = 5;
	d.got_b = 0;
	loop_pump_until(loop, both_echoed, &d, 5000);
	cr_expect_eq(memcmp(d.bb, "again", 5), 0);
	close(d.fb);
	rw_tcpserver_free(b);
	cr_expect_eq(rw_loop_free(loop), 0);
	rwt_rec_free(&ra);
	rwt_rec_free(&rb);
}
