#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A config change is a program change: plan and apply show it as an update
# of every attachment using the object, naming exactly the variables whose
# values change, with their old values (read from the running program's
# .rodata/.data maps) and new ones. bpftool's dump of those maps is the
# independent view of both.
. "$(dirname "$0")/lib.sh"
lib_setup "$@"

# write_m FILE SAMPLE_RATE VERBOSE MODE LABEL PORTS [LIMIT]: the manifest,
# two attachments of one object (XDP and tcx on c0).
write_m() {
	cat >"$W/m.yaml" <<EOF
apiVersion: cnf-apply/v1
name: cfg
objects:
  - name: v
    file: objs/$1
    config:
      sample_rate: $2
      offset: -5
      verbose: $3
      mode: $4
      label: "$5"
      ports: $6
      limit: ${7:-10}
attachments:
  - name: fw
    program: v/xdp_cfg
    hook: xdp
    interface: c0
  - name: count
    program: v/tc_cfg
    hook: tcx
    interface: c0
    direction: ingress
EOF
}

# prog_map_id PROG_ID SUFFIX: the id of the program's map named "*SUFFIX".
prog_map_id() {
	local id
	for id in $(bt prog show id "$1" | jq -r '.map_ids[]?'); do
		if bt map show id "$id" | jq -e --arg s "$2" '.name | endswith($s)' >/dev/null; then
			echo "$id"
			return
		fi
	done
}

# section_vars MAP_ID: bpftool's BTF dump of a data section map as one
# object, variable -> value.
section_vars() {
	bt map dump id "$1" | jq -c '[.[0].formatted.value | to_entries[0].value[] | to_entries[0]] | from_entries'
}

action_of() {         # action_of JSON ATTACHMENT
	jq -c --arg a "$2" '.actions[] | select(.attachment == $a)' <<<"$1"
}

test_config_types() {
	local pid rod old_vars new_vars a x t

	veth_add c0 c0p
	write_m config_vars.bpf.o 100 false CV_FAST edge "[80, 443]"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	pid=$(jf "$(action_of "$OUT" fw)" .prog_id)
	rod=$(prog_map_id "$pid" .rodata)
	[ -n "$rod" ] || { _fail "bpftool: no .rodata map among the program's maps"; return; }
	old_vars=$(section_vars "$rod")
	assert_jq "$old_vars" '.sample_rate == 100 and .verbose == false and .mode == "CV_FAST" and .label == "edge"' \
		"bpftool: the running program's .rodata holds the config"

	# Five of the seven config variables change; offset and limit do not.
	write_m config_vars.bpf.o 200 true CV_SLOW core "[80, 8080]"
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan: something would change"
	for a in fw count; do
		x=$(action_of "$OUT" $a)
		assert_jq "$x" '.action == "update" and .strategy == "in-place" and .object_changed == false' \
			"plan: $a is an in-place update, the object file unchanged"
		assert_jq "$x" '[.config_changes[].variable] | sort == ["label", "mode", "ports", "sample_rate", "verbose"]' \
			"plan: $a names exactly the changed variables"
		assert_jq "$x" '[.config_changes[] | {key: .variable, value: [.old, .new]}] | from_entries ==
			{"sample_rate": [100, 200], "verbose": [false, true], "mode": ["CV_FAST", "CV_SLOW"],
			 "label": ["edge", "core"], "ports": [[80, 443, 0, 0], [80, 8080, 0, 0]]}' \
			"plan: $a has the old and new values, typed"
		assert_jq "$x" '[.config_changes[] | .section == ".rodata" and .in_config and (has("writable") | not)] | all' \
			"plan: $a: read-only section, all named in config"
		assert_contains "$(jf "$x" .reason)" "config: " "plan: $a: the reason says config"
	done
	# The old values are what bpftool reads from the running program.
	assert_jq "$(action_of "$OUT" fw)" "[.config_changes[] | {key: .variable, value: .old}] | from_entries as \$o |
		($old_vars) as \$b | [\$o | to_entries[] | \$b[.key] == .value] | all" \
		"plan: every old value equals bpftool's dump of the running .rodata"

	cnf_run plan "$W/m.yaml"
	assert_rc 2 "plan (text)"
	t=$(grep -A1 'cfg/fw' <<<"$OUT")
	assert_contains "$t" "config: " "text: the reason names config"
	assert_contains "$t" "sample_rate 100 -> 200" "text: sample_rate"
	assert_contains "$t" "verbose false -> true" "text: verbose"
	assert_contains "$t" "mode CV_FAST -> CV_SLOW" "text: mode, by enumerator name"
	assert_contains "$t" 'label "edge" -> "core"' "text: label, as a string"
	assert_contains "$t" "ports [80, 443, 0, 0] -> [80, 8080, 0, 0]" "text: ports, as an array"
	for v in offset limit untouched version hits; do
		assert_not_contains "$t" "$v " "text: unchanged '$v' is not listed"
	done

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply"
	x=$(action_of "$OUT" fw)
	assert_jq "$x" '.action == "update" and .done and ([.config_changes[].variable] | sort == ["label", "mode", "ports", "sample_rate", "verbose"])' \
		"apply: the update names the same variables"
	pid=$(jf "$x" .prog_id)
	assert_eq "$(xdp_prog_id c0)" "$pid" "bpftool net: the new program runs on c0"
	new_vars=$(section_vars "$(prog_map_id "$pid" .rodata)")
	assert_jq "$x" "[.config_changes[] | {key: .variable, value: .new}] | from_entries as \$n |
		($new_vars) as \$b | [\$n | to_entries[] | \$b[.key] == .value] | all" \
		"apply: every new value equals bpftool's dump of the new program's .rodata"
	assert_jq "$new_vars" '.offset == -5 and .untouched == 7 and .version == 1' \
		"bpftool: the variables not changed kept their values"

	cnf_json plan "$W/m.yaml"
	assert_rc 0 "plan after apply: nothing to change"
	assert_jq "$OUT" '[.actions[] | has("config_changes")] | any | not' "plan: no config_changes on noop actions"
}

test_writable_sections() {
	local pid data bss x

	veth_add c0 c0p
	write_m config_vars.bpf.o 100 false CV_FAST edge "[80, 443]"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	pid=$(jf "$(action_of "$OUT" fw)" .prog_id)
	data=$(prog_map_id "$pid" .data)
	bss=$(prog_map_id "$pid" .bss)
	[ -n "$data" ] && [ -n "$bss" ] || { _fail "bpftool: no .data/.bss map among the program's maps"; return; }
	# At run time `limit` (in config) became 99 and `hits` (not in config)
	# 5, as a program could make them.
	assert_ok "bpftool map update .data" bpftool map update id "$data" key 0 0 0 0 value 99 0 0 0
	assert_ok "bpftool map update .bss" bpftool map update id "$bss" key 0 0 0 0 value 5 0 0 0 0 0 0 0
	assert_jq "$(section_vars "$data")" '.limit == 99' "bpftool: limit is 99 now"

	write_m config_vars.bpf.o 150 false CV_FAST edge "[80, 443]"
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan"
	x=$(action_of "$OUT" fw)
	assert_jq "$x" '[.config_changes[].variable] | sort == ["limit", "sample_rate"]' \
		"plan: sample_rate, and limit, whose live value the new version resets; not hits"
	assert_jq "$x" '.config_changes[] | select(.variable == "limit") |
		.old == 99 and .new == 10 and .section == ".data" and .writable == true' \
		"plan: limit is marked as a live value of a writable section"
	assert_jq "$x" '.config_changes[] | select(.variable == "sample_rate") | .old == 100 and .new == 150 and (has("writable") | not)' \
		"plan: sample_rate 100 -> 150"
	cnf_run plan "$W/m.yaml"
	assert_contains "$OUT" "limit 99 -> 10 (live value)" "text: limit, marked as a live value"
	assert_not_contains "$OUT" "hits" "text: hits is not listed"
}

test_object_changed() {
	local x

	veth_add c0 c0p
	write_m config_vars.bpf.o 100 false CV_FAST edge "[80, 443]"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return

	# A new release of the object, same config: its default of
	# `version` (not in config, in .rodata) changed.
	write_m config_vars_v2.bpf.o 100 false CV_FAST edge "[80, 443]"
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan"
	x=$(action_of "$OUT" fw)
	assert_jq "$x" '.action == "update" and .object_changed == true' "plan: an update, the object changed"
	assert_jq "$x" '[.config_changes[] | [.variable, .old, .new, .in_config]] == [["version", 1, 2, false]]' \
		"plan: only version is listed, with its defaults"
	assert_match "$(jf "$x" .reason)" '^object changed; config: version 1 -> 2$' "plan: the reason"

	# The same object file and config again after an apply: in sync.
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply"
	write_m config_vars_v2.bpf.o 100 false CV_FAST edge "[80, 443]"
	cnf_json plan "$W/m.yaml"
	assert_rc 0 "plan: in sync"
}

test_status_and_noop_cost() {
	veth_add c0 c0p
	write_m config_vars.bpf.o 100 false CV_FAST edge "[80, 443]"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return

	# A no-op run reads no program's maps or BTF.
	if cnf_strace plan "$W/m.yaml"; then
		assert_rc 0 "no-op plan"
		assert_eq "$(bpf_calls BPF_BTF_GET_FD_BY_ID | wc -l)" 0 "no-op plan loads no BTF"
		assert_eq "$(bpf_calls BPF_MAP_GET_FD_BY_ID | wc -l)" 0 "no-op plan opens no map by id"
	else
		echo "strace missing: the no-op cost is not checked"
	fi

	write_m config_vars.bpf.o 300 false CV_OFF edge "[80, 443]"
	cnf_json status "$W/m.yaml"
	assert_rc 2 "status: drifted"
	assert_jq "$OUT" '[.attachments[] | .state == "drifted" and ([.config_changes[].variable] | sort == ["mode", "sample_rate"])] | all' \
		"status: both attachments drifted, naming the changed variables"
}

run_test "a config change names exactly the changed variables, typed" test_config_types
run_test ".data/.bss: only config variables, live values marked" test_writable_sections
run_test "a new object file: 'object changed', changed defaults listed" test_object_changed
run_test "status names config changes; a no-op run reads nothing" test_status_and_noop_cost
