#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Build and run the whole test suite, as root:
#
#   sudo scripts/test.sh
#
# Installs what is missing (scripts/setup.sh), builds (make), then runs
# `make test`: unit and integration tests against the normal build and
# against the sanitizer build, then the kernel matrix in QEMU
# (tests/vm/run.sh; CNF_SKIP_VM=1 leaves it out). The last line is the summary,
# "N passed, N failed, N skipped"; the exit status is 1 if anything failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [ "$(id -u)" -ne 0 ]; then
	echo "test.sh: needs root (namespaces, bpffs, BPF): sudo scripts/test.sh" >&2
	exit 1
fi

"$ROOT/scripts/setup.sh"

# A build failure is a failed suite: say so in the summary's format.
if ! make -C "$ROOT" -j"$(nproc)" test-deps; then
	echo "test.sh: build failed" >&2
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi

# When the suite fails, make has the last word ("make: *** [test] Error 1"):
# repeat the summary after it, so the last line is always the summary.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
make -C "$ROOT" --no-print-directory test 2>&1 | tee "$log" || rc=$?
if [ "$rc" -ne 0 ]; then
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n 1 || true)
	echo "${summary:-0 passed, 1 failed, 0 skipped}"
fi
exit "$rc"
