#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The Debian package: `make deb` in a clean copy of the commit under test
# (git archive HEAD), lintian without errors (make deb runs it), a
# Depends on libbpf1 at least as new as every libbpf symbol the program
# imports needs (per libbpf1's own symbols file), the contents, then
# installed on this machine with dpkg -i, the installed examples applied
# with the installed /usr/sbin/cnf-apply in this test's throwaway network
# namespace and private bpffs (checked with bpftool), and purged, leaving
# nothing behind.
#
# Slow (a package build and lintian): run in the normal build only; a
# sanitizer build skips it. Skipped too when cnf-apply is already
# installed on the machine (the test would replace it).
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$(realpath "$0")")/../.." && pwd)
lib_setup "$@"

SYMBOLS=/var/lib/dpkg/info/libbpf1:$(dpkg --print-architecture).symbols

# libbpf1's minimal version for the libbpf symbols the program imports.
needed_libbpf() {
	local bin=$1
	objdump -T "$bin" | awk '$3 == "*UND*" && $5 ~ /^\(LIBBPF_/ { gsub(/[()]/, "", $5); print $6 "@" $5 }' | sort -u |
		while read -r s; do
			awk -v s="$s" '$1 == s { print $2 }' "$SYMBOLS"
		done | {
			local v max=0
			while read -r v; do
				dpkg --compare-versions "$v" gt "$max" && max=$v
			done
			echo "$max"
		}
}

dpkg_retry() {         # dpkg ARGS, retried while another dpkg holds its lock
	local i
	for i in $(seq 30); do
		dpkg "$@" >"$T/dpkg.log" 2>&1 && return 0
		grep -q 'lock' "$T/dpkg.log" || break
		sleep 2
	done
	cat "$T/dpkg.log"
	return 1
}

test_deb() {
	local deb v need out dir

	mkdir -p "$W/src"
	git -C "$ROOT" archive HEAD | tar -x -C "$W/src" || { _fail "git archive HEAD"; return; }
	echo "\$ make deb (in a clean copy of HEAD)"
	# BUILD (this run's build directory, exported by run-integration.sh)
	# must not leak into the clean copy's build.
	out=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BUILD make -C "$W/src" --no-print-directory deb 2>&1)
	assert_eq "$?" 0 "make deb (dpkg-buildpackage, lintian --fail-on error)" || { _show "$out"; return; }
	echo "$out" | tail -n 20
	deb=$(ls "$W/src/build/deb/"cnf-apply_*_"$(dpkg --print-architecture)".deb 2>/dev/null)
	assert_ne "$deb" "" "the package cnf-apply_<version>_<arch>.deb" || return
	assert_eq "$(basename "$deb")" "cnf-apply_$("$CNF" --version | awk '{ print $NF }')_$(dpkg --print-architecture).deb" \
		"named after the program's version"
	assert_not_contains "$out" "E: " "lintian: no error"

	# Depends: libbpf1 new enough for every symbol used.
	v=$(dpkg-deb -f "$deb" Depends | grep -o 'libbpf1 (>= [^)]*)' | sed 's/libbpf1 (>= \(.*\))/\1/')
	need=$(needed_libbpf "$W/src/build/deb/cnf-apply-"*/debian/cnf-apply/usr/sbin/cnf-apply)
	echo "Depends: libbpf1 (>= $v); the imported symbols need $need"
	assert_ne "$v" "" "Depends names libbpf1 with a version" || return
	assert_ne "$need" "" "libbpf1's symbols file names the imported symbols"
	assert_ok "libbpf1 (>= $v) covers the symbols used (>= $need)" dpkg --compare-versions "$v" ge "$need"

	out=$(dpkg-deb -c "$deb" | awk '{ print $6 }')
	for f in ./usr/sbin/cnf-apply ./usr/share/man/man8/cnf-apply.8.gz ./usr/share/man/man5/cnf.d.5.gz \
		./usr/share/bash-completion/completions/cnf-apply ./lib/systemd/system/cnf-apply.service \
		./lib/systemd/system/cnf-apply-metrics.timer ./usr/share/cnf-apply/schema/manifest.schema.json \
		./usr/share/cnf-apply/examples/xdp-firewall/xdp_firewall.bpf.o \
		./usr/share/cnf-apply/ansible/galaxy.yml ./usr/share/cnf-apply/salt/_states/cnf_apply.py; do
		assert_contains "$out" "$f" "the package holds $f"
	done

	# Installed on this machine, used, purged.
	dpkg_retry -i "$deb" || { _fail "dpkg -i"; return; }
	assert_eq "$(dpkg-query -W -f='${Status}' cnf-apply)" "install ok installed" "dpkg: installed"
	assert_ok "units installed, not enabled" test ! -e /etc/systemd/system/sysinit.target.wants/cnf-apply.service
	veth_add eth0 eth0p
	for dir in xdp-firewall tcx-chain; do
		_inst_json plan "/usr/share/cnf-apply/examples/$dir"
		assert_rc 2 "$dir: the installed cnf-apply plans the installed example: changes"
		_inst_json apply "/usr/share/cnf-apply/examples/$dir"
		assert_rc 0 "$dir: applied"
		_inst_json status "/usr/share/cnf-apply/examples/$dir"
		assert_jq "$OUT" '.in_sync == true' "$dir: in sync"
	done
	assert_ne "$(xdp_prog_id eth0)" "" "bpftool net: the example's XDP program on eth0"
	assert_eq "$(tcx_names eth0 ingress)" "chain_mark chain_enforce" "bpftool net: the tcx chain on eth0"
	for dir in xdp-firewall tcx-chain; do
		_inst_json destroy "/usr/share/cnf-apply/examples/$dir"
		assert_rc 0 "$dir: destroyed"
	done
	assert_eq "$(xdp_prog_id eth0)$(tcx_names eth0 ingress)" "" "bpftool net: nothing left on eth0"
	dpkg_retry --purge cnf-apply || _fail "dpkg --purge"
	assert_eq "$(dpkg-query -W -f='${Status}' cnf-apply 2>/dev/null)" "" "dpkg: purged"
	assert_not_exists /usr/sbin/cnf-apply "purged: no /usr/sbin/cnf-apply"
	assert_not_exists /usr/share/cnf-apply "purged: no /usr/share/cnf-apply"
}

# _inst_json ARGS: the installed /usr/sbin/cnf-apply, as cnf_json.
_inst_json() {
	local save=$CNF
	CNF=/usr/sbin/cnf-apply
	_cnf_capture --json "$@"
	CNF=$save
}

for c in dpkg-buildpackage dh lintian git; do
	if ! command -v "$c" >/dev/null; then
		skip "the Debian package" "$c not installed (apt-get install dpkg-dev debhelper lintian git)"
		exit 0
	fi
done
if readelf -sW "$CNF" 2>/dev/null | grep '__asan_init' >/dev/null; then
	skip "the Debian package" "sanitizer build: the package test runs in the normal build only (slow)"
	exit 0
fi
if dpkg-query -W cnf-apply >/dev/null 2>&1 || [ -e /usr/sbin/cnf-apply ]; then
	skip "the Debian package" "cnf-apply is already installed here: not replaced by a test"
	exit 0
fi
if ! git -C "$ROOT" rev-parse HEAD >/dev/null 2>&1; then
	skip "the Debian package" "not a git checkout: no HEAD to build from"
	exit 0
fi
run_test "make deb from a clean clone, lintian, Depends, install, run the examples, purge" test_deb
