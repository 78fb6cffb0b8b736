/* perf/load_opts.c: rw-load's command line. */
#include "load.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rw-load --port PORT [options]\n"
		"  --host ADDR        loopback server address (127.0.0.0/8 or ::1), default 127.0.0.1\n"
		"  --port PORT        server port (required)\n"
		"  --mode tcp|tls|ws|wss  plain TCP (default); TLS: a wolfSSL client over the\n"
		"                     same ring (custom I/O callbacks, no certificate check), the\n"
		"                     echoed plaintext verified; ws: WebSocket (HTTP upgrade, each\n"
		"                     message one masked binary frame, the echoed payload verified);\n"
		"                     wss: ws inside TLS (the TLS handshake, then the upgrade)\n"
		"  --deflate          ws/wss: negotiate permessage-deflate (no context takeover\n"
		"                     either way) and send each message compressed; the server's\n"
		"                     compressed echo is inflated and verified (the payload is\n"
		"                     then text-like, so that it compresses)\n"
		"  --mode dtls        DTLS 1.2 sessions over UDP (own options: --mode dtls --help)\n"
		"  --churn            each connection: connect (and handshake), --pipeline messages,\n"
		"                     close, reconnect; reports connections/s (cycles in the window)\n"
		"                     and the cycle latency (connect to last echo)\n"
		"  --rate R           connection rate, open loop: R new connections per second,\n"
		"                     each connect (and handshake), --pipeline messages, close;\n"
		"                     --connections slots at most open at once; latency from when\n"
		"                     each was due; reports connections/s and late starts\n"
		"  --idle             each connection echoes one message, then all stay idle for\n"
		"                     --duration s; then every one must echo one more message\n"
		"                     (reports how many did, and the server's RSS per connection)\n"
		"  --mark FILE        create FILE when the measured window starts (for samplers)\n"
		"  --connections N    connections, default 1000; more than one process holds\n"
		"                     (RLIMIT_NOFILE - %u) are shared by several worker processes\n"
		"  --processes K      that many worker processes (default: as many as needed)\n"
		"  --size BYTES       message size, default 64\n"
		"  --pipeline K       messages in flight per connection, default 1 (ping-pong)\n"
		"  --duration S       measured seconds, default 5\n"
		"  --warmup S         unmeasured seconds after the connect phase, default 1\n"
		"  --sources N        bind connections to 127.0.0.1 .. 127.0.0.N, default 1, or one\n"
		"                     per %u connections (the ephemeral port range is ~28,000)\n"
		"  --connect-rate R   at most R connects per second, default unlimited\n"
		"  --connect-timeout S  connect phase limit, default 10 s (connections not\n"
		"                     established by then count as failures)\n"
		"  --server-pid PID[,PID...]  also report those processes' CPU per message\n"
		"                     (utime+stime over the measured window, summed) and RSS\n"
		"  --json FILE        also write the results as JSON\n"
		"  --quiet            no progress lines and no table\n"
		"the run ends by itself after at most 10 s (connect) + warmup + duration + 1 s\n"
		"(--idle: + 20 s for the final round)\n"
		"system settings for many connections: net.core.somaxconn and\n"
		"net.ipv4.tcp_max_syn_backlog >= the server's backlog; ip_local_port_range\n"
		"gives the ports per source address (tools/run bench sets what it may)\n"
		"exit status: 0 when every connection was established and no verification\n"
		"error, stalled connection or unexpected disconnect happened; 1 otherwise;\n"
		"2 for a usage or setup error\n", FD_RESERVE, SOURCE_CONNS);
}

double num_arg(const char *s, const char *name, double lo, double hi)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "rw-load: bad value for --%s: '%s' (%g..%g)\n", name, s, lo, hi);
		exit(2);
	}
	return v;
}

void loopback_dst(const char *host, int port, struct sockaddr_storage *dst, socklen_t *len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)dst;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)dst;

	memset(dst, 0, sizeof *dst);
	if (!strcmp(host, "localhost"))
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		if ((ntohl(a4->sin_addr.s_addr) >> 24) != 127)
			die("--host must be a loopback address (127.0.0.0/8 or ::1)");
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*len = sizeof *a4;
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr))
			die("--host must be a loopback address (127.0.0.0/8 or ::1)");
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof *a6;
	} else {
		die("--host must be a numeric loopback address (127.0.0.0/8 or ::1)");
	}
}

void parse_args(struct load *L, int argc, char **argv)
{
	static const struct option lo[] = {
		{"host", 1, 0, 'h'}, {"port", 1, 0, 'p'}, {"connections", 1, 0, 'c'},
		{"size", 1, 0, 's'}, {"pipeline", 1, 0, 'k'}, {"duration", 1, 0, 'd'},
		{"warmup", 1, 0, 'w'}, {"sources", 1, 0, 'S'}, {"connect-rate", 1, 0, 'r'},
		{"json", 1, 0, 'j'}, {"mode", 1, 0, 'm'}, {"churn", 0, 0, 'C'},
		{"idle", 0, 0, 'I'}, {"deflate", 0, 0, 'Z'}, {"mark", 1, 0, 'M'}, {"server-pid", 1, 0, 'P'}, {"processes", 1, 0, 'K'}, {"rate", 1, 0, 'R'}, {"connect-timeout", 1, 0, 'T'}, {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'H'}, {0, 0, 0, 0}};
	struct opts *o = &L->o;
	const char *host = "127.0.0.1";
	int ch;

	*o = (struct opts){.conns = 1000, .size = 64, .pipeline = 1, .duration = 5,
	                   .warmup = 1, .sources = 0, .port = -1, .connect_timeout = 10};
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'h': host = optarg; break;
		case 'p': o->port = (int)num_arg(optarg, "port", 1, 65535); break;
		case 'c': o->conns = (unsigned)num_arg(optarg, "connections", 1, 1000000); break;
		case 's': o->size = (size_t)num_arg(optarg, "size", 1, 64 << 20); break;
		case 'k': o->pipeline = (unsigned)num_arg(optarg, "pipeline", 1, 4096); break;
		case 'd': o->duration = num_arg(optarg, "duration", 0.1, 86400); break;
		case 'w': o->warmup = num_arg(optarg, "warmup", 0, 3600); break;
		case 'S': o->sources = (unsigned)num_arg(optarg, "sources", 1, 254); break;
		case 'r': o->connect_rate = num_arg(optarg, "connect-rate", 1, 1e9); break;
		case 'j': o->json = optarg; break;
		case 'M': o->mark = optarg; break;
		case 'R': o->rate = num_arg(optarg, "rate", 1, 1e7); break;
		case 'K': o->processes = (unsigned)num_arg(optarg, "processes", 1, 64); break;
		case 'T': o->connect_timeout = num_arg(optarg, "connect-timeout", 0.1, 3600); break;
		case 'C': o->churn = true; break;
		case 'I': o->idle = true; break;
		case 'Z': o->deflate = true; break;
		case 'm':
			if (!strcmp(optarg, "tls"))
				o->tls = true;
			else if (!strcmp(optarg, "ws"))
				o->ws = true;
			else if (!strcmp(optarg, "wss"))
				o->tls = o->ws = true;
			else if (strcmp(optarg, "tcp"))
				die("--mode must be tcp, tls, ws or wss");
			break;
		case 'P': {
			char *save = NULL, *tok;
			for (tok = strtok_r(optarg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				if (o->nserver_pids == 8)
					die("--server-pid: at most 8 pids");
				o->server_pid[o->nserver_pids++] = (int)num_arg(tok, "server-pid", 1, 1 << 30);
			}
			break;
		}
		case 'q': o->quiet = true; break;
		case 'H': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc || o->port < 0) {
		usage(stderr);
		exit(2);
	}
	if (o->deflate && !o->ws)
		die("--deflate is for --mode ws and wss");
	if (o->rate > 0)
		o->churn = true; /* the same cycle, paced */
	if (o->churn && o->idle)
		die("--churn or --rate, and --idle exclude each other");
	if (o->rate > 0 && o->processes > 1)
		die("--rate runs in one process");
	if (o->idle)
		o->pipeline = 1;
	o->conns_total = o->conns;
	o->host = host;
	loopback_dst(host, L->o.port, &L->dst, &L->dstlen);
	if (!o->sources) /* IPv4: a source address per SOURCE_CONNS connections */
		o->sources = o->churn || L->dst.ss_family != AF_INET ? 1
		             : (o->conns + SOURCE_CONNS - 1) / SOURCE_CONNS;
	if (o->sources > 254)
		o->sources = 254;
	if (o->churn && o->sources > 1)
		die("--churn uses one source address (loopback reuses TIME_WAIT ports)");
	if (o->sources > 1 && L->dst.ss_family != AF_INET)
		die("--sources > 1 needs an IPv4 --host");
}
