#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Drift: someone else changes what the tool manages. status reports it
# (exit 2), apply corrects it, and foreign programs stay untouched.
. "$(dirname "$0")/lib.sh"
lib_setup "$@"

DRIFT_TOOL=${BUILD:-build}/tests/tools/drift_tool
case $DRIFT_TOOL in /*) ;; *) DRIFT_TOOL=$(realpath "$DRIFT_TOOL") ;; esac

entry() {             # entry JSON ATTACHMENT -> that attachment's status entry
	jq -c --arg a "$2" '.attachments[] | select(.attachment == $a)' <<<"$1"
}

test_program_replaced() {
	local lid pid other

	veth_add d0 d0p
	cat >"$W/m.yaml" <<EOF
apiVersion: cnf-apply/v1
name: m
objects:
  - name: x
    file: objs/xdp_v1.bpf.o
attachments:
  - name: fw
    program: x/xdp_main
    hook: xdp
    interface: d0
EOF
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	lid=$(jf "$OUT" '.actions[0].link_id')
	pid=$(jf "$OUT" '.actions[0].prog_id')

	# Another tool runs its own program on our pinned link.
	"$DRIFT_TOOL" link-update "$(pin_of m fw d0)" "$W/objs/xdp_v2.bpf.o" xdp_main ||
		{ _fail "drift_tool link-update"; return; }
	other=$(link_prog_id "$lid")
	assert_ne "$other" "$pid" "bpftool link: the link now runs another program"

	cnf_json status "$W/m.yaml"
	assert_rc 2 "status finds the drift"
	assert_jq "$(entry "$OUT" fw)" ".state == \"drifted\" and .prog_id == $other" \
		"status: drifted, with the program that runs now"
	assert_contains "$(entry "$OUT" fw)" "drift" "status says why"

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply corrects it"
	assert_jq "$OUT" ".actions[0].action == \"update\" and .actions[0].link_id == $lid" \
		"apply: an in-place update of the same link"
	pid=$(jf "$OUT" '.actions[0].prog_id')
	assert_eq "$(link_prog_id "$lid")" "$pid" "bpftool link: the link runs the manifest's program again"
	assert_eq "$(bt prog show id "$pid" | jq -r .name)" xdp_main "bpftool prog: it is xdp_main"
	cnf_json status "$W/m.yaml"
	assert_rc 0 "status in sync after the correction"
}

test_link_detached() {
	local lid

	veth_add d0 d0p
	cat >"$W/m.yaml" <<EOF
apiVersion: cnf-apply/v1
name: m
objects:
  - name: t
    file: objs/tc_v1.bpf.o
attachments:
  - name: count
    program: t/tc_main
    hook: tcx
    interface: d0
    direction: ingress
EOF
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	lid=$(jf "$OUT" '.actions[0].link_id')

	# Someone detaches the link; its pin stays.
	bpftool link detach id "$lid" 2>/dev/null
	assert_eq "$(tcx_entries d0 ingress | jq length)" 0 "bpftool net: nothing on d0 ingress"
	cnf_json status "$W/m.yaml"
	assert_rc 2 "status finds the detached link"
	assert_jq "$(entry "$OUT" count)" '.state == "defunct" or .state == "missing"' \
		"status: the link no longer works"
	assert_jq "$(entry "$OUT" count)" \
		'.reason | startswith("recreate: link detached outside cnf-apply; its target still exists")' \
		"status: detached by hand, not a target gone"
	cnf_json plan "$W/m.yaml"
	assert_jq "$OUT" '.actions[0].reason == "recreate: link detached outside cnf-apply; its target still exists"' \
		"plan: detached by hand"

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply recreates it"
	assert_jq "$OUT" '.actions[0].action == "create"' "apply: create"
	assert_eq "$(tcx_entries d0 ingress | jq -r '.[0].link_id')" "$(jf "$OUT" '.actions[0].link_id')" \
		"bpftool net: the new link is on d0 ingress"
	assert_eq "$(pinned_link_id "$(pin_of m count d0)")" "$(jf "$OUT" '.actions[0].link_id')" \
		"the new link is pinned in place of the old one"
}

test_tcx_order_drift() {
	local fid ours

	veth_add d0 d0p
	cat >"$W/m.yaml" <<EOF
apiVersion: cnf-apply/v1
name: m
objects:
  - name: t
    file: objs/tc_v1.bpf.o
attachments:
  - name: head
    program: t/tc_main
    hook: tcx
    interface: d0
    direction: ingress
    order: first
  - name: next
    program: t/tc_second
    hook: tcx
    interface: d0
    direction: ingress
    after: head
EOF
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	assert_eq "$(tcx_names d0 ingress)" "tc_main tc_second" "bpftool net: head, then next"

	# A foreign program jumps in front.
	"$DRIFT_TOOL" tcx-first d0 "$W/objs/foreign.bpf.o" tc_foreign "$T/fpin/first" ||
		{ _fail "drift_tool tcx-first"; return; }
	assert_eq "$(tcx_names d0 ingress)" "tc_foreign tc_main tc_second" "bpftool net: the foreign program runs first"
	fid=$(tcx_entries d0 ingress | jq -r '.[0].prog_id')

	cnf_json status "$W/m.yaml"
	assert_rc 2 "status finds the order drift"
	assert_jq "$(entry "$OUT" head)" '.state == "drifted"' "status: head drifted"
	assert_contains "$(entry "$OUT" head)" "declared first" "status says how"
	assert_jq "$(entry "$OUT" head)" "[.foreign[].prog_id] == [$fid]" "status lists the foreign program"
	assert_jq "$(entry "$OUT" next)" '.state == "drifted"' "status: next follows head when head moves"
	assert_contains "$(entry "$OUT" next)" "follows its anchor" "status says why"

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply corrects the order"
	assert_jq "$OUT" '[.actions[] | select(.attachment == "head") | .action, .strategy] == ["replace", "make-before-break"]' \
		"apply: head is re-attached, make-before-break"
	assert_jq "$OUT" '[.actions[] | select(.attachment == "next") | .action] == ["replace"]' \
		"apply: next follows its anchor"
	assert_eq "$(tcx_names d0 ingress)" "tc_main tc_second tc_foreign" \
		"bpftool net: head first again, next right after it, the foreign program kept"
	ours=$(pinned_link_id "$(pin_of m head d0)")
	assert_eq "$(tcx_entries d0 ingress | jq -r '.[0].link_id')" "$ours" "the first link is the pinned one"
	cnf_json status "$W/m.yaml"
	assert_jq "$OUT" '[.attachments[].state] == ["in-sync", "in-sync"]' "status: in sync"
	assert_rc 0 "status exit 0"
}

run_test "a program replaced by someone else is put back" test_program_replaced
run_test "a link detached by someone else is recreated" test_link_detached
run_test "a foreign program in front of 'order: first' is drift" test_tcx_order_drift
