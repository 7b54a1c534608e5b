#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# watch mode: how long from an interface appearing to its programs being
# attached, and what watch costs while nothing happens.
#
#   sudo bench/watch.sh [--reps K] [--idle SECONDS] [--cnf PATH] [--out DIR]
#
#   --reps K       veth pairs created one after the other (default 30)
#   --idle S       length of the idle measurement (default 60)
#   --cnf PATH     the cnf-apply binary (default BUILD/cnf-apply)
#   --out DIR      where results go (default BUILD/bench-results/watch-<date>)
#
# Latency: watch runs on a manifest with one XDP (generic) and one tcx
# ingress attachment on "bw*", with the default --settle (100 ms) and with
# --settle 10. For each of K veth pairs: the time from just before
# `ip link add` to the moment the tcx link of the pair's second end is
# pinned (watch's JSON line for that action, which it prints once the
# whole reconcile is done), so it includes the settle time, the reconcile
# (manifests read, objects opened, programs loaded on first use) and the
# four attaches. Medians and extremes are printed.
# Idle: watch with 50 interfaces attached, --interval 30, no events for
# the given time: user + system CPU seconds (from /proc/PID/stat) over wall
# seconds, and its maximum RSS.
# Everything happens in a private network and mount namespace with a
# private bpffs; nothing on the host is touched.
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) B=$BUILD ;; *) B=$ROOT/$BUILD ;; esac
REPS=30
IDLE=60
CNF_BIN=
OUT=

while [ $# -gt 0 ]; do
	case $1 in
	--reps) REPS=$2; shift 2 ;;
	--idle) IDLE=$2; shift 2 ;;
	--cnf) CNF_BIN=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	-h|--help) awk 'NR > 2 && /^#/ { sub(/^# ?/, ""); print; next } NR > 2 { exit }' "$0"; exit 0 ;;
	*) echo "watch.sh: unknown argument $1" >&2; exit 1 ;;
	esac
done
[ "$(id -u)" -eq 0 ] || { echo "watch.sh: needs root" >&2; exit 1; }

if [ -z "${CNF_BENCH_INNER:-}" ]; then
	export CNF_BENCH_INNER=1
	exec unshare --net --mount --propagation private -- "$0" --reps "$REPS" --idle "$IDLE" \
		${CNF_BIN:+--cnf "$CNF_BIN"} ${OUT:+--out "$OUT"}
fi

CNF=${CNF_BIN:-$B/cnf-apply}
OUT=${OUT:-$B/bench-results/watch-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
WD=$(mktemp -d /tmp/cnf-watch-bench.XXXXXX)
trap 'kill $WPID 2>/dev/null; wait 2>/dev/null; umount "$WD/bpffs" 2>/dev/null; rm -rf "$WD"' EXIT
mkdir -p "$WD/bpffs" "$WD/m" "$WD/objs"
mount -t bpf -o mode=0700 bpf "$WD/bpffs"
cp "$B/tests/bpf/xdp_v1.bpf.o" "$B/tests/bpf/tc_v1.bpf.o" "$WD/objs/"
cp "$CNF" "$WD/cnf-apply"
ip link set lo up
cat >"$WD/m/bench.yaml" <<EOF
apiVersion: cnf-apply/v1
name: bench
objects:
  - name: x
    file: ../objs/xdp_v1.bpf.o
  - name: t
    file: ../objs/tc_v1.bpf.o
attachments:
  - name: fw
    program: x/xdp_main
    hook: xdp
    mode: generic
    interface: "bw*"
  - name: count
    program: t/tc_main
    hook: tcx
    direction: ingress
    interface: "bw*"
EOF

WPID=
start_watch() {
	"$WD/cnf-apply" --bpffs "$WD/bpffs" --json watch "$@" "$WD/m" >"$WD/watch.out" 2>"$WD/watch.err" &
	WPID=$!
	for _ in $(seq 300); do
		grep -q '"event":"ready"' "$WD/watch.out" && return 0
		sleep 0.05
	done
	echo "watch.sh: watch did not start" >&2
	cat "$WD/watch.err" >&2
	exit 1
}
stop_watch() {
	kill "$WPID"
	wait "$WPID" 2>/dev/null
	WPID=
}

# latency SETTLE: K pairs, one at a time; prints milliseconds per pair.
latency() {
	local i t0 t1 line

	start_watch --settle "$1" --interval 0
	for i in $(seq "$REPS"); do
		t0=$(date +%s%3N)
		ip link add "bw${i}a" type veth peer name "bw${i}b"
		line=
		for _ in $(seq 2000); do
			line=$(grep -F "\"target\":\"bw${i}b\"" "$WD/watch.out" | grep -F '"hook":"tcx"' | head -n 1)
			[ -n "$line" ] && break
			sleep 0.005
		done
		[ -n "$line" ] || { echo "watch.sh: bw${i}b was never attached" >&2; exit 1; }
		t1=$(jq -r .time <<<"$line")
		t1=$(python3 -c 'import sys,datetime; t=sys.argv[1]; d=datetime.datetime.strptime(t,"%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc); print(int(d.timestamp()*1000))' "$t1")
		echo $((t1 - t0))
	done
	stop_watch
	for i in $(seq "$REPS"); do
		echo "link del bw${i}a"
	done | ip -batch - 2>/dev/null
	umount "$WD/bpffs" && mount -t bpf -o mode=0700 bpf "$WD/bpffs"
}

stats() {
	sort -n | awk '{ v[NR] = $1 } END { printf "median %d ms, min %d ms, max %d ms (n=%d)\n", v[int((NR + 1) / 2)], v[1], v[NR], NR }'
}

echo "# watch bench: $(date -u '+%Y-%m-%d %H:%M UTC'), kernel $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/results.md"
echo | tee -a "$OUT/results.md"
for settle in 100 10; do
	latency "$settle" >"$OUT/latency-$settle.txt"
	echo "- interface appears -> XDP + tcx attached on both ends, --settle $settle: $(stats <"$OUT/latency-$settle.txt")" |
		tee -a "$OUT/results.md"
done

# Idle: 50 interfaces attached, nothing happening.
for i in $(seq 25); do
	echo "link add bw${i}a type veth peer name bw${i}b"
done | ip -batch -
start_watch --interval 30
for _ in $(seq 600); do
	[ "$(find "$WD/bpffs" -path '*/links/*' -type f | wc -l)" -ge 100 ] && break
	sleep 0.05
done
# Time on CPU in nanoseconds (schedstat: finer than the clock ticks of
# /proc/PID/stat), and the number of context switches (wake-ups).
cpu() { awk '{ print $1 }' "/proc/$WPID/schedstat"; }
wakeups() { awk '/^(non)?voluntary_ctxt_switches/ { n += $2 } END { print n }' "/proc/$WPID/status"; }
c0=$(cpu)
w0=$(wakeups)
sleep "$IDLE"
c1=$(cpu)
w1=$(wakeups)
rss=$(awk '/VmHWM/ { print $2 }' "/proc/$WPID/status")
stop_watch
awk -v c=$((c1 - c0)) -v w=$((w1 - w0)) -v s="$IDLE" -v rss="$rss" 'BEGIN {
	printf "- idle, 100 attachments, --interval 30, %d s: %.1f ms on CPU (%.4f%% of one CPU), %d wake-ups, max RSS %d KiB\n",
		s, c / 1e6, 100 * c / 1e9 / s, w, rss }' | tee -a "$OUT/results.md"
echo "results in $OUT"
