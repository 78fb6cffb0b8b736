/* tests/dtls/dtls_test.h: what the DTLSServer tests share: an event recorder,
 * a server factory, a pump with a deadline, test certificates made by the
 * openssl tool, raw UDP helpers and a hand-built DTLS 1.2 ClientHello. */
#ifndef RW_TESTS_DTLS_TEST_H
#define RW_TESTS_DTLS_TEST_H

#include <ringworks/ringworks.h>

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DT_MAX_IDS 4096

struct dt_rec {
	int requests, connected_ok, connected_fail, disconnected, data_events, errors, auth_calls;
	int statuses[8]; /* last Connected failure, last Disconnected status */
	int last_connected_status, last_disc_status, last_error;
	rw_connid last_error_id;
	char last_disc_text[160], last_conn_text[160];
	char req_addr[64];
	int req_port;
	rw_connid last_id;
	char order[256]; /* one letter per event: R C D I X (error) A (auth) */
	size_t order_len;
	uint8_t data[65536];
	size_t data_len;
	size_t last_data_len;
	bool refuse;          /* ConnectionRequest: accept = false */
	bool echo;            /* DataIn: send it back */
	int auth_force;       /* -1 leave, 0 force false, 1 force true */
	bool auth_accept_in;
	char auth_subject[160], auth_status[160];
	int disc_by_id[DT_MAX_IDS];
	int remote_port_in_connected;
};

void dt_rec_init(struct dt_rec *r);
rw_dtlsserver *dt_server(struct dt_rec *r, const char *pem, const char *host, bool start);
typedef bool (*dt_pred)(void *ctx);
/* Turn the server until pred(ctx) or timeout_ms; returns pred's last value. */
bool dt_pump_until(rw_dtlsserver *s, dt_pred pred, void *ctx, int timeout_ms);
void dt_pump_for(rw_dtlsserver *s, int ms);
struct dt_ge { const int *v; int want; };
bool dt_ge(void *ctx);
int dt_config_int(rw_dtlsserver *s, const char *name);

/* A directory with server.pem (EC P-256 cert + key); rsa.pem (RSA); a CA and
 * client certificates (ca.pem, client.pem/.key signed by it, rogue.pem/.key
 * self-signed). Made once per process. */
const char *dt_certs(void);

int dt_udp_socket(const char *host, int port_to_bind); /* bound, non-blocking */
int dt_send(int fd, const char *host, int port, const void *p, size_t n);
/* Receive one datagram within timeout_ms; returns its length or -1. */
int dt_recv(int fd, void *buf, size_t len, int timeout_ms);
/* A complete DTLS 1.2 ClientHello (ECDHE suites, groups, point formats,
 * signature algorithms), optionally with a cookie. */
size_t dt_client_hello(uint8_t *out, const uint8_t *random32, const uint8_t *cookie, size_t cookie_len,
                       uint16_t msg_seq, uint64_t rec_seq);

/* CLOCK_MONOTONIC in milliseconds. */
double dt_now_ms(void);

/* An in-process wolfSSL DTLS 1.2 client on its own non-blocking UDP socket
 * (wolfSSL reads and writes it; a test may replace the send callback),
 * offering `suites` (wolfSSL names; NULL: its defaults). */
struct WOLFSSL_CTX;
struct WOLFSSL;
struct dt_client {
	struct WOLFSSL_CTX *ctx;
	struct WOLFSSL *ssl;
	int fd;
	struct sockaddr_in peer;
};
void dt_client_open(struct dt_client *c, int port, const char *suites);
void dt_client_close(struct dt_client *c);
/* Handshake with the server turned by this thread: true when it completed,
 * false when the client failed (or after 10 s). */
bool dt_client_handshake(rw_dtlsserver *s, struct dt_client *c);
#endif
