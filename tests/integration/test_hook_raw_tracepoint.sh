#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# raw_tracepoint: sched_process_exec by its bare name, raw tracepoint
# links, replaced make-before-break; a missing tracepoint fails validation.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hook_family.sh"
lib_setup "$@"

HK_HOOK=raw_tracepoint
HK_OBJ=trace
HK_ATT="    program: t/raw_exec
    tracepoint: sched_process_exec"
HK_MISSING="    program: t/raw_exec
    tracepoint: cnf_no_such_tracepoint"
HK_MISSING_MSG="no tracepoint 'cnf_no_such_tracepoint'"
HK_REFUSE_MSG="raw"
HK_LINK_TYPE=raw_tracepoint
HK_UPDATE="replace make-before-break"
HK_SLOT=1
hk_trigger() { /bin/true; /bin/true; }
hk_oracle() {
	assert_jq "$(link_json "$(jf "$1" ".actions[0].link_id")")" ".tp_name == \"sched_process_exec\"" \
		"bpftool link: the raw tracepoint"
}

hook_family_suite
