#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# flow_dissector: the flow dissector of a named network namespace, through
# a netns link, updated in place; another program already there is
# refused; a namespace that does not exist fails validation.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hook_family.sh"
lib_setup "$@"

HK_HOOK=flow_dissector
HK_OBJ=trace
HK_ATT="    program: t/fd_count
    netns: /run/netns/fd"
HK_MISSING="    program: t/fd_count
    netns: /run/netns/cnf-no-such-netns"
HK_MISSING_MSG="network namespace '/run/netns/cnf-no-such-netns' not found"
HK_REFUSE_MSG="flow_dissector"
HK_LINK_TYPE=netns
HK_UPDATE="update in-place"
hk_setup() { netns_add fd; }
# bpftool net, run inside the namespace, lists its flow dissector (bpftool
# 7.5 writes that entry as '"flow_dissector":["id":N]', not valid JSON:
# matched as text).
hk_oracle() {
	local pid fd
	pid=$(jf "$1" ".actions[0].prog_id")
	fd=$(in_netns fd bpftool -j net 2>/dev/null | grep -oE '"flow_dissector":\[[^]]*\]')
	assert_match "$fd" "\"id\": ?$pid([^0-9]|\$)" "bpftool net (in the netns): our flow dissector"
	assert_eq "$(grep -o '"id"' <<<"$fd" | wc -l)" 1 "bpftool net (in the netns): one flow dissector"
}

test_foreign() {
	local before fid
	netns_add fd || return
	bpftool prog load "$W/objs/netns_foreign.bpf.o" "$T/fpin/fd_foreign" >/dev/null 2>&1 || { _fail "bpftool prog load"; return; }
	in_netns fd bpftool prog attach pinned "$T/fpin/fd_foreign" flow_dissector || { _fail "bpftool prog attach"; return; }
	fid=$(pinned_prog_id "$T/fpin/fd_foreign")
	hk_manifest "$W/m.yaml"
	before=$(snapshot_host)
	cnf_json plan "$W/m.yaml"
	assert_rc 1 "plan where another tool has a flow dissector"
	assert_contains "$ERR" "already runs program id $fid (fd_foreign) of another tool" \
		"plan's error names the foreign program"
	cnf_json apply "$W/m.yaml"
	assert_rc 1 "apply where another tool has a flow dissector"
	assert_contains "$ERR" "already runs program id $fid (fd_foreign) of another tool" \
		"the error names the foreign program"
	assert_unchanged "$before" "nothing changed"
	in_netns fd bpftool prog detach pinned "$T/fpin/fd_foreign" flow_dissector 2>/dev/null
}

hook_family_suite
if hk_supported; then
	run_test "a foreign flow dissector is not replaced" test_foreign
fi
