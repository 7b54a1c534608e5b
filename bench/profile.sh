#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Profiles cnf-apply's no-op apply; bench/run.sh calls it with a state root
# where everything is applied already (N=500 interfaces, 1,000 attachments).
#
#   CNF=... M=manifest.yaml OUT=dir bench/profile.sh STATE_ROOT
#
# Writes into OUT/profile/:
#   strace-c-{default,noiter}.txt   syscall counts and kernel time (strace -c -f)
#   perf-self.txt, perf-children.txt   CPU samples of 30 no-op runs (perf, cpu-clock),
#                                   by symbol, self and with callees (DWARF unwinding)
#   callgrind-{default,noiter}.txt  instructions by function, inclusive (valgrind)
# A missing tool (perf, valgrind) skips its part.
set -u -o pipefail

root=${1:?state root}
: "${CNF:?}" "${M:?}" "${OUT:?}"
P=$OUT/profile
mkdir -p "$P"

run() { "$CNF" --bpffs "$root" "$@" apply "$M" >/dev/null; }

for v in default noiter; do
	args=()
	[ "$v" = noiter ] && args=(--no-iter)
	strace -c -f -o "$P/strace-c-$v.txt" "$CNF" --bpffs "$root" "${args[@]}" apply "$M" >/dev/null
done

if command -v perf >/dev/null; then
	perf record -q -e cpu-clock -F 10000 --call-graph dwarf,16384 -o "$P/perf.data" -- \
		bash -c 'for i in $(seq 30); do "$0" --bpffs "$1" apply "$2" >/dev/null; done' \
		"$CNF" "$root" "$M" 2>/dev/null
	perf report -i "$P/perf.data" --comm cnf-apply --no-children --sort dso,symbol \
		--stdio -g none --percent-limit 0.5 2>/dev/null >"$P/perf-self.txt"
	perf report -i "$P/perf.data" --comm cnf-apply --children --sort symbol \
		--stdio -g none --percent-limit 2 2>/dev/null >"$P/perf-children.txt"
	rm -f "$P/perf.data" "$P/perf.data.old"
fi

if command -v valgrind >/dev/null; then
	for v in default noiter; do
		args=()
		[ "$v" = noiter ] && args=(--no-iter)
		valgrind -q --tool=callgrind --callgrind-out-file="$P/callgrind-$v.out" \
			"$CNF" --bpffs "$root" "${args[@]}" apply "$M" >/dev/null 2>&1
		callgrind_annotate --inclusive=yes "$P/callgrind-$v.out" 2>/dev/null |
			head -80 >"$P/callgrind-$v.txt"
		rm -f "$P/callgrind-$v.out"
	done
fi
