#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# lsm: the file_open LSM hook, through a BPF trampoline and a tracing
# link, replaced make-before-break; a hook that does not exist fails
# validation. Needs "bpf" among the active LSMs (lsm=...,bpf).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hook_family.sh"
lib_setup "$@"

HK_HOOK=lsm
HK_OBJ=trace
HK_ATT="    program: t/lsm_open
    function: file_open"
HK_MISSING="    program: t/lsm_open
    function: cnf_no_such_hook"
HK_MISSING_MSG="no LSM hook 'cnf_no_such_hook'"
HK_REFUSE_MSG="this kernel has no BPF LSM|this kernel cannot run LSM programs|cannot be loaded"
HK_LINK_TYPE=tracing
HK_UPDATE="replace make-before-break"
HK_SLOT=9
hk_trigger() { cat /proc/self/stat >/dev/null; head -c1 /etc/hostname >/dev/null; }

hook_family_suite

# An LSM program on file_open that another tool attached (bpftool ...
# autoattach) is listed by status, matched by bpf_lsm_file_open's BTF
# object and type; one on file_permission is another hook and is not;
# destroy leaves both.
test_foreign() {
	local flid fpid olid
	bpftool prog loadall "$W/objs/foreign_lsm.bpf.o" "$T/fpin/fl" autoattach >/dev/null 2>&1 ||
		{ _fail "bpftool prog loadall foreign_lsm.bpf.o autoattach"; return; }
	flid=$(pinned_link_id "$T/fpin/fl/lsm_foreign")
	fpid=$(link_prog_id "$flid")
	olid=$(pinned_link_id "$T/fpin/fl/lsm_other")
	assert_jq "$(link_json "$flid")" '.type == "tracing" and .attach_type == "lsm_mac"' \
		"bpftool link: the foreign LSM program" || return
	hk_apply_create || return
	cnf_json status "$W/m.yaml"
	assert_rc 0 "status: in sync"
	assert_jq "$OUT" ".attachments[0].foreign | any(.prog_id == $fpid and .link_id == $flid and
		.prog_name == \"lsm_foreign\")" "status lists the foreign LSM program with its ids and name"
	assert_jq "$OUT" "all(.attachments[0].foreign[]; .link_id != $olid and .link_id != $LID)" \
		"status lists neither the file_permission program nor its own link"
	cnf_json destroy "$W/m.yaml"
	assert_rc 0 "destroy"
	link_exists "$LID" && _fail "destroy left the tool's link $LID"
	assert_ok "foreign file_open link kept" link_exists "$flid"
	assert_ok "foreign file_permission link kept" link_exists "$olid"
}

if hk_supported; then
	run_test "foreign programs on the hook: listed, left alone" test_foreign
else
	skip "foreign programs on the hook: listed, left alone" "this kernel ($(uname -r)) has no lsm (cnf-apply probe)"
fi
