#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The whole suite: unit and integration tests against the normal build,
# then again against the sanitizer build (make SAN=1 -> BUILD-san, ASan +
# UBSan, leaks detected), then the kernel matrix (tests/vm/run.sh: the
# kernel-dependent integration tests in QEMU on other kernels). Prints a line per test, a failing test's output,
# and finally ONE line "N passed, N failed, N skipped" over everything.
# Exit 1 if anything failed.
#
#   tests/run-all.sh [BUILD]        (default: build; `make test` calls this)
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in
/*) ;;
*) build=$root/$build ;;
esac

passed=0
failed=0
skipped=0
log=$(mktemp)
fails=$(mktemp)
trap 'rm -f "$log" "$fails"' EXIT

# run_counted CMD...: run a sub-runner, pass its lines on except its final
# summary line, and add that summary ("P passed, F failed[, S skipped]")
# to the totals. No summary counts as one failure.
run_counted() {
	"$@" 2>&1 | tee "$log" | awk '
		NR > 1 { print prev; fflush() }
		{ prev = $0 }
		END { if (NR > 0 && prev !~ /^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$/) print prev }'
	local rc=${PIPESTATUS[0]} last
	grep -E '^(\[[^]]*\] )?FAIL ' "$log" >>"$fails"
	last=$(tail -n 1 "$log")
	if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)?$ ]]; then
		passed=$((passed + BASH_REMATCH[1]))
		failed=$((failed + BASH_REMATCH[2]))
		skipped=$((skipped + ${BASH_REMATCH[4]:-0}))
		if [ "$rc" -ne 0 ] && [ "${BASH_REMATCH[2]}" -eq 0 ]; then
			echo "FAIL $(basename "$1"): exited with status $rc" | tee -a "$fails"
			failed=$((failed + 1))
		fi
	else
		echo "FAIL $(basename "$1"): exited with status $rc without a summary" | tee -a "$fails"
		failed=$((failed + 1))
	fi
}

unit_bins() {
	find "$1/tests" -maxdepth 1 -type f -name 'test_*' -perm -u+x 2>/dev/null | sort
}

# suite LABEL BUILD: unit tests, then integration tests, of one build;
# LABEL (may be empty) prefixes their lines.
suite() {
	local bins
	mapfile -t bins < <(unit_bins "$2")
	CNF_TEST_LABEL=$1 run_counted "$root/tests/run-unit.sh" "${bins[@]}"
	CNF_TEST_LABEL=$1 run_counted "$root/tests/run-integration.sh" "$2"
}

suite "" "$build"

# The manifest loader under libFuzzer (ASan + UBSan): the committed corpus
# replayed, then a bounded fuzzing run (CNF_FUZZ_SECONDS, default 60).
fuzz_bounded() {
	local secs=${CNF_FUZZ_SECONDS:-60}

	if make -s -C "$root" fuzz-run FUZZ_SECONDS="$secs" >"$log.fuzz" 2>&1; then
		echo "ok   fuzz: $secs s of libFuzzer on the manifest loader, nothing found"
		echo "1 passed, 0 failed"
	else
		echo "FAIL fuzz: libFuzzer found a problem (or could not run):"
		tail -n 40 "$log.fuzz" | sed 's/^/    /'
		echo "0 passed, 1 failed"
		return 1
	fi
}
run_counted "$root/tests/fuzz-replay.sh"
run_counted fuzz_bounded

# The sanitizer build. The parent make's variables must not leak into it
# (a BUILD= from the command line would override the -san suffix).
san_build=$build-san
if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL BUILD="$build" \
	make -C "$root" --no-print-directory SAN=1 test-deps >"$log" 2>&1; then
	# SAN=1 too, so that a test building its own helpers (make BUILD=...)
	# builds them with the sanitizers.
	SAN=1 ASAN_OPTIONS=detect_leaks=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		suite san "$san_build"
else
	echo "FAIL san: make SAN=1 failed" | tee -a "$fails"
	sed 's/^/    /' "$log" | tail -n 40
	failed=$((failed + 1))
fi

# The kernel matrix: the kernel-dependent integration tests again, in
# QEMU on Debian's 6.12 and 6.1 kernels, with the normal build
# (tests/vm/run.sh). CNF_SKIP_VM=1 leaves it out.
if [ -n "${CNF_SKIP_VM:-}" ]; then
	echo "skip vm: CNF_SKIP_VM is set"
	skipped=$((skipped + 1))
else
	run_counted "$root/tests/vm/run.sh" all "$build"
fi

# The failures again, together, just above the summary: a long log's tail
# then says what failed without scrolling back.
if [ -s "$fails" ]; then
	echo "Failed:"
	sed 's/^/  /' "$fails"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
