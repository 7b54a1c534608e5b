#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Apply as a transaction: a kernel operation failing half-way rolls the
# run back; a run killed at any BPF call leaves state that the next run
# converges, with nothing leaked; concurrent runs serialise on a lock.
. "$(dirname "$0")/lib.sh"
lib_setup "$@"

# v1: xdp x0 (native), tcx x0 ingress, tc x0 egress, tcx x1 egress.
write_v1() {
	cat >"$W/m.yaml" <<EOF
apiVersion: cnf-apply/v1
name: m
objects:
  - name: x
    file: objs/xdp.bpf.o
  - name: t
    file: objs/tc_v1.bpf.o
attachments:
  - name: fw
    program: x/xdp_main
    hook: xdp
    interface: x0
    mode: native
  - name: count
    program: t/tc_main
    hook: tcx
    interface: x0
    direction: ingress
  - name: legacy
    program: t/tc_second
    hook: tc
    interface: x0
    direction: egress
  - name: gone
    program: t/tc_third
    hook: tcx
    interface: x1
    direction: egress
EOF
}

# v2 changes every kind of thing: the xdp object (swapped by the caller)
# and its mode (a break-before-make replacement), the tcx direction (a
# make-before-break replacement), the legacy tc program (a replacement at
# the same place), a new tcx attachment, a deleted one; $1 is appended
# (an attachment that passes the checks but fails to attach).
write_v2() {
	cat >"$W/m.yaml" <<EOF
apiVersion: cnf-apply/v1
name: m
objects:
  - name: x
    file: objs/xdp.bpf.o
  - name: t
    file: objs/tc_v1.bpf.o
attachments:
  - name: fw
    program: x/xdp_main
    hook: xdp
    interface: x0
    mode: generic
  - name: count
    program: t/tc_main
    hook: tcx
    interface: x0
    direction: egress
  - name: legacy
    program: t/tc_third
    hook: tc
    interface: x0
    direction: egress
  - name: more
    program: t/tc_second
    hook: tcx
    interface: x1
    direction: ingress
$1
EOF
}

# What is attached, independent of ids: hook, device, program name.
hooks_view() {
	{
		net_json | jq -r '.[0].xdp[]? | "xdp \(.devname) \(.mode) \(.name // "")"'
		net_json | jq -r '.[0].tc[]? | "\(.kind) \(.devname) \(.name)"'
		local d dir
		for d in x0 x1; do
			for dir in ingress egress; do
				tc_filters "$d" "$dir" | jq -r --arg d "$d" --arg r "$dir" \
					'.[] | "tc \($d) \($r) \(.options.bpf_name // "?")"'
			done
		done
	} | sed 's/:\[[0-9]*\]//' | sort
}

# Nothing leaked: what is attached in the test namespace (bpftool net, tc)
# is exactly what the pins under the state root hold -- tcx links by link
# id, XDP by the program its link runs, legacy tc by the pinned program --
# and every pin refers to something attached. (Programs and links are
# host-wide and other tools may load theirs meanwhile; leaked attachments
# would show in the namespace, leaked pins under the root.)
assert_no_leaks() {
	local attached pinned p t d dir
	attached=$({
		net_json | jq -r '.[0].xdp[]? | "xdp \(.id)"'
		net_json | jq -r '.[0].tc[]? | select(.kind | startswith("tcx/")) | "tcx \(.link_id)"'
		for d in x0 x1; do
			for dir in ingress egress; do
				tc_filters "$d" "$dir" | jq -r '.[].options.prog.id // empty | "tc \(.)"'
			done
		done
	} | sort)
	pinned=$(find "$T/bpffs" -path '*/links/*' -type f | while read -r p; do
		t=$(bt link show pinned "$p" | jq -r '.type // empty')
		case $t in
		xdp) echo "xdp $(bt link show pinned "$p" | jq -r .prog_id)" ;;
		tcx) echo "tcx $(bt link show pinned "$p" | jq -r .id)" ;;
		"") echo "tc $(bt prog show pinned "$p" | jq -r '.id // "none"')" ;;
		*) echo "$t ?" ;;
		esac
	done | sort)
	assert_eq "$pinned" "$attached" "$1: the pins and what is attached are the same"
}

setup_ifaces() {
	veth_add x0 x0p
	veth_add x1 x1p
	cp "$W/objs/xdp_v1.bpf.o" "$W/objs/xdp.bpf.o"
}

test_rollback() {
	local v1view

	setup_ifaces
	write_v1
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v1" || return
	v1view=$(hooks_view)

	# Everything in v2 passes the checks; then, once checked, another
	# tool takes x1's XDP hook: the last attachment fails in the kernel,
	# after the others were made.
	cp "$W/objs/xdp_v2.bpf.o" "$W/objs/xdp.bpf.o"
	write_v2 "  - name: off
    program: x/xdp_main
    hook: xdp
    interface: x1"
	CNF_ARGS="apply $W/m.yaml" cnf_paused checked \
		ip link set dev x1 xdpgeneric obj "$W/objs/foreign.bpf.o" sec xdp || return
	ip link set dev x1 xdpgeneric off
	assert_rc 1 "apply v2 with a failing attach"
	assert_contains "$ERR" "rolled back" "the error says the run was rolled back"
	assert_not_contains "$ERR" "could not" "nothing failed to roll back"
	assert_eq "$(hooks_view)" "$v1view" "bpftool/tc: the hooks are as before the run"

	# Back on v1, the tool sees no difference.
	cp "$W/objs/xdp_v1.bpf.o" "$W/objs/xdp.bpf.o"
	write_v1
	cnf_json plan "$W/m.yaml"
	assert_rc 0 "plan v1 after the rollback: nothing to do"
	assert_no_leaks "after the rollback"
}

# kill_points SYSCALL: kills the v1 -> v2 apply at each call of SYSCALL
# in turn (strace's fault injection), then checks that one more apply
# reaches the state a clean v2 apply reaches, with nothing leaked.
# Sets KILLED and TOTAL.
kill_points() {
	local sc=$1 n v2view

	"$CNF" --bpffs "$T/bpffs" destroy --all >/dev/null 2>&1
	cp "$W/objs/xdp_v1.bpf.o" "$W/objs/xdp.bpf.o"
	write_v1
	"$CNF" --bpffs "$T/bpffs" apply "$W/m.yaml" >/dev/null 2>&1
	cp "$W/objs/xdp_v2.bpf.o" "$W/objs/xdp.bpf.o"
	write_v2 ""
	ASAN_OPTIONS=detect_leaks=0 strace -f -qq -e trace="$sc" -o "$T/count.log" \
		"$CNF" --bpffs "$T/bpffs" apply "$W/m.yaml" >/dev/null 2>&1
	TOTAL=$(grep -c "^[0-9]* *$sc(" "$T/count.log")
	KILLED=0
	[ "$TOTAL" -gt 0 ] || return 0  # a call this apply does not make
	v2view=$(hooks_view)
	"$CNF" --bpffs "$T/bpffs" destroy --all >/dev/null 2>&1

	for n in $(seq 1 "$TOTAL"); do
		cp "$W/objs/xdp_v1.bpf.o" "$W/objs/xdp.bpf.o"
		write_v1
		"$CNF" --bpffs "$T/bpffs" apply "$W/m.yaml" >"$T/v1.out" 2>&1 || {
			_fail "$sc kill point $n: apply v1 failed"
			_show "$(cat "$T/v1.out")"
			return 1
		}
		cp "$W/objs/xdp_v2.bpf.o" "$W/objs/xdp.bpf.o"
		write_v2 ""
		( ASAN_OPTIONS=detect_leaks=0 exec strace -f -qq -o /dev/null -e trace="$sc" \
			-e inject="$sc":signal=KILL:when="$n" \
			"$CNF" --bpffs "$T/bpffs" apply "$W/m.yaml" >/dev/null 2>&1 ) 2>/dev/null
		[ $? -eq 137 ] && KILLED=$((KILLED + 1))
		if ! "$CNF" --bpffs "$T/bpffs" apply "$W/m.yaml" >"$T/again.out" 2>&1; then
			_fail "$sc kill point $n: the next apply failed"
			_show "$(cat "$T/again.out")"
			return 1
		fi
		cnf_json plan "$W/m.yaml" >/dev/null
		if [ "$RC" != 0 ]; then
			_fail "$sc kill point $n: plan after recovery still finds changes"
			_show "$OUT"
			return 1
		fi
		if [ "$(hooks_view)" != "$v2view" ]; then
			_fail "$sc kill point $n: the hooks differ from a clean v2 apply"
			diff <(echo "$v2view") <(hooks_view) | sed 's/^/      /'
			return 1
		fi
		assert_no_leaks "$sc kill point $n" >/dev/null || {
			assert_no_leaks "$sc kill point $n"
			return 1
		}
		"$CNF" --bpffs "$T/bpffs" destroy --all >/dev/null 2>&1
	done
	assert_ne "$KILLED" 0 "some runs were killed at $sc"
}

test_crash_points() {
	local sc all=0 killed=0

	command -v strace >/dev/null || {
		t_skip "strace is missing"
		return
	}
	setup_ifaces
	# Every bpf call (loads, link create/update/detach, pins, records), and
	# the file system calls that move and remove pins (under the state
	# root, from a directory's descriptor: renameat, unlinkat).
	for sc in bpf rename renameat unlink unlinkat; do
		kill_points "$sc" || return
		all=$((all + TOTAL))
		killed=$((killed + KILLED))
	done
	echo "    kill points covered: $killed (bpf, rename(at) and unlink(at) calls of a v1 -> v2 apply)" >&3
}

test_concurrent_runs() {
	local i pids=() rc=0

	setup_ifaces
	write_v1
	for i in 1 2 3 4 5 6; do
		"$CNF" --bpffs "$T/bpffs" apply "$W/m.yaml" >"$T/c$i.out" 2>&1 &
		pids+=($!)
		"$CNF" --bpffs "$T/bpffs" plan "$W/m.yaml" >/dev/null 2>&1 &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i"
		case $? in 0 | 2) ;; *) rc=1 ;; esac
	done
	assert_eq "$rc" 0 "concurrent apply and plan runs all succeeded"
	cnf_json plan "$W/m.yaml"
	assert_rc 0 "after concurrent applies: nothing to do"
	assert_eq "$(net_json | jq '[.[0].tc[] | select(.kind == "tcx/ingress")] | length')" 1 \
		"bpftool net: one tcx program, not one per run"
	assert_no_leaks "after concurrent applies"
	for i in 1 2 3; do
		"$CNF" --bpffs "$T/bpffs" destroy "$W/m.yaml" >/dev/null 2>&1 &
		pids=($!)
		"$CNF" --bpffs "$T/bpffs" apply "$W/m.yaml" >/dev/null 2>&1 &
		pids+=($!)
		wait "${pids[@]}"
	done
	"$CNF" --bpffs "$T/bpffs" apply "$W/m.yaml" >/dev/null 2>&1
	cnf_json plan "$W/m.yaml"
	assert_rc 0 "after racing destroy and apply, one more apply converges"
	assert_no_leaks "after racing destroy and apply"
}

test_lock_wait() {
	local t0 t1

	setup_ifaces
	write_v1
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	# Hold the state root's lock as another run would.
	flock -x "$T/bpffs" sleep 4 &
	sleep 0.5
	cnf_json --no-wait apply "$W/m.yaml"
	assert_rc 1 "--no-wait while another run holds the lock"
	assert_contains "$ERR" "another cnf-apply run" "the error names the cause"
	t0=$(date +%s%N)
	cnf_json --wait 1 plan "$W/m.yaml"
	t1=$(date +%s%N)
	assert_rc 1 "--wait 1 while the lock is held longer"
	# It waited the whole second, not until the clock's next whole second.
	assert_ok "--wait 1 gave up after $(((t1 - t0) / 1000000)) ms, not before 1000" \
		test $(((t1 - t0) / 1000000)) -ge 1000
	wait
	cnf_json --wait 5 plan "$W/m.yaml"
	assert_rc 0 "the lock released: plan runs"
}

run_test "a failing attach rolls the whole run back" test_rollback
run_test "killed at any bpf call, the next apply converges" test_crash_points
run_test "concurrent apply, plan and destroy runs serialise" test_concurrent_runs
run_test "lock: --no-wait and --wait" test_lock_wait
