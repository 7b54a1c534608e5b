#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Legacy tc attachments (clsact + cls_bpf): priority and handle, update at
# the same handle, delete, and filters of other tools on the same hook.
. "$(dirname "$0")/lib.sh"
lib_setup "$@"

# write_tc FILE: attachment `in` (o/tc_main, k0 ingress, prio 10, handle 1)
# and `out` (o/tc_second, k0 egress, prio 20, handle 2); o is objs/tc.bpf.o.
write_tc() {
	[ -e "$W/objs/tc.bpf.o" ] || cp "$W/objs/tc_v1.bpf.o" "$W/objs/tc.bpf.o"
	cat >"$1" <<EOF
apiVersion: cnf-apply/v1
name: m
objects:
  - name: o
    file: objs/tc.bpf.o
  - name: s
    file: objs/tc_v1.bpf.o
attachments:
  - name: in
    program: o/tc_main
    hook: tc
    interface: k0
    direction: ingress
    priority: 10
    handle: 1
  - name: out
    program: s/tc_second
    hook: tc
    interface: k0
    direction: egress
    priority: 20
    handle: 2
EOF
}

# filter_at DEV DIR PREF HANDLE -> the bpf filters there (JSON array)
filter_at() {
	tc_filters "$1" "$2" | jq -c --argjson p "$3" --arg h "$(printf '0x%x' "$4")" \
		'[.[] | select(.pref == $p and .options.handle == $h)]'
}

test_create() {
	local in_pid out_pid

	veth_add k0 k0p
	write_tc "$W/m.yaml"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	assert_jq "$OUT" '(.actions | length) == 2 and all(.actions[]; .action == "create" and .hook == "tc")' \
		"JSON: two creates"
	in_pid=$(jf "$OUT" '.actions[] | select(.attachment == "in") | .prog_id')
	out_pid=$(jf "$OUT" '.actions[] | select(.attachment == "out") | .prog_id')

	assert_jq "$(filter_at k0 ingress 10 1)" "length == 1 and .[0].options.prog.id == $in_pid
		and .[0].options.prog.name == \"tc_main\" and .[0].options[\"direct-action\"] == true" \
		"tc filter: ingress pref 10 handle 0x1 runs tc_main"
	assert_jq "$(filter_at k0 egress 20 2)" "length == 1 and .[0].options.prog.id == $out_pid
		and .[0].options.prog.name == \"tc_second\"" "tc filter: egress pref 20 handle 0x2 runs tc_second"
	assert_jq "$(tc_filters k0 ingress)" 'length == 1' "exactly one ingress filter"
	assert_eq "$(net_json | jq -r '[.[0].tc[] | select(.devname == "k0" and .kind == "clsact/ingress")] | length')" 1 \
		"bpftool net: one clsact ingress program"
	assert_eq "$(pinned_prog_id "$(pin_of m in k0)")" "$in_pid" "the program is pinned at <root>/m/links/in/k0"

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "second apply"
	assert_jq "$OUT" '.changed == false' "second apply: nothing to do"
	assert_jq "$(filter_at k0 ingress 10 1)" "length == 1 and .[0].options.prog.id == $in_pid" "filter unchanged"
}

test_update_same_handle() {
	local pid newpid

	veth_add k0 k0p
	write_tc "$W/m.yaml"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v1" || return
	pid=$(jf "$OUT" '.actions[] | select(.attachment == "in") | .prog_id')

	cp "$W/objs/tc_v2.bpf.o" "$W/objs/tc.bpf.o"
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan sees the new program"
	assert_jq "$OUT" '.actions[] | select(.attachment == "in") | .action == "update"' "plan: in updated"
	assert_jq "$OUT" '.actions[] | select(.attachment == "out") | .action == "noop"' "plan: out untouched"

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v2" || return
	newpid=$(jf "$OUT" '.actions[] | select(.attachment == "in") | .prog_id')
	assert_ne "$newpid" "$pid" "new program id"
	assert_jq "$(filter_at k0 ingress 10 1)" "length == 1 and .[0].options.prog.id == $newpid" \
		"tc filter: the same pref/handle runs the new program"
	assert_jq "$(tc_filters k0 ingress)" 'length == 1' "still exactly one ingress filter"
	assert_eq "$(pinned_prog_id "$(pin_of m in k0)")" "$newpid" "the pin holds the new program"
	prog_exists "$pid" && _fail "the old program $pid is still loaded"
}

test_delete_keeps_others() {
	local fid

	veth_add k0 k0p
	write_tc "$W/m.yaml"
	# Another tool's filter on the same hook, at another priority.
	tc qdisc add dev k0 clsact 2>/dev/null
	tc filter add dev k0 ingress prio 5 handle 7 bpf da obj "$W/objs/foreign.bpf.o" sec tc ||
		{ _fail "tc filter add"; return; }
	fid=$(filter_at k0 ingress 5 7 | jq -r '.[0].options.prog.id')

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply next to a foreign filter" || return
	assert_jq "$(filter_at k0 ingress 5 7)" ".[0].options.prog.id == $fid" "the foreign filter is kept by apply"

	sed -i '/^attachments:/,$d' "$W/m.yaml"
	echo "attachments: []" >>"$W/m.yaml"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply without attachments"
	assert_jq "$OUT" '[.actions[] | select(.action == "delete")] | length == 2' "JSON: two deletes"
	assert_eq "$(filter_at k0 ingress 10 1)" "[]" "tc filter: ours gone from ingress"
	assert_eq "$(filter_at k0 egress 20 2)" "[]" "tc filter: ours gone from egress"
	assert_jq "$(filter_at k0 ingress 5 7)" "length == 1 and .[0].options.prog.id == $fid" \
		"the foreign filter is still there"
	assert_not_exists "$(pin_of m in k0)" "pin gone"
}

test_foreign_same_handle() {
	local fid before

	veth_add k0 k0p
	write_tc "$W/m.yaml"
	tc qdisc add dev k0 clsact 2>/dev/null
	tc filter add dev k0 ingress prio 10 handle 1 bpf da obj "$W/objs/foreign.bpf.o" sec tc ||
		{ _fail "tc filter add"; return; }
	fid=$(filter_at k0 ingress 10 1 | jq -r '.[0].options.prog.id')
	before=$(snapshot_host)

	cnf_run apply "$W/m.yaml"
	assert_rc 1 "apply onto another tool's filter"
	assert_contains "$ERR" "'in'" "the error names the attachment"
	assert_match "$ERR" "(tc_foreign|$fid)" "the error names the foreign program"
	assert_unchanged "$before" "a refused apply changes nothing"
	assert_jq "$(filter_at k0 ingress 10 1)" "length == 1 and .[0].options.prog.id == $fid" \
		"the foreign filter is untouched"
}

clsact_on() {         # clsact_on DEV -> "yes" when DEV has a clsact qdisc (tc -j)
	tc -j qdisc show dev "$1" | jq -r 'if any(.[]; .kind == "clsact") then "yes" else "no" end'
}

# The reported case: destroy of a tc attachment left the clsact qdisc that
# apply created. One that existed before, or that still holds another
# tool's filter, stays.
test_clsact_collected() {
	local fid

	veth_add k0 k0p
	veth_add k1 k1p
	write_tc "$W/m.yaml"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	assert_eq "$(clsact_on k0)" yes "tc: apply created clsact on k0"
	cnf_json destroy "$W/m.yaml"
	assert_rc 0 "destroy" || return
	assert_eq "$(clsact_on k0)" no "tc: destroy removed the clsact it created"
	assert_not_exists "$T/bpffs/_cnf/clsact" "no mark is left"

	# Created by the tool, but another tool's filter came since: it stays.
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply again" || return
	tc filter add dev k0 ingress prio 5 handle 7 bpf da obj "$W/objs/foreign.bpf.o" sec tc ||
		{ _fail "tc filter add"; return; }
	fid=$(filter_at k0 ingress 5 7 | jq -r '.[0].options.prog.id')
	cnf_json destroy "$W/m.yaml"
	assert_rc 0 "destroy next to a foreign filter" || return
	assert_eq "$(clsact_on k0)" yes "tc: clsact stays while it holds a foreign filter"
	assert_jq "$(filter_at k0 ingress 5 7)" ".[0].options.prog.id == $fid" "the foreign filter is kept"
	tc qdisc del dev k0 clsact

	# There before apply: it stays.
	sed -i 's/interface: k0/interface: k1/' "$W/m.yaml"
	tc qdisc add dev k1 clsact || { _fail "tc qdisc add"; return; }
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply on k1" || return
	cnf_json destroy "$W/m.yaml"
	assert_rc 0 "destroy on k1" || return
	assert_eq "$(clsact_on k1)" yes "tc: a clsact that existed before stays"
	assert_eq "$(tc -j filter show dev k1 ingress | jq length)" 0 "tc: our filters are gone"
}

run_test "filters at the given priority and handle" test_create
run_test "update replaces the program at the same handle" test_update_same_handle
run_test "delete removes only our filters" test_delete_keeps_others
run_test "a foreign filter at our priority/handle is refused" test_foreign_same_handle
run_test "a clsact qdisc apply created goes with its last filter, no other" test_clsact_collected
