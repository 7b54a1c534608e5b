#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A guided run of cnf-apply on the bundled manifests in cnf.d/:
# plan, apply, status, an independent look with bpftool, some traffic
# through the programs, a second plan (nothing to do), destroy.
#
#   sudo scripts/demo.sh        installs what the demo needs and is missing
#                               (scripts/setup.sh --demo: no QEMU, no Ansible),
#                               builds the program and the demo's objects,
#                               runs the demo
#   scripts/demo.sh BIN         runs the demo with an already built binary
#                               (what `make demo` does)
#
# Everything happens in a throwaway network and mount namespace: the veth
# pairs cnfdemo0/cnfdemo0p and cnfdemo1/cnfdemo1p, a private bpffs as the
# state root, a child cgroup `cnf-demo`. The host's interfaces and its
# /sys/fs/bpf are not touched; the cgroup is removed at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [ -z "${CNF_DEMO_INNER:-}" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "demo.sh: needs root (namespaces, BPF): sudo scripts/demo.sh" >&2
		exit 1
	fi
	if [ $# -ge 1 ]; then
		bin=$(realpath "$1")
	else
		"$ROOT/scripts/setup.sh" --demo
		make -C "$ROOT" -j"$(nproc)" demo-deps
		bin=$ROOT/build/cnf-apply
	fi
	[ -x "$bin" ] || { echo "demo.sh: no cnf-apply binary at $bin" >&2; exit 1; }
	export CNF_DEMO_INNER=1 CNF_DEMO_BIN=$bin
	exec unshare --net --mount --propagation private -- "$ROOT/scripts/demo.sh"
fi

# --- inside the demo's own network and mount namespace ---------------------

BIN=$CNF_DEMO_BIN
cd "$ROOT"

if [ -t 1 ]; then
	bold=$'\e[1m' dim=$'\e[2m' off=$'\e[0m'
else
	bold='' dim='' off=''
fi

TMP=$(mktemp -d /tmp/cnf-demo.XXXXXX)
BPFFS=$TMP/bpffs

# Run as root, cnf-apply refuses manifests and objects a user could
# change, and a checkout usually belongs to one: the demo runs on a
# root-owned copy of cnf.d/ (shown as cnf.d in the transcript).
cp -R "$ROOT/cnf.d" "$TMP/cnf.d"
chown -R root:root "$TMP/cnf.d"
chmod -R go-w "$TMP/cnf.d"
cd "$TMP"
CG2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
CG=${CG2:+$CG2/cnf-demo}
cg_created=
peer_pid=

cleanup() {
	set +e
	[ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null
	# Unmounting the private bpffs drops every pin, so whatever a failed
	# step left attached is released with it.
	mountpoint -q "$BPFFS" && umount "$BPFFS"
	[ -n "$cg_created" ] && rmdir "$CG" 2>/dev/null
	mountpoint -q "$TMP/bpffs" || rm -rf "$TMP"
}
trap cleanup EXIT

# Shown as `cnf-apply ...` in the transcript.
cnf-apply() {
	"$BIN" "$@"
}

section() {
	printf '\n%s== %s%s\n' "$bold" "$*" "$off"
}

# step WANT CMD...: show the command, run it, stop the demo if it does not
# exit with WANT.
step() {
	local want=$1 rc=0
	shift
	printf '\n%s$ %s%s\n' "$bold" "$*" "$off"
	"$@" || rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "demo.sh: '$*' exited with $rc, expected $want" >&2
		exit 1
	fi
	[ "$want" -eq 0 ] || printf '%s(exit %d, as expected)%s\n' "$dim" "$rc" "$off"
}

# try_connect ADDR PORT: a TCP connect from this shell; prints the outcome.
try_connect() {
	local out
	if out=$(timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" 2>&1); then
		echo "connected"
	else
		echo "${out##*: }"
	fi
}

# As try_connect, from a process inside the cnf-demo cgroup.
try_connect_in_cgroup() {
	timeout 3 bash -c '
		echo $$ >"$1/cgroup.procs" || exit 1
		if out=$(exec 2>&1; exec 3<>"/dev/tcp/$2/$3"); then echo connected; else echo "${out##*: }"; fi
	' _ "$CG" "$1" "$2"
}

# --- the demo network -------------------------------------------------------

section "Setting up a throwaway network namespace"
ip link set lo up
# The peers live in a second namespace, so that traffic crosses the veths
# and `cnfdemo*` matches only cnfdemo0 and cnfdemo1.
unshare --net sleep infinity &
peer_pid=$!
for _ in $(seq 100); do
	[ "$(readlink "/proc/$peer_pid/ns/net")" != "$(readlink /proc/self/ns/net)" ] && break
	sleep 0.05
done
peer() {
	nsenter --net="/proc/$peer_pid/ns/net" "$@"
}
peer ip link set lo up
for i in 0 1; do
	ip link add "cnfdemo$i" type veth peer name "cnfdemo${i}p"
	ip link set "cnfdemo${i}p" netns "$peer_pid"
	ip addr add "10.201.$i.1/30" dev "cnfdemo$i"
	ip link set "cnfdemo$i" up
	peer ip addr add "10.201.$i.2/30" dev "cnfdemo${i}p"
	peer ip link set "cnfdemo${i}p" up
done
ip -brief address show

mkdir -p "$BPFFS"
mount -t bpf -o mode=0700 bpf "$BPFFS"
echo "state root: $BPFFS (a private bpffs)"

[ -n "$CG" ] || { echo "demo.sh: no cgroup2 mount found" >&2; exit 1; }
if [ ! -d "$CG" ]; then
	mkdir "$CG"
	cg_created=1
fi
echo "cgroup:     $CG"

# --- cnf-apply ---------------------------------------------------------------

section "What would change? (plan exits 2: there are changes)"
step 2 cnf-apply --bpffs "$BPFFS" plan cnf.d

section "Apply"
step 0 cnf-apply --bpffs "$BPFFS" apply cnf.d

section "Status: desired vs live"
step 0 cnf-apply --bpffs "$BPFFS" status cnf.d

section "The kernel's own view (bpftool, tc), independent of cnf-apply"
step 0 bpftool net
step 0 bpftool cgroup show "$CG"
step 0 tc filter show dev cnfdemo0 egress
step 0 ls -R "$BPFFS"

section "Some traffic through the programs"
printf '\n%s$ connect 10.201.0.2:80%s   (from this shell: allowed, nobody listens)\n' "$bold" "$off"
r=$(try_connect 10.201.0.2 80)
echo "$r"
printf '\n%s$ connect 10.201.0.2:23%s   (from a process in cgroup cnf-demo: policy no-telnet)\n' "$bold" "$off"
r=$(try_connect_in_cgroup 10.201.0.2 23)
echo "$r"
if [ "$r" != "Operation not permitted" ]; then
	echo "demo.sh: the connect4 policy did not refuse the connection" >&2
	exit 1
fi
printf '\n%s$ connect 10.201.1.2:80%s   (from a process in cgroup cnf-demo: another port, allowed)\n' "$bold" "$off"
try_connect_in_cgroup 10.201.1.2 80

step 0 bpftool map dump name xdp_stats
step 0 bpftool map dump name tcx_proto
step 0 bpftool map dump name tcx_bytes
step 0 bpftool map dump name tc_egress_stats
step 0 bpftool map dump name connect_stats

section "Plan again: nothing to do (exit 0)"
step 0 cnf-apply --bpffs "$BPFFS" plan cnf.d

section "Destroy everything the manifests own"
step 0 cnf-apply --bpffs "$BPFFS" destroy cnf.d
step 0 bpftool net
step 0 bpftool cgroup show "$CG"

section "Done: the namespaces, the bpffs and the cgroup go away now"
