#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# watch: interfaces and namespaces that come and go in bursts, manifest
# edits, links detached by hand, SIGTERM. After each burst the live state
# must match the manifests within a bounded time (bpftool as the oracle),
# with nothing leaked.
. "$(dirname "$0")/lib.sh"
lib_setup "$@"

# How long a burst may take to converge (seconds). Generous: the sanitizer
# build and a loaded machine are slow; the typical figure is in bench/.
BOUND=${CNF_WATCH_BOUND:-30}

# start_watch ARGS...: cnf-apply watch in the background, JSON lines in
# $W/watch.out; returns once its first reconcile is done.
start_watch() {
	"$CNF" --bpffs "$T/bpffs" --json watch --settle 50 "$@" >"$W/watch.out" 2>"$W/watch.err" &
	WATCH_PID=$!
	track_pid "$WATCH_PID"
	wait_for 'grep -q "\"event\":\"ready\"" "$W/watch.out"' || {
		_fail "watch did not get ready"
		sed 's/^/      /' "$W/watch.out" "$W/watch.err" | head -n 40
		return 1
	}
}

# wait_for CMD: true once `eval CMD` succeeds, false after $BOUND seconds.
wait_for() {
	local end=$((SECONDS + BOUND))

	while [ "$SECONDS" -lt "$end" ]; do
		eval "$1" && return 0
		sleep 0.1
	done
	eval "$1"
}

# watch_lines EVENT: the JSON lines of that event kind so far.
watch_lines() {
	jq -c --arg e "$1" 'select(.event == $e)' "$W/watch.out"
}

# count_xdp / count_tcx: interfaces of the test namespace with an XDP
# program / with a tcx ingress program (bpftool net).
count_xdp() {
	net_json | jq '[.[0].xdp[]?] | length'
}
count_tcx() {
	net_json | jq '[.[0].tc[]? | select(.kind == "tcx/ingress")] | length'
}

# seen_progs: every program id watch reported in its action lines.
seen_progs() {
	jq -r 'select(.event == "action") | .prog_id // empty' "$W/watch.out" | sort -un
}

# alive_of IDS...: those of the program ids still loaded.
alive_of() {
	local id

	for id; do
		prog_exists "$id" && echo "$id"
	done
}

link_pins() {
	find "$T/bpffs" -path '*/links/*' -type f | wc -l
}

write_glob_manifest() {
	mkdir -p "$W/m"
	cat >"$W/m/net.yaml" <<EOF
apiVersion: cnf-apply/v1
name: net
objects:
  - name: x
    file: ../objs/xdp_v1.bpf.o
  - name: t
    file: ../objs/tc_v1.bpf.o
attachments:
  - name: fw
    program: x/xdp_main
    hook: xdp
    mode: generic
    interface: "wv*"
  - name: count
    program: t/tc_main
    hook: tcx
    direction: ingress
    interface: "wv*"
EOF
}

test_burst() {
	local i n progs links

	write_glob_manifest
	start_watch --interval 0 "$W/m" || return
	assert_eq "$(link_pins)" 0 "nothing to attach at first"

	# A burst: 8 veth pairs, 16 interfaces, as fast as ip can make them.
	for i in $(seq 0 7); do
		echo "link add wv${i}a type veth peer name wv${i}b"
	done | ip -batch -
	for i in $(seq 0 7); do
		echo "link set wv${i}a up"
		echo "link set wv${i}b up"
	done | ip -batch -
	wait_for '[ "$(count_xdp)" = 16 ] && [ "$(count_tcx)" = 16 ] && [ "$(link_pins)" = 32 ]'
	assert_eq "$(count_xdp)" 16 "bpftool net: XDP on all 16 interfaces"
	assert_eq "$(count_tcx)" 16 "bpftool net: tcx ingress on all 16 interfaces"
	assert_eq "$(link_pins)" 32 "32 links pinned"
	n=$(watch_lines action | jq -s '[.[] | select(.action == "create" and .done)] | length')
	assert_eq "$n" 32 "32 creates logged, one JSON line each"
	assert_jq "$(watch_lines action | head -n 1)" '.trigger | test("interface wv[0-9][ab] appeared")' \
		"an action line names its trigger"
	n=$(watch_lines reconcile | jq -s 'length')
	[ "$n" -le 16 ] || _fail "the burst was not coalesced: $n reconciles for 16 interfaces"

	# And away again, in one burst.
	for i in $(seq 0 7); do
		echo "link del wv${i}a"
	done | ip -batch -
	wait_for '[ "$(link_pins)" = 0 ]'
	assert_eq "$(link_pins)" 0 "pins of the vanished interfaces are removed"
	links=$(jq -r 'select(.event == "action") | .link_id // empty' "$W/watch.out" | sort -un)
	for i in $links; do
		link_exists "$i" && _fail "bpftool link: link $i is still there"
	done
	progs=$(seen_progs)
	[ -n "$progs" ] || _fail "watch reported the programs it loaded"
	# shellcheck disable=SC2086
	wait_for '[ -z "$(alive_of $progs)" ]'
	# shellcheck disable=SC2086
	assert_eq "$(alive_of $progs)" "" "bpftool prog: none of the programs watch loaded is left"
	assert_eq "$(state_pins | grep -c /links/)" 0 "no link pin left under the state root"
	kill -0 "$WATCH_PID" || _fail "watch is still running"
}

# An interface event reconciles only the attachments on that interface.
test_selective() {
	local line lid first

	write_glob_manifest
	veth_add wv0 wv0p
	start_watch --interval 0 "$W/m" || return
	assert_eq "$(link_pins)" 4 "the first reconcile attached wv0 and wv0p"
	lid=$(pinned_link_id "$(pin_of net fw wv0)")
	first=$(wc -l <"$W/watch.out")

	veth_add wv1 wv1p
	wait_for '[ "$(link_pins)" = 8 ]'
	assert_eq "$(link_pins)" 8 "wv1 and wv1p attached"
	line=$(watch_lines reconcile | tail -n 1)
	assert_jq "$line" '.scope == "focus" and .create == 4 and .noop == 0' \
		"the reconcile covered the new interfaces only (no noop for wv0)"
	assert_eq "$(pinned_link_id "$(pin_of net fw wv0)")" "$lid" "wv0's link is untouched"
	# The focused run shares the programs wv0 runs: no second copy.
	assert_eq "$(xdp_prog_id wv1) $(xdp_prog_id wv1p)" "$(xdp_prog_id wv0) $(xdp_prog_id wv0)" \
		"bpftool net: wv1 and wv1p run wv0's XDP program"
	assert_eq "$(watch_lines action | tail -n 4 | jq -s '[.[] | select(.reuses_prog_id)] | length')" 4 \
		"the four creates say which running program they attach"
	assert_eq "$(tail -n +"$((first + 1))" "$W/watch.out" | jq -r 'select(.event == "action") | .target' |
		grep -c '^wv0')" 0 "no action on wv0 or wv0p after the first reconcile"
}

test_namespaces() {
	local ns=cnfw$$ p i n

	netns_add cnfw-dummy$$ || return  # /run/netns private to this test
	mkdir -p "$W/m"
	{
		cat <<EOF
apiVersion: cnf-apply/v1
name: pod
objects:
  - name: x
    file: ../objs/xdp_v1.bpf.o
attachments:
EOF
		for i in 0 1 2 3; do
			cat <<EOF
  - name: fw$i
    program: x/xdp_main
    hook: xdp
    mode: generic
    netns: /run/netns/$ns-$i
    interface: "pv*"
EOF
		done
	} >"$W/m/pod.yaml"
	start_watch --interval 0 "$W/m" || return
	assert_eq "$(link_pins)" 0 "nothing while the namespaces do not exist"

	# A burst: four namespaces with a veth pair each.
	for i in 0 1 2 3; do
		netns_add "$ns-$i" || return
		ip -n "$ns-$i" link add pv0 type veth peer name pv1
		ip -n "$ns-$i" link set pv0 up
		ip -n "$ns-$i" link set pv1 up
	done
	wait_for '[ "$(link_pins)" = 8 ]'
	assert_eq "$(link_pins)" 8 "both interfaces of each new namespace attached"
	for i in 0 1 2 3; do
		p=$(in_netns "$ns-$i" bpftool -j net | jq '[.[0].xdp[]?] | length')
		assert_eq "$p" 2 "bpftool net in $ns-$i: 2 XDP programs"
	done

	ip -n "$ns-1" link add pv2 type veth peer name pv3
	ip -n "$ns-1" link set pv2 up
	wait_for '[ "$(link_pins)" = 10 ]'
	assert_eq "$(link_pins)" 10 "interfaces added later in a namespace are attached"
	p=$(in_netns "$ns-1" bpftool -j net | jq '[.[0].xdp[]?] | length')
	assert_eq "$p" 4 "bpftool net in $ns-1: 4 XDP programs"

	# And all four away at once.
	for i in 0 1 2 3; do
		ip netns del "$ns-$i"
	done
	wait_for '[ "$(link_pins)" = 0 ]'
	assert_eq "$(link_pins)" 0 "the namespaces went away: their pins are removed"
	for p in $(jq -r 'select(.event == "action") | .link_id // empty' "$W/watch.out" | sort -un); do
		link_exists "$p" && _fail "bpftool link: link $p is still there"
	done
	n=$(watch_lines action | jq -s '[.[] | select(.action == "delete" and .done)] | length')
	assert_eq "$n" 10 "10 deletes logged"
	kill -0 "$WATCH_PID" || _fail "watch is still running"
}

test_manifest_edits() {
	local lid pid

	veth_add e0 e0p
	mkdir -p "$W/m"
	write_one() {
		cat >"$W/m/e.yaml" <<EOF
apiVersion: cnf-apply/v1
name: e
objects:
  - name: x
    file: ../objs/$1
attachments:
  - name: fw
    program: x/xdp_main
    hook: xdp
    mode: generic
    interface: e0
EOF
	}
	write_one xdp_v1.bpf.o
	start_watch --interval 0 "$W/m" || return
	lid=$(pinned_link_id "$(pin_of e fw e0)")
	pid=$(xdp_prog_id e0)
	[ -n "$lid" ] && [ -n "$pid" ] || { _fail "not attached at start"; return; }

	# A new program version: updated in place, same link.
	write_one xdp_v2.bpf.o
	wait_for '[ "$(xdp_prog_id e0)" != "$pid" ]'
	assert_ne "$(xdp_prog_id e0)" "$pid" "bpftool net: a new program on e0"
	assert_eq "$(pinned_link_id "$(pin_of e fw e0)")" "$lid" "same link (updated in place)"
	assert_jq "$(watch_lines action | tail -n 1)" '.action == "update" and (.trigger | test("manifest"))' \
		"logged as an update triggered by the manifest"
	pid=$(xdp_prog_id e0)

	# A broken edit changes nothing and is reported; fixing it converges.
	printf 'apiVersion: cnf-apply/v1\nname: e\nobjects: [\n' >"$W/m/e.yaml"
	wait_for '[ -n "$(watch_lines error)" ]'
	assert_jq "$(watch_lines error | head -n 1)" '.message | test("e.yaml")' "the error names the file"
	assert_eq "$(xdp_prog_id e0)" "$pid" "the broken manifest changed nothing"
	kill -0 "$WATCH_PID" || _fail "watch survived the broken manifest"
	write_one xdp_v1.bpf.o
	wait_for '[ "$(xdp_prog_id e0)" != "$pid" ]'
	assert_ne "$(xdp_prog_id e0)" "$pid" "the fixed manifest is applied"

	# An object file rebuilt in place is a change too.
	pid=$(xdp_prog_id e0)
	cp "$W/objs/xdp_v2.bpf.o" "$W/objs/xdp_v1.bpf.o.tmp"
	mv "$W/objs/xdp_v1.bpf.o.tmp" "$W/objs/xdp_v1.bpf.o"
	wait_for '[ "$(xdp_prog_id e0)" != "$pid" ]'
	assert_ne "$(xdp_prog_id e0)" "$pid" "a replaced object file is rolled out"

	# The manifest removed from the directory: its attachments go.
	rm "$W/m/e.yaml"
	wait_for '[ -z "$(xdp_prog_id e0)" ]'
	assert_eq "$(xdp_prog_id e0)" "" "the removed manifest's program is detached"
	assert_eq "$(link_pins)" 0 "and unpinned"
}

test_drift_and_sigterm() {
	local lid rc

	write_glob_manifest
	veth_add wv0 wv0p
	start_watch --interval 1 "$W/m" || return
	lid=$(pinned_link_id "$(pin_of net fw wv0)")
	[ -n "$lid" ] || { _fail "not attached"; return; }

	# Detached by hand: the periodic check puts it back.
	rm "$(pin_of net fw wv0)"
	wait_for '! link_exists "$lid"'
	wait_for '[ -n "$(pinned_link_id "$(pin_of net fw wv0)")" ]'
	assert_ne "$(pinned_link_id "$(pin_of net fw wv0)")" "" "the link is back"
	assert_ne "$(pinned_link_id "$(pin_of net fw wv0)")" "$lid" "as a new link"
	assert_jq "$(watch_lines action | tail -n 1)" '.action == "create" and .trigger == "periodic check"' \
		"recreated by the periodic check"
	assert_eq "$(count_xdp)" 2 "bpftool net: XDP on both interfaces"

	# SIGTERM: exits 0, everything stays attached and pinned.
	lid=$(pinned_link_id "$(pin_of net fw wv0)")
	kill -TERM "$WATCH_PID"
	wait "$WATCH_PID"
	rc=$?
	assert_eq "$rc" 0 "watch exits 0 on SIGTERM"
	assert_jq "$(tail -n 1 "$W/watch.out")" '.event == "stop"' "its last line says it stopped"
	assert_eq "$(link_pins)" 4 "the pins stay"
	link_exists "$lid" || _fail "the link stays attached"
	assert_eq "$(count_xdp)" 2 "bpftool net: still attached"
}

# A reconcile that cannot take the lock is tried again, not forgotten.
test_lock_retry() {
	write_glob_manifest
	start_watch --interval 0 --wait 1 "$W/m" || return
	flock "$T/bpffs" sleep 4 &
	track_pid $!
	sleep 0.3
	veth_add wv0 wv0p
	wait_for '[ -n "$(watch_lines error)" ]'
	assert_jq "$(watch_lines error | head -n 1)" '.message | test("lock")' "the lock timeout is reported"
	assert_eq "$(link_pins)" 0 "nothing attached while the lock is held"
	wait_for '[ "$(link_pins)" = 4 ]'
	assert_eq "$(link_pins)" 4 "attached once the lock is free"
	assert_eq "$(count_xdp)" 2 "bpftool net: XDP on both interfaces"
	# The pins appear while the run attaches; its lines come after.
	wait_for '[ "$(watch_lines action | wc -l)" -ge 4 ]'
	assert_jq "$(watch_lines action | tail -n 1)" '.trigger | test("retry")' "by a retry"
}

test_bad_options() {
	cnf_run watch --interval -1 "$W"
	assert_rc 1 "a negative interval is refused"
	assert_contains "$ERR" "--interval" "the error names the option"
	cnf_run watch --settle 0 "$W"
	assert_rc 1 "a zero settle time is refused"
}

run_test "a burst of interfaces is attached, and detached when they go" test_burst
run_test "an interface event reconciles only that interface" test_selective
run_test "a burst of namespaces that appear and go" test_namespaces
run_test "manifest and object edits, a broken manifest" test_manifest_edits
run_test "a link detached by hand comes back; SIGTERM leaves state" test_drift_and_sigterm
run_test "a reconcile blocked by the lock is retried" test_lock_retry
run_test "bad options" test_bad_options
