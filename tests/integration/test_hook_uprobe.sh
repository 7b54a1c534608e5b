#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# uprobe and uretprobe: uname() of the C library, named as a library
# (libc.so.6, found like the dynamic linker would), through the uprobe PMU
# and a perf event link, replaced make-before-break; a missing binary fails
# validation (and a symbol the binary only imports is explained). Then, for
# uprobe, `pid:` and other tools' uprobes on the function.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hook_family.sh"
lib_setup "$@"

# uprobe_family HOOK PROGRAM SLOT: the family's variables for hook_family.sh.
uprobe_family() {
	HK_HOOK=$1
	HK_PROG=t/$2
	HK_OBJ=trace
	HK_ATT="    program: $HK_PROG
    binary: libc.so.6
    symbol: uname"
	HK_MISSING="    program: $HK_PROG
    binary: /nonexistent/cnf-test-binary
    symbol: uname"
	HK_MISSING_MSG="binary '/nonexistent/cnf-test-binary' not found"
	HK_REFUSE_MSG="uprobes are not available on this kernel"
	HK_LINK_TYPE=perf_event
	HK_UPDATE="replace make-before-break"
	HK_SLOT=$3
}
hk_trigger() { uname >/dev/null; uname -r >/dev/null; }

test_imported_symbol() {
	local before
	hk_manifest "$W/m.yaml" "    program: $HK_PROG
    binary: $(command -v uname)
    symbol: uname"
	before=$(snapshot_host)
	cnf_json apply "$W/m.yaml"
	assert_rc 1 "a symbol the binary imports"
	assert_contains "$ERR" "comes from a shared library" "the error says where the symbol is"
	hk_manifest "$W/m.yaml" "    program: $HK_PROG
    binary: libc.so.6
    symbol: cnf_no_such_symbol"
	cnf_json apply "$W/m.yaml"
	assert_rc 1 "a symbol that is nowhere"
	assert_contains "$ERR" "no function 'cnf_no_such_symbol'" "the error names the symbol"
	assert_unchanged "$before" "nothing changed"
}

for family in "uprobe up_func 7" "uretprobe urp_func 8"; do
	# shellcheck disable=SC2086
	uprobe_family $family
	hook_family_suite "$HK_HOOK"
	if hk_supported; then
		run_test "$HK_HOOK: symbol imported or missing" test_imported_symbol
	fi
done
uprobe_family uprobe up_func 7

# --- pid: one process only ----------------------------------------------------

# up_count PROG_ID SLOT: the program's counter in that slot (0 if unset).
up_count() {
	local m
	for m in $(bt prog show id "$1" | jq -r '.map_ids[]?'); do
		if [ "$(bt map show id "$m" | jq -r '.name')" = counters ]; then
			bt map lookup id "$m" key "$2" 0 0 0 | jq -r '.formatted.value // 0'
			return 0
		fi
	done
	echo 0
}

# A bash reading lines from a FIFO runs `:` (bash's colon_builtin) once
# per line and acknowledges it; the probe on colon_builtin with `pid:`
# must count exactly those calls, while a second probe on the same
# function without `pid:` also sees every other bash running `:`.
test_pid() {
	local bash helper n i lid pid_prog all_prog c_pid c_all
	bash=$(realpath "$(command -v bash)")
	readelf --dyn-syms -W "$bash" | awk '$8 == "colon_builtin"' | grep -q . || {
		t_skip "$bash exports no colon_builtin symbol"
		return
	}
	mkfifo "$W/ctl"
	exec 7<>"$W/ctl"
	"$bash" -c 'while read -r l; do :; printf "%s\n" "$l" >>"$1"; done' helper "$W/ack" <&7 &
	helper=$!
	track_pid "$helper"
	cat >"$W/m.yaml" <<EOF2
apiVersion: cnf-apply/v1
name: m
objects:
  - name: t
    file: objs/trace_v1.bpf.o
attachments:
  - name: one
    program: t/up_func
    hook: uprobe
    binary: $bash
    symbol: colon_builtin
    pid: $helper
  - name: every
    program: t/urp_func
    hook: uretprobe
    binary: $bash
    symbol: colon_builtin
EOF2
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply a uprobe with pid" || { exec 7>&-; return; }
	assert_jq "$OUT" "[.actions[] | select(.attachment == \"one\") | .target] == [\"$bash:colon_builtin@pid$helper\"]" \
		"JSON: the target names the process"
	lid=$(jf "$OUT" '.actions[] | select(.attachment == "one") | .link_id')
	pid_prog=$(jf "$OUT" '.actions[] | select(.attachment == "one") | .prog_id')
	all_prog=$(jf "$OUT" '.actions[] | select(.attachment == "every") | .prog_id')
	assert_jq "$(link_json "$lid")" ".type == \"perf_event\" and .prog_id == $pid_prog" \
		"bpftool link: a perf_event link of the pid-bound probe"
	# Other processes run colon_builtin: this shell and two others.
	for i in 1 2 3 4 5; do :; done
	"$bash" -c ': ; : ; :'
	"$bash" -c ': ; :'
	# The helper runs it three times.
	for i in 1 2 3; do echo "line $i" >&7; done
	for i in $(seq 50); do
		[ "$(wc -l <"$W/ack" 2>/dev/null || echo 0)" -ge 3 ] && break
		sleep 0.1
	done
	assert_eq "$(wc -l <"$W/ack")" 3 "the helper handled three lines"
	c_pid=$(up_count "$pid_prog" 7)
	c_all=$(up_count "$all_prog" 8)
	assert_eq "$c_pid" 3 "the probe with pid $helper counted the helper's three calls only"
	[ "$c_all" -ge 13 ] || _fail "the probe without pid counted $c_all calls, expected at least 13 (every process)"
	cnf_json status "$W/m.yaml"
	assert_jq "$OUT" '[.attachments[].state] == ["in-sync", "in-sync"]' "status: both in-sync"
	# The process gone: the pid no longer exists, plan refuses to attach there.
	exec 7>&-
	kill "$helper" 2>/dev/null
	wait "$helper" 2>/dev/null
	cnf_json plan "$W/m.yaml"
	assert_rc 1 "plan with a pid that is gone"
	assert_contains "$ERR" "no process with pid $helper" "the error names the pid"
	assert_at "$ERR" "$W/m.yaml" "$(line_of "$W/m.yaml" "- name: one")"
}

# A uprobe another tool attached on uname() of the C library (bpftool
# ... autoattach, libbpf resolving the library its own way) is listed by
# status; apply and destroy leave it attached.
test_foreign() {
	local flid fpid
	bpftool prog loadall "$W/objs/foreign_trace.bpf.o" "$T/fpin/ft" autoattach >/dev/null 2>&1 ||
		{ _fail "bpftool prog loadall foreign_trace.bpf.o autoattach"; return; }
	flid=$(pinned_link_id "$T/fpin/ft/up_foreign")
	fpid=$(link_prog_id "$flid")
	# Perf event link details (what the match needs) come with Linux 6.6.
	if ! link_json "$flid" | jq -e 'has("retprobe")' >/dev/null; then
		t_skip "this kernel ($(uname -r)) does not report perf event link details"
		return
	fi
	assert_jq "$(link_json "$flid")" '.type == "perf_event" and .retprobe == false' \
		"bpftool link: the foreign uprobe" || return
	hk_apply_create || return
	cnf_json status "$W/m.yaml"
	assert_rc 0 "status: in sync"
	assert_jq "$OUT" ".attachments[0].foreign | any(.prog_id == $fpid and .link_id == $flid and
		.prog_name == \"up_foreign\")" "status lists the foreign uprobe with its ids and name"
	assert_jq "$OUT" "all(.attachments[0].foreign[]; .link_id != $LID)" "status does not list its own"
	# On another function of the same library, it is not on the hook.
	hk_manifest "$W/m.yaml" "    program: t/up_func
    binary: libc.so.6
    symbol: getpid"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply on getpid()" || return
	cnf_json status "$W/m.yaml"
	assert_jq "$OUT" "all(.attachments[0].foreign[]; .link_id != $flid)" \
		"the uprobe on uname() is not listed on getpid()"
	cnf_json destroy "$W/m.yaml"
	assert_rc 0 "destroy"
	assert_ok "foreign uprobe link kept" link_exists "$flid"
	assert_eq "$(link_prog_id "$flid")" "$fpid" "the foreign link still runs its program"
}

if hk_supported; then
	run_test "pid: only that process's calls are counted" test_pid
	run_test "foreign uprobes on the function: listed, left alone" test_foreign
else
	skip "pid: only that process's calls are counted" "this kernel ($(uname -r)) has no uprobe (cnf-apply probe)"
	skip "foreign uprobes on the function: listed, left alone" "this kernel ($(uname -r)) has no uprobe (cnf-apply probe)"
fi
