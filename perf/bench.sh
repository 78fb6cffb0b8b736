#!/usr/bin/env bash
# perf/bench.sh BUILD_DIR [--quick]: side-by-side TCP echo benchmarks.
#
# Every scenario runs on ringworks-echo and on the classic epoll echo
# (perf/peers/epoll-echo) in the same run, server pinned to core 0 and
# rw-load to core 1, 3 repetitions each (1 with --quick), and reports medians
# and the ratio ringworks / epoll. The figure that tells servers apart on a
# 2-core machine is the server's CPU per message at the same offered load
# (DESIGN.md section 6); messages/s is capped by whichever side saturates.
# Results: a table on stdout and JSON in perf/results/bench-<UTC time>.json.
# Loopback only; every run is bounded by rw-load's own time limit.
set -euo pipefail

BUILD="${1:-build}"
QUICK=0
[[ "${2:-}" == "--quick" ]] && QUICK=1
REPS=$((QUICK ? 1 : 3))
DURATION=$((QUICK ? 3 : 5))
SERVER_RW="$BUILD/tools/ringworks-echo"
SERVER_EPOLL="$BUILD/perf/epoll-echo"
LOAD="$BUILD/perf/rw-load"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT_DIR="$ROOT/perf/results"

die() { echo "bench: $*" >&2; exit 1; }
for b in "$SERVER_RW" "$SERVER_EPOLL" "$LOAD"; do
	[[ -x "$b" ]] || die "$b not built (tools/run build)"
done

# name|connections|size|pipeline
SCENARIOS=(
	"echo 1000 x 64 B|1000|64|1"
	"echo 100 x 16 KiB|100|16384|1"
	"pipelined 50 x 64 B x16|50|64|16"
)

TMP="$(mktemp -d "${TMPDIR:-/tmp}/rw-bench.XXXXXX")"
SERVER_PID=""
cleanup() {
	[[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

pin() { # pin CORE: taskset when there are two cores or more
	if command -v taskset >/dev/null && [[ "$(nproc)" -ge 2 ]]; then echo "taskset -c $1"; fi
}

start_server() { # start_server NAME -> sets SERVER_PID, PORT
	local log="$TMP/server.log"
	: >"$log"
	if [[ "$1" == ringworks ]]; then
		$(pin 0) "$SERVER_RW" --tcp 0 --backlog 4096 --max-connections 20000 >"$log" 2>&1 &
	else
		$(pin 0) "$SERVER_EPOLL" --port 0 >"$log" 2>&1 &
	fi
	SERVER_PID=$!
	for _ in $(seq 100); do
		PORT="$(awk '/^listening tcp/{print $3; exit}' "$log")"
		[[ -n "$PORT" ]] && return 0
		sleep 0.05
	done
	die "$1 did not print 'listening tcp PORT': $(cat "$log")"
}

stop_server() {
	kill "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=""
}

run_one() { # run_one SERVER CONNS SIZE PIPE JSON
	start_server "$1"
	# taskset runs the server as its own child-less process, so $! is its pid.
	$(pin 1) "$LOAD" --port "$PORT" --connections "$2" --size "$3" --pipeline "$4" \
		--duration "$DURATION" --warmup 1 --server-pid "$SERVER_PID" --json "$5" --quiet ||
		echo "bench: $1 run failed (see $5)" >&2
	stop_server
}

mkdir -p "$OUT_DIR"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
for s in "${SCENARIOS[@]}"; do
	IFS='|' read -r name conns size pipe <<<"$s"
	for rep in $(seq "$REPS"); do
		for server in epoll ringworks; do
			run_one "$server" "$conns" "$size" "$pipe" "$TMP/${name// /_}.$server.$rep.json"
		done
	done
done

python3 - "$TMP" "$OUT_DIR/bench-$STAMP.json" "$REPS" "${SCENARIOS[@]}" <<'EOF'
import json, statistics, sys, glob, os
tmp, out, reps, scenarios = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
keys = ["messages_per_s", "server_cpu_us_per_msg", "latency_p99_us", "client_cpu_pct", "server_cpu_pct"]
result = {"reps": reps, "scenarios": []}
print(f"{'scenario':26} {'server':10} {'msg/s':>10} {'srv us/msg':>10} {'p99 us':>10} {'client %':>8} {'server %':>8}")
for s in scenarios:
    name = s.split("|")[0]
    row = {"name": name}
    for server in ("epoll", "ringworks"):
        runs = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(tmp, f"{name.replace(' ', '_')}.{server}.*.json")))]
        ok = [r for r in runs if r.get("ok")]
        med = {k: statistics.median(r[k] for r in ok) for k in keys} if ok else {}
        row[server] = {"runs": runs, "median": med, "ok_runs": len(ok)}
        if med:
            print(f"{name:26} {server:10} {med['messages_per_s']:10.0f} {med['server_cpu_us_per_msg']:10.2f} "
                  f"{med['latency_p99_us']:10.1f} {med['client_cpu_pct']:8.0f} {med['server_cpu_pct']:8.0f}")
        else:
            print(f"{name:26} {server:10} {'(no successful run)':>10}")
    e, r = row["epoll"]["median"], row["ringworks"]["median"]
    if e and r:
        row["ratio"] = {k: r[k] / e[k] for k in keys[:3] if e[k]}
        print(f"{'':26} {'ratio':10} {row['ratio']['messages_per_s']:10.2f} "
              f"{row['ratio']['server_cpu_us_per_msg']:10.2f} {row['ratio']['latency_p99_us']:10.2f}"
              f"   (ringworks / epoll; lower CPU and p99 are better)")
        if max(e['client_cpu_pct'], r['client_cpu_pct']) > 95:
            print(f"{'':26} note: the client used a whole core: it, not the server, capped msg/s")
    result["scenarios"].append(row)
json.dump(result, open(out, "w"), indent=2)
print(f"JSON: {out}")
EOF
