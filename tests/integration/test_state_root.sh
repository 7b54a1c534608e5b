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
	local lid pid mode a ids

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
		ids=$(jq -c '[.attachments[] | [.link_id, .prog_id]] | sort' <<<"$OUT")
		cnf_json apply "$W/m.yaml"
		assert_rc 0 "$mode: apply again"
		assert_jq "$OUT" '.changed == false' "$mode: nothing to change, no second copy"
		assert_jq "$OUT" "([.actions[] | [.link_id, .prog_id]] | sort) == $ids" "$mode: the same links and programs"
		assert_eq "$(echo "$(xdp_prog_id s0) $(tcx_entries s0 ingress | jq -r '.[].prog_id')" | xargs -n1 | sort -n | xargs)" \
			"$(jf "$ids" '[.[][1]] | sort | map(tostring) | join(" ")')" "$mode: bpftool net: s0 runs those programs"
		cnf_json destroy "$W/m.yaml"
		assert_rc 0 "$mode: destroy"
	done
}
run_test "an interrupted info call is asked again; the record holds the kernel's ids" test_info_interrupted

# --- who can change the root -------------------------------------------------

# refused_root DIR WHAT: apply, plan and status with DIR as the state
# root are refused with an error naming WHAT, and nothing is attached.
refused_root() {
	local verb
	for verb in apply plan status; do
		echo "\$ cnf-apply --bpffs $1 --json $verb"
		"$CNF" --bpffs "$1" --json "$verb" "$W/m.yaml" >"$T/stdout" 2>"$T/stderr"
		RC=$?
		ERR=$(cat "$T/stderr")
		assert_rc 1 "$verb with root $1"
		assert_contains "$ERR" "$2" "$verb: the error names the problem"
		assert_jq "$(cat "$T/stdout")" '.error | length > 0' "$verb: one JSON error document"
	done
	assert_eq "$(xdp_prog_id s0)" "" "bpftool net: no XDP program on s0"
	assert_eq "$(tcx_names s0 ingress)" "" "bpftool net: no tcx program on s0"
}

test_root_permissions() {
	veth_add s0 s0p
	write_m "$W/m.yaml" m s0

	# A plain bpffs mount is 1777: anyone could make a manifest's directory.
	mkdir "$T/loose"
	mount -t bpf bpf "$T/loose" || { _fail "mount"; return; }
	refused_root "$T/loose" "directory '$T/loose' is writable by others (mode 1777)"
	assert_eq "$(ls -A "$T/loose" | grep -v '^\(maps\|progs\)\.debug$')" "" "ls: nothing created in the refused root"
	umount "$T/loose"

	# The root owned by another user, a group-writable root.
	mkdir "$T/bpffs/other" "$T/bpffs/grp"
	chown 65534 "$T/bpffs/other"
	refused_root "$T/bpffs/other" "directory '$T/bpffs/other' is owned by uid 65534"
	chmod 0770 "$T/bpffs/grp"
	refused_root "$T/bpffs/grp/cnf" "directory '$T/bpffs/grp' is writable by"
	assert_not_exists "$T/bpffs/grp/cnf" "the refused root was not created"

	# A directory above the mount anyone can write to (not sticky).
	mkdir -m 0777 "$T/open"
	mkdir "$T/open/fs"
	mount -t bpf -o mode=0700 bpf "$T/open/fs" || { _fail "mount"; return; }
	refused_root "$T/open/fs" "directory '$T/open' is writable by others (mode 0777)"
	umount "$T/open/fs"

	# What the tool creates is root's alone.
	cnf_json --bpffs "$T/bpffs/new/root" apply "$W/m.yaml"
	assert_rc 0 "apply with a new root" || return
	assert_eq "$(stat -c '%a %u' "$T/bpffs/new" "$T/bpffs/new/root" "$T/bpffs/new/root/m" | sort -u)" \
		"700 0" "stat: the root, the directory above and the manifest's are 0700, root's"
	assert_eq "$(pinned_link_id "$T/bpffs/new/root/m/links/fw/s0")" \
		"$(jf "$OUT" '.actions[] | select(.attachment == "fw") | .link_id')" "bpftool: fw pinned in the new root"
}
run_test "a state root someone but root can change is refused; a new one is 0700" test_root_permissions

# --- symbolic links and stray entries ----------------------------------------

FORGE=${BUILD:-$(dirname "$CNF")}/tests/tools/forge_state

# stray_of JSON PATH -> the status entry of the stray entry PATH
stray_of() {
	jq -c --arg p "$2" '.stray[] | select(.path == $p)' <<<"$1"
}

# A link in one state root to another root's manifest is never followed:
# neither an apply over an unrelated directory (which prunes what it does
# not declare) nor destroy --all touches the other root's links.
test_symlink_to_other_root() {
	local a=$T/bpffs/a b=$T/bpffs/b lids l iter

	veth_add s0 s0p
	veth_add s1 s1p
	write_m "$W/m.yaml" m s0
	cnf_json --bpffs "$b" apply "$W/m.yaml"
	assert_rc 0 "apply m in root b" || return
	lids=$(jf "$OUT" '[.actions[].link_id] | join(" ")')
	mkdir -p "$W/other" "$a"
	cp -r "$W/objs" "$W/other/"
	write_m "$W/other/o.yaml" o s1
	ln -s ../b/m "$a/m"
	mkdir -p "$b/_maps/keep"
	bpftool map create "$b/_maps/keep/x" type array key 4 value 4 entries 1 name keep ||
		{ _fail "bpftool map create"; return; }
	ln -s ../b/_maps "$a/_maps"
	ln -s ../b/_cnf "$a/_cnf"
	iter=$(ls "$b/_cnf")
	assert_ne "$iter" "" "ls: root b pinned its link iterator"
	mkdir -p "$a/p/links"
	ln -s ../../../b/m/links/fw "$a/p/links/fw"

	cnf_json --bpffs "$a" apply "$W/other"
	assert_rc 0 "apply of an unrelated directory in root a" || return
	assert_jq "$OUT" '[.actions[] | select(.action == "delete")] == []' "it deletes nothing"
	cnf_json --bpffs "$a" status "$W/other"
	assert_rc 0 "status of root a: o in sync"
	assert_jq "$(stray_of "$OUT" "$a/m")" '.state == "stray" and (.what | startswith("a symbolic link to"))' \
		"status: the link is stray"
	assert_jq "$(stray_of "$OUT" "$a/p/links/fw")" '.manifest == "p"' "status: the inner link is stray"
	cnf_json --bpffs "$a" destroy --all
	assert_rc 0 "destroy --all in root a"
	for l in $lids; do
		assert_ok "bpftool: link $l of root b is alive" link_exists "$l"
	done
	assert_eq "$(xdp_prog_id s0)" "$(jf "$(link_json "${lids%% *}")" .prog_id)" "bpftool net: fw still on s0"
	assert_exists "$b/m/links/fw/s0" "ls: root b's pin is there"
	assert_eq "$(bt map show pinned "$b/_maps/keep/x" | jq -r .name)" keep "bpftool: root b's pinned map is there"
	assert_eq "$(ls "$b/_cnf")" "$iter" "ls: root b's link iterator pin is there, alone"
	assert_eq "$(readlink "$a/m")" "../b/m" "ls: the link is left alone"
	cnf_json --bpffs "$b" status "$W/m.yaml"
	assert_rc 0 "status of root b: in sync"
}
run_test "a link to another root is never followed: an apply elsewhere and destroy --all leave that root alone" test_symlink_to_other_root

# Entries the tool did not make: reported as stray, left alone, and no
# verb fails because of them.
test_stray_entries() {
	local r=$T/bpffs st verb

	veth_add s0 s0p
	write_m "$W/m.yaml" m s0
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	mkdir "$r/m/links/fw/junk" "$r/m/links/count/s9" "$r/UPPER"
	ln -s loop "$r/loop"
	ln -s /etc "$r/m/links/fw/etc"
	bpftool map create "$r/notdir" type array key 4 value 4 entries 1 name notdir ||
		{ _fail "bpftool map create"; return; }

	cnf_json status "$W/m.yaml"
	assert_rc 0 "status: the manifest is in sync" || return
	st=$OUT
	assert_jq "$st" 'all(.attachments[]; .state == "in-sync")' "both in sync"
	assert_jq "$(stray_of "$st" "$r/m/links/fw/junk")" '.what == "a directory" and .manifest == "m"' "empty directory in links/"
	assert_jq "$(stray_of "$st" "$r/m/links/count/s9")" '.what == "a directory"' "a directory named like a target"
	assert_jq "$(stray_of "$st" "$r/loop")" ".what == \"a symbolic link loop to 'loop'\" and .manifest == null" "symlink loop at the top"
	assert_jq "$(stray_of "$st" "$r/m/links/fw/etc")" ".what == \"a symbolic link to '/etc'\"" "symlink in links/fw"
	assert_jq "$(stray_of "$st" "$r/notdir")" '.what == "a pinned map"' "a pinned map at the top"
	assert_jq "$(stray_of "$st" "$r/UPPER")" '.what == "a directory"' "a directory no manifest can have"
	assert_jq "$st" '(.stray | length) == 6' "six stray entries"
	cnf_run status "$W/m.yaml"
	assert_match "$OUT" "^stray +$r/loop\$" "status text: a stray line"

	for verb in plan apply; do
		cnf_json "$verb" "$W/m.yaml"
		assert_rc 0 "$verb with stray entries"
		assert_jq "$OUT" '.changed == false' "$verb: nothing to change"
	done
	cnf_json apply "$W"
	assert_rc 0 "apply of the directory (prunes what it does not declare)"
	assert_jq "$OUT" '.changed == false' "apply of the directory: nothing to change"
	cnf_json destroy "$W/m.yaml"
	assert_rc 0 "destroy with stray entries"
	assert_eq "$(xdp_prog_id s0)" "" "bpftool net: fw gone from s0"
	assert_eq "$(tcx_names s0 ingress)" "" "bpftool net: count gone from s0"
	for p in m/links/fw/junk m/links/count/s9 UPPER loop m/links/fw/etc notdir; do
		[ -e "$r/$p" ] || [ -L "$r/$p" ] || _fail "ls: $p was removed"
	done
	assert_eq "$(bt map show pinned "$r/notdir" | jq -r .name)" notdir "bpftool: the pinned map is left"
}
run_test "stray entries are reported by status and otherwise left alone" test_stray_entries

# A map at <manifest>/state that is not the tool's: every verb refuses it
# by name, nothing crashes, nothing changes.
test_forged_state_map() {
	local spec type k v n before verb

	veth_add s0 s0p
	write_m "$W/m.yaml" m s0
	for spec in "hash 256 1048576 2" "hash 256 65536 3" "array 4 1416 1" "percpu_hash 256 1416 2" "hash 256 16 2"; do
		read -r type k v n <<<"$spec"
		_t_reset_root
		mkdir "$T/bpffs/m"
		"$FORGE" "$T/bpffs/m/state" "$type" "$k" "$v" "$n" || { _fail "forge $spec"; continue; }
		before=$(state_pins)
		for verb in status plan apply destroy; do
			cnf_json "$verb" "$W/m.yaml"
			assert_rc 1 "$spec: $verb refuses the forged map"
			assert_contains "$ERR" "state map '$T/bpffs/m/state' is not cnf-apply's: a $type map with $k-byte keys and $v-byte values" \
				"$spec: $verb names the map and what it is"
			assert_jq "$OUT" '.error | length > 0' "$spec: $verb prints one JSON error"
		done
		assert_eq "$(state_pins)" "$before" "$spec: ls: nothing pinned or removed"
		assert_eq "$(xdp_prog_id s0)$(tcx_names s0 ingress)" "" "$spec: bpftool net: nothing attached on s0"
		assert_eq "$(bt map show pinned "$T/bpffs/m/state" | jq -r .type)" "$type" "$spec: bpftool: the map is left"
	done
}

# Between the cases of one test: an empty state root.
_t_reset_root() {
	umount "$T/bpffs" 2>/dev/null || umount -l "$T/bpffs"
	mount -t bpf -o mode=0700 bpf "$T/bpffs"
}
run_test "a state map that is not the tool's is refused by name, never read" test_forged_state_map

# --- a failed apply leaves nothing -------------------------------------------

# fault VAR=VALUE ARGS...: cnf_json ARGS with the fault shim, VAR set.
fault() {
	# (declared in the function: exported to the tool, gone after it)
	declare -x "$1" LD_PRELOAD="$FAULT_SO" \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
	shift
	cnf_json "$@"
}

test_failed_apply_leaves_nothing() {
	local before

	[ -f "$FAULT_SO" ] || { t_skip "no $FAULT_SO"; return; }
	veth_add s0 s0p
	write_m "$W/m.yaml" m s0
	# The second attach (count, tcx) fails: fw's is rolled back.
	fault CNF_FAULT_LINK_CREATE=2 apply "$W/m.yaml"
	assert_rc 1 "apply with a failing attach"
	assert_contains "$ERR" "attach failed" "the attach failure is reported"
	assert_eq "$(xdp_prog_id s0)" "" "bpftool net: fw rolled back"
	assert_eq "$(tcx_names s0 ingress)" "" "bpftool net: nothing on tcx"
	assert_eq "$(state_pins)" "" "ls: no state map, source map or pin left"
	assert_not_exists "$T/bpffs/m" "ls: no directory of manifest m left"

	# An apply that succeeds, then a failing change: the state stays as it was.
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	before=$(state_pins)
	veth_add s1 s1p
	write_m "$W/m.yaml" m s0 s1
	fault CNF_FAULT_LINK_CREATE=1 apply "$W/m.yaml"
	assert_rc 1 "apply of one more instance, failing"
	assert_eq "$(state_pins)" "$before" "ls: the state as before the failed apply"
	assert_not_exists "$T/bpffs/m/links/count/s1" "ls: no pin of the failed instance"
	assert_eq "$(tcx_names s1 ingress)" "" "bpftool net: nothing on s1"
	cnf_json status "$W/m.yaml"
	assert_jq "$OUT" '[.attachments[] | select(.target == "s0") | .state] == ["in-sync", "in-sync"]' \
		"status: s0's instances in sync"
}
run_test "a failed apply leaves nothing it created" test_failed_apply_leaves_nothing

# --- objects and records ------------------------------------------------------

write_obj_m() {         # write_obj_m DEV: xdp `fw` from objs/o.bpf.o on DEV
	cat >"$W/m.yaml" <<EOF
apiVersion: cnf-apply/v1
name: m
objects:
  - name: o
    file: objs/o.bpf.o
attachments:
  - name: fw
    program: o/xdp_maps
    hook: xdp
    interface: $1
EOF
}

# New content written into the object file in place, with its inode, size
# and mtime as they were: its ctime tells.
test_object_rewritten_in_place() {
	local o=$W/objs/o.bpf.o pid1 pid2 id1

	veth_add s0 s0p
	cp "$W/objs/maps_v1.bpf.o" "$o"
	write_obj_m s0
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	pid1=$(jf "$OUT" '.actions[0].prog_id')
	id1=$(stat -c '%i %s %Y %y' "$o")
	touch -r "$o" "$T/ref"
	sleep 0.05
	cat "$W/objs/maps_v2.bpf.o" >"$o"
	touch -r "$T/ref" "$o"
	assert_eq "$(stat -c '%i %s %Y %y' "$o")" "$id1" "stat: same inode, size and mtime"
	assert_ne "$(sha256sum <"$o")" "$(sha256sum <"$W/objs/maps_v1.bpf.o")" "the content is new"

	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan: a difference"
	assert_jq "$OUT" '.changed == true and (.actions[0].action | IN("update", "replace"))' "plan: fw changes"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply of the rewritten object" || return
	pid2=$(jf "$OUT" '.actions[0].prog_id')
	assert_ne "$pid2" "$pid1" "a new program"
	assert_eq "$(xdp_prog_id s0)" "$pid2" "bpftool net: s0 runs the new program"
	cnf_json apply "$W/m.yaml"
	assert_jq "$OUT" '.changed == false' "apply again: nothing to change"
}
run_test "an object rewritten in place with size and mtime put back is seen (ctime)" test_object_rewritten_in_place

# A state map of record version 1 (an older cnf-apply): read, and
# rewritten in the current layout by the first apply that writes a record.
test_record_v1() {
	local st=$T/bpffs/m/state v1=$T/bpffs/m/statev1 ids e key val

	veth_add s0 s0p
	write_m "$W/m.yaml" m s0
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	ids=$(jq -c '[.actions[] | [.attachment, .link_id, .prog_id]] | sort' <<<"$OUT")
	# The same records, cut to version 1's 1168 bytes, version 1.
	bpftool map create "$v1" type hash key 256 value 1168 entries 65536 name cnf_state flags 1 ||
		{ _fail "bpftool map create"; return; }
	while read -r e; do
		key=$(jq -r '.key | map(ltrimstr("0x")) | join(" ")' <<<"$e")
		val=$(jq -r '.value[4:1168] | map(ltrimstr("0x")) | ["01","00","00","00"] + . | join(" ")' <<<"$e")
		# shellcheck disable=SC2086
		bpftool map update pinned "$v1" key hex $key value hex $val || { _fail "bpftool map update"; return; }
	done < <(bt map dump pinned "$st" | jq -c '.[]')
	rm "$st" && mv "$v1" "$st" || { _fail "mv"; return; }
	assert_eq "$(bt map show pinned "$st" | jq .bytes_value)" 1168 "bpftool: a version 1 map"

	cnf_json plan "$W/m.yaml"
	assert_rc 0 "plan over version 1 records"
	assert_jq "$OUT" '.changed == false' "plan: nothing to change"
	cnf_json status "$W/m.yaml"
	assert_rc 0 "status over version 1 records: in sync"
	assert_jq "$OUT" "([.attachments[] | [.attachment, .link_id, .prog_id]] | sort) == $ids" "status: the recorded ids"
	assert_eq "$(bt map show pinned "$st" | jq .bytes_value)" 1168 "bpftool: read-only verbs leave the map"

	veth_add s1 s1p
	write_m "$W/m.yaml" m s0 s1
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply of one more instance" || return
	assert_eq "$(bt map show pinned "$st" | jq .bytes_value)" 1176 "bpftool: the map is in the current layout"
	assert_eq "$(bt map dump pinned "$st" | jq length)" 3 "bpftool: three records"
	cnf_json status "$W/m.yaml"
	assert_rc 0 "status: in sync"
	assert_jq "$OUT" "([.attachments[] | select(.target == \"s0\") | [.attachment, .link_id, .prog_id]] | sort) == $ids" \
		"status: s0's ids carried over"
	assert_eq "$(state_pins | grep -c 'state%new')" 0 "ls: no temporary map left"
}
run_test "version 1 records are read, and rewritten in the current layout on the next write" test_record_v1
