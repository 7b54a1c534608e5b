#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The command line: verbs, exit codes, --json, validate without root,
# probe, destroy and destroy --all.
. "$(dirname "$0")/lib.sh"
lib_setup "$@"

# write_m FILE NAME DEV: xdp on DEV and tcx ingress on DEV.
write_m() {
	cat >"$1" <<EOF
apiVersion: cnf-apply/v1
name: $2
objects:
  - name: x
    file: objs/xdp_v1.bpf.o
  - name: t
    file: objs/tc_v1.bpf.o
attachments:
  - name: fw
    program: x/xdp_main
    hook: xdp
    interface: $3
  - name: count
    program: t/tc_main
    hook: tcx
    interface: $3
    direction: ingress
EOF
}

# one_json_doc: $OUT is exactly one JSON document.
one_json_doc() {
	assert_eq "$(jq -s 'length' <<<"$OUT" 2>&1)" 1 "$1: stdout is exactly one JSON document"
}

test_plan_exit_codes() {
	veth_add e0 e0p
	write_m "$W/m.yaml" m e0
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan with changes pending"
	one_json_doc plan
	assert_jq "$OUT" '.changed == true' "plan: changed"
	cnf_run plan "$W/m.yaml"
	assert_rc 2 "plan (text) with changes pending"
	assert_ne "$OUT" "" "plan (text) prints the plan"
	assert_eq "$(xdp_prog_id e0)" "" "plan attached nothing"

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply"
	one_json_doc apply
	cnf_json plan "$W/m.yaml"
	assert_rc 0 "plan with nothing to do"
	assert_jq "$OUT" '.changed == false and (.actions | length) == 2 and all(.actions[]; .action == "noop")' \
		"plan: noops listed"
}

test_detailed_exitcode() {
	veth_add e0 e0p
	write_m "$W/m.yaml" m e0
	cnf_json apply --detailed-exitcode "$W/m.yaml"
	assert_rc 2 "apply --detailed-exitcode that changed something"
	assert_jq "$OUT" '.changed == true' "changed"
	assert_ne "$(xdp_prog_id e0)" "" "it did apply"
	cnf_json apply --detailed-exitcode "$W/m.yaml"
	assert_rc 0 "apply --detailed-exitcode with nothing to change"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "plain apply"
}

test_default_verb() {
	veth_add e0 e0p
	write_m "$W/m.yaml" m e0
	cnf_json "$W/m.yaml"
	assert_rc 0 "no verb means apply"
	assert_jq "$OUT" '.changed == true' "it applied"
	assert_ne "$(xdp_prog_id e0)" "" "bpftool net: attached"
}

# A word that is no verb and cannot be a PATH (it does not exist, has no
# '/' and no .yaml/.yml suffix) is a mistyped verb; one that exists is a
# PATH, and apply the verb.
test_unknown_verb() {
	veth_add e0 e0p
	write_m "$W/m.yaml" m e0
	cnf_json stauts
	assert_rc 1 "a mistyped verb"
	one_json_doc "unknown verb"
	assert_jq "$OUT" '.error | contains("unknown verb '"'stauts'"'")' "JSON: the error names the word"
	assert_contains "$ERR" "did you mean 'status'?" "a hint for the verb meant"
	assert_contains "$ERR" "plan, apply, status, destroy, validate, probe, watch" "the verbs listed"
	assert_not_contains "$ERR" "No such file" "not taken for a missing manifest"
	cnf_run aply "$W"
	assert_rc 1 "a mistyped verb before a PATH"
	assert_contains "$ERR" "did you mean 'apply'?" "a hint for apply"
	cnf_run frobnicate
	assert_rc 1 "a word close to no verb"
	assert_contains "$ERR" "unknown verb 'frobnicate' (verbs:" "listed without a guess"
	assert_eq "$(state_pins)" "" "nothing pinned"
	assert_eq "$(xdp_prog_id e0)" "" "bpftool net: nothing attached"

	# An existing directory named without a '/' is a PATH: apply.
	echo "\$ (cd \$T) cnf-apply --json w"
	(cd "$T" && "$CNF" --bpffs "$T/bpffs" --json w >"$T/stdout" 2>"$T/stderr")
	RC=$? ERR=$(cat "$T/stderr")
	assert_rc 0 "a bare directory name applies"
	assert_jq "$(cat "$T/stdout")" '.verb == "apply" and .changed == true' "JSON: applied"
	assert_ne "$(xdp_prog_id e0)" "" "bpftool net: attached"
	cnf_json "$W/nothing-here.yaml"
	assert_rc 1 "a missing manifest"
	assert_contains "$ERR" "nothing-here.yaml" "is a missing PATH, not a verb"
}

# VERB --help: that verb's usage and exactly the options it takes, the
# same as the bash completion offers after it.
test_verb_help() {
	local v got want

	cnf_run plan --help
	assert_rc 0 "plan --help"
	assert_contains "$OUT" "Usage: cnf-apply [OPTIONS] plan [PATH...]" "plan's own usage line"
	assert_contains "$OUT" "--dry-run" "plan's options"
	assert_not_contains "$OUT" "--interval" "not watch's"
	assert_not_contains "$OUT" "Verbs" "not the general help"
	cnf_run --help probe
	assert_rc 0 "--help probe"
	assert_contains "$OUT" "Usage: cnf-apply [OPTIONS] probe"$'\n' "probe takes no PATH"
	for v in plan apply status destroy validate probe watch; do
		cnf_run "$v" --help
		assert_rc 0 "$v --help"
		got=$(grep '^  -' <<<"$OUT" | sed 's/  \+[^-].*//; s/,/ /g' | tr ' ' '\n' | grep '^-' | sort | xargs)
		want=$(. "$(dirname "$0")/../../completion/cnf-apply.bash" && _cnf_apply_opts "$v" |
			tr ' ' '\n' | sort | xargs)
		assert_eq "$got" "$want" "$v --help lists the options the completion offers after $v"
	done
	cnf_run --help
	assert_contains "$OUT" "Verbs" "--help alone: the general help"
}

test_status_exit_codes() {
	veth_add e0 e0p
	write_m "$W/m.yaml" m e0
	cnf_json status "$W/m.yaml"
	assert_rc 2 "status before apply"
	one_json_doc status
	assert_jq "$OUT" '(.attachments | length) == 2 and all(.attachments[]; .state == "missing")' \
		"status: both missing"
	cnf_json apply "$W/m.yaml"
	cnf_json status "$W/m.yaml"
	assert_rc 0 "status in sync"
	assert_jq "$OUT" 'all(.attachments[]; .state == "in-sync")' "status: both in sync"
	cnf_run status "$W/m.yaml"
	assert_rc 0 "status (text) in sync"
	rm -f "$(pin_of m fw e0)"
	cnf_json status "$W/m.yaml"
	assert_rc 2 "status with a link gone"
}

# as_nobody ARGS...: cnf-apply ARGS as uid/gid 65534 without capabilities
# (no --bpffs); stdout in $OUT, stderr in $ERR, exit status in $RC.
as_nobody() {
	echo "\$ (as nobody) cnf-apply $*"
	setpriv --reuid=65534 --regid=65534 --clear-groups -- "$CNF" "$@" >"$T/stdout" 2>"$T/stderr"
	RC=$?
	OUT=$(cat "$T/stdout")
	ERR=$(cat "$T/stderr")
	echo "  -> exit $RC"
	[ -n "$ERR" ] && _show "$ERR"
	return 0
}

test_validate_unprivileged() {
	command -v setpriv >/dev/null || { t_skip "setpriv not installed"; return; }
	veth_add e0 e0p
	write_m "$W/m.yaml" m e0
	chmod -R a+rX "$W"

	as_nobody --json validate "$W/m.yaml"
	assert_rc 0 "validate as nobody"
	one_json_doc validate

	sed -i 's/program: x\/xdp_main/program: x\/no_such_prog/' "$W/m.yaml"
	as_nobody validate "$W/m.yaml"
	assert_rc 1 "validate of a broken manifest as nobody"
	assert_at "$ERR" "$W/m.yaml" "$(line_of "$W/m.yaml" "name: fw")" "$(line_of "$W/m.yaml" no_such_prog)"
	assert_contains "$ERR" "no_such_prog" "names the program"
	assert_eq "$(state_pins)" "" "validate pinned nothing"
}

# validate touches no kernel: a netkit attachment (a family whose kernel
# support only bpf() tells, and only to root) validates the same as root
# and as a user, with no bpf() call; plan, which checks the kernel, is
# where a kernel without netkit refuses it.
test_validate_same_for_root() {
	command -v setpriv >/dev/null || { t_skip "setpriv not installed"; return; }
	cat >"$W/nk.yaml" <<EOF
apiVersion: cnf-apply/v1
name: nk
objects:
  - name: t
    file: objs/tc_v1.bpf.o
attachments:
  - name: mon
    program: t/tc_main
    hook: netkit
    interface: nk0
EOF
	chmod -R a+rX "$W"
	as_nobody --json validate "$W/nk.yaml"
	assert_rc 0 "validate of a netkit attachment as nobody"
	if cnf_strace validate "$W/nk.yaml"; then
		assert_rc 0 "validate of a netkit attachment as root, the same"
		assert_eq "$(grep -c 'bpf(' "$T/strace.log")" 0 "validate as root made no bpf() call"
	else
		cnf_json validate "$W/nk.yaml"
		assert_rc 0 "validate of a netkit attachment as root, the same"
	fi
	cnf_json plan "$W/nk.yaml"
	assert_rc 1 "plan checks the kernel and the interface"
	assert_eq "$(state_pins)" "" "nothing pinned"
}

test_probe() {
	cnf_json probe
	assert_rc 0 "probe"
	one_json_doc probe
	assert_jq "$OUT" '.features.tcx == true' "probe: tcx on this kernel"
	CNF_APPLY_FORCE_NO_TCX=1 cnf_json probe
	assert_jq "$OUT" '.features.tcx == false' "probe with CNF_APPLY_FORCE_NO_TCX=1: no tcx"
}

test_json_errors() {
	cnf_json apply "$W/does-not-exist.yaml"
	assert_rc 1 "apply of a missing file"
	one_json_doc "error"
	assert_jq "$OUT" '(.error | type) == "string" and (.error | length) > 0' "JSON: error message"
	assert_jq "$OUT" '(.errors | type) == "array" and (.errors | length) >= 1' "JSON: errors list"
	assert_contains "$ERR" "does-not-exist.yaml" "stderr names the file"

	cnf_json no-such-verb "$W/does-not-exist.yaml"
	assert_rc 1 "unknown verb"
	cnf_json --no-such-option plan
	assert_rc 1 "unknown option"
}

test_destroy() {
	local lids1 lids2 l

	veth_add e0 e0p
	veth_add e1 e1p
	write_m "$W/m1.yaml" one e0
	write_m "$W/m2.yaml" two e1
	cnf_json apply "$W/m1.yaml" "$W/m2.yaml"
	assert_rc 0 "apply two manifests" || return
	lids1=$(jf "$OUT" '[.actions[] | select(.manifest == "one") | .link_id] | join(" ")')
	lids2=$(jf "$OUT" '[.actions[] | select(.manifest == "two") | .link_id] | join(" ")')

	cnf_json destroy "$W/m1.yaml"
	assert_rc 0 "destroy one"
	one_json_doc destroy
	assert_jq "$OUT" '(.actions | length) == 2 and all(.actions[]; .action == "delete" and .manifest == "one")' \
		"JSON: two deletes of manifest one"
	for l in $lids1; do
		link_exists "$l" && _fail "link $l of manifest one still exists"
	done
	assert_eq "$(find "$T/bpffs/one" ! -type d 2>/dev/null)" "" "no pins left of manifest one"
	assert_eq "$(xdp_prog_id e0)" "" "bpftool net: no xdp on e0"
	assert_eq "$(tcx_names e0 ingress)" "" "bpftool net: no tcx on e0"
	for l in $lids2; do
		assert_ok "link $l of manifest two kept" link_exists "$l"
	done
	assert_ne "$(xdp_prog_id e1)" "" "bpftool net: xdp on e1 kept"

	cnf_run destroy "$W/m2.yaml"
	assert_rc 0 "destroy two (text)"
	assert_contains "$OUT" "Destroyed: 2 deleted." "the summary says what destroy did"
	assert_not_contains "$OUT" "Applied" "not what apply did"
	assert_eq "$(xdp_prog_id e1)" "" "bpftool net: no xdp on e1"
	cnf_run destroy "$W/m2.yaml"
	assert_contains "$OUT" "Nothing to destroy." "a second destroy has nothing to do"
}

test_destroy_all() {
	local lids l

	veth_add e0 e0p
	veth_add e1 e1p
	write_m "$W/m1.yaml" one e0
	write_m "$W/m2.yaml" two e1
	cnf_json apply "$W/m1.yaml" "$W/m2.yaml"
	assert_rc 0 "apply two manifests" || return
	lids=$(jf "$OUT" '[.actions[].link_id] | join(" ")')

	cnf_json destroy --all
	assert_rc 0 "destroy --all"
	assert_jq "$OUT" '[.actions[] | select(.action == "delete")] | length == 4' "JSON: four deletes"
	for l in $lids; do
		link_exists "$l" && _fail "link $l still exists"
	done
	assert_eq "$(state_pins)" "" "no pins left under the state root"
	assert_eq "$(net_json | jq -c '[.[0].xdp[], .[0].tc[]]')" "[]" "bpftool net: nothing attached"
}

run_test "plan exits 2 with changes, 0 without" test_plan_exit_codes
run_test "apply --detailed-exitcode" test_detailed_exitcode
run_test "apply is the default verb" test_default_verb
run_test "an unknown verb is an error with a hint; a PATH still applies" test_unknown_verb
run_test "VERB --help shows that verb's options" test_verb_help
run_test "status exits 0 in sync, 2 otherwise" test_status_exit_codes
run_test "validate works without root" test_validate_unprivileged
run_test "validate: the same verdict as root and as a user, no bpf() call" test_validate_same_for_root
run_test "probe --json reports tcx" test_probe
run_test "errors in --json mode" test_json_errors
run_test "destroy removes one manifest's attachments" test_destroy
run_test "destroy --all removes everything" test_destroy_all
