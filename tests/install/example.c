/* tests/install/example.c: a program built against the INSTALLED ringworks
 * (headers, pkg-config, libringworks.so or libringworks.a), using only the
 * public API. It listens on 127.0.0.1 (ephemeral port), connects one blocking
 * client, waits for Connected, sends "hi", waits for DataIn, shuts down and
 * frees. Exit 0 on success, 77 when the machine refuses io_uring (a skip),
 * 1 otherwise with a message naming the step that failed. */
#include <ringworks/ringworks.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct state {
	int connected;           /* Connected events seen */
	int disconnected;        /* Disconnected events seen */
	int connect_status;      /* status_code of Connected */
	rw_connid id;            /* the connection's id */
	char received[64];       /* bytes seen in DataIn */
	size_t received_len;
};

static void on_connected(rw_tcpserver *s, const rw_tcpserver_connected *e, void *user)
{
	struct state *st = user;
	(void)s;
	st->connected++;
	st->connect_status = e->status_code;
	st->id = e->connection_id;
}

static void on_data_in(rw_tcpserver *s, const rw_tcpserver_data_in *e, void *user)
{
	struct state *st = user;
	(void)s;
	size_t room = sizeof st->received - 1 - st->received_len;
	size_t n = e->text_len < room ? e->text_len : room;
	memcpy(st->received + st->received_len, e->text, n);
	st->received_len += n;
	st->received[st->received_len] = '\0';
}

static void on_disconnected(rw_tcpserver *s, const rw_tcpserver_disconnected *e, void *user)
{
	struct state *st = user;
	(void)s;
	(void)e;
	st->disconnected++;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Turn the loop until *flag reaches want, or about 5 seconds pass. */
static int pump(rw_tcpserver *s, const int *flag, int want, const char *what)
{
	double deadline = now() + 5.0;
	while (*flag < want) {
		if (now() > deadline) {
			fprintf(stderr, "example: FAILED: no %s event within 5 s\n", what);
			return -1;
		}
		int rc = rw_tcpserver_do_events(s);
		if (rc < 0) {
			fprintf(stderr, "example: FAILED: rw_tcpserver_do_events while waiting for %s: %d (%s)\n",
			        what, rc, rw_strerror(rc));
			return -1;
		}
	}
	return 0;
}

static int received_hi(const struct state *st)
{
	return st->received_len >= 2;
}

int main(void)
{
	struct state st;
	memset(&st, 0, sizeof st);
	int ok = 0, client = -1, rc;

	printf("ringworks %s\n", rw_version());

	rw_tcpserver *s = rw_tcpserver_new();
	if (!s) {
		fprintf(stderr, "example: FAILED: rw_tcpserver_new returned NULL\n");
		return 1;
	}

	rw_tcpserver_events ev;
	memset(&ev, 0, sizeof ev);
	ev.connected = on_connected;
	ev.data_in = on_data_in;
	ev.disconnected = on_disconnected;
	rw_tcpserver_set_events(s, &ev, &st);

	if ((rc = rw_tcpserver_set_local_host(s, "127.0.0.1")) != 0) {
		fprintf(stderr, "example: FAILED: set_local_host: %d (%s)\n", rc, rw_strerror(rc));
		goto out;
	}
	if ((rc = rw_tcpserver_set_local_port(s, 0)) != 0) {
		fprintf(stderr, "example: FAILED: set_local_port: %d (%s)\n", rc, rw_strerror(rc));
		goto out;
	}
	/* Wake up at least every 100 ms so the deadlines below are kept. */
	if ((rc = rw_tcpserver_config(s, "DoEventsTimeout=100", NULL, 0)) < 0) {
		fprintf(stderr, "example: FAILED: config DoEventsTimeout: %d (%s)\n", rc, rw_strerror(rc));
		goto out;
	}

	rc = rw_tcpserver_start_listening(s);
	if (rc == -RW_EURING_UNAVAILABLE) {
		/* rw_strerror gives the cause (seccomp, sysctl, kernel) and the fix. */
		printf("example: SKIP: %s\n", rw_strerror(rc));
		rw_tcpserver_free(s);
		return 77;
	}
	if (rc != 0) {
		fprintf(stderr, "example: FAILED: start_listening: %d (%s)\n", rc, rw_strerror(rc));
		goto out;
	}
	int port = rw_tcpserver_get_local_port(s);
	if (port <= 0) {
		fprintf(stderr, "example: FAILED: get_local_port after start_listening returned %d\n", port);
		goto out;
	}
	printf("listening on 127.0.0.1:%d\n", port);

	client = socket(AF_INET, SOCK_STREAM, 0);
	if (client < 0) {
		perror("example: FAILED: socket");
		goto out;
	}
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(client, (struct sockaddr *)&sa, sizeof sa) != 0) {
		perror("example: FAILED: connect");
		goto out;
	}

	if (pump(s, &st.connected, 1, "Connected") != 0)
		goto out;
	if (st.connect_status != 0 || st.id <= 0) {
		fprintf(stderr, "example: FAILED: Connected with status %d, id %lld\n", st.connect_status,
		        (long long)st.id);
		goto out;
	}
	printf("connected: id %lld, %d connection(s)\n", (long long)st.id,
	       rw_tcpserver_get_connection_count(s));

	if (send(client, "hi", 2, 0) != 2) {
		perror("example: FAILED: send");
		goto out;
	}
	{
		double deadline = now() + 5.0;
		while (!received_hi(&st)) {
			if (now() > deadline) {
				fprintf(stderr, "example: FAILED: no DataIn within 5 s (got %zu bytes)\n",
				        st.received_len);
				goto out;
			}
			rc = rw_tcpserver_do_events(s);
			if (rc < 0) {
				fprintf(stderr, "example: FAILED: do_events while waiting for DataIn: %d (%s)\n", rc,
				        rw_strerror(rc));
				goto out;
			}
		}
	}
	if (strcmp(st.received, "hi") != 0) {
		fprintf(stderr, "example: FAILED: DataIn delivered \"%s\", expected \"hi\"\n", st.received);
		goto out;
	}
	printf("data in: \"%s\"\n", st.received);

	if ((rc = rw_tcpserver_shutdown(s)) != 0) {
		fprintf(stderr, "example: FAILED: shutdown: %d (%s)\n", rc, rw_strerror(rc));
		goto out;
	}
	if (pump(s, &st.disconnected, 1, "Disconnected") != 0)
		goto out;
	if (st.disconnected != 1) {
		fprintf(stderr, "example: FAILED: %d Disconnected events, expected 1\n", st.disconnected);
		goto out;
	}
	printf("disconnected; shut down\n");
	ok = 1;

out:
	if (client >= 0)
		close(client);
	rw_tcpserver_free(s);
	if (ok)
		printf("example: OK\n");
	return ok ? 0 : 1;
}
