#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# struct_ops: a TCP congestion control ("cnf_test_cc") registered through
# a struct_ops link from `map: OBJECT/MAP`, its new version swapped in
# place on the same link (BPF_LINK_UPDATE with the new map); a map the
# object does not have is refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hook_family.sh"
lib_setup "$@"

HK_HOOK=struct_ops
HK_OBJ=sto
HK_ATT="    map: t/cnf_cc"
HK_MISSING="    map: t/cnf_no_such_map"
HK_MISSING_MSG="map 'cnf_no_such_map' is not in object"
HK_REFUSE_MSG="cannot register struct_ops through links|no struct_ops type|cannot be loaded"
HK_LINK_TYPE=struct_ops
HK_UPDATE="update in-place"

# The kernel lists the congestion control, and the link holds a struct_ops
# map cnf_cc (found through the link: other runs on the host may register
# maps of that name too).
hk_oracle() {
	local lid mid
	lid=$(jf "$1" ".actions[0].link_id")
	assert_contains "$(cat /proc/sys/net/ipv4/tcp_available_congestion_control)" cnf_test_cc \
		"the kernel lists cnf_test_cc"
	mid=$(link_json "$lid" | jq -r '.map_id // 0')
	assert_jq "$(bt map show id "$mid")" '.type == "struct_ops" and .name == "cnf_cc"' \
		"bpftool link: the link holds struct_ops map cnf_cc"
}

hook_family_suite
