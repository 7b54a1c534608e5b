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

# A namespace runs its sk_lookup programs in order, one program as often
# as it is attached: two attachments of one program are no conflict.
test_one_program_twice() {
	local ino ids

	hk_setup || return
	hk_manifest "$W/m.yaml" "$HK_ATT
  - name: a2
    hook: sk_lookup
$HK_ATT"
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan: two creates, no conflict"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	ino=$(stat -L -c %i /run/netns/skl)
	ids=$(jq -r '[.actions[].link_id] | map(tostring) | join(" ")' <<<"$OUT")
	for id in $ids; do
		assert_jq "$(link_json "$id")" ".netns_ino == $ino and .attach_type == \"sk_lookup\"" \
			"bpftool link $id: sk_lookup in netns skl"
	done
	assert_eq "$(for id in $ids; do link_prog_id "$id"; done | sort -u | wc -l)" 1 \
		"bpftool: both links run the one program"
	cnf_json plan "$W/m.yaml"
	assert_rc 0 "then nothing to do"
}

if hk_supported; then
	run_test "one program twice in a namespace" test_one_program_twice
fi
