#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# One program per attachment program: a target that appears after an
# apply (a new interface matching a glob, a recreated interface, another
# cgroup for the same program) gets the program the in-sync instances
# already run, not a second copy with maps of its own. Checked through
# --json, bpftool (net, link, prog, cgroup), tc and the bpf(2) calls made.
. "$(dirname "$0")/lib.sh"
lib_setup "$@"

# write_glob FILE HOOK [KEY: VALUE]...: manifest `m`, object `o`
# (objs/xdp.bpf.o for xdp, objs/tc.bpf.o otherwise), attachment `a` on
# every interface matching "sa*".
write_glob() {
	local file=$1 hook=$2 kv obj prog
	shift 2
	case "$hook" in
	xdp) obj=xdp prog=xdp_main ;;
	*) obj=tc prog=tc_main ;;
	esac
	[ -e "$W/objs/xdp.bpf.o" ] || cp "$W/objs/xdp_v1.bpf.o" "$W/objs/xdp.bpf.o"
	[ -e "$W/objs/tc.bpf.o" ] || cp "$W/objs/tc_v1.bpf.o" "$W/objs/tc.bpf.o"
	{
		cat <<EOF
apiVersion: cnf-apply/v1
name: m
objects:
  - name: o
    file: objs/$obj.bpf.o
attachments:
  - name: a
    program: o/$prog
    hook: $hook
    interface: "sa*"
EOF
		for kv; do
			echo "    $kv"
		done
	} >"$file"
}

# action_for JSON TARGET FIELD: FIELD of the action on TARGET.
action_for() {
	jq -r --arg t "$2" ".actions[] | select(.target == \$t) | .$3 // empty" <<<"$1"
}

# tc_prog_id DEV DIR: the program of the one bpf filter on DEV's DIR hook.
tc_prog_id() {
	tc_filters "$1" "$2" | jq -r '.[0].options.prog.id // empty'
}

test_new_interface_shares() {
	local pid0 lid1

	veth_add sa0 pb0
	write_glob "$W/m.yaml" xdp
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "first apply" || return
	pid0=$(action_for "$OUT" sa0 prog_id)
	assert_eq "$(xdp_prog_id sa0)" "$pid0" "bpftool net: sa0 runs the program apply reported"

	veth_add sa1 pb1
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan: a new interface is a change"
	assert_eq "$(action_for "$OUT" sa1 action)" create "plan: sa1 is created"
	assert_eq "$(action_for "$OUT" sa1 reuses_prog_id)" "$pid0" \
		"plan: sa1 gets the program sa0 runs"
	assert_eq "$(action_for "$OUT" sa0 action)" noop "plan: sa0 is in sync"
	cnf_run plan "$W/m.yaml"
	assert_contains "$OUT" "runs program $pid0, already running" "plan text says which program"

	if cnf_strace apply "$W/m.yaml"; then
		assert_rc 0 "apply under strace" || return
		assert_eq "$(bpf_calls BPF_PROG_LOAD xdp_main)" "" "no BPF_PROG_LOAD of xdp_main"
		assert_eq "$(bpf_calls BPF_MAP_CREATE)" "" "no map created"
	else
		cnf_json apply "$W/m.yaml"
		assert_rc 0 "apply" || return
	fi
	assert_eq "$(action_for "$OUT" sa1 prog_id)" "$pid0" "apply: sa1's link runs program $pid0"
	lid1=$(action_for "$OUT" sa1 link_id)
	assert_jq "$(link_json "$lid1")" ".type == \"xdp\" and .prog_id == $pid0" \
		"bpftool link: sa1's link runs the shared program"
	assert_eq "$(xdp_prog_id sa1)" "$pid0" "bpftool net: sa1 runs program $pid0"
	assert_eq "$(xdp_prog_id sa0)" "$pid0" "bpftool net: sa0 still runs program $pid0"
	assert_eq "$(pinned_link_id "$(pin_of m a sa1)")" "$lid1" "sa1's link is pinned"

	cnf_json status "$W/m.yaml"
	assert_rc 0 "status: in sync"
	assert_jq "$OUT" '[.attachments[] | .state] | unique == ["in-sync"]' "status: all in-sync"
	cnf_json plan "$W/m.yaml"
	assert_rc 0 "the next plan has nothing to do"

	# The program outlives one of its two links, and goes with the last.
	veth_add sa2 pb2
	sed -i 's/interface: "sa\*"/interfaces: [sa1]/' "$W/m.yaml"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply: sa0 leaves the manifest" || return
	assert_eq "$(action_for "$OUT" sa0 action)" delete "sa0's instance is deleted"
	assert_eq "$(xdp_prog_id sa0)" "" "bpftool net: nothing on sa0"
	assert_eq "$(xdp_prog_id sa1)" "$pid0" "bpftool net: sa1 still runs program $pid0"
	cnf_json destroy "$W/m.yaml"
	assert_rc 0 "destroy" || return
	prog_exists "$pid0" && _fail "program $pid0 outlived its last link"
	assert_eq "$(xdp_prog_id sa1)" "" "bpftool net: nothing on sa1"
}

test_recreated_interface_shares() {
	local pid lid_old

	veth_add sa0 pb0
	veth_add sa1 pb1
	write_glob "$W/m.yaml" xdp
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply on two interfaces" || return
	pid=$(action_for "$OUT" sa0 prog_id)
	assert_eq "$(action_for "$OUT" sa1 prog_id)" "$pid" "one load: both run program $pid"
	lid_old=$(action_for "$OUT" sa1 link_id)

	ip link del sa1
	veth_add sa1 pb1
	cnf_json status "$W/m.yaml"
	assert_jq "$OUT" '.attachments[] | select(.target == "sa1") | .state == "defunct"' \
		"status: sa1's old link is defunct"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply after the interface came back" || return
	assert_eq "$(action_for "$OUT" sa1 action)" create "sa1 is recreated"
	assert_eq "$(action_for "$OUT" sa1 reuses_prog_id)" "$pid" "with the program sa0 runs"
	assert_eq "$(xdp_prog_id sa1)" "$pid" "bpftool net: the new sa1 runs program $pid"
	link_exists "$lid_old" && _fail "the defunct link $lid_old is still there"
	assert_eq "$(xdp_prog_id sa0)" "$pid" "bpftool net: sa0 untouched"
}

# An object change and a new interface in one run: the object is loaded
# once, the in-sync instance is updated in place and the new one gets the
# same new program (not the old one).
test_new_object_loaded_once() {
	local old new

	veth_add sa0 pb0
	write_glob "$W/m.yaml" xdp
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "first apply" || return
	old=$(action_for "$OUT" sa0 prog_id)

	cp "$W/objs/xdp_v2.bpf.o" "$W/objs/xdp.bpf.o"
	veth_add sa1 pb1
	cnf_json plan "$W/m.yaml"
	assert_eq "$(action_for "$OUT" sa0 action)" update "plan: sa0 is updated in place"
	assert_eq "$(action_for "$OUT" sa1 reuses_prog_id)" "" "plan: sa1 shares nothing old"
	if cnf_strace apply "$W/m.yaml"; then
		assert_rc 0 "apply under strace" || return
		assert_eq "$(bpf_calls BPF_PROG_LOAD xdp_main | wc -l)" 1 "one BPF_PROG_LOAD of xdp_main"
	else
		cnf_json apply "$W/m.yaml"
		assert_rc 0 "apply" || return
	fi
	new=$(action_for "$OUT" sa0 prog_id)
	assert_ne "$new" "$old" "sa0 runs a new program"
	assert_eq "$(action_for "$OUT" sa1 prog_id)" "$new" "sa1 runs the same new program"
	assert_eq "$(xdp_prog_id sa0) $(xdp_prog_id sa1)" "$new $new" "bpftool net: both run $new"
}

test_tcx_and_tc_share() {
	local hook pid pid1

	for hook in tcx tc; do
		if [ "$hook" = tcx ] &&
			! "$CNF" probe --json | jq -e '.features.tcx' >/dev/null; then
			continue # the fallback to tc is the tc half
		fi
		veth_add sa0 pb0
		if [ "$hook" = tcx ]; then
			write_glob "$W/m.yaml" tcx "direction: ingress"
		else
			write_glob "$W/m.yaml" tc "direction: ingress" "priority: 5" "handle: 1"
		fi
		cnf_json apply "$W/m.yaml"
		assert_rc 0 "$hook: first apply" || return
		pid=$(action_for "$OUT" sa0 prog_id)
		veth_add sa1 pb1
		cnf_json apply "$W/m.yaml"
		assert_rc 0 "$hook: apply with a new interface" || return
		assert_eq "$(action_for "$OUT" sa1 reuses_prog_id)" "$pid" "$hook: sa1 shares program $pid"
		if [ "$hook" = tcx ]; then
			pid1=$(tcx_entries sa1 ingress | jq -r '.[0].prog_id // empty')
		else
			pid1=$(tc_prog_id sa1 ingress)
			assert_eq "$(pinned_prog_id "$(pin_of m a sa1)")" "$pid" \
				"tc: the program is pinned for sa1 too"
		fi
		assert_eq "$pid1" "$pid" "$hook: the kernel runs program $pid on sa1"
		cnf_json plan "$W/m.yaml"
		assert_rc 0 "$hook: nothing left to do"
		cnf_json destroy "$W/m.yaml"
		assert_rc 0 "$hook: destroy" || return
		ip link del sa0
		ip link del sa1
		rm -f "$W/m.yaml"
	done
}

# Another attachment of the same program, added later, shares it too: the
# same as if both had been in the manifest from the start.
test_cgroup_second_attachment_shares() {
	local pid a b

	a=$CG/a
	b=$CG/b
	mkdir "$a" "$b"
	cat >"$W/m.yaml" <<EOF
apiVersion: cnf-apply/v1
name: m
objects:
  - name: cg
    file: objs/cgroup_progs.bpf.o
attachments:
  - name: in-a
    program: cg/skb_ingress
    hook: cgroup
    cgroup: $a
EOF
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply on cgroup a" || return
	pid=$(jf "$OUT" '.actions[0].prog_id')
	cat >>"$W/m.yaml" <<EOF
  - name: in-b
    program: cg/skb_ingress
    hook: cgroup
    cgroup: $b
EOF
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply with cgroup b" || return
	assert_jq "$OUT" ".actions[] | select(.attachment == \"in-b\") |
		.action == \"create\" and .reuses_prog_id == $pid and .prog_id == $pid" \
		"in-b shares program $pid"
	assert_jq "$(cgroup_progs "$b")" "length == 1 and .[0].id == $pid" \
		"bpftool cgroup: cgroup b runs program $pid"
	assert_jq "$(cgroup_progs "$a")" "length == 1 and .[0].id == $pid" \
		"bpftool cgroup: cgroup a runs program $pid"
	cnf_json destroy "$W/m.yaml"
	assert_rc 0 "destroy" || return
	rmdir "$a" "$b"
}

# The program the plan chose to share is gone when apply opens it (strace
# fails that BPF_PROG_GET_FD_BY_ID with ENOENT, as if the program had
# gone): apply stops before touching anything and says to run it again;
# the next apply shares as usual.
test_shared_program_gone() {
	local pid n

	command -v strace >/dev/null || {
		t_skip "strace is missing"
		return
	}
	veth_add sa0 pb0
	write_glob "$W/m.yaml" xdp
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply on sa0" || return
	veth_add sa1 pb1
	# Which bpf() call opens the running program: a traced run of the
	# same change (the last such call before the first attach).
	pid=$(xdp_prog_id sa0)
	cnf_strace apply "$W/m.yaml"
	assert_rc 0 "traced apply" || return
	n=$(awk -v id="prog_id=$pid[,}]" '/bpf\(/ && !/resumed>/ { n++ }
		/BPF_LINK_CREATE/ { exit } /BPF_PROG_GET_FD_BY_ID/ && $0 ~ id { last = n }
		END { print last }' "$T/strace.log")
	[ -n "$n" ] || { _fail "no BPF_PROG_GET_FD_BY_ID of program $pid:"; _show "$(cat "$T/strace.log")"; return; }
	echo "  the running program is opened at bpf() call $n"

	# The same start again: sa1's instance removed, sa0 as it was.
	cnf_json destroy --all
	assert_rc 0 "destroy" || return
	umount "$T/bpffs" 2>/dev/null || umount -l "$T/bpffs"
	mount -t bpf -o mode=0700 bpf "$T/bpffs" || { _fail "remount the state root"; return; }
	ip link del sa1
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply on sa0 again" || return
	pid=$(xdp_prog_id sa0)
	veth_add sa1 pb1

	echo "\$ strace -e inject=bpf:error=ENOENT:when=$n cnf-apply --json apply $W/m.yaml"
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -qq -e trace=bpf -e inject=bpf:error=ENOENT:when="$n" -o "$T/inject.log" \
		"$CNF" --bpffs "$T/bpffs" --json apply "$W/m.yaml" >"$T/stdout" 2>"$T/stderr"
	RC=$?
	OUT=$(cat "$T/stdout")
	ERR=$(cat "$T/stderr")
	echo "  -> exit $RC"
	[ -n "$ERR" ] && { echo "  stderr:"; _show "$ERR"; }
	assert_match "$(grep -F "prog_id=$pid" "$T/inject.log" | grep BPF_PROG_GET_FD_BY_ID | tail -n 1)" \
		'ENOENT \(No such file or directory\) \(INJECTED\)' "strace: the open of program $pid was failed"
	assert_rc 1 "apply whose shared program is gone" || return
	assert_contains "$ERR" "program id $pid, which its in-sync instances ran when the plan was made, is gone" \
		"the error names the program"
	assert_contains "$ERR" "run apply again" "and says what to do"
	assert_eq "$(grep -c BPF_LINK_CREATE "$T/inject.log")" 0 "strace: nothing was attached"
	assert_eq "$(xdp_prog_id sa1)" "" "bpftool net: nothing on sa1"
	assert_eq "$(xdp_prog_id sa0)" "$pid" "bpftool net: sa0 untouched"

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply again" || return
	assert_eq "$(xdp_prog_id sa1)" "$pid" "bpftool net: sa1 runs program $pid"
}

run_test "a new interface runs the program already running" test_new_interface_shares
run_test "a recreated interface runs the program already running" test_recreated_interface_shares
run_test "a new object and a new interface: one load" test_new_object_loaded_once
run_test "tcx and tc share the running program" test_tcx_and_tc_share
run_test "a second cgroup attachment shares the program" test_cgroup_second_attachment_shares
run_test "a shared program gone before apply opens it stops the run" test_shared_program_gone
