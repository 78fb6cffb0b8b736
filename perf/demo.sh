#!/usr/bin/env bash
# perf/demo.sh BUILD_DIR: the ringworks demo; 10,000 echo connections on loopback.
#
# Starts BUILD_DIR/tools/ringworks-echo, drives it with BUILD_DIR/perf/rw-load
# (10,000 connections, 64 B ping-pong, 5 s measured), and prints one table row:
# throughput, latency, errors, the server's RSS (before the load and at its peak)
# and the server's CPU per message over the measured window. Server and client
# are pinned to different cores when there are two or more.
# Exit status: non-zero when the load run failed or the server did not exit
# cleanly after SIGTERM. The server is always stopped (trap).
set -euo pipefail

BUILD="${1:-build}"
CONNS="${RW_DEMO_CONNECTIONS:-10000}"
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
SERVER_PID=""
LOAD_PID=""

# shellcheck disable=SC2317 # invoked by the trap
cleanup() {
	if [[ -n "$LOAD_PID" ]]; then
		kill -TERM "$LOAD_PID" 2>/dev/null || true
		wait "$LOAD_PID" 2>/dev/null || true
	fi
	if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -KILL "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
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

# ---- start the server and await its port ------------------------------------
mkfifo "$TMP/server.out"
"${PIN_SERVER[@]}" "$SERVER" --tcp 0 --max-connections $((CONNS + 2000)) \
	>"$TMP/server.out" 2>"$TMP/server.err" &
SERVER_PID=$!
exec 3<"$TMP/server.out" # kept open until the end so the server's stdout never breaks
PORT=""
while IFS= read -r -t "$LISTEN_WAIT" -u 3 line; do
	if [[ "$line" =~ ^listening\ tcp\ ([0-9]+)$ ]]; then
		PORT="${BASH_REMATCH[1]}"
		break
	fi
done
if [[ -z "$PORT" ]]; then
	cat "$TMP/server.err" >&2
	die "the server did not print 'listening tcp PORT' within ${LISTEN_WAIT} s"
fi
RSS_BEFORE=$(status_kib "$SERVER_PID" VmRSS)
echo "demo: ringworks-echo (pid $SERVER_PID) listening on 127.0.0.1:$PORT, RSS ${RSS_BEFORE} KiB"

# ---- the load -------------------------------------------------------------------
# In the background so that a signal to this script is handled at once (wait
# returns early; the trap stops rw-load and the server).
LOAD_RC=0
"${PIN_CLIENT[@]}" "$LOAD" --port "$PORT" --connections "$CONNS" --size "$SIZE" \
	--duration "$DURATION" --warmup 1 --server-pid "$SERVER_PID" --json "$TMP/load.json" &
LOAD_PID=$!
wait "$LOAD_PID" || LOAD_RC=$?
LOAD_PID=""
[[ -s "$TMP/load.json" ]] || die "rw-load wrote no results (exit $LOAD_RC)"

# Peak RSS: the larger of rw-load's sample at the end of the window and VmHWM.
kill -0 "$SERVER_PID" 2>/dev/null || die "the server died during the run"
RSS_PEAK=$(status_kib "$SERVER_PID" VmHWM)
RSS_WINDOW=$(json_num "$TMP/load.json" server_rss_kib)
((${RSS_WINDOW:-0} > RSS_PEAK)) && RSS_PEAK=$RSS_WINDOW

# ---- stop the server ---------------------------------------------------------------
kill -TERM "$SERVER_PID"
(sleep "$EXIT_WAIT" && kill -KILL "$SERVER_PID" 2>/dev/null) &
WATCHDOG=$!
SERVER_RC=0
wait "$SERVER_PID" || SERVER_RC=$?
kill "$WATCHDOG" 2>/dev/null || true
wait "$WATCHDOG" 2>/dev/null || true
SERVER_PID=""
if [[ -s "$TMP/server.err" ]]; then
	echo "demo: server stderr:" >&2
	head -n 20 "$TMP/server.err" >&2
fi

# ---- the table ----------------------------------------------------------------------
J="$TMP/load.json"
ERRORS=$(awk -v a="$(json_num "$J" verify_errors)" -v b="$(json_num "$J" disconnects)" \
	-v c="$(json_num "$J" connect_failures)" -v d="$(json_num "$J" stalled)" \
	'BEGIN { print a + b + c + d }')
echo
printf '%-22s %11s %10s %9s %9s %7s %13s %13s %12s\n' scenario connections "messages/s" \
	"p50 us" "p99 us" errors "server MiB" "RSS B/conn" "CPU us/msg"
awk -v sc="tcp echo ${SIZE} B" -v n="$(json_num "$J" established)" \
	-v m="$(json_num "$J" messages_per_s)" -v p50="$(json_num "$J" latency_p50_us)" \
	-v p99="$(json_num "$J" latency_p99_us)" -v e="$ERRORS" -v r0="$RSS_BEFORE" -v r1="$RSS_PEAK" \
	-v cpu="$(json_num "$J" server_cpu_us_per_msg)" 'BEGIN {
	per = n > 0 ? (r1 - r0) * 1024 / n : 0
	printf "%-22s %11d %10.0f %9.1f %9.1f %7d %6.1f->%-6.1f %13.0f %12.2f\n",
		sc, n, m, p50, p99, e, r0 / 1024, r1 / 1024, per, cpu
}'
awk -v cu="$(json_num "$J" client_cpu_us_per_msg)" -v cp="$(json_num "$J" client_cpu_pct)" \
	-v sp="$(json_num "$J" server_cpu_pct)" 'BEGIN {
	limit = cp >= 90 ? "the client was the limit" : sp >= 90 ? "the server was the limit" : \
		"neither side saturated its core: the machine was busy, figures are noisy"
	printf "(client CPU %.2f us/msg at %.0f %% of a core, server at %.0f %%: %s)\n", cu, cp, sp, limit
}'

STATUS=0
if ((LOAD_RC != 0)); then
	echo "demo: FAILED: rw-load exited with $LOAD_RC" >&2
	STATUS=1
fi
if ((SERVER_RC != 0)); then
	echo "demo: FAILED: the server exited with $SERVER_RC after SIGTERM" >&2
	STATUS=1
fi
((STATUS == 0)) && echo "demo: OK"
exit $STATUS
