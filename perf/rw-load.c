/* perf/rw-load.c: a TCP echo load generator on io_uring.
 *
 * Opens --connections sockets to an echo server on a loopback address, keeps
 * --pipeline messages of --size bytes in flight on each, verifies every echoed
 * byte against a per-connection pattern and records round-trip latencies in a
 * log-linear histogram. Prints a table (and JSON with --json) at the end.
 *
 * Mechanism (one thread, one ring, kernel 6.1 features at most):
 *  - every socket is created up front and registered in the fixed-file table;
 *    connects go through IORING_OP_CONNECT, at most CONNECT_INFLIGHT at a time
 *    (optionally paced by --connect-rate);
 *  - one multishot recv per connection over a provided-buffer ring; echoed
 *    bytes are compared in place and the buffer goes straight back;
 *  - sends point into one shared pattern table (no copy): a connection's byte
 *    at stream offset o is pattern[(base + o) % PAT_PERIOD], so its pending
 *    messages are always one contiguous send; one send in flight per socket;
 *  - all SQEs of a loop turn go in with one io_uring_enter that also waits.
 *
 * Limits: one process holds at most RLIMIT_NOFILE - FD_RESERVE connections
 * (about 19,900 at a limit of 20,000), so for more rw-load forks workers that
 * share the connections and merges their results (load_multi.c); --sources N
 * spreads them over 127.0.0.1 .. 127.0.0.N, as one source address has only
 * the ephemeral port range (~28,000 ports) towards one server port. The run
 * always ends by itself: at most --connect-timeout + --warmup + --duration +
 * DRAIN_NS (--idle: + IDLE_CHECK_NS), plus the barrier's bound with workers.
 *
 * --server-pid PID samples that process's utime and stime (/proc/PID/stat) and
 * VmRSS at the edges of the measured window, for CPU-per-message figures.
 *
 * Modes: --mode tls runs a wolfSSL client per connection over the same ring
 * (custom I/O callbacks: ciphertext in and out of per-connection buffers) and
 * verifies the decrypted echo; --churn cycles every slot through connect (and
 * handshake), --pipeline messages, shutdown and close on direct descriptors
 * (IORING_OP_SOCKET into the same fixed-file slot), reporting connections/s;
 * --idle holds every connection idle for --duration and then checks that each
 * one still echoes. --mode ws speaks WebSocket (RFC 6455) over plain TCP: an
 * HTTP upgrade, then each message one masked binary frame (mask key 0, so the
 * payload is the pattern as is); the server's frames are parsed and their
 * payload verified. --mode wss is the same inside TLS: the TLS handshake,
 * then the upgrade request and the frames as TLS application data.
 *
 * Files: load.h (shared state), load_opts.c (command line), load_setup.c (ring,
 * buffers, sockets), load_conn.c (connects, sends, receives, verification),
 * load_tls.c and load_ws.c (the modes), load_run.c (phases, event loop),
 * load_hist.c (latency histogram), load_proc.c (/proc sampling),
 * load_report.c (table and JSON), rw-load.c (main); load_dtls.c is --mode dtls,
 * a UDP load generator of its own (sockets, loop, options and report).
 */
#include "load.h"
#include "load_dtls.h"

#include <signal.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static struct load L; /* large (histogram); lives for the whole run */
	struct sigaction sa = {.sa_handler = on_signal};
	struct result r;

	if (rw_load_wants_dtls(argc, argv))
		return rw_load_dtls_main(argc, argv);
	parse_args(&L, argc, argv);
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (L.o.processes > 1 || L.o.conns + FD_RESERVE > fd_limit()) {
		int st = run_processes(&L); /* load_multi.c */
		r = summarize(&L);
		if (!L.o.quiet)
			print_table(&L, &r);
		if (L.o.json && write_json(&L, &r))
			return 2;
		return st ? st : r.ok ? 0 : 1;
	}
	check_fd_limit(&L);
	setup_ring(&L);
	setup_buffers(&L);
	setup_pattern(&L);
	if (L.o.tls)
		setup_tls(&L);
	setup_conns(&L);
	run(&L);
	r = summarize(&L);
	if (!L.o.quiet)
		print_table(&L, &r);
	if (L.o.json && write_json(&L, &r))
		return 2;
	/* Closing the ring first drops its references; the sockets close at exit. */
	io_uring_queue_exit(&L.ring);
	for (unsigned i = 0; i < L.o.conns; i++)
		close(L.fds[i]);
	return r.ok ? 0 : 1;
}
