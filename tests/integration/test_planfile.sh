#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Terraform's habits and pruning by source: plan --out and apply --plan
# (carried out exactly, refused when what the plan read changed), --target
# on every verb, plan --destroy, and pruning only among the manifests last
# applied from within the run's PATHs.
. "$(dirname "$0")/lib.sh"
lib_setup "$@"

# write_m FILE NAME ATT:IFACE[:PROG]...: a manifest NAME with object `o`
# (objs/tc.bpf.o, tc_v1 until a test overwrites it) and one tcx ingress
# attachment of o/PROG (default tc_main) per ATT:IFACE; IFACE may be a glob.
write_m() {
	local file=$1 name=$2 spec rest
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
			rest=${spec#*:}
			cat <<EOF2
  - name: ${spec%%:*}
    program: o/$( [[ $rest == *:* ]] && echo "${rest#*:}" || echo tc_main)
    hook: tcx
    interface: "${rest%%:*}"
    direction: ingress
EOF2
		done
	} >"$file"
}

# snap: the interface hooks of the test's namespace (bpftool net: XDP,
# tcx, tc, with program and link ids) and every pin under its state root,
# the oracle of "nothing changed", scoped to this test (programs and
# links other runs make on the host meanwhile do not count).
snap() {
	echo "## net"
	net_json | jq -S -c '.[0] | {xdp, tc}'
	echo "## pins"
	(cd "$T/bpffs" && find . | sort)
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

	# A saved plan of a/ does not depend on what b/ applies meanwhile.
	cnf_json plan --out "$W/a.plan" "$W/a"
	assert_rc 0 "plan --out a/" || return
	write_m "$W/b/b.yaml" b "fb:p1" "fb2:p1:tc_second"
	cnf_json apply "$W/b"
	assert_rc 0 "apply b/ with a second attachment" || return
	cnf_json apply --plan "$W/a.plan"
	assert_rc 0 "apply --plan of a/ after b/ changed"

	# A manifest that vanished from b/ is pruned by b/, not by a/.
	write_m "$W/b/c.yaml" c "fc:p1"
	rm "$W/b/b.yaml"
	cnf_json plan "$W/a"
	assert_rc 0 "plan a/: b vanished from b/, not from a/"
	cnf_json apply "$W/b"
	assert_rc 0 "apply b/ without b.yaml" || return
	assert_jq "$OUT" '[.actions[] | select(.action == "delete") | .manifest] | unique == ["b"]' \
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
	# An earlier version's destroy leaves the source alone: it goes.
	write_m "$W/a/k.yaml" k "fk:p1"
	cnf_json apply "$W/a"
	assert_rc 0 "apply a/ with k" || return
	rm -r "$T/bpffs/a/links" "$T/bpffs/a/state"
	rm "$W/a/a.yaml"
	cnf_json apply "$W/a"
	assert_rc 0 "apply a/ without a.yaml" || return
	assert_not_exists "$T/bpffs/a" "a's leftover source and directory are gone"
	assert_exists "$T/bpffs/k/source" "k's stays"

	cnf_json destroy --all
	assert_rc 0 "destroy --all" || return
	assert_eq "$(state_pins | grep -v /_cnf/)" "" "destroy --all removes everything, sources too"
	assert_eq "$(tcx_ids p0 | jq length)" 0 "bpftool: p0 empty"
}

# ---- plan --out, apply --plan ----

# acts JSON: the actions of a plan/apply document, as (action, manifest,
# attachment, target) in order.
acts() {
	jq -c '[.actions[] | select(.action != "noop") | [.action, .manifest, .attachment, .target]]' <<<"$1"
}

test_plan_file_applied() {
	local saved pid

	veth_add p0 p0p
	veth_add p1 p1p
	write_m "$W/m.yaml" m "f1:p0"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply f1" || return
	write_m "$W/m.yaml" m "f1:p0" "f2:p0:tc_second" "g:p1"
	cnf_json plan --out "$W/plan.json" "$W/m.yaml"
	assert_rc 2 "plan --out: changes pending" || return
	saved=$OUT
	assert_eq "$(stat -c %a "$W/plan.json")" 600 "the plan file is mode 0600"
	assert_jq "$(cat "$W/plan.json")" '.format == "cnf-apply-plan/1" and .verb == "apply" and
		(.paths | length) == 1 and (.inputs.manifests | has("m")) and
		(.inputs.observed | has("m/f1/p0")) and (.plan.actions | length) == 3' \
		"the plan file holds its format, paths, inputs and actions"
	assert_eq "$(ls "$W" | grep -c '^plan.json')" 1 "no temporary file left beside it"
	if python3 -c 'import jsonschema' 2>/dev/null; then
		assert_ok "the plan file fits schema/planfile.schema.json" python3 -c '
import json, sys, jsonschema
jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))' \
			"$W/plan.json" "$(dirname "$0")/../../schema/planfile.schema.json"
	fi
	assert_eq "$(tcx_ids p1 | jq length)" 0 "plan --out attached nothing (bpftool)"

	cnf_json apply --plan "$W/plan.json"
	assert_rc 0 "apply --plan" || return
	assert_eq "$(acts "$OUT")" "$(acts "$saved")" "apply --plan did exactly the saved actions"
	pid=$(jf "$OUT" '.actions[] | select(.attachment == "g") | .prog_id')
	assert_eq "$(tcx_ids p1)" "[$pid]" "bpftool: p1 runs the program apply reported"
	assert_eq "$(tcx_ids p0 | jq length)" 2 "bpftool: f1 and f2 on p0"
	cnf_json plan "$W/m.yaml"
	assert_rc 0 "the next plan is a no-op"

	# A plan of no changes applies as a no-op.
	cnf_json plan --out "$W/noop.json" "$W/m.yaml"
	assert_rc 0 "plan --out with nothing to do"
	cnf_json apply --plan "$W/noop.json"
	assert_rc 0 "apply --plan of a no-op plan"
	assert_jq "$OUT" '.changed == false' "nothing changed"

	# A new object version: updates in place, its maps carried over.
	write_m "$W/m.yaml" m "f1:p0" "g:p1"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply without f2" || return
	cp "$W/objs/tc_v2.bpf.o" "$W/objs/tc.bpf.o"
	cnf_json plan --out "$W/plan.json" "$W/m.yaml"
	assert_rc 2 "plan --out of a new version" || return
	saved=$OUT
	assert_jq "$saved" '[.actions[] | .action] == ["update", "update"]' "two updates in place"
	cnf_json apply --plan "$W/plan.json"
	assert_rc 0 "apply --plan of the updates" || return
	assert_eq "$(acts "$OUT")" "$(acts "$saved")" "apply --plan did exactly the saved updates"
	pid=$(jf "$OUT" '.actions[] | select(.attachment == "g") | .prog_id')
	assert_eq "$(tcx_ids p1)" "[$pid]" "bpftool: p1 runs the new program"
}

# refused PLANFILE WHAT: apply --plan PLANFILE exits 1, its error names
# WHAT, and the host is as before.
refused() {
	local before
	before=$(snap)
	cnf_json apply --plan "$1"
	assert_rc 1 "apply --plan refused ($2)"
	assert_contains "$(jf "$OUT" .error)" "$2" "the first error names what changed"
	assert_jq "$OUT" '[.errors[] | select(contains("plan file") and contains("nothing was changed"))] |
		length == 1' "the errors say nothing was changed"
	assert_unchanged "$before" "refused apply --plan ($2)" snap
}

test_plan_file_refused() {
	local lid

	veth_add p0 p0p
	veth_add p1 p1p
	write_m "$W/m.yaml" m "f1:p0" "g:p?:tc_third"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	lid=$(jf "$OUT" '.actions[] | select(.attachment == "f1") | .link_id')
	write_m "$W/m.yaml" m "f1:p0" "g:p?:tc_third" "f2:p0:tc_second"

	# The manifest changed.
	cnf_json plan --out "$W/p.json" "$W/m.yaml"
	assert_rc 2 "plan --out" || return
	echo "# reviewed" >>"$W/m.yaml"
	refused "$W/p.json" "manifest 'm' ($W/m.yaml) changed since the plan"

	# An object changed.
	cnf_json plan --out "$W/p.json" "$W/m.yaml"
	printf 'x' >>"$W/objs/tc.bpf.o"
	refused "$W/p.json" "object 'm/o' ($W/objs/tc.bpf.o) changed"
	cp "$W/objs/tc_v1.bpf.o" "$W/objs/tc.bpf.o"
	# One whose programs are gone: planning again fails, and says so.
	cnf_json plan --out "$W/p.json" "$W/m.yaml"
	cp "$W/objs/tc_v2.bpf.o" "$W/objs/tc.bpf.o"
	refused "$W/p.json" "program 'tc_third' is not in object 'o'"
	cp "$W/objs/tc_v1.bpf.o" "$W/objs/tc.bpf.o"

	# A link detached by hand.
	cnf_json plan --out "$W/p.json" "$W/m.yaml"
	assert_rc 2 "plan --out" || return
	bpftool link detach id "$lid" || { _fail "bpftool link detach"; return; }
	refused "$W/p.json" "live state of 'm/f1/p0' changed since the plan"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply again" || return

	# An interface a glob matched went away.
	write_m "$W/m.yaml" m "f1:p0" "g:p?:tc_third"
	cnf_json plan --out "$W/p.json" "$W/m.yaml"
	assert_rc 2 "plan --out" || return
	ip link del p1
	refused "$W/p.json" "attachment instance 'm/g/p1' is gone since the plan"
}

test_plan_file_bad() {
	veth_add p0 p0p
	write_m "$W/m.yaml" m "f1:p0"
	cnf_json apply --plan "$W/none.json"
	assert_rc 1 "a missing plan file"
	assert_jq "$OUT" '.error | contains("none.json") and contains("No such file")' "says so"
	mkdir "$W/dir.json"
	cnf_json apply --plan "$W/dir.json"
	assert_rc 1 "a directory as plan file"
	assert_jq "$OUT" '.error | contains("dir.json") and contains("not a plan file")' "says so"
	echo "not json" >"$W/bad.json"
	cnf_json apply --plan "$W/bad.json"
	assert_rc 1 "a plan file that is not JSON"
	assert_jq "$OUT" '.error | contains("not a plan file")' "says so"
	echo '{"format": "cnf-apply-plan/9"}' >"$W/v9.json"
	cnf_json apply --plan "$W/v9.json"
	assert_rc 1 "a plan file of another format version"
	assert_jq "$OUT" '.error | contains("format '"'"'cnf-apply-plan/9'"'"'")' "names the format"
	echo '{"format": "cnf-apply-plan/1", "verb": "apply"}' >"$W/short.json"
	cnf_json apply --plan "$W/short.json"
	assert_rc 1 "a malformed plan file"
	assert_jq "$OUT" '.error | contains("malformed")' "says so"
	cnf_json plan --out "$W/p.json" "$W/m.yaml"
	cnf_json apply --plan "$W/p.json" "$W/m.yaml"
	assert_rc 1 "apply --plan with a PATH"
	assert_jq "$OUT" '.error | contains("takes its PATHs and targets from the plan file")' "says why"
	cnf_json --bpffs /sys/fs/bpf/elsewhere apply --plan "$W/p.json"
	assert_rc 1 "apply --plan on another state root"
	assert_eq "$(tcx_ids p0 | jq length)" 0 "nothing attached (bpftool)"
}

# ---- --target ----

test_target_verbs() {
	local before pid0

	veth_add p0 p0p
	veth_add p1 p1p
	mkdir -p "$W/d"
	write_m "$W/d/m.yaml" m "f1:p0" "f2:p1"
	write_m "$W/d/n.yaml" n "g:p0:tc_second"

	cnf_json plan --target m/f1 "$W/d"
	assert_rc 2 "plan --target m/f1"
	assert_eq "$(acts "$OUT")" '[["create","m","f1","p0"]]' "plan: only m/f1"
	cnf_json apply --target m/f1 "$W/d"
	assert_rc 0 "apply --target m/f1" || return
	assert_eq "$(acts "$OUT")" '[["create","m","f1","p0"]]' "apply: only m/f1"
	pid0=$(jf "$OUT" '.actions[0].prog_id')
	assert_eq "$(tcx_ids p0)" "[$pid0]" "bpftool: p0 runs f1 only"
	assert_eq "$(tcx_ids p1 | jq length)" 0 "bpftool: p1 untouched"

	# Out of the targets, an in-sync instance still shares its program.
	cnf_json apply --target m/f2 "$W/d"
	assert_rc 0 "apply --target m/f2" || return
	assert_jq "$OUT" ".actions | length == 1 and .[0].reuses_prog_id == $pid0" \
		"f2 runs the program f1 runs"
	assert_eq "$(tcx_ids p1)" "[$pid0]" "bpftool: p1 runs f1's program"

	cnf_json status "$W/d"
	assert_rc 2 "status of all: n is missing"
	cnf_json apply --target n "$W/d"
	assert_rc 0 "apply --target n (a whole manifest)" || return
	assert_eq "$(acts "$OUT")" '[["create","n","g","p0"]]' "apply: only n"

	cnf_json status --target m/f1 "$W/d"
	assert_rc 0 "status --target m/f1: in sync"
	assert_jq "$OUT" '[.attachments[] | [.manifest, .attachment, .state]] == [["m", "f1", "in-sync"]]' \
		"status: only m/f1"
	assert_jq "$OUT" '.attachments[0].foreign == []' \
		"n's program on p0, out of the target, is not foreign to f1's hook"
	assert_eq "$(tcx_ids p0 | jq length)" 2 "bpftool: f1 and g on p0"

	# Deletes stay within the targets.
	write_m "$W/d/m.yaml" m "f2:p1"
	cnf_json plan --target m/f2 "$W/d"
	assert_rc 0 "plan --target m/f2: f1's removal is out of the target"
	cnf_json plan --target m/f1 "$W/d"
	assert_rc 2 "plan --target m/f1: a removed attachment, applied"
	assert_eq "$(acts "$OUT")" '[["delete","m","f1","p0"]]' "plan: delete m/f1 only"

	cnf_json destroy --all --target n
	assert_rc 0 "destroy --all --target n" || return
	assert_eq "$(acts "$OUT")" '[["delete","n","g","p0"]]' "destroy: only n"
	assert_eq "$(tcx_ids p0)" "[$pid0]" "bpftool: m's f1 still on p0"
	assert_eq "$(tcx_ids p1)" "[$pid0]" "bpftool: m's f2 still on p1"
	assert_ne "$(ls "$T/bpffs/_cnf" 2>/dev/null)" "" "the tool's own pins stay (not a whole --all)"
	cnf_json plan --target m/f2 "$W/d/m.yaml"
	assert_rc 0 "m's f2 is still in sync"

	before=$(snap)
	for verb in plan apply status destroy; do
		cnf_json "$verb" --target m/nope --target x "$W/d"
		assert_rc 1 "$verb with unknown targets"
		assert_jq "$OUT" '[.errors[] | select(contains("m/nope"))] | length == 1' "$verb names m/nope"
		assert_jq "$OUT" '[.errors[] | select(contains("'"'"'x'"'"'"))] | length == 1' "$verb names x"
	done
	assert_unchanged "$before" "unknown targets" snap
}

# ---- plan --destroy ----

test_plan_destroy() {
	local before

	veth_add p0 p0p
	mkdir -p "$W/d"
	write_m "$W/d/m.yaml" m "f1:p0"
	write_m "$W/d/n.yaml" n "g:p0:tc_second"
	cnf_json plan --destroy "$W/d"
	assert_rc 0 "plan --destroy with nothing applied"
	cnf_json apply "$W/d"
	assert_rc 0 "apply" || return

	before=$(snap)
	cnf_json plan --destroy "$W/d"
	assert_rc 2 "plan --destroy: something to destroy"
	assert_eq "$(acts "$OUT")" '[["delete","m","f1","p0"],["delete","n","g","p0"]]' \
		"plan --destroy lists the deletes"
	cnf_json plan --destroy --target n "$W/d"
	assert_eq "$(acts "$OUT")" '[["delete","n","g","p0"]]' "plan --destroy --target n"
	cnf_json plan --destroy --all
	assert_rc 2 "plan --destroy --all"
	assert_eq "$(jf "$OUT" '[.actions[] | select(.action == "delete")] | length')" 2 "both"
	cnf_run plan --destroy "$W/d"
	assert_contains "$OUT" "2 to delete" "text summary"
	assert_unchanged "$before" "plan --destroy" snap

	cnf_json plan --destroy --target m --out "$W/p.json" "$W/d"
	cnf_json apply --plan "$W/p.json"
	assert_rc 0 "apply --plan of plan --destroy --target m" || return
	assert_eq "$(acts "$OUT")" '[["delete","m","f1","p0"]]' "destroyed m only"
	assert_eq "$(tcx_entries p0 ingress | jq -r '[.[].name] | join(" ")')" "tc_second" \
		"bpftool: n's program alone on p0"
	assert_not_exists "$T/bpffs/m" "m's state is gone"
}

run_test "plan --out, then apply --plan does exactly the saved actions" test_plan_file_applied
run_test "apply --plan refuses when a manifest, object or live state changed" test_plan_file_refused
run_test "bad plan files and options are clear errors" test_plan_file_bad
run_test "--target limits plan, apply, status and destroy" test_target_verbs
run_test "plan --destroy previews destroy" test_plan_destroy
run_test "pruning stays within the manifests' source" test_prune_within_source
run_test "a manifest without a recorded source is pruned as before" test_prune_without_recorded_source
