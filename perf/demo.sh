#!/usr/bin/env bash
# perf/demo.sh BUILD_DIR: the ringworks demo on loopback, one row per scenario:
#   tcp echo       10,000 connections, 64 B ping-pong, 5 s measured
#   tls echo       1,000 TLS connections (handshakes first), 64 B ping-pong
#   tls handshakes 100 connections that connect, handshake, echo, close, again
#   ws echo        1,000 WebSocket connections (upgrade first), 64 B messages
#   wss echo       the same over TLS (TLS handshake, then the upgrade)
#   dtls echo      1,000 DTLS 1.2 sessions (handshakes first), 64 B datagrams
#   dtls handshakes 100 sessions that handshake, echo one datagram, send
#                  close_notify, again on a new port
# Each row starts BUILD_DIR/tools/ringworks-echo with that listener (TLS with
# its self-signed certificate), drives it with BUILD_DIR/perf/rw-load and
# gives throughput (messages/s, or connections/s for churn), latency, errors,
# the server's RSS (before the load and at its peak) and the server's CPU per
# message (or connection) over the measured window. Server and client are
# pinned to different cores when there are two or more.
# Exit status: non-zero when the load run failed or the server did not exit
# cleanly after SIGTERM. The server is always stopped (trap).
set -euo pipefail

BUILD="${1:-build}"
CONNS="${RW_DEMO_CONNECTIONS:-10000}"
TLS_CONNS="${RW_DEMO_TLS_CONNECTIONS:-1000}"
TLS_CHURN_CONNS="${RW_DEMO_TLS_CHURN_CONNECTIONS:-100}"
WS_CONNS="${RW_DEMO_WS_CONNECTIONS:-1000}"
DTLS_CONNS="${RW_DEMO_DTLS_CONNECTIONS:-1000}"
DTLS_CHURN_CONNS="${RW_DEMO_DTLS_CHURN_CONNECTIONS:-100}"
SIZE="${RW_DEMO_SIZE:-64}"
DURATION="${RW_DEMO_DURATION:-5}"
SERVER="$BUILD/tools/ringworks-echo"
LOAD="$BUILD/perf/rw-load"
LISTEN_WAIT=10 # seconds to wait for "listening tcp PORT"
EXIT_WAIT=10   # seconds to wait for the server to exit after SIGTERM

die() { echo "demo: $*" >&2; exit 1; }

[[ -x "$SERVER" ]] || die "$SERVER not built (meson setup $BUILD && ninja -C $BUILD)"
[[ -x "$LOAD" ]] || die "$LOAD not built (configure with -Dperf=true)"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/rw-demo.XXXXXX")"
SERVER_PID=""  # ringworks-echo itself (for /proc and signals)
SERVER_WRAP="" # the subshell that waits for it and writes its exit status
LOAD_PID=""    # the subshell around rw-load

# wait_rc PID FILE: the exit status that the wrapper subshell PID wrote to FILE.
# Statuses come from files, not from `wait PID`: with pid_max 32768 and busy
# machines, pid numbers come round again within one run, and bash 5.2 then
# sometimes has "No record of process" for a child it started (wait returns
# 127 at once, while the child still runs).
wait_rc() {
	wait "$1" 2>/dev/null || true
	while [[ ! -e "$2" ]] && kill -0 "$1" 2>/dev/null; do sleep 0.05; done
	cat "$2" 2>/dev/null || echo 255
}

# shellcheck disable=SC2317 # invoked by the trap
cleanup() {
	if [[ -n "$LOAD_PID" ]]; then
		pkill -TERM -P "$LOAD_PID" 2>/dev/null || true
		wait "$LOAD_PID" 2>/dev/null || true
	fi
	if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -KILL "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_WRAP" 2>/dev/null || true
	fi
	exec 3<&- 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Pin server and client apart when there are two cores or more.
PIN_SERVER=() PIN_CLIENT=()
if command -v taskset >/dev/null && (($(nproc) >= 2)); then
	PIN_SERVER=(taskset -c 0) PIN_CLIENT=(taskset -c 1)
fi

# /proc/PID/status field in KiB (VmRSS, VmHWM).
status_kib() { awk -v k="$2:" '$1 == k { print $2; exit }' "/proc/$1/status"; }
# A number from rw-load's flat JSON.
json_num() { sed -n "s/^ *\"$2\": *\\([-0-9.]*\\).*/\\1/p" "$1" | head -n1; }

ROWS=()   # printed table rows
STATUS=0

# run_row LABEL KIND CONNS LOAD_ARGS...: start ringworks-echo --KIND 0, drive it
# with rw-load, stop it with SIGTERM, and add a table row.
run_row() {
	local label="$1" kind="$2" conns="$3"
	shift 3
	local out="$TMP/$kind.out" json="$TMP/$kind.json" line port="" rss0 rss1 rssw load_rc=0 server_rc=0
	rm -f "$out" "$TMP/server.pid" "$TMP/server.rc" "$TMP/load.rc"
	mkfifo "$out"
	(
		"${PIN_SERVER[@]}" "$SERVER" "--$kind" 0 --max-connections $((conns + 2000)) &
		echo $! >"$TMP/server.pid"
		rc=0
		wait $! || rc=$?
		echo $rc >"$TMP/server.rc"
	) >"$out" 2>"$TMP/server.err" &
	SERVER_WRAP=$!
	exec 3<"$out" # kept open until the end so the server's stdout never breaks
	for _ in $(seq 100); do [[ -s "$TMP/server.pid" ]] && break; sleep 0.05; done
	[[ -s "$TMP/server.pid" ]] || die "the server did not start"
	SERVER_PID=$(cat "$TMP/server.pid")
	while IFS= read -r -t "$LISTEN_WAIT" -u 3 line; do
		if [[ "$line" =~ ^listening\ $kind\ ([0-9]+)$ ]]; then
			port="${BASH_REMATCH[1]}"
			break
		fi
	done
	if [[ -z "$port" ]]; then
		cat "$TMP/server.err" >&2
		die "the server did not print 'listening $kind PORT' within ${LISTEN_WAIT} s"
	fi
	rss0=$(status_kib "$SERVER_PID" VmRSS)
	echo "demo: $label: ringworks-echo --$kind (pid $SERVER_PID) on 127.0.0.1:$port, RSS ${rss0} KiB"
	# In the background so that a signal to this script is handled at once
	# (wait returns early; the trap stops rw-load and the server).
	(
		rc=0
		"${PIN_CLIENT[@]}" "$LOAD" --port "$port" --connections "$conns" --duration "$DURATION" --warmup 1 \
			--server-pid "$SERVER_PID" --json "$json" --quiet "$@" || rc=$?
		echo $rc >"$TMP/load.rc"
	) &
	LOAD_PID=$!
	load_rc=$(wait_rc "$LOAD_PID" "$TMP/load.rc")
	LOAD_PID=""
	[[ -s "$json" ]] || die "$label: rw-load wrote no results (exit $load_rc)"
	kill -0 "$SERVER_PID" 2>/dev/null || die "$label: the server died during the run"
	# Peak RSS: the larger of rw-load's sample at the end of the window and VmHWM.
	rss1=$(status_kib "$SERVER_PID" VmHWM)
	rssw=$(json_num "$json" server_rss_kib)
	((${rssw:-0} > rss1)) && rss1=$rssw

	kill -TERM "$SERVER_PID"
	(sleep "$EXIT_WAIT" && kill -KILL "$SERVER_PID" 2>/dev/null) &
	local watchdog=$!
	server_rc=$(wait_rc "$SERVER_WRAP" "$TMP/server.rc")
	kill "$watchdog" 2>/dev/null || true
	wait "$watchdog" 2>/dev/null || true
	SERVER_PID=""
	exec 3<&-
	if [[ -s "$TMP/server.err" ]] && grep -qv "self-signed" "$TMP/server.err"; then
		echo "demo: $label: server stderr:" >&2
		head -n 20 "$TMP/server.err" >&2
	fi

	local errors rate
	errors=$(awk -v a="$(json_num "$json" verify_errors)" -v b="$(json_num "$json" disconnects)" \
		-v c="$(json_num "$json" connect_failures)" -v d="$(json_num "$json" stalled)" \
		'BEGIN { print a + b + c + d }')
	# Churn rows count connections (each with its handshake), the rest messages.
	rate=$(json_num "$json" messages_per_s)
	[[ " $* " == *" --churn "* ]] && rate=$(json_num "$json" connections_per_s)
	ROWS+=("$(awk -v sc="$label" -v n="$(json_num "$json" established)" -v m="$rate" \
		-v p50="$(json_num "$json" latency_p50_us)" -v p99="$(json_num "$json" latency_p99_us)" \
		-v p999="$(json_num "$json" latency_p999_us)" \
		-v e="$errors" -v r0="$rss0" -v r1="$rss1" -v cpu="$(json_num "$json" server_cpu_us_per_msg)" \
		-v cp="$(json_num "$json" client_cpu_pct)" -v sp="$(json_num "$json" server_cpu_pct)" 'BEGIN {
		per = n > 0 ? (r1 - r0) * 1024 / n : 0
		lim = cp >= 90 ? "client" : sp >= 90 ? "server" : "neither"
		printf "%-26s %11d %10.0f %9.1f %9.1f %9.1f %7d %6.1f->%-6.1f %11.0f %11.2f %8s",
			sc, n, m, p50, p99, p999, e, r0 / 1024, r1 / 1024, per, cpu, lim
	}')")
	if ((load_rc != 0)); then
		echo "demo: $label: FAILED: rw-load exited with $load_rc" >&2
		STATUS=1
	fi
	if ((server_rc != 0)); then
		echo "demo: $label: FAILED: the server exited with $server_rc after SIGTERM" >&2
		STATUS=1
	fi
}

run_row "tcp echo ${SIZE} B" tcp "$CONNS" --size "$SIZE"
run_row "tls echo ${SIZE} B" tls "$TLS_CONNS" --size "$SIZE" --mode tls
run_row "tls handshakes (churn)" tls "$TLS_CHURN_CONNS" --size "$SIZE" --mode tls --churn
run_row "ws echo ${SIZE} B" ws "$WS_CONNS" --size "$SIZE" --mode ws
run_row "wss echo ${SIZE} B" wss "$WS_CONNS" --size "$SIZE" --mode wss
run_row "dtls echo ${SIZE} B" dtls "$DTLS_CONNS" --size "$SIZE" --mode dtls
run_row "dtls handshakes (churn)" dtls "$DTLS_CHURN_CONNS" --size "$SIZE" --mode dtls --churn

echo
printf '%-26s %11s %10s %9s %9s %9s %7s %13s %11s %11s %8s\n' scenario connections "msgs|conns/s" \
	"p50 us" "p99 us" "p99.9 us" errors "server MiB" "RSS B/conn" "CPU us/op" "limit"
printf '%s\n' "${ROWS[@]}"
echo "(limit: which side used 90 % or more of its core; on 2 cores the client usually is)"
((STATUS == 0)) && echo "demo: OK"
exit $STATUS
