#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# tracepoint: sched/sched_process_exec (named by the ELF section), perf
# event links, replaced make-before-break on a new version; a missing
# tracepoint fails validation.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hook_family.sh"
lib_setup "$@"

HK_HOOK=tracepoint
HK_OBJ=trace
HK_ATT="    program: t/tp_exec"
HK_MISSING="    program: t/tp_exec
    tracepoint: sched/cnf_no_such_tracepoint"
HK_MISSING_MSG="no tracepoint 'sched/cnf_no_such_tracepoint'"
HK_REFUSE_MSG="tracefs"
HK_LINK_TYPE=perf_event
HK_UPDATE="replace make-before-break"
HK_SLOT=0
hk_trigger() { /bin/true; /bin/true; }

# The kernel's own view: the perf event link names its tracepoint
# (bpftool shows it where the kernel reports perf event link details).
hk_oracle() {
	local lid tp
	lid=$(jf "$1" ".actions[0].link_id")
	tp=$(link_json "$lid" | jq -r ".event.tracepoint // .tracepoint // empty")
	[ -z "$tp" ] || assert_eq "$tp" sched_process_exec "bpftool link: the tracepoint"
}

hook_family_suite

# --- foreign programs on the managed tracepoint ----------------------------------

# ft_count PROG_ID SLOT: a foreign_trace program's counter.
ft_count() {
	local m
	m=$(bt prog show id "$1" | jq -r '.map_ids[0] // empty')
	[ -n "$m" ] && bt map lookup id "$m" key "$2" 0 0 0 | jq -r '.formatted.value // 0'
}

# Programs another tool attached (bpftool ... autoattach): the one on
# sched/sched_process_exec is listed by status, with its ids and name;
# the one on another tracepoint and the raw tracepoint one are not; apply
# and destroy leave all of them attached and running.
test_foreign() {
	local flid fpid olid rlid n0 n1
	bpftool prog loadall "$W/objs/foreign_trace.bpf.o" "$T/fpin/ft" autoattach >/dev/null 2>&1 ||
		{ _fail "bpftool prog loadall foreign_trace.bpf.o autoattach"; return; }
	flid=$(pinned_link_id "$T/fpin/ft/tp_foreign_exec")
	fpid=$(link_prog_id "$flid")
	olid=$(pinned_link_id "$T/fpin/ft/tp_foreign_fork")
	rlid=$(pinned_link_id "$T/fpin/ft/raw_foreign")
	# Perf event link details (what the match needs) come with Linux 6.6.
	if ! link_json "$flid" | jq -e 'has("tracepoint")' >/dev/null; then
		t_skip "this kernel ($(uname -r)) does not report perf event link details"
		return
	fi
	assert_jq "$(link_json "$flid")" '.type == "perf_event" and .tracepoint == "sched_process_exec"' \
		"bpftool link: the foreign program sits on sched_process_exec" || return
	hk_apply_create || return
	cnf_json status "$W/m.yaml"
	assert_rc 0 "status: in sync, foreign programs or not"
	assert_jq "$OUT" ".attachments[0].foreign | any(.prog_id == $fpid and .link_id == $flid and
		.prog_name == \"tp_foreign_exec\")" "status lists the foreign program with its ids and name"
	assert_jq "$OUT" "all(.attachments[0].foreign[]; .link_id != $olid and .link_id != $rlid and
		.link_id != $LID and .prog_id != $PID)" \
		"status lists neither programs on other hooks nor its own"
	cnf_run status "$W/m.yaml"
	assert_contains "$OUT" "foreign program on this hook: prog $fpid 'tp_foreign_exec' (link)" \
		"plain status names it"
	cp "$W/objs/${HK_OBJ}_v2.bpf.o" "$W/objs/hk.bpf.o"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v2 next to the foreign program"
	cnf_json destroy "$W/m.yaml"
	assert_rc 0 "destroy"
	link_exists "$LID" && _fail "destroy left the tool's link $LID"
	for l in "$flid" "$olid" "$rlid"; do
		assert_ok "foreign link $l kept" link_exists "$l"
	done
	assert_eq "$(link_prog_id "$flid")" "$fpid" "the foreign link still runs its program"
	n0=$(ft_count "$fpid" 0)
	/bin/true
	n1=$(ft_count "$fpid" 0)
	[ -n "$n1" ] && [ "$n1" -gt "${n0:-0}" ] || _fail "the foreign program no longer runs (${n0:-?} -> ${n1:-?})"
}

if hk_supported; then
	run_test "foreign programs on the tracepoint: listed, left alone" test_foreign
else
	skip "foreign programs on the tracepoint: listed, left alone" "this kernel ($(uname -r)) has no tracepoint"
fi
