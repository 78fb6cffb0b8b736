/* tests/tls/tls_test_util.h: what the TLS test programs share: a
 * certificate made by the openssl tool in a scratch directory, a server with
 * TLS on, an echoing event set that records what happened, and a python3
 * client run in a child while the server turns. */
#ifndef RW_TESTS_TLS_UTIL_H
#define RW_TESTS_TLS_UTIL_H

#include <ringworks/ringworks.h>

#include <stdbool.h>
#include <stddef.h>

/* The start of every python TLS client here: a context that does not verify
 * the (self-signed) server certificate is finished by each script. */
#define PY_TLS_CTX                                    \
	"import socket, ssl, sys, time\n"                 \
	"ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)\n" \
	"ctx.check_hostname = False\n"

/* A python client script's diagnosis when some of its clients got no answer
 * (inside `if pending:`, with `port` and `pending` defined): the sockets of
 * the server's port as ss sees them (queues, timers, inodes) and the files
 * registered in the test process's io_uring (the parent), to stderr, then
 * exit 3. It tells a connection the server never accepted (listener's queue)
 * from one it holds but does not answer. */
#define STALL_DUMP                                                                           \
	"        import os, subprocess\n"                                                          \
	"        e = sys.stderr\n"                                                                  \
	"        print('STALL: %d clients unanswered' % len(pending), file=e)\n"                  \
	"        ss = subprocess.run(['ss', '-tanoie', 'sport = :%d or dport = :%d' % (port, port)],\n" \
	"                            capture_output=True, text=True).stdout.splitlines()\n"        \
	"        print('\\n'.join(l for l in ss if not l.startswith('ESTAB 0      0 ')), file=e)\n" \
	"        pp = os.getppid()\n"                                                               \
	"        for f in os.listdir('/proc/%d/fdinfo' % pp):\n"                                    \
	"            t = open('/proc/%d/fdinfo/%s' % (pp, f)).read()\n"                            \
	"            if 'UserFiles' in t: print(t, file=e)\n"                                      \
	"        print('fds:', sorted(os.readlink('/proc/%d/fd/%s' % (pp, f)) for f in os.listdir('/proc/%d/fd' % pp)), file=e)\n" \
	"        sys.exit(3)\n"

struct state {
	int connected, disconnected, failed_status, last_status, data_events;
	rw_connid id;
	char got[256];
	size_t got_len;
	bool start_tls_on_line;
};

extern char dir[], pem[256]; /* the scratch directory and the server's PEM */

void make_cert(void);
void drop_cert(void);
double now_s(void);
void on_connected(rw_tcpserver *s, const rw_tcpserver_connected *e, void *u);
void on_disconnected(rw_tcpserver *s, const rw_tcpserver_disconnected *e, void *u);
void on_data(rw_tcpserver *s, const rw_tcpserver_data_in *e, void *u);
extern const rw_tcpserver_events events;
rw_tcpserver *tls_server_unstarted(struct state *st, const rw_tcpserver_events *ev);
rw_tcpserver *tls_server(struct state *st, int mode);
int run_python(rw_tcpserver *s, const char *script, char *out, size_t out_len, double seconds);
/* Run a shell command (stdout to out) while the server turns; its exit status. */
int run_shell(rw_tcpserver *s, const char *cmd, char *out, size_t out_len, double seconds);
void pump_until(rw_tcpserver *s, const int *counter, int want, double seconds);
int raw_connect(int port);
/* SSLKeyLogFile=DIR/server.keys, start listening, and one exchange with a
 * python client (version_line restricts its TLS version) that writes its own
 * key log to DIR/client.keys; the two paths are returned (300 bytes each). */
void key_log_exchange(rw_tcpserver *s, const char *version_line, char *server_log, char *client_log);

#endif
