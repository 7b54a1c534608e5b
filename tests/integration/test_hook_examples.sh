#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The examples of the tracing, LSM, netfilter, namespace, netkit and
# struct_ops families (examples/*/), applied as shipped (object paths
# pointed at this build's), checked through --json and bpftool, a second
# apply changing nothing, and destroyed. The two user-facing ones are
# made to do their job: execve-trace's reader receives the exec of a
# command the test runs; netkit-ipv6-monitor's reader receives the IPv6
# packets the test sends into a netkit pair. The LSM example refuses to
# open the file it is configured with. An example whose families this
# kernel lacks is skipped by name. CNF_EXAMPLES (directory names) limits
# the run to those examples (the kernel matrix runs only what this
# machine's kernel cannot).
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$(realpath "$0")")/../.." && pwd)
BUILD=$(realpath "${BUILD:-$ROOT/build}")
export BUILD ROOT
lib_setup "$@"

# stage DIR: examples/DIR's manifest in $W/DIR with `file:` pointing at
# this build's objects; EX is the staged manifest.
stage() {
	local m
	mkdir -p "$W/$1"
	m=$(ls "$ROOT/examples/$1"/*.yaml | head -n 1)
	EX=$W/$1/$(basename "$m")
	sed "s|file: \.\./\.\./build/examples/$1/|file: $BUILD/examples/$1/|" "$m" >"$EX"
}

# hooks_supported MANIFEST: every hook it uses is supported here.
hooks_supported() {
	local probe h
	probe=$("$CNF" probe --json 2>/dev/null)
	for h in $(grep -E '^    hook:' "$1" | awk '{ print $2 }' | sort -u); do
		jq -e --arg h "$h" '.hooks[$h].supported == true' <<<"$probe" >/dev/null || return 1
	done
}

# example DIR [CHECK]: apply, check every link, run CHECK, apply again
# (nothing to do), destroy (every link gone).
example() {
	local dir=$1 check=${2:-} lids l n
	stage "$dir"
	cnf_json apply "$EX"
	assert_rc 0 "apply $dir" || return 1
	n=$(grep -cE '^  - name:' "$EX" | tail -n 1)
	assert_jq "$OUT" '.changed == true and all(.actions[]; .action == "create")' "JSON: $dir creates" || return 1
	lids=$(jq -r '.actions[].link_id' <<<"$OUT")
	for l in $lids; do
		assert_ok "bpftool sees link $l" link_exists "$l"
	done
	if [ -n "$check" ]; then
		"$check" || return 1
	fi
	cnf_json apply "$EX"
	assert_jq "$OUT" '.changed == false' "second apply of $dir: nothing to do"
	cnf_json destroy "$EX"
	assert_rc 0 "destroy $dir"
	for l in $lids; do
		link_exists "$l" && _fail "link $l still exists after destroy"
	done
	return 0
}

# wanted DIR: CNF_EXAMPLES (a list of example directories, set by the
# kernel matrix) names it, or is unset.
wanted() {
	[ -z "${CNF_EXAMPLES:-}" ] || [[ " $CNF_EXAMPLES " == *" $1 "* ]]
}

# run_example NAME DIR [CHECK] [SETUP]: one test, skipped where the kernel
# lacks a family the example uses.
run_example() {
	local name=$1 dir=$2
	wanted "$dir" || return 0
	stage "$dir"
	if ! hooks_supported "$EX"; then
		skip "$name" "this kernel ($(uname -r)) lacks a hook family of examples/$dir (cnf-apply probe)"
		return
	fi
	EX_DIR=$dir EX_CHECK=${3:-} EX_SETUP=${4:-} run_test "$name" _run_example
}

_run_example() {
	if [ -n "$EX_SETUP" ]; then
		"$EX_SETUP" || { _fail "setup"; return; }
	fi
	example "$EX_DIR" "$EX_CHECK"
}

# --- execve-trace -------------------------------------------------------

check_execve() {
	local out=$T/execs.json rp i
	"$BUILD/examples/execve-trace/execve-trace-reader" "$T/bpffs/_maps/execve-trace-events" 10 >"$out" &
	rp=$!
	track_pid "$rp"
	for i in 1 2 3 4 5; do
		sleep 1
		/bin/true cnf-execve-marker
		grep -q '"comm": "true"' "$out" && break
	done
	kill "$rp" 2>/dev/null
	wait "$rp" 2>/dev/null
	assert_ok "the reader printed JSON" jq -e . "$out"
	assert_match "$(cat "$out")" '"comm": "true", "filename": "(/usr)?/bin/true"' \
		"the reader received the exec of /bin/true"
}

# --- netkit-ipv6-monitor ------------------------------------------------

setup_netkit() {
	netns_add nkp || return 1
	ip link add nk0 type netkit peer name nk1 netns nkp || return 1
	ip addr add 2001:db8::1/64 dev nk0 nodad && ip link set nk0 up || return 1
	in_netns nkp ip addr add 2001:db8::2/64 dev nk1 nodad && in_netns nkp ip link set nk1 up
}

check_netkit() {
	local out=$T/ipv6.json rp
	"$BUILD/examples/netkit-ipv6-monitor/ipv6-monitor-reader" \
		"$T/bpffs/_maps/netkit-ipv6-monitor-events" 15 4 >"$out" &
	rp=$!
	track_pid "$rp"
	sleep 1
	ping -6 -n -q -c 3 -i 0.3 -W 2 2001:db8::2 >/dev/null 2>&1
	wait "$rp" 2>/dev/null
	assert_jq "$(jq -s . "$out")" \
		'any(.[]; .src == "2001:db8::1" and .dst == "2001:db8::2" and .next_header == 58)
		and all(.[]; .next_header == 58 or .next_header == 0)' \
		"the reader received the ICMPv6 echo requests sent into nk0"
	assert_jq "$(link_json "$(jf "$OUT" '.actions[0].link_id')")" \
		".type == \"netkit\" and .attach_type == \"netkit_primary\"" "bpftool link: netkit primary"
}

# --- lsm ---------------------------------------------------------------

setup_lsm() {
	local major minor
	echo secret >"$W/secret"
	major=$(stat -c %Hd "$W/secret")
	minor=$(stat -c %Ld "$W/secret")
	# The kernel's dev_t (major << 20 | minor), not stat's encoding.
	LSM_CFG="deny_ino: $(stat -c %i "$W/secret")|deny_dev: $((major << 20 | minor))"
}

check_lsm() {
	assert_ok "reading another file works" cat /etc/hostname
	if cat "$W/secret" >/dev/null 2>"$T/lsm.err"; then
		_fail "the configured file could be opened"
	else
		assert_contains "$(cat "$T/lsm.err")" "Operation not permitted" "open refused with EPERM"
	fi
}

lsm_example() {
	setup_lsm || return 1
	stage lsm
	sed -i "s/deny_ino: 0/${LSM_CFG%%|*}/; s/deny_dev: 0/${LSM_CFG#*|}/" "$EX"
	# example() stages again: keep this manifest.
	stage() { :; }
	example lsm check_lsm
	unset -f stage
	# The state after destroy: the file opens again.
	assert_ok "after destroy the file opens" cat "$W/secret"
}

# --- struct_ops, flow_dissector ----------------------------------------

check_struct_ops() {
	assert_contains "$(cat /proc/sys/net/ipv4/tcp_available_congestion_control)" cnf_fixed \
		"the kernel lists cnf_fixed"
}

setup_blue() {
	netns_add blue
}

run_example "execve-trace: the reader receives an exec" execve-trace check_execve
run_example "netkit-ipv6-monitor: the reader receives IPv6 packets" netkit-ipv6-monitor check_netkit setup_netkit
run_example "raw_tracepoint example" raw_tracepoint
run_example "kprobe example" kprobe
run_example "kprobe_multi example" kprobe_multi
run_example "uprobe example" uprobe
run_example "fentry example" fentry
stage lsm
if ! wanted lsm; then
	:
elif hooks_supported "$EX"; then
	run_test "lsm example: the configured file cannot be opened" lsm_example
else
	skip "lsm example: the configured file cannot be opened" \
		"this kernel ($(uname -r)) lacks a hook family of examples/lsm (cnf-apply probe)"
fi
run_example "netfilter example" netfilter
run_example "sk_lookup example" sk_lookup
run_example "flow_dissector example" flow_dissector "" setup_blue
run_example "struct_ops example" struct_ops check_struct_ops
