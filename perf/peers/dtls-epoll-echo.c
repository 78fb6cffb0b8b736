/* perf/peers/dtls-epoll-echo.c: the DTLS echo server a user would write
 * without ringworks, for side-by-side runs: one UDP socket, epoll, recvfrom /
 * sendto one datagram at a time, wolfSSL DTLS 1.2 per peer over custom I/O,
 * wolfSSL's own cookie check (a throw-away WOLFSSL per cookie-less
 * ClientHello, kept only once wolfDTLS_SetChGoodCb says the cookie verified),
 * retransmission by wolfSSL_dtls_got_timeout once a second.
 *
 *   dtls-epoll-echo PORT CERT.pem [HOST] [--corrupt-every N]
 *                                            prints "listening dtls PORT"
 *
 * --corrupt-every N flips one byte of every Nth echoed datagram (before
 * encryption), for rw-load's self-test of its verification.
 *
 * A peer table with linear probing by address and port; at most MAX_PEERS.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PEERS 65536 /* power of two */

struct peer {
	struct sockaddr_in addr; /* sin_family 0: free slot */
	WOLFSSL *ssl;
	bool open;
	time_t next_to;
};

static struct peer *peers;
static int fd;
static const uint8_t *in_data;
static size_t in_len;
static uint8_t secret[32];
static volatile sig_atomic_t stop;
static unsigned long corrupt_every, echoed;

static void on_signal(int sig) { (void)sig; stop = 1; }

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	(void)ssl;
	(void)ctx;
	if (!in_data)
		return WOLFSSL_CBIO_ERR_WANT_READ;
	size_t n = in_len < (size_t)sz ? in_len : (size_t)sz;
	memcpy(buf, in_data, n);
	in_data = NULL;
	return (int)n;
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	(void)ssl;
	struct sockaddr_in *to = ctx;
	sendto(fd, buf, (size_t)sz, 0, (struct sockaddr *)to, sizeof(*to));
	return sz;
}

static int ch_good(WOLFSSL *ssl, void *ctx)
{
	(void)ssl;
	*(bool *)ctx = true;
	return 0;
}

static size_t slot_of(const struct sockaddr_in *a)
{
	uint64_t h = ((uint64_t)a->sin_addr.s_addr << 16 | a->sin_port) * 0x9e3779b97f4a7c15ULL;
	return (size_t)(h >> 40) & (MAX_PEERS - 1);
}

static struct peer *find(const struct sockaddr_in *a, bool create)
{
	size_t i = slot_of(a);
	for (size_t n = 0; n < MAX_PEERS; n++, i = (i + 1) & (MAX_PEERS - 1)) {
		struct peer *p = &peers[i];
		if (!p->addr.sin_family)
			return create ? p : NULL;
		if (p->addr.sin_port == a->sin_port && p->addr.sin_addr.s_addr == a->sin_addr.s_addr)
			return p;
	}
	return NULL;
}

/* Removal with linear probing: re-insert the rest of the cluster. */
static void drop(struct peer *p)
{
	wolfSSL_free(p->ssl);
	memset(p, 0, sizeof(*p));
	size_t i = ((size_t)(p - peers) + 1) & (MAX_PEERS - 1);
	while (peers[i].addr.sin_family) {
		struct peer tmp = peers[i];
		memset(&peers[i], 0, sizeof(peers[i]));
		struct peer *q = find(&tmp.addr, true);
		*q = tmp;
		wolfSSL_SetIOWriteCtx(q->ssl, &q->addr);
		i = (i + 1) & (MAX_PEERS - 1);
	}
}

static void serve(struct peer *p, uint8_t *buf, size_t n)
{
	in_data = buf;
	in_len = n;
	if (!p->open) {
		int ret = wolfSSL_accept(p->ssl);
		if (ret == WOLFSSL_SUCCESS) {
			p->open = true;
		} else {
			int err = wolfSSL_get_error(p->ssl, ret);
			if (err != WOLFSSL_ERROR_WANT_READ && err != WOLFSSL_ERROR_WANT_WRITE)
				drop(p);
			else
				p->next_to = time(NULL) + wolfSSL_dtls_get_current_timeout(p->ssl);
			return;
		}
	}
	uint8_t plain[16384];
	for (;;) {
		int r = wolfSSL_read(p->ssl, plain, sizeof(plain));
		if (r > 0) {
			if (corrupt_every && ++echoed % corrupt_every == 0)
				plain[r - 1] ^= 0x20;
			wolfSSL_write(p->ssl, plain, r);
			continue;
		}
		int err = wolfSSL_get_error(p->ssl, r);
		if (err != WOLFSSL_ERROR_WANT_READ && err != WOLFSSL_ERROR_WANT_WRITE) {
			if (err == WOLFSSL_ERROR_ZERO_RETURN)
				wolfSSL_shutdown(p->ssl);
			drop(p);
		}
		return;
	}
}

static void on_datagram(WOLFSSL_CTX *ctx, struct sockaddr_in *from, uint8_t *buf, size_t n)
{
	struct peer *p = find(from, false);
	if (p) {
		serve(p, buf, n);
		return;
	}
	/* A new peer: a throw-away object answers with a HelloVerifyRequest; it
	 * is kept only when the ClientHello carried a valid cookie. */
	p = find(from, true);
	if (!p)
		return;
	bool good = false;
	WOLFSSL *ssl = wolfSSL_new(ctx);
	if (!ssl)
		return;
	p->addr = *from;
	p->ssl = ssl;
	p->open = false;
	wolfSSL_SetIOReadCtx(ssl, NULL);
	wolfSSL_SetIOWriteCtx(ssl, &p->addr);
	wolfSSL_dtls_set_using_nonblock(ssl, 1);
	wolfSSL_dtls_set_peer(ssl, &p->addr, sizeof(p->addr));
	wolfSSL_DTLS_SetCookieSecret(ssl, secret, sizeof(secret));
	wolfDTLS_SetChGoodCb(ssl, ch_good, &good);
	serve(p, buf, n);
	p = find(from, false);
	if (p && !good && !p->open)
		drop(p);
}

static void timers(void)
{
	time_t now = time(NULL);
	for (size_t i = 0; i < MAX_PEERS; i++) {
		struct peer *p = &peers[i];
		if (p->addr.sin_family && !p->open && p->next_to && now >= p->next_to) {
			if (wolfSSL_dtls_got_timeout(p->ssl) != WOLFSSL_SUCCESS) {
				drop(p);
				i--; /* the cluster moved into this slot */
				continue;
			}
			p->next_to = now + wolfSSL_dtls_get_current_timeout(p->ssl);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[argc - 2], "--corrupt-every")) {
		corrupt_every = strtoul(argv[argc - 1], NULL, 10);
		argc -= 2;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: dtls-epoll-echo PORT CERT.pem [HOST] [--corrupt-every N]\n");
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	wolfSSL_Init();
	WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfDTLSv1_2_server_method());
	if (!ctx || wolfSSL_CTX_use_certificate_chain_file(ctx, argv[2]) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_use_PrivateKey_file(ctx, argv[2], WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS) {
		fprintf(stderr, "dtls-epoll-echo: cannot load %s\n", argv[2]);
		return 1;
	}
	wolfSSL_CTX_SetIORecv(ctx, io_recv);
	wolfSSL_CTX_SetIOSend(ctx, io_send);
	if (getrandom(secret, sizeof(secret), 0) != (ssize_t)sizeof(secret))
		return 1;
	peers = calloc(MAX_PEERS, sizeof(*peers));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
	inet_pton(AF_INET, argc > 3 ? argv[3] : "127.0.0.1", &a.sin_addr);
	if (!peers || fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("dtls-epoll-echo");
		return 1;
	}
	socklen_t alen = sizeof(a);
	getsockname(fd, (struct sockaddr *)&a, &alen);
	printf("listening dtls %d\n", ntohs(a.sin_port));
	fflush(stdout);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	static uint8_t buf[65536];
	time_t last = time(NULL);
	while (!stop) {
		struct epoll_event out;
		int n = epoll_wait(ep, &out, 1, 100);
		if (n < 0 && errno != EINTR)
			break;
		for (;;) {
			struct sockaddr_in from;
			socklen_t flen = sizeof(from);
			ssize_t k = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
			if (k < 0)
				break;
			on_datagram(ctx, &from, buf, (size_t)k);
		}
		if (time(NULL) != last) {
			last = time(NULL);
			timers();
		}
	}
	for (size_t i = 0; i < MAX_PEERS; i++)
		if (peers[i].ssl)
			wolfSSL_free(peers[i].ssl);
	free(peers);
	wolfSSL_CTX_free(ctx);
	wolfSSL_Cleanup();
	close(fd);
	return 0;
}
