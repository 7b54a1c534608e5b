#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Compares rollouts (every program replaced by a new version, in place) of
# several cnf-apply binaries and of the floor program, on the same machine
# at the same time: each contender gets its own network namespace with N
# veth interfaces (XDP + tcx ingress on each), its own bpffs and its applied
# state; then their rollouts are interleaved, v1 -> v2 -> v1 ..., so that
# whatever else the machine does falls on all of them alike.
#
#   sudo bench/compare-rollout.sh [--n N] [--runs R] CONTENDER...
#
#   --n N       interfaces per contender (default 1000: 2,000 links)
#   --runs R    rollouts per contender (default 15)
#   CONTENDER   a cnf-apply binary, or `floor` (BUILD/bench/floor: one load
#               per object, then BPF_OBJ_GET + BPF_LINK_UPDATE per pin)
#
# Prints per contender: wall time median (min–max), CPU time (user +
# system) median, peak RSS, and the ratio of medians to the floor's when the
# floor runs too. Needs BUILD/bench/{stopwatch,floor} and the test objects
# (make bench-bins). Everything it creates is gone when it exits.
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) B=$BUILD ;; *) B=$ROOT/$BUILD ;; esac
N=1000
RUNS=15
WHO=()

die() { printf 'compare-rollout.sh: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	--n) N=${2:?}; shift ;;
	--runs) RUNS=${2:?}; shift ;;
	-h|--help) sed -n '4,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option '$1'" ;;
	floor) WHO+=(floor) ;;
	*) [ -x "$1" ] || die "$1: not an executable"; WHO+=("$(realpath "$1")") ;;
	esac
	shift
done
[ ${#WHO[@]} -gt 0 ] || die "name at least one contender"
for f in bench/stopwatch bench/floor tests/bpf/xdp_v1.bpf.o tests/bpf/xdp_v2.bpf.o \
	 tests/bpf/tc_v1.bpf.o tests/bpf/tc_v2.bpf.o; do
	[ -e "$B/$f" ] || die "missing $B/$f (make bench-bins)"
done

if [ -z "${COMPARE_INNER:-}" ]; then
	[ "$(id -u)" -eq 0 ] || die "needs root"
	export COMPARE_INNER=1
	exec unshare --net --mount --propagation private -- bash "$0" --n "$N" --runs "$RUNS" "${WHO[@]}"
fi

T=$(mktemp -d /tmp/cnf-compare.XXXXXX) || exit 1
cleanup() {
	for ((i = 0; i < ${#WHO[@]}; i++)); do
		mountpoint -q "$T/$i/bpffs" 2>/dev/null && umount "$T/$i/bpffs"
		ip netns del "cnfroll$$-$i" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
# A private /run/netns: the namespaces below exist only in this mount namespace.
mkdir -p /run/netns && mount -t tmpfs tmpfs /run/netns || die "cannot mount /run/netns"

# The command line of contender i for one step (apply, rollout, destroy).
cmd_of() {
	local i=$1 step=$2 d=$T/$1

	if [ "${WHO[$i]}" = floor ]; then
		case $step in
		apply) echo "$d/bin/floor apply --bpffs $d/bpffs --glob bv* --xdp $d/m/objs/xdp.bpf.o --tc $d/m/objs/tc.bpf.o" ;;
		rollout) echo "$d/bin/floor rollout --bpffs $d/bpffs --xdp $d/m/objs/xdp.bpf.o --tc $d/m/objs/tc.bpf.o" ;;
		destroy) echo "$d/bin/floor destroy --bpffs $d/bpffs" ;;
		esac
	else
		case $step in
		apply|rollout) echo "$d/bin/cnf-apply --bpffs $d/bpffs/cnf apply $d/m/m.yaml" ;;
		destroy) echo "$d/bin/cnf-apply --bpffs $d/bpffs/cnf destroy $d/m/m.yaml" ;;
		esac
	fi
}

# Puts version v1 or v2 of both objects in place (cp over the same path,
# as a package upgrade does).
version() {
	local d=$T/$1

	cp "$B/tests/bpf/xdp_$2.bpf.o" "$d/m/objs/xdp.bpf.o"
	cp "$B/tests/bpf/tc_$2.bpf.o" "$d/m/objs/tc.bpf.o"
}

for ((i = 0; i < ${#WHO[@]}; i++)); do
	d=$T/$i
	mkdir -p "$d/bpffs" "$d/m/objs" "$d/bin"
	if [ "${WHO[$i]}" = floor ]; then
		cp "$B/bench/floor" "$d/bin/floor"
	else
		cp "${WHO[$i]}" "$d/bin/cnf-apply"
	fi
	cat >"$d/m/m.yaml" <<EOF
apiVersion: cnf-apply/v1
name: bench
objects:
  - name: xdp
    file: objs/xdp.bpf.o
  - name: tc
    file: objs/tc.bpf.o
attachments:
  - name: fw
    program: xdp/xdp_main
    hook: xdp
    interface: "bv*"
  - name: count
    program: tc/tc_main
    hook: tcx
    interface: "bv*"
    direction: ingress
EOF
	version "$i" v1
	ip netns add "cnfroll$$-$i" || die "ip netns add failed"
	for ((k = 0; k < N / 2; k++)); do
		echo "link add bv${k}a type veth peer name bv${k}b"
	done >"$d/batch"
	nsenter --net="/run/netns/cnfroll$$-$i" ip -batch "$d/batch" || die "creating interfaces failed"
	mount -t bpf -o mode=0700 bpf "$d/bpffs" || die "cannot mount bpffs"
	printf 'applying %d links with %s\n' $((2 * (N / 2) * 2)) "${WHO[$i]}" >&2
	# shellcheck disable=SC2046 # the command line is split on purpose
	nsenter --net="/run/netns/cnfroll$$-$i" $(cmd_of "$i" apply) >/dev/null ||
		die "apply with ${WHO[$i]} failed"
	echo v1 >"$d/version"
done

for ((r = 0; r < RUNS; r++)); do
	for ((k = 0; k < ${#WHO[@]}; k++)); do
		i=$(((k + r) % ${#WHO[@]}))
		d=$T/$i
		if [ "$(cat "$d/version")" = v1 ]; then v=v2; else v=v1; fi
		version "$i" "$v"
		echo "$v" >"$d/version"
		# shellcheck disable=SC2046
		nsenter --net="/run/netns/cnfroll$$-$i" "$B/bench/stopwatch" -o "$d/sw" -- \
			$(cmd_of "$i" rollout) >/dev/null || die "rollout with ${WHO[$i]} failed"
	done
done

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
floor_med=
for ((i = 0; i < ${#WHO[@]}; i++)); do
	[ "${WHO[$i]}" = floor ] && floor_med=$(cut -d' ' -f1 "$T/$i/sw" | median)
done
printf '%-50s %-28s %-12s %-10s %s\n' "contender (${RUNS} rollouts, $((2 * (N / 2) * 2)) links)" \
	"wall median (min-max)" "CPU median" "max RSS" "/ floor"
for ((i = 0; i < ${#WHO[@]}; i++)); do
	d=$T/$i
	# shellcheck disable=SC2046
	nsenter --net="/run/netns/cnfroll$$-$i" $(cmd_of "$i" destroy) >/dev/null ||
		die "destroy with ${WHO[$i]} failed"
	wall=$(cut -d' ' -f1 "$d/sw" | sort -n | awk '{ v[NR] = $1 } END {
		printf "%6.1f ms (%.1f-%.1f)", v[int((NR + 1) / 2)] / 1000, v[1] / 1000, v[NR] / 1000 }')
	cpu=$(awk '{ print $4 + $5 }' "$d/sw" | median | awk '{ printf "%6.1f ms", $1 / 1000 }')
	rss=$(awk '$2 > m { m = $2 } END { printf "%.1f MiB", m / 1024 }' "$d/sw")
	ratio=
	[ -n "$floor_med" ] && ratio=$(cut -d' ' -f1 "$d/sw" | median |
		awk -v f="$floor_med" '{ printf "%.2fx", $1 / f }')
	printf '%-50s %-28s %-12s %-10s %s\n' "${WHO[$i]}" "$wall" "$cpu" "$rss" "$ratio"
done
