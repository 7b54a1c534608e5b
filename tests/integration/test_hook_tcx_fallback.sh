#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# tcx on a kernel without tcx (Linux before 6.6, found by probing, not
# forced): tcx attachments become legacy tc filters (clsact + cls_bpf) and
# the plan says so; ingress and egress, a second apply changing nothing,
# a new program version replacing the filter's program in place
# (BPF_TC_F_REPLACE), delete. On kernels with tcx this is skipped: the
# fallback is tested there with CNF_APPLY_FORCE_NO_TCX (test_tcx.sh).
. "$(dirname "$0")/lib.sh"
lib_setup "$@"

write_m() {
	cat >"$W/m.yaml" <<EOF
apiVersion: cnf-apply/v1
name: m
objects:
  - name: o
    file: objs/tc.bpf.o
attachments:
EOF
	if [ "${1:-}" = none ]; then
		echo "  []" >>"$W/m.yaml"
		return
	fi
	cat >>"$W/m.yaml" <<EOF
  - name: in
    program: o/tc_main
    hook: tcx
    interface: f0
    direction: ingress
  - name: out
    program: o/tc_main
    hook: tcx
    interface: f0
    direction: egress
EOF
}

test_fallback() {
	local pin pout
	veth_add f0 f0p || return
	cp "$W/objs/tc_v1.bpf.o" "$W/objs/tc.bpf.o"
	write_m
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan"
	assert_jq "$OUT" 'all(.actions[]; .action == "create" and .via == "tc")' "plan: both via tc"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	assert_jq "$OUT" 'all(.actions[]; .via == "tc")' "apply: via tc"
	pin=$(jf "$OUT" '.actions[] | select(.attachment == "in") | .prog_id')
	pout=$(jf "$OUT" '.actions[] | select(.attachment == "out") | .prog_id')
	assert_jq "$(tc_filters f0 ingress)" "length == 1 and .[0].options.prog.id == $pin" \
		"tc filter show: ingress runs tc_main"
	assert_jq "$(tc_filters f0 egress)" "length == 1 and .[0].options.prog.id == $pout" \
		"tc filter show: egress runs tc_main"
	assert_eq "$(tcx_names f0 ingress)" "" "no tcx program"

	cnf_json apply "$W/m.yaml"
	assert_jq "$OUT" '.changed == false' "second apply: nothing to do"

	cp "$W/objs/tc_v2.bpf.o" "$W/objs/tc.bpf.o"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v2" || return
	assert_jq "$OUT" 'all(.actions[]; .action == "update" and .strategy == "in-place")' "v2: in place"
	assert_jq "$(tc_filters f0 ingress)" "length == 1 and .[0].options.prog.id != $pin" \
		"tc filter show: the ingress filter runs the new program"

	write_m none
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply without attachments"
	assert_eq "$(tc_filters f0 ingress)" "[]" "ingress filter gone"
	assert_eq "$(tc_filters f0 egress)" "[]" "egress filter gone"
}

if "$CNF" probe --json 2>/dev/null | jq -e '.features.tcx == false and .features.tc_legacy == true' >/dev/null; then
	run_test "tcx attachments fall back to legacy tc" test_fallback
else
	skip "tcx attachments fall back to legacy tc" \
		"this kernel ($(uname -r)) has tcx (the fallback is forced in test_tcx)"
fi
