#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# lsm: the file_open LSM hook, through a BPF trampoline and a tracing
# link, replaced make-before-break; a hook that does not exist fails
# validation. Needs "bpf" among the active LSMs (lsm=...,bpf).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hook_family.sh"
lib_setup "$@"

HK_HOOK=lsm
HK_OBJ=trace
HK_ATT="    program: t/lsm_open
    function: file_open"
HK_MISSING="    program: t/lsm_open
    function: cnf_no_such_hook"
HK_MISSING_MSG="no LSM hook 'cnf_no_such_hook'"
HK_REFUSE_MSG="this kernel has no BPF LSM|cannot be loaded"
HK_LINK_TYPE=tracing
HK_UPDATE="replace make-before-break"
HK_SLOT=9
hk_trigger() { cat /proc/self/stat >/dev/null; head -c1 /etc/hostname >/dev/null; }

hook_family_suite
