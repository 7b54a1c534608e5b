#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# tcx attachments: ingress and egress, ordering (first/last/before/after),
# update in place inside a chain, the legacy tc fallback, and a hook
# changed by someone else while the tool attaches to it.
. "$(dirname "$0")/lib.sh"
lib_setup "$@"

DRIFT_TOOL=${BUILD:-build}/tests/tools/drift_tool
case $DRIFT_TOOL in /*) ;; *) DRIFT_TOOL=$(realpath "$DRIFT_TOOL") ;; esac

# The tcx programs of DEV DIR as "name:link_id" in run order.
tcx_chain() {
	tcx_entries "$1" "$2" | jq -r '[.[] | "\(.name):\(.link_id)"] | join(" ")'
}

test_ingress_egress() {
	local in_lid in_pid out_lid

	veth_add c0 c0p
	cat >"$W/m.yaml" <<EOF
apiVersion: cnf-apply/v1
name: m
objects:
  - name: o
    file: objs/tc_v1.bpf.o
attachments:
  - name: in
    program: o/tc_main
    hook: tcx
    interface: c0
    direction: ingress
  - name: out
    program: o/tc_second
    hook: tcx
    interface: c0
    direction: egress
EOF
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan"
	assert_jq "$OUT" 'all(.actions[]; .action == "create" and .via == "tcx" and .hook == "tcx")' \
		"plan: two creates via tcx"

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	in_lid=$(jf "$OUT" '.actions[] | select(.attachment == "in") | .link_id')
	in_pid=$(jf "$OUT" '.actions[] | select(.attachment == "in") | .prog_id')
	out_lid=$(jf "$OUT" '.actions[] | select(.attachment == "out") | .link_id')

	assert_eq "$(tcx_chain c0 ingress)" "tc_main:$in_lid" "bpftool net: c0 ingress runs tc_main on our link"
	assert_eq "$(tcx_chain c0 egress)" "tc_second:$out_lid" "bpftool net: c0 egress runs tc_second on our link"
	assert_jq "$(link_json "$in_lid")" ".type == \"tcx\" and .attach_type == \"tcx_ingress\" and .prog_id == $in_pid" \
		"bpftool link: tcx ingress link"
	assert_jq "$(link_json "$out_lid")" '.type == "tcx" and .attach_type == "tcx_egress"' \
		"bpftool link: tcx egress link"
	assert_eq "$(pinned_link_id "$(pin_of m in c0)")" "$in_lid" "ingress link pinned"
	assert_eq "$(pinned_link_id "$(pin_of m out c0)")" "$out_lid" "egress link pinned"
	assert_eq "$(tc_filters c0 ingress)" "[]" "no legacy tc filter"

	cnf_json apply "$W/m.yaml"
	assert_jq "$OUT" '.changed == false' "second apply: nothing to do"
	assert_eq "$(tcx_chain c0 ingress)" "tc_main:$in_lid" "chain unchanged"
}

test_ordering() {
	veth_add c0 c0p
	veth_add c1 c1p
	# Written out of order: the planner must create anchors first.
	cat >"$W/m.yaml" <<EOF
apiVersion: cnf-apply/v1
name: m
objects:
  - name: o
    file: objs/tc_v1.bpf.o
attachments:
  - name: mid
    program: o/tc_second
    hook: tcx
    interface: c0
    direction: ingress
    after: head
  - name: tail
    program: o/tc_third
    hook: tcx
    interface: c0
    direction: ingress
    order: last
  - name: head
    program: o/tc_main
    hook: tcx
    interface: c0
    direction: ingress
    order: first
  - name: b-anchor
    program: o/tc_main
    hook: tcx
    interface: c1
    direction: ingress
    order: last
  - name: b-before
    program: o/tc_third
    hook: tcx
    interface: c1
    direction: ingress
    before: b-anchor
EOF
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply the chains" || return
	assert_eq "$(tcx_names c0 ingress)" "tc_main tc_second tc_third" "bpftool net: c0 first, after, last"
	assert_eq "$(tcx_names c1 ingress)" "tc_third tc_main" "bpftool net: c1 before"
	assert_jq "$(tcx_entries c0 ingress)" \
		"[.[].link_id] == $(jq -c '[.actions[] | select(.target == "c0")] |
			[(.[] | select(.attachment == "head")), (.[] | select(.attachment == "mid")),
			 (.[] | select(.attachment == "tail"))] | [.[].link_id]' <<<"$OUT")" \
		"bpftool net: the chain's links are the ones apply reported"

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "second apply"
	assert_jq "$OUT" '.changed == false' "second apply: nothing to do"
	assert_eq "$(tcx_names c0 ingress)" "tc_main tc_second tc_third" "order kept"
}

# An unordered attachment on a hook where another manifest's attachment
# is `order: last` goes before it, in the run that creates both and in a
# later one: the next plan is a no-op (found by the property test, seed 166).
test_unordered_before_last() {
	local tail_lid

	veth_add c0 c0p
	cat >"$W/a.yaml" <<EOF
apiVersion: cnf-apply/v1
name: a
objects:
  - name: o
    file: objs/tc_v1.bpf.o
attachments:
  - name: tail
    program: o/tc_second
    hook: tcx
    interface: c0
    direction: ingress
    order: last
EOF
	cat >"$W/b.yaml" <<EOF
apiVersion: cnf-apply/v1
name: b
objects:
  - name: o
    file: objs/tc_v1.bpf.o
attachments:
  - name: any
    program: o/tc_third
    hook: tcx
    interface: "c*"
    direction: ingress
EOF
	mkdir "$W/d" && cp "$W/a.yaml" "$W/b.yaml" "$W/d/" && ln -s "$W/objs" "$W/d/objs"
	cnf_json apply "$W/d"
	assert_rc 0 "apply both" || return
	assert_eq "$(tcx_names c0 ingress)" "tc_third tc_second" "bpftool net: the last one last"
	cnf_json plan "$W/d"
	assert_rc 0 "the next plan is a no-op"
	# The last one first, the unordered one in a later run.
	cnf_json destroy "$W/d"
	cnf_json apply "$W/d/a.yaml"
	assert_rc 0 "apply a" || return
	tail_lid=$(tcx_entries c0 ingress | jq '.[0].link_id')
	cnf_json apply "$W/d"
	assert_rc 0 "apply both"
	assert_jq "$OUT" '[.actions[] | select(.action != "noop") | .attachment] | unique == ["any"]' \
		"only the new attachment is created"
	assert_eq "$(tcx_names c0 ingress)" "tc_third tc_second" "bpftool net: inserted before the last one"
	assert_eq "$(tcx_entries c0 ingress | jq '.[1].link_id')" "$tail_lid" "the last one's link stays"
	cnf_json plan "$W/d"
	assert_rc 0 "the next plan is a no-op"
}

test_update_in_chain() {
	local head_lid mid_lid head_pid newpid

	veth_add c0 c0p
	cp "$W/objs/tc_v1.bpf.o" "$W/objs/a.bpf.o"
	cp "$W/objs/tc_v1.bpf.o" "$W/objs/b.bpf.o"
	cat >"$W/m.yaml" <<EOF
apiVersion: cnf-apply/v1
name: m
objects:
  - name: a
    file: objs/a.bpf.o
  - name: b
    file: objs/b.bpf.o
attachments:
  - name: head
    program: a/tc_main
    hook: tcx
    interface: c0
    direction: ingress
    order: first
  - name: mid
    program: b/tc_second
    hook: tcx
    interface: c0
    direction: ingress
    after: head
EOF
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v1" || return
	head_lid=$(jf "$OUT" '.actions[] | select(.attachment == "head") | .link_id')
	head_pid=$(jf "$OUT" '.actions[] | select(.attachment == "head") | .prog_id')
	mid_lid=$(jf "$OUT" '.actions[] | select(.attachment == "mid") | .link_id')

	cp "$W/objs/tc_v2.bpf.o" "$W/objs/a.bpf.o"
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan sees the new program"
	assert_jq "$OUT" '.actions[] | select(.attachment == "head") | .action == "update" and .strategy == "in-place"' \
		"plan: head updated in place"
	assert_jq "$OUT" '.actions[] | select(.attachment == "mid") | .action == "noop"' "plan: mid untouched"

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v2" || return
	newpid=$(jf "$OUT" '.actions[] | select(.attachment == "head") | .prog_id')
	assert_ne "$newpid" "$head_pid" "new program id"
	assert_jq "$OUT" ".actions[] | select(.attachment == \"head\") | .link_id == $head_lid" "JSON: same link"
	assert_eq "$(tcx_chain c0 ingress)" "tc_main:$head_lid tc_second:$mid_lid" \
		"bpftool net: same links, same order"
	assert_eq "$(tcx_entries c0 ingress | jq -r '.[0].prog_id')" "$newpid" "bpftool net: head runs the new program"
	assert_eq "$(link_prog_id "$head_lid")" "$newpid" "bpftool link: head's link runs the new program"
}

test_tc_fallback() {
	local pid

	veth_add c0 c0p
	cat >"$W/m.yaml" <<EOF
apiVersion: cnf-apply/v1
name: m
objects:
  - name: o
    file: objs/tc_v1.bpf.o
attachments:
  - name: in
    program: o/tc_main
    hook: tcx
    interface: c0
    direction: ingress
EOF
	CNF_APPLY_FORCE_NO_TCX=1 cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan without tcx"
	assert_jq "$OUT" '.actions[0].action == "create" and .actions[0].via == "tc"' "plan: via tc"

	CNF_APPLY_FORCE_NO_TCX=1 cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply without tcx" || return
	assert_jq "$OUT" '.actions[0].via == "tc"' "apply: via tc"
	pid=$(jf "$OUT" '.actions[0].prog_id')
	assert_jq "$(tc_filters c0 ingress)" "length == 1 and .[0].options.prog.id == $pid
		and .[0].options.prog.name == \"tc_main\"" "tc filter: cls_bpf runs our program"
	assert_eq "$(tcx_names c0 ingress)" "" "no tcx program"
	assert_exists "$(pin_of m in c0)" "pinned"

	CNF_APPLY_FORCE_NO_TCX=1 cnf_json apply "$W/m.yaml"
	assert_jq "$OUT" '.changed == false' "second apply without tcx: nothing to do"

	CNF_APPLY_FORCE_NO_TCX=1 cnf_json destroy "$W/m.yaml"
	assert_rc 0 "destroy"
	assert_eq "$(tc_filters c0 ingress)" "[]" "tc filter: gone"
	assert_not_exists "$(pin_of m in c0)" "pin gone"
	prog_exists "$pid" && _fail "program $pid still loaded after destroy"
}

# The bpf(BPF_LINK_CREATE) of a tcx ingress link in an strace log; strace
# 6.1 prints the attach type as a number (BPF_TCX_INGRESS is 46), later
# versions by name.
TCX_INGRESS_CREATE='bpf\(BPF_LINK_CREATE, .*attach_type=(0x2e|BPF_TCX_INGRESS)[ ,]'
TCX_EGRESS_CREATE='bpf\(BPF_LINK_CREATE, .*attach_type=(0x2f|BPF_TCX_EGRESS)[ ,]'

# concurrency_setup: strace and drift_tool are there (else the test is
# skipped or fails), and veth pair c0/c0p.
concurrency_setup() {
	command -v strace >/dev/null || {
		t_skip "strace is missing"
		return 1
	}
	[ -x "$DRIFT_TOOL" ] || { _fail "no $DRIFT_TOOL (built by make)"; return 1; }
	veth_add c0 c0p
}

# manifest_head: the start of manifest `m` with object `o` (tc_v1), up to
# its attachments.
manifest_head() {
	cat <<EOF
apiVersion: cnf-apply/v1
name: m
objects:
  - name: o
    file: objs/tc_v1.bpf.o
attachments:
EOF
}

# apply_with_foreign_first POINT MANIFEST: apply MANIFEST (under strace,
# which only logs its bpf() calls to $T/inject.log), paused at POINT
# (CNF_APPLY_TEST_PAUSE: "plan", or "attach=NAME" once NAME's hook is
# read); meanwhile drift_tool attaches tc_foreign first on c0 ingress (its
# link pinned at $T/fpin/first); then the run goes on. Sets RC, OUT, ERR,
# FLID and FPID (the foreign link and program).
apply_with_foreign_first() {
	local point=$1 manifest=$2 spid rc=0

	rm -f "$T/pause"
	mkfifo "$T/pause" || { _fail "mkfifo"; return 1; }
	echo "\$ CNF_APPLY_TEST_PAUSE=$point:FIFO cnf-apply --json apply $manifest"
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		CNF_APPLY_TEST_PAUSE="$point:$T/pause" \
		strace -f -qq -e trace=bpf -o "$T/inject.log" \
		"$CNF" --bpffs "$T/bpffs" --json apply "$manifest" >"$T/stdout" 2>"$T/stderr" &
	spid=$!
	track_pid "$spid"
	# Opening the FIFO waits for the tool to reach the point; closing it
	# (the end of this shell) lets the tool go on.
	timeout 60 bash -c 'exec 3>"$1"; echo paused >"$2"; "$3" tcx-first c0 "$4" tc_foreign "$5"' _ \
		"$T/pause" "$T/paused" "$DRIFT_TOOL" "$W/objs/foreign.bpf.o" "$T/fpin/first" || rc=$?
	wait "$spid"
	RC=$?
	OUT=$(cat "$T/stdout")
	ERR=$(cat "$T/stderr")
	echo "  -> exit $RC"
	[ -n "$ERR" ] && { echo "  stderr:"; _show "$ERR"; }
	[ -e "$T/paused" ] || { _fail "the apply never reached $point"; return 1; }
	rm -f "$T/paused"
	[ "$rc" -eq 0 ] || { _fail "drift_tool tcx-first (exit $rc)"; return 1; }
	FLID=$(pinned_link_id "$T/fpin/first")
	FPID=$(link_prog_id "$FLID")
	return 0
}

# The tool reads the hook's revision (BPF_PROG_QUERY) and hands it to
# BPF_LINK_CREATE as expected_revision, so that the kernel refuses the
# attach (ESTALE) if the hook changed in between. The run pauses right
# before that BPF_LINK_CREATE (CNF_APPLY_TEST_PAUSE=attach=head) while
# another program attaches to the same hook; the run must fail, say why,
# roll back, and leave the other
# program alone, and the next run must place ours as declared.
test_concurrent_change() {
	local flid fpid lid

	concurrency_setup || return
	# Without anchors the attachments run in manifest order: egress first,
	# so there is a change to roll back when the ingress attach fails.
	{
		manifest_head
		cat <<EOF
  - name: out
    program: o/tc_second
    hook: tcx
    interface: c0
    direction: egress
  - name: head
    program: o/tc_main
    hook: tcx
    interface: c0
    direction: ingress
    order: first
EOF
	} >"$W/m.yaml"

	# The run pauses once it has read head's hook, before it attaches;
	# meanwhile another program attaches first.
	apply_with_foreign_first attach=head "$W/m.yaml" || return
	echo "  bpf calls:"
	_show "$(grep -E 'BPF_PROG_QUERY|BPF_LINK_CREATE|BPF_LINK_DETACH' "$T/inject.log")"
	flid=$FLID
	fpid=$FPID

	assert_match "$(grep -E "$TCX_INGRESS_CREATE" "$T/inject.log")" '= -1 ESTALE' \
		"strace: head's attach was refused as stale"
	assert_match "$(grep -E "$TCX_EGRESS_CREATE" "$T/inject.log")" '\) = [0-9]+$' \
		"strace: out's egress link was made before the failure"
	assert_rc 1 "apply with a concurrent change on the hook" || return
	assert_contains "$ERR" "attachment 'head' of manifest 'm' on c0: the hook changed since this run read it (a concurrent change)" \
		"stderr names the attachment and the concurrent change"
	assert_contains "$ERR" "rolled back" "stderr: the run was rolled back"
	assert_not_contains "$ERR" "could not" "nothing failed to roll back"
	assert_jq "$OUT" '.error | contains("the hook changed since this run read it")' "JSON: the error"

	# Nothing of ours is left; the other program is as it was attached.
	assert_eq "$(tcx_names c0 egress)" "" "bpftool net: out's egress link was rolled back"
	assert_jq "$(tcx_entries c0 ingress)" \
		"length == 1 and .[0].name == \"tc_foreign\" and .[0].link_id == $flid and .[0].prog_id == $fpid" \
		"bpftool net: only the foreign program on c0 ingress, same link and program"
	assert_eq "$(link_prog_id "$flid")" "$fpid" "bpftool link: the foreign link still runs its program"
	assert_eq "$(state_pins | grep -F /links/)" "" "no link pinned under the state root"
	# A failed run removes the state map it left empty: none is none.
	assert_eq "$( [ -e "$T/bpffs/m/state" ] && bt map dump pinned "$T/bpffs/m/state" | jq length || echo 0)" 0 \
		"no state record left"
	cnf_json status "$W/m.yaml"
	assert_jq "$OUT" '[.attachments[].state] == ["missing", "missing"]' "status: both missing"

	# Nothing changes the hook this time: head goes in front of the
	# foreign program, as `order: first` says.
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply again" || return
	lid=$(pinned_link_id "$(pin_of m head c0)")
	assert_eq "$(tcx_names c0 ingress)" "tc_main tc_foreign" "bpftool net: head first, the foreign program after it"
	assert_jq "$(tcx_entries c0 ingress)" "[.[].link_id] == [$lid, $flid] and .[1].prog_id == $fpid" \
		"bpftool net: our pinned link, then the foreign link, untouched"
	assert_eq "$(tcx_names c0 egress)" "tc_second" "bpftool net: out on c0 egress"
	assert_eq "$(tcx_entries c0 egress | jq -r '.[0].link_id')" "$(pinned_link_id "$(pin_of m out c0)")" \
		"bpftool net: out runs on its pinned link"
	cnf_json plan "$W/m.yaml"
	assert_rc 0 "plan: nothing left to do"
}

# The plan reads the order of a hook it keeps (`order: first` in sync)
# and decides from it; a change on that hook after it was read and before
# the run's own attach must fail the run rather than leave the declared
# order broken. The run pauses once planned (CNF_APPLY_TEST_PAUSE=plan);
# another program attaches first meanwhile.

test_change_after_plan() {
	local flid fpid

	concurrency_setup || return
	{
		manifest_head
		cat <<EOF
  - name: head
    program: o/tc_main
    hook: tcx
    interface: c0
    direction: ingress
    order: first
EOF
	} >"$W/m1.yaml"
	cp "$W/m1.yaml" "$W/m2.yaml"
	cat >>"$W/m2.yaml" <<EOF
  - name: tail
    program: o/tc_second
    hook: tcx
    interface: c0
    direction: ingress
    order: last
EOF
	cnf_json apply "$W/m1.yaml"
	assert_rc 0 "apply head" || return
	assert_eq "$(tcx_names c0 ingress)" "tc_main" "bpftool net: head alone on c0 ingress" || return

	# The run pauses once planned (head's hook read, in order); meanwhile
	# another program attaches first.
	apply_with_foreign_first plan "$W/m2.yaml" || return
	flid=$FLID
	fpid=$FPID

	assert_rc 1 "apply after the hook changed behind the plan" || return
	assert_contains "$ERR" "attachment 'tail' of manifest 'm' on c0: the hook changed since this run read it (a concurrent change)" \
		"stderr names the attachment and the concurrent change"
	assert_eq "$(grep -cE "$TCX_INGRESS_CREATE" "$T/inject.log")" 0 "strace: no tcx ingress attach was tried"
	assert_eq "$(tcx_names c0 ingress)" "tc_foreign tc_main" \
		"bpftool net: the foreign program in front of head, nothing of tail"
	assert_eq "$(tcx_entries c0 ingress | jq -r '.[0].link_id')" "$flid" "bpftool net: the foreign link untouched"

	# The next run sees head out of order and puts it back first.
	cnf_json plan "$W/m2.yaml"
	assert_jq "$OUT" '.actions[] | select(.attachment == "head") | .action == "replace" and (.reason | test("declared first"))' \
		"plan: head is out of its declared order"
	cnf_json apply "$W/m2.yaml"
	assert_rc 0 "apply again" || return
	assert_eq "$(tcx_names c0 ingress)" "tc_main tc_foreign tc_second" \
		"bpftool net: head first, the foreign program, tail last"
	assert_eq "$(link_prog_id "$flid")" "$fpid" "bpftool link: the foreign link still runs its program"
	cnf_json plan "$W/m2.yaml"
	assert_rc 0 "plan: nothing left to do"
}

run_test "ingress and egress links" test_ingress_egress
run_test "order: first/last, before:, after:" test_ordering
run_test "an unordered attachment goes before another's order: last" test_unordered_before_last
run_test "update in place keeps links and order" test_update_in_chain
run_test "fallback to legacy tc when tcx is unavailable" test_tc_fallback
run_test "a hook changed during the attach fails it (expected_revision)" test_concurrent_change
run_test "a hook changed after the plan read it fails the run" test_change_after_plan
