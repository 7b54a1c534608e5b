#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# raw_tracepoint: sched_process_exec by its bare name, raw tracepoint
# links, replaced make-before-break; a missing tracepoint fails validation.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hook_family.sh"
lib_setup "$@"

HK_HOOK=raw_tracepoint
HK_OBJ=trace
HK_ATT="    program: t/raw_exec
    tracepoint: sched_process_exec"
HK_MISSING="    program: t/raw_exec
    tracepoint: cnf_no_such_tracepoint"
HK_MISSING_MSG="no tracepoint 'cnf_no_such_tracepoint'"
HK_REFUSE_MSG="raw"
HK_LINK_TYPE=raw_tracepoint
HK_UPDATE="replace make-before-break"
HK_SLOT=1
hk_trigger() { /bin/true; /bin/true; }
hk_oracle() {
	assert_jq "$(link_json "$(jf "$1" ".actions[0].link_id")")" ".tp_name == \"sched_process_exec\"" \
		"bpftool link: the raw tracepoint"
}

hook_family_suite

# --- tp_btf: BTF-typed programs on the same hook -------------------------------

# The family's lifecycle again with SEC("tp_btf/sched_process_exec"): a
# tracing program whose tracepoint is part of its load, attached through
# a raw tracepoint link. Its kernel view: a raw_tracepoint link naming the
# tracepoint, running a program of type tracing.
tp_btf_oracle() {
	local lid pid
	lid=$(jf "$1" ".actions[0].link_id")
	pid=$(jf "$1" ".actions[0].prog_id")
	assert_jq "$(link_json "$lid")" '.type == "raw_tracepoint" and .tp_name == "sched_process_exec"' \
		"bpftool link: a raw tracepoint link on sched_process_exec"
	assert_jq "$(bt prog show id "$pid")" '.type == "tracing"' "bpftool prog: a tracing (tp_btf) program"
}

tp_btf_run() {
	local HK_ATT="    program: t/btf_exec" HK_SLOT=13 HK_MISSING="    program: t/btf_exec
    tracepoint: cnf_no_such_tracepoint"
	hk_oracle() { tp_btf_oracle "$@"; }
	"$@"
}

test_tp_btf_create() { tp_btf_run test_hk_create; }
test_tp_btf_change() { tp_btf_run test_hk_change; }
test_tp_btf_delete() { tp_btf_run test_hk_delete; }
test_tp_btf_missing() { tp_btf_run test_hk_missing; }

# The manifest's key names the tracepoint of a tp_btf program whose
# section names another one: the program is loaded for the key's.
test_tp_btf_key_wins() {
	hk_manifest "$W/m.yaml" "    program: t/btf_exec
    tracepoint: sched_process_fork"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply tp_btf with tracepoint: sched_process_fork" || return
	assert_jq "$(link_json "$(jf "$OUT" '.actions[0].link_id')")" '.tp_name == "sched_process_fork"' \
		"bpftool link: the manifest's tracepoint, not the section's"
	HK_SLOT=13 hk_fires "$(jf "$OUT" '.actions[0].prog_id')" 1
}

# tp_btf programs load where the kernel has BTF and can verify tracing
# programs against it: found by a test load of the program alone.
tp_btf_loads() {
	local rc
	bpftool prog load "$TEST_OBJS/tp_btf_probe.bpf.o" "$T/fpin/tpbtf_probe" >/dev/null 2>&1
	rc=$?
	rm -f "$T/fpin/tpbtf_probe"
	return $rc
}

if hk_supported && tp_btf_loads; then
	run_test "tp_btf: create, no-op, status" test_tp_btf_create
	run_test "tp_btf: program change: $HK_UPDATE" test_tp_btf_change
	run_test "tp_btf: delete" test_tp_btf_delete
	run_test "tp_btf: missing tracepoint fails validation" test_tp_btf_missing
	run_test "tp_btf: the manifest's tracepoint wins over the section" test_tp_btf_key_wins
else
	why="this kernel ($(uname -r)) cannot load tp_btf programs"
	for t in "create, no-op, status" "program change: $HK_UPDATE" delete \
		"missing tracepoint fails validation" "the manifest's tracepoint wins over the section"; do
		skip "tp_btf: $t" "$why"
	done
fi

# --- foreign programs on the managed raw tracepoint ------------------------------

# A raw tracepoint program another tool attached (bpftool ... autoattach)
# on sched_process_exec is listed by status; the perf event link of a
# tracepoint program on the same event is another hook and is not; apply
# and destroy leave them attached.
test_foreign() {
	local rlid rpid tlid
	bpftool prog loadall "$W/objs/foreign_trace.bpf.o" "$T/fpin/ft" autoattach >/dev/null 2>&1 ||
		{ _fail "bpftool prog loadall foreign_trace.bpf.o autoattach"; return; }
	rlid=$(pinned_link_id "$T/fpin/ft/raw_foreign")
	rpid=$(link_prog_id "$rlid")
	tlid=$(pinned_link_id "$T/fpin/ft/tp_foreign_exec")
	assert_jq "$(link_json "$rlid")" '.type == "raw_tracepoint" and .tp_name == "sched_process_exec"' \
		"bpftool link: the foreign raw tracepoint program" || return
	hk_apply_create || return
	cnf_json status "$W/m.yaml"
	assert_rc 0 "status: in sync"
	assert_jq "$OUT" ".attachments[0].foreign | any(.prog_id == $rpid and .link_id == $rlid and
		.prog_name == \"raw_foreign\")" "status lists the foreign program with its ids and name"
	assert_jq "$OUT" "all(.attachments[0].foreign[]; .link_id != $tlid and .link_id != $LID)" \
		"status lists neither the tracepoint's perf event link nor its own"
	cnf_json destroy "$W/m.yaml"
	assert_rc 0 "destroy"
	link_exists "$LID" && _fail "destroy left the tool's link $LID"
	assert_ok "foreign raw tracepoint link kept" link_exists "$rlid"
	assert_ok "foreign tracepoint link kept" link_exists "$tlid"
}

if hk_supported; then
	run_test "foreign programs on the raw tracepoint: listed, left alone" test_foreign
else
	skip "foreign programs on the raw tracepoint: listed, left alone" "this kernel ($(uname -r)) has no raw_tracepoint"
fi
