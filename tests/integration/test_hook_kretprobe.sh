#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# kretprobe: do_unlinkat, through the kprobe PMU and a perf event link,
# replaced make-before-break; a missing kernel function fails validation.
# With maxactive: a return probe made through tracefs kprobe_events
# ("r<N>:cnf_apply/..."), opened as a tracepoint perf event and linked;
# maxactive is part of the hook (a change replaces it), the event goes
# with its attachment, and events left behind are recognised by their
# program being gone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hook_family.sh"
lib_setup "$@"

HK_HOOK=kretprobe
HK_OBJ=trace
HK_ATT="    program: t/krp_unlink
    function: do_unlinkat"
HK_MISSING="    program: t/krp_unlink
    function: cnf_no_such_function"
HK_MISSING_MSG="no kernel function 'cnf_no_such_function'"
HK_REFUSE_MSG="kprobes are not available on this kernel"
HK_LINK_TYPE=perf_event
HK_UPDATE="replace make-before-break"
HK_SLOT=3
hk_trigger() { touch "$W/victim"; rm -f "$W/victim"; }

hook_family_suite

# --- maxactive: a kretprobe made through tracefs kprobe_events -------------

KP_EVENTS=/sys/kernel/tracing/kprobe_events

# kp_lines: the tool's events in kprobe_events ("r16:cnf_apply/... do_unlinkat").
kp_lines() {
	grep -E '^[pr][0-9]*:cnf_apply/' "$KP_EVENTS" 2>/dev/null
	return 0
}

# kp_hits EVENT: the event's hit count in kprobe_profile.
kp_hits() {
	awk -v e="$1" '$1 == e || $1 == "cnf_apply/" e { print $2 }' /sys/kernel/tracing/kprobe_profile
}

hk_maxactive_att() {
	printf '%s\n    maxactive: %s\n' "$HK_ATT" "$1"
}

test_maxactive() {
	local line event lid2 pid2 h1 h2
	hk_manifest "$W/m.yaml" "$(hk_maxactive_att 16)"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply with maxactive" || return
	assert_jq "$OUT" '.changed == true and .actions[0].action == "create"' "JSON: create" || return
	LID=$(jf "$OUT" '.actions[0].link_id')
	PID=$(jf "$OUT" '.actions[0].prog_id')
	# tracefs: one return probe event with 16 instances, named after the program.
	line=$(kp_lines)
	assert_eq "$(printf '%s\n' "$line" | grep -c .)" 1 "kprobe_events: one event of the tool" || { _show "$line"; return; }
	assert_match "$line" "^r16:cnf_apply/do_unlinkat_${PID}_[0-9a-f]{8} do_unlinkat" \
		"kprobe_events: r16 on do_unlinkat, named after program $PID"
	event=$(printf '%s\n' "$line" | sed -E 's/^[^/]*\/([^ ]*) .*/\1/')
	# bpftool: a perf event link of that program, a return probe.
	assert_jq "$(link_json "$LID")" ".type == \"perf_event\" and .prog_id == $PID" \
		"bpftool link: a perf_event link running the program"
	# (Where the kernel reports perf event link details, Linux 6.6+.)
	if link_json "$LID" | jq -e 'has("retprobe")' >/dev/null; then
		assert_jq "$(link_json "$LID")" '.retprobe == true and .func == "do_unlinkat"' \
			"bpftool link: a return probe on do_unlinkat"
	fi
	assert_eq "$(pinned_link_id "$(find "$T/bpffs/m/links/a1" -mindepth 1 -maxdepth 1 | head -n 1)")" "$LID" \
		"the link is pinned"
	# The program runs, through this very event (its hit count moves too).
	h1=$(kp_hits "$event")
	hk_fires "$PID" 1
	h2=$(kp_hits "$event")
	[ -n "$h2" ] && [ "$h2" -gt "${h1:-0}" ] ||
		_fail "kprobe_profile: event $event did not fire (${h1:-?} -> ${h2:-?})"
	cnf_json apply "$W/m.yaml"
	assert_jq "$OUT" '.changed == false' "second apply: nothing to do"
	assert_eq "$(kp_lines | wc -l)" 1 "second apply: still one event"
	cnf_json status "$W/m.yaml"
	assert_jq "$OUT" ".attachments[0].state == \"in-sync\" and .attachments[0].link_id == $LID" "status: in-sync"

	# maxactive is part of the hook: a change is a replacement.
	hk_manifest "$W/m.yaml" "$(hk_maxactive_att 32)"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply maxactive 32" || return
	assert_jq "$OUT" '.actions[0].action == "replace" and .actions[0].strategy == "make-before-break"' \
		"apply: replace make-before-break"
	lid2=$(jf "$OUT" '.actions[0].link_id')
	pid2=$(jf "$OUT" '.actions[0].prog_id')
	assert_ne "$lid2" "$LID" "a new link"
	link_exists "$LID" && _fail "the old link $LID still exists"
	line=$(kp_lines)
	assert_eq "$(printf '%s\n' "$line" | grep -c .)" 1 "kprobe_events: the old event is gone" || _show "$line"
	assert_match "$line" "^r32:cnf_apply/do_unlinkat_${pid2}_[0-9a-f]{8} do_unlinkat" "kprobe_events: r32"
	hk_fires "$pid2" 1

	# Delete: the link and the event go.
	hk_manifest "$W/m.yaml" none
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply without the attachment" || return
	link_exists "$lid2" && _fail "link $lid2 still exists"
	assert_eq "$(kp_lines)" "" "kprobe_events: no event of the tool left"
}

# Events a killed run left: one whose program is gone is removed by the
# next run that touches kprobes; one whose program exists is not (a run
# may be about to link it), nor is one a link uses.
test_maxactive_leftovers() {
	local keep
	echo "r8:cnf_apply/do_unlinkat_4000000000_0badf00d do_unlinkat" >>"$KP_EVENTS" ||
		{ _fail "cannot add a kprobe event"; return; }
	hk_manifest "$W/m.yaml" "$(hk_maxactive_att 8)"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply with maxactive" || return
	PID=$(jf "$OUT" '.actions[0].prog_id')
	kp_lines | grep -q 'do_unlinkat_4000000000_0badf00d' &&
		_fail "the leftover event of a program that is gone is still there"
	# An unused event naming the live program: kept while it lives, by a
	# run that attaches another kretprobe (and so tidies the group).
	keep="do_unlinkat_${PID}_00000000"
	echo "r8:cnf_apply/$keep do_unlinkat" >>"$KP_EVENTS" || { _fail "cannot add a kprobe event"; return; }
	{ echo "  - name: a2"; echo "    hook: $HK_HOOK"; hk_maxactive_att 4; } >>"$W/m.yaml"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply a second kretprobe" || return
	assert_jq "$OUT" '[.actions[] | .action] | sort == ["create", "noop"]' "a2 created, a1 kept"
	assert_eq "$(kp_lines | grep -c '^r4:')" 1 "kprobe_events: a2's event"
	kp_lines | grep -q "$keep" || _fail "an event naming a live program was removed"
	hk_manifest "$W/m.yaml" none
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply without the attachment" || return
	# The program is gone once its link is: the next run removes the rest.
	for _ in 1 2 3 4 5 6 7 8 9 10; do prog_exists "$PID" || break; sleep 0.3; done
	hk_manifest "$W/m.yaml" "$(hk_maxactive_att 8)"
	cnf_json apply "$W/m.yaml"
	kp_lines | grep -q "$keep" && _fail "the event of a program that is gone was not removed"
	hk_manifest "$W/m.yaml" none
	cnf_json apply "$W/m.yaml"
	assert_eq "$(kp_lines)" "" "kprobe_events: nothing of the tool left"
}

test_maxactive_refused() {
	local before
	hk_manifest "$W/m.yaml" "$(hk_maxactive_att 16)"
	before=$(snapshot_host)
	cnf_json apply "$W/m.yaml"
	assert_rc 1 "apply with maxactive on a kernel without kprobes"
	assert_match "$ERR" "$HK_REFUSE_MSG" "the refusal names what the kernel lacks"
	assert_at "$ERR" "$W/m.yaml" "$(line_of "$W/m.yaml" "- name: a1")"
	assert_unchanged "$before" "nothing changed"
}

# Refused before anything is looked at, naming file, line and entry:
# maxactive on a kprobe, out of range, not an integer.
mx_invalid() {
	local hook=$1 value=$2 want=$3 line
	HK_HOOK=$hook hk_manifest "$W/m.yaml" "    program: t/$([ "$hook" = kprobe ] && echo kp || echo krp)_unlink
    function: do_unlinkat
    maxactive: $value"
	line=$(line_of "$W/m.yaml" "maxactive:")
	cnf_json validate "$W/m.yaml"
	assert_rc 1 "validate, $hook maxactive $value"
	assert_contains "$ERR" "attachment 'a1' ($W/m.yaml:$line): $want" "the error names file, line and entry"
	cnf_json plan "$W/m.yaml"
	assert_rc 1 "plan, $hook maxactive $value"
	assert_contains "$ERR" "$want" "plan says why"
}

test_maxactive_invalid() {
	mx_invalid kprobe 8 "key 'maxactive' does not apply to hook 'kprobe'"
	mx_invalid kretprobe 0 "maxactive 0 is out of range (1..4096)"
	mx_invalid kretprobe 4097 "maxactive 4097 is out of range (1..4096)"
	mx_invalid kretprobe 1.5 "key 'maxactive': expected an integer, got '1.5'"
}

run_test "maxactive: refused on kprobes, out of range, not an integer" test_maxactive_invalid
# A return probe on do_unlinkat that another tool attached (bpftool ...
# autoattach) is listed by status, an entry probe there is not; destroy
# leaves both.
test_foreign() {
	local rlid rpid elid
	bpftool prog loadall "$W/objs/foreign_kprobe.bpf.o" "$T/fpin/fk" autoattach >/dev/null 2>&1 ||
		{ _fail "bpftool prog loadall foreign_kprobe.bpf.o autoattach"; return; }
	rlid=$(pinned_link_id "$T/fpin/fk/krp_foreign")
	rpid=$(link_prog_id "$rlid")
	elid=$(pinned_link_id "$T/fpin/fk/kp_foreign")
	# Perf event link details (what the match needs) come with Linux 6.6.
	if ! link_json "$rlid" | jq -e 'has("retprobe")' >/dev/null; then
		t_skip "this kernel ($(uname -r)) does not report perf event link details"
		return
	fi
	assert_jq "$(link_json "$rlid")" '.type == "perf_event" and .retprobe == true' \
		"bpftool link: the foreign return probe" || return
	hk_manifest "$W/m.yaml" "$(hk_maxactive_att 8)"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply next to the foreign probes" || return
	LID=$(jf "$OUT" '.actions[0].link_id')
	cnf_json status "$W/m.yaml"
	assert_rc 0 "status: in sync"
	assert_jq "$OUT" ".attachments[0].foreign | any(.prog_id == $rpid and .link_id == $rlid and
		.prog_name == \"krp_foreign\")" "status lists the foreign return probe with its ids and name"
	assert_jq "$OUT" "all(.attachments[0].foreign[]; .link_id != $elid and .link_id != $LID)" \
		"status lists neither the entry probe nor its own link"
	cnf_json destroy "$W/m.yaml"
	assert_rc 0 "destroy"
	assert_ok "foreign return probe kept" link_exists "$rlid"
	assert_ok "foreign entry probe kept" link_exists "$elid"
	assert_eq "$(kp_lines)" "" "kprobe_events: nothing of the tool left"
}

if hk_supported; then
	run_test "maxactive: a tracefs return probe, replaced on change, removed" test_maxactive
	run_test "maxactive: events left behind are recognised" test_maxactive_leftovers
	run_test "foreign return probes on the function: listed, left alone" test_foreign
else
	run_test "maxactive: refused on a kernel without kprobes" test_maxactive_refused
	skip "maxactive: a tracefs return probe, replaced on change, removed" \
		"this kernel ($(uname -r)) has no kretprobe (cnf-apply probe)"
	skip "maxactive: events left behind are recognised" \
		"this kernel ($(uname -r)) has no kretprobe (cnf-apply probe)"
	skip "foreign return probes on the function: listed, left alone" \
		"this kernel ($(uname -r)) has no kretprobe (cnf-apply probe)"
fi
