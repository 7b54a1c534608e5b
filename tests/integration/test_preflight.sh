#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The preflight: everything apply would refuse, plan refuses first, with
# the same message, and neither changes the host. Occupied single-program
# hooks (another tool's program, another manifest's), conflicts among
# manifests (one interface twice, one program twice on a tcx hook, two
# claims of a tcx hook's first place), device capability (offload, native
# XDP) and a program that does not fit its hook (a USDT program on a
# uprobe hook), and a family the kernel cannot run (fentry here).
. "$(dirname "$0")/lib.sh"
lib_setup "$@"

# man FILE NAME OBJECT ATTACHMENTS: a manifest with object `o`.
man() {
	cat >"$1" <<EOF
apiVersion: cnf-apply/v1
name: $2
objects:
  - name: o
    file: objs/$3
attachments:
$4
EOF
}

xdp_att() {    # xdp_att NAME INTERFACE [MODE]
	printf '  - name: %s\n    program: o/xdp_main\n    hook: xdp\n    interface: "%s"\n' "$1" "$2"
	[ -z "${3:-}" ] || printf '    mode: %s\n' "$3"
}

tcx_att() {    # tcx_att NAME PROGRAM INTERFACE [ORDER]
	printf '  - name: %s\n    program: o/%s\n    hook: tcx\n    interface: %s\n    direction: ingress\n' \
		"$1" "$2" "$3"
	[ -z "${4:-}" ] || printf '    order: %s\n' "$4"
}

# view: what a run could change here, scoped to this test: the hooks of
# its namespace (bpftool net, tc filters; not bpftool net's netfilter
# links, those of every namespace) and the pins of its state root.
view() {
	local dev dir

	net_json | jq -S -c 'map(del(.netfilter))'
	for dev in $(test_ifaces); do
		for dir in ingress egress; do
			tc -j filter show dev "$dev" "$dir" 2>/dev/null | jq -S -c .
		done
	done
	(cd "$T/bpffs" && find . | sort)
}

# refused_alike ARGS...: plan and apply both exit 1 with the same error,
# and the test's hooks and state root are as before. The error is left
# in $ERR.
refused_alike() {
	local before plan_err

	before=$(view)
	cnf_run plan "$@"
	assert_rc 1 "plan refuses"
	plan_err=$ERR
	assert_eq "$(view)" "$before" "a refused plan changes nothing"
	cnf_run apply "$@"
	assert_rc 1 "apply refuses"
	assert_eq "$ERR" "$plan_err" "apply's error is plan's"
	assert_eq "$(view)" "$before" "a refused apply changes nothing"
}

test_foreign_xdp() {
	local fid

	veth_add p0 p0p
	ip link set dev p0 xdpgeneric obj "$W/objs/foreign.bpf.o" sec xdp || { _fail "ip link"; return; }
	fid=$(xdp_prog_id p0)
	man "$W/m.yaml" m xdp_v1.bpf.o "$(xdp_att fw p0)"
	refused_alike "$W/m.yaml"
	assert_contains "$ERR" "attachment 'fw'" "the error names the attachment"
	assert_at "$ERR" "$W/m.yaml" 7
	assert_contains "$ERR" "program id $fid (xdp_foreign) of another tool" "and the foreign program"
	assert_eq "$(xdp_prog_id p0)" "$fid" "bpftool: the foreign program stays"
	cnf_json plan "$W/m.yaml"
	assert_rc 1 "plan --json refuses"
	assert_jq "$OUT" '.error | test("another tool")' "plan --json: the error document"
}

test_xdp_other_manifest() {
	local pid

	veth_add p0 p0p
	man "$W/a.yaml" a xdp_v1.bpf.o "$(xdp_att fw p0)"
	man "$W/b.yaml" b xdp_v1.bpf.o "$(xdp_att other p0 generic)"
	cnf_json apply "$W/a.yaml"
	assert_rc 0 "apply a" || return
	pid=$(xdp_prog_id p0)
	# b alone: a's program holds the hook; the message says whose it is.
	refused_alike "$W/b.yaml"
	assert_contains "$ERR" "attachment 'other'" "the error names b's attachment"
	assert_contains "$ERR" "attachment 'fw' of manifest 'a' (program id $pid)" "and a's, its holder"
	assert_not_contains "$ERR" "does not own" "a's program is not called foreign"
	# Both as a directory: a conflict between manifests, found by validate too.
	mkdir "$W/d" && cp "$W/a.yaml" "$W/b.yaml" "$W/d/" && cp -r "$W/objs" "$W/d/"
	refused_alike "$W/d"
	assert_at "$ERR" "$W/d/b.yaml" 7
	assert_contains "$ERR" "manifest 'a' ($W/d/a.yaml:7)" "the error names both sides with their lines"
	cnf_run validate "$W/d"
	assert_rc 1 "validate sees the conflict"
	assert_contains "$ERR" "holds one program" "validate says why"
	assert_eq "$(xdp_prog_id p0)" "$pid" "bpftool: a's program stays"
}

test_xdp_glob_and_name() {
	veth_add p0 p0p
	veth_add p1 p1p
	man "$W/m.yaml" m xdp_v1.bpf.o "$(xdp_att byname p0)
$(xdp_att byglob 'p*')"
	refused_alike "$W/m.yaml"
	assert_at "$ERR" "$W/m.yaml" 11
	assert_contains "$ERR" "attachment 'byname' of manifest 'm'" "both attachments named"
	assert_contains "$ERR" "hook xdp on p0 holds one program" \
		"the hook where they meet"
	assert_eq "$(xdp_prog_id p0)$(xdp_prog_id p1)" "" "bpftool: nothing attached"
	assert_not_exists "$T/bpffs/m" "no state left"
}

test_tcx_program_twice() {
	veth_add p0 p0p
	man "$W/m.yaml" m tc_v1.bpf.o "$(tcx_att one tc_main p0)
$(tcx_att two tc_main p0)"
	refused_alike "$W/m.yaml"
	assert_contains "$ERR" "would run one program twice" "the reason"
	assert_eq "$(tcx_names p0 ingress)" "" "bpftool: nothing on p0"
}

test_tcx_first_claimed_twice() {
	local names

	veth_add p0 p0p
	man "$W/a.yaml" a tc_v1.bpf.o "$(tcx_att head tc_main p0 first)"
	man "$W/b.yaml" b tc_v1.bpf.o "$(tcx_att head2 tc_second p0 first)"
	cnf_json apply "$W/a.yaml"
	assert_rc 0 "apply a" || return
	names=$(tcx_names p0 ingress)
	refused_alike "$W/b.yaml"
	assert_contains "$ERR" "has one first place (order: first), and attachment 'head' of manifest 'a'" \
		"b's claim meets a's"
	assert_eq "$(tcx_names p0 ingress)" "$names" "bpftool: the hook is as a left it"
	cnf_run plan "$W/a.yaml"
	assert_rc 0 "a stays in sync"
}

test_device_capability() {
	veth_add p0 p0p
	man "$W/m.yaml" m xdp_v1.bpf.o "$(xdp_att off p0 offload)"
	refused_alike "$W/m.yaml"
	assert_contains "$ERR" "interface p0 cannot run XDP in offload mode" "veth cannot offload"
	man "$W/m.yaml" m xdp_v1.bpf.o "$(xdp_att nat lo native)"
	refused_alike "$W/m.yaml"
	assert_contains "$ERR" "interface lo cannot run XDP in native mode" "lo has no native XDP"
	man "$W/m.yaml" m xdp_v1.bpf.o "$(xdp_att nat p0 native)"
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "veth runs native XDP: planned"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "and applied"
	assert_eq "$(xdp_mode p0)" driver "bpftool: native on p0"
}

test_program_does_not_fit() {
	man "$W/m.yaml" m usdt_prog.bpf.o "  - name: probe
    program: o/usdt_hit
    hook: uprobe
    binary: libc.so.6
    symbol: uname"
	refused_alike "$W/m.yaml"
	assert_contains "$ERR" "was loaded as a trace_uprobe_multi program" "the reason"
	assert_at "$ERR" "$W/m.yaml" 8
	assert_not_exists "$T/bpffs/m" "no state map left behind"
}

test_family_unsupported() {
	if [ "$("$CNF" --json probe | jq -r '.features.trampoline')" != false ]; then
		t_skip "this kernel runs fentry programs (the QEMU tier covers them)"
		return
	fi
	man "$W/m.yaml" m trace_v1.bpf.o "  - name: fe
    program: o/fe_unlink
    hook: fentry"
	refused_alike "$W/m.yaml"
	assert_contains "$ERR" "this kernel cannot run fentry/fexit programs" "the true reason"
	assert_not_contains "$ERR" "needs root" "not a permission problem"
}

# Not every multi-program hook refuses a program twice: cgroup links run
# one program as often as it is attached, and the plan says so.
test_cgroup_program_twice() {
	local ids

	man "$W/m.yaml" m cgroup_progs.bpf.o "  - name: c1
    program: o/skb_ingress
    hook: cgroup
    cgroup: $CG
  - name: c2
    program: o/skb_ingress
    hook: cgroup
    cgroup: $CG"
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan: two creates, no conflict"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	ids=$(jq -r '[.actions[].prog_id] | unique | length' <<<"$OUT")
	assert_eq "$ids" 1 "one program for both"
	assert_eq "$(cgroup_progs "$CG" | jq '[.[] | select(.name == "skb_ingress")] | length')" 2 \
		"bpftool cgroup: the program attached twice"
}

run_test "a foreign XDP program: plan refuses as apply does" test_foreign_xdp
run_test "another manifest's XDP program holds the hook" test_xdp_other_manifest
run_test "one manifest, XDP twice on one interface (a name and a glob)" test_xdp_glob_and_name
run_test "one program twice on one tcx hook" test_tcx_program_twice
run_test "two manifests claim a tcx hook's first place" test_tcx_first_claimed_twice
run_test "offload and native XDP where the device cannot" test_device_capability
run_test "a USDT program on a uprobe hook" test_program_does_not_fit
run_test "fentry on a kernel without trampolines: the true reason" test_family_unsupported
run_test "cgroup links may run one program twice" test_cgroup_program_twice
