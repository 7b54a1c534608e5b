#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Terraform's habits and pruning by source: plan --out and apply --plan
# (carried out exactly, refused when what the plan read changed), --target
# on every verb, plan --destroy, and pruning only among the manifests last
# applied from within the run's PATHs.
. "$(dirname "$0")/lib.sh"
lib_setup "$@"

# write_m FILE NAME ATT:IFACE...: a manifest NAME with object `o`
# (objs/tc.bpf.o, tc_v1 until a test overwrites it) and one tcx ingress
# attachment of o/tc_main per ATT:IFACE.
write_m() {
	local file=$1 name=$2 spec
	shift 2
	[ -e "$W/objs/tc.bpf.o" ] || cp "$W/objs/tc_v1.bpf.o" "$W/objs/tc.bpf.o"
	{
		cat <<EOF2
apiVersion: cnf-apply/v1
name: $name
objects:
  - name: o
    file: $W/objs/tc.bpf.o
attachments:
EOF2
		for spec; do
			cat <<EOF2
  - name: ${spec%%:*}
    program: o/tc_main
    hook: tcx
    interface: ${spec#*:}
    direction: ingress
EOF2
		done
	} >"$file"
}

# tcx_ids DEV: the ids of the programs on DEV's tcx ingress, in run order.
tcx_ids() {
	tcx_entries "$1" ingress | jq -c '[.[].prog_id]'
}

# ---- pruning stays within its source ----

test_prune_within_source() {
	veth_add p0 p0p
	veth_add p1 p1p
	mkdir -p "$W/a" "$W/b"
	write_m "$W/a/a.yaml" a "fa:p0"
	write_m "$W/b/b.yaml" b "fb:p1"
	cnf_json apply "$W/a"
	assert_rc 0 "apply a/" || return
	cnf_json apply "$W/b"
	assert_rc 0 "apply b/" || return
	assert_jq "$OUT" '[.actions[] | select(.action == "delete")] | length == 0' \
		"apply b/ deletes nothing of a/"
	assert_eq "$(tcx_ids p0 | jq length)" 1 "bpftool: a's program still on p0"

	cnf_json plan "$W/b"
	assert_rc 0 "plan b/: nothing to do (a/ is another source)"
	assert_jq "$OUT" '[.actions[] | .manifest] | unique == ["b"]' "plan b/ is about b only"

	# A manifest that vanished from b/ is pruned by b/, not by a/.
	write_m "$W/b/c.yaml" c "fc:p1"
	rm "$W/b/b.yaml"
	cnf_json plan "$W/a"
	assert_rc 0 "plan a/: b vanished from b/, not from a/"
	cnf_json apply "$W/b"
	assert_rc 0 "apply b/ without b.yaml" || return
	assert_jq "$OUT" '[.actions[] | select(.action == "delete") | .manifest] == ["b"]' \
		"apply b/ deletes b's instance"
	assert_jq "$OUT" '[.actions[] | select(.action == "delete")][0].reason == "manifest no longer present"' \
		"the delete says why"
	assert_eq "$(tcx_ids p1 | jq length)" 1 "bpftool: one program on p1 (c's)"
	assert_eq "$(tcx_ids p0 | jq length)" 1 "bpftool: a's program still on p0"
	assert_not_exists "$T/bpffs/b" "b's state is gone, its source record with it"

	# A file PATH reads itself: a manifest renamed in it is pruned.
	write_m "$W/a/a.yaml" a2 "fa:p0"
	cnf_json apply "$W/a/a.yaml"
	assert_rc 0 "apply a/a.yaml naming a2" || return
	assert_jq "$OUT" '[.actions[] | select(.action == "delete") | .manifest] == ["a"] and
		[.actions[] | select(.action == "create") | .manifest] == ["a2"]' "a pruned, a2 created"
	assert_eq "$(tcx_ids p0 | jq length)" 1 "bpftool: one program on p0 (a2's)"
	assert_exists "$T/bpffs/c" "c (from b/) untouched"
}

test_prune_without_recorded_source() {
	veth_add p0 p0p
	veth_add p1 p1p
	mkdir -p "$W/a" "$W/b"
	write_m "$W/a/a.yaml" a "fa:p0"
	write_m "$W/b/b.yaml" b "fb:p1"
	cnf_json apply "$W/a"
	assert_rc 0 "apply a/" || return
	assert_exists "$T/bpffs/a/source" "where a came from is recorded"
	# A state root of an earlier version records no source: a directory
	# is then the whole desired state, as it was.
	rm "$T/bpffs/a/source"
	cnf_json plan "$W/b"
	assert_rc 2 "plan b/: a has no recorded source"
	assert_jq "$OUT" '[.actions[] | select(.action == "delete") | .manifest] == ["a"]' \
		"a, recorded nowhere, is pruned as before"
	# A file PATH never prunes what is recorded nowhere.
	cnf_json plan "$W/b/b.yaml"
	assert_jq "$OUT" '[.actions[] | select(.action == "delete")] == []' "b.yaml prunes nothing"
	cnf_json apply "$W/a"
	assert_rc 0 "apply a/ again" || return
	assert_exists "$T/bpffs/a/source" "applying records the source again"
	cnf_json plan "$W/b"
	assert_jq "$OUT" '[.actions[] | select(.action == "delete")] == []' "plan b/ leaves a alone"
	cnf_json destroy --all
	assert_rc 0 "destroy --all" || return
	assert_eq "$(state_pins | grep -v /_cnf/)" "" "destroy --all removes everything, sources too"
	assert_eq "$(tcx_ids p0 | jq length)" 0 "bpftool: p0 empty"
}

run_test "pruning stays within the manifests' source" test_prune_within_source
run_test "a manifest without a recorded source is pruned as before" test_prune_without_recorded_source
