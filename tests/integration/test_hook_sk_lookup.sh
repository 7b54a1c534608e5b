#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# sk_lookup: a socket lookup program of a named network namespace
# (netns: /run/netns/NAME), through a netns link, updated in place
# (BPF_LINK_UPDATE); a namespace that does not exist fails validation.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hook_family.sh"
lib_setup "$@"

HK_HOOK=sk_lookup
HK_OBJ=trace
HK_ATT="    program: t/skl_count
    netns: /run/netns/skl"
HK_MISSING="    program: t/skl_count
    netns: /run/netns/cnf-no-such-netns"
HK_MISSING_MSG="network namespace '/run/netns/cnf-no-such-netns' not found"
HK_REFUSE_MSG="sk_lookup"
HK_LINK_TYPE=netns
HK_UPDATE="update in-place"
HK_SLOT=11
hk_setup() { netns_add skl; }
hk_trigger() { in_netns skl bash -c "echo x >/dev/udp/127.0.0.1/9; echo x >/dev/udp/127.0.0.1/9" 2>/dev/null; true; }
hk_oracle() {
	local ino
	ino=$(stat -L -c %i /run/netns/skl)
	assert_jq "$(link_json "$(jf "$1" ".actions[0].link_id")")" \
		".netns_ino == $ino and .attach_type == \"sk_lookup\"" "bpftool link: sk_lookup in netns skl"
}

hook_family_suite
