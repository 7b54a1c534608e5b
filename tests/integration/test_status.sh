#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# status: in sync, a link someone removed, foreign programs on a managed
# hook (reported, never removed), a manifest that is gone (orphaned).
. "$(dirname "$0")/lib.sh"
lib_setup "$@"

# write_m FILE NAME DEV: xdp `fw` and tcx ingress `count` on DEV.
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

# entry JSON ATTACHMENT -> the status entry of ATTACHMENT
entry() {
	jq -c --arg a "$2" '.attachments[] | select(.attachment == $a)' <<<"$1"
}

test_in_sync() {
	local applied st a lid pid

	veth_add s0 s0p
	write_m "$W/m.yaml" m s0
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	applied=$OUT

	cnf_json status "$W/m.yaml"
	assert_rc 0 "status in sync"
	st=$OUT
	assert_jq "$st" '(.attachments | length) == 2 and all(.attachments[]; .state == "in-sync")' "both in sync"
	for a in fw count; do
		lid=$(jf "$applied" ".actions[] | select(.attachment == \"$a\") | .link_id")
		pid=$(jf "$applied" ".actions[] | select(.attachment == \"$a\") | .prog_id")
		assert_jq "$(entry "$st" "$a")" ".manifest == \"m\" and .target == \"s0\" and .link_id == $lid
			and .prog_id == $pid" "status of $a: ids as applied"
		assert_eq "$(link_prog_id "$lid")" "$pid" "bpftool link: $a's link runs $pid"
	done
	assert_jq "$(entry "$st" fw)" '.hook == "xdp" and .program == "x/xdp_main"' "status of fw: hook, program"
	assert_jq "$(entry "$st" count)" '.hook == "tcx" and .program == "t/tc_main"' "status of count: hook, program"
	assert_jq "$(entry "$st" count)" '(.foreign // []) == []' "no foreign programs"
}

test_link_removed() {
	local lid newlid

	veth_add s0 s0p
	write_m "$W/m.yaml" m s0
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	lid=$(jf "$OUT" '.actions[] | select(.attachment == "count") | .link_id')

	# Someone unpins the link: nothing else holds it, so it is detached.
	rm "$(pin_of m count s0)" || { _fail "no pin to remove"; return; }
	link_exists "$lid" && _fail "link $lid survived its unpinning"
	assert_eq "$(tcx_names s0 ingress)" "" "bpftool net: tcx hook empty"

	cnf_json status "$W/m.yaml"
	assert_rc 2 "status with a link gone"
	assert_jq "$(entry "$OUT" count)" '.state == "missing"' "count is missing"
	assert_jq "$(entry "$OUT" fw)" '.state == "in-sync"' "fw still in sync"

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply recreates it" || return
	assert_jq "$OUT" '.actions[] | select(.attachment == "count") | .action == "create"' "count created"
	assert_jq "$OUT" '.actions[] | select(.attachment == "fw") | .action == "noop"' "fw untouched"
	newlid=$(jf "$OUT" '.actions[] | select(.attachment == "count") | .link_id')
	assert_eq "$(tcx_chain_lids s0)" "$newlid" "bpftool net: the new link on the hook"
	assert_eq "$(pinned_link_id "$(pin_of m count s0)")" "$newlid" "pinned again"
	cnf_json status "$W/m.yaml"
	assert_rc 0 "status in sync again"
}

tcx_chain_lids() {
	tcx_entries "$1" ingress | jq -r '[.[].link_id] | join(" ")'
}

test_foreign_reported() {
	local fid ours

	veth_add s0 s0p
	write_m "$W/m.yaml" m s0
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	ours=$(jf "$OUT" '.actions[] | select(.attachment == "count") | .prog_id')

	bpftool prog loadall "$W/objs/foreign.bpf.o" "$T/fpin/f" >/dev/null 2>&1 ||
		{ _fail "bpftool prog loadall"; return; }
	bpftool net attach tcx_ingress pinned "$T/fpin/f/tc_foreign" dev s0 ||
		{ _fail "bpftool net attach tcx_ingress"; return; }
	fid=$(pinned_prog_id "$T/fpin/f/tc_foreign")

	cnf_json status "$W/m.yaml"
	assert_jq "$(entry "$OUT" count)" ".state == \"in-sync\" and any(.foreign[]; .prog_id == $fid)" \
		"status: the foreign program is listed on count's hook"
	assert_jq "$(entry "$OUT" count)" "any(.foreign[]; .prog_id == $fid and .prog_name == \"tc_foreign\")" \
		"status: with its name"
	assert_jq "$(entry "$OUT" count)" "all(.foreign[]; .prog_id != $ours)" "status: ours is not foreign"

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply with a foreign program on the hook"
	assert_jq "$OUT" '.changed == false' "apply: nothing to do"
	assert_jq "$(tcx_entries s0 ingress)" "any(.[]; .prog_id == $fid) and any(.[]; .prog_id == $ours)" \
		"bpftool net: both programs still on the hook"

	cnf_json destroy "$W/m.yaml"
	assert_rc 0 "destroy"
	assert_jq "$(tcx_entries s0 ingress)" "[.[].prog_id] == [$fid]" "bpftool net: destroy left the foreign program"
}

test_orphaned() {
	local st

	veth_add s0 s0p
	veth_add s1 s1p
	mkdir "$W/d"
	write_m "$W/d/a.yaml" keep s0
	write_m "$W/d/b.yaml" gone s1
	sed -i 's#objs/#../objs/#' "$W/d/a.yaml" "$W/d/b.yaml"
	cnf_json apply "$W/d"
	assert_rc 0 "apply the directory" || return
	rm "$W/d/b.yaml"

	cnf_json status "$W/d"
	assert_rc 2 "status with a manifest gone"
	st=$OUT
	assert_jq "$st" '[.attachments[] | select(.manifest == "gone") | .state] == ["orphaned", "orphaned"]' \
		"the gone manifest's attachments are orphaned"
	assert_jq "$st" '[.attachments[] | select(.manifest == "keep") | .state] == ["in-sync", "in-sync"]' \
		"the kept manifest is in sync"

	# A directory is the whole desired state: apply prunes what is gone,
	# while a single file names only itself.
	cnf_json apply "$W/d/a.yaml"
	assert_rc 0 "apply of one file"
	assert_jq "$OUT" '[.actions[] | select(.manifest == "gone")] == []' \
		"applying one file leaves other manifests alone"
	assert_ne "$(xdp_prog_id s1)" "" "bpftool net: s1 still has the gone manifest's program"

	cnf_json apply "$W/d"
	assert_rc 0 "apply the directory again"
	assert_jq "$OUT" '[.actions[] | select(.manifest == "gone") | .action] == ["delete", "delete"]' \
		"apply of the directory deletes the gone manifest's attachments"
	assert_jq "$OUT" '[.actions[] | select(.manifest == "gone") | .reason] | unique == ["manifest no longer present"]' \
		"the reason says the manifest is gone"
	assert_eq "$(xdp_prog_id s1)" "" "bpftool net: s1's XDP program is gone"
	assert_eq "$(tcx_entries s1 ingress | jq length)" 0 "bpftool net: s1's tcx program is gone"
	assert_ne "$(xdp_prog_id s0)" "" "bpftool net: s0 keeps its program"
	assert_not_exists "$T/bpffs/gone" "the gone manifest's state is removed"
}

run_test "in sync after apply, with the applied ids" test_in_sync
run_test "an unpinned link is missing, apply recreates it" test_link_removed
run_test "foreign program on a managed hook is reported, kept" test_foreign_reported
run_test "attachments of a removed manifest are orphaned" test_orphaned
