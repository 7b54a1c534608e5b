#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# kprobe_multi: a list of kernel functions (a name and a glob) on one
# fprobe link, replaced make-before-break; a pattern matching nothing
# fails validation.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hook_family.sh"
lib_setup "$@"

HK_HOOK=kprobe_multi
HK_OBJ=trace
HK_ATT="    program: t/km_unlink
    functions: [do_unlinkat, \"do_rmdi?\"]"
HK_MISSING="    program: t/km_unlink
    functions: [do_unlinkat, \"cnf_no_such_*\"]"
HK_MISSING_MSG="no kernel function matches 'cnf_no_such_*'"
HK_REFUSE_MSG="kprobe_multi is not available on this kernel"
HK_LINK_TYPE=kprobe_multi
HK_UPDATE="replace make-before-break"
HK_SLOT=4
hk_trigger() { touch "$W/victim"; rm -f "$W/victim"; mkdir "$W/d"; rmdir "$W/d"; }
hk_oracle() {
	local n
	n=$(link_json "$(jf "$1" ".actions[0].link_id")" | jq -r ".func_cnt // empty")
	[ -z "$n" ] || assert_eq "$n" 2 "bpftool link: two functions"
}

hook_family_suite
