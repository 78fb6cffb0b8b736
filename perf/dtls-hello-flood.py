#!/usr/bin/env python3
"""perf/dtls-hello-flood.py --port P --server-pid PID [--count N] [--sockets S]:
what a flood of cookie-less DTLS 1.2 ClientHellos costs a DTLS server.

Sends N ClientHellos (each with a fresh random, no cookie) from S sockets
bound to 127.0.0.1..127.0.0.4 (S different source tuples, each a "new peer"
to the server; a real spoofed flood has more, which a stateless server cannot
tell apart), paced in bursts so that the server's socket buffer is not the
limit, and reads every answer. Reports the hellos sent, the answers (count,
types, largest size: no answer may be larger than the hello), the server's
CPU (utime + stime from /proc/PID/stat) per answered hello, and its RSS before,
at the end and its peak (VmHWM), so that memory growth per source shows
(a first flood also touches the pages of the loop's receive buffers for the
first time: run it twice against one server to see what is left).
Loopback only; bounded by --count and a 120 s limit. Exit status 0, or 1
when an answer is larger than the hello that caused it."""
import argparse
import json
import os
import select
import socket
import struct
import sys
import time


def client_hello(rnd, seq):
    suites = [0xC02B, 0xC02C, 0xC02F, 0xC030, 0xC009, 0xC013]
    ext = struct.pack("!HHHH", 10, 4, 2, 23) + struct.pack("!HHBB", 11, 2, 1, 0)
    ext += struct.pack("!HHHHH", 13, 6, 4, 0x0403, 0x0401) + struct.pack("!HH", 23, 0)
    body = struct.pack("!H", 0xFEFD) + rnd + b"\x00" + b"\x00"
    body += struct.pack("!H", 2 * len(suites)) + b"".join(struct.pack("!H", s) for s in suites)
    body += b"\x01\x00" + struct.pack("!H", len(ext)) + ext
    n = len(body)
    hs = struct.pack("!B", 1) + n.to_bytes(3, "big") + struct.pack("!H", 0) + b"\x00\x00\x00" + n.to_bytes(3, "big")
    return struct.pack("!BHH", 22, 0xFEFF, 0) + seq.to_bytes(6, "big") + struct.pack("!H", len(hs) + n) + hs + body


def proc(pid):
    with open(f"/proc/{pid}/stat") as f:
        st = f.read()
    fields = st[st.rindex(")") + 2:].split()
    tck = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) * 1e6 / tck
    rss = hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return cpu, rss, hwm


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--server-pid", type=int, required=True)
    ap.add_argument("--count", type=int, default=200000)
    ap.add_argument("--sockets", type=int, default=2000)
    ap.add_argument("--burst", type=int, default=64, help="hellos between reads of the answers")
    ap.add_argument("--json")
    a = ap.parse_args()
    socks = []
    for i in range(a.sockets):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((f"127.0.0.{1 + i % 4}", 0))
        s.setblocking(False)
        socks.append(s)
    dst = ("127.0.0.1", a.port)
    poll = select.epoll()
    for i, s in enumerate(socks):
        poll.register(s.fileno(), select.EPOLLIN)
    byfd = {s.fileno(): s for s in socks}
    hello_len = len(client_hello(os.urandom(32), 0))
    answers = answer_bytes = largest = hvr = other = 0

    def drain(timeout):  # seconds (epoll)
        nonlocal answers, answer_bytes, largest, hvr, other
        for fd, _ in poll.poll(timeout):
            s = byfd[fd]
            while True:
                try:
                    d = s.recv(65536)
                except BlockingIOError:
                    break
                answers += 1
                answer_bytes += len(d)
                largest = max(largest, len(d))
                if len(d) > 13 and d[0] == 22 and d[13] == 3:
                    hvr += 1
                else:
                    other += 1

    cpu0, rss0, _ = proc(a.server_pid)
    t0 = time.monotonic()
    sent = 0
    while sent < a.count and time.monotonic() - t0 < 120:
        for _ in range(a.burst):
            socks[sent % a.sockets].sendto(client_hello(os.urandom(32), sent), dst)
            sent += 1
        # Pace by the answers: at most a few bursts ahead of the server.
        drain(0)
        while sent - answers > 4 * a.burst and time.monotonic() - t0 < 120:
            before = answers
            drain(0.05)
            if answers == before:
                break  # lost ones: go on
    end = time.monotonic() + 1
    while time.monotonic() < end and answers < sent:
        drain(0.05)
    secs = time.monotonic() - t0
    cpu1, rss1, hwm = proc(a.server_pid)
    r = {
        "hellos_sent": sent, "hello_bytes": hello_len, "answers": answers,
        "hello_verify_requests": hvr, "other_answers": other,
        "largest_answer_bytes": largest, "answer_bytes_total": answer_bytes,
        "seconds": round(secs, 3), "hellos_per_s": round(sent / secs, 1),
        "server_cpu_us_per_answered_hello": round((cpu1 - cpu0) / answers, 3) if answers else None,
        "server_cpu_us_per_sent_hello": round((cpu1 - cpu0) / sent, 3) if sent else None,
        "server_rss_kib_before": rss0, "server_rss_kib_after": rss1, "server_vmhwm_kib": hwm,
        "server_rss_growth_bytes_per_hello": round((rss1 - rss0) * 1024 / sent, 4) if sent else None,
        "sources": a.sockets,
    }
    print(json.dumps(r, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=1)
    return 1 if largest > hello_len else 0


if __name__ == "__main__":
    sys.exit(main())
