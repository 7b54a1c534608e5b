#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Runs unit test binaries and sums their results.
#
#   tests/run-unit.sh BIN...
#
# Each binary prints a line per test ("ok   NAME" / "FAIL NAME", with the
# failed checks on stderr) and ends with "N passed, N failed". Those lines
# are passed on, prefixed with the binary's name; a binary that dies
# without its summary line counts as one failure and its output is shown.
# The last line is the total, "N passed, N failed". Exit 1 if anything
# failed. CNF_TEST_LABEL, when set, prefixes every line (e.g. "san").
set -u

label=${CNF_TEST_LABEL:+[$CNF_TEST_LABEL] }
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for bin in "$@"; do
	name=$(basename "$bin")
	if [ ! -x "$bin" ]; then
		echo "${label}FAIL $name: not found or not executable"
		failed=$((failed + 1))
		continue
	fi
	"$bin" >"$log" 2>&1
	rc=$?
	summary=$(tail -n 1 "$log")
	if [[ $summary =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		passed=$((passed + BASH_REMATCH[1]))
		failed=$((failed + BASH_REMATCH[2]))
		sed '$d' "$log" | sed -E "s/^(ok  |FAIL) ?/${label}\\1 $name: /"
		if [ "$rc" -ne 0 ] && [ "${BASH_REMATCH[2]}" -eq 0 ]; then
			echo "${label}FAIL $name: exited with status $rc after all tests passed"
			failed=$((failed + 1))
		fi
	else
		echo "${label}FAIL $name: exited with status $rc before its summary"
		sed 's/^/    /' "$log"
		failed=$((failed + 1))
	fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
