/* tests/tls/tls_test_util.c: see tls_test_util.h. */
#include "tls_test_util.h"

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

char dir[] = "/tmp/rw-tlss-XXXXXX", pem[256];

void make_cert(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(pem, sizeof(pem), "%s/server.pem", dir);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s/k "
	         "-out %s/c -days 2 -subj /CN=localhost/O=ringworks >/dev/null 2>&1 && cat %s/c %s/k > %s",
	         dir, dir, dir, dir, pem);
	cr_assert_eq(system(cmd), 0, "openssl could not make a test certificate");
}

void drop_cert(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
}

double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}


void on_connected(rw_tcpserver *s, const rw_tcpserver_connected *e, void *u)
{
	struct state *st = u;
	st->connected++;
	st->id = e->connection_id;
	if (e->status_code)
		st->failed_status = e->status_code;
}

void on_disconnected(rw_tcpserver *s, const rw_tcpserver_disconnected *e, void *u)
{
	struct state *st = u;
	st->disconnected++;
	st->last_status = e->status_code;
}

void on_data(rw_tcpserver *s, const rw_tcpserver_data_in *e, void *u)
{
	struct state *st = u;
	st->data_events++;
	if (st->got_len + e->text_len < sizeof(st->got)) {
		memcpy(st->got + st->got_len, e->text, e->text_len);
		st->got_len += e->text_len;
	}
	if (st->start_tls_on_line && e->text_len == 8 && memcmp(e->text, "STARTTLS", 8) == 0) {
		cr_assert_eq(rw_tcpserver_send_line(s, e->connection_id, "GO"), 0);
		cr_assert_eq(rw_tcpserver_start_ssl(s, e->connection_id), 0);
		cr_assert_eq(rw_tcpserver_set_eol(s, e->connection_id, "", 0), 0);
		return;
	}
	rw_tcpserver_send(s, e->connection_id, e->text, e->text_len); /* echo */
}

const rw_tcpserver_events events = {
	.connected = on_connected, .disconnected = on_disconnected, .data_in = on_data,
};

/* A server with TLS on (implicit) and the test certificate, not yet
 * listening, so that a test can add its settings first. */
rw_tcpserver *tls_server_unstarted(struct state *st, const rw_tcpserver_events *ev)
{
	rw_tcpserver *s = rw_tcpserver_new();
	rw_tcpserver_set_local_host(s, "127.0.0.1");
	rw_tcpserver_config(s, "DoEventsTimeout=20", NULL, 0);
	rw_tcpserver_set_events(s, ev, st);
	cr_assert_eq(rw_tcpserver_set_ssl_enabled(s, true), 0);
	cr_assert_eq(rw_tcpserver_set_ssl_cert_store(s, pem, strlen(pem)), 0);
	return s;
}

rw_tcpserver *tls_server(struct state *st, int mode)
{
	rw_tcpserver *s = rw_tcpserver_new();
	rw_tcpserver_set_local_host(s, "127.0.0.1");
	rw_tcpserver_config(s, "DoEventsTimeout=20", NULL, 0);
	rw_tcpserver_set_events(s, &events, st);
	cr_assert_eq(rw_tcpserver_set_ssl_start_mode(s, mode), 0);
	cr_assert_eq(rw_tcpserver_set_ssl_cert_store(s, pem, strlen(pem)), 0);
	cr_assert_eq(rw_tcpserver_set_ssl_cert_subject(s, "*"), 0);
	int rc = rw_tcpserver_start_listening(s);
	cr_assert_eq(rc, 0, "start_listening: %s", rw_strerror(rc));
	return s;
}

/* Run argv in a child (stdout into out) while the server turns; returns its
 * exit status, or -1 when it was killed at the deadline. */
static int run_argv(rw_tcpserver *s, char *const argv[], char *out, size_t out_len, double seconds)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0); /* its own group, so a deadline kills the whole pipeline */
		dup2(fds[1], 1);
		close(fds[0]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	int status = -1;
	double end = now_s() + seconds;
	while (now_s() < end) {
		rw_tcpserver_do_events(s);
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
	}
	if (now_s() >= end) {
		kill(-pid, SIGKILL);
		waitpid(pid, &status, 0);
		status = -1;
	}
	kill(-pid, SIGKILL); /* a grandchild still holding the pipe */
	size_t got = 0;
	ssize_t n;
	while (got + 1 < out_len && (n = read(fds[0], out + got, out_len - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = 0;
	close(fds[0]);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The script gets the server's port as sys.argv[1]. */
int run_python(rw_tcpserver *s, const char *script, char *out, size_t out_len, double seconds)
{
	char port[16];
	snprintf(port, sizeof(port), "%d", rw_tcpserver_get_local_port(s));
	char *const argv[] = {"python3", "-c", (char *)script, port, NULL};
	return run_argv(s, argv, out, out_len, seconds);
}

/* The command gets the server's port as $1. */
int run_shell(rw_tcpserver *s, const char *cmd, char *out, size_t out_len, double seconds)
{
	char port[16];
	snprintf(port, sizeof(port), "%d", rw_tcpserver_get_local_port(s));
	char *const argv[] = {"sh", "-c", (char *)cmd, "sh", port, NULL};
	return run_argv(s, argv, out, out_len, seconds);
}

void pump_until(rw_tcpserver *s, const int *counter, int want, double seconds)
{
	double end = now_s() + seconds;
	while (*counter < want && now_s() < end)
		rw_tcpserver_do_events(s);
	cr_assert_geq(*counter, want, "timed out waiting (%d of %d)", *counter, want);
}

int raw_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

void key_log_exchange(rw_tcpserver *s, const char *version_line, char *server_log, char *client_log)
{
	char setting[400];
	snprintf(server_log, 300, "%s/server.keys", dir);
	snprintf(client_log, 300, "%s/client.keys", dir);
	snprintf(setting, sizeof(setting), "SSLKeyLogFile=%s", server_log);
	cr_assert_eq(rw_tcpserver_config(s, setting, NULL, 0), 0);
	cr_assert_eq(rw_tcpserver_start_listening(s), 0);
	char script[1024];
	snprintf(script, sizeof(script),
		PY_TLS_CTX
		"ctx.verify_mode = ssl.CERT_NONE; %s\n"
		"ctx.keylog_filename = '%s'\n"
		"s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[1]))), server_hostname='x')\n"
		"s.sendall(b'k'); s.recv(1); s.close(); print('ok')\n", version_line, client_log);
	char out[32];
	cr_assert_eq(run_python(s, script, out, sizeof(out), 20), 0, "%s", out);
}
