#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Runs every integration test file against one build and sums the results.
#
#   tests/run-integration.sh BUILD     (e.g. build, build-san)
#
# Each tests/integration/test_*.sh runs with CNF=BUILD/cnf-apply,
# TEST_OBJS=BUILD/tests/bpf and BUILD (absolute) in its environment,
# prints a line per test (ok/FAIL/skip, a failing test's log after its
# line) and ends with "N passed, N failed, N skipped". Lines are passed on
# as they come; a file that ends without its summary counts as one failure.
# The last line is the total. Exit 1 if anything failed.
#
# CNF_TESTS="xdp tcx" runs only those files; CNF_TEST_TIMEOUT (seconds,
# default 900) bounds each file; CNF_TEST_LABEL prefixes every line.
set -u

here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: run-integration.sh BUILD}
build=$(cd "$build" 2>/dev/null && pwd) || { echo "run-integration.sh: no build directory '$1'" >&2; exit 1; }
export BUILD=$build
export CNF=$build/cnf-apply
export TEST_OBJS=$build/tests/bpf
label=${CNF_TEST_LABEL:+[$CNF_TEST_LABEL] }
# ", N skipped" is optional: a file may also end with "N passed, N failed";
# one that exits 77 without a summary was skipped as a whole.
summary_re='^([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?$'

passed=0
failed=0
skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

files=()
if [ -n "${CNF_TESTS:-}" ]; then
	for t in $CNF_TESTS; do
		files+=("$here/integration/test_${t#test_}")
		[[ ${files[-1]} == *.sh ]] || files[-1]+=.sh
	done
else
	files=("$here"/integration/test_*.sh)
fi

for t in "${files[@]}"; do
	name=$(basename "$t" .sh)
	# Pass every line on at once but the summary, which is only kept.
	timeout --kill-after=30 "${CNF_TEST_TIMEOUT:-900}" bash "$t" </dev/null 2>&1 |
		tee "$log" |
		awk -v re="$summary_re" -v label="$label" '$0 !~ re { print label $0; fflush() }'
	rc=${PIPESTATUS[0]}
	last=$(tail -n 1 "$log")
	if [[ $last =~ $summary_re ]]; then
		passed=$((passed + BASH_REMATCH[1]))
		failed=$((failed + BASH_REMATCH[2]))
		skipped=$((skipped + ${BASH_REMATCH[4]:-0}))
		if [ "$rc" -ne 0 ] && [ "${BASH_REMATCH[2]}" -eq 0 ]; then
			echo "${label}FAIL $name: exited with status $rc"
			failed=$((failed + 1))
		fi
	elif [ "$rc" -eq 77 ]; then
		echo "${label}skip $name: $(tail -n 1 "$log")"
		skipped=$((skipped + 1))
	else
		[ "$rc" -eq 124 ] && why="timed out" || why="exited with status $rc"
		echo "${label}FAIL $name: $why before its summary line"
		failed=$((failed + 1))
	fi
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
