#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Bad input: every case exits 1, names file, line and entry, and changes
# nothing, neither the already applied manifest `base` nor the valid
# attachment `good` that sits next to the broken entry (all-or-nothing).
. "$(dirname "$0")/lib.sh"
lib_setup "$@"

GOOD='  - name: good
    program: o/xdp_main
    hook: xdp
    interface: bi1'

# Two interfaces, `base` applied on bi0; bi1 is free for `good`.
bad_setup() {
	veth_add bi0 bi0p
	veth_add bi1 bi1p
	cat >"$W/base.yaml" <<EOF
apiVersion: cnf-apply/v1
name: base
objects:
  - name: o
    file: objs/xdp_v1.bpf.o
attachments:
  - name: fw
    program: o/xdp_main
    hook: xdp
    interface: bi0
EOF
	cnf_json apply "$W/base.yaml"
	assert_rc 0 "apply the base manifest" || return 1
	[ -n "$(xdp_prog_id bi0)" ] || { _fail "base is not attached"; return 1; }
}

# refused FILE "LINE..." ENTRY [NEEDLE...]: apply (text and --json) exits 1;
# the message refers to FILE at one of LINES, names ENTRY (quoted) and
# contains every NEEDLE; the host is as before.
refused() {
	local file=$1 lines=$2 entry=$3 before n
	shift 3
	before=$(snapshot_host)

	cnf_run apply "$file"
	assert_rc 1 "apply"
	# shellcheck disable=SC2086
	assert_at "$ERR" "$file" $lines
	[ -n "$entry" ] && assert_contains "$ERR" "'$entry'" "the error names the entry"
	for n; do
		assert_contains "$ERR" "$n" "the error mentions it"
	done
	assert_contains "$ERR" "error" "it is reported as an error"
	assert_unchanged "$before" "a refused apply changes nothing"
	assert_eq "$(xdp_prog_id bi1)" "" "the valid attachment was not applied either"

	cnf_json apply "$file"
	assert_rc 1 "apply --json"
	assert_jq "$OUT" '(.error | type) == "string" and (.errors | length) >= 1' "JSON: error document"
	assert_unchanged "$before" "a refused apply (--json) changes nothing"
}

# validate_refused FILE "LINE...": validate also finds it, without the kernel.
validate_refused() {
	cnf_run validate "$1"
	assert_rc 1 "validate"
	# shellcheck disable=SC2086
	assert_at "$ERR" "$1" $2
}

test_malformed_yaml() {
	bad_setup || return
	cat >"$W/bad.yaml" <<EOF
apiVersion: cnf-apply/v1
name: bad
objects:
  - name: o
    file: objs/xdp_v1.bpf.o
attachments:
$GOOD
  - name: broken
    program: o/xdp_main: oops
    hook: xdp
    interface: bi1
EOF
	refused "$W/bad.yaml" "$(line_of "$W/bad.yaml" oops)" ""
	validate_refused "$W/bad.yaml" "$(line_of "$W/bad.yaml" oops)"
}

test_unknown_key() {
	bad_setup || return
	cat >"$W/bad.yaml" <<EOF
apiVersion: cnf-apply/v1
name: bad
objects:
  - name: o
    file: objs/xdp_v1.bpf.o
attachments:
$GOOD
  - name: typo
    program: o/xdp_main
    hook: xdp
    interfase: bi1
EOF
	refused "$W/bad.yaml" "$(line_of "$W/bad.yaml" interfase) $(line_of "$W/bad.yaml" "name: typo")" \
		typo interfase
	validate_refused "$W/bad.yaml" "$(line_of "$W/bad.yaml" interfase) $(line_of "$W/bad.yaml" "name: typo")"
}

test_wrong_type() {
	bad_setup || return
	cat >"$W/bad.yaml" <<EOF
apiVersion: cnf-apply/v1
name: bad
objects:
  - name: o
    file: objs/xdp_v1.bpf.o
  - name: t
    file: objs/tc_v1.bpf.o
attachments:
$GOOD
  - name: badprio
    program: t/tc_main
    hook: tc
    interface: bi1
    direction: ingress
    priority: high
EOF
	refused "$W/bad.yaml" "$(line_of "$W/bad.yaml" "priority: high") $(line_of "$W/bad.yaml" "name: badprio")" \
		badprio priority
	validate_refused "$W/bad.yaml" "$(line_of "$W/bad.yaml" "priority: high") $(line_of "$W/bad.yaml" "name: badprio")"
}

test_missing_key() {
	bad_setup || return
	cat >"$W/bad.yaml" <<EOF
apiVersion: cnf-apply/v1
name: bad
objects:
  - name: o
    file: objs/xdp_v1.bpf.o
attachments:
$GOOD
  - name: incomplete
    program: o/xdp_main
    interface: bi1
EOF
	refused "$W/bad.yaml" "$(line_of "$W/bad.yaml" "name: incomplete")" incomplete hook
	validate_refused "$W/bad.yaml" "$(line_of "$W/bad.yaml" "name: incomplete")"
}

test_program_not_in_object() {
	bad_setup || return
	cat >"$W/bad.yaml" <<EOF
apiVersion: cnf-apply/v1
name: bad
objects:
  - name: o
    file: objs/xdp_v1.bpf.o
attachments:
$GOOD
  - name: noprog
    program: o/xdp_nope
    hook: xdp
    interface: bi1
EOF
	refused "$W/bad.yaml" "$(line_of "$W/bad.yaml" xdp_nope) $(line_of "$W/bad.yaml" "name: noprog")" \
		noprog xdp_nope
	validate_refused "$W/bad.yaml" "$(line_of "$W/bad.yaml" xdp_nope) $(line_of "$W/bad.yaml" "name: noprog")"
}

# bad_object NAME FILE: a manifest whose object NAME is FILE, used by
# attachment `user` next to `good`.
bad_object() {
	cat >"$W/bad.yaml" <<EOF
apiVersion: cnf-apply/v1
name: bad
objects:
  - name: o
    file: objs/xdp_v1.bpf.o
  - name: $1
    file: $2
attachments:
$GOOD
  - name: user
    program: $1/xdp_main
    hook: xdp
    interface: bi0p
EOF
}

test_object_missing() {
	bad_setup || return
	bad_object gone objs/gone.bpf.o
	refused "$W/bad.yaml" "$(line_of "$W/bad.yaml" gone.bpf.o) $(line_of "$W/bad.yaml" "name: gone")" \
		gone gone.bpf.o
	validate_refused "$W/bad.yaml" "$(line_of "$W/bad.yaml" gone.bpf.o) $(line_of "$W/bad.yaml" "name: gone")"
}

test_object_not_elf() {
	bad_setup || return
	echo "this is not an ELF file" >"$W/objs/text.bpf.o"
	bad_object text objs/text.bpf.o
	refused "$W/bad.yaml" "$(line_of "$W/bad.yaml" text.bpf.o) $(line_of "$W/bad.yaml" "name: text")" \
		text text.bpf.o
	validate_refused "$W/bad.yaml" "$(line_of "$W/bad.yaml" text.bpf.o) $(line_of "$W/bad.yaml" "name: text")"
}

test_object_not_bpf() {
	bad_setup || return
	cp "$(command -v true)" "$W/objs/true.bpf.o"
	bad_object notbpf objs/true.bpf.o
	refused "$W/bad.yaml" "$(line_of "$W/bad.yaml" true.bpf.o) $(line_of "$W/bad.yaml" "name: notbpf")" \
		notbpf true.bpf.o
	validate_refused "$W/bad.yaml" "$(line_of "$W/bad.yaml" true.bpf.o) $(line_of "$W/bad.yaml" "name: notbpf")"
}

test_wrong_program_type() {
	bad_setup || return
	cat >"$W/bad.yaml" <<EOF
apiVersion: cnf-apply/v1
name: bad
objects:
  - name: o
    file: objs/xdp_v1.bpf.o
  - name: tp
    file: objs/tp_prog.bpf.o
attachments:
$GOOD
  - name: wrongtype
    program: tp/tp_openat
    hook: xdp
    interface: bi0p
EOF
	local l1 l2 l3
	l1=$(line_of "$W/bad.yaml" "name: wrongtype")
	l2=$(line_of "$W/bad.yaml" "program: tp/tp_openat")
	l3=$((l2 + 1))
	refused "$W/bad.yaml" "$l1 $l2 $l3" wrongtype tp_openat
	validate_refused "$W/bad.yaml" "$l1 $l2 $l3"
}

test_verifier_rejection() {
	local before lines
	bad_setup || return
	cat >"$W/bad.yaml" <<EOF
apiVersion: cnf-apply/v1
name: bad
objects:
  - name: o
    file: objs/xdp_v1.bpf.o
  - name: rej
    file: objs/verifier_reject.bpf.o
attachments:
$GOOD
  - name: rejected
    program: rej/xdp_bad
    hook: xdp
    interface: bi0p
EOF
	# The load fails for the object or for the attachment using it: either
	# may be the entry named.
	lines="$(line_of "$W/bad.yaml" "name: rej") $(line_of "$W/bad.yaml" verifier_reject.bpf.o)"
	lines+=" $(line_of "$W/bad.yaml" "name: rejected") $(line_of "$W/bad.yaml" rej/xdp_bad)"
	before=$(snapshot_host)
	cnf_run apply "$W/bad.yaml"
	assert_rc 1 "apply"
	# shellcheck disable=SC2086
	assert_at "$ERR" "$W/bad.yaml" $lines
	assert_match "$ERR" "'(rej|rejected)'" "the error names the entry"
	assert_contains "$ERR" "xdp_bad" "the error names the program"
	assert_contains "$ERR" "invalid access to packet" "the verifier's log is shown"
	assert_unchanged "$before" "a refused apply changes nothing"
	cnf_json apply "$W/bad.yaml"
	assert_rc 1 "apply --json"
	assert_jq "$OUT" '(.error | type) == "string"' "JSON: error document"
	assert_unchanged "$before" "a refused apply (--json) changes nothing"
}

test_interface_missing() {
	bad_setup || return
	cat >"$W/bad.yaml" <<EOF
apiVersion: cnf-apply/v1
name: bad
objects:
  - name: o
    file: objs/xdp_v1.bpf.o
attachments:
$GOOD
  - name: noif
    program: o/xdp_main
    hook: xdp
    interface: nosuch9
EOF
	refused "$W/bad.yaml" "$(line_of "$W/bad.yaml" nosuch9) $(line_of "$W/bad.yaml" "name: noif")" \
		noif nosuch9
}

test_cgroup_missing() {
	bad_setup || return
	cat >"$W/bad.yaml" <<EOF
apiVersion: cnf-apply/v1
name: bad
objects:
  - name: o
    file: objs/xdp_v1.bpf.o
  - name: cg
    file: objs/cgroup_progs.bpf.o
attachments:
$GOOD
  - name: nocg
    program: cg/connect4
    hook: cgroup
    cgroup: $CG/nosuch
    attach_type: connect4
EOF
	refused "$W/bad.yaml" "$(line_of "$W/bad.yaml" "$CG/nosuch") $(line_of "$W/bad.yaml" "name: nocg")" \
		nocg nosuch
}

test_duplicate_manifest_name() {
	local before n
	bad_setup || return
	mkdir "$W/dir"
	for n in a b; do
		cat >"$W/dir/$n.yaml" <<EOF
apiVersion: cnf-apply/v1
name: twin
objects:
  - name: o
    file: ../objs/xdp_v1.bpf.o
attachments:
  - name: fw-$n
    program: o/xdp_main
    hook: xdp
    interface: bi1
EOF
	done
	# Each file alone is valid; they target different interfaces.
	sed -i 's/interface: bi1/interface: bi0p/' "$W/dir/b.yaml"
	before=$(snapshot_host)
	cnf_run apply "$W/dir"
	assert_rc 1 "apply of the directory"
	assert_contains "$ERR" "twin" "the error names the manifest"
	assert_match "$ERR" "(a|b)\.yaml:2([^0-9]|$)" "the error names a file and the line of name:"
	assert_unchanged "$before" "a refused apply changes nothing"
	cnf_run validate "$W/dir"
	assert_rc 1 "validate of the directory"
}

test_pin_path_escapes() {
	bad_setup || return
	cat >"$W/bad.yaml" <<EOF
apiVersion: cnf-apply/v1
name: bad
objects:
  - name: o
    file: objs/xdp_v1.bpf.o
    maps:
      - name: counters
        pin: ../escape/counters
attachments:
$GOOD
EOF
	refused "$W/bad.yaml" "$(line_of "$W/bad.yaml" ../escape) $(line_of "$W/bad.yaml" "name: counters")" \
		counters ".."
	validate_refused "$W/bad.yaml" "$(line_of "$W/bad.yaml" ../escape) $(line_of "$W/bad.yaml" "name: counters")"
}

test_attachment_name_slash() {
	bad_setup || return
	cat >"$W/bad.yaml" <<EOF
apiVersion: cnf-apply/v1
name: bad
objects:
  - name: o
    file: objs/xdp_v1.bpf.o
attachments:
$GOOD
  - name: bad/name
    program: o/xdp_main
    hook: xdp
    interface: bi0p
EOF
	refused "$W/bad.yaml" "$(line_of "$W/bad.yaml" "bad/name")" "bad/name"
	validate_refused "$W/bad.yaml" "$(line_of "$W/bad.yaml" "bad/name")"
}

run_test "malformed YAML" test_malformed_yaml
run_test "unknown key" test_unknown_key
run_test "wrong value type" test_wrong_type
run_test "missing required key" test_missing_key
run_test "program not in the object" test_program_not_in_object
run_test "object file missing" test_object_missing
run_test "object is not ELF" test_object_not_elf
run_test "object is ELF but not BPF" test_object_not_bpf
run_test "program type does not fit the hook" test_wrong_program_type
run_test "verifier rejects the program" test_verifier_rejection
run_test "interface missing" test_interface_missing
run_test "cgroup missing" test_cgroup_missing
run_test "same manifest name in two files" test_duplicate_manifest_name
run_test "map pin path with .." test_pin_path_escapes
run_test "attachment name with /" test_attachment_name_slash
