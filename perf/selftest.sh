#!/usr/bin/env bash
# perf/selftest.sh RW_LOAD EPOLL_ECHO RINGWORKS_ECHO DTLS_EPOLL_ECHO: the load generator's own
# test (meson suite 'perf'). Short, bounded runs on loopback; never timings:
#  - a clean echo run passes, and its connection and byte counts equal the
#    server's (epoll-echo prints them at exit); the same for --churn and --idle;
#  - an echo that flips one byte now and then (epoll-echo --corrupt-every) is
#    caught: rw-load exits 1 and reports verify errors;
#  - --mode tls against ringworks-echo --tls (a test certificate made here):
#    echo and churn (full handshakes) verify;
#  - --mode ws against ringworks-echo --ws verifies (also with --deflate);
#    --mode wss against --wss;
#  - --mode dtls against ringworks-echo --dtls and perf/peers/dtls-epoll-echo:
#    echo and churn verify; a peer that flips a byte now and then is caught;
#    no server at all fails the run (handshakes counted as failed);
#  - --processes 3 (how rw-load goes past RLIMIT_NOFILE): three workers' merged
#    counts equal the server's, every idle connection echoes, and a corrupted
#    echo in any worker still fails the run;
#  - --rate (open-loop connection rate): cycles verify, counts match the server's;
#  - perf/cpu-cap.sh (bench's server-bound churn row): a server moved into a
#    cgroup CPU quota of 10 % is in it, is throttled under churn, still echoes
#    every byte, and the cgroup is gone after remove (skipped when no cgroup
#    CPU controller is writable).
set -uo pipefail
LOAD="$1" EPOLL="$2" RW="$3" DTLS_EPOLL="$4"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/rw-selftest.XXXXXX")"
SRV="" CAP=""
CAPSH="$(dirname "${BASH_SOURCE[0]}")/cpu-cap.sh"
trap '[[ -n "$SRV" ]] && kill "$SRV" 2>/dev/null && wait "$SRV"; [[ -n "$CAP" ]] && "$CAPSH" remove "$CAP"; rm -rf "$TMP"' EXIT
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { if eval "$2"; then ok "$1"; else not_ok "$1"; fi; }
jget() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }

start() { # start LOG CMD...: run a server, wait for "listening KIND PORT"
	local log="$1"; shift
	"$@" >"$log" 2>&1 &
	SRV=$!
	for _ in $(seq 100); do
		PORT="$(awk '/^listening/{print $3; exit}' "$log")"
		[[ -n "$PORT" ]] && return 0
		sleep 0.05
	done
	echo "# server did not start: $(cat "$log")"
	return 1
}
stop() { sleep 0.3; kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null; SRV=""; }
server_counts() { # -> "ACCEPTED BYTES" from epoll-echo's last line
	sed -n -E 's/^epoll-echo: accepted ([0-9]+) connections, echoed ([0-9]+) bytes$/\1 \2/p' "$1"
}
counts_match() { # counts_match NAME LOG JSON
	read -r acc bytes < <(server_counts "$2")
	local conns rx
	conns="$(jget "$3" connects_total)"
	rx="$(jget "$3" rx_bytes_total)"
	echo "# $1: server accepted ${acc:-?} echoed ${bytes:-?} B; client connects $conns received $rx B"
	check "$1: connection and byte counts match the server's" '[[ "$acc" == "$conns" && "$bytes" == "$rx" ]]'
}

echo "TAP version 13"
echo "1..28"

# clean echo, pipelined
start "$TMP/e1.log" "$EPOLL" --port 0
"$LOAD" --port "$PORT" --connections 20 --pipeline 4 --size 100 --duration 0.5 --warmup 0.2 \
	--quiet --json "$TMP/r1.json"
rc=$?
stop
check "clean echo passes" '[[ $rc == 0 && "$(jget "$TMP/r1.json" ok)" == True ]]'
counts_match "echo" "$TMP/e1.log" "$TMP/r1.json"

# corrupted echo
start "$TMP/e2.log" "$EPOLL" --port 0 --corrupt-every 50
"$LOAD" --port "$PORT" --connections 20 --size 100 --duration 0.5 --warmup 0.2 \
	--quiet --json "$TMP/r2.json" 2>"$TMP/r2.err"
rc=$?
stop
check "a corrupted echo fails the run (exit 1)" '[[ $rc == 1 ]]'
check "a corrupted echo is counted as verify errors" '[[ "$(jget "$TMP/r2.json" verify_errors)" -gt 0 ]]'

# churn
start "$TMP/e3.log" "$EPOLL" --port 0
"$LOAD" --port "$PORT" --connections 10 --size 200 --churn --duration 0.5 --warmup 0.2 \
	--quiet --json "$TMP/r3.json"
rc=$?
stop
check "churn passes with cycles" '[[ $rc == 0 && "$(jget "$TMP/r3.json" cycles)" -gt 0 ]]'
counts_match "churn" "$TMP/e3.log" "$TMP/r3.json"

# idle
start "$TMP/e4.log" "$EPOLL" --port 0
"$LOAD" --port "$PORT" --connections 200 --idle --duration 0.5 --warmup 0.2 \
	--quiet --json "$TMP/r4.json"
rc=$?
stop
check "idle: every connection echoes after the idle time" \
	'[[ $rc == 0 && "$(jget "$TMP/r4.json" idle_checked)" == 200 ]]'
counts_match "idle" "$TMP/e4.log" "$TMP/r4.json"

# TLS against ringworks-echo
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj /CN=localhost -keyout "$TMP/key.pem" -out "$TMP/crt.pem" >/dev/null 2>&1
cat "$TMP/crt.pem" "$TMP/key.pem" >"$TMP/cert.pem"
start "$TMP/t.log" "$RW" --tls 0 --cert "$TMP/cert.pem"
"$LOAD" --mode tls --port "$PORT" --connections 10 --pipeline 2 --size 5000 --duration 0.5 \
	--warmup 0.2 --quiet --json "$TMP/t1.json"
rc1=$?
"$LOAD" --mode tls --churn --port "$PORT" --connections 4 --duration 0.5 --warmup 0.2 \
	--quiet --json "$TMP/t2.json"
rc2=$?
stop
check "tls echo passes (decrypted echo verified)" \
	'[[ $rc1 == 0 && "$(jget "$TMP/t1.json" handshakes)" == 10 ]]'
check "tls churn passes (one full handshake per cycle)" \
	'[[ $rc2 == 0 && "$(jget "$TMP/t2.json" cycles)" -gt 0 ]]'

# WebSocket against ringworks-echo --ws
start "$TMP/w.log" "$RW" --ws 0
"$LOAD" --mode ws --port "$PORT" --connections 10 --pipeline 2 --size 70000 --duration 0.5 \
	--warmup 0.2 --quiet --json "$TMP/w1.json"
rc=$?
stop
check "ws echo passes (frames parsed, payload verified)" \
	'[[ $rc == 0 && "$(jget "$TMP/w1.json" handshakes)" == 10 ]]'

# WebSocket over TLS against ringworks-echo --wss
start "$TMP/ws.log" "$RW" --wss 0 --cert "$TMP/cert.pem"
"$LOAD" --mode wss --port "$PORT" --connections 10 --pipeline 2 --size 70000 --duration 0.5 \
	--warmup 0.2 --quiet --json "$TMP/w2.json"
rc=$?
stop
check "wss echo passes (TLS, upgrade, frames parsed, payload verified)" \
	'[[ $rc == 0 && "$(jget "$TMP/w2.json" handshakes)" == 10 && "$(jget "$TMP/w2.json" mode)" == wss ]]'

# permessage-deflate against ringworks-echo --ws (compressed both ways, inflated and verified)
start "$TMP/wz.log" "$RW" --ws 0
"$LOAD" --mode ws --deflate --port "$PORT" --connections 10 --pipeline 2 --size 20000 --duration 0.5 \
	--warmup 0.2 --quiet --json "$TMP/w3.json"
rc=$?
stop
check "ws --deflate echo passes (compressed echo inflated and verified)" \
	'[[ $rc == 0 && "$(jget "$TMP/w3.json" mode)" == ws+deflate && "$(jget "$TMP/w3.json" messages)" -gt 0 ]]'

# DTLS against ringworks-echo --dtls and the epoll peer
start "$TMP/d.log" "$RW" --dtls 0 --cert "$TMP/cert.pem"
"$LOAD" --mode dtls --port "$PORT" --connections 50 --pipeline 2 --window 40 --size 1000 \
	--duration 0.5 --warmup 0.2 --quiet --json "$TMP/d1.json"
rc1=$?
"$LOAD" --mode dtls --churn --port "$PORT" --connections 4 --duration 0.5 --warmup 0.2 \
	--quiet --json "$TMP/d2.json"
rc2=$?
stop
check "dtls echo passes (every session up, decrypted echo verified)" \
	'[[ $rc1 == 0 && "$(jget "$TMP/d1.json" handshakes)" == 50 && "$(jget "$TMP/d1.json" messages)" -gt 0 ]]'
check "dtls churn passes (one full handshake per cycle)" \
	'[[ $rc2 == 0 && "$(jget "$TMP/d2.json" handshakes_window)" -gt 0 && "$(jget "$TMP/d2.json" cycles)" -gt 0 ]]'
start "$TMP/de.log" "$DTLS_EPOLL" 0 "$TMP/cert.pem"
"$LOAD" --mode dtls --port "$PORT" --connections 20 --duration 0.5 --warmup 0.2 --quiet \
	--json "$TMP/d3.json"
rc=$?
stop
check "dtls echo against the epoll peer passes" '[[ $rc == 0 && "$(jget "$TMP/d3.json" handshakes)" == 20 ]]'
start "$TMP/dc.log" "$DTLS_EPOLL" 0 "$TMP/cert.pem" --corrupt-every 50
"$LOAD" --mode dtls --port "$PORT" --connections 20 --duration 0.5 --warmup 0.2 --quiet \
	--json "$TMP/d4.json"
rc=$?
stop
check "dtls: a corrupted echo fails the run with verify errors" \
	'[[ $rc == 1 && "$(jget "$TMP/d4.json" verify_errors)" -gt 0 ]]'
DEAD="$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
timeout 60 "$LOAD" --mode dtls --port "$DEAD" --connections 2 --duration 0.2 --warmup 0 --quiet \
	--json "$TMP/d5.json"
rc=$?
check "dtls: no server fails the run" '[[ $rc == 1 && "$(jget "$TMP/d5.json" handshakes)" == 0 ]]'

# several worker processes, merged (three sources: each worker binds its share)
start "$TMP/m1.log" "$EPOLL" --port 0
"$LOAD" --port "$PORT" --connections 301 --processes 3 --sources 3 --idle --duration 0.5 \
	--warmup 0.2 --quiet --json "$TMP/m1.json"
rc=$?
stop
check "3 processes, idle: every connection of every worker echoes" \
	'[[ $rc == 0 && "$(jget "$TMP/m1.json" idle_checked)" == 301 && "$(jget "$TMP/m1.json" established)" == 301 ]]'
counts_match "3 processes, idle" "$TMP/m1.log" "$TMP/m1.json"
start "$TMP/m2.log" "$EPOLL" --port 0 --corrupt-every 40
"$LOAD" --port "$PORT" --connections 30 --processes 3 --duration 0.5 --warmup 0.2 \
	--quiet --json "$TMP/m2.json" 2>"$TMP/m2.err"
rc=$?
stop
check "3 processes: a corrupted echo fails the merged run (exit 1)" \
	'[[ $rc == 1 && "$(jget "$TMP/m2.json" verify_errors)" -gt 0 ]]'
check "3 processes: the merged histogram has every message" \
	'[[ "$(jget "$TMP/m2.json" messages)" -gt 0 ]] && python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not (0 < d[\"latency_p50_us\"] <= d[\"latency_p99_us\"] <= d[\"latency_p999_us\"]))" "$TMP/m2.json"'

# connection rate, open loop
start "$TMP/r5.log" "$EPOLL" --port 0
"$LOAD" --port "$PORT" --rate 200 --connections 20 --size 100 --duration 0.5 --warmup 0.2 \
	--quiet --json "$TMP/r5.json"
rc=$?
stop
check "rate: passes with cycles, kind rate, offered rate reported" \
	'[[ $rc == 0 && "$(jget "$TMP/r5.json" cycles)" -gt 0 && "$(jget "$TMP/r5.json" kind)" == rate && "$(jget "$TMP/r5.json" offered_rate)" == 200.0 ]]'
counts_match "rate" "$TMP/r5.log" "$TMP/r5.json"

# a CPU quota (perf/cpu-cap.sh), as bench's server-bound churn row uses it
if CAP="$("$CAPSH" create "rw-selftest-$$" 1000 10000 2>"$TMP/cap.err")"; then
	start "$TMP/c1.log" "$EPOLL" --port 0
	"$CAPSH" add "$CAP" "$SRV"
	check "cpu-cap: the server is in the cgroup" 'grep -qx "$SRV" "$CAP/cgroup.procs"'
	read -r p0 t0 < <("$CAPSH" stat "$CAP")
	"$LOAD" --port "$PORT" --connections 10 --size 100 --churn --duration 1 --warmup 0.2 \
		--server-pid "$SRV" --quiet --json "$TMP/c1.json"
	rc=$?
	read -r p1 t1 < <("$CAPSH" stat "$CAP")
	stop
	echo "# cpu-cap: throttled in $((t1 - t0)) of $((p1 - p0)) periods; server CPU $(jget "$TMP/c1.json" server_cpu_pct) % of a core"
	check "cpu-cap: churn under a 10 % quota passes and the quota throttled the server" \
		'[[ $rc == 0 && "$(jget "$TMP/c1.json" cycles)" -gt 0 && $((t1 - t0)) -gt 0 ]]'
	counts_match "churn under a CPU quota" "$TMP/c1.log" "$TMP/c1.json"
	"$CAPSH" remove "$CAP"
	check "cpu-cap: the cgroup is removed" '[[ ! -e "$CAP" ]]'
	CAP=""
else
	for t in "in the cgroup" "throttled" "counts" "removed"; do
		ok "cpu-cap: $t # SKIP $(cat "$TMP/cap.err")"
	done
fi

((failed == 0))
