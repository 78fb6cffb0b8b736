/* tests/integration/test_tcp_conn.c: connection set-up (spec §11 items 7-11,
 * 34): the event order, distinct ids and addresses for 50 simultaneous
 * clients, refusing in ConnectionRequest, AllowedClients / BlockedClients,
 * MaxConnections. */
#include "helpers/rwtest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TestSuite(conn, .timeout = 60);

/* ---- order ----------------------------------------------------------------- */

Test(conn, order_request_connected_ready_before_data)
{
	rwt_rec rec;
	rwt_rec_init(&rec);
	rw_tcpserver *s = rwt_server_new(&rec);
	int port = rwt_server_start(s);

	/* The client sends at once, so data is there as early as possible. */
	int fd = rwt_connect("127.0.0.1", port, 5000);
	cr_assert(fd >= 0, "connect: %s", strerror(-fd));
	cr_assert_eq(rwt_send_all(fd, "hello", 5), 0);
	char caddr[64];
	int cport = rwt_sock_port(fd, false, caddr, sizeof(caddr));

	pump_until_ge(s, &rec.data_bytes, 5, 5000);
	RWT_ASSERT_CLEAN(&rec);
	cr_assert_eq(rec.connected, 1);
	rw_connid id = rwt_id(&rec, 0);

	/* the whole event list, in order */
	cr_assert(rec.n >= 4, "events: %zu", rec.n);
	cr_expect_eq(rec.ev[0].type, RWT_REQUEST);
	cr_expect_str_eq(rec.ev[0].addr, "127.0.0.1");
	cr_expect_eq(rec.ev[0].port, cport, "ConnectionRequest port %d vs client port %d", rec.ev[0].port, cport);
	cr_expect(rec.ev[0].accept_initial, "accept starts true");
	cr_expect_eq(rec.ev[1].type, RWT_CONNECTED);
	cr_expect_eq(rec.ev[1].id, id);
	cr_expect_eq(rec.ev[1].status, 0);
	cr_expect_str_eq(rec.ev[1].desc, "OK");
	cr_expect_eq(rec.ev[2].type, RWT_READY, "ReadyToSend right after Connected (got type %d)", rec.ev[2].type);
	cr_expect_eq(rec.ev[2].id, id);
	for (size_t i = 3; i < rec.n; i++)
		cr_expect_eq(rec.ev[i].type, RWT_DATA, "event %zu type %d", i, rec.ev[i].type);
	size_t len;
	uint8_t *all = rwt_data_concat(&rec, id, &len);
	cr_expect_eq(len, 5);
	cr_expect_eq(memcmp(all, "hello", 5), 0);
	free(all);
	cr_expect_eq(rw_tcpserver_get_connection_count(s), 1);
	cr_expect_eq(rw_tcpserver_get_connected(s, id), 1);
	cr_expect_eq(rw_tcpserver_get_ready_to_send(s, id), 1);
	cr_expect_eq(rw_tcpserver_get_accept_data(s, id), 1);

	/* the client closes: Disconnected(0, "OK") is the last event */
	close(fd);
	pump_until_ge(s, &rec.disconnected, 1, 5000);
	const rwt_event *last = &rec.ev[rec.n - 1];
	cr_expect_eq(last->type, RWT_DISCONNECTED);
	cr_expect_eq(last->id, id);
	cr_expect_eq(last->status, 0);
	cr_expect_str_eq(last->desc, "OK");
	cr_expect_eq(rw_tcpserver_get_connection_count(s), 0);
	rwt_server_end(s, &rec);
}

/* The same order seen with a python3 client that sends at once and closes. */
Test(conn, order_with_python_client)
{
	rwt_rec rec;
	rwt_rec_init(&rec);
	rw_tcpserver *s = rwt_server_new(&rec);
	int port = rwt_server_start(s);
	rwt_proc p;
	const char *script =
		"import socket,sys\n"
		"c=socket.create_connection(('127.0.0.1',int(sys.argv[1])),timeout=10)\n"
		"c.sendall(b'from python\\x00!')\n"
		"c.shutdown(socket.SHUT_WR)\n"
		"while c.recv(4096): pass\n"
		"print('port',c.getsockname()[1])\n";
	rwt_python_client(s, &p, script, port, 20000);
	cr_assert_eq(p.exit_code, 0, "python: %s", p.out);
	pump_until_ge(s, &rec.disconnected, 1, 5000);
	RWT_ASSERT_CLEAN(&rec);
	rw_connid id = rwt_id(&rec, 0);
	size_t len;
	uint8_t *all = rwt_data_concat(&rec, id, &len);
	cr_expect_eq(len, 13);
	cr_expect_eq(memcmp(all, "from python\0!", 13), 0);
	free(all);
	int pyport = 0;
	const char *pp = strstr(p.out, "port ");
	cr_assert_not_null(pp, "%s", p.out);
	pyport = atoi(pp + 5);
	cr_expect_eq(rec.ev[0].type, RWT_REQUEST);
	cr_expect_eq(rec.ev[0].port, pyport);
	cr_expect_eq(rwt_conn_get(&rec, id)->remote_port, pyport);
	cr_expect_eq(rwt_ev_nth(&rec, id, 0, 0)->type, RWT_CONNECTED);
	cr_expect_eq(rwt_ev_nth(&rec, id, 0, 1)->type, RWT_READY);
	cr_expect_eq(rec.ev[rec.n - 1].type, RWT_DISCONNECTED);
	rwt_proc_free(&p);
	rw_tcpserver_free(s);
	rwt_rec_free(&rec);
}

/* ---- 50 simultaneous clients ----------------------------------------------------- */

#define N50 50
struct fifty {
	int fd[N50];
	char local_addr[N50][64], peer_addr[N50][64];
	int local_port[N50], peer_port[N50];
};

static void fifty_client(rwt_thread *t)
{
	struct fifty *f = t->arg;
	for (int i = 0; i < N50; i++) {
		char src[32];
		snprintf(src, sizeof(src), "127.0.0.%d", i + 2); /* distinct source addresses */
		int fd = rwt_connect_opts(t->host, t->port, 10000, 0, src);
		if (fd < 0) {
			rwt_fail(t, "connect %d from %s: %s", i, src, strerror(-fd));
			return;
		}
		f->fd[i] = fd;
		f->local_port[i] = rwt_sock_port(fd, false, f->local_addr[i], 64);
		f->peer_port[i] = rwt_sock_port(fd, true, f->peer_addr[i], 64);
	}
}

Test(conn, fifty_simultaneous_clients_distinct_ids_and_addresses)
{
	rwt_rec rec;
	rwt_rec_init(&rec);
	rw_tcpserver *s = rwt_server_new(&rec);
	/* a burst of 50 connects: with the default backlog of 5 a slow (sanitizer)
	 * build drops SYNs and the clients wait for 1 s retransmits */
	cr_assert_eq(rw_tcpserver_set_connection_backlog(s, 64), 0);
	cr_expect_eq(rw_tcpserver_get_connection_backlog(s), 64);
	int port = rwt_server_start(s);
	struct fifty f;
	memset(&f, 0, sizeof(f));
	rwt_thread t = {.port = port};
	rwt_thread_start(&t, fifty_client, &f);
	rwt_thread_finish(s, &t, 20000);
	pump_until_ge(s, &rec.connected, N50, 10000);
	RWT_ASSERT_CLEAN(&rec);
	cr_assert_eq(rw_tcpserver_get_connection_count(s), N50);

	rw_connid ids[N50 + 5];
	cr_assert_eq(rw_tcpserver_get_connection_ids(s, ids, N50 + 5), N50);
	for (int i = 0; i < N50; i++) {
		cr_expect_eq(ids[i], rwt_id(&rec, (size_t)i), "get_connection_ids oldest first");
		for (int j = 0; j < i; j++)
			cr_assert_neq(ids[i], ids[j], "duplicate id %lld", (long long)ids[i]);
	}
	rw_connid few[3];
	cr_expect_eq(rw_tcpserver_get_connection_ids(s, few, 3), N50, "returns the total even when max is smaller");

	/* each id's RemoteHost/RemotePort/LocalAddress match one client's view */
	int matched[N50] = {0};
	for (int i = 0; i < N50; i++) {
		rw_connid id = ids[i];
		char rh[64], la[64];
		cr_assert(rw_tcpserver_get_remote_host(s, id, rh, sizeof(rh)) > 0);
		int rp = rw_tcpserver_get_remote_port(s, id);
		cr_assert(rw_tcpserver_get_local_address(s, id, la, sizeof(la)) > 0);
		int k = -1;
		for (int c = 0; c < N50; c++)
			if (f.local_port[c] == rp && strcmp(f.local_addr[c], rh) == 0)
				k = c;
		cr_assert(k >= 0, "id %lld: RemoteHost %s RemotePort %d matches no client", (long long)id, rh, rp);
		matched[k]++;
		cr_expect_str_eq(la, f.peer_addr[k], "LocalAddress of %lld", (long long)id);
		cr_expect_eq(f.peer_port[k], port);
		char tiny[4];
		cr_expect_eq(rw_tcpserver_get_remote_host(s, id, tiny, sizeof(tiny)), -RW_EBUFFER_TOO_SMALL);
	}
	for (int c = 0; c < N50; c++)
		cr_expect_eq(matched[c], 1, "client %d matched %d ids", c, matched[c]);
	/* ConnectionRequest saw the same address/port pairs */
	for (int c = 0; c < N50; c++) {
		int seen = 0;
		for (size_t e = 0; e < rec.n; e++)
			if (rec.ev[e].type == RWT_REQUEST && rec.ev[e].port == f.local_port[c] &&
			    strcmp(rec.ev[e].addr, f.local_addr[c]) == 0)
				seen++;
		cr_expect_eq(seen, 1, "ConnectionRequest for client %d (%s:%d)", c, f.local_addr[c], f.local_port[c]);
	}

	for (int i = 0; i < N50; i++)
		close(f.fd[i]);
	pump_until_ge(s, &rec.disconnected, N50, 10000);
	RWT_ASSERT_CLEAN(&rec);
	cr_expect_eq(rw_tcpserver_get_connection_count(s), 0);
	for (int i = 0; i < N50; i++)
		cr_expect_eq(rwt_conn_get(&rec, ids[i])->disconnected_n, 1);
	rw_tcpserver_free(s);
	rwt_rec_free(&rec);
}

/* ---- refusing ---------------------------------------------------------------------- */

struct req_policy {
	int force; /* -1 leave, 0 refuse, 1 accept */
};

static void policy_request(rwt_rec *r, rw_tcpserver *s, rw_tcpserver_connection_request *e)
{
	struct req_policy *p = r->ctx;
	if (p->force >= 0)
		e->accept = p->force != 0;
}

static void expect_refused(rw_tcpserver *s, rwt_rec *rec, int port, int want_requests)
{
	int fd = rwt_connect("127.0.0.1", port, 5000);
	cr_assert(fd >= 0, "connect: %s (the kernel completes the handshake before accept)", strerror(-fd));
	int end = rwt_pump_recv_end(s, fd, 5000);
	cr_expect(end == 0 || end == -ECONNRESET, "refused client must see EOF or reset, got %d", end);
	close(fd);
	cr_expect_eq(rec->requests, want_requests);
	/* bounded observation: nothing else may happen for the refused client */
	rwt_pump_for(s, 200);
	cr_expect_eq(rec->connected, 0, "a refused connection fires no Connected");
	cr_expect_eq(rec->disconnected, 0, "a refused connection fires no Disconnected");
	cr_expect_eq(rw_tcpserver_get_connection_count(s), 0);
}

Test(conn, connection_request_refused)
{
	rwt_rec rec;
	rwt_rec_init(&rec);
	struct req_policy pol = {.force = 0};
	rec.ctx = &pol;
	rec.on_request = policy_request;
	rw_tcpserver *s = rwt_server_new(&rec);
	int port = rwt_server_start(s);
	expect_refused(s, &rec, port, 1);
	cr_expect(rec.ev[0].accept_initial, "accept starts true with the default lists");
	/* the server keeps working: the next client is accepted */
	pol.force = -1;
	int fd = rwt_connect("127.0.0.1", port, 5000);
	cr_assert(fd >= 0);
	pump_until_ge(s, &rec.connected, 1, 5000);
	rec.echo = true;
	cr_expect(rwt_pump_echo(s, fd, "x", 1, 5000), "the server still serves after a refusal");
	rwt_close_all_end(s, &rec, &fd, 1, 1);
}

Test(conn, blocked_clients_sets_accept_false)
{
	rwt_rec rec;
	rwt_rec_init(&rec);
	struct req_policy pol = {.force = -1};
	rec.ctx = &pol;
	rec.on_request = policy_request;
	rw_tcpserver *s = rwt_server_new(&rec);
	rwt_config(s, "BlockedClients=127.0.0.1");
	int port = rwt_server_start(s);
	expect_refused(s, &rec, port, 1);
	cr_expect_eq(rec.ev[0].accept_initial, false, "BlockedClients=127.0.0.1 gives accept=false");
	cr_expect_str_eq(rec.ev[0].addr, "127.0.0.1");

	/* the handler may override: the connection proceeds */
	pol.force = 1;
	int fd = rwt_connect("127.0.0.1", port, 5000);
	cr_assert(fd >= 0);
	pump_until_ge(s, &rec.connected, 1, 5000);
	cr_expect_eq(rwt_ev_nth(&rec, -1, RWT_REQUEST, 1)->accept_initial, false);
	cr_expect_eq(rw_tcpserver_get_connection_count(s), 1);
	/* a client from another loopback address is not blocked */
	pol.force = -1;
	int fd2 = rwt_connect_opts("127.0.0.1", port, 5000, 0, "127.0.0.9");
	cr_assert(fd2 >= 0);
	pump_until_ge(s, &rec.connected, 2, 5000);
	cr_expect_eq(rwt_ev_nth(&rec, -1, RWT_REQUEST, 2)->accept_initial, true);
	cr_expect_str_eq(rwt_ev_nth(&rec, -1, RWT_REQUEST, 2)->addr, "127.0.0.9");
	rwt_close_all_end(s, &rec, (int[]){fd, fd2}, 2, 2);
}

Test(conn, allowed_clients_not_matching_loopback)
{
	rwt_rec rec;
	rwt_rec_init(&rec);
	rw_tcpserver *s = rwt_server_new(&rec);
	rwt_config(s, "AllowedClients=10.*");
	int port = rwt_server_start(s);
	expect_refused(s, &rec, port, 1);
	cr_expect_eq(rec.ev[0].accept_initial, false, "AllowedClients=10.* refuses loopback");
	rwt_server_end(s, &rec);
}

static void allowed_accepts(const char *list)
{
	rwt_rec rec;
	rwt_rec_init(&rec);
	rw_tcpserver *s = rwt_server_new(&rec);
	char set[128];
	snprintf(set, sizeof(set), "AllowedClients=%s", list);
	rwt_config(s, set);
	int port = rwt_server_start(s);
	int fd = rwt_connect("127.0.0.1", port, 5000);
	cr_assert(fd >= 0);
	pump_until_ge(s, &rec.connected, 1, 5000);
	cr_expect_eq(rec.ev[0].type, RWT_REQUEST);
	cr_expect_eq(rec.ev[0].accept_initial, true, "%s should accept 127.0.0.1", list);
	rwt_close_all_end(s, &rec, &fd, 1, 1);
}

Test(conn, allowed_clients_glob_matches_loopback)
{
	allowed_accepts("127.0.0.*");
}

Test(conn, allowed_clients_cidr_and_list)
{
	allowed_accepts("10.0.0.0/8, 127.0.0.0/8");
}

/* ---- MaxConnections ------------------------------------------------------------------ */

Test(conn, max_connections_limit)
{
	enum { N = 5 };
	rwt_rec rec;
	rwt_rec_init(&rec);
	rec.echo = true;
	rw_tcpserver *s = rwt_server_new(&rec);
	rwt_config(s, "MaxConnections=5");
	int port = rwt_server_start(s);
	int fd[N + 2];
	for (int i = 0; i < N; i++) {
		fd[i] = rwt_connect("127.0.0.1", port, 5000);
		cr_assert(fd[i] >= 0);
		pump_until_ge(s, &rec.connected, i + 1, 5000);
		char msg[32];
		snprintf(msg, sizeof(msg), "client-%d", i);
		cr_assert(rwt_pump_echo(s, fd[i], msg, strlen(msg), 5000), "echo on client %d", i);
	}
	cr_expect_eq(rw_tcpserver_get_connection_count(s), N);

	/* the 6th is accepted by the kernel and closed by the server, no event */
	fd[N] = rwt_connect("127.0.0.1", port, 5000);
	cr_assert(fd[N] >= 0);
	int end = rwt_pump_recv_end(s, fd[N], 5000);
	cr_expect(end == 0 || end == -ECONNRESET, "over-limit client sees EOF/reset, got %d", end);
	close(fd[N]);
	rwt_pump_for(s, 100);
	cr_expect_eq(rec.requests, N, "no ConnectionRequest for the over-limit client");
	cr_expect_eq(rec.connected, N);
	cr_expect_eq(rec.disconnected, 0);
	cr_expect_eq(rw_tcpserver_get_connection_count(s), N);
	cr_expect_str_eq(rwt_config_get(s, "RejectedConnectionCount"), "1");

	/* the first N keep echoing */
	for (int i = 0; i < N; i++)
		cr_expect(rwt_pump_echo(s, fd[i], "again", 5, 5000), "echo after the limit on %d", i);

	/* one leaves; a new client then succeeds */
	close(fd[0]);
	pump_until_ge(s, &rec.disconnected, 1, 5000);
	fd[N + 1] = rwt_connect("127.0.0.1", port, 5000);
	cr_assert(fd[N + 1] >= 0);
	pump_until_ge(s, &rec.connected, N + 1, 5000);
	cr_expect(rwt_pump_echo(s, fd[N + 1], "newcomer", 8, 5000));
	cr_expect_eq(rw_tcpserver_get_connection_count(s), N);
	cr_expect_str_eq(rwt_config_get(s, "RejectedConnectionCount"), "1");
	for (int i = 1; i < N; i++)
		close(fd[i]);
	close(fd[N + 1]);
	pump_until_ge(s, &rec.disconnected, N + 1, 5000);
	rwt_server_end(s, &rec);
}
