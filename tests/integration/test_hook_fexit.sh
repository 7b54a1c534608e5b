#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# fexit: do_unlinkat by its BTF, through a BPF trampoline and a tracing
# link, replaced make-before-break; a function not in the kernel's BTF
# fails validation (the function is set before the program's load).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hook_family.sh"
lib_setup "$@"

HK_HOOK=fexit
HK_OBJ=trace
HK_ATT="    program: t/fx_unlink
    function: do_unlinkat"
HK_MISSING="    program: t/fx_unlink
    function: cnf_no_such_function"
HK_MISSING_MSG="no kernel function 'cnf_no_such_function'"
HK_REFUSE_MSG="this kernel cannot run fentry/fexit programs|this kernel has no BTF|cannot be loaded"
HK_LINK_TYPE=tracing
HK_UPDATE="replace make-before-break"
HK_SLOT=6
hk_trigger() { touch "$W/victim"; rm -f "$W/victim"; }

hook_family_suite
