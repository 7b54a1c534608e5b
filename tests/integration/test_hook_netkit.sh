#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# netkit: a program on the peer side of a netkit pair, attached through
# its primary device, updated in place (BPF_LINK_UPDATE); two programs
# ordered on the primary side; a device that is not netkit and a missing
# interface are refused before anything changes. Kernels without netkit
# refuse every netkit attachment.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hook_family.sh"
lib_setup "$@"

HK_HOOK=netkit
HK_OBJ=trace
HK_ATT="    program: t/nk_main
    interface: nk0
    side: peer"
HK_MISSING="    program: t/nk_main
    interface: cnf-nosuch
    side: peer"
HK_MISSING_MSG="interface 'cnf-nosuch' not found"
HK_REFUSE_ATT="    program: t/nk_main
    interface: lo"
HK_REFUSE_MSG="this kernel has no netkit devices"
HK_LINK_TYPE=netkit
HK_UPDATE="update in-place"
HK_SLOT=14

# nk0 (primary, 10.0.9.1) here, its peer nk1 (10.0.9.2) in netns nkp.
hk_setup() {
	netns_add nkp || return 1
	ip link add nk0 type netkit peer name nk1 netns nkp || return 1
	ip addr add 10.0.9.1/24 dev nk0 && ip link set nk0 up || return 1
	in_netns nkp ip addr add 10.0.9.2/24 dev nk1 && in_netns nkp ip link set nk1 up
}
# What the peer sends passes its side's programs.
hk_trigger() { in_netns nkp ping -n -q -c 2 -i 0.2 -W 1 10.0.9.1 >/dev/null 2>&1; true; }
hk_oracle() {
	local lid
	lid=$(jf "$1" ".actions[0].link_id")
	assert_jq "$(link_json "$lid")" ".attach_type == \"netkit_peer\" and .ifindex == $(in_netns nkp ip -j link show dev nk1 | jq ".[0].ifindex")" \
		"bpftool link: on nk0, peer side"
}

test_ordered() {
	hk_setup || { _fail "netkit pair"; return; }
	hk_manifest "$W/m.yaml" "    program: t/nk_second
    interface: nk0
  - name: a2
    hook: netkit
    program: t/nk_main
    interface: nk0
    order: first
  - name: a3
    hook: netkit
    program: t/nk_third
    interface: nk0
    after: a1"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply three programs on the primary side" || return
	assert_jq "$OUT" '[.actions[] | .action] == ["create", "create", "create"]' "JSON: three creates"
	# The kernel's order, from its own query (bpftool net lists netkit
	# programs like tcx ones, in run order).
	local names
	names=$(net_json | jq -r '[.[0].tc[]? | select(.devname == "nk0") | .name] | join(" ")')
	assert_eq "$names" "nk_main nk_second nk_third" "bpftool net: run order on nk0"
	cnf_json apply "$W/m.yaml"
	assert_jq "$OUT" '.changed == false' "second apply: nothing to do"
}

test_not_netkit() {
	local before
	veth_add v0 v0p || return
	hk_manifest "$W/m.yaml" "    program: t/nk_main
    interface: v0"
	before=$(snapshot_host)
	cnf_json apply "$W/m.yaml"
	assert_rc 1 "a veth device on a netkit hook"
	assert_contains "$ERR" "interface v0 is not a netkit device" "the error says so"
	assert_unchanged "$before" "nothing changed"
}

hook_family_suite
if hk_supported; then
	run_test "ordered programs on the primary side" test_ordered
	run_test "a device that is not netkit is refused" test_not_netkit
fi
