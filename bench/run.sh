#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The benchmark: cnf-apply against the kernel's floor (bench/floor.c) and
# against the script users write today (bench/by-hand.sh), on N veth
# interfaces with one XDP and one tcx attachment each.
#
#   sudo bench/run.sh [--quick] [--reps K] [--sizes "10 100 1000"] [--out DIR]
#                     [--no-profile]
#
#   --quick       N = 10 and 100 only, no 1,000-attachment target run, no profile
#   --reps K      repetitions per size (default: 5, and 3 for N >= 1000)
#   --sizes LIST  interface counts (default "10 100 1000")
#   --out DIR     where results go (default BUILD/bench-results/<date>)
#   --no-profile  skip the no-op profile (perf, callgrind, strace -c)
#   --cnf PATH    measure this cnf-apply binary instead of BUILD/cnf-apply
#                 (e.g. one built with a proposed change)
#   --contenders LIST  a subset of "cnf floor byhand" (default: all three)
#   BENCH_COMMIT=TEXT  what meta.tsv says was measured (default: git describe
#                 of this checkout); meta.tsv also has the binary's sha256
#
# Scenarios, each a separate process, as a user runs them:
#   fresh    apply on an empty state root (XDP + tcx ingress on every interface)
#   noop     apply again, nothing changed (5 runs per repetition)
#   rollout  v2 objects copied over the v1 files, apply: every program replaced
#   destroy  remove everything
# cnf-apply's no-op also runs with --no-iter. One more cycle per size runs
# under strace (BPF syscalls by command, programs loaded). Besides: a no-op
# target run at exactly 1,000 attachments (N=500) with a profile
# (bench/profile.sh), one fresh apply of the largest N under `ulimit -n
# 1024`, the planner alone (bench/plan_bench) and ways of listing interfaces
# (bench/floor iflist).
# The whole run happens in a private network and mount namespace (veth pairs,
# a private bpffs per repetition); nothing on the host is touched and
# everything goes away on exit. Results: raw.tsv (one line per timed run),
# syscalls.tsv (BPF syscalls by command, from strace), progloads.tsv,
# plan.tsv, iflist.tsv, nofile.tsv, profile/, and results.md (the tables
# bench/README.md quotes; bench/summarize.py), printed at the end.
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) B=$BUILD ;; *) B=$ROOT/$BUILD ;; esac

QUICK=0
REPS=
SIZES=
OUT=
PROFILE=1
CNF_BIN=
CONTENDERS="cnf floor byhand"
NOOP_RUNS=${NOOP_RUNS:-5}      # no-op runs per repetition
GLOB='bv*'

usage() {
	# The comment at the top of this file.
	awk 'NR > 2 && /^#/ { sub(/^# ?/, ""); print; next } NR > 2 { exit }' "$0"
	exit "${1:-0}"
}

ARGS=("$@")
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--reps) REPS=${2:?}; shift ;;
	--sizes) SIZES=${2:?}; shift ;;
	--out) OUT=${2:?}; shift ;;
	--no-profile) PROFILE=0 ;;
	--cnf) CNF_BIN=${2:?}; shift ;;
	--contenders) CONTENDERS=${2:?}; shift ;;
	-h|--help) usage 0 ;;
	*) echo "run.sh: unknown option '$1'" >&2; usage 1 ;;
	esac
	shift
done
if [ -z "$SIZES" ]; then
	if [ "$QUICK" = 1 ]; then SIZES="10 100"; else SIZES="10 100 1000"; fi
fi
[ "$QUICK" = 1 ] && PROFILE=0

say() { printf '%s\n' "$*" >&2; }
die() { say "run.sh: $*"; exit 1; }

# ---- outside: build, check, enter the namespaces ---------------------------

if [ -z "${BENCH_INNER:-}" ]; then
	[ "$(id -u)" -eq 0 ] || die "needs root (network namespace, bpffs, BPF)"
	if [ -z "${BENCH_NO_BUILD:-}" ]; then
		make -s -C "$ROOT" BUILD="$BUILD" bench-bins || die "build failed"
	fi
	for c in unshare ip bpftool jq strace python3 mount umount; do
		command -v "$c" >/dev/null || die "missing command: $c (run scripts/setup.sh)"
	done
	for f in cnf-apply bench/floor bench/stopwatch bench/plan_bench \
		 tests/bpf/xdp_v1.bpf.o tests/bpf/xdp_v2.bpf.o tests/bpf/tc_v1.bpf.o tests/bpf/tc_v2.bpf.o; do
		[ -e "$B/$f" ] || die "missing $B/$f (make bench-bins)"
	done
	[ -z "$CNF_BIN" ] || [ -x "$CNF_BIN" ] || die "--cnf $CNF_BIN: not an executable"
	[ -n "$OUT" ] || OUT=$B/bench-results/$(date +%Y%m%d-%H%M%S)
	mkdir -p "$OUT" || die "cannot create $OUT"
	OUT=$(cd "$OUT" && pwd)
	# The inner run parses the same options again, with --out made absolute.
	export BENCH_INNER=1 B ROOT
	[ -z "$CNF_BIN" ] || ARGS+=(--cnf "$(realpath "$CNF_BIN")")
	exec unshare --net --mount --propagation private -- bash "$0" "${ARGS[@]}" --out "$OUT"
	die "cannot enter new namespaces (unshare -n -m)"
fi

# ---- inside the namespaces --------------------------------------------------

[ -n "$OUT" ] && [ -d "$OUT" ] || die "no results directory"
T=$(mktemp -d /tmp/cnf-bench.XXXXXX) || exit 1
cleanup() {
	mountpoint -q "$T/bpffs" 2>/dev/null && umount "$T/bpffs"
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

ip link set lo up

# A snapshot of the binaries and objects: a rebuild during the run (others
# work in this tree) cannot change what is measured halfway.
mkdir -p "$T/bin" "$T/objs" "$T/m/objs" "$T/bpffs" "$OUT/strace" "$OUT/log"
cp "${CNF_BIN:-$B/cnf-apply}" "$T/bin/cnf-apply"
cp "$B/bench/floor" "$B/bench/stopwatch" "$B/bench/plan_bench" "$T/bin/"
cp "$ROOT/bench/by-hand.sh" "$T/bin/"
for o in xdp_v1 xdp_v2 tc_v1 tc_v2; do cp "$B/tests/bpf/$o.bpf.o" "$T/objs/"; done
CNF=$T/bin/cnf-apply
FLOOR=$T/bin/floor
SW=$T/bin/stopwatch
BYHAND=$T/bin/by-hand.sh
M=$T/m/bench.yaml
MOBJ=$T/m/objs

cat >"$M" <<EOF
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
    interface: "$GLOB"
  - name: count
    program: tc/tc_main
    hook: tcx
    interface: "$GLOB"
    direction: ingress
EOF

{
	printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
	printf 'kernel\t%s\n' "$(uname -r)"
	printf 'binary\t%s\n' "${CNF_BIN:-$B/cnf-apply}"
	printf 'commit\t%s\n' "${BENCH_COMMIT:-$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)}"
	printf 'binary_sha256\t%s\n' "$(sha256sum "$T/bin/cnf-apply" | cut -c1-12)"
	printf 'tree\t%s\n' "$(git -C "$ROOT" diff HEAD -- src include 2>/dev/null | sha256sum | cut -c1-12)"
	printf 'cpus\t%s\n' "$(nproc)"
	printf 'cpu\t%s\n' "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
	printf 'loadavg\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf 'libbpf\t%s\n' "$(pkg-config --modversion libbpf 2>/dev/null || echo ?)"
	printf 'bpftool\t%s\n' "$(bpftool version 2>/dev/null | head -1)"
	printf 'iproute2\t%s\n' "$(ip -V 2>/dev/null)"
	printf 'sizes\t%s\n' "$SIZES"
	printf 'noop_runs\t%s\n' "$NOOP_RUNS"
} >"$OUT/meta.tsv"
printf 'n\tcontender\tscenario\trep\twall_us\tmaxrss_kib\tuser_us\tsys_us\n' >"$OUT/raw.tsv"
printf 'n\tcontender\tscenario\tcommand\tcount\n' >"$OUT/syscalls.tsv"
printf 'n\tcontender\tscenario\tprogram\tloads\n' >"$OUT/progloads.tsv"

# ---- helpers ----------------------------------------------------------------

veths_create() {
	local n=$1 i

	for ((i = 0; i < n / 2; i++)); do
		echo "link add bv${i}a type veth peer name bv${i}b"
	done >"$T/batch"
	ip -batch "$T/batch" || die "creating $n veth interfaces failed"
}

veths_delete() {
	ip -o link show | awk -F': ' '{ print $2 }' | cut -d@ -f1 |
		grep '^bv.*a$' | sed 's/^/link del /' >"$T/batch"
	[ -s "$T/batch" ] && ip -batch "$T/batch"
	return 0
}

# A new, empty bpffs instance for every cycle: "fresh" means no state at all
# (cnf-apply also pays for loading and pinning its link iterator then).
bpffs_fresh() {
	mountpoint -q "$T/bpffs" && umount "$T/bpffs"
	mount -t bpf -o mode=0700 bpf "$T/bpffs" || die "cannot mount bpffs"
}

objs_version() {
	# cp writes over the same path (same inode, new content and mtime),
	# as a package upgrade or a CI artefact copy does.
	cp "$T/objs/xdp_$1.bpf.o" "$MOBJ/xdp.bpf.o"
	cp "$T/objs/tc_$1.bpf.o" "$MOBJ/tc.bpf.o"
}

# The command line of one contender in one scenario.
cmd_of() {
	local who=$1 what=$2

	case $who/$what in
	cnf/fresh|cnf/noop|cnf/rollout) echo "$CNF --bpffs $T/bpffs/cnf apply $M" ;;
	cnf/noop-noiter) echo "$CNF --bpffs $T/bpffs/cnf --no-iter apply $M" ;;
	cnf/destroy) echo "$CNF --bpffs $T/bpffs/cnf destroy $M" ;;
	floor/fresh) echo "$FLOOR apply --bpffs $T/bpffs --glob $GLOB --xdp $MOBJ/xdp.bpf.o --tc $MOBJ/tc.bpf.o" ;;
	floor/noop) echo "$FLOOR verify --bpffs $T/bpffs --glob $GLOB --xdp $MOBJ/xdp.bpf.o --tc $MOBJ/tc.bpf.o" ;;
	floor/rollout) echo "$FLOOR rollout --bpffs $T/bpffs --xdp $MOBJ/xdp.bpf.o --tc $MOBJ/tc.bpf.o" ;;
	floor/destroy) echo "$FLOOR destroy --bpffs $T/bpffs" ;;
	byhand/fresh) echo "$BYHAND apply $T/bpffs/byhand $MOBJ $GLOB" ;;
	byhand/noop) echo "$BYHAND check $T/bpffs/byhand $MOBJ $GLOB" ;;
	byhand/rollout) echo "$BYHAND rollout $T/bpffs/byhand $MOBJ $GLOB" ;;
	byhand/destroy) echo "$BYHAND destroy $T/bpffs/byhand $MOBJ $GLOB" ;;
	*) die "no command for $who/$what" ;;
	esac
}

# Runs one timed scenario; appends its line to raw.tsv.
timed() {
	local n=$1 who=$2 what=$3 rep=$4 wall rss user sys
	# shellcheck disable=SC2046 # the command line is split on purpose
	if ! "$SW" -o "$T/sw" -- $(cmd_of "$who" "$what") >"$T/stdout" 2>"$T/stderr"; then
		say "run.sh: $who $what (N=$n, repetition $rep) failed:"
		cat "$T/stderr" >&2
		exit 1
	fi
	# stopwatch: wall_us maxrss_kib status user_us sys_us
	read -r wall rss _ user sys <"$T/sw"
	rm -f "$T/sw"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$who" "$what" "$rep" \
		"$wall" "$rss" "$user" "$sys" >>"$OUT/raw.tsv"
}

# Runs one scenario under strace; records BPF syscalls by command, and the
# programs BPF_PROG_LOAD loaded, by name (feature probes load small, mostly
# unnamed programs; unnamed ones are counted as "(probe)").
straced() {
	local n=$1 who=$2 what=$3 f
	f=$OUT/strace/$who-$what-$n.txt
	# shellcheck disable=SC2046
	strace -f -qq -e trace=bpf -o "$f" $(cmd_of "$who" "$what") >/dev/null 2>"$T/stderr" ||
		{ cat "$T/stderr" >&2; die "$who $what under strace failed"; }
	grep -o 'bpf(BPF_[A-Z_]*' "$f" | sed 's/^bpf(//' | sort | uniq -c |
		awk -v n="$n" -v w="$who" -v s="$what" '{ printf "%s\t%s\t%s\t%s\t%s\n", n, w, s, $2, $1 }' \
		>>"$OUT/syscalls.tsv"
	grep 'bpf(BPF_PROG_LOAD' "$f" | grep -v '= -1' |
		awk '{ if (match($0, /prog_name="[^"]*"/)) print substr($0, RSTART + 11, RLENGTH - 12); else print "" }' |
		sed 's/^$/(probe)/' | sort | uniq -c |
		awk -v n="$n" -v w="$who" -v s="$what" '{ printf "%s\t%s\t%s\t%s\t%s\n", n, w, s, $2, $1 }' \
		>>"$OUT/progloads.tsv"
}

# The independent oracle: what bpftool sees on the bv* interfaces.
# Prints "<xdp count> <tcx ingress count> <xdp prog ids> <tcx prog ids>".
oracle() {
	bpftool -j net | jq -r '
		.[0] as $n
		| ($n.xdp | map(select(.devname | startswith("bv")))) as $x
		| ($n.tc | map(select(.kind == "tcx/ingress" and (.devname | startswith("bv"))))) as $t
		| "\($x | length) \($t | length) \($x | map(.id) | unique | join(",")) \($t | map(.prog_id) | unique | join(","))"'
}

expect_state() {
	local n=$1 who=$2 stage=$3 want=$4 got
	got=$(oracle)
	if ! [[ $got =~ $want ]]; then
		die "$who after $stage (N=$n): bpftool shows '$got', expected /$want/"
	fi
	echo "$got"
}

# One full cycle for one contender: fresh, no-op(s), rollout, destroy.
# mode: timed (the measured repetitions) or straced (one more, under strace).
cycle() {
	local n=$1 who=$2 rep=$3 mode=${4:-timed} before after i
	local -a old new

	bpffs_fresh
	objs_version v1
	$mode "$n" "$who" fresh "$rep"
	before=$(expect_state "$n" "$who" fresh "^$n $n [0-9]+ [0-9]+$")
	for ((i = 0; i < NOOP_RUNS; i++)); do
		$mode "$n" "$who" noop "$rep"
		[ "$mode" = straced ] && break
	done
	if [ "$who" = cnf ]; then
		# The same no-op, reading links with BPF_LINK_GET_NEXT_ID.
		for ((i = 0; i < NOOP_RUNS; i++)); do
			$mode "$n" cnf noop-noiter "$rep"
			[ "$mode" = straced ] && break
		done
	fi
	expect_state "$n" "$who" noop "^$before\$" >/dev/null
	objs_version v2
	$mode "$n" "$who" rollout "$rep"
	after=$(expect_state "$n" "$who" rollout "^$n $n [0-9]+ [0-9]+$")
	read -r -a old <<<"$before"
	read -r -a new <<<"$after"
	[ "${old[2]}" != "${new[2]}" ] && [ "${old[3]}" != "${new[3]}" ] ||
		die "$who rollout (N=$n): the programs did not change ($before -> $after)"
	$mode "$n" "$who" destroy "$rep"
	expect_state "$n" "$who" destroy "^0 0  $" >/dev/null
	# Nothing may be left pinned by the contender (cnf-apply keeps its
	# link iterator under _cnf/ by design: destroy without --all leaves it).
	if find "$T/bpffs" -mindepth 1 ! -path "$T/bpffs/cnf" ! -path "$T/bpffs/cnf/_cnf*" \
		! -name '*.debug' | grep -q .; then
		find "$T/bpffs" -mindepth 1 >&2
		die "$who destroy (N=$n) left pins behind"
	fi
}

# Services and login shells start with a soft limit of 1024 open files
# (systemd's default, LimitNOFILE=1024:524288). One fresh apply of 2N
# attachments with that limit: does the tool cope? (untimed)
nofile_check() {
	local n=$1 rc

	say "   fresh apply under 'ulimit -n 1024' (the usual soft limit)"
	bpffs_fresh
	objs_version v1
	(ulimit -S -n 1024 && exec "$CNF" --bpffs "$T/bpffs/cnf" apply "$M") \
		>"$T/stdout" 2>"$T/stderr"
	rc=$?
	printf 'n\tsoft_limit\texit\tmessage\n%s\t1024\t%s\t%s\n' "$n" "$rc" \
		"$(grep -m1 'error' "$T/stderr" | tr '\t' ' ')" >"$OUT/nofile.tsv"
	if [ "$rc" = 0 ]; then
		expect_state "$n" cnf "fresh (ulimit -n 1024)" "^$n $n " >/dev/null
		"$CNF" --bpffs "$T/bpffs/cnf" destroy "$M" >/dev/null || die "destroy after the limit check failed"
	fi
	expect_state "$n" cnf "the limit check" "^0 0  $" >/dev/null
}

# ---- the runs ---------------------------------------------------------------

read -r -a contenders <<<"$CONTENDERS"
max_n=0
for n in $SIZES; do
	[ "$n" -gt "$max_n" ] && max_n=$n
	reps=${REPS:-$([ "$n" -ge 1000 ] && echo 3 || echo 5)}
	say "== N=$n interfaces ($((2 * n)) attachments), $reps repetitions"
	veths_delete
	veths_create "$n"
	for ((rep = 1; rep <= reps; rep++)); do
		for ((k = 0; k < ${#contenders[@]}; k++)); do
			# Rotate the order, so slow drift of the machine spreads evenly.
			who=${contenders[$(((k + rep) % ${#contenders[@]}))]}
			say "   repetition $rep/$reps: $who"
			cycle "$n" "$who" "$rep"
		done
	done
	say "   BPF syscalls by command (strace, one more cycle each)"
	for who in "${contenders[@]}"; do
		[ "$who" = byhand ] || cycle "$n" "$who" 0 straced
	done
	if [ "$n" = "$max_n" ]; then
		"$FLOOR" iflist --glob '*' --reps 21 >"$OUT/iflist.tsv" 2>&1
		[ "$n" -ge 1000 ] && [[ " $CONTENDERS " == *" cnf "* ]] && nofile_check "$n"
	fi
done

# The target's own size: no-op apply with exactly 1,000 managed attachments.
if [ "$QUICK" = 0 ] && [[ " $CONTENDERS " == *" cnf "* ]]; then
	n=500
	say "== no-op target: N=$n interfaces (1000 attachments)"
	veths_delete
	veths_create $n
	bpffs_fresh
	objs_version v1
	"$CNF" --bpffs "$T/bpffs/cnf" apply "$M" >/dev/null || die "apply (N=$n) failed"
	expect_state $n cnf fresh "^$n $n " >/dev/null
	for ((i = 1; i <= 21; i++)); do
		timed $n cnf noop "$i"
		timed $n cnf noop-noiter "$i"
	done
	straced $n cnf noop
	if [ "$PROFILE" = 1 ]; then
		say "   profiling the no-op"
		BENCH_T=$T CNF=$CNF M=$M OUT=$OUT bash "$ROOT/bench/profile.sh" "$T/bpffs/cnf" \
			>"$OUT/log/profile.log" 2>&1 || say "   (profile incomplete: see $OUT/log/profile.log)"
	fi
	"$CNF" --bpffs "$T/bpffs/cnf" destroy "$M" >/dev/null || die "destroy (N=$n) failed"
fi
veths_delete

say "== planner: plan_build() against a synthetic observed state"
printf 'n\tcase\tcold_us\twarm_median_us\twarm_min_us\twarm_max_us\twarm_ns_per_instance\tinput_bytes\tplan_bytes\tpeak_rss_delta_kib\n' \
	>"$OUT/plan.tsv"
for n in 10 100 1000 10000; do
	for c in noop rollout fresh anchored; do
		"$T/bin/plan_bench" --reps 21 --case $c $n >>"$OUT/plan.tsv" || die "plan_bench failed"
	done
done

python3 "$ROOT/bench/summarize.py" "$OUT" >"$OUT/results.md" || die "summarize failed"
cat "$OUT/results.md"
say "results in $OUT"
