#!/usr/bin/env bash
# perf/bench.sh BUILD_DIR [--quick]: side-by-side benchmarks (tools/run bench).
#
# Every scenario runs on ringworks-echo and on each applicable peer in the same
# run: the classic epoll echo (perf/peers/epoll-echo), the libuv echo
# (perf/peers/uv-echo), for TLS nginx's stream module terminating TLS in
# front of the epoll echo (config generated here, run as the current user on
# a loopback port), for WebSocket (ws and wss) node's ws package
# (perf/peers/ws-echo.js, on node's https server for wss) and libwebsockets
# (perf/peers/lws-echo, OpenSSL for wss), for DTLS the plain wolfSSL + epoll
# DTLS echo (perf/peers/dtls-epoll-echo, same wolfSSL build). Server on core 0,
# rw-load on core 1 (taskset), 3
# repetitions (1 with --quick), medians, ratios ringworks / peer.
#
# Per run: messages/s (connections/s for churn), p50/p99/p99.9, the server's
# CPU per message (user+system from /proc/PID/stat over the measured window;
# for nginx, nginx's worker plus its epoll backend) with the user/system split,
# the server's syscalls per message (perf stat -e raw_syscalls:sys_enter over
# the whole run, connects included, divided by every message echoed, or by
# every connection for churn and idle; first repetition only, as counting
# costs a little per syscall)
# and whether the client used a whole core (then the client, not the server,
# capped messages/s: DESIGN.md section 6).
# Churn runs twice: unconstrained (where the client is the limit here), and
# with each server in a cgroup CPU quota (perf/cpu-cap.sh; see CAP_QUOTA_US),
# where the server is; the row is skipped, with a note, when no cgroup CPU
# controller is writable.
#
# Output: a table on stdout, perf/results/bench-<UTC>.json and .png (gnuplot).
# Loopback only; every run is bounded by rw-load's own time limits.
set -euo pipefail

BUILD="${1:-build}"
QUICK=0
[[ "${2:-}" == "--quick" ]] && QUICK=1
REPS=$((QUICK ? 1 : 3))
DURATION=$((QUICK ? 2 : 5))
WARMUP=1
# Idle connections: 100,000 (10,000 with --quick). RLIMIT_NOFILE is 20,000 per
# process here (DESIGN.md section 4a), so rw-load forks workers, the epoll peer
# runs as IDLE_PROCS processes sharing the port (SO_REUSEPORT), and ringworks
# runs as one process with Workers=IDLE_PROCS when ringworks-echo has
# --workers, else (labelled so) as IDLE_PROCS processes with ReusePort=true.
IDLE_CONNS=$((QUICK ? 10000 : 100000))
# Idle WebSocket connections (one server process, each connection upgraded and
# echoed once before the idle time): ringworks, node ws, libwebsockets.
WS_IDLE_CONNS=$((QUICK ? 5000 : 10000))
# The connection-rate scenario's offered load (open loop, rw-load --rate): new
# connections per second, each one 64 B exchange, at most 200 open at once; a
# rate both servers should sustain here, so that the server CPU per connection
# compares like with like (churn, closed loop, finds the most each allows).
CONN_RATE=2000
# Server-bound churn: the churn row again with each server's process in a
# cgroup whose CPU quota is CAP_QUOTA_US per CAP_PERIOD_US (20 % of a core),
# so that the server, not the client, limits connections/s, and connections/s
# compares the servers' CPU per connection as the target "churn: 1.2x epoll's
# connections/s" means it. Unconstrained, both servers stop at the same rate:
# on loopback the client's context does much of the kernel's handshake work,
# and one source address reuses a TIME_WAIT port at most once per second
# (connect() takes even ports first: (60999 - 32768 + 1) / 2 = 14,116/s with
# the default ip_local_port_range), past which the client's connect() scans
# the port space and uses its whole core. At 30 % of a core ringworks reached
# that knee (14.1k/s on 27 % of its 30 %): 20 % keeps every server here below
# it and CPU-bound (server CPU ~= the quota, client ~20 % of its core).
# The period is the shortest the quota allows (the kernel's minimum quota is
# 1 ms); latency in this row is not a server's latency: a closed loop of 50
# connections on a throttled server waits 50 / rate on average, plus pauses
# of up to the period minus the quota (4 ms).
CAP_QUOTA_US=1000
CAP_PERIOD_US=5000
IDLE_PROCS=$(((IDLE_CONNS + 17999) / 18000))
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ "$BUILD" = /* ]] || BUILD="$ROOT/$BUILD"
SERVER_RW="$BUILD/tools/ringworks-echo"
SERVER_EPOLL="$BUILD/perf/epoll-echo"
SERVER_UV="$BUILD/perf/uv-echo"
SERVER_DTLS_EPOLL="$BUILD/perf/dtls-epoll-echo"
LOAD="$BUILD/perf/rw-load"
OUT_DIR="$ROOT/perf/results"

die() { echo "bench: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }
for b in "$SERVER_RW" "$SERVER_EPOLL" "$LOAD"; do
	[[ -x "$b" ]] || die "$b not built (tools/run build)"
done

# Which peers exist here (each is optional; the table says what was left out).
# rw-epoll: ringworks-echo itself on its epoll backend (RINGWORKS_BACKEND=epoll), the
# fallback where io_uring is refused: its cost next to io_uring and epoll-echo.
PEERS_TCP=(epoll rw-epoll)
if [[ -x "$SERVER_UV" ]]; then PEERS_TCP+=(libuv); else note "no $SERVER_UV (libuv1-dev missing): libuv left out"; fi
NGINX="$(command -v nginx || true)"
[[ -z "$NGINX" && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
NGINX_STREAM_MOD=/usr/lib/nginx/modules/ngx_stream_module.so
PEERS_TLS=()
if [[ -n "$NGINX" && -f "$NGINX_STREAM_MOD" ]]; then PEERS_TLS+=(nginx); else note "no nginx with the stream module: TLS compared with nothing"; fi
# node's ws package (npm, into BUILD/node, as the WSServer tests do)
PEERS_WS=()
if command -v node >/dev/null; then
	if [[ ! -d "$BUILD/node/node_modules/ws" ]] && command -v npm >/dev/null; then
		note "installing node's ws into $BUILD/node (npm)"
		mkdir -p "$BUILD/node"
		timeout 180 npm install --prefix "$BUILD/node" --no-audit --no-fund ws@8 >/dev/null 2>&1 ||
			note "npm install ws failed"
	fi
	[[ -d "$BUILD/node/node_modules/ws" ]] && PEERS_WS+=(node-ws)
fi
SERVER_LWS="$BUILD/perf/lws-echo"
if [[ -x "$SERVER_LWS" ]]; then PEERS_WS+=(lws); else note "no $SERVER_LWS (libwebsockets-dev missing): libwebsockets left out"; fi
((${#PEERS_WS[@]})) || note "no node ws package and no libwebsockets: WebSocket compared with nothing"
PEERS_DTLS=()
if [[ -x "$SERVER_DTLS_EPOLL" ]]; then PEERS_DTLS+=(dtls-epoll); else note "no $SERVER_DTLS_EPOLL: DTLS compared with nothing"; fi
RW_WORKERS=0 # ringworks-echo --workers N exists (Config Workers=N)
"$SERVER_RW" --help 2>&1 | grep -q -- '--workers' && RW_WORKERS=1
PERF="$(command -v perf || true)"
if [[ -n "$PERF" ]] && ! "$PERF" stat -e raw_syscalls:sys_enter -x, -- true >/dev/null 2>&1; then
	note "perf stat cannot count raw_syscalls:sys_enter here: no syscall counts"
	PERF=""
fi

# name|kind|mode|connections|size|pipeline
SCENARIOS=(
	"echo 1000 x 64 B|echo|tcp|1000|64|1"
	"echo 100 x 16 KiB|echo|tcp|100|16384|1"
	"pipelined 50 x 64 B x16|echo|tcp|50|64|16"
	"churn 50 x (connect, 64 B, close)|churn|tcp|50|64|1"
	"churn 50, server CPU capped at $((100 * CAP_QUOTA_US / CAP_PERIOD_US)) % (server-bound)|churn-capped|tcp|50|64|1"
	"connection rate $CONN_RATE/s (connect, 64 B, close)|rate|tcp|200|64|1"
	"idle $IDLE_CONNS, then echo each|idle|tcp-many|$IDLE_CONNS|64|1"
	"TLS handshakes (churn 50)|churn|tls|50|64|1"
	"TLS echo 1000 x 64 B|echo|tls|1000|64|1"
	"TLS echo 100 x 16 KiB|echo|tls|100|16384|1"
	"WS echo 1000 x 64 B|echo|ws|1000|64|1"
	"WS echo 100 x 16 KiB|echo|ws|100|16384|1"
	"WSS echo 1000 x 64 B|echo|wss|1000|64|1"
	"WSS echo 100 x 16 KiB|echo|wss|100|16384|1"
	"WS idle $WS_IDLE_CONNS, then echo each|idle|ws|$WS_IDLE_CONNS|64|1"
	"WS deflate echo 1000 x 64 B|echo|ws+deflate|1000|64|1"
	"WS deflate echo 100 x 16 KiB|echo|ws+deflate|100|16384|1"
	"WSS deflate echo 1000 x 64 B|echo|wss+deflate|1000|64|1"
	"WSS deflate echo 100 x 16 KiB|echo|wss+deflate|100|16384|1"
	"DTLS echo 1000 x 64 B|echo|dtls|1000|64|1"
	"DTLS echo 1000 x 1 KiB|echo|dtls|1000|1024|1"
	"DTLS handshakes (churn 100)|churn|dtls|100|64|1"
)

TMP="$(mktemp -d "${TMPDIR:-/tmp}/rw-bench.XXXXXX")"
KILL_PIDS=()
CAP_DIR="" # the cgroup of the server-bound churn row (perf/cpu-cap.sh)
cleanup() {
	local p
	for p in "${KILL_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${KILL_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	[[ -n "$CAP_DIR" ]] && "$ROOT/perf/cpu-cap.sh" remove "$CAP_DIR"
	if [[ -n "${BENCH_KEEP_TMP:-}" ]]; then echo "bench: per-run files kept in $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT # so that cleanup runs (servers, the cgroup) on ^C too
trap 'exit 143' TERM

pin() { # pin CORE: taskset when there are two cores or more
	if command -v taskset >/dev/null && [[ "$(nproc)" -ge 2 ]]; then echo "taskset -c $1"; fi
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A test certificate (ECDSA P-256) for both TLS servers.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj /CN=localhost -keyout "$TMP/key.pem" -out "$TMP/crt.pem" >/dev/null 2>&1 ||
	die "openssl could not make a test certificate"
cat "$TMP/crt.pem" "$TMP/key.pem" >"$TMP/cert.pem"

wait_listening() { # wait_listening LOG NAME -> PORT
	for _ in $(seq 200); do
		PORT="$(awk '/^listening/{print $3; exit}' "$1")"
		[[ -n "$PORT" ]] && return 0
		sleep 0.05
	done
	die "$2 did not print 'listening KIND PORT': $(cat "$1")"
}

nginx_conf() { # nginx_conf DIR PORT BACKEND_PORT
	local user=""
	((EUID == 0)) && user="user root;"
	mkdir -p "$1/logs"
	cat >"$1/nginx.conf" <<EOF
load_module $NGINX_STREAM_MOD;
$user
worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
pid $1/nginx.pid;
error_log $1/logs/error.log warn;
events { worker_connections 20000; }
stream {
    server {
        listen 127.0.0.1:$2 ssl backlog=4096;
        ssl_certificate $TMP/crt.pem;
        ssl_certificate_key $TMP/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_tickets off;
        proxy_pass 127.0.0.1:$3;
    }
}
EOF
}

# start_many NAME CMD...: IDLE_PROCS copies of CMD on one port (the first on
# an ephemeral one, the others on the port it got; CMD's "PORTARG" is replaced)
start_many() {
	local name="$1" k pid log; shift
	local -a cmd
	SAMPLE="" PORT=0
	for k in $(seq "$IDLE_PROCS"); do
		log="$TMP/server.$k.log"
		: >"$log"
		cmd=("${@/PORTARG/$PORT}")
		$(pin 0) "${cmd[@]}" >"$log" 2>&1 &
		pid=$!
		KILL_PIDS+=("$pid")
		SAMPLE="${SAMPLE:+$SAMPLE,}$pid"
		wait_listening "$log" "$name $k"
	done
}

# start_server NAME MODE -> PORT, SAMPLE (pids to sample), KILL_PIDS, LABEL
start_server() {
	local log="$TMP/server.log" pid
	: >"$log"
	SAMPLE="" LABEL=""
	case "$1:$2" in
	ringworks:tcp-many)
		if ((RW_WORKERS)); then
			LABEL="one process, Workers=$IDLE_PROCS"
			$(pin 0) "$SERVER_RW" --tcp 0 --workers "$IDLE_PROCS" --backlog 16384 \
				--max-connections $((IDLE_CONNS + 1000)) >"$log" 2>&1 &
			pid=$!
		else
			LABEL="$IDLE_PROCS processes, ReusePort=true (no Workers in ringworks-echo yet)"
			start_many ringworks "$SERVER_RW" --tcp PORTARG --backlog 16384 --max-connections 19900 \
				--config ReusePort=true
			return 0
		fi ;;
	epoll:tcp-many)
		LABEL="$IDLE_PROCS processes, SO_REUSEPORT"
		start_many epoll "$SERVER_EPOLL" --port PORTARG --reuseport
		return 0 ;;
	ringworks:tcp)
		$(pin 0) "$SERVER_RW" --tcp 0 --backlog 4096 --max-connections 20000 >"$log" 2>&1 &
		pid=$! ;;
	ringworks:tls)
		$(pin 0) "$SERVER_RW" --tls 0 --cert "$TMP/cert.pem" --backlog 4096 --max-connections 20000 >"$log" 2>&1 &
		pid=$! ;;
	ringworks:ws | ringworks:ws+deflate) # permessage-deflate is on by default
		$(pin 0) "$SERVER_RW" --ws 0 --backlog 4096 --max-connections 20000 >"$log" 2>&1 &
		pid=$! ;;
	ringworks:wss | ringworks:wss+deflate)
		$(pin 0) "$SERVER_RW" --wss 0 --cert "$TMP/cert.pem" --backlog 4096 --max-connections 20000 >"$log" 2>&1 &
		pid=$! ;;
	node-ws:ws)
		NODE_PATH="$BUILD/node/node_modules" $(pin 0) node "$ROOT/perf/peers/ws-echo.js" 0 >"$log" 2>&1 &
		pid=$! ;;
	node-ws:wss) # ws on node's https server
		NODE_PATH="$BUILD/node/node_modules" $(pin 0) node "$ROOT/perf/peers/ws-echo.js" 0 \
			"$TMP/crt.pem" "$TMP/key.pem" >"$log" 2>&1 &
		pid=$! ;;
	node-ws:ws+deflate)
		NODE_PATH="$BUILD/node/node_modules" $(pin 0) node "$ROOT/perf/peers/ws-echo.js" --deflate 0 >"$log" 2>&1 &
		pid=$! ;;
	node-ws:wss+deflate)
		NODE_PATH="$BUILD/node/node_modules" $(pin 0) node "$ROOT/perf/peers/ws-echo.js" --deflate 0 \
			"$TMP/crt.pem" "$TMP/key.pem" >"$log" 2>&1 &
		pid=$! ;;
	lws:ws)
		$(pin 0) "$SERVER_LWS" --port 0 >"$log" 2>&1 &
		pid=$! ;;
	lws:wss)
		$(pin 0) "$SERVER_LWS" --port 0 --cert "$TMP/crt.pem" --key "$TMP/key.pem" >"$log" 2>&1 &
		pid=$! ;;
	epoll:tcp)
		$(pin 0) "$SERVER_EPOLL" --port 0 >"$log" 2>&1 &
		pid=$! ;;
	rw-epoll:tcp)
		# The environment, not --config: ringworks-echo's servers share a loop
		# it creates first, and a loop's backend is fixed once it exists.
		RINGWORKS_BACKEND=epoll $(pin 0) "$SERVER_RW" --tcp 0 --backlog 4096 --max-connections 19000 >"$log" 2>&1 &
		pid=$! ;;
	ringworks:dtls)
		$(pin 0) "$SERVER_RW" --dtls 0 --cert "$TMP/cert.pem" --max-connections 20000 >"$log" 2>&1 &
		pid=$! ;;
	dtls-epoll:dtls)
		$(pin 0) "$SERVER_DTLS_EPOLL" 0 "$TMP/cert.pem" >"$log" 2>&1 &
		pid=$! ;;
	libuv:tcp)
		$(pin 0) "$SERVER_UV" --port 0 >"$log" 2>&1 &
		pid=$! ;;
	nginx:tls)
		$(pin 0) "$SERVER_EPOLL" --port 0 >"$log" 2>&1 &
		pid=$!
		KILL_PIDS+=("$pid")
		wait_listening "$log" "epoll-echo (nginx backend)"
		local backend=$PORT dir="$TMP/nginx"
		PORT="$(free_port)"
		nginx_conf "$dir" "$PORT" "$backend"
		$(pin 0) "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" >"$TMP/nginx.out" 2>&1 &
		local master=$! worker=""
		KILL_PIDS+=("$master")
		for _ in $(seq 200); do
			worker="$(pgrep -P "$master" | head -n 1 || true)"
			[[ -n "$worker" ]] && ss -ltn "sport = :$PORT" | grep -q LISTEN && break
			sleep 0.05
		done
		[[ -n "$worker" ]] || die "nginx did not start: $(cat "$dir/logs/error.log" "$TMP/nginx.out" 2>/dev/null)"
		SAMPLE="$worker,$pid"
		return 0 ;;
	*) die "no server $1 for $2" ;;
	esac
	KILL_PIDS+=("$pid")
	SAMPLE="$pid"
	wait_listening "$log" "$1"
}

stop_servers() {
	local p
	for p in "${KILL_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${KILL_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	KILL_PIDS=()
}

# start_counter OUT: count the server's syscalls (perf stat, 200 ms intervals)
# from before the load starts until stop_counter; waits until perf counts
# (perf takes a while to start on a busy machine).
start_counter() {
	"$PERF" stat -e raw_syscalls:sys_enter -x, -I 200 -p "$SAMPLE" -o "$1" >/dev/null 2>&1 &
	COUNTER=$!
	for _ in $(seq 200); do
		grep -q '^ *[0-9.]*,' "$1" 2>/dev/null && return 0 # first interval (may be "<not counted>")
		sleep 0.05
	done
}
stop_counter() {
	kill -INT "$COUNTER" 2>/dev/null
	wait "$COUNTER" 2>/dev/null || true
	COUNTER=""
}

# The kernel's count of SYNs dropped on a full accept queue (each costs the
# client a 1 s SYN retransmission): what limits the idle runs' connect time.
listen_overflows() {
	awk '/^TcpExt:/ { if (!h) { split($0, n); h = 1 } else { split($0, v)
		for (i in n) if (n[i] == "ListenOverflows") print v[i] } }' /proc/net/netstat
}

run_one() { # run_one SERVER KIND MODE CONNS SIZE PIPE REP OUT
	local server="$1" kind="$2" mode="$3" conns="$4" size="$5" pipe="$6" rep="$7" out="$8"
	local -a extra=()
	[[ "$kind" == churn || "$kind" == churn-capped ]] && extra+=(--churn)
	[[ "$kind" == rate ]] && extra+=(--rate "$CONN_RATE")
	# idle: rw-load picks its worker processes and source addresses (one per
	# 8,000 connections: port selection slows as a source's range fills); a
	# connect phase of up to 30 s, so that a slow one is measured (the target
	# is 10 s)
	[[ "$kind" == idle ]] && extra+=(--idle --connect-timeout 30)
	local lmode="${mode%-many}"
	[[ "$lmode" == *+deflate ]] && { lmode="${lmode%+deflate}"; extra+=(--deflate); }
	start_server "$server" "$mode"
	[[ -n "$LABEL" ]] && echo "$LABEL" >"$out.label"
	local cap0=""
	if [[ "$kind" == churn-capped ]]; then # every process sampled, all threads
		"$ROOT/perf/cpu-cap.sh" add "$CAP_DIR" ${SAMPLE//,/ }
		cap0="$("$ROOT/perf/cpu-cap.sh" stat "$CAP_DIR")"
	fi
	COUNTER=""
	[[ -n "$PERF" && "$rep" == 1 ]] && start_counter "$out.sys"
	local lo0
	lo0="$(listen_overflows)"
	$(pin 1) "$LOAD" --mode "$lmode" --port "$PORT" --connections "$conns" --size "$size" \
		--pipeline "$pipe" "${extra[@]}" --duration "$DURATION" --warmup "$WARMUP" \
		--server-pid "$SAMPLE" --json "$out" --quiet 2>"$out.err" ||
		note "$server: '$kind $mode $conns x $size' failed: $(head -c 300 "$out.err")"
	echo $(($(listen_overflows) - lo0)) >"$out.overflows"
	if [[ -n "$cap0" ]]; then # "QUOTA_PCT PERIODS THROTTLED" of this run
		read -r p1 t1 < <("$ROOT/perf/cpu-cap.sh" stat "$CAP_DIR")
		echo "$((100 * CAP_QUOTA_US / CAP_PERIOD_US)) $((p1 - ${cap0% *})) $((t1 - ${cap0#* }))" >"$out.cap"
	fi
	[[ -n "$COUNTER" ]] && stop_counter
	stop_servers
}

mkdir -p "$OUT_DIR"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
T0=$SECONDS
echo "bench: $(nproc) cores, $(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC'), $REPS repetition(s), ${DURATION} s windows; load avg $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -n "${BENCH_ONLY:-}" ]]; then # BENCH_ONLY=REGEX: only the scenarios whose name matches
	sel=()
	for s in "${SCENARIOS[@]}"; do [[ "${s%%|*}" =~ $BENCH_ONLY ]] && sel+=("$s"); done
	SCENARIOS=("${sel[@]}")
fi
for i in "${!SCENARIOS[@]}"; do # the server-bound churn row needs a cgroup CPU quota
	[[ "${SCENARIOS[$i]}" == *"|churn-capped|"* ]] || continue
	if ! CAP_DIR="$("$ROOT/perf/cpu-cap.sh" create "rw-bench-$$" "$CAP_QUOTA_US" "$CAP_PERIOD_US" 2>"$TMP/cap.err")"; then
		CAP_DIR=""
		note "server-bound churn row skipped: $(cat "$TMP/cap.err")"
		unset "SCENARIOS[$i]"
	fi
done
SCENARIOS=("${SCENARIOS[@]}")
for s in "${SCENARIOS[@]}"; do
	IFS='|' read -r name kind mode conns size pipe <<<"$s"
	case "$mode" in
	tls) servers=(ringworks "${PEERS_TLS[@]}") ;;
	ws | wss) servers=(ringworks "${PEERS_WS[@]}") ;;
	# libwebsockets 4.1.6 with permessage-deflate (perf/peers/lws-echo
	# --deflate) echoed a 16 KiB message short at 100 connections here (16,137
	# bytes: rw-load's check fails; fine at 1 and 20) and took ~1.4 ms of CPU
	# per 64 B message: left out until that is understood
	ws+deflate | wss+deflate)
		servers=(ringworks)
		for p in "${PEERS_WS[@]}"; do [[ "$p" == lws ]] || servers+=("$p"); done ;;
	dtls) servers=(ringworks "${PEERS_DTLS[@]}") ;;
	tcp-many) servers=(ringworks epoll) ;;
	*) servers=(ringworks "${PEERS_TCP[@]}") ;;
	esac
	echo "bench: $name: ${servers[*]}" >&2
	for rep in $(seq "$REPS"); do
		for server in "${servers[@]}"; do
			run_one "$server" "$kind" "$mode" "$conns" "$size" "$pipe" "$rep" \
				"$TMP/$(echo "$name" | tr -c 'A-Za-z0-9\n' _).$server.$rep.json"
		done
	done
done
echo "bench: runs took $((SECONDS - T0)) s; load avg now $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# The DTLS cookie path under a flood of cookie-less ClientHellos from 2,000
# source tuples (perf/dtls-hello-flood.py): server CPU per hello, RSS before
# and after, and the largest answer (never more bytes than the hello).
if [[ -z "${BENCH_ONLY:-}" || "DTLS hello flood" =~ $BENCH_ONLY ]]; then
	for server in ringworks "${PEERS_DTLS[@]}"; do
		start_server "$server" dtls
		f="$OUT_DIR/bench-$STAMP.dtls-flood-$server.json"
		$(pin 1) python3 "$ROOT/perf/dtls-hello-flood.py" --port "$PORT" --server-pid "$SAMPLE" \
			--count $((QUICK ? 20000 : 60000)) --burst 256 --json "$f" >/dev/null ||
			note "$server: the hello flood failed (an answer larger than the hello?)"
		stop_servers
		[[ -s "$f" ]] && python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("bench: DTLS hello flood, %s: %d hellos, %d HelloVerifyRequests of at most %d B (hello %d B), server %.1f us CPU per hello, RSS %d -> %d KiB" % (sys.argv[2], r["hellos_sent"], r["hello_verify_requests"], r["largest_answer_bytes"], r["hello_bytes"], r["server_cpu_us_per_answered_hello"] or 0, r["server_rss_kib_before"], r["server_rss_kib_after"]))' "$f" "$server"
	done
fi

python3 "$ROOT/perf/bench-report.py" "$TMP" "$OUT_DIR/bench-$STAMP" "$REPS" "$IDLE_CONNS" "${SCENARIOS[@]}"
