#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Drift: a map pinned with `pin:` loses its pin while the programs using
# it still run. status reports it (exit 2), plan lists a re-pin, apply pins
# the live map again before loading anything, so that an upgrade in the
# same run keeps the map and its contents. bpftool is the independent view
# of map ids, pins and contents.
. "$(dirname "$0")/lib.sh"
lib_setup "$@"

# write_m OBJECT [SAMPLE_RATE]: xdp_cfg on p0; `counters` (which xdp_cfg
# uses) and `spare` (which only the unattached tc_cfg uses) pinned.
write_m() {
	cat >"$W/m.yaml" <<EOF
apiVersion: cnf-apply/v1
name: mp
objects:
  - name: v
    file: objs/$1
    config:
      sample_rate: ${2:-100}
    maps:
      - name: counters
        pin: mp/counters
      - name: spare
        pin: mp/spare
attachments:
  - name: fw
    program: v/xdp_cfg
    hook: xdp
    interface: p0
EOF
}

pinned_map_id() {     # pinned_map_id PATH
	bt map show pinned "$1" | jq -r '.id // empty'
}

# slot2 PATH_OR_ID: the value at key 2 of `counters` (which the program
# never writes), as bpftool reads it.
slot2() {
	local how=pinned
	case $1 in /*) ;; *) how=id ;; esac
	bt map lookup "$how" "$1" key 2 0 0 0 | jq -r '.formatted.value // .value // empty'
}

# missing_maps JSON: the entries of "maps" about pins that went away
# (the others describe the maps the run loads).
missing_maps() {
	jq -c '[.maps[] | select(.state == "missing")]' <<<"$1"
}

prog_maps() {         # prog_maps PROG_ID -> its map ids, sorted, one line
	bt prog show id "$1" | jq -r '.map_ids | sort | map(tostring) | join(" ")'
}

# setup_with_value: apply, put 42 at key 2 of the pinned map, remove its
# pin. Sets MID (the live map id), PID (the program), PIN.
setup_with_value() {
	veth_add p0 p0p || return 1
	write_m config_vars.bpf.o
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return 1
	PIN=$T/bpffs/_maps/mp/counters
	PID=$(jf "$OUT" '.actions[0].prog_id')
	MID=$(pinned_map_id "$PIN")
	[ -n "$MID" ] || { _fail "bpftool: nothing pinned at $PIN"; return 1; }
	assert_contains " $(prog_maps "$PID") " " $MID " "bpftool: the program uses the pinned map" || return 1
	assert_ok "bpftool map update" bpftool map update pinned "$PIN" key 2 0 0 0 value 42 0 0 0 0 0 0 0 || return 1
	assert_eq "$(slot2 "$PIN")" 42 "bpftool: the value is in the map" || return 1
	rm "$PIN"
	assert_not_exists "$PIN" "the pin is gone"
	# The map lives on, held by the running program.
	assert_eq "$(slot2 "$MID")" 42 "bpftool: the live map still holds the value"
}

test_status_plan_apply() {
	local x

	setup_with_value || return

	cnf_json status "$W/m.yaml"
	assert_rc 2 "status finds the drift"
	x=$(jq -c '.attachments[] | select(.attachment == "fw")' <<<"$OUT")
	assert_jq "$x" ".state == \"drifted\" and .prog_id == $PID" "status: fw drifted"
	assert_contains "$(jf "$x" .reason)" "map pin $PIN missing; live map id $MID still used by the programs" \
		"status: the reason names the pin and the live map"
	assert_jq "$(missing_maps "$OUT")" "[.[] | [.action, .map_id, .map, .pin, .prog_ids]] == [[\"repin\", $MID, \"counters\", \"mp/counters\", [$PID]]]" \
		"status: the map entry, for counters only"
	cnf_run status "$W/m.yaml"
	assert_rc 2 "status (text) exit 2"
	assert_contains "$OUT" "drifted" "status text: drifted"
	assert_contains "$OUT" "live map id $MID still used by the programs" "status text: the reason"

	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan: a change"
	assert_jq "$OUT" '.changed == true and .summary.repin == 1 and ([.actions[].action] == ["noop"])' \
		"plan: one re-pin, the attachment itself unchanged"
	assert_jq "$(missing_maps "$OUT")" ".[0].action == \"repin\" and .[0].map_id == $MID and .[0].path == \"$PIN\"" \
		"plan: the re-pin names the live map and the path"
	cnf_run plan "$W/m.yaml"
	assert_match "$OUT" "repin +mp/v +map mp/counters" "plan text: the re-pin line"
	assert_contains "$OUT" "1 map to pin again" "plan text: the summary counts it"
	assert_not_exists "$PIN" "plan pins nothing"

	cnf_json apply --detailed-exitcode "$W/m.yaml"
	assert_rc 2 "apply --detailed-exitcode: something changed"
	assert_jq "$OUT" '.changed == true' "apply: changed"
	assert_jq "$(missing_maps "$OUT")" '.[0].done == true' "apply: the re-pin is done"
	assert_eq "$(pinned_map_id "$PIN")" "$MID" "bpftool: the pin holds the same map id as before"
	assert_eq "$(slot2 "$PIN")" 42 "bpftool: the value is still there"
	assert_eq "$(xdp_prog_id p0)" "$PID" "bpftool net: the program was not touched"

	cnf_json status "$W/m.yaml"
	assert_rc 0 "status: in sync"
	assert_jq "$(missing_maps "$OUT")" '. == []' "status: no map entry"
	cnf_json apply --detailed-exitcode "$W/m.yaml"
	assert_rc 0 "apply again: nothing to do"
}

test_upgrade_same_run() {
	local npid

	setup_with_value || return

	# A new object version in the same run as the missing pin.
	write_m config_vars_v2.bpf.o 200
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan"
	assert_jq "$OUT" '[.actions[].action] == ["update"]' "plan: the update"
	assert_jq "$(missing_maps "$OUT")" ".[0].action == \"repin\" and .[0].map_id == $MID" "plan: the re-pin"

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	npid=$(jf "$OUT" '.actions[0].prog_id')
	assert_jq "$OUT" '.actions[0].action == "update" and .actions[0].done' "apply: updated"
	assert_jq "$(missing_maps "$OUT")" '.[0].done' "apply: re-pinned"
	assert_ne "$npid" "$PID" "a new program runs"
	assert_eq "$(xdp_prog_id p0)" "$npid" "bpftool net: the new program is on p0"
	assert_eq "$(pinned_map_id "$PIN")" "$MID" "bpftool: the pin holds the old map"
	assert_contains " $(prog_maps "$npid") " " $MID " "bpftool: the new program uses the old map"
	assert_eq "$(slot2 "$PIN")" 42 "bpftool: the contents survived the upgrade"
}

test_no_live_holder() {
	local spare_pin before

	veth_add p0 p0p
	write_m config_vars.bpf.o
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	spare_pin=$T/bpffs/_maps/mp/spare
	assert_exists "$spare_pin" "spare is pinned at load"
	# Only the pin holds `spare` (tc_cfg is not attached): removing it
	# frees the map.
	rm "$spare_pin"

	cnf_json status "$W/m.yaml"
	assert_rc 0 "status: the attachments are in sync"
	assert_jq "$(missing_maps "$OUT")" '[.[] | [.action, .map, .map_id]] == [["none", "spare", null]]' "status: the map entry"
	cnf_json plan "$W/m.yaml"
	assert_rc 0 "plan: nothing to change"
	assert_jq "$OUT" '.changed == false' "plan: not a change"
	assert_jq "$(missing_maps "$OUT")" '.[0].action == "none"' "plan: the note"
	assert_contains "$(missing_maps "$OUT" | jq -r '.[0].reason')" "created afresh" "plan: says the map is created afresh"
	before=$(snapshot_host)
	cnf_json apply --detailed-exitcode "$W/m.yaml"
	assert_rc 0 "apply: nothing changed"
	assert_unchanged "$before" "apply changed nothing"

	# The next load creates it.
	write_m config_vars.bpf.o 300
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply an update"
	assert_exists "$spare_pin" "spare pinned again, a new map"
	assert_ne "$(pinned_map_id "$spare_pin")" "" "bpftool: a map is pinned there"
}

test_failed_apply_changes_nothing() {
	local before

	setup_with_value || return
	veth_add p1 p1p
	# A second attachment whose object the verifier rejects.
	cat >>"$W/m.yaml" <<EOF
  - name: bad
    program: b/xdp_bad
    hook: xdp
    interface: p1
EOF
	sed -i 's/^objects:$/objects:\n  - name: b\n    file: objs\/verifier_reject.bpf.o/' "$W/m.yaml"
	before=$(snapshot_host)
	cnf_json apply "$W/m.yaml"
	assert_rc 1 "apply fails"
	assert_contains "$ERR" "rejected by the verifier" "the error says why"
	assert_not_exists "$PIN" "the re-pin was undone"
	assert_unchanged "$before" "a failed apply changes nothing"
	assert_eq "$(slot2 "$MID")" 42 "bpftool: the live map still holds the value"
}

test_incompatible_live_map() {
	local mid

	veth_add p0 p0p
	cat >"$W/m.yaml" <<EOF
apiVersion: cnf-apply/v1
name: mp
objects:
  - name: t
    file: objs/traffic.bpf.o
    maps:
      - name: pkt_counts
        pin: mp/pkt
attachments:
  - name: rx
    program: t/xdp_count
    hook: xdp
    interface: p0
EOF
	cp "$W/objs/traffic_v1.bpf.o" "$W/objs/traffic.bpf.o"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	mid=$(pinned_map_id "$T/bpffs/_maps/mp/pkt")
	rm "$T/bpffs/_maps/mp/pkt"
	# The new version's map is bigger: the live map cannot carry over.
	cp "$W/objs/traffic_big.bpf.o" "$W/objs/traffic.bpf.o"
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan: the update"
	assert_jq "$(missing_maps "$OUT")" '.[0].action == "none" and .[0].map_id == null' "plan: no re-pin"
	assert_contains "$(missing_maps "$OUT" | jq -r '.[0].reason')" "max_entries 4, the object wants 8" "plan: says why"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply"
	assert_ne "$(pinned_map_id "$T/bpffs/_maps/mp/pkt")" "$mid" "bpftool: a new map is pinned"
	assert_eq "$(bt map show pinned "$T/bpffs/_maps/mp/pkt" | jq .max_entries)" 8 "bpftool: the new map's size"
}

# The live map is checked as a pinned map is: the BTF layout of its value
# counts too, sizes being equal (one check for both, with BTF).
test_incompatible_live_btf() {
	local mid npid pin=$T/bpffs/_maps/mp/rules

	veth_add p0 p0p
	cat >"$W/m.yaml" <<EOF
apiVersion: cnf-apply/v1
name: mp
objects:
  - name: r
    file: objs/r.bpf.o
    maps:
      - name: rules
        pin: mp/rules
attachments:
  - name: fw
    program: r/xdp_maps
    hook: xdp
    interface: p0
EOF
	cp "$W/objs/maps_v1.bpf.o" "$W/objs/r.bpf.o"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	mid=$(pinned_map_id "$pin")
	assert_ne "$mid" "" "bpftool: rules is pinned" || return
	assert_contains " $(prog_maps "$(xdp_prog_id p0)") " " $mid " "bpftool: the program uses it"
	rm "$pin"
	# Same sizes, the value struct's fields swapped.
	cp "$W/objs/maps_swapped.bpf.o" "$W/objs/r.bpf.o"
	cnf_json status "$W/m.yaml"
	assert_rc 2 "status: the object changed"
	assert_jq "$(missing_maps "$OUT")" '[.[] | [.action, .map, .map_id]] == [["none", "rules", null]]' \
		"status: the live map is not pinned again"
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan: the update, no error"
	assert_jq "$(missing_maps "$OUT")" '[.[] | [.action, .map, .map_id]] == [["none", "rules", null]]' \
		"plan: no re-pin"
	assert_contains "$(missing_maps "$OUT" | jq -r '.[0].reason')" \
		"value type struct { u64 pkts@0; u64 bytes@8; } (16 bytes), the object wants struct { u64 bytes@0; u64 pkts@8; } (16 bytes)" \
		"plan: says what differs, with both layouts"
	assert_not_exists "$pin" "plan pins nothing"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	npid=$(xdp_prog_id p0)
	assert_ne "$(pinned_map_id "$pin")" "$mid" "bpftool: a new map is pinned"
	assert_ne "$(pinned_map_id "$pin")" "" "bpftool: a map is pinned"
	assert_contains " $(prog_maps "$npid") " " $(pinned_map_id "$pin") " "bpftool: the new program uses it"
}

# The reported case: a compatible, empty map mv'd over a declared pin.
# status said in-sync, and the next upgrade adopted it: contents lost.
test_impostor() {
	local imp npid x

	veth_add p0 p0p || return
	write_m config_vars.bpf.o
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	PIN=$T/bpffs/_maps/mp/counters
	MID=$(pinned_map_id "$PIN")
	PID=$(jf "$OUT" '.actions[0].prog_id')
	assert_ok "bpftool map update" bpftool map update pinned "$PIN" key 2 0 0 0 value 42 0 0 0 0 0 0 0 || return
	assert_ok "an impostor" bpftool map create "$T/bpffs/imp" type array key 4 value 8 entries 4 name counters || return
	imp=$(pinned_map_id "$T/bpffs/imp")
	mv "$T/bpffs/imp" "$PIN"
	assert_eq "$(pinned_map_id "$PIN")" "$imp" "bpftool: the impostor is pinned there" || return

	cnf_json status "$W/m.yaml"
	assert_rc 2 "status finds the impostor"
	assert_jq "$OUT" '.maps[] | select(.pin == "mp/counters") | .state == "impostor" and .action == "repin" and
		.map_id == '"$MID"' and .impostor_map_id == '"$imp"' and .recorded_map_id == '"$MID" \
		"status: the impostor, the live map and the recorded one"
	x=$(jq -c '.attachments[] | select(.attachment == "fw")' <<<"$OUT")
	assert_jq "$x" '.state == "drifted"' "status: fw drifted"
	cnf_run status "$W/m.yaml"
	assert_contains "$OUT" "impostor" "status text: says impostor"
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan: a change"
	assert_jq "$OUT" '.summary.repin == 1 and (.maps[] | select(.pin == "mp/counters") | .action == "repin" and
		.impostor_map_id == '"$imp"')' "plan: repin"
	assert_eq "$(pinned_map_id "$PIN")" "$imp" "plan changed nothing"

	# The next upgrade keeps the live map, not the impostor.
	write_m config_vars_v2.bpf.o
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply an upgrade" || return
	npid=$(xdp_prog_id p0)
	assert_ne "$npid" "$PID" "bpftool: a new program runs"
	assert_eq "$(pinned_map_id "$PIN")" "$MID" "bpftool: the pin holds the live map again"
	assert_eq "$(slot2 "$PIN")" 42 "bpftool: its contents are kept"
	assert_contains " $(prog_maps "$npid") " " $MID " "bpftool: the new program uses map $MID"
	cnf_json status "$W/m.yaml"
	assert_rc 0 "status: in sync"
}

# The reported case: `pin: shared/c` declared by manifests A and B; the
# pin removed while A's programs hold the map; B applied: B made a new,
# empty map and A and B diverged.
test_shared_pin_removed() {
	local m pin mid pa pb

	veth_add p0 p0p || return
	veth_add p1 p1p || return
	for m in a b; do
		cat >"$W/$m.yaml" <<EOF
apiVersion: cnf-apply/v1
name: $m
objects:
  - name: v
    file: objs/config_vars.bpf.o
    maps:
      - name: counters
        pin: shared/c
attachments:
  - name: fw
    program: v/xdp_cfg
    hook: xdp
    interface: $([ $m = a ] && echo p0 || echo p1)
EOF
	done
	cnf_json apply "$W/a.yaml"
	assert_rc 0 "apply A" || return
	pin=$T/bpffs/_maps/shared/c
	mid=$(pinned_map_id "$pin")
	pa=$(jf "$OUT" '.actions[0].prog_id')
	assert_ok "bpftool map update" bpftool map update pinned "$pin" key 2 0 0 0 value 42 0 0 0 0 0 0 0 || return
	rm "$pin"

	cnf_json plan "$W/b.yaml"
	assert_rc 2 "plan B"
	assert_jq "$OUT" '.maps[] | select(.pin == "shared/c" and .state == "missing") | .action == "repin" and
		.map_id == '"$mid" "plan B: the live map is pinned again"
	cnf_json apply "$W/b.yaml"
	assert_rc 0 "apply B" || return
	pb=$(xdp_prog_id p1)
	assert_eq "$(pinned_map_id "$pin")" "$mid" "bpftool: the pin holds A's map again"
	assert_contains " $(prog_maps "$pb") " " $mid " "bpftool: B's program uses A's map"
	assert_contains " $(prog_maps "$pa") " " $mid " "bpftool: A's program still does"
	assert_eq "$(slot2 "$pin")" 42 "bpftool: the contents are kept"
}

# A state root of an older version has no record of map ids: the pin is
# checked against the maps the running programs use.
test_impostor_without_record() {
	local imp mid pin

	veth_add p0 p0p || return
	write_m config_vars.bpf.o
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	pin=$T/bpffs/_maps/mp/counters
	mid=$(pinned_map_id "$pin")
	rm "$T/bpffs/_cnf/maps"
	assert_ok "an impostor" bpftool map create "$T/bpffs/imp" type array key 4 value 8 entries 4 name counters || return
	imp=$(pinned_map_id "$T/bpffs/imp")
	mv "$T/bpffs/imp" "$pin"
	cnf_json status "$W/m.yaml"
	assert_rc 2 "status finds the impostor"
	assert_jq "$OUT" '.maps[] | select(.pin == "mp/counters") | .state == "impostor" and
		.map_id == '"$mid"' and .impostor_map_id == '"$imp"' and .recorded_map_id == null' \
		"status: the impostor, found from the programs' maps"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	assert_eq "$(pinned_map_id "$pin")" "$mid" "bpftool: the live map is pinned again"
	cnf_json status "$W/m.yaml"
	assert_rc 0 "status: in sync"
}

run_test "a removed map pin: status drifted, plan re-pin, apply re-pins the live map" test_status_plan_apply
run_test "an upgrade in the same run as a missing pin keeps the map's contents" test_upgrade_same_run
run_test "a removed pin of a map no program holds: created afresh at the next load" test_no_live_holder
run_test "a failed apply leaves a missing pin missing" test_failed_apply_changes_nothing
run_test "a live map the new version does not fit is not pinned again" test_incompatible_live_map
run_test "a live map whose value layout the new version does not fit is not pinned again" test_incompatible_live_btf
run_test "an impostor map over a declared pin: reported, the live map pinned back" test_impostor
run_test "a removed shared pin: re-pinned from the live map another manifest uses" test_shared_pin_removed
run_test "an impostor over a pin of an older state root (no record): found from the programs' maps" test_impostor_without_record
