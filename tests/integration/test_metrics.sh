#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# status --metrics: Prometheus text exposition, parsed by prometheus_client's
# own parser (tests/tools/prom_parse.py, Debian's /usr/bin/python3): one
# cnf_apply_attachment sample per attachment instance, labelled as status
# --json reports it, in every state (in-sync, missing, drifted, orphaned),
# the per-state counts, the foreign programs bpftool sees, and
# cnf_apply_up 0 when status fails.
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$(realpath "$0")")/../.." && pwd)
PARSE=$ROOT/tests/tools/prom_parse.py
lib_setup "$@"

# write_m FILE NAME DEV XDP_OBJECT: xdp `fw` and tcx ingress `count` on DEV.
write_m() {
	cat >"$1" <<EOF
apiVersion: cnf-apply/v1
name: $2
objects:
  - name: x
    file: ../objs/$4
  - name: t
    file: ../objs/tc_v1.bpf.o
attachments:
  - name: fw
    program: x/xdp_main
    hook: xdp
    interface: $3
  - name: count
    program: t/tc_main
    hook: tcx
    interface: $3
    direction: ingress
EOF
}

# metrics ARGS...: status --metrics ARGS, parsed; the JSON in $M (the test
# fails when it does not parse).
metrics() {
	cnf_run status --metrics "$@"
	M=$("$PARSE" <<<"$OUT" 2>"$T/parse.err")
	[ -n "$M" ] || { _fail "status --metrics does not parse: $(cat "$T/parse.err")"; return 1; }
}

# value NAME [JQ_FILTER]: the value of the one sample of NAME that the
# filter selects, as an integer ("N samples" when not exactly one).
value() {
	jq -r --arg n "$1" "[.samples[] | select(.name == \$n) | select(${2:-true}) | .value] |
		if length == 1 then .[0] | floor else \"\(length) samples\" end" <<<"$M"
}

test_metrics() {
	local t0 fid st want got s

	t0=$(date +%s)
	veth_add s0 s0p && veth_add s1 s1p || return
	mkdir "$W/d"
	write_m "$W/d/a.yaml" keep s0 xdp_v1.bpf.o
	write_m "$W/d/b.yaml" gone s1 xdp_v1.bpf.o
	cnf_json apply "$W/d"
	assert_rc 0 "apply" || return

	metrics "$W/d" || return
	assert_eq "$RC" 0 "status --metrics in sync: exit 0"
	assert_jq "$M" '.families | .cnf_apply_attachment == "gauge" and .cnf_apply_in_sync == "gauge"
		and .cnf_apply_attachments == "gauge" and .cnf_apply_up == "gauge"' "the families are gauges"
	assert_eq "$(value cnf_apply_attachment)" "4 samples" "one sample per instance"
	assert_eq "$(value cnf_apply_attachments '.labels.state == "in-sync"')" 4 "four in sync"
	assert_eq "$(value cnf_apply_in_sync)" 1 "in sync"
	assert_eq "$(value cnf_apply_up)" 1 "up"
	got=$(value cnf_apply_attachment_created_timestamp_seconds \
		'.labels == {manifest: "keep", attachment: "fw", hook: "xdp", target: "s0"}')
	assert_ok "the creation time is from this test ($got)" \
		test "$got" -ge "$t0" -a "$got" -le "$(date +%s)"

	# Every state: drifted (a new object), missing (a link unpinned),
	# orphaned (a manifest removed), and a foreign program on a hook.
	cp "$W/objs/xdp_v2.bpf.o" "$W/objs/xdp_v1.bpf.o"
	rm "$(pin_of keep count s0)"
	rm "$W/d/b.yaml"
	bpftool prog loadall "$W/objs/foreign.bpf.o" "$T/fpin/f" >/dev/null 2>&1 &&
		bpftool net attach tcx_ingress pinned "$T/fpin/f/tc_foreign" dev s0 ||
		{ _fail "a foreign tcx program"; return; }
	fid=$(pinned_prog_id "$T/fpin/f/tc_foreign")

	cnf_json status "$W/d"
	st=$OUT
	metrics "$W/d" || return
	assert_eq "$RC" 2 "status --metrics with differences: exit 2, as status"
	# The same instances, labels and states as status --json.
	want=$(jq -S -c '[.attachments[] | {manifest, attachment, hook, target, state}] | sort' <<<"$st")
	got=$(jq -S -c '[.samples[] | select(.name == "cnf_apply_attachment") | .labels] | sort' <<<"$M")
	assert_eq "$got" "$want" "the samples' labels are status --json's instances"
	assert_jq "$M" 'all(.samples[] | select(.name == "cnf_apply_attachment"); .value == 1)' "each sample is 1"
	assert_eq "$(value cnf_apply_attachment '.labels.manifest == "keep" and .labels.attachment == "fw"
		and .labels.state == "drifted"')" 1 "keep/fw drifted"
	assert_eq "$(value cnf_apply_attachment '.labels.manifest == "keep" and .labels.attachment == "count"
		and .labels.state == "missing"')" 1 "keep/count missing"
	assert_eq "$(value cnf_apply_attachments '.labels.state == "orphaned"')" 2 "two orphaned"
	for s in in-sync missing drifted defunct orphaned foreign elsewhere; do
		assert_eq "$(value cnf_apply_attachments ".labels.state == \"$s\"")" \
			"$(jq --arg s "$s" '[.attachments[] | select(.state == $s)] | length' <<<"$st")" \
			"count of $s as in status --json"
	done
	assert_eq "$(value cnf_apply_in_sync)" 0 "not in sync"
	# The oracle: what bpftool sees on the hooks.
	assert_ne "$(xdp_prog_id s1)" "" "bpftool net: the orphaned XDP program is still on s1"
	assert_eq "$(tcx_entries s0 ingress | jq -c '[.[].prog_id]')" "[$fid]" \
		"bpftool net: s0's tcx ingress holds the foreign program only (count is missing)"
	assert_eq "$(value cnf_apply_foreign_programs)" 1 "one foreign program, as bpftool shows"

	# Reconciled: in sync again.
	cnf_json apply "$W/d"
	assert_rc 0 "apply" || return
	metrics "$W/d" || return
	assert_eq "$RC" 0 "in sync again: exit 0"
	assert_eq "$(value cnf_apply_attachments '.labels.state == "in-sync"')" 2 "two in sync"
	assert_eq "$(value cnf_apply_in_sync)" 1 "in sync"
}

test_failure() {
	printf 'apiVersion: cnf-apply/v1\nname: [oops\n' >"$W/bad.yaml"
	metrics "$W/bad.yaml" || return
	assert_eq "$RC" 1 "status --metrics on a broken manifest: exit 1"
	assert_eq "$(value cnf_apply_up)" 0 "cnf_apply_up 0"
	assert_jq "$M" '[.samples[].name] == ["cnf_apply_up"]' "and nothing else"
	assert_contains "$ERR" "bad.yaml" "the error names the file on stderr"

	cnf_run status --metrics --json "$W/bad.yaml"
	assert_rc 1 "--metrics with --json"
	assert_contains "$ERR" "choose one" "two formats: an error"
	cnf_run plan --metrics "$W/bad.yaml"
	assert_rc 1 "--metrics with plan"
	assert_contains "$ERR" "status only" "--metrics goes with status only"
}

if ! /usr/bin/python3 -c 'import prometheus_client' 2>/dev/null; then
	skip "metrics" "python3-prometheus-client not installed (scripts/setup.sh installs it)"
	exit 0
fi
run_test "status --metrics: a sample per instance in every state, parsed by prometheus_client" test_metrics
run_test "status --metrics: cnf_apply_up 0 when status fails; --json or another verb refused" test_failure
