#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The Salt modules of contrib/salt/ (execution module cnf_apply: apply,
# plan, status, destroy; states cnf_apply.applied and cnf_apply.absent),
# without Salt, which Debian 12 does not package: tests/tools/salt_harness.py
# loads them as Salt's own unit tests do, injecting __salt__ (a real
# cmd.run_all over subprocess; for the states, the execution module's
# functions), __opts__ and __context__, so the real cnf-apply runs against
# the real kernel. Salt's loader, minion and renderers are not run.
# Checked: Salt's return contract (name, changes, result, comment), test=True
# (result None with the pending changes, nothing attached), idempotence,
# absent with an orphan, the tool's error in the comment; and bpftool.
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$(realpath "$0")")/../.." && pwd)
HARNESS=$ROOT/tests/tools/salt_harness.py
lib_setup "$@"

# salt KIND FUNCTION ARGS_JSON [--test]: the result in $S.
salt() {
	echo "\$ salt_harness $*"
	S=$(/usr/bin/python3 "$HARNESS" "$@" 2>&1)
	_show "$S"
}

setup_set() {
	veth_add eth0 eth0p || return 1
	mkdir -p "$W/d"
	cp "$W/objs/xdp_v1.bpf.o" "$W/objs/tc_v1.bpf.o" "$W/d/"
	cat >"$W/d/10-edge.yaml" <<'EOF'
apiVersion: cnf-apply/v1
name: edge
objects:
  - name: fw
    file: xdp_v1.bpf.o
attachments:
  - name: fw-eth0
    program: fw/xdp_main
    hook: xdp
    interface: eth0
EOF
	cat >"$W/d/20-count.yaml" <<'EOF'
apiVersion: cnf-apply/v1
name: count
objects:
  - name: tc
    file: tc_v1.bpf.o
attachments:
  - name: count-in
    program: tc/tc_main
    hook: tcx
    interface: eth0
    direction: ingress
EOF
	ARGS=$(jq -n -c --arg n "$W/d" --arg b "$T/bpffs" --arg bin "$CNF" '{name: $n, bpffs: $b, binary: $bin}')
}

# The state's return dict follows Salt's contract.
assert_contract() {
	assert_jq "$S" 'keys == ["changes", "comment", "name", "result"] and (.changes | type) == "object"
		and (.comment | type) == "string"' "$1: Salt's return dict (name, changes, result, comment)"
}

test_applied() {
	local snap

	setup_set || return
	PATH=$(dirname "$CNF"):$PATH salt virtual
	assert_jq "$S" '.module == "cnf_apply" and .state == "cnf_apply"' \
		"__virtual__: both load when cnf-apply is in PATH"

	snap=$(net_json | jq -c '.[0] | {xdp, tc}')
	salt state applied "$ARGS" --test
	assert_contract "applied, test=True"
	assert_jq "$S" ".result == null and .name == \"$W/d\"" "test=True: result None (changes pending)"
	assert_jq "$S" '.changes | keys == ["count/count-in eth0", "edge/fw-eth0 eth0"]
		and all(.[]; .action == "create")' "test=True: the pending creates in changes"
	assert_eq "$(net_json | jq -c '.[0] | {xdp, tc}')" "$snap" "test=True: bpftool net unchanged"

	salt state applied "$ARGS"
	assert_contract "applied"
	assert_jq "$S" '.result == true and (.changes | length) == 2' "applied: result True, two changes"
	assert_ne "$(xdp_prog_id eth0)" "" "bpftool net: XDP on eth0"
	assert_eq "$(tcx_names eth0 ingress)" "tc_main" "bpftool net: tcx on eth0"

	salt state applied "$ARGS"
	assert_jq "$S" '.result == true and .changes == {} and .comment == "Nothing to change"' \
		"applied again: True, no changes"
	salt state applied "$ARGS" --test
	assert_jq "$S" '.result == true and .changes == {}' "test=True when in sync: result True"

	# The execution module's functions.
	salt module status "$(jq -c '{paths: .name, bpffs, binary}' <<<"$ARGS")"
	assert_jq "$S" '.in_sync == true and .retcode == 0 and (.attachments | length) == 2' "cnf_apply.status"
	assert_eq "$(jf "$S" '.attachments[] | select(.attachment == "fw-eth0") | .prog_id')" "$(xdp_prog_id eth0)" \
		"cnf_apply.status: the prog_id bpftool sees"
	cp "$W/objs/xdp_v2.bpf.o" "$W/d/xdp_v1.bpf.o"
	salt module plan "$(jq -c '{paths: [.name], bpffs, binary}' <<<"$ARGS")"
	assert_jq "$S" '.retcode == 2 and ([.actions[] | select(.action != "noop") | .action] == ["update"])' \
		"cnf_apply.plan: an update, exit 2 is not an error"

	# An error: the tool's message in the comment, result False.
	sed -i 's/interface: eth0$/interface: eth9/' "$W/d/10-edge.yaml"
	salt state applied "$ARGS"
	assert_contract "applied, failing"
	assert_jq "$S" '.result == false and .changes == {}' "a failing apply: result False"
	assert_contains "$(jf "$S" .comment)" "interface 'eth9' not found" "the comment is the tool's error"
	salt module apply "$(jq -c '{paths: .name, bpffs, binary}' <<<"$ARGS")"
	assert_jq "$S" '.exception == "CommandExecutionError"' "cnf_apply.apply raises CommandExecutionError"
}

test_absent() {
	local want

	setup_set || return
	salt state applied "$ARGS"
	assert_jq "$S" '.result == true' "applied" || return
	# 20-count.yaml removed by hand: its attachment is an orphan.
	rm "$W/d/20-count.yaml"
	salt state absent "$ARGS" --test
	assert_contract "absent, test=True"
	want='["count/count-in eth0", "edge/fw-eth0 eth0"]'
	assert_jq "$S" ".result == null and (.changes | keys) == $want and all(.changes[]; .action == \"delete\")" \
		"absent, test=True: result None, both deletes pending (the orphan's too)"
	assert_eq "$(tcx_names eth0 ingress)" "tc_main" "test=True: bpftool: still attached"

	salt state absent "$ARGS"
	assert_jq "$S" ".result == true and (.changes | keys) == $want" "absent: True, both removed"
	assert_eq "$(xdp_prog_id eth0)$(tcx_names eth0 ingress)" "" "bpftool net: nothing on eth0"
	salt state absent "$ARGS" --test
	assert_jq "$S" '.result == true and .changes == {}' "absent again, test=True: nothing to do"
}

if ! /usr/bin/python3 -c 'import json, subprocess' 2>/dev/null; then
	skip "salt" "no /usr/bin/python3"
	exit 0
fi
run_test "cnf_apply.applied: test=True pending, apply, idempotent, errors; execution functions" test_applied
run_test "cnf_apply.absent: test=True pending (an orphan too), destroy, then nothing" test_absent
