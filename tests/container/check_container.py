#!/usr/bin/env python3
"""tests/container/check_container.py ROOT: static checks of tools/container/.

 - seccomp-io_uring.json parses; defaultAction refuses; io_uring_setup,
   io_uring_enter and io_uring_register are allowed unconditionally, and so is
   every syscall ringworks-echo was seen to make (strace, listed below);
 - k8s/*.yaml parse (python3-yaml); the Deployment uses a Localhost seccomp
   profile named like the JSON file, runAsNonRoot, resource limits and a TCP
   readiness probe on the container's port; the Service selects its pods;
 - the Dockerfile has a bookworm-slim build stage that runs tools/run build
   and a runtime stage that installs no compiler and runs as a non-root USER.
Prints each failure; exits 1 if any."""
import json
import os
import re
import sys

import yaml

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
C = os.path.join(ROOT, "tools", "container")
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)


# Syscalls of ringworks-echo --tcp serving one client, then SIGTERM (strace -f).
ECHO_SYSCALLS = """access arch_prctl bind brk close execve exit_group getpeername getrandom
getsockname io_uring_enter io_uring_register io_uring_setup ioctl listen mmap mprotect munmap
newfstatat openat pread64 prlimit64 read readlink rseq rt_sigaction rt_sigreturn set_robust_list
set_tid_address socket write setsockopt getsockopt rt_sigprocmask""".split()

# ---- seccomp ----
with open(os.path.join(C, "seccomp-io_uring.json")) as f:
    prof = json.load(f)
check(prof.get("defaultAction") in ("SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS"),
      "seccomp: defaultAction must refuse, got %r" % prof.get("defaultAction"))
allowed, conditional, refused = set(), set(), set()
for rule in prof.get("syscalls", []):
    names = set(rule.get("names", []))
    if rule.get("action") == "SCMP_ACT_ALLOW":
        if rule.get("args") or rule.get("includes") or rule.get("excludes"):
            conditional |= names
        else:
            allowed |= names
    else:
        refused |= names
for sc in ("io_uring_setup", "io_uring_enter", "io_uring_register"):
    check(sc in allowed, "seccomp: %s is not allowed unconditionally" % sc)
    check(sc not in refused, "seccomp: %s is also in a refusing rule" % sc)
for sc in ECHO_SYSCALLS:
    check(sc in allowed or sc in conditional, "seccomp: ringworks-echo needs %s" % sc)
check("socket" in allowed or "socket" in conditional, "seccomp: socket")

# ---- Kubernetes ----
docs = {}
for name in ("deployment.yaml", "service.yaml"):
    with open(os.path.join(C, "k8s", name)) as f:
        for d in yaml.safe_load_all(f):
            if d:
                docs[d.get("kind")] = d
dep, svc = docs.get("Deployment"), docs.get("Service")
check(dep is not None, "k8s: no Deployment")
check(svc is not None, "k8s: no Service")
if dep and svc:
    pod = dep["spec"]["template"]["spec"]
    psc = pod.get("securityContext", {})
    sp = psc.get("seccompProfile", {})
    check(sp.get("type") == "Localhost", "k8s: seccompProfile type is not Localhost")
    check(str(sp.get("localhostProfile", "")).endswith("seccomp-io_uring.json"),
          "k8s: localhostProfile does not name seccomp-io_uring.json")
    check(psc.get("runAsNonRoot") is True, "k8s: runAsNonRoot is not true")
    check(psc.get("runAsUser", 0) != 0, "k8s: runAsUser is 0")
    labels = dep["spec"]["template"]["metadata"]["labels"]
    check(dep["spec"]["selector"]["matchLabels"].items() <= labels.items(), "k8s: selector does not match pod labels")
    check(svc["spec"]["selector"].items() <= labels.items(), "k8s: Service selector does not match pod labels")
    ports = {}
    for c in pod["containers"]:
        lim = c.get("resources", {}).get("limits", {})
        check("cpu" in lim and "memory" in lim, "k8s: container %s has no cpu/memory limits" % c["name"])
        for p in c.get("ports", []):
            ports[p.get("name")] = p["containerPort"]
            ports[p["containerPort"]] = p["containerPort"]
        rp = c.get("readinessProbe", {}).get("tcpSocket", {}).get("port")
        check(rp in ports, "k8s: readiness probe port %r is not a container port" % rp)
        check(c.get("securityContext", {}).get("allowPrivilegeEscalation") is False,
              "k8s: allowPrivilegeEscalation is not false")
    for p in svc["spec"]["ports"]:
        check(p.get("targetPort") in ports, "k8s: Service targetPort %r is not a container port" % p.get("targetPort"))

# ---- Dockerfile ----
with open(os.path.join(C, "Dockerfile")) as f:
    lines = []
    for raw in f.read().replace("\\\n", " ").splitlines():
        s = raw.strip()
        if s and not s.startswith("#"):
            lines.append(s)
stages = []
for s in lines:
    if s.upper().startswith("FROM "):
        stages.append([s])
    elif stages:
        stages[-1].append(s)
check(len(stages) >= 2, "Dockerfile: not multi-stage")
if len(stages) >= 2:
    check(all("debian:bookworm-slim" in st[0] for st in stages), "Dockerfile: every stage is debian:bookworm-slim")
    check(any("tools/run build" in s for s in stages[0]), "Dockerfile: the build stage does not run tools/run build")
    rt = stages[-1]
    users = [s.split(None, 1)[1] for s in rt if s.upper().startswith("USER ")]
    check(users != [], "Dockerfile: the runtime stage sets no USER")
    if users:
        u = users[-1].split(":")[0]
        check(u not in ("root", "0"), "Dockerfile: the runtime USER is root")
    installs = " ".join(s for s in rt if "apt-get install" in s)
    for tool in ("gcc", "clang", "meson", "ninja-build", "build-essential", "-dev"):
        check(tool not in installs, "Dockerfile: the runtime stage installs %s" % tool)
    check(any(re.search(r"COPY --from=\S+ \S*ringworks-echo", s) for s in rt),
          "Dockerfile: the runtime stage does not copy ringworks-echo from the build stage")

for f in failures:
    print("check_container: " + f)
sys.exit(1 if failures else 0)
