#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Fetch the Debian kernels of the VM matrix and unpack them into a cache
# outside the repository (default /var/cache/cnf-apply-vm):
#
#   tests/vm/fetch-kernels.sh [6.12|6.1|all]
#
# 6.12: the newest linux-image-6.12.*-amd64-unsigned (bookworm-backports);
# 6.1:  the newest linux-image-6.1.0-N-amd64-unsigned (bookworm).
# Prints one line per kernel: "<series> <cache dir>". A kernel already
# unpacked is not fetched again.
set -euo pipefail

CACHE=${CNF_VM_CACHE:-/var/cache/cnf-apply-vm}
want=${1:-all}

# The newest installable package of a series, by apt's own lists.
pick() {
	local re=$1 p cand
	apt-cache search --names-only "$re" | awk '{print $1}' | grep -Ev -- '-(cloud|rt)-' |
		sort -V -r | while read -r p; do
			cand=$(apt-cache policy "$p" | awk '/Candidate:/ {print $2}')
			if [ -n "$cand" ] && [ "$cand" != "(none)" ]; then
				echo "$p"
				break
			fi
		done
}

fetch() {
	local series=$1 re pkg dir tmp
	case $series in
	6.12) re='^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' ;;
	6.1) re='^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' ;;
	*) echo "fetch-kernels.sh: unknown kernel series '$series'" >&2; return 1 ;;
	esac
	pkg=$(pick "$re")
	if [ -z "$pkg" ]; then
		# An empty or stale package list: refresh it once.
		apt-get update -q >&2
		pkg=$(pick "$re")
	fi
	if [ -z "$pkg" ]; then
		echo "fetch-kernels.sh: no package matches $re (is bookworm-backports configured?)" >&2
		return 1
	fi
	dir=$CACHE/$pkg
	if [ ! -f "$dir/.complete" ]; then
		mkdir -p "$CACHE"
		tmp=$(mktemp -d "$CACHE/.fetch.XXXXXX")
		chmod 0755 "$tmp"
		chown _apt "$tmp" 2>/dev/null || true   # apt downloads as _apt
		(cd "$tmp" && apt-get download -q "$pkg" >&2)
		rm -rf "$dir"
		mkdir -p "$dir"
		dpkg -x "$tmp"/*.deb "$dir"
		rm -rf "$tmp"
		# The package ships no modules.dep (depmod runs at install).
		for v in "$dir"/lib/modules/*; do
			depmod -b "$dir" "$(basename "$v")"
		done
		touch "$dir/.complete"
	fi
	echo "$series $dir"
}

case $want in
all) fetch 6.12; fetch 6.1 ;;
*) fetch "$want" ;;
esac
