#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Identity: every recorded instance is checked against the kernel (the
# interface and namespace its link is on, the link a pin holds, the
# program at a tc priority/handle), and what the tool did not make is
# reported, never updated or detached.
. "$(dirname "$0")/lib.sh"
lib_setup "$@"

DRIFT_TOOL=${BUILD:-build}/tests/tools/drift_tool
case $DRIFT_TOOL in /*) ;; *) DRIFT_TOOL=$(realpath "$DRIFT_TOOL") ;; esac

entry() {             # entry JSON ATTACHMENT TARGET -> that instance's status entry
	jq -c --arg a "$2" --arg t "$3" '.attachments[] | select(.attachment == $a and .target == $t)' <<<"$1"
}

write_tcx() {         # write_tcx INTERFACE-PATTERN: attachment `count`, tcx ingress
	cat >"$W/m.yaml" <<EOF
apiVersion: cnf-apply/v1
name: m
objects:
  - name: t
    file: objs/tc_v1.bpf.o
attachments:
  - name: count
    program: t/tc_main
    hook: tcx
    interface: "$1"
    direction: ingress
EOF
}

# cnf_other ARGS...: cnf_json, run from the network namespace "other".
cnf_other() {
	echo "\$ (netns other) cnf-apply --json $*"
	in_netns other "$CNF" --bpffs "$T/bpffs" --json "$@" >"$T/stdout" 2>"$T/stderr"
	RC=$?
	OUT=$(cat "$T/stdout")
	ERR=$(cat "$T/stderr")
	echo "  -> exit $RC"
	[ -n "$OUT" ] && { echo "  stdout:"; _show "$OUT"; }
	[ -n "$ERR" ] && { echo "  stderr:"; _show "$ERR"; }
	return 0
}

ifindex_of() {        # ifindex_of DEV
	ip -j link show dev "$1" | jq -r '.[0].ifindex'
}

# a31 renamed to zz31, then a40 renamed to a31: the link is on zz31 and the
# new a31 has nothing; status and plan say so, apply moves the programs.
test_renamed_interfaces() {
	local old31 new31

	veth_add a31 p31 && veth_add a40 p40 || return
	cat >"$W/m.yaml" <<EOF
apiVersion: cnf-apply/v1
name: m
objects:
  - name: t
    file: objs/tc_v1.bpf.o
  - name: x
    file: objs/xdp_v1.bpf.o
attachments:
  - name: count
    program: t/tc_main
    hook: tcx
    interface: "a*"
    direction: ingress
  - name: fw
    program: x/xdp_main
    hook: xdp
    interface: "a*"
EOF
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	old31=$(ifindex_of a31)
	ip link set a31 down && ip link set a31 name zz31 && ip link set zz31 up
	ip link set a40 down && ip link set a40 name a31 && ip link set a31 up
	new31=$(ifindex_of a31)
	assert_eq "$(tcx_names zz31 ingress)" tc_main "bpftool net: the program runs on zz31"
	assert_eq "$(tcx_names a31 ingress)" tc_main "bpftool net: a31 (a40 before) has a40's link"

	cnf_json status "$W/m.yaml"
	assert_rc 2 "status finds the renamed interface"
	assert_jq "$(entry "$OUT" count a31)" '.state == "drifted"' "status: count on a31 drifted"
	assert_contains "$(entry "$OUT" count a31)" "interface a31 is now ifindex $new31, the link is on ifindex $old31 (renamed to zz31?)" \
		"status says where the link is"
	assert_contains "$(entry "$OUT" fw a31)" "renamed to zz31?" "status: the XDP link too"
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan finds changes"
	assert_jq "$OUT" '[.actions[] | select(.target == "a31") | .action] == ["replace", "replace"]' \
		"plan: both instances on a31 are replaced"

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply repairs it" || return
	assert_eq "$(tcx_names a31 ingress)" tc_main "bpftool net: tc_main on a31, once"
	assert_eq "$(tcx_names zz31 ingress)" "" "bpftool net: nothing left on the undeclared zz31"
	assert_eq "$(ip_xdp zz31)" null "ip link: no XDP program on zz31"
	assert_eq "$(xdp_prog_id a31)" "$(jf "$OUT" '.actions[] | select(.attachment == "fw" and .target == "a31") | .prog_id')" \
		"bpftool net: a31's XDP program is the one applied"
	assert_eq "$(tcx_entries a31 ingress | jq -r '.[0].link_id')" "$(pinned_link_id "$(pin_of m count a31)")" \
		"the link on a31 is the pinned one"
	cnf_json status "$W/m.yaml"
	assert_rc 0 "status in sync afterwards"
}

# Links made in one namespace, the tool run from another with the same
# state root: they are that namespace's, reported and never touched.
test_other_netns() {
	local l0 l1

	veth_add d0 d0p && veth_add d1 d1p || return
	write_tcx "d*"
	sed -i 's/"d\*"/"d?"/' "$W/m.yaml"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	l0=$(pinned_link_id "$(pin_of m count d0)")
	l1=$(pinned_link_id "$(pin_of m count d1)")

	netns_add other || return
	ip -n other link add d0 type veth peer name e0 && ip -n other link set d0 up
	# The other namespace has a d0 and no d1.
	cnf_other status "$W/m.yaml"
	assert_rc 2 "status from the other namespace: not in sync"
	assert_jq "$(entry "$OUT" count d0)" '.state == "elsewhere"' "status: d0's link is another namespace's"
	assert_jq "$(entry "$OUT" count d1)" '.state == "elsewhere"' "status: so is d1's"
	cnf_other plan "$W/m.yaml"
	assert_rc 2 "plan from the other namespace"
	assert_jq "$OUT" '[.actions[] | select(.action == "delete")] == []' "plan: deletes nothing"
	assert_jq "$OUT" '[.actions[] | select(.target == "d0") | .action] == ["refuse"]' "plan: refuses d0"
	cnf_other apply "$W/m.yaml"
	assert_rc 1 "apply from the other namespace refuses"
	assert_contains "$ERR" "another namespace's" "the error says why"
	assert_eq "$(pinned_link_id "$(pin_of m count d0)") $(pinned_link_id "$(pin_of m count d1)")" "$l0 $l1" \
		"the pins hold the same links as before"
	assert_eq "$(tcx_entries d0 ingress | jq -r '.[0].link_id')" "$l0" "bpftool net: d0 keeps its link"
	assert_eq "$(tcx_entries d1 ingress | jq -r '.[0].link_id')" "$l1" "bpftool net: d1 keeps its link"
	assert_eq "$(in_netns other bpftool -j net | jq '[.[0].tc[]] | length')" 0 \
		"bpftool net (other namespace): nothing attached there"
}

# Another tool's link moved onto the tool's pin path: reported, moved to
# the quarantine alive, never updated; the tool attaches its own again.
test_foreign_link_at_pin() {
	local flid fprog qpin

	veth_add d0 d0p && veth_add f0 f0p || return
	write_tcx d0
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	"$DRIFT_TOOL" tcx-first f0 "$W/objs/foreign.bpf.o" tc_foreign "$T/fpin/f0" ||
		{ _fail "drift_tool tcx-first"; return; }
	flid=$(pinned_link_id "$T/fpin/f0")
	fprog=$(link_prog_id "$flid")
	bpftool link pin id "$flid" "$T/bpffs/m/links/count/moved" || { _fail "bpftool link pin"; return; }
	mv "$T/bpffs/m/links/count/moved" "$(pin_of m count d0)" || { _fail "mv over the pin"; return; }
	assert_eq "$(pinned_link_id "$(pin_of m count d0)")" "$flid" "the pin now holds the foreign link"

	cnf_json status "$W/m.yaml"
	assert_rc 2 "status finds the foreign pin"
	assert_jq "$(entry "$OUT" count d0)" ".state == \"foreign\" and .foreign_object.link_id == $flid and .foreign_object.prog_name == \"tc_foreign\"" \
		"status: foreign, with the foreign link and program"
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan"
	assert_jq "$OUT" '.actions[0].action == "create" and .actions[0].quarantine == true' \
		"plan: the attachment is made anew, the foreign pin quarantined"

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	assert_eq "$(link_prog_id "$flid")" "$fprog" "bpftool link: the foreign link still runs its own program"
	assert_eq "$(tcx_names f0 ingress)" tc_foreign "bpftool net: f0 still has only the foreign program"
	assert_eq "$(tcx_names d0 ingress)" tc_main "bpftool net: d0 has the tool's program again"
	qpin="$T/bpffs/_quarantine/m/count/d0-link$flid"
	assert_eq "$(pinned_link_id "$qpin")" "$flid" "the foreign link is pinned in the quarantine"
	assert_eq "$(pinned_link_id "$(pin_of m count d0)")" "$(tcx_entries d0 ingress | jq -r '.[0].link_id')" \
		"the pin holds the tool's new link"
	cnf_json status "$W/m.yaml"
	assert_rc 0 "status in sync afterwards"

	# Again, then destroy: the record goes, the foreign link stays alive
	# in the quarantine, nothing of it detached.
	bpftool link pin id "$flid" "$T/bpffs/m/links/count/moved" || { _fail "bpftool link pin"; return; }
	rm "$qpin"
	mv "$T/bpffs/m/links/count/moved" "$(pin_of m count d0)" || { _fail "mv over the pin"; return; }
	cnf_json destroy "$W/m.yaml"
	assert_rc 0 "destroy"
	assert_jq "$OUT" '.actions[0].action == "delete" and .actions[0].quarantine == true' \
		"destroy: the record goes, the foreign pin to the quarantine"
	assert_eq "$(pinned_link_id "$qpin")" "$flid" "the foreign link is pinned in the quarantine again"
	assert_eq "$(tcx_names f0 ingress)" tc_foreign "bpftool net: f0 keeps the foreign program"
	assert_not_exists "$T/bpffs/m/state" "no state map left"
}

# The same while the recorded link lives on, pinned elsewhere too: the
# run finds it in the kernel's list, and checks the pin before an update
# acts through it. The foreign link is never updated.
test_foreign_link_at_pin_recorded_alive() {
	local ours flid fprog

	veth_add d0 d0p && veth_add f0 f0p || return
	write_tcx d0
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	ours=$(pinned_link_id "$(pin_of m count d0)")
	bpftool link pin id "$ours" "$T/fpin/held" || { _fail "bpftool link pin"; return; }
	"$DRIFT_TOOL" tcx-first f0 "$W/objs/foreign.bpf.o" tc_foreign "$T/fpin/f0" ||
		{ _fail "drift_tool tcx-first"; return; }
	flid=$(pinned_link_id "$T/fpin/f0")
	fprog=$(link_prog_id "$flid")
	bpftool link pin id "$flid" "$T/bpffs/m/links/count/moved" || { _fail "bpftool link pin"; return; }
	mv "$T/bpffs/m/links/count/moved" "$(pin_of m count d0)" || { _fail "mv over the pin"; return; }

	# A new version: the plan would update the link through the pin.
	sed -i 's/tc_v1/tc_v2/' "$W/m.yaml"
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan"
	assert_jq "$OUT" ".actions[0].action == \"create\" and .actions[0].quarantine == true and .actions[0].foreign_object.link_id == $flid" \
		"plan: the pin is found foreign before anything acts through it"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	assert_eq "$(link_prog_id "$flid")" "$fprog" "bpftool link: the foreign link still runs its own program"
	assert_eq "$(tcx_names f0 ingress)" tc_foreign "bpftool net: f0 still has only the foreign program"
	assert_eq "$(pinned_link_id "$T/bpffs/_quarantine/m/count/d0-link$flid")" "$flid" "the foreign link is in the quarantine"
	assert_eq "$(link_prog_id "$(pinned_link_id "$(pin_of m count d0)")")" \
		"$(jf "$OUT" '.actions[0].prog_id')" "the pin holds the tool's new link"
}

# A foreign link pinned under the manifest's directory without a record:
# reported with what the kernel says of it, never detached.
test_foreign_pin_without_record() {
	local flid

	veth_add d0 d0p && veth_add f0 f0p || return
	write_tcx d0
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	"$DRIFT_TOOL" tcx-first f0 "$W/objs/foreign.bpf.o" tc_foreign "$T/fpin/f0" ||
		{ _fail "drift_tool tcx-first"; return; }
	flid=$(pinned_link_id "$T/fpin/f0")
	mkdir -p "$T/bpffs/m/links/extra"
	bpftool link pin id "$flid" "$T/bpffs/m/links/extra/f0" || { _fail "bpftool link pin"; return; }
	rm "$T/fpin/f0"       # only the pin under the state root holds it now

	cnf_json status "$W/m.yaml"
	assert_rc 2 "status reports it"
	assert_jq "$(entry "$OUT" extra f0)" ".state == \"foreign\" and .hook == \"tcx\" and .foreign_object.link_id == $flid and .foreign_object.prog_name == \"tc_foreign\"" \
		"status: foreign, named by its path, with its link type and program"
	cnf_run status "$W/m.yaml"
	assert_contains "$OUT" "foreign      m/extra  tcx f0" "status text names it"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	assert_jq "$OUT" '[.actions[] | select(.action == "delete")] == []' "apply deletes nothing"
	assert_ok "bpftool link: the foreign link lives" link_exists "$flid"
	assert_eq "$(tcx_names f0 ingress)" tc_foreign "bpftool net: the foreign link is still on f0"
	assert_eq "$(pinned_link_id "$T/bpffs/m/links/extra/f0")" "$flid" "its pin stays"
	cnf_json destroy "$W/m.yaml"
	assert_rc 0 "destroy"
	assert_eq "$(tcx_names f0 ingress)" tc_foreign "bpftool net: destroy leaves it too"
	assert_eq "$(tcx_names d0 ingress)" "" "bpftool net: destroy removed the tool's own"
}

# A foreign tc filter took the tool's priority/handle: drift naming it;
# apply refuses to replace it (plan says so first).
test_tc_foreign_filter() {
	local fid

	veth_add d0 d0p || return
	cat >"$W/m.yaml" <<EOF
apiVersion: cnf-apply/v1
name: m
objects:
  - name: t
    file: objs/tc_v1.bpf.o
attachments:
  - name: in
    program: t/tc_main
    hook: tc
    interface: d0
    direction: ingress
    priority: 10
    handle: 1
EOF
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	tc filter replace dev d0 ingress pref 10 handle 1 bpf da obj "$W/objs/foreign.bpf.o" sec tc ||
		{ _fail "tc filter replace"; return; }
	fid=$(tc_filters d0 ingress | jq -r '.[] | select(.pref == 10) | .options.prog.id')
	assert_ne "$fid" "" "tc: a foreign program at prio 10 handle 1"

	cnf_json status "$W/m.yaml"
	assert_rc 2 "status finds it"
	assert_jq "$(entry "$OUT" in d0)" ".state == \"foreign\" and .foreign_object.prog_id == $fid" \
		"status: foreign, with its program id"
	assert_contains "$(entry "$OUT" in d0)" "tc_foreign" "status names the foreign program"
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan"
	assert_jq "$OUT" '.actions[0].action == "refuse"' "plan: refuses to replace it"
	cnf_json apply "$W/m.yaml"
	assert_rc 1 "apply refuses"
	assert_contains "$ERR" "refuses to replace" "the error says why"
	assert_eq "$(tc_filters d0 ingress | jq -r '.[] | select(.pref == 10) | .options.prog.id')" "$fid" \
		"tc: the foreign filter is untouched"
}

# A foreign program inserted between an `after:` pair on tcx is order
# drift that names it; apply puts the pair together again.
test_foreign_between_pair() {
	local fid

	veth_add d0 d0p || return
	cat >"$W/m.yaml" <<EOF
apiVersion: cnf-apply/v1
name: m
objects:
  - name: t
    file: objs/tc_v1.bpf.o
attachments:
  - name: head
    program: t/tc_main
    hook: tcx
    interface: d0
    direction: ingress
    order: first
  - name: next
    program: t/tc_second
    hook: tcx
    interface: d0
    direction: ingress
    after: head
EOF
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	"$DRIFT_TOOL" tcx-after d0 "$W/objs/foreign.bpf.o" tc_foreign "$T/fpin/l" "$(pinned_link_id "$(pin_of m head d0)")" ||
		{ _fail "drift_tool tcx-after"; return; }
	fid=$(tcx_entries d0 ingress | jq -r '.[1].prog_id')
	assert_eq "$(tcx_names d0 ingress)" "tc_main tc_foreign tc_second" "bpftool net: the foreign program between the pair"

	cnf_json status "$W/m.yaml"
	assert_rc 2 "status finds the order drift"
	assert_jq "$(entry "$OUT" next d0)" '.state == "drifted"' "status: next drifted"
	assert_contains "$(entry "$OUT" next d0)" "declared after 'head', but foreign program $fid 'tc_foreign' runs between them" \
		"status names the foreign program"
	assert_jq "$(entry "$OUT" head d0)" '.state == "in-sync"' "status: head in sync"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	assert_eq "$(tcx_names d0 ingress)" "tc_main tc_second tc_foreign" "bpftool net: the pair together, the foreign program kept"
	cnf_json status "$W/m.yaml"
	assert_rc 0 "status in sync"
}

# Two copies of one attachment program with consistent records (a killed
# rollout, an old repair): the odd instance moves onto the program the
# others run, in place.
test_program_copies() {
	local p0 p1 p2 q key

	veth_add d0 d0p && veth_add d1 d1p && veth_add d2 d2p || return
	write_tcx "d?"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	p0=$(link_prog_id "$(pinned_link_id "$(pin_of m count d0)")")
	# d2 gets a copy of the same program, and its record says so.
	"$DRIFT_TOOL" link-update "$(pin_of m count d2)" "$W/objs/tc_v1.bpf.o" tc_main ||
		{ _fail "drift_tool link-update"; return; }
	q=$(link_prog_id "$(pinned_link_id "$(pin_of m count d2)")")
	assert_ne "$q" "$p0" "d2 runs another copy"
	key=$(bt map dump pinned "$T/bpffs/m/state" | jq -r '.[] | select((.key | map(ltrimstr("0x")) | join("") | startswith("636f756e742f6432"))) | .key | map(ltrimstr("0x")) | join(" ")')
	bt map lookup pinned "$T/bpffs/m/state" key hex $key | jq -r '.value | map(ltrimstr("0x")) | join(" ")' >"$T/val"
	python3 - "$T/val" "$q" <<'EOF'
import sys
v = open(sys.argv[1]).read().split()
q = int(sys.argv[2])
for i in range(4):
    v[12 + i] = "%02x" % ((q >> (8 * i)) & 0xff)
open(sys.argv[1], "w").write(" ".join(v))
EOF
	bpftool map update pinned "$T/bpffs/m/state" key hex $key value hex $(cat "$T/val") ||
		{ _fail "bpftool map update"; return; }

	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan finds the copy"
	assert_jq "$OUT" "[.actions[] | select(.target == \"d2\") | .action, .strategy, .reuses_prog_id] == [\"update\", \"in-place\", $p0]" \
		"plan: d2 is updated in place onto the program the others run"
	assert_contains "$(jf "$OUT" '.actions[] | select(.target == "d2") | .reason')" "one program per attachment program" \
		"plan says why"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	p1=$(link_prog_id "$(pinned_link_id "$(pin_of m count d1)")")
	p2=$(link_prog_id "$(pinned_link_id "$(pin_of m count d2)")")
	assert_eq "$p1 $p2" "$p0 $p0" "bpftool link: every instance runs one program"
	assert_eq "$(pinned_link_id "$(pin_of m count d2)")" "$(tcx_entries d2 ingress | jq -r '.[0].link_id')" \
		"the same link, updated in place"
	cnf_json plan "$W/m.yaml"
	assert_rc 0 "plan: no changes"
}

# A drift repair attaches the program the in-sync instances run, not a
# new copy.
test_repair_joins_program() {
	local p0

	veth_add d0 d0p && veth_add d1 d1p || return
	write_tcx "d?"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	p0=$(link_prog_id "$(pinned_link_id "$(pin_of m count d0)")")
	"$DRIFT_TOOL" link-update "$(pin_of m count d1)" "$W/objs/tc_v2.bpf.o" tc_main ||
		{ _fail "drift_tool link-update"; return; }
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply repairs the drift" || return
	assert_eq "$(link_prog_id "$(pinned_link_id "$(pin_of m count d1)")")" "$p0" \
		"bpftool link: d1 runs d0's program again, not a new copy"
	cnf_json plan "$W/m.yaml"
	assert_rc 0 "plan: no changes"
}

# A rollout killed half-way: the instances updated run the new program,
# the others the old one; the next apply gives them the program already
# running, not another copy.
test_killed_rollout() {
	local n ids

	command -v strace >/dev/null || { t_skip "strace is missing"; return; }
	veth_add d0 d0p && veth_add d1 d1p && veth_add d2 d2p || return
	write_tcx "d?"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v1" || return
	# Where the second BPF_LINK_UPDATE of a v1 -> v2 apply comes among
	# its bpf calls; then back to v1, and the same apply killed there.
	sed -i 's/tc_v1/tc_v2/' "$W/m.yaml"
	ASAN_OPTIONS=detect_leaks=0 strace -f -qq -e trace=bpf -o "$T/count.log" \
		"$CNF" --bpffs "$T/bpffs" apply "$W/m.yaml" >/dev/null 2>&1
	n=$(grep -n 'BPF_LINK_UPDATE' "$T/count.log" | sed -n 2p | cut -d: -f1)
	[ -n "$n" ] || { _fail "no second BPF_LINK_UPDATE in the v1 -> v2 apply"; return; }
	sed -i 's/tc_v2/tc_v1/' "$W/m.yaml"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "back to v1" || return
	sed -i 's/tc_v1/tc_v2/' "$W/m.yaml"
	( ASAN_OPTIONS=detect_leaks=0 exec strace -f -qq -o /dev/null -e trace=bpf \
		-e inject=bpf:signal=KILL:when="$n" \
		"$CNF" --bpffs "$T/bpffs" apply "$W/m.yaml" >/dev/null 2>&1 ) 2>/dev/null
	ids=$(for d in d0 d1 d2; do link_prog_id "$(pinned_link_id "$(pin_of m count $d)")"; done | sort -u)
	assert_eq "$(wc -l <<<"$ids")" 2 "bpftool link: the killed run left two programs running"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "the next apply" || return
	ids=$(for d in d0 d1 d2; do link_prog_id "$(pinned_link_id "$(pin_of m count $d)")"; done | sort -u)
	assert_eq "$(wc -l <<<"$ids")" 1 "bpftool link: the three links run one program"
	assert_eq "$(bt prog show id "$ids" | jq -r .name)" tc_main "bpftool prog: tc_main"
	cnf_json plan "$W/m.yaml"
	assert_rc 0 "plan: no changes"
}

run_test "renamed interfaces are drift, and apply moves the programs" test_renamed_interfaces
run_test "another namespace's instances are reported, never touched" test_other_netns
run_test "a foreign link at a pin path is quarantined, never updated" test_foreign_link_at_pin
run_test "a foreign link at a pin path, the recorded link alive elsewhere" test_foreign_link_at_pin_recorded_alive
run_test "a foreign pin without a record is reported, never detached" test_foreign_pin_without_record
run_test "a foreign tc filter at the recorded prio/handle is never replaced" test_tc_foreign_filter
run_test "a foreign program between an after: pair is order drift" test_foreign_between_pair
run_test "two copies of one attachment program become one" test_program_copies
run_test "a drift repair runs the program the other instances run" test_repair_joins_program
run_test "after a rollout killed half-way, one program again" test_killed_rollout
