#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# uretprobe: uname() of the C library, named as a library (libc.so.6, found
# like the dynamic linker would), through the uprobe PMU and a perf event
# link, replaced make-before-break; a missing binary fails validation (and
# a symbol the binary only imports is explained).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hook_family.sh"
lib_setup "$@"

HK_HOOK=uretprobe
HK_OBJ=trace
HK_ATT="    program: t/urp_func
    binary: libc.so.6
    symbol: uname"
HK_MISSING="    program: t/urp_func
    binary: /nonexistent/cnf-test-binary
    symbol: uname"
HK_MISSING_MSG="binary '/nonexistent/cnf-test-binary' not found"
HK_REFUSE_MSG="uprobes are not available on this kernel"
HK_LINK_TYPE=perf_event
HK_UPDATE="replace make-before-break"
HK_SLOT=8
hk_trigger() { uname >/dev/null; uname -r >/dev/null; }

test_imported_symbol() {
	local before
	hk_manifest "$W/m.yaml" "    program: t/urp_func
    binary: $(command -v uname)
    symbol: uname"
	before=$(snapshot_host)
	cnf_json apply "$W/m.yaml"
	assert_rc 1 "a symbol the binary imports"
	assert_contains "$ERR" "comes from a shared library" "the error says where the symbol is"
	hk_manifest "$W/m.yaml" "    program: t/urp_func
    binary: libc.so.6
    symbol: cnf_no_such_symbol"
	cnf_json apply "$W/m.yaml"
	assert_rc 1 "a symbol that is nowhere"
	assert_contains "$ERR" "no function 'cnf_no_such_symbol'" "the error names the symbol"
	assert_unchanged "$before" "nothing changed"
}

hook_family_suite
if hk_supported; then
	run_test "symbol imported or missing" test_imported_symbol
fi
