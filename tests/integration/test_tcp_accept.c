/* tests/integration/test_tcp_accept.c: the accept path. The listening socket
 * carries the connection options (TcpNoDelay, KeepAlive, KeepAliveTime,
 * Linger, In/OutBufferSize), which Linux copies into every accepted socket,
 * so a connection gets them without setsockopt of its own, and one changed
 * while listening is set on the connections accepted after; the local address
 * is the bound one for a specific bind, the socket's own for a wildcard one.
 * ConnectionBacklog set while listening resizes the accept queue at once, on
 * every worker's listener. The server's sockets are read through sock_diag
 * (the engine keeps no fd). */
#include "helpers/rwtest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

TestSuite(accept, .timeout = 30);

/* Linux's own behaviour, which the engine relies on: what a listening socket
 * has set is in effect on the sockets it accepts. */
Test(accept, linux_passes_listener_options_on)
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(l >= 0);
	int one = 1, idle = 77, intvl = 33, rcv = 40000, snd = 50000;
	struct linger lg = {1, 0};
	setsockopt(l, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(l, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(l, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(l, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(l, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	setsockopt(l, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	setsockopt(l, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	cr_assert_eq(bind(l, (struct sockaddr *)&a, al), 0);
	cr_assert_eq(listen(l, 4), 0);
	cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &al), 0);
	int c = rwt_connect("127.0.0.1", ntohs(a.sin_port), 5000);
	cr_assert(c >= 0);
	int s = accept(l, NULL, NULL);
	cr_assert(s >= 0);
	int v = 0;
	socklen_t n = sizeof(v);
	cr_expect_eq((getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &n), v), 1, "TCP_NODELAY");
	cr_expect_eq((getsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &v, &n), v), 1, "SO_KEEPALIVE");
	cr_expect_eq((getsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &v, &n), v), 77, "TCP_KEEPIDLE");
	cr_expect_eq((getsockopt(s, IPPROTO_TCP, TCP_KEEPINTVL, &v, &n), v), 33, "TCP_KEEPINTVL");
	cr_expect_eq((getsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, &n), v), 2 * rcv, "SO_RCVBUF");
	cr_expect_eq((getsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, &n), v), 2 * snd, "SO_SNDBUF");
	struct linger got = {0, 9};
	n = sizeof(got);
	getsockopt(s, SOL_SOCKET, SO_LINGER, &got, &n);
	cr_expect(got.l_onoff == 1 && got.l_linger == 0, "SO_LINGER %d %d", got.l_onoff, got.l_linger);
	close(s);
	close(c);
	close(l);
}

/* What sock_diag tells of the server's end of one IPv4 connection, or of
 * its listening sockets (client_port 0). */
struct diag {
	int found;           /* sockets that matched */
	unsigned backlog;    /* a listener's accept queue size (the smallest seen) */
	int timer;           /* 2: the keepalive timer runs */
	unsigned expires_ms; /* when it fires */
	unsigned rcvbuf, sndbuf;
};

static struct diag server_socket(int server_port, int client_port)
{
	struct diag d = {.backlog = ~0u};
	int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	cr_assert(nl >= 0, "sock_diag: %s", strerror(errno));
	struct {
		struct nlmsghdr h;
		struct inet_diag_req_v2 r;
	} req = {
		.h = {.nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		      .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
		.r = {.sdiag_family = AF_INET, .sdiag_protocol = IPPROTO_TCP,
		      .idiag_ext = 1 << (INET_DIAG_SKMEMINFO - 1), .idiag_states = 1 << (client_port ? TCP_ESTABLISHED : TCP_LISTEN)},
	};
	cr_assert_eq(send(nl, &req, sizeof(req), 0), (ssize_t)sizeof(req));
	static char buf[1 << 16];
	for (bool done = false; !done;) {
		ssize_t len = recv(nl, buf, sizeof(buf), 0);
		cr_assert(len > 0);
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
				done = true;
				break;
			}
			struct inet_diag_msg *m = NLMSG_DATA(h);
			if (ntohs(m->id.idiag_sport) != server_port || ntohs(m->id.idiag_dport) != client_port)
				continue;
			d.found++;
			if (m->idiag_wqueue < d.backlog)
				d.backlog = m->idiag_wqueue; /* a listener's: sk_max_ack_backlog */
			d.timer = m->idiag_timer;
			d.expires_ms = m->idiag_expires;
			int alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
			for (struct rtattr *a = (void *)(m + 1); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
				if (a->rta_type != INET_DIAG_SKMEMINFO)
					continue;
				const uint32_t *mem = RTA_DATA(a);
				d.rcvbuf = mem[SK_MEMINFO_RCVBUF];
				d.sndbuf = mem[SK_MEMINFO_SNDBUF];
			}
		}
	}
	close(nl);
	return d;
}

/* Connect to the server and return its end's sock_diag record (the client fd in *fd). */
static struct diag connect_and_look(rw_tcpserver *s, rwt_rec *rec, int port, int *fd)
{
	rw_connid id;
	*fd = rwt_connect_ready(s, rec, port, 5000, 0, &id);
	char addr[64];
	int cport = rwt_sock_port(*fd, false, addr, sizeof(addr));
	struct diag d = server_socket(port, cport);
	cr_assert(d.found, "no server socket for client port %d", cport);
	return d;
}

/* The server's end of a Disconnect: true when the client reads a reset. */
static bool disconnect_resets(rw_tcpserver *s, rwt_rec *rec, int fd)
{
	rw_connid id = rec->order[rec->order_n - 1];
	int want = rec->disconnected + 1;
	cr_assert_eq(rw_tcpserver_send(s, id, "data", 4), 0);
	cr_assert_eq(rw_tcpserver_disconnect(s, id), 0);
	pump_until_ge(s, &rec->disconnected, want, 5000);
	int end = rwt_recv_end(fd);
	close(fd);
	return end == -ECONNRESET;
}

Test(accept, connection_options_before_and_while_listening)
{
	rwt_rec rec;
	rwt_rec_init(&rec);
	rw_tcpserver *s = rwt_server_new(&rec);
	cr_assert_eq(rw_tcpserver_set_local_host(s, "127.0.0.1"), 0);
	rwt_config(s, "InBufferSize=40000");
	rwt_config(s, "OutBufferSize=50000");
	cr_assert_eq(rw_tcpserver_set_keep_alive(s, true), 0);
	rwt_config(s, "KeepAliveTime=100000");
	cr_assert_eq(rw_tcpserver_set_linger(s, false), 0);
	int port = rwt_server_start(s);

	/* Passed on by the listener. */
	int fd;
	struct diag d = connect_and_look(s, &rec, port, &fd);
	cr_expect_eq(d.rcvbuf, 80000u, "InBufferSize: SO_RCVBUF %u", d.rcvbuf);
	cr_expect_eq(d.sndbuf, 100000u, "OutBufferSize: SO_SNDBUF %u", d.sndbuf);
	cr_expect_eq(d.timer, 2, "KeepAlive: timer %d", d.timer);
	cr_expect(d.expires_ms > 80000 && d.expires_ms <= 100000, "KeepAliveTime: fires in %u ms", d.expires_ms);
	cr_expect(disconnect_resets(s, &rec, fd), "Linger=false: a reset");

	/* Changed while listening: set on each new connection. */
	rwt_config(s, "InBufferSize=30000");
	rwt_config(s, "KeepAliveTime=50000");
	cr_assert_eq(rw_tcpserver_set_linger(s, true), 0);
	d = connect_and_look(s, &rec, port, &fd);
	cr_expect_eq(d.rcvbuf, 60000u, "InBufferSize changed: SO_RCVBUF %u", d.rcvbuf);
	cr_expect_eq(d.sndbuf, 100000u, "OutBufferSize kept: SO_SNDBUF %u", d.sndbuf);
	cr_expect(d.timer == 2 && d.expires_ms > 30000 && d.expires_ms <= 50000,
	          "KeepAliveTime changed: timer %d in %u ms", d.timer, d.expires_ms);
	cr_expect(!disconnect_resets(s, &rec, fd), "Linger=true again: no reset");

	cr_assert_eq(rw_tcpserver_set_keep_alive(s, false), 0);
	d = connect_and_look(s, &rec, port, &fd);
	cr_expect_eq(d.timer, 0, "KeepAlive off again: timer %d", d.timer);
	close(fd);
	pump_until_ge(s, &rec.disconnected, 3, 5000);
	rwt_server_end(s, &rec);
}

/* ConnectionBacklog takes effect while listening, on one ring or on every
 * worker's listener, and is kept for the next start. */
static void check_backlog_while_listening(const char *workers)
{
	rwt_rec rec;
	rwt_rec_init(&rec);
	rw_tcpserver *s = rwt_server_new(&rec);
	cr_assert_eq(rw_tcpserver_set_local_host(s, "127.0.0.1"), 0);
	rwt_config(s, workers);
	int nlisteners = strcmp(workers, "Workers=2") == 0 ? 2 : 1;
	int port = rwt_server_start(s);
	struct diag d = server_socket(port, 0);
	cr_assert_eq(d.found, nlisteners, "%d listening sockets", d.found);
	cr_expect_eq(d.backlog, 5u, "the default ConnectionBacklog: %u", d.backlog);
	cr_assert_eq(rw_tcpserver_set_connection_backlog(s, 300), 0);
	d = server_socket(port, 0);
	cr_expect(d.found == nlisteners && d.backlog == 300u, "resized while listening: %u", d.backlog);
	cr_assert_eq(rw_tcpserver_stop_listening(s), 0);
	port = rwt_server_start(s);
	d = server_socket(port, 0);
	cr_expect(d.found == nlisteners && d.backlog == 300u, "kept for the next start: %u", d.backlog);
	cr_assert_eq(rw_tcpserver_set_connection_backlog(s, -1), -RW_EBAD_VALUE);
	rwt_server_end(s, &rec);
}

Test(accept, backlog_resized_while_listening)
{
	check_backlog_while_listening("Workers=1");
}

Test(accept, backlog_resized_while_listening_on_every_worker)
{
	check_backlog_while_listening("Workers=2");
}

/* With the process out of descriptors an accept fails at once, every time it
 * is re-armed: the server pauses accepting instead of spinning (one Error for
 * the pause, none per failure), and the client waiting in the queue is
 * accepted and served once descriptors are free again (the pause lasts until
 * the once-a-second sweep). */
Test(accept, out_of_descriptors_pauses_accepting_then_resumes)
{
	rwt_rec rec;
	rwt_rec_init(&rec);
	rec.echo = true;
	rw_tcpserver *s = rwt_server_new(&rec);
	int port = rwt_server_start(s);
	int c = rwt_connect("127.0.0.1", port, 5000); /* queued: the server has not turned */
	cr_assert(c >= 0);
	struct rlimit was;
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &was), 0);
	struct rlimit low = {.rlim_cur = 256, .rlim_max = was.rlim_max};
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	int fill[256], nfill = 0, fd;
	while (nfill < 256 && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		fill[nfill++] = fd;
	cr_assert(nfill < 256 && errno == EMFILE, "the descriptor table is full (%d filled)", nfill);

	rwt_pump_for(s, 1500);
	cr_expect_eq(rec.connected, 0, "nothing accepted without a descriptor");
	cr_expect(rec.errors >= 1 && rec.errors <= 3, "one Error per pause (at most one a second), got %d: %s",
	          rec.errors, rwt_first_error(&rec));

	while (nfill)
		close(fill[--nfill]);
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &was), 0);
	pump_until_ge(s, &rec.connected, 1, 3000);
	cr_expect(rwt_pump_echo(s, c, "after the pause", 15, 3000), "the waiting client is served");
	close(c);
	pump_until_ge(s, &rec.disconnected, 1, 3000);
	rec.errors = 0; /* the pause's, expected and checked above */
	rwt_server_end(s, &rec);
}

/* LocalAddress of a connection to `connect_to` on a server bound to `host`. */
static void check_local(const char *host, const char *use_ipv6, const char *connect_to)
{
	if (strchr(connect_to, ':') && !rwt_have_ipv6_loopback())
		cr_skip_test("no ::1 on this machine");
	rwt_rec rec;
	rwt_rec_init(&rec);
	rec.echo = true;
	rw_tcpserver *s = rwt_server_new(&rec);
	char set[32];
	snprintf(set, sizeof(set), "UseIPv6=%s", use_ipv6);
	rwt_config(s, set);
	cr_assert_eq(rw_tcpserver_set_local_host(s, host ? host : ""), 0); /* "": any address */
	int port = rwt_server_start(s);
	int fd = rwt_connect(connect_to, port, 5000);
	cr_assert(fd >= 0, "connect to %s: %s", connect_to, strerror(-fd));
	pump_until_ge(s, &rec.ready, 1, 5000);
	rw_connid id = rec.order[0];
	char la[64], rh[64], caddr[64];
	int cport = rwt_sock_port(fd, false, caddr, sizeof(caddr));
	cr_assert(rw_tcpserver_get_local_address(s, id, la, sizeof(la)) > 0);
	cr_expect_str_eq(la, connect_to, "LocalAddress %s (bound to %s)", la, host ? host : "any");
	cr_assert(rw_tcpserver_get_remote_host(s, id, rh, sizeof(rh)) > 0);
	cr_expect_str_eq(rh, caddr, "RemoteHost %s, the client is %s", rh, caddr);
	cr_expect_eq(rw_tcpserver_get_remote_port(s, id), cport);
	const rwt_event *req = rwt_ev_nth(&rec, -1, RWT_REQUEST, 0);
	cr_expect_str_eq(req->addr, caddr, "ConnectionRequest address");
	cr_expect(rwt_pump_echo(s, fd, "addr", 4, 5000));
	rwt_close_all_end(s, &rec, &fd, 1, 1);
}

Test(accept, local_address_of_a_specific_ipv4_bind)
{
	check_local("127.0.0.1", "0", "127.0.0.1");
}

/* 127.0.0.2 is loopback too: a wildcard bind must ask the socket. */
Test(accept, local_address_of_a_wildcard_ipv4_bind)
{
	check_local(NULL, "0", "127.0.0.2");
}

Test(accept, local_address_of_a_specific_ipv6_bind)
{
	check_local("::1", "1", "::1");
}

Test(accept, local_address_of_a_wildcard_ipv6_bind)
{
	check_local(NULL, "1", "::1");
}
