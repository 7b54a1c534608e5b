#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# XDP attachments: create, no-op, update in place, delete, a vanished
# interface, native/generic modes, globs and lists, a foreign program on
# the hook, an interface in another network namespace.
. "$(dirname "$0")/lib.sh"
lib_setup "$@"

# write_xdp FILE MANIFEST [KEY: VALUE]...: a manifest with object `o`
# (objs/xdp.bpf.o, xdp_v1 until a test overwrites it) and one attachment
# `fw` of o/xdp_main on the xdp hook; the remaining arguments are its
# target keys.
write_xdp() {
	local file=$1 name=$2 kv
	shift 2
	[ -e "$W/objs/xdp.bpf.o" ] || cp "$W/objs/xdp_v1.bpf.o" "$W/objs/xdp.bpf.o"
	{
		cat <<EOF
apiVersion: cnf-apply/v1
name: $name
objects:
  - name: o
    file: objs/xdp.bpf.o
attachments:
  - name: fw
    program: o/xdp_main
    hook: xdp
EOF
		for kv; do
			echo "    $kv"
		done
	} >"$file"
}

test_fresh_apply() {
	local lid pid

	veth_add x0 x0p
	write_xdp "$W/m.yaml" m "interface: x0"

	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan with a change pending"
	assert_jq "$OUT" '.changed == true and (.actions | length) == 1 and .actions[0].action == "create"' \
		"plan: one create"
	assert_eq "$(xdp_prog_id x0)" "" "plan attached nothing (bpftool net)"
	assert_not_exists "$T/bpffs/m" "plan pinned nothing"

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	assert_jq "$OUT" '.changed == true and (.actions | length) == 1' "apply: one action"
	assert_jq "$OUT" '.actions[0] | .action == "create" and .manifest == "m" and .attachment == "fw"
		and .hook == "xdp" and .target == "x0" and .program == "o/xdp_main"' "apply: the create action"
	lid=$(jf "$OUT" '.actions[0].link_id')
	pid=$(jf "$OUT" '.actions[0].prog_id')

	assert_jq "$(link_json "$lid")" ".type == \"xdp\" and .prog_id == $pid and .devname == \"x0\"" \
		"bpftool link: an xdp link on x0 running the reported program"
	assert_jq "$(bpftool -j prog show id "$pid")" '.name == "xdp_main" and .type == "xdp"' \
		"bpftool prog: the program is xdp_main"
	assert_eq "$(xdp_prog_id x0)" "$pid" "bpftool net: x0's XDP program"
	assert_jq "$(ip_xdp x0)" ".prog.id == $pid" "ip link: x0's XDP program"
	assert_eq "$(pinned_link_id "$(pin_of m fw x0)")" "$lid" "the link is pinned at <root>/m/links/fw/x0"
	assert_exists "$T/bpffs/m/state" "the manifest's state map is pinned"
	assert_eq "$(xdp_prog_id x0p)" "" "the peer is untouched"
}

test_second_apply_is_noop() {
	local lid pid links progs

	veth_add x0 x0p
	write_xdp "$W/m.yaml" m "interface: x0"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "first apply" || return
	lid=$(jf "$OUT" '.actions[0].link_id')
	pid=$(jf "$OUT" '.actions[0].prog_id')
	links=$(own_link_ids)
	progs=$(own_prog_ids)

	if cnf_strace apply "$W/m.yaml"; then
		assert_eq "$(bpf_calls BPF_LINK_CREATE)" "" "no BPF_LINK_CREATE"
		assert_eq "$(bpf_calls BPF_LINK_UPDATE)" "" "no BPF_LINK_UPDATE"
		assert_eq "$(bpf_calls BPF_LINK_DETACH)" "" "no BPF_LINK_DETACH"
		assert_eq "$(bpf_calls BPF_PROG_DETACH)" "" "no BPF_PROG_DETACH"
		assert_eq "$(bpf_calls BPF_PROG_LOAD xdp_main)" "" "xdp_main not loaded again"
	else
		cnf_json apply "$W/m.yaml"
	fi
	assert_rc 0 "second apply"
	assert_jq "$OUT" '.changed == false and (.actions | length) == 1 and .actions[0].action == "noop"' \
		"second apply: one noop"
	assert_eq "$(own_link_ids)" "$links" "bpftool: none of this test's links created or removed"
	assert_eq "$(own_prog_ids)" "$progs" "bpftool: none of this test's programs loaded or freed"
	assert_eq "$(pinned_link_id "$(pin_of m fw x0)")" "$lid" "same pinned link"
	assert_eq "$(xdp_prog_id x0)" "$pid" "same program on x0"

	cnf_json plan "$W/m.yaml"
	assert_rc 0 "plan after apply: nothing to do"
	assert_jq "$OUT" '.changed == false and all(.actions[]; .action == "noop")' "plan: only noops"
}

test_update_in_place() {
	local lid pid newpid

	veth_add x0 x0p
	write_xdp "$W/m.yaml" m "interface: x0"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v1" || return
	lid=$(jf "$OUT" '.actions[0].link_id')
	pid=$(jf "$OUT" '.actions[0].prog_id')

	cp "$W/objs/xdp_v2.bpf.o" "$W/objs/xdp.bpf.o"

	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan sees the new program"
	assert_jq "$OUT" '.actions[0].action == "update" and .actions[0].strategy == "in-place"' \
		"plan: update in place"
	assert_eq "$(xdp_prog_id x0)" "$pid" "plan changed nothing"

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v2" || return
	assert_jq "$OUT" ".changed == true and .actions[0].action == \"update\" and .actions[0].link_id == $lid" \
		"apply: update, same link"
	newpid=$(jf "$OUT" '.actions[0].prog_id')
	assert_ne "$newpid" "$pid" "a new program id"
	assert_eq "$(link_prog_id "$lid")" "$newpid" "bpftool link: the same link now runs the new program"
	assert_eq "$(xdp_prog_id x0)" "$newpid" "bpftool net: x0 runs the new program"
	assert_eq "$(pinned_link_id "$(pin_of m fw x0)")" "$lid" "the pin still holds the same link"
	prog_exists "$pid" && _fail "the old program $pid is still loaded"

	cnf_json apply "$W/m.yaml"
	assert_jq "$OUT" '.changed == false' "apply after the update: nothing to do"
}

test_delete_removed_attachment() {
	local lid0 lid1

	veth_add x0 x0p
	veth_add x1 x1p
	write_xdp "$W/m.yaml" m "interface: x0"
	cat >>"$W/m.yaml" <<EOF
  - name: fw1
    program: o/xdp_main
    hook: xdp
    interface: x1
EOF
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply two attachments" || return
	lid0=$(jf "$OUT" '.actions[] | select(.attachment == "fw") | .link_id')
	lid1=$(jf "$OUT" '.actions[] | select(.attachment == "fw1") | .link_id')
	assert_ok "link of fw1 exists" link_exists "$lid1"

	write_xdp "$W/m.yaml" m "interface: x0"
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan sees the removal"
	assert_jq "$OUT" '[.actions[] | select(.attachment == "fw1")] | length == 1 and .[0].action == "delete"' \
		"plan: fw1 deleted"
	assert_jq "$OUT" '.actions[] | select(.attachment == "fw") | .action == "noop"' "plan: fw kept"

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply without fw1"
	link_exists "$lid1" && _fail "fw1's link $lid1 still exists"
	assert_eq "$(xdp_prog_id x1)" "" "bpftool net: nothing on x1"
	assert_not_exists "$(pin_of m fw1 x1)" "fw1's pin is gone"
	assert_ok "fw's link kept" link_exists "$lid0"
	assert_eq "$(pinned_link_id "$(pin_of m fw x0)")" "$lid0" "fw's pin kept"

	# An empty attachment list removes everything the manifest owns.
	sed -i '/^attachments:/,$d' "$W/m.yaml"
	echo "attachments: []" >>"$W/m.yaml"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply with no attachments"
	assert_jq "$OUT" '.changed == true and all(.actions[]; .action == "delete")' "apply: deletes only"
	link_exists "$lid0" && _fail "fw's link $lid0 still exists"
	assert_eq "$(xdp_prog_id x0)" "" "bpftool net: nothing on x0"
	assert_eq "$(find "$T/bpffs/m/links" -mindepth 1 ! -type d 2>/dev/null)" "" "no link pins left"
}

test_interface_deleted() {
	local lid pid st

	veth_add x0 x0p
	write_xdp "$W/m.yaml" m "interface: x0"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	lid=$(jf "$OUT" '.actions[0].link_id')

	ip link del x0
	cnf_json status "$W/m.yaml"
	assert_rc 2 "status after the interface went away"
	st=$(jf "$OUT" '.attachments[0].state')
	[[ $st == defunct || $st == missing ]] || _fail "state is '$st', expected defunct or missing"

	veth_add x0 x0p
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply with the interface back" || return
	assert_jq "$OUT" '.changed == true and (.actions[0].action | IN("create", "replace", "update"))' \
		"apply recreates the attachment"
	pid=$(jf "$OUT" '.actions[0].prog_id')
	assert_eq "$(xdp_prog_id x0)" "$pid" "bpftool net: the new x0 runs our program"
	assert_eq "$(pinned_link_id "$(pin_of m fw x0)")" "$(jf "$OUT" '.actions[0].link_id')" \
		"the pin holds the new link"
	if [ "$(jf "$OUT" '.actions[0].link_id')" != "$lid" ]; then
		link_exists "$lid" && _fail "the defunct link $lid was not released"
	fi
	cnf_json status "$W/m.yaml"
	assert_rc 0 "status in sync again"
	assert_jq "$OUT" '.attachments[0].state == "in-sync"' "state in-sync"
}

test_modes() {
	veth_add g0 g0p
	veth_add n0 n0p
	veth_add a0 a0p
	cp "$W/objs/xdp_v1.bpf.o" "$W/objs/xdp.bpf.o"
	cat >"$W/m.yaml" <<EOF
apiVersion: cnf-apply/v1
name: m
objects:
  - name: o
    file: objs/xdp.bpf.o
attachments:
  - name: gen
    program: o/xdp_main
    hook: xdp
    interface: g0
    mode: generic
  - name: nat
    program: o/xdp_main
    hook: xdp
    interface: n0
    mode: native
  - name: auto
    program: o/xdp_main
    hook: xdp
    interface: a0
    mode: auto
EOF
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply three modes" || return
	assert_jq "$OUT" '.actions[] | select(.attachment == "gen") | .xdp_mode == "generic"' "JSON: gen is generic"
	assert_jq "$OUT" '.actions[] | select(.attachment == "nat") | .xdp_mode == "native"' "JSON: nat is native"
	assert_jq "$OUT" '.actions[] | select(.attachment == "auto") | .xdp_mode == "native"' \
		"JSON: auto on veth is native"
	assert_eq "$(xdp_mode g0)" generic "bpftool net: g0 generic"
	assert_eq "$(xdp_mode n0)" driver "bpftool net: n0 native"
	assert_eq "$(xdp_mode a0)" driver "bpftool net: a0 native"
	assert_jq "$(ip_xdp g0)" '.mode == 2' "ip link: g0 in skb mode"
	assert_jq "$(ip_xdp n0)" '.mode == 1' "ip link: n0 in driver mode"

	# A mode cannot change on a live link: the attachment is replaced.
	sed -i 's/mode: generic/mode: native/' "$W/m.yaml"
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan sees the mode change"
	assert_jq "$OUT" '.actions[] | select(.attachment == "gen") | .action == "replace"
		and .strategy == "break-before-make"' "plan: gen replaced, break before make"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply the mode change"
	assert_eq "$(xdp_mode g0)" driver "bpftool net: g0 now native"
	assert_eq "$(pinned_link_id "$(pin_of m gen g0)")" \
		"$(jf "$OUT" '.actions[] | select(.attachment == "gen") | .link_id')" "gen's pin holds the new link"
}

test_glob() {
	local i lid2

	for i in 0 1 2; do
		veth_add "tv$i" "pv$i"
	done
	write_xdp "$W/m.yaml" m 'interface: "tv*"'
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply the glob" || return
	assert_jq "$OUT" '[.actions[] | select(.action == "create") | .target] | sort == ["tv0", "tv1", "tv2"]' \
		"JSON: one create per matching interface"
	for i in 0 1 2; do
		assert_eq "$(xdp_prog_id "tv$i")" \
			"$(jf "$OUT" ".actions[] | select(.target == \"tv$i\") | .prog_id")" "bpftool net: tv$i"
		assert_eq "$(xdp_prog_id "pv$i")" "" "bpftool net: pv$i does not match"
		assert_eq "$(pinned_link_id "$(pin_of m fw "tv$i")")" \
			"$(jf "$OUT" ".actions[] | select(.target == \"tv$i\") | .link_id")" "tv$i's link pinned"
	done

	# A new matching interface is picked up; the others are left alone.
	veth_add tv3 pv3
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply after tv3 appeared"
	assert_jq "$OUT" '[.actions[] | select(.action != "noop")] | length == 1 and .[0].target == "tv3"
		and .[0].action == "create"' "only tv3 created"
	assert_ne "$(xdp_prog_id tv3)" "" "bpftool net: tv3"

	# An interface that goes, and one renamed out of the glob: the plan
	# says so, not that the attachment left the manifest.
	lid2=$(pinned_link_id "$(pin_of m fw tv2)")
	ip link del tv2
	# (Linux before 6.2 renames only an interface that is down.)
	ip link set tv1 down && ip link set tv1 name xv1 && ip link set xv1 up
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan after tv2 went and tv1 was renamed"
	assert_jq "$OUT" '.actions[] | select(.target == "tv2") | .action == "delete" and
		.reason == "interface '"'tv2'"' is gone"' "JSON: tv2's delete: the interface is gone"
	assert_jq "$OUT" '.actions[] | select(.target == "tv1") | .action == "delete" and
		.reason == "interface '"'tv1'"' no longer matches '"'tv*'"'"' \
		"JSON: tv1's delete: the interface no longer matches the glob"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply"
	assert_eq "$(xdp_prog_id xv1)" "" "bpftool net: nothing on xv1, renamed out of the glob"
	link_exists "$lid2" && _fail "tv2's link $lid2 still exists"
	assert_ne "$(xdp_prog_id tv0)" "" "bpftool net: tv0 kept"
}

test_interface_list() {
	veth_add li0 li0p
	veth_add li1 li1p
	veth_add li2 li2p
	write_xdp "$W/m.yaml" m "interfaces: [li0, li1]"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply the list" || return
	assert_jq "$OUT" '[.actions[].target] | sort == ["li0", "li1"]' "JSON: li0 and li1"
	assert_ne "$(xdp_prog_id li0)" "" "bpftool net: li0"
	assert_ne "$(xdp_prog_id li1)" "" "bpftool net: li1"
	assert_eq "$(xdp_prog_id li2)" "" "bpftool net: li2 not listed, untouched"
}

test_foreign_program() {
	local fid before

	veth_add f0 f0p
	veth_add f1 f1p
	ip link set dev f0 xdp obj "$W/objs/foreign.bpf.o" sec xdp || { _fail "ip link set xdp"; return; }
	fid=$(xdp_prog_id f0)
	assert_ne "$fid" "" "the foreign program is attached"
	# f1 is free: all-or-nothing means it is not touched either.
	write_xdp "$W/m.yaml" m "interface: f0"
	cat >>"$W/m.yaml" <<EOF
  - name: fw1
    program: o/xdp_main
    hook: xdp
    interface: f1
EOF
	before=$(snapshot_host)

	cnf_run apply "$W/m.yaml"
	assert_rc 1 "apply onto a foreign program"
	assert_contains "$ERR" "'fw'" "the error names the attachment"
	assert_match "$ERR" "(xdp_foreign|$fid)" "the error names the foreign program"
	assert_match "$ERR" "m\.yaml:[0-9]+" "the error names file and line"
	assert_unchanged "$before" "a refused apply changes nothing"
	assert_eq "$(xdp_prog_id f0)" "$fid" "the foreign program is still attached"

	cnf_json apply "$W/m.yaml"
	assert_rc 1 "apply --json onto a foreign program"
	assert_jq "$OUT" '.error | type == "string"' "JSON error document"
	assert_unchanged "$before" "a refused apply (JSON) changes nothing"
}

test_other_netns() {
	local pid lid

	netns_add cnfx || return
	ip -n cnfx link add nx0 type veth peer name nx0p
	ip -n cnfx link set nx0 up
	ip -n cnfx link set nx0p up
	# The same name in the test's own namespace must stay untouched.
	veth_add nx0 lnx0p
	write_xdp "$W/m.yaml" m "interface: nx0" "netns: /run/netns/cnfx"

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply into another netns" || return
	assert_jq "$OUT" '.actions[0].action == "create" and .actions[0].target == "nx0@/run/netns/cnfx"' \
		"JSON: target names interface and netns"
	pid=$(jf "$OUT" '.actions[0].prog_id')
	lid=$(jf "$OUT" '.actions[0].link_id')
	assert_eq "$(in_netns cnfx bpftool -j net | jq -r '.[0].xdp[] | select(.devname == "nx0") | .id')" "$pid" \
		"bpftool net in cnfx: nx0 runs our program"
	assert_eq "$(xdp_prog_id nx0)" "" "the local nx0 is untouched"
	assert_jq "$(link_json "$lid")" ".type == \"xdp\" and .prog_id == $pid" "bpftool link: the link exists"
	assert_eq "$(find "$T/bpffs/m/links/fw" -mindepth 1 | wc -l)" 1 "one pin for the attachment"
	assert_match "$(find "$T/bpffs/m/links/fw" -mindepth 1 -printf '%f\n')" '^nx0@' \
		"the pin's key is interface@netns"

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "second apply"
	assert_jq "$OUT" '.changed == false' "second apply into the netns: nothing to do"
	cnf_json status "$W/m.yaml"
	assert_rc 0 "status"
	assert_jq "$OUT" '.attachments[0].state == "in-sync"' "status in-sync"
}

test_dotted_interface_names() {
	local pid

	# VLAN-style names carry dots, which bpffs refuses in pin names.
	veth_add d0.5 d0.5p
	write_xdp "$W/m.yaml" m "interface: d0.5"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply to d0.5" || return
	pid=$(jf "$OUT" '.actions[0].prog_id')
	assert_jq "$OUT" '.actions[0].target == "d0.5"' "JSON: the target keeps its name"
	assert_eq "$(xdp_prog_id d0.5)" "$pid" "bpftool net: d0.5 runs our program"
	assert_exists "$(pin_of m fw d0%2E5)" "the pin name escapes the dot"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "second apply"
	assert_jq "$OUT" '.changed == false' "second apply: nothing to do"
	cnf_json destroy "$W/m.yaml"
	assert_rc 0 "destroy"
	assert_eq "$(xdp_prog_id d0.5)" "" "destroy detached it (bpftool net)"
}

run_test "fresh apply attaches and pins an xdp link" test_fresh_apply
run_test "second apply is a no-op" test_second_apply_is_noop
run_test "new program version updates the link in place" test_update_in_place
run_test "removed attachment is deleted" test_delete_removed_attachment
run_test "deleted interface: defunct, recreated when back" test_interface_deleted
run_test "generic, native and auto modes" test_modes
run_test "interface glob" test_glob
run_test "interfaces list" test_interface_list
run_test "foreign xdp program is refused and left alone" test_foreign_program
run_test "interface in another network namespace" test_other_netns
run_test "interface names with dots" test_dotted_interface_names
