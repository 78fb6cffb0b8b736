#!/usr/bin/env python3
"""perf/bench-report.py TMP OUT_PREFIX REPS IDLE_CONNS SCENARIO...: the table,
JSON and PNG of perf/bench.sh from rw-load's per-run JSON files.

Medians over the repetitions that passed; ratios are ringworks / peer (for
server CPU, latency and syscalls lower is better, for msg/s higher)."""
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys

tmp, out, reps, idle_conns = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
scenarios = [s.split("|") for s in sys.argv[5:]]
CLIENT_BOUND = 90.0  # client CPU % of a core from which the client is the limit
SERVER_BOUND = 0.85  # share of its CPU quota from which a capped server is the limit


def port_knee():
    """Connections/s from one source address past which loopback churn is
    limited by TIME_WAIT port reuse: connect() takes even ports first, and a
    TIME_WAIT port is reused once per second at most."""
    try:
        lo, hi = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
        return (hi - lo + 1) // 2
    except (OSError, ValueError):
        return None


KNEE = port_knee()


def fname(name):
    return re.sub(r"[^A-Za-z0-9\n]", "_", name)


def load_runs(name, server):
    runs = []
    for f in sorted(glob.glob(os.path.join(tmp, f"{fname(name)}.{server}.*.json"))):
        try:
            r = json.load(open(f))
        except (OSError, ValueError):
            continue
        sysf = f + ".sys"
        if os.path.exists(sysf):
            # perf stat -I -x, lines: time,count,unit,event,...; "<not counted>"
            # in an interval where the server never ran
            count, seen = 0, False
            for line in open(sysf):
                parts = line.strip().split(",")
                if len(parts) > 3 and parts[3] == "raw_syscalls:sys_enter":
                    seen = True
                    if parts[1].isdigit():
                        count += int(parts[1])
            per = r.get("connects_total") if r.get("kind") in ("churn", "idle", "rate") else r.get("messages_total")
            if seen and per:
                r["syscalls_total"] = count
                r["syscalls_per_msg"] = count / per
        if os.path.exists(f + ".overflows"):
            r["listen_overflows"] = int(open(f + ".overflows").read().strip() or 0)
        if os.path.exists(f + ".cap"):  # "QUOTA_PCT PERIODS THROTTLED" (perf/cpu-cap.sh)
            q, periods, throttled = open(f + ".cap").read().split()
            r["cpu_cap_pct"], r["cap_periods"], r["cap_throttled"] = float(q), int(periods), int(throttled)
        if os.path.exists(f + ".label"):
            r["server_label"] = open(f + ".label").read().strip()
        runs.append(r)
    return runs


def med(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


KEYS = ["messages_per_s", "connections_per_s", "latency_p50_us", "latency_p99_us", "latency_p999_us",
        "server_cpu_us_per_msg", "server_cpu_pct", "server_user_pct", "server_sys_pct",
        "client_cpu_pct", "server_rss_per_conn_kib", "idle_checked", "syscalls_per_msg",
        "connect_s", "server_rss_kib", "established", "late_starts", "cpu_cap_pct", "cap_periods",
        "cap_throttled"]


def fmt(v, nd=1):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{nd}f}"


result = {"reps": reps, "scenarios": [], "uname": os.uname().release, "cores": os.cpu_count()}
hdr = (f"{'scenario / server':34} {'rate/s':>9} {'p50 us':>8} {'p99 us':>8} {'p99.9':>8} "
       f"{'srv us/op':>9} {'usr/sys %':>9} {'sys/op':>7} {'cli %':>5}  note")
print()
print(hdr)
print("-" * len(hdr))
chart = []  # (scenario, peer, cpu ratio, rate ratio)
for name, kind, mode, conns, size, pipe in scenarios:
    servers = {"tcp": ["ringworks", "epoll", "rw-epoll", "libuv"], "tls": ["ringworks", "nginx"],
               "ws": ["ringworks", "node-ws", "lws"], "wss": ["ringworks", "node-ws", "lws"],
               "ws+deflate": ["ringworks", "node-ws"], "wss+deflate": ["ringworks", "node-ws"],
               "dtls": ["ringworks", "dtls-epoll"], "tcp-many": ["ringworks", "epoll"]}[mode]
    row = {"name": name, "kind": kind, "mode": mode, "connections": int(conns), "size": int(size),
           "pipeline": int(pipe), "servers": {}}
    print(name)
    for server in servers:
        runs = load_runs(name, server)
        if not runs:
            continue
        ok = [r for r in runs if r.get("ok")]
        m = {k: med(ok, k) for k in KEYS} if ok else {}
        row["servers"][server] = {"runs": runs, "ok_runs": len(ok), "median": m}
        if not m:
            print(f"  {server:32} no successful run of {len(runs)}"
                  f" (verify errors {sum(r.get('verify_errors', 0) for r in runs)},"
                  f" disconnects {sum(r.get('disconnects', 0) for r in runs)})")
            continue
        notes = []
        if (m["client_cpu_pct"] or 0) >= CLIENT_BOUND:
            notes.append("client-bound")
        if len(ok) < len(runs):
            notes.append(f"{len(runs) - len(ok)} of {len(runs)} runs failed")
        if kind == "idle":
            rate = None
            label = next((r["server_label"] for r in ok if r.get("server_label")), "")
            lo = max((r.get("listen_overflows", 0) for r in ok), default=0)
            notes.append(f"established in {m['connect_s']:.1f} s ({lo} ListenOverflows);"
                         f" {m['idle_checked']:.0f}/{conns} echoed"
                         f" after idle; server RSS {m['server_rss_kib'] / 1024:.1f} MiB,"
                         f" +{m['server_rss_per_conn_kib'] * 1024:.0f} B/conn" + (f"; {label}" if label else ""))
            m["label"] = label
        else:
            rate = m["connections_per_s"] if kind in ("churn", "churn-capped", "rate") else m["messages_per_s"]
            if kind == "rate" and m.get("late_starts"):
                notes.append(f"{m['late_starts']:.0f} started late")
        if kind == "churn-capped" and m.get("cpu_cap_pct"):
            used, cap = m["server_cpu_pct"] or 0, m["cpu_cap_pct"]
            bound = "server-bound" if used >= SERVER_BOUND * cap else "NOT server-bound"
            notes.append(f"{bound}: {used:.0f} % of a {cap:.0f} % cap, throttled in"
                         f" {m['cap_throttled']:.0f} of {m['cap_periods']:.0f} periods")
        if kind.startswith("churn") and mode == "tcp" and KNEE and rate and rate >= 0.95 * KNEE:
            notes.append(f"at the TIME_WAIT port-reuse knee ({KNEE:,}/s)")
        if server == "nginx":
            notes.append("nginx + epoll backend")
        usr_sys = f"{m['server_user_pct']:.0f}/{m['server_sys_pct']:.0f}" if m["server_user_pct"] is not None else "-"
        print(f"  {server:32} {fmt(rate, 0):>9} {fmt(m['latency_p50_us']):>8} {fmt(m['latency_p99_us']):>8} "
              f"{fmt(m['latency_p999_us']):>8} {fmt(m['server_cpu_us_per_msg'], 2):>9} {usr_sys:>9} "
              f"{fmt(m['syscalls_per_msg'], 2):>7} {fmt(m['client_cpu_pct'], 0):>5}  {'; '.join(notes)}")
        m["rate"] = rate
    rw = row["servers"].get("ringworks", {}).get("median")
    row["ratios"] = {}
    for peer in servers[1:]:
        pm = row["servers"].get(peer, {}).get("median")
        if not rw or not pm:
            continue
        def ratio(k):
            return rw[k] / pm[k] if rw.get(k) and pm.get(k) else None
        r = {"rate": ratio("rate"), "server_cpu_per_op": ratio("server_cpu_us_per_msg"),
             "p99": ratio("latency_p99_us"), "syscalls_per_op": ratio("syscalls_per_msg"),
             "rss_per_conn": ratio("server_rss_per_conn_kib")}
        row["ratios"][peer] = r
        if kind == "idle":
            print(f"  {'ringworks / ' + peer:32} RSS/conn {fmt(r['rss_per_conn'], 2)}  p99 {fmt(r['p99'], 2)}")
        else:
            print(f"  {'ringworks / ' + peer:32} {fmt(r['rate'], 2):>9} {'':8} {fmt(r['p99'], 2):>8} {'':8} "
                  f"{fmt(r['server_cpu_per_op'], 2):>9} {'':9} {fmt(r['syscalls_per_op'], 2):>7}")
            if r["server_cpu_per_op"]:
                chart.append((name, peer, r["server_cpu_per_op"], r["rate"] or 0))
    result["scenarios"].append(row)

print()
print("rate/s: messages/s (connections/s for churn and rate); srv us/op: server CPU (user+system) per message"
      " or per connection; sys/op: server syscalls per message (churn, idle: per connection) over the whole"
      " run, connects included (perf stat, first repetition);"
      " cli %: rw-load's CPU, one core; client-bound: the client, not the server, capped the rate"
      " (compare srv us/op then). Ratios: ringworks / peer.")
print(f"idle: {idle_conns} connections; RLIMIT_NOFILE is 20,000 per process here, so rw-load forks"
      " workers and each server runs as the note says (several processes on one port, or Workers);"
      " +B/conn is the server's RSS growth from before the first connect to the end of the idle time,"
      " divided by the connections: user-space memory, fixed pools (receive buffers) included;"
      " the kernel's socket memory is not in it. Targets: established in 10 s, 512 B/conn.")
print("DTLS: rate/s is echoed datagrams/s (handshakes/s for churn), srv us/op the server's CPU per echoed"
      " datagram (per full handshake, with its one echo and close_notify, for churn) at 1,000 sessions"
      " with 256 datagrams in flight; dtls-epoll is plain wolfSSL + epoll, one recvfrom/sendto per datagram,"
      " the same wolfSSL build.")
print("TLS: nginx terminates TLS and proxies to the epoll echo (two processes, both counted);"
      " ringworks terminates TLS and echoes in one process.")
tls = [r.get("tls") for row in result["scenarios"] for s in row["servers"].values() for r in s["runs"] if r.get("tls")]
if tls:
    print(f"TLS negotiated: {sorted(set(tls))}")
print("churn, server CPU capped: each server in a cgroup CPU quota, so that the server, not the client,"
      " limits connections/s (server-bound: it used at least 85 % of its quota); latency there is the"
      " queue of 50 connections on a throttled server, not the server's latency."
      + (f" Loopback churn from one source address cannot pass ~{KNEE:,} connections/s cheaply"
         " (TIME_WAIT ports, even ports first, reused once per second): a row near it measured the kernel."
         if KNEE else ""))

json.dump(result, open(out + ".json", "w"), indent=1)
print(f"JSON: {out}.json")

if chart and shutil.which("gnuplot"):
    dat = out + ".dat"
    with open(dat, "w") as f:
        for name, peer, cpu, rate in chart:
            f.write(f"\"{name} vs {peer}\" {cpu:.4f} {rate:.4f}\n")
    script = f"""
set terminal pngcairo size {max(900, 110 * len(chart))},560 font ",10"
set output "{out}.png"
set title "ringworks / peer (lower server CPU is better, higher rate is better)"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -30 left font ",9"
set yrange [0:*]
set ylabel "ratio"
set grid ytics
set key outside top center horizontal
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb "black"
set bmargin 13
set rmargin 12
plot "{dat}" using 2:xtic(1) title "server CPU per op", "" using 3 title "rate (msg/s or conn/s)"
"""
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True, capture_output=True)
        os.unlink(dat)
        print(f"PNG: {out}.png")
    except (subprocess.CalledProcessError, OSError) as e:
        print(f"bench: gnuplot failed: {getattr(e, 'stderr', e)}", file=sys.stderr)
elif chart:
    print("bench: no gnuplot (Debian gnuplot-nox): no PNG", file=sys.stderr)
