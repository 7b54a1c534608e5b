#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# tcx attachments: ingress and egress, ordering (first/last/before/after),
# update in place inside a chain, and the legacy tc fallback.
. "$(dirname "$0")/lib.sh"
lib_setup "$@"

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

run_test "ingress and egress links" test_ingress_egress
run_test "order: first/last, before:, after:" test_ordering
run_test "update in place keeps links and order" test_update_in_chain
run_test "fallback to legacy tc when tcx is unavailable" test_tc_fallback
