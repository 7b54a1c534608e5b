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

# apply_with_foreign_first N MANIFEST: apply MANIFEST under strace, which
# stops the tool (SIGSTOP) as its bpf() call N returns; meanwhile
# drift_tool attaches tc_foreign first on c0 ingress (its link pinned at
# $T/fpin/first); then the tool goes on. Sets RC, OUT, ERR, FLID and FPID
# (the foreign link and program); the strace log is $T/inject.log.
apply_with_foreign_first() {
	local n=$1 manifest=$2 spid tpid drift=0

	echo "\$ strace -e inject=bpf:signal=STOP:when=$n cnf-apply --json apply $manifest"
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -qq -e trace=bpf -e inject=bpf:signal=STOP:when="$n" -o "$T/inject.log" \
		"$CNF" --bpffs "$T/bpffs" --json apply "$manifest" >"$T/stdout" 2>"$T/stderr" &
	spid=$!
	track_pid "$spid"
	for _ in $(seq 1 600); do
		grep -qF -- '--- stopped by SIGSTOP ---' "$T/inject.log" 2>/dev/null && break
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.1
	done
	tpid=$(awk '/--- stopped by SIGSTOP ---/ { print $1; exit }' "$T/inject.log" 2>/dev/null)
	if [ -z "$tpid" ]; then
		_fail "the apply never stopped at bpf() call $n:"
		_show "$(cat "$T/inject.log" "$T/stderr")"
		return 1
	fi
	"$DRIFT_TOOL" tcx-first c0 "$W/objs/foreign.bpf.o" tc_foreign "$T/fpin/first" || drift=1
	kill -CONT "$tpid"
	wait "$spid"
	RC=$?
	OUT=$(cat "$T/stdout")
	ERR=$(cat "$T/stderr")
	[ "$drift" -eq 0 ] || { _fail "drift_tool tcx-first"; return 1; }
	echo "  -> exit $RC"
	[ -n "$ERR" ] && { echo "  stderr:"; _show "$ERR"; }
	FLID=$(pinned_link_id "$T/fpin/first")
	FPID=$(link_prog_id "$FLID")
	return 0
}

# restart_from MANIFEST: nothing of the tool's left and a fresh state
# root, then MANIFEST applied: the start of a traced run, again.
restart_from() {
	cnf_json destroy --all
	assert_rc 0 "destroy the traced run's work" || return 1
	umount "$T/bpffs" 2>/dev/null || umount -l "$T/bpffs"
	mount -t bpf bpf "$T/bpffs" || { _fail "remount the state root"; return 1; }
	[ -z "$1" ] && return 0
	cnf_json apply "$1"
	assert_rc 0 "apply $(basename "$1") again"
}

# The tool reads the hook's revision (BPF_PROG_QUERY) and hands it to
# BPF_LINK_CREATE as expected_revision, so that the kernel refuses the
# attach (ESTALE) if the hook changed in between. strace stops the tool
# right before that BPF_LINK_CREATE while another program attaches to the
# same hook; the run must fail, say why, roll back, and leave the other
# program alone, and the next run must place ours as declared.
test_concurrent_change() {
	local n flid fpid lid

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

	# Which bpf() call attaches head: an identical run, traced, from the
	# same start (an empty state root, nothing on c0).
	cnf_strace apply "$W/m.yaml"
	assert_rc 0 "traced apply" || return
	n=$(awk -v re="$TCX_INGRESS_CREATE" '/bpf\(/ && !/resumed>/ { n++ } $0 ~ re { print n; exit }' "$T/strace.log")
	if [ -z "$n" ] || [ "$n" -le 1 ]; then
		_fail "the traced apply made no tcx ingress BPF_LINK_CREATE after another bpf() call:"
		_show "$(cat "$T/strace.log")"
		return
	fi
	echo "  the tcx ingress attach is bpf() call $n"
	restart_from "" || return
	assert_eq "$(tcx_names c0 ingress)|$(tcx_names c0 egress)" "|" "bpftool net: c0 is empty again" || return

	# The same run, stopped as bpf() call n-1 (its read of the hook)
	# returns, before it attaches; another program attaches first.
	apply_with_foreign_first $((n - 1)) "$W/m.yaml" || return
	grep -qE "$TCX_INGRESS_CREATE" <(sed '/--- stopped by SIGSTOP ---/q' "$T/inject.log") &&
		_fail "the tool stopped after its tcx ingress attach, not before"
	echo "  bpf calls:"
	_show "$(grep -E 'BPF_PROG_QUERY|BPF_LINK_CREATE|BPF_LINK_DETACH|SIG' "$T/inject.log")"
	flid=$FLID
	fpid=$FPID

	assert_match "$(sed -n '/--- SIGCONT /,$p' "$T/inject.log" | grep -E "$TCX_INGRESS_CREATE")" '= -1 ESTALE' \
		"strace: head's attach, after the stop, was refused as stale"
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
	assert_eq "$(bt map dump pinned "$T/bpffs/m/state" | jq length)" 0 "no state record left"
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
# order broken. strace stops the tool right after the plan's
# BPF_PROG_QUERY of the hook; another program attaches first meanwhile.
TCX_INGRESS_QUERY='bpf\(BPF_PROG_QUERY, .*attach_type=(0x2e|BPF_TCX_INGRESS)[ ,]'

test_change_after_plan() {
	local n flid fpid

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
	# Which bpf() call reads head's hook: a traced run of the same change
	# from the same start, which is then made again from scratch.
	cnf_json apply "$W/m1.yaml"
	assert_rc 0 "apply head" || return
	cnf_strace apply "$W/m2.yaml"
	assert_rc 0 "traced apply adding tail" || return
	# (The first query with program ids: a query without is the probe
	# for tcx support.)
	n=$(awk -v re="$TCX_INGRESS_QUERY" '/bpf\(/ && !/resumed>/ { n++ } $0 ~ re && /prog_ids=\[/ { print n; exit }' \
		"$T/strace.log")
	[ -n "$n" ] || {
		_fail "no BPF_PROG_QUERY of c0's tcx ingress hook:"
		_show "$(cat "$T/strace.log")"
		return
	}
	echo "  the plan reads the hook at bpf() call $n"
	restart_from "$W/m1.yaml" || return
	assert_eq "$(tcx_names c0 ingress)" "tc_main" "bpftool net: head alone on c0 ingress" || return

	apply_with_foreign_first "$n" "$W/m2.yaml" || return
	sed '/--- stopped by SIGSTOP ---/q' "$T/inject.log" | grep -E "$TCX_INGRESS_QUERY" |
		grep -qF 'prog_ids=[' || _fail "the tool stopped before it read the hook"
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
run_test "update in place keeps links and order" test_update_in_chain
run_test "fallback to legacy tc when tcx is unavailable" test_tc_fallback
run_test "a hook changed during the attach fails it (expected_revision)" test_concurrent_change
run_test "a hook changed after the plan read it fails the run" test_change_after_plan
