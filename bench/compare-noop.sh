#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Compares the no-op apply of several cnf-apply binaries (say, before and
# after an engine change) on the same machine at the same time: each binary
# gets its own network namespace with N veth interfaces, its own bpffs and
# its applied state; then their no-op runs are interleaved, so that whatever
# else the machine does falls on all of them alike.
#
#   sudo bench/compare-noop.sh [--n N] [--runs R] [--no-iter] BINARY...
#
#   --n N       interfaces per binary (default 500: 1,000 attachments)
#   --runs R    no-op runs per binary (default 31)
#   --no-iter   pass --no-iter (read links with BPF_LINK_GET_NEXT_ID)
#
# Prints per binary: wall time median (min–max), CPU time (user + system)
# median, peak RSS. Needs BUILD/bench/stopwatch and the test objects
# (make bench-bins). Everything it creates is gone when it exits.
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) B=$BUILD ;; *) B=$ROOT/$BUILD ;; esac
N=500
RUNS=31
EXTRA=()
BINS=()

die() { printf 'compare-noop.sh: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	--n) N=${2:?}; shift ;;
	--runs) RUNS=${2:?}; shift ;;
	--no-iter) EXTRA=(--no-iter) ;;
	-h|--help) sed -n '4,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option '$1'" ;;
	*) [ -x "$1" ] || die "$1: not an executable"; BINS+=("$(realpath "$1")") ;;
	esac
	shift
done
[ ${#BINS[@]} -gt 0 ] || die "name at least one cnf-apply binary"
[ -x "$B/bench/stopwatch" ] || die "missing $B/bench/stopwatch (make bench-bins)"

if [ -z "${COMPARE_INNER:-}" ]; then
	[ "$(id -u)" -eq 0 ] || die "needs root"
	export COMPARE_INNER=1
	exec unshare --net --mount --propagation private -- bash "$0" --n "$N" --runs "$RUNS" \
		"${EXTRA[@]}" "${BINS[@]}"
fi

T=$(mktemp -d /tmp/cnf-compare.XXXXXX) || exit 1
cleanup() {
	for ((i = 0; i < ${#BINS[@]}; i++)); do
		mountpoint -q "$T/$i/bpffs" 2>/dev/null && umount "$T/$i/bpffs"
		ip netns del "cnfcmp$$-$i" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
# A private /run/netns: the namespaces below exist only in this mount namespace.
mkdir -p /run/netns && mount -t tmpfs tmpfs /run/netns || die "cannot mount /run/netns"

for ((i = 0; i < ${#BINS[@]}; i++)); do
	d=$T/$i
	mkdir -p "$d/bpffs" "$d/objs" "$d/bin"
	cp "${BINS[$i]}" "$d/bin/cnf-apply"
	cp "$B/tests/bpf/xdp_v1.bpf.o" "$d/objs/xdp.bpf.o"
	cp "$B/tests/bpf/tc_v1.bpf.o" "$d/objs/tc.bpf.o"
	cat >"$d/m.yaml" <<EOF
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
	ip netns add "cnfcmp$$-$i" || die "ip netns add failed"
	for ((k = 0; k < N / 2; k++)); do
		echo "link add bv${k}a type veth peer name bv${k}b"
	done >"$d/batch"
	nsenter --net="/run/netns/cnfcmp$$-$i" ip -batch "$d/batch" || die "creating interfaces failed"
	mount -t bpf -o mode=0700 bpf "$d/bpffs" || die "cannot mount bpffs"
	printf 'applying %d attachments with %s\n' $((4 * (N / 2))) "${BINS[$i]}" >&2
	nsenter --net="/run/netns/cnfcmp$$-$i" "$d/bin/cnf-apply" --bpffs "$d/bpffs/cnf" apply "$d/m.yaml" \
		>/dev/null || die "apply with ${BINS[$i]} failed"
done

for ((r = 0; r < RUNS; r++)); do
	for ((k = 0; k < ${#BINS[@]}; k++)); do
		i=$(((k + r) % ${#BINS[@]}))
		d=$T/$i
		nsenter --net="/run/netns/cnfcmp$$-$i" "$B/bench/stopwatch" -o "$d/sw" -- \
			"$d/bin/cnf-apply" --bpffs "$d/bpffs/cnf" "${EXTRA[@]}" apply "$d/m.yaml" >/dev/null ||
			die "no-op apply with ${BINS[$i]} failed"
	done
done

printf '%-50s %-28s %-12s %s\n' "binary (${RUNS} no-op runs, $((4 * (N / 2))) attachments)" \
	"wall median (min-max)" "CPU median" "max RSS"
for ((i = 0; i < ${#BINS[@]}; i++)); do
	d=$T/$i
	nsenter --net="/run/netns/cnfcmp$$-$i" "$d/bin/cnf-apply" --bpffs "$d/bpffs/cnf" destroy "$d/m.yaml" \
		>/dev/null || die "destroy with ${BINS[$i]} failed"
	wall=$(cut -d' ' -f1 "$d/sw" | sort -n | awk '{ v[NR] = $1 } END {
		printf "%6.1f ms (%.1f-%.1f)", v[int((NR + 1) / 2)] / 1000, v[1] / 1000, v[NR] / 1000 }')
	cpu=$(awk '{ print $4 + $5 }' "$d/sw" | sort -n | awk '{ v[NR] = $1 } END {
		printf "%6.1f ms", v[int((NR + 1) / 2)] / 1000 }')
	rss=$(awk '$2 > m { m = $2 } END { printf "%.1f MiB", m / 1024 }' "$d/sw")
	printf '%-50s %-28s %-12s %s\n' "${BINS[$i]}" "$wall" "$cpu" "$rss"
done
