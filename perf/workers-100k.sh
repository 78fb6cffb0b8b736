#!/usr/bin/env bash
# perf/workers-100k.sh BUILD_DIR [CONNECTIONS] [WORKERS]: one ringworks server
# object (ringworks-echo --workers N, Config Workers=N) holds CONNECTIONS
# (default 100,000) idle TCP connections from rw-load client processes (each
# under RLIMIT_NOFILE, spread over 127.0.0.x sources), then every one must echo
# once more. Prints the time to establish them and the server's RSS per
# connection; exits 0 only when all were established and all echoed.
#
# Why N workers: RLIMIT_NOFILE is 20,000 here and a ring's fixed-file table is
# capped by it, so 100,000 connections need at least 6 rings in one process
# (DESIGN.md 4a); the default N is ceil(CONNECTIONS / 18,000).
# The same check as perf/bench.sh's "idle 100000" scenario (which tools/run
# bench runs, next to the epoll peer), for one server alone: about a minute. Kernel settings: net.core.somaxconn and tcp_max_syn_backlog should be
# >= 16384 (tools/run bench raises them when allowed).
set -euo pipefail

BUILD="${1:?usage: perf/workers-100k.sh BUILD_DIR [CONNECTIONS] [WORKERS]}"
CONNS="${2:-100000}"
WORKERS="${3:-$(((CONNS + 17999) / 18000))}"
ECHO="$BUILD/tools/ringworks-echo"
LOAD="$BUILD/perf/rw-load"
[[ -x "$ECHO" && -x "$LOAD" ]] || { echo "workers-100k: build $ECHO and $LOAD first" >&2; exit 2; }

TMP="$(mktemp -d)"
SERVER=""
cleanup() {
	[[ -n "$SERVER" ]] && kill -TERM "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

"$ECHO" --tcp 0 --workers "$WORKERS" --backlog 16384 --max-connections $((CONNS + 1000)) \
	>"$TMP/server.out" 2>"$TMP/server.err" &
SERVER=$!
for _ in $(seq 50); do
	[[ -s "$TMP/server.out" ]] && break
	sleep 0.1
done
PORT="$(awk '/^listening tcp/ {print $3}' "$TMP/server.out")"
[[ -n "$PORT" ]] || { echo "workers-100k: the server did not start:" >&2; cat "$TMP/server.err" >&2; exit 1; }
THREADS="$(ls "/proc/$SERVER/task" | wc -l)"
echo "workers-100k: ringworks-echo --workers $WORKERS (pid $SERVER, $THREADS threads), $CONNS connections"

listen_overflows() {
	awk '/^TcpExt:/ { if (!h) { split($0, n); h = 1 } else { split($0, v)
		for (i in n) if (n[i] == "ListenOverflows") print v[i] } }' /proc/net/netstat
}
lo0="$(listen_overflows)"
status=0
"$LOAD" --port "$PORT" --idle --connections "$CONNS" --duration 5 --connect-timeout 60 \
	--server-pid "$SERVER" >"$TMP/load.out" 2>"$TMP/load.err" || status=$?
cat "$TMP/load.out"
est="$(grep -o 'established *[0-9]* (in [0-9.]* s)' "$TMP/load.out" | sed 's/established *//')"
echoed="$(awk '/echoed after idle/ {print $4 " of " $6}' "$TMP/load.out")"
rss="$(grep -o 'RSS [0-9.]* MiB ([0-9.]* KiB per connection)' "$TMP/load.out" || true)"
echo "workers-100k: established $est, $(($(listen_overflows) - lo0)) ListenOverflows (the host's); echoed after idle $echoed; server $rss"
if ((status != 0)); then
	echo "workers-100k: FAIL (rw-load exit $status)"
	tail -5 "$TMP/load.err" >&2
	exit 1
fi
kill -TERM "$SERVER"
if ! wait "$SERVER"; then
	echo "workers-100k: FAIL (the server did not exit 0 after SIGTERM)"
	SERVER=""
	exit 1
fi
SERVER=""
echo "workers-100k: OK"
