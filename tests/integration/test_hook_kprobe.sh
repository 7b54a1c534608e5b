#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# kprobe: do_unlinkat, through the kprobe PMU and a perf event link,
# replaced make-before-break; a missing kernel function fails validation.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hook_family.sh"
lib_setup "$@"

HK_HOOK=kprobe
HK_OBJ=trace
HK_ATT="    program: t/kp_unlink
    function: do_unlinkat"
HK_MISSING="    program: t/kp_unlink
    function: cnf_no_such_function"
HK_MISSING_MSG="no kernel function 'cnf_no_such_function'"
HK_REFUSE_MSG="kprobes are not available on this kernel"
HK_LINK_TYPE=perf_event
HK_UPDATE="replace make-before-break"
HK_SLOT=2
hk_trigger() { touch "$W/victim"; rm -f "$W/victim"; }

hook_family_suite
