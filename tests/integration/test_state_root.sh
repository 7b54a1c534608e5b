#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The state root as a trust boundary: what the tool records is what the
# kernel said (an interrupted info call is asked again), a failed apply
# leaves nothing, the root and the directories above it are checked, no
# symbolic link under the root is followed, entries the tool did not make
# are reported as `stray` and otherwise left alone, and a state map that
# is not the tool's is refused by name.
. "$(dirname "$0")/lib.sh"
lib_setup "$@"

FAULT_SO=${BUILD:-$(dirname "$CNF")}/tests/fault_bpf.so

# write_m FILE NAME DEV...: xdp `fw` on the first DEV, tcx ingress `count`
# on every DEV.
write_m() {
	local f=$1 name=$2 dev=$3
	shift 2
	cat >"$f" <<EOF
apiVersion: cnf-apply/v1
name: $name
objects:
  - name: x
    file: objs/xdp_v1.bpf.o
  - name: t
    file: objs/tc_v1.bpf.o
attachments:
  - name: fw
    program: x/xdp_main
    hook: xdp
    interface: $dev
  - name: count
    program: t/tc_main
    hook: tcx
    direction: ingress
    interfaces: [$(IFS=,; echo "$*")]
EOF
}

entry() {             # entry JSON ATTACHMENT TARGET -> its status entry
	jq -c --arg a "$2" --arg t "$3" '.attachments[] | select(.attachment == $a and .target == $t)' <<<"$1"
}

# --- what is recorded is what the kernel said -------------------------------

# Every other BPF_OBJ_GET_INFO_BY_FD fails with EINTR (EAGAIN): each is
# asked again, and the records hold the real ids.
test_info_interrupted() {
	local lid pid mode a

	[ -f "$FAULT_SO" ] || { t_skip "no $FAULT_SO"; return; }
	veth_add s0 s0p
	write_m "$W/m.yaml" m s0
	for mode in eintr eagain; do
		CNF_FAULT_INFO=$mode LD_PRELOAD=$FAULT_SO \
			ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
			cnf_json apply "$W/m.yaml"
		assert_rc 0 "apply with $mode on info calls" || return
		for a in fw count; do
			lid=$(jf "$OUT" ".actions[] | select(.attachment == \"$a\") | .link_id")
			pid=$(jf "$OUT" ".actions[] | select(.attachment == \"$a\") | .prog_id")
			assert_ne "$pid" 0 "$mode: $a applied with a program id"
			assert_eq "$(link_prog_id "$lid")" "$pid" "$mode: bpftool: link $lid of $a runs $pid"
			assert_eq "$(pinned_link_id "$(pin_of m "$a" s0)")" "$lid" "$mode: bpftool: $a's pin holds link $lid"
		done
		cnf_json status "$W/m.yaml"
		assert_rc 0 "$mode: status in sync"
		assert_jq "$OUT" "all(.attachments[]; .state == \"in-sync\" and .prog_id > 0 and .link_id > 0)" \
			"$mode: records hold the ids"
		assert_eq "$(prog_ids | wc -l)" 2 "$mode: bpftool: one program per attachment program"
		cnf_json apply "$W/m.yaml"
		assert_rc 0 "$mode: apply again"
		assert_jq "$OUT" '.changed == false' "$mode: nothing to change, no second copy"
		assert_eq "$(prog_ids | wc -l)" 2 "$mode: bpftool: still one program each"
		cnf_json destroy "$W/m.yaml"
		assert_rc 0 "$mode: destroy"
	done
}
run_test "an interrupted info call is asked again; the record holds the kernel's ids" test_info_interrupted
