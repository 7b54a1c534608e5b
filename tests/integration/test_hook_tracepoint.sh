#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# tracepoint: sched/sched_process_exec (named by the ELF section), perf
# event links, replaced make-before-break on a new version; a missing
# tracepoint fails validation.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hook_family.sh"
lib_setup "$@"

HK_HOOK=tracepoint
HK_OBJ=trace
HK_ATT="    program: t/tp_exec"
HK_MISSING="    program: t/tp_exec
    tracepoint: sched/cnf_no_such_tracepoint"
HK_MISSING_MSG="no tracepoint 'sched/cnf_no_such_tracepoint'"
HK_REFUSE_MSG="tracefs"
HK_LINK_TYPE=perf_event
HK_UPDATE="replace make-before-break"
HK_SLOT=0
hk_trigger() { /bin/true; /bin/true; }

# The kernel's own view: the perf event link names its tracepoint
# (bpftool shows it where the kernel reports perf event link details).
hk_oracle() {
	local lid tp
	lid=$(jf "$1" ".actions[0].link_id")
	tp=$(link_json "$lid" | jq -r ".event.tracepoint // .tracepoint // empty")
	[ -z "$tp" ] || assert_eq "$tp" sched_process_exec "bpftool link: the tracepoint"
}

hook_family_suite
