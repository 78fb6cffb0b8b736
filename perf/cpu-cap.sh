#!/usr/bin/env bash
# perf/cpu-cap.sh: a CPU quota for a benchmark's server (perf/bench.sh's
# server-bound churn row, perf/selftest.sh), through a cgroup's CPU controller.
#
#   cpu-cap.sh create NAME QUOTA_US PERIOD_US  -> prints the cgroup's directory
#       (exit 2, reason on stderr, when no writable CPU controller is found)
#   cpu-cap.sh add DIR PID...                   moves each process, all its threads
#                                               and its future threads, into DIR
#   cpu-cap.sh stat DIR                         -> "PERIODS THROTTLED" so far
#   cpu-cap.sh remove DIR                       removes DIR (its processes must
#                                               have exited)
#
# cgroup v1 (a cpu hierarchy: cpu.cfs_quota_us, cpu.cfs_period_us) is tried
# first, then cgroup v2 (cpu.max; "+cpu" is enabled in the parent's
# cgroup.subtree_control when it is not yet). Linux only; needs the right to
# create a cgroup (root, or a delegated subtree given in RW_CGROUP_PARENT).
set -euo pipefail

err() { echo "cpu-cap: $*" >&2; }

v1_root() { # the mount point of the v1 hierarchy with the cpu controller
	awk '$3 == "cgroup" && $4 ~ /(^|,)cpu(,|$)/ { print $2; exit }' /proc/mounts
}
v2_root() {
	awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts
}

create() { # create NAME QUOTA_US PERIOD_US
	local name="$1" quota="$2" period="$3" root dir
	root="${RW_CGROUP_PARENT:-$(v1_root)}"
	if [[ -n "$root" && -w "$root" && -e "$root/cpu.cfs_quota_us" ]]; then
		dir="$root/$name"
		if mkdir "$dir" 2>/dev/null; then
			# the period first: a quota larger than the old period is refused
			# on some kernels until the period allows it
			if echo "$period" >"$dir/cpu.cfs_period_us" 2>/dev/null &&
				echo "$quota" >"$dir/cpu.cfs_quota_us" 2>/dev/null; then
				echo "$dir"
				return 0
			fi
			rmdir "$dir" 2>/dev/null || true
		fi
	fi
	root="${RW_CGROUP_PARENT:-$(v2_root)}"
	if [[ -n "$root" && -w "$root" && -e "$root/cgroup.controllers" ]]; then
		if grep -qw cpu "$root/cgroup.controllers" &&
			{ grep -qw cpu "$root/cgroup.subtree_control" ||
				echo +cpu >"$root/cgroup.subtree_control" 2>/dev/null; }; then
			dir="$root/$name"
			if mkdir "$dir" 2>/dev/null; then
				if echo "$quota $period" >"$dir/cpu.max" 2>/dev/null; then
					echo "$dir"
					return 0
				fi
				rmdir "$dir" 2>/dev/null || true
			fi
		fi
	fi
	err "no writable cgroup CPU controller (cgroup v1 cpu.cfs_quota_us or v2 cpu.max; root needed, or RW_CGROUP_PARENT)"
	return 2
}

add() { # add DIR PID...: cgroup.procs moves a whole thread group (v1 and v2)
	local dir="$1" pid; shift
	for pid in "$@"; do echo "$pid" >"$dir/cgroup.procs"; done
}

stat() { # stat DIR -> "PERIODS THROTTLED" (v1 and v2 name them alike)
	awk '$1 == "nr_periods" { p = $2 } $1 == "nr_throttled" { t = $2 } END { print p + 0, t + 0 }' "$1/cpu.stat"
}

remove() { # remove DIR: retried a little, as an exiting process leaves late
	local dir="$1"
	[[ -d "$dir" ]] || return 0
	for _ in $(seq 50); do
		rmdir "$dir" 2>/dev/null && return 0
		sleep 0.1
	done
	err "could not remove $dir (processes left: $(tr '\n' ' ' <"$dir/cgroup.procs"))"
	return 1
}

cmd="${1:-}"
shift || true
case "$cmd" in
create) (($# == 3)) || { err "usage: create NAME QUOTA_US PERIOD_US"; exit 64; }; create "$@" ;;
add) (($# >= 2)) || { err "usage: add DIR PID..."; exit 64; }; add "$@" ;;
stat) (($# == 1)) || { err "usage: stat DIR"; exit 64; }; stat "$@" ;;
remove) (($# == 1)) || { err "usage: remove DIR"; exit 64; }; remove "$@" ;;
*) err "usage: cpu-cap.sh create|add|stat|remove ..."; exit 64 ;;
esac
