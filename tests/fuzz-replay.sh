#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Replays the committed fuzz corpora through their fuzz targets, one input
# at a time, so that a fixed crash, leak, hang or broken promise stays
# fixed: fuzz/corpus/ through the manifest loader's (fuzz/fuzz_manifest.c,
# no root, no kernel), fuzz/corpus-state/ through the state reader's
# (fuzz/fuzz_state.c: it makes maps on a private bpffs, so as root only;
# skipped otherwise).
#
#   tests/fuzz-replay.sh [FUZZ_BIN]     (default: both targets in build-fuzz/,
#                                        brought up to date with `make fuzz`;
#                                        FUZZ_BIN: the manifest loader's only)
#
# Prints one line per input ("ok   fuzz-replay: NAME" / "FAIL ...", a
# failure's output after its line) and ends with "N passed, N failed" (and
# ", N skipped"), or, when the targets cannot be built here (no clang or
# libFuzzer), "0 passed, 0 failed, 1 skipped". Exit 1 if an input failed.
# CNF_TEST_LABEL, when set, prefixes every line.
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build-fuzz/fuzz_manifest}
state_bin=$root/build-fuzz/fuzz_state
label=${CNF_TEST_LABEL:+[$CNF_TEST_LABEL] }
timeout_s=${CNF_FUZZ_TIMEOUT:-20}

# The default target is (re)built from the current sources first.
if [ $# -eq 0 ]; then
	if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$root" fuzz >/dev/null 2>&1; then
		echo "${label}skip fuzz-replay: cannot build the fuzz target (needs clang and libFuzzer: libclang-rt-14-dev)"
		echo "0 passed, 0 failed, 1 skipped"
		exit 0
	fi
fi
if [ ! -x "$bin" ]; then
	echo "${label}FAIL fuzz-replay: no fuzz target at $bin"
	echo "0 passed, 1 failed"
	exit 1
fi

passed=0
failed=0
skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# replay BIN CORPUS_DIR PREFIX: every input of the directory, once.
replay() {
	local input name rc why

	for input in "$2"/*; do
		[ -f "$input" ] || continue
		name=$3$(basename "$input")
		# -runs=0 with a file argument runs that input once. A leak, a
		# sanitizer report or a broken promise exits non-zero.
		ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
			timeout --kill-after=5 "$timeout_s" "$1" -runs=0 -timeout=10 \
			-rss_limit_mb=2048 "$input" >"$log" 2>&1
		rc=$?
		if [ "$rc" -eq 0 ]; then
			passed=$((passed + 1))
			echo "${label}ok   fuzz-replay: $name"
		else
			failed=$((failed + 1))
			[ "$rc" -eq 124 ] && why="timed out after ${timeout_s}s" || why="exit status $rc"
			echo "${label}FAIL fuzz-replay: $name ($why)"
			grep -v '^INFO: \|^Running: \|^Executed ' "$log" | head -n 60 | sed 's/^/    /'
		fi
	done
}

replay "$bin" "$root/fuzz/corpus" ""
if [ $# -eq 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "${label}skip fuzz-replay: state/: the state reader's target needs root (a bpffs, BPF maps)"
		skipped=1
	elif [ ! -x "$state_bin" ]; then
		echo "${label}FAIL fuzz-replay: state/: no fuzz target at $state_bin"
		failed=$((failed + 1))
	else
		replay "$state_bin" "$root/fuzz/corpus-state" "state/"
	fi
fi

echo "$passed passed, $failed failed${skipped:+, $skipped skipped}"
[ "$failed" -eq 0 ]
