/* tests/tls/test_tls_server.c: TCPServer with TLS against clients nobody here
 * wrote: python3's ssl module (TLS 1.3 and 1.2), openssl s_client (a TLS 1.1
 * client must be refused), a raw client sending garbage or nothing; plus
 * StartSSL after a plaintext STARTTLS line, and the certificate errors of
 * StartListening. The certificate is made by the openssl tool at test time. */
#include <ringworks/ringworks.h>

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tls_test_util.h"

static const char *const py_echo =
	PY_TLS_CTX
	"ctx.verify_mode = ssl.CERT_NONE\n"
	"if len(sys.argv) > 2: ctx.maximum_version = ssl.TLSVersion.TLSv1_2\n"
	"s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[1]))), server_hostname='localhost')\n"
	"msg = bytes(range(256)) * 64\n"
	"s.sendall(msg); got = b''\n"
	"while len(got) < len(msg):\n"
	"    d = s.recv(65536)\n"
	"    if not d: break\n"
	"    got += d\n"
	"print(s.version(), got == msg); s.close()\n";

Test(tls_server, implicit_tls13_echo_with_python)
{
	make_cert();
	struct state st = {0};
	rw_tcpserver *s = tls_server(&st, RW_SSL_START_IMPLICIT);
	cr_assert(rw_tcpserver_get_ssl_enabled(s));
	char subject[128];
	cr_assert_gt(rw_tcpserver_get_ssl_cert_subject(s, subject, sizeof(subject)), 0);
	cr_assert(strstr(subject, "CN=localhost") != NULL, "%s", subject);
	char out[256];
	int rc = run_python(s, py_echo, out, sizeof(out), 20);
	cr_assert_eq(rc, 0, "python client failed: %s", out);
	cr_assert_str_eq(out, "TLSv1.3 True\n");
	pump_until(s, &st.disconnected, 1, 5);
	cr_assert_eq(st.connected, 1);
	cr_assert_eq(st.failed_status, 0);
	rw_tcpserver_free(s);
	drop_cert();
}

Test(tls_server, tls12_client_and_negotiated_version)
{
	make_cert();
	struct state st = {0};
	rw_tcpserver *s = tls_server(&st, RW_SSL_START_AUTOMATIC);
	char script[2048];
	snprintf(script, sizeof(script), "import sys; sys.argv.append('1.2')\n%s", py_echo);
	char out[256];
	cr_assert_eq(run_python(s, script, out, sizeof(out), 20), 0, "%s", out);
	cr_assert_str_eq(out, "TLSv1.2 True\n");
	rw_tcpserver_free(s);
	drop_cert();
}

Test(tls_server, tls11_client_is_refused_and_others_go_on)
{
	make_cert();
	struct state st = {0};
	rw_tcpserver *s = tls_server(&st, RW_SSL_START_IMPLICIT);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "openssl s_client -connect 127.0.0.1:%d -tls1_1 </dev/null >/dev/null 2>&1",
	         rw_tcpserver_get_local_port(s));
	char script[512];
	snprintf(script, sizeof(script), "import subprocess, sys; sys.exit(subprocess.call(%s%s%s, shell=True))",
	         "\"", cmd, "\"");
	char out[64];
	int rc = run_python(s, script, out, sizeof(out), 20);
	cr_assert_neq(rc, 0, "a TLS 1.1 handshake must fail");
	pump_until(s, &st.disconnected, 1, 5);
	cr_assert_eq(st.connected, 1, "Connected fires once, with the failure");
	cr_assert_neq(st.failed_status, 0);
	cr_assert_neq(st.last_status, 0);
	cr_assert_eq(run_python(s, py_echo, out, sizeof(out), 20), 0, "the next client is served: %s", out);
	rw_tcpserver_free(s);
	drop_cert();
}

Test(tls_server, garbage_gets_connected_276_then_disconnected)
{
	make_cert();
	struct state st = {0};
	rw_tcpserver *s = tls_server(&st, RW_SSL_START_IMPLICIT);
	int fd = raw_connect(rw_tcpserver_get_local_port(s));
	static const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	cr_assert_eq(write(fd, junk, sizeof(junk) - 1), (ssize_t)sizeof(junk) - 1);
	pump_until(s, &st.disconnected, 1, 5);
	cr_assert_eq(st.failed_status, RW_ESSL_HANDSHAKE);
	cr_assert_eq(st.data_events, 0, "no plaintext may leak out of a failed handshake");
	close(fd);
	rw_tcpserver_free(s);
	drop_cert();
}

Test(tls_server, stalled_handshake_times_out)
{
	make_cert();
	struct state st = {0};
	rw_tcpserver *s = rw_tcpserver_new();
	rw_tcpserver_set_local_host(s, "127.0.0.1");
	rw_tcpserver_config(s, "DoEventsTimeout=20", NULL, 0);
	cr_assert_eq(rw_tcpserver_config(s, "DefaultConnectionTimeout=1", NULL, 0), 0);
	rw_tcpserver_set_events(s, &events, &st);
	rw_tcpserver_set_ssl_enabled(s, true);
	rw_tcpserver_set_ssl_cert_store(s, pem, strlen(pem));
	cr_assert_eq(rw_tcpserver_start_listening(s), 0);
	int fd = raw_connect(rw_tcpserver_get_local_port(s));
	double t0 = now_s();
	pump_until(s, &st.disconnected, 1, 6);
	cr_assert_geq(now_s() - t0, 0.9);
	cr_assert_eq(st.failed_status, RW_ETIMEDOUT);
	close(fd);
	rw_tcpserver_free(s);
	drop_cert();
}

Test(tls_server, explicit_starttls_then_encrypted_echo)
{
	make_cert();
	struct state st = {.start_tls_on_line = true};
	rw_tcpserver *s = tls_server(&st, RW_SSL_START_EXPLICIT);
	rw_tcpserver_set_default_eol(s, "\r\n", 2);
	static const char *const py =
		"import socket, ssl, sys\n"
		"raw = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n"
		"raw.sendall(b'STARTTLS\\r\\n'); ok = raw.recv(4)\n"
		"ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname = False\n"
		"ctx.verify_mode = ssl.CERT_NONE\n"
		"s = ctx.wrap_socket(raw, server_hostname='localhost')\n"
		"s.sendall(b'secret'); got = s.recv(64)\n"
		"print(ok == b'GO\\r\\n', got == b'secret'); s.close()\n";
	char out[128];
	cr_assert_eq(run_python(s, py, out, sizeof(out), 20), 0, "%s", out);
	cr_assert_str_eq(out, "True True\n");
	pump_until(s, &st.disconnected, 1, 5);
	cr_assert_eq(st.connected, 2, "Connected fires again after StartSSL's handshake");
	cr_assert_eq(st.got_len, 8 + 6);
	cr_assert(memcmp(st.got, "STARTTLSsecret", 14) == 0);
	rw_tcpserver_free(s);
	drop_cert();
}

Test(tls_server, start_listening_certificate_errors)
{
	make_cert();
	rw_tcpserver *s = rw_tcpserver_new();
	rw_tcpserver_set_local_host(s, "127.0.0.1");
	cr_assert_eq(rw_tcpserver_get_ssl_start_mode(s), RW_SSL_START_NONE);
	cr_assert_not(rw_tcpserver_get_ssl_enabled(s));
	cr_assert_eq(rw_tcpserver_set_ssl_start_mode(s, RW_SSL_START_IMPLICIT), 0);
	cr_assert(rw_tcpserver_get_ssl_enabled(s), "SSLStartMode updates SSLEnabled");
	cr_assert_eq(rw_tcpserver_start_listening(s), -RW_ESSL_NO_SERVER_CERT);
	cr_assert_eq(rw_tcpserver_set_ssl_cert_store_type(s, 0), -RW_ENOT_SUPPORTED, "Windows stores");
	cr_assert_eq(rw_tcpserver_set_ssl_cert_store_type(s, 4), -RW_ENOT_SUPPORTED, "Java stores");
	rw_tcpserver_set_ssl_cert_store(s, "/nonexistent.pem", 16);
	cr_assert_eq(rw_tcpserver_start_listening(s), -RW_ESSL_CERT_STORE);
	rw_tcpserver_set_ssl_cert_store(s, pem, strlen(pem));
	rw_tcpserver_set_ssl_cert_subject(s, "CN=somebody-else");
	cr_assert_eq(rw_tcpserver_start_listening(s), -RW_ESSL_CERT_NOT_FOUND);
	cr_assert_eq(rw_tcpserver_config(s, "SSLEnabledProtocols=768", NULL, 0), 0);
	rw_tcpserver_set_ssl_cert_subject(s, "localhost");
	cr_assert_eq(rw_tcpserver_start_listening(s), -RW_ENOT_SUPPORTED, "TLS 1.1 is refused");
	cr_assert_eq(rw_tcpserver_config(s, "SSLEnabledProtocols=15360", NULL, 0), 0);
	cr_assert_eq(rw_tcpserver_start_listening(s), 0, "a substring of the subject selects it");
	cr_assert_eq(rw_tcpserver_set_ssl_start_mode(s, RW_SSL_START_NONE), -RW_EBAD_STATE);
	rw_tcpserver_free(s);
	drop_cert();
}

Test(tls_server, sixteen_mib_echo_and_a_thousand_concurrent_clients)
{
	make_cert();
	struct state st = {0};
	rw_tcpserver *s = tls_server(&st, RW_SSL_START_IMPLICIT);
	rw_tcpserver_set_connection_backlog(s, 2048);
	/* 16 MiB through TLS exercises WOULDBLOCK and ReadyToSend under the
	 * 1 MiB queue: the test's echo handler drops what a send did not take,
	 * so the queue is raised for this exchange. */
	cr_assert_eq(rw_tcpserver_config(s, "SendQueueLimit=67108864", NULL, 0), 0);
	static const char *const big =
		"import socket, ssl, sys, threading\n"
		"ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname = False\n"
		"ctx.verify_mode = ssl.CERT_NONE\n"
		"s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[1]))), server_hostname='x')\n"
		"msg = bytes((i * 7 + (i >> 10)) & 255 for i in range(16 << 20))\n"
		"t = threading.Thread(target=s.sendall, args=(msg,)); t.start()\n"
		"got = bytearray()\n"
		"while len(got) < len(msg):\n"
		"    d = s.recv(1 << 20)\n"
		"    if not d: break\n"
		"    got += d\n"
		"t.join(); print(got == msg)\n";
	char out[64];
	cr_assert_eq(run_python(s, big, out, sizeof(out), 60), 0, "%s", out);
	cr_assert_str_eq(out, "True\n");
	static const char *const many =
		"import asyncio, ssl, sys\n"
		"port = int(sys.argv[1])\n"
		"ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname = False\n"
		"ctx.verify_mode = ssl.CERT_NONE\n"
		"async def one(i, gate):\n"
		"    async with gate:\n"
		"        r, w = await asyncio.open_connection('127.0.0.1', port, ssl=ctx, server_hostname='x')\n"
		"    w.write(b'client %d' % i); await w.drain()\n"
		"    d = await r.readexactly(len(b'client %d' % i))\n"
		"    return (d == b'client %d' % i, r, w)\n"
		"async def main():\n"
		"    gate = asyncio.Semaphore(200)\n"
		"    tasks = [asyncio.ensure_future(one(i, gate)) for i in range(1000)]\n"
		"    done, pending = await asyncio.wait(tasks, timeout=45)\n"
		"    if pending:\n"
		STALL_DUMP
		"    res = [t.result() for t in tasks]\n"
		"    print(sum(1 for ok, r, w in res if ok))\n"
		"    for ok, r, w in res: w.close()\n"
		"asyncio.run(main())\n";
	cr_assert_eq(run_python(s, many, out, sizeof(out), 90), 0, "%s", out);
	cr_assert_str_eq(out, "1000\n", "every one of 1,000 concurrent TLS clients got its echo");
	pump_until(s, &st.disconnected, 1001, 10);
	cr_assert_eq(st.failed_status, 0);
	rw_tcpserver_free(s);
	drop_cert();
}

static char seen_alpn[64], seen_sni[64];

static void on_connected_read_tls(rw_tcpserver *s, const rw_tcpserver_connected *e, void *u)
{
	on_connected(s, e, u);
	char key[64];
	snprintf(key, sizeof(key), "SSLNegotiatedALPN[%lld]", (long long)e->connection_id);
	cr_assert_geq(rw_tcpserver_config(s, key, seen_alpn, sizeof(seen_alpn)), 0);
	snprintf(key, sizeof(key), "SSLServerName[%lld]", (long long)e->connection_id);
	cr_assert_geq(rw_tcpserver_config(s, key, seen_sni, sizeof(seen_sni)), 0);
}

Test(tls_server, alpn_and_sni_visible_per_connection)
{
	make_cert();
	struct state st = {0};
	static const rw_tcpserver_events ev = {
		.connected = on_connected_read_tls, .disconnected = on_disconnected, .data_in = on_data,
	};
	rw_tcpserver *s = tls_server_unstarted(&st, &ev);
	cr_assert_eq(rw_tcpserver_config(s, "SSLALPNProtocols=h2,http/1.1", NULL, 0), 0);
	cr_assert_eq(rw_tcpserver_start_listening(s), 0);
	static const char *const py =
		PY_TLS_CTX
		"ctx.verify_mode = ssl.CERT_NONE; ctx.set_alpn_protocols(['x-other', 'http/1.1'])\n"
		"s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[1]))), server_hostname='example.test')\n"
		"s.sendall(b'x'); s.recv(1); print(s.selected_alpn_protocol()); s.close()\n";
	char out[64];
	cr_assert_eq(run_python(s, py, out, sizeof(out), 20), 0, "%s", out);
	cr_assert_str_eq(out, "http/1.1\n", "the server's first protocol the client offers");
	cr_assert_str_eq(seen_alpn, "http/1.1");
	cr_assert_str_eq(seen_sni, "example.test");
	rw_tcpserver_free(s);
	drop_cert();
}

Test(tls_server, session_resumption_with_openssl_s_client)
{
	make_cert();
	struct state st = {0};
	rw_tcpserver *s = tls_server(&st, RW_SSL_START_IMPLICIT);
	/* Two s_client runs per version: the second presents the first one's
	 * session and must report "Reused". */
	char script[2048];
	snprintf(script, sizeof(script),
		"import subprocess, sys, time\n"
		"port = sys.argv[1]; out = []\n"
		"for v in ('-tls1_2', '-tls1_3'):\n"
		"    for flag in ('-sess_out', '-sess_in'):\n"
		"        p = subprocess.Popen(['openssl', 's_client', '-connect', '127.0.0.1:' + port, v, flag,\n"
		"                              '%s/sess' + v], stdin=subprocess.PIPE, stdout=subprocess.PIPE,\n"
		"                             stderr=subprocess.DEVNULL)\n"
		"        time.sleep(0.5)  # TLS 1.3 tickets arrive after the handshake\n"
		"        stdout, _ = p.communicate(b'', timeout=10)\n"
		"        line = [l for l in stdout.decode().splitlines() if l.startswith(('New,', 'Reused,'))]\n"
		"        out.append(line[0].split(',')[0] if line else '?')\n"
		"print(' '.join(out))\n", dir);
	char out[128];
	cr_assert_eq(run_python(s, script, out, sizeof(out), 40), 0, "%s", out);
	cr_assert_str_eq(out, "New Reused New Reused\n");
	rw_tcpserver_free(s);
	drop_cert();
}

/* ---- client certificates ---------------------------------------------- */

static void make_client_certs(void)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		"cd %s && "
		"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
		"  -out ca.pem -days 2 -subj '/CN=Test CA' && "
		"openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout client.key "
		"  -out client.csr -subj '/CN=client one' && "
		"openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
		"  -out client.pem && "
		"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout rogue.key "
		"  -out rogue.pem -days 2 -subj '/CN=rogue' ) >/dev/null 2>&1", dir);
	memmove(cmd + strlen(cmd) - strlen(" ) >/dev/null 2>&1"), " >/dev/null 2>&1", strlen(" >/dev/null 2>&1") + 1);
	cr_assert_eq(system(cmd), 0, "openssl could not make the client certificates");
}

struct auth_seen {
	int calls;
	bool accept_in;
	bool force;
	char subject[128], issuer[128], status[128];
	size_t der_len;
};
static struct auth_seen auth;

static void on_client_auth(rw_tcpserver *s, rw_tcpserver_ssl_client_authentication *e, void *u)
{
	auth.calls++;
	auth.accept_in = e->accept;
	auth.der_len = e->cert_encoded_len;
	snprintf(auth.subject, sizeof(auth.subject), "%s", e->cert_subject);
	snprintf(auth.issuer, sizeof(auth.issuer), "%s", e->cert_issuer);
	snprintf(auth.status, sizeof(auth.status), "%s", e->status);
	if (auth.force)
		e->accept = true;
}

static rw_tcpserver *auth_server(struct state *st)
{
	rw_tcpserver *s = rw_tcpserver_new();
	rw_tcpserver_set_local_host(s, "127.0.0.1");
	rw_tcpserver_config(s, "DoEventsTimeout=20", NULL, 0);
	static const rw_tcpserver_events ev = {
		.connected = on_connected, .disconnected = on_disconnected, .data_in = on_data,
		.ssl_client_authentication = on_client_auth,
	};
	rw_tcpserver_set_events(s, &ev, st);
	rw_tcpserver_set_ssl_enabled(s, true);
	rw_tcpserver_set_ssl_cert_store(s, pem, strlen(pem));
	cr_assert_eq(rw_tcpserver_set_ssl_authenticate_clients(s, true), 0);
	char setting[400];
	snprintf(setting, sizeof(setting), "OpenSSLCAFile=%s/ca.pem", dir);
	cr_assert_eq(rw_tcpserver_config(s, setting, NULL, 0), 0);
	cr_assert_eq(rw_tcpserver_start_listening(s), 0);
	return s;
}

/* A python client presenting `which` (NULL: no certificate); prints "ok" after
 * an echo, or the exception's class. */
static int client_with_cert(rw_tcpserver *s, const char *which, char *out, size_t out_len)
{
	char script[2048];
	char load[512] = "";
	if (which)
		snprintf(load, sizeof(load), "ctx.load_cert_chain('%s/%s.pem', '%s/%s.key')\n", dir, which, dir, which);
	snprintf(script, sizeof(script),
		PY_TLS_CTX
		"ctx.verify_mode = ssl.CERT_NONE\n%s"
		"try:\n"
		"    s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[1]))), server_hostname='x')\n"
		"    s.sendall(b'ping'); d = s.recv(4)\n"
		"    print('ok' if d == b'ping' else 'closed')\n"
		"except Exception as e:\n"
		"    print(type(e).__name__)\n", load);
	return run_python(s, script, out, out_len, 20);
}

Test(tls_server, client_certificate_trusted_is_accepted)
{
	make_cert();
	make_client_certs();
	memset(&auth, 0, sizeof(auth));
	struct state st = {0};
	rw_tcpserver *s = auth_server(&st);
	char out[64];
	cr_assert_eq(client_with_cert(s, "client", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "ok\n");
	cr_assert_eq(auth.calls, 1);
	cr_assert(auth.accept_in, "a certificate signed by the CA verifies (%s)", auth.status);
	cr_assert_str_eq(auth.status, "OK");
	cr_assert(strstr(auth.subject, "CN=client one") != NULL, "%s", auth.subject);
	cr_assert(strstr(auth.issuer, "CN=Test CA") != NULL, "%s", auth.issuer);
	cr_assert_gt(auth.der_len, 100);
	rw_tcpserver_free(s);
	drop_cert();
}

Test(tls_server, client_certificate_untrusted_rejected_unless_the_event_accepts)
{
	make_cert();
	make_client_certs();
	memset(&auth, 0, sizeof(auth));
	struct state st = {0};
	rw_tcpserver *s = auth_server(&st);
	char out[64];
	client_with_cert(s, "rogue", out, sizeof(out));
	cr_assert_str_neq(out, "ok\n", "an untrusted certificate must not get through");
	pump_until(s, &st.disconnected, 1, 5);
	cr_assert_eq(auth.calls, 1);
	cr_assert_not(auth.accept_in);
	cr_assert_str_neq(auth.status, "OK");
	cr_assert_neq(st.failed_status, 0, "Connected reports the failure");
	/* The same certificate, accepted by the handler. */
	auth.force = true;
	cr_assert_eq(client_with_cert(s, "rogue", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "ok\n");
	rw_tcpserver_free(s);
	drop_cert();
}

Test(tls_server, client_without_certificate_is_rejected_by_default)
{
	make_cert();
	make_client_certs();
	memset(&auth, 0, sizeof(auth));
	struct state st = {0};
	rw_tcpserver *s = auth_server(&st);
	char out[64];
	client_with_cert(s, NULL, out, sizeof(out));
	cr_assert_str_neq(out, "ok\n");
	pump_until(s, &st.disconnected, 1, 5);
	cr_assert_eq(auth.calls, 1);
	cr_assert_eq(auth.der_len, 0);
	cr_assert_str_eq(auth.status, "No client certificate");
	cr_assert_eq(st.failed_status, RW_ESSL_NO_CLIENT_CERT);
	rw_tcpserver_free(s);
	drop_cert();
}

/* ---- gnutls-cli ----------------------------------------------------------- */

static char seen_suite[128];

static void on_connected_suite(rw_tcpserver *s, const rw_tcpserver_connected *e, void *u)
{
	on_connected(s, e, u);
	char key[64];
	snprintf(key, sizeof(key), "SSLNegotiatedCipherSuite[%lld]", (long long)e->connection_id);
	cr_assert_geq(rw_tcpserver_config(s, key, seen_suite, sizeof(seen_suite)), 0);
}

Test(tls_server, gnutls_cli_tls13_and_tls12_with_aes_gcm_and_chacha20)
{
	make_cert();
	struct state st = {0};
	static const rw_tcpserver_events ev = {
		.connected = on_connected_suite, .disconnected = on_disconnected, .data_in = on_data,
	};
	rw_tcpserver *s = tls_server_unstarted(&st, &ev);
	cr_assert_eq(rw_tcpserver_start_listening(s), 0);
	static const struct { const char *version, *cipher, *suite_part; } cases[] = {
		{"TLS1.3", "AES-128-GCM", "TLS_AES_128_GCM_SHA256"},
		{"TLS1.3", "CHACHA20-POLY1305", "TLS_CHACHA20_POLY1305_SHA256"},
		{"TLS1.2", "AES-128-GCM", "_WITH_AES_128_GCM"},
		{"TLS1.2", "CHACHA20-POLY1305", "_WITH_CHACHA20_POLY1305"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char script[1024];
		snprintf(script, sizeof(script),
			"import subprocess, sys, time\n"
			"p = subprocess.Popen(['gnutls-cli', '--insecure', '-p', sys.argv[1], '--priority',\n"
			"    'NORMAL:-VERS-ALL:+VERS-%s:-CIPHER-ALL:+%s', '127.0.0.1'],\n"
			"    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)\n"
			"p.stdin.write(b'echo through gnutls\\n'); p.stdin.flush(); time.sleep(0.5)\n"
			"out, _ = p.communicate(timeout=10)\n"
			"print('echoed' if b'echo through gnutls' in out else 'missing')\n",
			cases[i].version, cases[i].cipher);
		char out[64];
		seen_suite[0] = 0;
		cr_assert_eq(run_python(s, script, out, sizeof(out), 20), 0, "%s %s", cases[i].version, cases[i].cipher);
		cr_assert_str_eq(out, "echoed\n", "%s %s", cases[i].version, cases[i].cipher);
		cr_assert(strstr(seen_suite, cases[i].suite_part) != NULL, "%s %s negotiated %s",
		          cases[i].version, cases[i].cipher, seen_suite);
	}
	rw_tcpserver_free(s);
	drop_cert();
}

/* ---- backpressure through TLS ------------------------------------------ */

#define PUSH_TOTAL (8u << 20)
static size_t push_off;
static int push_wouldblocks, push_ready_events;

static uint8_t push_byte(size_t i)
{
	return (uint8_t)((i * 131u) ^ (i >> 12));
}

/* Send the pattern from push_off until the queue refuses; BytesSent says how
 * much of the refused call was taken. */
static void push_more(rw_tcpserver *s, rw_connid id)
{
	static uint8_t chunk[65536];
	while (push_off < PUSH_TOTAL) {
		size_t n = PUSH_TOTAL - push_off < sizeof(chunk) ? PUSH_TOTAL - push_off : sizeof(chunk);
		for (size_t i = 0; i < n; i++)
			chunk[i] = push_byte(push_off + i);
		int rc = rw_tcpserver_send(s, id, chunk, n);
		if (rc == -RW_EWOULDBLOCK) {
			int64_t took = rw_tcpserver_get_bytes_sent(s, id);
			cr_assert(took >= 0 && (size_t)took < n);
			push_off += (size_t)took;
			push_wouldblocks++;
			cr_assert_eq(rw_tcpserver_get_ready_to_send(s, id), 0);
			return;
		}
		cr_assert_eq(rc, 0);
		push_off += n;
	}
}

static void on_push_connected(rw_tcpserver *s, const rw_tcpserver_connected *e, void *u)
{
	on_connected(s, e, u);
}

static void on_push_ready(rw_tcpserver *s, const rw_tcpserver_ready_to_send *e, void *u)
{
	push_ready_events++;
	push_more(s, e->connection_id);
}

Test(tls_server, wouldblock_and_ready_to_send_through_tls)
{
	make_cert();
	struct state st = {0};
	static const rw_tcpserver_events ev = {
		.connected = on_push_connected, .disconnected = on_disconnected, .ready_to_send = on_push_ready,
	};
	rw_tcpserver *s = tls_server_unstarted(&st, &ev);
	cr_assert_eq(rw_tcpserver_config(s, "SendQueueLimit=262144", NULL, 0), 0);
	cr_assert_eq(rw_tcpserver_start_listening(s), 0);
	/* The client reads nothing for 1.5 s (the server meets a full queue),
	 * then everything, checking every byte's place in the pattern. */
	static const char *const py =
		"import socket, ssl, sys, time\n"
		"ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname = False\n"
		"ctx.verify_mode = ssl.CERT_NONE\n"
		"s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[1]))), server_hostname='x')\n"
		"time.sleep(1.5)\n"
		"total = 8 << 20; got = bytearray()\n"
		"while len(got) < total:\n"
		"    d = s.recv(1 << 20)\n"
		"    if not d: break\n"
		"    got += d\n"
		"want = bytes(((i * 131) ^ (i >> 12)) & 255 for i in range(total))\n"
		"print('exact' if bytes(got) == want else 'mismatch %d' % len(got))\n";
	char out[64];
	push_off = 0;
	push_wouldblocks = push_ready_events = 0;
	cr_assert_eq(run_python(s, py, out, sizeof(out), 60), 0, "%s", out);
	cr_assert_str_eq(out, "exact\n");
	cr_assert_gt(push_wouldblocks, 0, "the queue must have refused at least once");
	cr_assert_geq(push_ready_events, push_wouldblocks, "each refusal was followed by ReadyToSend");
	cr_assert_eq(push_off, PUSH_TOTAL);
	rw_tcpserver_free(s);
	drop_cert();
}

/* ---- PFX (PKCS#12) and Auto ----------------------------------------------- */

static int serve_one_echo(rw_tcpserver *s)
{
	char out[64];
	int rc = run_python(s, py_echo, out, sizeof(out), 20);
	return rc == 0 && strstr(out, "True") ? 0 : -1;
}

static rw_tcpserver *pfx_server(struct state *st, int type, const void *store, size_t len, const char *password)
{
	rw_tcpserver *s = rw_tcpserver_new();
	rw_tcpserver_set_local_host(s, "127.0.0.1");
	rw_tcpserver_config(s, "DoEventsTimeout=20", NULL, 0);
	rw_tcpserver_set_events(s, &events, st);
	rw_tcpserver_set_ssl_enabled(s, true);
	cr_assert_eq(rw_tcpserver_set_ssl_cert_store_type(s, type), 0);
	cr_assert_eq(rw_tcpserver_set_ssl_cert_store(s, store, len), 0);
	if (password)
		cr_assert_eq(rw_tcpserver_set_ssl_cert_store_password(s, password), 0);
	return s;
}

Test(tls_server, pfx_file_blob_password_and_auto)
{
	make_cert();
	char pfx[300], cmd[1024];
	snprintf(pfx, sizeof(pfx), "%s/server.pfx", dir);
	/* OpenSSL 3's defaults: PBES2 with AES-256-CBC and a SHA-256 MAC. */
	snprintf(cmd, sizeof(cmd), "openssl pkcs12 -export -in %s/c -inkey %s/k -out %s -passout pass:s3cret",
	         dir, dir, pfx);
	cr_assert_eq(system(cmd), 0);
	struct state st = {0};
	char subject[128];

	rw_tcpserver *s = pfx_server(&st, RW_CERT_PFX_FILE, pfx, strlen(pfx), "s3cret");
	cr_assert_eq(rw_tcpserver_start_listening(s), 0, "PFX file with its password");
	cr_assert_gt(rw_tcpserver_get_ssl_cert_subject(s, subject, sizeof(subject)), 0);
	cr_assert(strstr(subject, "CN=localhost") != NULL, "%s", subject);
	cr_assert_eq(serve_one_echo(s), 0);
	rw_tcpserver_free(s);

	s = pfx_server(&st, RW_CERT_PFX_FILE, pfx, strlen(pfx), "wrong");
	cr_assert_eq(rw_tcpserver_start_listening(s), -RW_ESSL_CERT_STORE, "a wrong password");
	rw_tcpserver_free(s);

	FILE *f = fopen(pfx, "rb");
	static uint8_t blob[16384];
	size_t n = fread(blob, 1, sizeof(blob), f);
	fclose(f);
	s = pfx_server(&st, RW_CERT_PFX_BLOB, blob, n, "s3cret");
	cr_assert_eq(rw_tcpserver_start_listening(s), 0, "PFX blob");
	cr_assert_eq(serve_one_echo(s), 0);
	rw_tcpserver_free(s);

	s = pfx_server(&st, RW_CERT_AUTO, blob, n, "s3cret");
	cr_assert_eq(rw_tcpserver_start_listening(s), 0, "Auto recognises PFX bytes");
	rw_tcpserver_free(s);

	s = pfx_server(&st, RW_CERT_AUTO, pem, strlen(pem), NULL);
	cr_assert_eq(rw_tcpserver_start_listening(s), 0, "Auto recognises a PEM file");
	cr_assert_eq(serve_one_echo(s), 0);
	rw_tcpserver_free(s);
	drop_cert();
}

Test(tls_server, enabled_cipher_suites_limit_the_handshake)
{
	make_cert();
	struct state st = {0};
	static const rw_tcpserver_events ev = {
		.connected = on_connected_suite, .disconnected = on_disconnected, .data_in = on_data,
	};
	rw_tcpserver *s = tls_server_unstarted(&st, &ev);
	cr_assert_eq(rw_tcpserver_config(s, "SSLEnabledProtocols=3072", NULL, 0), 0);
	cr_assert_eq(rw_tcpserver_config(s, "SSLEnabledCipherSuites=TLS_NO_SUCH_SUITE", NULL, 0), 0);
	cr_assert_eq(rw_tcpserver_start_listening(s), -RW_EBAD_VALUE, "an unknown suite is refused");
	cr_assert_eq(rw_tcpserver_config(s,
		"SSLEnabledCipherSuites= TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 ", NULL, 0), 0);
	cr_assert_eq(rw_tcpserver_start_listening(s), 0);
	static const char *const fmt =
		"import subprocess, sys, time\n"
		"p = subprocess.Popen(['gnutls-cli', '--insecure', '-p', sys.argv[1], '--priority',\n"
		"    'NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+%s', '127.0.0.1'],\n"
		"    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)\n"
		"p.stdin.write(b'suite check\\n'); p.stdin.flush(); time.sleep(0.5)\n"
		"out, _ = p.communicate(timeout=10)\n"
		"print('echoed' if b'suite check' in out else 'refused')\n";
	char script[1024], out[64];
	snprintf(script, sizeof(script), fmt, "AES-128-GCM");
	cr_assert_eq(run_python(s, script, out, sizeof(out), 20), 0);
	cr_assert_str_eq(out, "refused\n", "AES-GCM is not among the enabled suites");
	snprintf(script, sizeof(script), fmt, "CHACHA20-POLY1305");
	seen_suite[0] = 0;
	cr_assert_eq(run_python(s, script, out, sizeof(out), 20), 0);
	cr_assert_str_eq(out, "echoed\n");
	cr_assert_str_eq(seen_suite, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256");
	rw_tcpserver_free(s);
	drop_cert();
}

/* ---- SSLStatus, SSLKeyLogFile (TLS 1.2) ------------------------------------ */

static char status_log[512];

static void on_ssl_status(rw_tcpserver *s, const rw_tcpserver_ssl_status *e, void *u)
{
	size_t n = strlen(status_log);
	snprintf(status_log + n, sizeof(status_log) - n, "%s|", e->message);
}

Test(tls_server, ssl_status_and_key_log_match_the_client)
{
	make_cert();
	struct state st = {0};
	static const rw_tcpserver_events ev = {
		.connected = on_connected, .disconnected = on_disconnected, .data_in = on_data,
		.ssl_status = on_ssl_status,
	};
	rw_tcpserver *s = tls_server_unstarted(&st, &ev);
	char server_log[300], client_log[300];
	status_log[0] = 0;
	key_log_exchange(s, "ctx.maximum_version = ssl.TLSVersion.TLSv1_2", server_log, client_log);
	cr_assert(strncmp(status_log, "TLS handshake started|TLS handshake completed: TLSv1.2 TLS_", 59) == 0,
	          "%s", status_log);
	/* The server's line must be the very line the client logged. */
	char cmd[1400];
	snprintf(cmd, sizeof(cmd),
	         "test -s %s && grep -q \"$(grep CLIENT_RANDOM %s)\" %s && test $(wc -l < %s) -eq 1",
	         server_log, server_log, client_log, server_log);
	cr_assert_eq(system(cmd), 0, "SSLKeyLogFile line differs from the client's own key log");
	rw_tcpserver_free(s);
	drop_cert();
}

static char neg_strength[32], neg_kx[64], neg_kx_bits[32], neg_version[32];

static void on_connected_negotiated(rw_tcpserver *s, const rw_tcpserver_connected *e, void *u)
{
	on_connected(s, e, u);
	static const struct { const char *name; char *out; } keys[] = {
		{"SSLNegotiatedCipherStrength", neg_strength}, {"SSLNegotiatedKeyExchange", neg_kx},
		{"SSLNegotiatedKeyExchangeStrength", neg_kx_bits}, {"SSLNegotiatedVersion", neg_version},
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char key[80];
		snprintf(key, sizeof(key), "%s[%lld]", keys[i].name, (long long)e->connection_id);
		cr_assert_geq(rw_tcpserver_config(s, key, keys[i].out, 32), 0, "%s", key);
	}
}

Test(tls_server, negotiated_strength_and_key_exchange)
{
	make_cert();
	struct state st = {0};
	static const rw_tcpserver_events ev = {
		.connected = on_connected_negotiated, .disconnected = on_disconnected, .data_in = on_data,
	};
	rw_tcpserver *s = tls_server_unstarted(&st, &ev);
	cr_assert_eq(rw_tcpserver_start_listening(s), 0);
	static const char *const py =
		PY_TLS_CTX
		"ctx.verify_mode = ssl.CERT_NONE; ctx.set_ciphers('AES128-GCM-SHA256')\n"
		"ctx.options |= ssl.OP_NO_TLSv1_2\n"
		"s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[1]))), server_hostname='x')\n"
		"s.sendall(b'n'); s.recv(1); print(s.cipher()[0]); s.close()\n";
	char out[64];
	cr_assert_eq(run_python(s, py, out, sizeof(out), 20), 0, "%s", out);
	cr_assert_str_eq(neg_version, "TLSv1.3");
	cr_assert_str_eq(neg_strength, "128", "AES-128-GCM (client picked %s)", out);
	cr_assert(strncmp(neg_kx, "ECDHE", 5) == 0, "%s", neg_kx);
	cr_assert_geq(atoi(neg_kx_bits), 253, "%s bits for %s", neg_kx_bits, neg_kx);
	rw_tcpserver_free(s);
	drop_cert();
}

Test(tls_server, supported_groups_choose_the_key_exchange)
{
	make_cert();
	struct state st = {0};
	static const rw_tcpserver_events ev = {
		.connected = on_connected_negotiated, .disconnected = on_disconnected, .data_in = on_data,
	};
	rw_tcpserver *s = tls_server_unstarted(&st, &ev);
	cr_assert_eq(rw_tcpserver_config(s, "TLS13SupportedGroups=ecdhe_nonsense", NULL, 0), 0);
	cr_assert_eq(rw_tcpserver_start_listening(s), -RW_EBAD_VALUE);
	cr_assert_eq(rw_tcpserver_config(s, "TLS13SupportedGroups=ecdhe_secp384r1", NULL, 0), 0);
	cr_assert_eq(rw_tcpserver_start_listening(s), 0);
	char out[64];
	neg_kx[0] = 0;
	cr_assert_eq(run_python(s, py_echo, out, sizeof(out), 20), 0, "%s", out);
	cr_assert_str_eq(out, "TLSv1.3 True\n");
	cr_assert(strstr(neg_kx, "384") != NULL, "the only group offered is P-384: %s", neg_kx);
	cr_assert_str_eq(neg_kx_bits, "384");
	rw_tcpserver_free(s);
	drop_cert();
}
