#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Map state across program versions: a pinned map is reused by a new
# version that fits it (contents kept); one that does not fit is refused
# before any change, or, with `on_incompatible: recreate`, replaced by a
# new map whose pin moves only once the new programs are attached (and
# moves back on a rollback). Initial `entries:` are written into a map
# created by the run, never over live state. Maps the object pins by name
# (LIBBPF_PIN_BY_NAME) land under the state root. Every result is checked
# with bpftool (map dump, map/prog/link show) as well as with --json.
. "$(dirname "$0")/lib.sh"
lib_setup "$@"

MAPS=$T/bpffs/_maps

# write_m [ON_INCOMPATIBLE] [EXTRA]: manifest `mm`, object `o` (objs/m.bpf.o)
# on XDP of m0, `counts` pinned at shared/counts; EXTRA is appended to
# the attachments.
write_m() {
	cat >"$W/m.yaml" <<EOF
apiVersion: cnf-apply/v1
name: mm
objects:
  - name: o
    file: objs/m.bpf.o
    maps:
      - name: counts
        pin: shared/counts${1:+
        on_incompatible: $1}
attachments:
  - name: fw
    program: o/xdp_maps
    hook: xdp
    interface: m0
${2:-}
EOF
}

use() {               # use VERSION: objs/m.bpf.o becomes objs/maps_VERSION.bpf.o
	cp "$W/objs/maps_$1.bpf.o" "$W/objs/m.bpf.o"
}

map_id_at() {         # map_id_at PATH -> the id of the map pinned there (bpftool)
	bt map show pinned "$1" | jq -r '.id // empty'
}

map_max_at() {        # map_max_at PATH -> its max_entries
	bt map show pinned "$1" | jq -r '.max_entries // empty'
}

map_exists() {        # map_exists ID
	[ -n "$1" ] && bt map show id "$1" | jq -e '.id' >/dev/null 2>&1
}

# map_lingers ID: the map is still loaded 3 s on. The kernel frees a map
# an RCU grace period after its last program, not at once.
map_lingers() {
	local i

	for i in $(seq 30); do
		map_exists "$1" || return 1
		sleep 0.1
	done
	return 0
}

# u32_key N / u64_val N: bpftool's byte arguments (little-endian).
u32_key() {
	printf '%d %d %d %d' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255))
}

u64_val() {
	printf '%d %d %d %d 0 0 0 0' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255))
}

count_at() {          # count_at PATH KEY -> the u64 value of an array slot (bpftool)
	bt map lookup pinned "$1" key $(u32_key "$2") | jq -r '.formatted.value // .value // empty'
}

# The maps the program running on m0's XDP hook uses (bpftool net + prog show).
xdp_map_ids() {
	bt prog show id "$(xdp_prog_id m0)" | jq -r '.map_ids // [] | map(tostring) | join(" ")'
}

has_word() {          # has_word "LIST" WORD
	[[ " $1 " == *" $2 "* ]]
}

# What a run could change, seen by bpftool and scoped to this test (other
# tests load programs host-wide meanwhile): the test namespace's hooks,
# the programs on them and the maps they use, every pin under the state
# root with its inode, and for each pinned map its id and contents (but
# the packet counters), for each pinned link its id and program.
snapshot_maps() {
	local p pid

	echo "## net"
	net_json | jq -S -c 'map(del(.netfilter))'
	for pid in $(net_json | jq -r '.[0].xdp[]?.id'); do
		echo "## prog $pid"
		bt prog show id "$pid" | jq -S -c '{id, name, map_ids}'
	done
	echo "## pins"
	(cd "$T/bpffs" && find . -printf '%y %i %p\n' | sort -k3)
	find "$T/bpffs" -type f ! -name '*.debug' | sort | while read -r p; do
		echo "## $p"
		{ bt map show pinned "$p"; bt link show pinned "$p"; } | jq -S -c '{id, prog_id, max_entries}'
		# Key 0 of the maps the program writes counts packets.
		bt map dump pinned "$p" | jq -S -c 'if type == "array" then
			map(select(.formatted.key != 0 and .key != ["0x00", "0x00", "0x00", "0x00"]))
			else . end'
	done
}

assert_maps_unchanged() {    # assert_maps_unchanged BEFORE MSG
	local now
	now=$(snapshot_maps)
	[ "$now" == "$1" ] && return 0
	_fail "$2: the host changed:"
	diff <(printf '%s\n' "$1") <(printf '%s\n' "$now") | head -n 60 | sed 's/^/      /'
	return 1
}

test_compatible_upgrade_keeps_contents() {
	local id link

	veth_add m0 m0p
	use v1
	write_m
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v1" || return
	id=$(map_id_at "$MAPS/shared/counts")
	link=$(jf "$OUT" '.actions[0].link_id')
	assert_ne "$id" "" "bpftool: counts is pinned under the state root" || return
	assert_jq "$OUT" '.maps[] | select(.map == "counts") | .action == "create" and .done' \
		"--json: the map was created"
	assert_ok "write a count" bpftool map update pinned "$MAPS/shared/counts" \
		key $(u32_key 1) value $(u64_val 42)

	use v2
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan v2"
	assert_jq "$OUT" '.maps[] | select(.map == "counts") | .action == "keep" and
		.contents_lost == false and .map_id == '"$id" "plan: the pinned map is reused"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v2" || return
	assert_jq "$OUT" '.actions[0].action == "update" and .actions[0].link_id == '"$link" \
		"--json: the link was updated in place"
	assert_eq "$(map_id_at "$MAPS/shared/counts")" "$id" "bpftool: the same map is pinned"
	assert_eq "$(count_at "$MAPS/shared/counts" 1)" 42 "bpftool: the count carried over"
	has_word "$(xdp_map_ids)" "$id" ||
		_fail "bpftool: the new program does not use the pinned map $id (it uses $(xdp_map_ids))"
	assert_ne "$(jf "$OUT" '.actions[0].prog_id')" "$(jf "$OUT" '.actions[0].link_id')" "sanity"

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply again"
	assert_jq "$OUT" '.changed == false and (.maps | length) > 0 and
		all(.maps[]; .action == "keep" and .loaded == false and .contents_lost == false)' \
		"a second apply changes nothing; every map is kept"
}

test_incompatible_refused() {
	local before id

	veth_add m0 m0p
	use v1
	write_m
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v1" || return
	id=$(map_id_at "$MAPS/shared/counts")
	bpftool map update pinned "$MAPS/shared/counts" key $(u32_key 1) value $(u64_val 42)
	before=$(snapshot_maps)

	use big
	cnf_json plan "$W/m.yaml"
	assert_rc 1 "plan refuses the incompatible map"
	assert_contains "$ERR" "map 'counts' is pinned at $MAPS/shared/counts with max_entries 4, the object wants 8" \
		"the error names the map, its pin and what differs"
	assert_contains "$ERR" "on_incompatible: recreate" "the error says how to opt in"
	assert_at "$ERR" "$W/m.yaml" "$(line_of "$W/m.yaml" "- name: counts")"
	cnf_run plan "$W/m.yaml"
	assert_rc 1 "plan (text) refuses it too"
	cnf_json apply "$W/m.yaml"
	assert_rc 1 "apply refuses it"
	assert_jq "$OUT" '.error | contains("max_entries 4, the object wants 8")' "--json: the error"
	assert_maps_unchanged "$before" "a refused apply changes nothing"
	assert_eq "$(map_id_at "$MAPS/shared/counts")" "$id" "bpftool: the same map is pinned"
	assert_eq "$(map_max_at "$MAPS/shared/counts")" 4 "bpftool: still 4 entries"
	assert_eq "$(count_at "$MAPS/shared/counts" 1)" 42 "bpftool: its contents are intact"

	# The BTF layout of the values counts too, sizes being equal.
	cat >"$W/r.yaml" <<EOF
apiVersion: cnf-apply/v1
name: rr
objects:
  - name: r
    file: objs/maps_v1.bpf.o
    maps:
      - name: rules
        pin: shared/rules
attachments:
  - name: fw
    program: r/xdp_maps
    hook: xdp
    interface: m0p
EOF
	cnf_json apply "$W/r.yaml"
	assert_rc 0 "apply an object with a pinned struct map" || return
	cp "$W/objs/maps_swapped.bpf.o" "$W/objs/maps_v1.bpf.o"
	cnf_json plan "$W/r.yaml"
	assert_rc 1 "a value struct with swapped fields is refused"
	assert_contains "$ERR" "value type struct { u64 pkts@0; u64 bytes@8; } (16 bytes), the object wants struct { u64 bytes@0; u64 pkts@8; } (16 bytes)" \
		"the error shows both BTF layouts"
}

test_recreate() {
	local id link before_prog new text

	veth_add m0 m0p
	use v1
	write_m recreate
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v1" || return
	id=$(map_id_at "$MAPS/shared/counts")
	link=$(jf "$OUT" '.actions[0].link_id')
	before_prog=$(xdp_prog_id m0)
	bpftool map update pinned "$MAPS/shared/counts" key $(u32_key 1) value $(u64_val 42)

	# A compatible version still reuses the map: recreate is only a permission.
	use v2
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v2" || return
	assert_eq "$(map_id_at "$MAPS/shared/counts")" "$id" "a fitting map is reused even with recreate"
	assert_eq "$(count_at "$MAPS/shared/counts" 1)" 42 "its contents are kept"

	use big
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan: changes"
	assert_jq "$OUT" '.maps[] | select(.map == "counts") | .action == "recreate" and
		.contents_lost == true and .old_map_id == '"$id"' and
		.differences == [{"property": "max_entries", "old": "4", "new": "8"}]' \
		"plan --json: the map will be recreated, and why"
	assert_eq "$(map_id_at "$MAPS/shared/counts")" "$id" "plan changed nothing"
	cnf_run plan "$W/m.yaml"
	text=$OUT
	assert_contains "$text" "recreate mm/o  map shared/counts  [counts]" "plan (text): the map line"
	assert_contains "$text" "max_entries 4 -> 8" "plan (text): what differs"
	assert_contains "$text" "contents of map $id will be lost" "plan (text): contents lost"
	assert_contains "$text" "1 map to recreate" "plan (text): the summary"

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply the incompatible version" || return
	new=$(map_id_at "$MAPS/shared/counts")
	assert_ne "$new" "$id" "bpftool: another map is pinned"
	assert_jq "$OUT" '.maps[] | select(.map == "counts") | .action == "recreate" and .done and
		.map_id == '"${new:-0}" "--json: recreated, with the new map's id"
	assert_eq "$(map_max_at "$MAPS/shared/counts")" 8 "bpftool: the new map has 8 entries"
	assert_eq "$(count_at "$MAPS/shared/counts" 1)" 0 "bpftool: the old contents are gone"
	assert_jq "$OUT" '.actions[0].action == "update" and .actions[0].link_id == '"$link" \
		"--json: the same link, updated in place"
	assert_eq "$(link_prog_id "$link")" "$(xdp_prog_id m0)" "bpftool: the link runs the XDP hook"
	assert_ne "$(xdp_prog_id m0)" "$before_prog" "bpftool: a new program runs"
	has_word "$(xdp_map_ids)" "$new" ||
		_fail "bpftool: the new program does not use the new map $new ($(xdp_map_ids))"
	has_word "$(xdp_map_ids)" "$id" && _fail "bpftool: the new program still uses the old map $id"
	map_lingers "$id" && _fail "bpftool: the old map $id is still loaded"
	assert_not_exists "$MAPS/shared/counts%new" "no temporary pin is left"

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply again"
	assert_jq "$OUT" '.changed == false' "a second apply changes nothing"
	assert_eq "$(map_id_at "$MAPS/shared/counts")" "$new" "the new map stays"
}

test_recreate_rollback() {
	local id prog before

	veth_add m0 m0p
	veth_add m1 m1p
	use v1
	# A first run that fails leaves no map pinned either: once the run
	# is checked, another tool takes m1's XDP hook.
	write_m recreate "  - name: off
    program: o/xdp_maps
    hook: xdp
    interface: m1"
	CNF_ARGS="apply $W/m.yaml" cnf_paused checked \
		ip link set dev m1 xdpgeneric obj "$W/objs/foreign.bpf.o" sec xdp || return
	ip link set dev m1 xdpgeneric off
	assert_rc 1 "a first apply with a failing attach"
	assert_contains "$ERR" "rolled back" "the first run was rolled back"
	assert_not_exists "$MAPS/shared/counts" "the map created by the failed run is not pinned"
	assert_not_exists "$MAPS/tbyname" "nor the one pinned by name"
	assert_eq "$(xdp_prog_id m0)" "" "bpftool: nothing on m0"

	write_m recreate
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v1" || return
	id=$(map_id_at "$MAPS/shared/counts")
	prog=$(xdp_prog_id m0)
	bpftool map update pinned "$MAPS/shared/counts" key $(u32_key 1) value $(u64_val 42)

	# The new version passes every check, but a second attachment fails
	# in the kernel (another tool took m1's XDP hook once the run was
	# checked) after fw was updated.
	use big
	write_m recreate "  - name: off
    program: o/xdp_maps
    hook: xdp
    interface: m1"
	CNF_ARGS="apply $W/m.yaml" cnf_paused checked \
		ip link set dev m1 xdpgeneric obj "$W/objs/foreign.bpf.o" sec xdp || return
	ip link set dev m1 xdpgeneric off
	assert_rc 1 "apply with a failing attach"
	assert_contains "$ERR" "rolled back" "the error says the run was rolled back"
	assert_not_contains "$ERR" "could not" "nothing failed to roll back"
	assert_eq "$(map_id_at "$MAPS/shared/counts")" "$id" "bpftool: the old map is pinned again"
	assert_eq "$(count_at "$MAPS/shared/counts" 1)" 42 "bpftool: with its contents"
	assert_eq "$(map_max_at "$MAPS/shared/counts")" 4 "bpftool: 4 entries, the old definition"
	assert_eq "$(xdp_prog_id m0)" "$prog" "bpftool: the old program is back on m0"
	has_word "$(xdp_map_ids)" "$id" || _fail "bpftool: the old program uses the old map"
	assert_not_exists "$MAPS/shared/counts%new" "the new map's pin is gone"
	assert_eq "$(xdp_prog_id m1)" "" "bpftool: nothing on m1"

	# Without the failing attachment the recreate goes through.
	write_m recreate
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan after the rollback"
	assert_jq "$OUT" '.maps[] | select(.map == "counts") | .action == "recreate" and .old_map_id == '"$id" \
		"the recreate is still to do"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply without the failing attachment" || return
	assert_ne "$(map_id_at "$MAPS/shared/counts")" "$id" "recreated this time"
}

# Objects sharing one pin: all users loaded in the run share the one new
# map; a user the run does not reload would keep the old map: refused.
test_recreate_shared() {
	local id a b new before dev

	veth_add m0 m0p
	use v1
	write_m recreate
	sed -e 's/^name: mm/name: other/' -e 's/interface: m0/interface: m0p/' "$W/m.yaml" >"$W/other.yaml"
	cnf_json apply "$W/m.yaml" "$W/other.yaml"
	assert_rc 0 "apply two manifests sharing the pin" || return
	id=$(map_id_at "$MAPS/shared/counts")
	a=$(xdp_prog_id m0)
	b=$(xdp_prog_id m0p)
	has_word "$(bt prog show id "$b" | jq -r '.map_ids | map(tostring) | join(" ")')" "$id" ||
		_fail "bpftool: the second manifest's program uses the shared map"

	use big
	before=$(snapshot_maps)
	cnf_json apply "$W/m.yaml"
	assert_rc 1 "recreating a map another manifest still uses is refused"
	assert_contains "$ERR" "map 'counts' pinned at $MAPS/shared/counts cannot be recreated: program $b ('xdp_maps')" \
		"the error names the program that keeps the old map"
	assert_contains "$ERR" "would silently keep the old map" "and why"
	assert_maps_unchanged "$before" "the refused apply changed nothing"

	cnf_json apply "$W/m.yaml" "$W/other.yaml"
	assert_rc 0 "apply both: both objects reloaded" || return
	new=$(map_id_at "$MAPS/shared/counts")
	assert_ne "$new" "$id" "bpftool: a new map"
	assert_jq "$OUT" '[.maps[] | select(.map == "counts")] | length == 1 and
		(.[0].objects | sort) == ["mm/o", "other/o"]' "--json: one map, both objects"
	for dev in m0 m0p; do
		has_word "$(bt prog show id "$(xdp_prog_id $dev)" | jq -r '.map_ids | map(tostring) | join(" ")')" "$new" ||
			_fail "bpftool: the program on $dev does not use the new map $new"
	done
	map_lingers "$id" && _fail "bpftool: the old map $id is still loaded"
	[ "$a" != "$(xdp_prog_id m0)" ] || _fail "m0 runs a new program"

	# Two objects of one manifest share the pin; only one changes: the
	# other's unchanged attachment would keep the old map.
	cnf_json destroy --all
	cp "$W/objs/maps_v1.bpf.o" "$W/objs/a.bpf.o"
	cp "$W/objs/maps_v1.bpf.o" "$W/objs/b.bpf.o"
	cat >"$W/two.yaml" <<EOF
apiVersion: cnf-apply/v1
name: two
objects:
  - name: a
    file: objs/a.bpf.o
    maps:
      - name: counts
        pin: shared/counts
        on_incompatible: recreate
  - name: b
    file: objs/b.bpf.o
    maps:
      - name: counts
        pin: shared/counts
        on_incompatible: recreate
attachments:
  - name: fa
    program: a/xdp_maps
    hook: xdp
    interface: m0
  - name: fb
    program: b/xdp_maps
    hook: xdp
    interface: m0p
EOF
	cnf_json apply "$W/two.yaml"
	assert_rc 0 "apply two objects sharing the pin" || return
	b=$(xdp_prog_id m0p)
	cp "$W/objs/maps_big.bpf.o" "$W/objs/a.bpf.o"
	before=$(snapshot_maps)
	cnf_json apply "$W/two.yaml"
	assert_rc 1 "recreating the map under an unchanged object is refused"
	assert_contains "$ERR" "program $b ('xdp_maps') of attachment 'fb' of manifest 'two' uses the old map and is not reloaded by this run" \
		"the error names the unchanged attachment"
	assert_at "$ERR" "$W/two.yaml" "$(line_of "$W/two.yaml" "- name: counts")"
	assert_maps_unchanged "$before" "the refused apply changed nothing"
	cp "$W/objs/maps_big.bpf.o" "$W/objs/b.bpf.o"
	cnf_json apply "$W/two.yaml"
	assert_rc 0 "with both objects changed, the map is recreated" || return
	assert_eq "$(map_max_at "$MAPS/shared/counts")" 8 "bpftool: the new map"
}

# kill_at_swap: apply v1 (recreate allowed, 42 at key 1), then apply
# the bigger version and kill it at the rename that moves the pin (phase
# B done: the new programs run on the new map, pinned at <pin>%new). Sets
# KID (the old map, still pinned) and KTMP (the new one, at <pin>%new).
kill_at_swap() {
	local n

	command -v strace >/dev/null || {
		t_skip "strace is missing"
		return 1
	}
	veth_add m0 m0p
	use v1
	write_m recreate
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v1" || return 1
	use big
	# Which rename moves the pin: counted on a first run, then undone.
	ASAN_OPTIONS=detect_leaks=0 strace -f -qq -e trace=rename -o "$T/renames.log" \
		"$CNF" --bpffs "$T/bpffs" apply "$W/m.yaml" >/dev/null 2>&1
	n=$(grep -E '^[0-9]+ +rename\(' "$T/renames.log" | grep -n 'counts%new' | cut -d: -f1)
	assert_ne "$n" "" "strace saw the rename of counts%new" || return 1
	"$CNF" --bpffs "$T/bpffs" destroy --all >/dev/null 2>&1
	use v1
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v1 again" || return 1
	KID=$(map_id_at "$MAPS/shared/counts")
	bpftool map update pinned "$MAPS/shared/counts" key $(u32_key 1) value $(u64_val 42)

	use big
	( ASAN_OPTIONS=detect_leaks=0 exec strace -f -qq -o /dev/null -e trace=rename \
		-e inject=rename:signal=KILL:when="$n" \
		"$CNF" --bpffs "$T/bpffs" apply "$W/m.yaml" >/dev/null 2>&1 ) 2>/dev/null
	assert_eq "$?" 137 "apply was killed at the rename" || return 1
	KTMP=$(map_id_at "$MAPS/shared/counts%new")
	assert_eq "$(map_id_at "$MAPS/shared/counts")" "$KID" "killed: the old map is still pinned"
	assert_ne "$KTMP" "" "killed: the new map is pinned next to it" || return 1
	has_word "$(xdp_map_ids)" "$KTMP" || _fail "killed: the new program already uses the new map"
}

# A run killed before the pin moved is finished by the next apply,
# without loading anything.
test_recreate_killed_at_swap() {
	local runs

	kill_at_swap || return
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan: the move is still to do"
	assert_jq "$OUT" '(.actions | map(.action) | unique) == ["noop"] and
		(.maps[] | select(.map == "counts") | .action == "recreate" and .old_map_id == '"$KID"' and
		.stale_path == null)' \
		"plan: no program to load, the map to recreate"
	cnf_strace apply "$W/m.yaml" || return
	assert_rc 0 "apply finishes the recreate"
	assert_jq "$OUT" '.changed == true' "--json: changed"
	runs=$(bpf_calls BPF_PROG_LOAD | wc -l)
	assert_eq "$runs" 0 "strace: no program was loaded"
	assert_eq "$(map_id_at "$MAPS/shared/counts")" "$KTMP" "bpftool: the new map took the pin"
	assert_not_exists "$MAPS/shared/counts%new" "no temporary pin left"
	assert_eq "$(count_at "$MAPS/shared/counts" 1)" 0 "bpftool: the old contents are gone"
	map_lingers "$KID" && _fail "bpftool: the old map $KID is still loaded"
	cnf_json plan "$W/m.yaml"
	assert_rc 0 "then nothing to do"
}

# Killed before the pin moved, then the old version again: the pinned map
# fits it and is reused, and the killed run's new map, left at <pin>%new,
# is unpinned by apply (status and plan say so first).
test_recreate_killed_then_reverted() {
	local prog

	kill_at_swap || return
	use v1
	cnf_json status "$W/m.yaml"
	assert_rc 2 "status: differences"
	assert_jq "$OUT" '.maps[] | select(.map == "counts") | .state == "stale" and
		.stale_path == "'"$MAPS/shared/counts%new"'"' "status: the leftover pin"
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan"
	assert_jq "$OUT" '.maps[] | select(.map == "counts") | .action == "keep" and
		.map_id == '"$KID"' and .stale_path == "'"$MAPS/shared/counts%new"'"' \
		"plan: the pinned map is reused, the leftover goes"
	assert_eq "$(map_id_at "$MAPS/shared/counts%new")" "$KTMP" "plan left the leftover alone"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply the old version" || return
	assert_jq "$OUT" '.maps[] | select(.map == "counts") | .action == "keep" and .done' \
		"--json: reused"
	assert_not_exists "$MAPS/shared/counts%new" "the leftover pin is gone"
	assert_eq "$(map_id_at "$MAPS/shared/counts")" "$KID" "bpftool: the old map keeps its pin"
	assert_eq "$(count_at "$MAPS/shared/counts" 1)" 42 "bpftool: with its contents"
	prog=$(xdp_prog_id m0)
	has_word "$(xdp_map_ids)" "$KID" || _fail "bpftool: program $prog does not use the pinned map $KID"
	has_word "$(xdp_map_ids)" "$KTMP" && _fail "bpftool: program $prog still uses the leftover map"
	map_lingers "$KTMP" && _fail "bpftool: the leftover map $KTMP is still loaded"
	cnf_json apply --detailed-exitcode "$W/m.yaml"
	assert_rc 0 "then nothing to do"
}

# A <pin>%new that no run takes over (a killed run's leftover, made here
# by hand): status reports it (exit 2), plan lists it, apply unpins it
# and changes nothing else; the pinned map and its contents stay.
test_stale_new_pin() {
	local id stale prog before tmp=$MAPS/shared/counts%new

	veth_add m0 m0p
	use v1
	write_m
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v1" || return
	id=$(map_id_at "$MAPS/shared/counts")
	prog=$(xdp_prog_id m0)
	bpftool map update pinned "$MAPS/shared/counts" key $(u32_key 1) value $(u64_val 42)
	assert_ok "bpftool: a map at counts%new" bpftool map create "$tmp" type array key 4 \
		value 8 entries 4 name counts || return
	stale=$(map_id_at "$tmp")
	assert_ne "$stale" "" "bpftool: a map is pinned at counts%new" || return
	before=$(snapshot_maps)

	cnf_json status "$W/m.yaml"
	assert_rc 2 "status: the leftover is a difference"
	assert_jq "$OUT" '.in_sync == false and all(.attachments[]; .state == "in-sync")' \
		"status: the attachments are in sync"
	assert_jq "$OUT" '[.maps[] | [.state, .action, .map, .map_id, .stale_path]] ==
		[["stale", "keep", "counts", '"$id"', "'"$tmp"'"]]' "status --json: the leftover"
	cnf_run status "$W/m.yaml"
	assert_rc 2 "status (text): exit 2"
	assert_match "$OUT" "stale +mm/o +map shared/counts +\[counts\]" "status (text): the map line"
	assert_contains "$OUT" "$tmp, left by an interrupted run, is unpinned" "status (text): why"
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan: a change"
	assert_jq "$OUT" '.changed == true and ([.actions[].action] == ["noop"]) and
		([.maps[] | select(.stale_path) | [.action, .map, .stale_path]] == [["keep", "counts", "'"$tmp"'"]]) and
		all(.maps[]; .action == "keep")' \
		"plan --json: the leftover goes, nothing else"
	cnf_run plan "$W/m.yaml"
	assert_contains "$OUT" "1 leftover map pin to remove" "plan (text): the summary"
	assert_maps_unchanged "$before" "status and plan changed nothing"

	cnf_strace apply --detailed-exitcode "$W/m.yaml" || {
		t_skip "strace is missing"
		return
	}
	assert_rc 2 "apply: a change"
	assert_eq "$(bpf_calls BPF_PROG_LOAD | wc -l)" 0 "strace: no program was loaded"
	assert_jq "$OUT" '.changed == true and (.maps[] | select(.map == "counts") | .done)' \
		"apply --json: done"
	assert_not_exists "$tmp" "the leftover pin is gone"
	map_lingers "$stale" && _fail "bpftool: the leftover map $stale is still loaded"
	assert_eq "$(map_id_at "$MAPS/shared/counts")" "$id" "bpftool: the same map is pinned"
	assert_eq "$(count_at "$MAPS/shared/counts" 1)" 42 "bpftool: with its contents"
	assert_eq "$(xdp_prog_id m0)" "$prog" "bpftool: the program was not touched"
	cnf_json apply --detailed-exitcode "$W/m.yaml"
	assert_rc 0 "apply again: nothing to do"
	cnf_json status "$W/m.yaml"
	assert_rc 0 "status: in sync"
	assert_jq "$OUT" '.in_sync and .maps == []' "status: nothing to report"

	# Beside a map that an upgrade reuses: it goes with the upgrade.
	assert_ok "bpftool: a map at counts%new again" bpftool map create "$tmp" type array \
		key 4 value 8 entries 4 name counts || return
	stale=$(map_id_at "$tmp")
	use v2
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan v2"
	assert_jq "$OUT" '.maps[] | select(.map == "counts") | .action == "keep" and
		.map_id == '"$id"' and .stale_path == "'"$tmp"'"' "plan: reused, the leftover goes"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v2" || return
	assert_jq "$OUT" '.actions[0].action == "update" and .actions[0].done' "apply: updated"
	assert_not_exists "$tmp" "the leftover pin is gone"
	map_lingers "$stale" && _fail "bpftool: the leftover map $stale is still loaded"
	assert_eq "$(map_id_at "$MAPS/shared/counts")" "$id" "bpftool: the same map is pinned"
	assert_eq "$(count_at "$MAPS/shared/counts" 1)" 42 "bpftool: with its contents"
	has_word "$(xdp_map_ids)" "$id" || _fail "bpftool: the new program uses the pinned map"
}

# status: a pinned map the version apply would load does not fit is
# reported with what differs (apply refuses it, or recreates it with
# on_incompatible: recreate); status loads nothing and changes nothing.
test_status_incompatible() {
	local id before x

	command -v strace >/dev/null || {
		t_skip "strace is missing"
		return
	}
	veth_add m0 m0p
	use v1
	write_m
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v1" || return
	id=$(map_id_at "$MAPS/shared/counts")
	bpftool map update pinned "$MAPS/shared/counts" key $(u32_key 1) value $(u64_val 42)
	cnf_json status "$W/m.yaml"
	assert_rc 0 "status: in sync"
	assert_jq "$OUT" '.in_sync and .maps == []' "status: no map to report"

	use big
	before=$(snapshot_maps)
	cnf_strace status "$W/m.yaml" || return
	assert_rc 2 "status: differences"
	assert_eq "$(bpf_calls BPF_PROG_LOAD | wc -l)" 0 "strace: status loaded no program"
	assert_eq "$(bpf_calls BPF_MAP_CREATE | wc -l)" 0 "strace: status created no map"
	x=$(jq -c '[.maps[] | select(.map == "counts")]' <<<"$OUT")
	assert_jq "$x" 'length == 1 and .[0].state == "incompatible" and .[0].action == "none" and
		.[0].pin == "shared/counts" and .[0].path == "'"$MAPS/shared/counts"'" and
		.[0].old_map_id == '"$id"' and .[0].contents_lost == false and
		.[0].differences == [{"property": "max_entries", "old": "4", "new": "8"}]' \
		"status --json: the map, what differs, apply refuses it"
	assert_contains "$(jf "$x" '.[0].reason')" \
		"map 'counts' is pinned at $MAPS/shared/counts with max_entries 4, the object wants 8" \
		"status --json: the reason is plan's error"
	assert_contains "$(jf "$x" '.[0].reason')" "on_incompatible: recreate" "status --json: how to opt in"
	assert_jq "$OUT" '.in_sync == false and (.attachments[] | select(.attachment == "fw") |
		.state == "drifted")' "status --json: fw drifted"
	assert_contains "$(jf "$OUT" '.attachments[] | select(.attachment == "fw") | .reason')" \
		"map 'counts' pinned at $MAPS/shared/counts does not fit this version (max_entries 4 -> 8): apply refuses it" \
		"status --json: fw's reason names the map"
	cnf_run status "$W/m.yaml"
	assert_rc 2 "status (text): exit 2"
	assert_match "$OUT" "incompatible +mm/o +map shared/counts +\[counts\]" "status (text): the map line"
	assert_contains "$OUT" "max_entries 4, the object wants 8" "status (text): what differs"
	assert_maps_unchanged "$before" "status changed nothing"
	assert_eq "$(map_id_at "$MAPS/shared/counts")" "$id" "bpftool: the same map is pinned"
	assert_eq "$(map_max_at "$MAPS/shared/counts")" 4 "bpftool: still 4 entries"
	assert_eq "$(count_at "$MAPS/shared/counts" 1)" 42 "bpftool: its contents are intact"

	# With the permission: apply would recreate it.
	write_m recreate
	cnf_json status "$W/m.yaml"
	assert_rc 2 "status with on_incompatible: recreate"
	assert_jq "$OUT" '[.maps[] | select(.map == "counts")] | length == 1 and
		(.[0] | .state == "incompatible" and .action == "recreate" and .contents_lost and
		.old_map_id == '"$id"' and .differences[0].property == "max_entries")' \
		"status --json: the map will be recreated"
	assert_contains "$(jf "$OUT" '.attachments[] | select(.attachment == "fw") | .reason')" \
		"(max_entries 4 -> 8): apply recreates it, its contents lost" "status --json: fw's reason"
	assert_maps_unchanged "$before" "status changed nothing"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply recreates the map" || return
	assert_eq "$(map_max_at "$MAPS/shared/counts")" 8 "bpftool: the new map"
	cnf_json status "$W/m.yaml"
	assert_rc 0 "status: in sync again"
	assert_jq "$OUT" '.in_sync and .maps == []' "status: nothing to report"
}

test_initial_entries() {
	local conf line

	veth_add m0 m0p
	use v1
	cat >"$W/m.yaml" <<'EOF'
apiVersion: cnf-apply/v1
name: mm
objects:
  - name: o
    file: objs/m.bpf.o
    maps:
      - name: conf
        pin: e/conf
        entries:
          - {key: 1, value: 7}
          - {key: 0x10, value: "0x01020304"}
          - {key: [2, 0, 0, 0], value: 4294967295}
      - name: rules
        pin: e/rules
        entries:
          - key: "0x0a00000150000600"
            value: [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]
      - name: ports
        pin: e/ports
        entries:
          - {key: 3, value: [22, 80, 443]}
      - name: verdicts
        pin: e/verdicts
        entries:
          - {key: 5, value: VERDICT_DROP}
      - name: pcpu
        pin: e/pcpu
        entries:
          - {key: 1, value: 99}
attachments:
  - name: fw
    program: o/xdp_maps
    hook: xdp
    interface: m0
EOF
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan"
	assert_jq "$OUT" '.maps[] | select(.map == "conf") | .action == "create" and .initial_entries == 3' \
		"plan: 3 entries will be written on creation"
	assert_not_exists "$MAPS/e/conf" "plan pinned nothing"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	conf=$(bt map dump pinned "$MAPS/e/conf" | jq -c '[.[] | .formatted | [.key, .value]] | sort')
	assert_eq "$conf" '[[1,7],[2,4294967295],[16,67305985]]' "bpftool: conf holds the entries"
	assert_eq "$(bt map dump pinned "$MAPS/e/conf" | jq -r '.[] | select(.formatted.key == 16) | .value | join(" ")')" \
		"0x01 0x02 0x03 0x04" "bpftool: a hex string is the bytes in memory order"
	assert_eq "$(bt map dump pinned "$MAPS/e/rules" | jq -c '.[0].formatted')" \
		'{"key":{"addr":16777226,"port":80,"proto":6},"value":{"pkts":1,"bytes":2}}' \
		"bpftool: a struct key from a hex string, a value from a byte list"
	assert_eq "$(bt map lookup pinned "$MAPS/e/ports" key $(u32_key 3) | jq -c '.formatted.value')" \
		'[22,80,443,0]' "bpftool: an array value from a list, the rest zeroed"
	assert_eq "$(bt map lookup pinned "$MAPS/e/verdicts" key $(u32_key 5) | jq -r '.formatted.value')" \
		VERDICT_DROP "bpftool: an enum value by name"
	assert_eq "$(bt map lookup pinned "$MAPS/e/pcpu" key $(u32_key 1) | jq -c '[.formatted.values[].value] | unique')" \
		'[99]' "bpftool: the per-CPU value on every CPU"

	# Live state wins: a manual change stays through a changed entries:
	# and through a new program version.
	assert_ok "change conf by hand" bpftool map update pinned "$MAPS/e/conf" \
		key $(u32_key 1) value $(u32_key 1000)
	sed -i 's/{key: 1, value: 7}/{key: 1, value: 8}/' "$W/m.yaml"
	cnf_json plan "$W/m.yaml"
	assert_rc 0 "a changed entries: of a pinned map is no change"
	use v2
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v2" || return
	assert_jq "$OUT" '.maps[] | select(.map == "conf") | .action == "keep" and .initial_entries == 0' \
		"--json: the map is reused, no entries written"
	assert_eq "$(bt map lookup pinned "$MAPS/e/conf" key $(u32_key 1) | jq -r '.formatted.value')" \
		1000 "bpftool: the manual value stays"

	# An unpinned map gets its entries at every load; changing them is a
	# new program version.
	cat >"$W/u.yaml" <<'EOF'
apiVersion: cnf-apply/v1
name: uu
objects:
  - name: o
    file: objs/maps_v1.bpf.o
    maps:
      - name: conf
        entries:
          - {key: 9, value: 90}
attachments:
  - name: fw
    program: o/xdp_maps
    hook: xdp
    interface: m0p
EOF
	cnf_json apply "$W/u.yaml"
	assert_rc 0 "apply with an unpinned map's entries" || return
	line=$(jf "$OUT" '.maps[] | select(.map == "conf") | .map_id')
	assert_eq "$(bt map lookup id "$line" key $(u32_key 9) | jq -r '.formatted.value')" 90 \
		"bpftool: the unpinned map holds its entry"
	has_word "$(bt prog show id "$(xdp_prog_id m0p)" | jq -r '.map_ids | map(tostring) | join(" ")')" "$line" ||
		_fail "bpftool: the program uses that map"
	sed -i 's/value: 90/value: 91/' "$W/u.yaml"
	cnf_json apply "$W/u.yaml"
	assert_rc 0 "apply with a changed entry"
	assert_jq "$OUT" '.actions[0].action == "update"' "a changed entry of an unpinned map updates the program"
	line=$(jf "$OUT" '.maps[] | select(.map == "conf") | .map_id')
	assert_eq "$(bt map lookup id "$line" key $(u32_key 9) | jq -r '.formatted.value')" 91 \
		"bpftool: the new map holds the new entry"
}

test_recreate_writes_entries() {
	veth_add m0 m0p
	use v1
	write_m recreate
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v1" || return
	bpftool map update pinned "$MAPS/shared/counts" key $(u32_key 1) value $(u64_val 42)
	use big
	sed -i 's/        on_incompatible: recreate/&\n        entries:\n          - {key: 7, value: 70}/' "$W/m.yaml"
	cnf_json plan "$W/m.yaml"
	assert_jq "$OUT" '.maps[] | select(.map == "counts") | .action == "recreate" and .initial_entries == 1' \
		"plan: the new map gets its entries"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	assert_eq "$(count_at "$MAPS/shared/counts" 7)" 70 "bpftool: the recreated map has the entry"
	assert_eq "$(count_at "$MAPS/shared/counts" 1)" 0 "bpftool: not the old contents"
}

test_pin_by_name() {
	local id

	veth_add m0 m0p
	use v1
	write_m
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	assert_exists "$MAPS/tbyname" "the map pinned by name is under <bpffs>/_maps/"
	id=$(map_id_at "$MAPS/tbyname")
	assert_ne "$id" "" "bpftool: it is a map"
	assert_not_exists /sys/fs/bpf/tbyname "not under libbpf's default /sys/fs/bpf"
	has_word "$(xdp_map_ids)" "$id" || _fail "bpftool: the program uses it"
	assert_jq "$OUT" '.maps[] | select(.map == "tbyname") | .action == "create" and .pin == "tbyname"' \
		"--json: the map and its pin"
	bpftool map update pinned "$MAPS/tbyname" key $(u32_key 3) value $(u64_val 33)
	use v2
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v2" || return
	assert_eq "$(map_id_at "$MAPS/tbyname")" "$id" "bpftool: reused by the new version"
	assert_eq "$(count_at "$MAPS/tbyname" 3)" 33 "bpftool: its contents carried over"

	cnf_json destroy "$W/m.yaml"
	assert_rc 0 "destroy" || return
	assert_not_exists "$MAPS/tbyname" "destroy unpins the map pinned by name"
	assert_not_exists "$MAPS/shared/counts" "and the one pinned with pin:"
	map_lingers "$id" && _fail "bpftool: map $id is still loaded"
	assert_eq "$(state_pins)" "$T/bpffs/_cnf/$(ls "$T/bpffs/_cnf")" "only the tool's iterator is left"
}

# state_root_leftovers: what `ls -R` of the state root lists besides the
# tool's iterator (and bpffs' own *.debug files): nothing after a destroy.
state_root_leftovers() {
	(cd "$T/bpffs" && ls -R) | grep -v -e '^iter-' -e '\.debug$' -e '^\./_cnf:$' -e '^\.:$' \
		-e '^_cnf$' -e '^$'
}

# write_u [ON_INCOMPATIBLE]: manifest `uu`, object `o` (objs/m.bpf.o) on XDP
# of m0; `counts` is not pinned.
write_u() {
	cat >"$W/u.yaml" <<EOF
apiVersion: cnf-apply/v1
name: uu
objects:
  - name: o
    file: objs/m.bpf.o${1:+
    maps:
      - name: counts
        on_incompatible: $1}
attachments:
  - name: fw
    program: o/xdp_maps
    hook: xdp
    interface: m0
EOF
}

xdp_map_named() {     # xdp_map_named NAME -> the id of that map of m0's XDP program
	local id

	for id in $(xdp_map_ids); do
		[ "$(bt map show id "$id" | jq -r .name)" == "$1" ] && echo "$id" && return
	done
}

slot1() {             # slot1 MAP_ID -> the value at key 1 (bpftool map dump)
	bt map dump id "$1" | jq -r '.[] | select(.formatted.key == 1) | .formatted.value'
}

# The reported case: a counter of a map that is not pinned went from 7 to
# 0 on an in-place update, and the plan said only "object changed".
test_unpinned_state_kept() {
	local id prog new text

	veth_add m0 m0p
	use v1
	write_u
	cnf_json apply "$W/u.yaml"
	assert_rc 0 "apply v1" || return
	id=$(xdp_map_named counts)
	assert_ne "$id" "" "bpftool: the program has its counts map" || return
	assert_jq "$OUT" '.maps[] | select(.map == "counts") | .action == "create" and .pin == null and
		.map_id == '"$id" "--json: counts was created, not pinned"
	assert_ok "count 7" bpftool map update id "$id" key $(u32_key 1) value $(u64_val 7)
	prog=$(xdp_prog_id m0)

	use v2
	cnf_json plan "$W/u.yaml"
	assert_rc 2 "plan v2"
	assert_jq "$OUT" '.maps[] | select(.map == "counts") | .action == "keep" and .loaded and
		.contents_lost == false and .map_id == '"$id" "plan: counts is kept, map $id"
	assert_jq "$OUT" '.maps[] | select(.map == "events") | .action == "keep"' \
		"plan: the ring buffer is kept too"
	assert_jq "$OUT" '[.maps[] | select(.object == "o")] | length == 8' \
		"plan: every map of the object is listed"
	cnf_json apply "$W/u.yaml"
	assert_rc 0 "apply v2" || return
	assert_jq "$OUT" '.actions[0].action == "update"' "--json: updated in place"
	assert_ne "$(xdp_prog_id m0)" "$prog" "bpftool: a new program runs"
	assert_eq "$(xdp_map_named counts)" "$id" "bpftool: the new program uses the same map"
	assert_eq "$(slot1 "$id")" 7 "bpftool: the count is still 7"

	# A version whose counts does not fit: refused, by plan first.
	use big
	cnf_json plan "$W/u.yaml"
	assert_rc 1 "plan refuses to lose the counts"
	assert_contains "$ERR" "map 'counts' (not pinned) of the running program" "the error names the map"
	assert_contains "$ERR" "max_entries 4, the new version wants 8" "the error says what differs"
	assert_contains "$ERR" "on_incompatible: recreate" "the error says how to allow it"
	cnf_json apply "$W/u.yaml"
	assert_rc 1 "apply refuses it too"
	assert_contains "$ERR" "max_entries 4, the new version wants 8" "apply: the same error"
	assert_eq "$(xdp_map_named counts)" "$id" "bpftool: the program still uses map $id"
	assert_eq "$(slot1 "$id")" 7 "bpftool: the count is still 7"

	write_u recreate
	cnf_run plan "$W/u.yaml"
	assert_rc 2 "plan with on_incompatible: recreate"
	text=$OUT
	assert_contains "$text" "reset   uu/o  map (not pinned)  [counts]" "plan (text): the map line"
	assert_contains "$text" "max_entries 4 -> 8" "plan (text): what differs"
	assert_contains "$text" "the contents of map $id will be LOST" "plan (text): says it loudly"
	cnf_json apply "$W/u.yaml"
	assert_rc 0 "apply the reset" || return
	new=$(xdp_map_named counts)
	assert_ne "$new" "$id" "bpftool: a new counts map"
	assert_jq "$OUT" '.maps[] | select(.map == "counts") | .action == "reset" and .contents_lost and
		.old_map_id == '"$id"' and .map_id == '"${new:-0}" "--json: reset, with both ids"
	assert_eq "$(bt map show id "$new" | jq -r .max_entries)" 8 "bpftool: 8 entries"
	assert_eq "$(slot1 "$new")" 0 "bpftool: the new map starts empty"
}

# Maps pinned by name by an older object version: the version that no
# longer has the map leaves its pin behind unless the run removes it.
test_stale_by_name() {
	local id cid left

	veth_add m0 m0p
	use v1
	write_m
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v1" || return
	id=$(map_id_at "$MAPS/tbyname")
	cid=$(map_id_at "$MAPS/shared/counts")
	assert_ne "$id" "" "bpftool: tbyname is pinned by name" || return

	use nobyname
	cnf_json status "$W/m.yaml"
	assert_rc 2 "status: differences"
	assert_jq "$OUT" '.maps[] | select(.map == "tbyname") | .state == "stale" and .map_id == '"$id" \
		"status: the old version's pin by name is stale"
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan"
	assert_jq "$OUT" '.maps[] | select(.map == "tbyname") | .action == "unpin" and .pin == "tbyname" and
		.map_id == '"$id" "plan: the pin goes"
	assert_exists "$MAPS/tbyname" "plan removed nothing"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply the version without it" || return
	assert_jq "$OUT" '.maps[] | select(.map == "tbyname") | .action == "unpin" and .done' "apply: unpinned"
	assert_not_exists "$MAPS/tbyname" "the stale pin is gone"
	map_lingers "$id" && _fail "bpftool: map $id is still loaded"
	assert_eq "$(map_id_at "$MAPS/shared/counts")" "$cid" "bpftool: the pinned counts map is kept"
	cnf_json apply "$W/m.yaml"
	assert_jq "$OUT" '.changed == false' "a second apply changes nothing"

	# destroy leaves nothing of the manifest.
	cnf_json destroy "$W/m.yaml"
	assert_rc 0 "destroy" || return
	left=$(state_root_leftovers)
	assert_eq "$left" "" "ls -R: only the tool's iterator is left under the state root"
	map_lingers "$cid" && _fail "bpftool: map $cid is still loaded"
}

# A map of maps pinned by name (the outer map, with libbpf's initial
# inner map): kept by an upgrade, and gone with destroy.
test_map_in_map_destroy() {
	local outer inner left

	veth_add m0 m0p
	cat >"$W/mim.yaml" <<'EOF'
apiVersion: cnf-apply/v1
name: mim
objects:
  - name: o
    file: objs/map_in_map.bpf.o
attachments:
  - name: fw
    program: o/xdp_mim
    hook: xdp
    interface: m0
EOF
	cnf_json apply "$W/mim.yaml"
	assert_rc 0 "apply" || return
	outer=$(map_id_at "$MAPS/outer")
	assert_ne "$outer" "" "bpftool: the outer map is pinned by name" || return
	inner=$(bt map lookup pinned "$MAPS/outer" key 0 0 0 0 | jq -r '.value // empty')
	assert_ne "$inner" "" "bpftool: slot 0 holds the inner map"
	cnf_json destroy "$W/mim.yaml"
	assert_rc 0 "destroy" || return
	assert_not_exists "$MAPS/outer" "the outer map's pin is gone"
	left=$(state_root_leftovers)
	assert_eq "$left" "" "ls -R: nothing of the manifest is left under the state root"
	map_lingers "$outer" && _fail "bpftool: the outer map $outer is still loaded"
	[ -n "$inner" ] && map_lingers "$inner" && _fail "bpftool: the inner map $inner is still loaded"
}

# destroy leaves nothing of a manifest, not even the pins its objects
# made that it no longer declares: a `pin:` removed from the manifest, a
# map pinned by name by an older object version.
test_destroy_leaves_nothing() {
	local cid bid left

	veth_add m0 m0p
	use v1
	write_m
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	cid=$(map_id_at "$MAPS/shared/counts")
	bid=$(map_id_at "$MAPS/tbyname")

	# The pin: goes from the manifest; the new load keeps the map itself
	# (not pinned now), so the old pin stays while the program uses it.
	sed -i '/^    maps:/,/^attachments:/{/^attachments:/!d}' "$W/m.yaml"
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan"
	assert_jq "$OUT" '.maps[] | select(.state == "stale") | .pin == "shared/counts" and
		.action == "keep" and .map_id == '"$cid"' and .used_by_prog_id != null' \
		"plan: the undeclared pin is stale, kept while a program uses its map"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply without the pin" || return
	assert_eq "$(xdp_map_named counts)" "$cid" "bpftool: the new program kept the counts map"
	cnf_json status "$W/m.yaml"
	assert_jq "$OUT" '.maps[] | select(.state == "stale") | .pin == "shared/counts"' \
		"status: the pin is listed as stale"

	# A new object file, never applied, without the map pinned by name.
	use nobyname
	cnf_json destroy "$W/m.yaml"
	assert_rc 0 "destroy" || return
	left=$(state_root_leftovers)
	assert_eq "$left" "" "ls -R: nothing of the manifest is left under the state root"
	map_lingers "$cid" && _fail "bpftool: map $cid is still loaded"
	map_lingers "$bid" && _fail "bpftool: map $bid is still loaded"
}

run_test "a compatible new version keeps the pinned map's contents" test_compatible_upgrade_keeps_contents
run_test "an incompatible pinned map is refused, nothing changes" test_incompatible_refused
run_test "on_incompatible: recreate replaces the map, contents lost, links updated" test_recreate
run_test "a failed run unpins the maps it made and puts the old map's pin back" test_recreate_rollback
run_test "objects sharing a pin share the new map; a user left behind is refused" test_recreate_shared
run_test "a run killed before the pin moved is finished by the next" test_recreate_killed_at_swap
run_test "a run killed before the pin moved, then the old version: the leftover goes" test_recreate_killed_then_reverted
run_test "a stale <pin>%new: status and plan report it, apply unpins it" test_stale_new_pin
run_test "status reports an incompatible pinned map, changes nothing" test_status_incompatible
run_test "initial entries: typed, written on creation only" test_initial_entries
run_test "a recreated map gets its initial entries" test_recreate_writes_entries
run_test "maps pinned by name live under the state root and go with destroy" test_pin_by_name
run_test "an unpinned map's contents carry over; a loss is refused unless allowed" test_unpinned_state_kept
run_test "a map pinned by name by the old version only: stale, unpinned by the upgrade" test_stale_by_name
run_test "a map of maps pinned by name goes with destroy, nothing left" test_map_in_map_destroy
run_test "destroy leaves nothing: pins no longer declared, pins of older versions" test_destroy_leaves_nothing
