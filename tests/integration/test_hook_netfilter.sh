#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# netfilter: a program as an IPv4 local_in netfilter hook of the test
# namespace, through a netfilter link; the kernel refuses two BPF hooks at
# one priority, so a new version is replaced break-before-make.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hook_family.sh"
lib_setup "$@"

HK_HOOK=netfilter
HK_OBJ=trace
HK_ATT="    program: t/nf_count
    family: ipv4
    netfilter_hook: local_in
    priority: -100"
HK_REFUSE_MSG="netfilter"
HK_LINK_TYPE=netfilter
HK_UPDATE="replace break-before-make"
HK_SLOT=10
hk_trigger() { ping -n -q -c 2 -i 0.2 -W 1 127.0.0.1 >/dev/null 2>&1; }
hk_oracle() {
	assert_jq "$(link_json "$(jf "$1" ".actions[0].link_id")")" \
		".pf == 2 and .hook == 1 and .prio == -100" "bpftool link: ipv4 local_in -100"
}

# A program of the wrong type is refused before anything is touched.
test_wrong_type() {
	local before
	hk_manifest "$W/m.yaml" "    program: t/skl_count
    family: ipv4
    netfilter_hook: local_in
    priority: -100"
	before=$(snapshot_host)
	cnf_json apply "$W/m.yaml"
	assert_rc 1 "a sk_lookup program on a netfilter hook"
	assert_contains "$ERR" "program 'skl_count' is of type sk_lookup, hook netfilter needs netfilter" \
		"the error names the program and both types"
	assert_unchanged "$before" "nothing changed"
}

hook_family_suite
run_test "a program of another type is refused" test_wrong_type
