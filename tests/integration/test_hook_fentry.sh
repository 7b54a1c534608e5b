#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# fentry: do_unlinkat by its BTF, through a BPF trampoline and a tracing
# link, replaced make-before-break; a function not in the kernel's BTF
# fails validation (the function is set before the program's load).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hook_family.sh"
lib_setup "$@"

HK_HOOK=fentry
HK_OBJ=trace
HK_ATT="    program: t/fe_unlink
    function: do_unlinkat"
HK_MISSING="    program: t/fe_unlink
    function: cnf_no_such_function"
HK_MISSING_MSG="no kernel function 'cnf_no_such_function'"
HK_REFUSE_MSG="this kernel cannot run fentry/fexit programs|this kernel has no BTF|cannot be loaded"
HK_LINK_TYPE=tracing
HK_UPDATE="replace make-before-break"
HK_SLOT=5
hk_trigger() { touch "$W/victim"; rm -f "$W/victim"; }

hook_family_suite

# An fentry program on do_unlinkat that another tool attached (bpftool
# ... autoattach) is listed by status, matched by the function's BTF
# object and type; an fexit one there is another hook and is not; destroy
# leaves both.
test_foreign() {
	local flid fpid xlid
	bpftool prog loadall "$W/objs/foreign_fentry.bpf.o" "$T/fpin/ff" autoattach >/dev/null 2>&1 ||
		{ _fail "bpftool prog loadall foreign_fentry.bpf.o autoattach"; return; }
	flid=$(pinned_link_id "$T/fpin/ff/fe_foreign")
	fpid=$(link_prog_id "$flid")
	xlid=$(pinned_link_id "$T/fpin/ff/fx_foreign")
	assert_jq "$(link_json "$flid")" '.type == "tracing" and .attach_type == "trace_fentry"' \
		"bpftool link: the foreign fentry program" || return
	hk_apply_create || return
	cnf_json status "$W/m.yaml"
	assert_rc 0 "status: in sync"
	assert_jq "$OUT" ".attachments[0].foreign | any(.prog_id == $fpid and .link_id == $flid and
		.prog_name == \"fe_foreign\")" "status lists the foreign fentry program with its ids and name"
	assert_jq "$OUT" "all(.attachments[0].foreign[]; .link_id != $xlid and .link_id != $LID)" \
		"status lists neither the fexit program nor its own link"
	cnf_json destroy "$W/m.yaml"
	assert_rc 0 "destroy"
	link_exists "$LID" && _fail "destroy left the tool's link $LID"
	assert_ok "foreign fentry link kept" link_exists "$flid"
	assert_ok "foreign fexit link kept" link_exists "$xlid"
}

if hk_supported; then
	run_test "foreign programs on the function: listed, left alone" test_foreign
else
	skip "foreign programs on the function: listed, left alone" "this kernel ($(uname -r)) has no fentry (cnf-apply probe)"
fi
