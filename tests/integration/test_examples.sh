#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The examples users start from (examples/*/): each is applied as shipped
# (only the object path and, for the cgroup policy, the cgroup are pointed
# at this test's), made to do its job on real traffic or real connect()s,
# checked through --json and bpftool, and destroyed.
#
# Needs the example objects ($BUILD/examples/<dir>/*.bpf.o, built by
# `make`), ping (iputils-ping) and python3.
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$(realpath "$0")")/../.." && pwd)
BUILD=$(realpath "${BUILD:-$ROOT/build}")
export BUILD
lib_setup "$@"

EXAMPLES="xdp-firewall tcx-chain cgroup-connect4"
PY=$(command -v /usr/bin/python3 python3 | head -n 1)

# stage_example DIR [DEST]: copy examples/DIR's manifests to DEST (default
# $W/DIR) with `file:` pointing at this build's objects. The variable
# EX_MANIFEST is set to the (first) staged manifest.
stage_example() {
	local dir=$1 dest=${2:-$W/$1} m
	mkdir -p "$dest"
	for m in "$ROOT/examples/$dir"/*.yaml; do
		sed "s|file: \.\./\.\./build/examples/$dir/|file: $BUILD/examples/$dir/|" \
			"$m" >"$dest/$(basename "$m")"
	done
	EX_MANIFEST=$(ls "$dest"/*.yaml | head -n 1)
}

# peer_setup: eth0 here (10.0.0.1), its veth peer eth0p in netns `peer`
# (10.0.0.2): the examples' `eth*` globs match eth0 only.
peer_setup() {
	netns_add peer || return 1
	ip link add eth0 type veth peer name eth0p || { _fail "veth eth0/eth0p"; return 1; }
	ip link set eth0p netns peer
	ip addr add 10.0.0.1/24 dev eth0
	ip link set eth0 up
	in_netns peer ip addr add 10.0.0.2/24 dev eth0p
	in_netns peer ip link set eth0p up
}

# peer_ping: 3 echo requests from the peer to eth0; succeeds if any is answered.
peer_ping() {
	in_netns peer ping -n -q -c 3 -i 0.2 -W 1 10.0.0.1 >/dev/null 2>&1
}

# prog_map_id PROG_ID MAP_NAME: the id of the program's map of that name.
prog_map_id() {
	local m
	for m in $(bt prog show id "$1" | jq -r '.map_ids[]?'); do
		if [ "$(bt map show id "$m" | jq -r '.name')" = "$2" ]; then
			echo "$m"
			return 0
		fi
	done
}

# map_u64 MAP_ID KEY: the u64 value at an array/hash map's u32 KEY,
# summed over CPUs for per-CPU maps, 0 when absent (read with bpftool).
map_u64() {
	local k
	k=$(printf '%d %d %d %d' $(($2 & 255)) $((($2 >> 8) & 255)) $((($2 >> 16) & 255)) $((($2 >> 24) & 255)))
	# shellcheck disable=SC2086 # the key is four separate bytes
	bt map lookup id "$1" key $k | jq -r '
		def u64: if type == "array" then (reverse | map(tonumber? // (ltrimstr("0x") | explode |
			reduce .[] as $c (0; . * 16 + (if $c >= 97 then $c - 87 else $c - 48 end))))
			| reduce .[] as $b (0; . * 256 + $b)) else . end;
		if .formatted then (.formatted.value // ([.formatted.values[].value] | add))
		elif .values then ([.values[].value | u64] | add)
		elif .value then (.value | u64)
		else 0 end' 2>/dev/null || echo 0
}

test_xdp_firewall() {
	local out pid stats bl before

	peer_setup || return
	stage_example xdp-firewall
	assert_ok "ping before apply" peer_ping || return

	cnf_json apply "$EX_MANIFEST"
	if [ "$RC" != 0 ] && grep -q "loading object 'fw': No such file or directory" <<<"$ERR"; then
		echo "  hint: libbpf could not pin 'blocklist' at <bpffs>/_maps/shared/blocklist:"
		echo "  cnf-apply must create the parent directories of a map's pin before loading"
	fi
	assert_rc 0 "apply" || return
	assert_jq "$OUT" '.changed == true and (.actions | length) == 1 and
		.actions[0].action == "create" and .actions[0].target == "eth0" and .actions[0].xdp_mode == "native"' \
		"JSON: one create on eth0, native XDP"
	pid=$(jf "$OUT" '.actions[0].prog_id')
	assert_eq "$(xdp_prog_id eth0)" "$pid" "bpftool net: our program on eth0's XDP hook"
	bl=$T/bpffs/_maps/shared/blocklist
	assert_exists "$bl" "the blocklist is pinned under <bpffs>/_maps/shared/" || return
	assert_eq "$(bt map show pinned "$bl" | jq -r .id)" "$(prog_map_id "$pid" blocklist)" \
		"the pinned map is the program's blocklist"
	stats=$(prog_map_id "$pid" fw_stats)

	# Nothing blocked yet: traffic passes and is counted as passed.
	assert_ok "ping passes with an empty blocklist" peer_ping
	assert_ne "$(map_u64 "$stats" 0)" 0 "fw_stats[passed] counts the peer's packets"
	assert_eq "$(map_u64 "$stats" 1)" 0 "fw_stats[dropped] is 0"

	# A second tool blocks the peer's address through the pinned map.
	assert_ok "bpftool map update pinned blocklist" \
		bpftool map update pinned "$bl" key 10 0 0 2 value 0 0 0 0 0 0 0 0 || return
	peer_ping && _fail "ping from a blocked source still answered"
	assert_ne "$(map_u64 "$stats" 1)" 0 "fw_stats[dropped] counts the drops"
	before=$(map_u64 "$(bt map show pinned "$bl" | jq -r .id)" $((10 | 2 << 24)))
	assert_ne "$before" 0 "blocklist[10.0.0.2] counts the packets dropped from it"

	# Re-applying changes nothing and keeps the blocklist's entries.
	cnf_json apply "$EX_MANIFEST"
	assert_rc 0 "second apply"
	assert_jq "$OUT" '.changed == false' "second apply: nothing to do"
	out=$(bt map dump pinned "$bl")
	assert_jq "$out" 'length == 1' "the blocklist kept its entry"
	peer_ping && _fail "ping answered after the second apply"

	assert_ok "bpftool map delete" bpftool map delete pinned "$bl" key 10 0 0 2
	assert_ok "ping passes again once unblocked" peer_ping

	cnf_json destroy "$EX_MANIFEST"
	assert_rc 0 "destroy"
	assert_jq "$OUT" '.changed == true and .actions[0].action == "delete"' "JSON: destroy deletes the attachment"
	assert_eq "$(xdp_prog_id eth0)" "" "bpftool net: eth0's XDP hook is empty"
	assert_not_exists "$(pin_of xdp-firewall fw-uplinks eth0)" "the link's pin is gone"
}

test_tcx_chain() {
	local mark enforce stats

	peer_setup || return
	stage_example tcx-chain
	assert_ok "ping before apply" peer_ping || return

	cnf_json apply "$EX_MANIFEST"
	assert_rc 0 "apply" || return
	assert_jq "$OUT" '[.actions[] | select(.action == "create" and .hook == "tcx" and .target == "eth0")] | length == 2' \
		"JSON: two tcx creates on eth0"
	mark=$(jf "$OUT" '.actions[] | select(.attachment == "mark") | .prog_id')
	enforce=$(jf "$OUT" '.actions[] | select(.attachment == "enforce") | .prog_id')
	assert_eq "$(tcx_names eth0 ingress)" "chain_mark chain_enforce" "bpftool net: mark runs first, enforce second"
	assert_jq "$(tcx_entries eth0 ingress)" "[.[].prog_id] == [$mark, $enforce]" "bpftool net: the ids are ours, in order"

	# ICMP is marked by stage 1 and dropped by stage 2.
	peer_ping && _fail "ping answered through the chain"
	stats=$(prog_map_id "$mark" chain_stats)
	assert_eq "$(prog_map_id "$enforce" chain_stats)" "$stats" "both stages share chain_stats"
	assert_ne "$(map_u64 "$stats" 1)" 0 "stage 1 marked packets"
	assert_ne "$(map_u64 "$stats" 2)" 0 "stage 2 saw packets"
	assert_ne "$(map_u64 "$stats" 3)" 0 "stage 2 dropped the marked packets"

	# Mark UDP instead: a config change is a new program, swapped in place.
	sed -i 's/match_proto: 1 /match_proto: 17 /' "$EX_MANIFEST"
	cnf_json plan "$EX_MANIFEST"
	assert_rc 2 "plan sees the new config"
	assert_jq "$OUT" '[.actions[] | select(.action == "update" and .strategy == "in-place")] | length == 2' \
		"plan: both stages updated in place (one object)"
	cnf_json apply "$EX_MANIFEST"
	assert_rc 0 "apply the new config" || return
	assert_eq "$(tcx_names eth0 ingress)" "chain_mark chain_enforce" "bpftool net: order kept after the update"
	assert_ok "ping answered once ICMP is no longer marked" peer_ping

	cnf_json destroy "$EX_MANIFEST"
	assert_rc 0 "destroy"
	assert_eq "$(tcx_names eth0 ingress)" "" "bpftool net: eth0's tcx ingress is empty"
}

# connect_in CGROUP PORT...: from a process in CGROUP (a directory), connect
# to 127.0.0.1:PORT, where a listener waits; prints {"PORT": "ok"|"EPERM"|...}.
connect_in() {
	local cg=$1
	shift
	bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$0" -c "$CONNECT_PY" "$@"' \
		"$PY" "$cg" "$@"
}
CONNECT_PY='
import errno, json, socket, sys
res = {}
for port in map(int, sys.argv[1:]):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen()
    c = socket.socket()
    try:
        c.connect(("127.0.0.1", port))
        res[port] = "ok"
    except OSError as e:
        res[port] = errno.errorcode.get(e.errno, str(e.errno))
    c.close()
    srv.close()
print(json.dumps(res))
'
export CONNECT_PY

test_cgroup_connect4() {
	local app=$CG/my-app.service out pid stats

	mkdir -p "$app"
	stage_example cgroup-connect4
	sed -i "s|cgroup: system.slice/my-app.service|cgroup: $CG_REL/my-app.service|" "$EX_MANIFEST"
	assert_jq "$(connect_in "$app" 25 8080)" '."25" == "ok" and ."8080" == "ok"' "connects allowed before apply" || return

	cnf_json apply "$EX_MANIFEST"
	assert_rc 0 "apply" || return
	assert_jq "$OUT" ".changed == true and .actions[0].action == \"create\" and .actions[0].target == \"$app\"" \
		"JSON: one create on the service's cgroup"
	pid=$(jf "$OUT" '.actions[0].prog_id')
	assert_jq "$(cgroup_progs "$app")" "length == 1 and .[0].id == $pid and .[0].attach_type == \"cgroup_inet4_connect\"" \
		"bpftool cgroup show: our connect4 program"

	out=$(connect_in "$app" 25 8080)
	assert_jq "$out" '."25" == "EPERM"' "connect to the blocked port fails with EPERM"
	assert_jq "$out" '."8080" == "ok"' "connect to another port is not refused"
	assert_jq "$(connect_in "$CG" 25)" '."25" == "ok"' "another cgroup is not affected"
	stats=$(prog_map_id "$pid" connect4_stats)
	assert_ne "$(map_u64 "$stats" 1)" 0 "connect4_stats[refused] counted the refusal"

	cnf_json status "$EX_MANIFEST"
	assert_rc 0 "status"
	assert_jq "$OUT" '.in_sync == true and .attachments[0].state == "in-sync"' "status: in sync"

	# Block 8080 instead: the program is swapped in place on the same link.
	sed -i 's/blocked_port: 25 /blocked_port: 8080 /' "$EX_MANIFEST"
	cnf_json apply "$EX_MANIFEST"
	assert_rc 0 "apply the new port" || return
	assert_jq "$OUT" '.actions[0].action == "update" and .actions[0].strategy == "in-place"' "JSON: updated in place"
	out=$(connect_in "$app" 25 8080)
	assert_jq "$out" '."25" == "ok" and ."8080" == "EPERM"' "now 8080 is refused and 25 allowed"

	cnf_json destroy "$EX_MANIFEST"
	assert_rc 0 "destroy"
	assert_jq "$(cgroup_progs "$app")" 'length == 0' "bpftool cgroup show: nothing left"
	assert_jq "$(connect_in "$app" 8080)" '."8080" == "ok"' "connect allowed after destroy"
}

# All examples in one directory, the way /etc/cnf.d holds them after
# `make install`: each object beside its manifest, named without a path.
test_together() {
	local d=$W/cnf.d dir m

	peer_setup || return
	mkdir -p "$d" "$CG/my-app.service"
	for dir in $EXAMPLES; do
		for m in "$ROOT/examples/$dir"/*.yaml; do
			sed -e "s|file: \.\./\.\./build/examples/$dir/|file: |" \
				-e "s|cgroup: system.slice/|cgroup: $CG_REL/|" "$m" >"$d/$(basename "$m")"
		done
		cp "$BUILD/examples/$dir"/*.bpf.o "$d/"
	done

	cnf_json validate "$d"
	assert_rc 0 "validate the directory"
	assert_jq "$OUT" '.manifests | length == 3' "validate: three manifests"
	cnf_json apply "$d"
	assert_rc 0 "apply the directory" || return
	assert_jq "$OUT" '.changed == true and .summary.create == 4' "JSON: four creates"
	assert_ne "$(xdp_prog_id eth0)" "" "bpftool net: XDP program on eth0"
	assert_eq "$(tcx_names eth0 ingress)" "chain_mark chain_enforce" "bpftool net: the chain on eth0"
	assert_jq "$(cgroup_progs "$CG/my-app.service")" 'length == 1' "bpftool cgroup show: the policy"

	cnf_json plan "$d"
	assert_rc 0 "plan after apply: no changes"
	cnf_json status "$d"
	assert_rc 0 "status: in sync"

	cnf_json destroy "$d"
	assert_rc 0 "destroy the directory"
	assert_jq "$OUT" '.summary.delete == 4' "JSON: four deletes"
	assert_eq "$(xdp_prog_id eth0)$(tcx_names eth0 ingress)" "" "bpftool net: eth0's hooks are empty"
	assert_jq "$(cgroup_progs "$CG/my-app.service")" 'length == 0' "bpftool cgroup show: empty"
}

missing=
for dir in $EXAMPLES; do
	compgen -G "$BUILD/examples/$dir/*.bpf.o" >/dev/null || missing+=" $dir"
done
if [ -n "$missing" ]; then
	echo "FAIL examples: objects not built in $BUILD/examples for:$missing (run make)"
	_T_FAILED=$((_T_FAILED + 1))
	exit 1
fi
if ! command -v ping >/dev/null; then
	skip "xdp-firewall" "no ping (apt-get install iputils-ping; scripts/setup.sh does)"
	skip "tcx-chain" "no ping (apt-get install iputils-ping; scripts/setup.sh does)"
else
	run_test "xdp-firewall drops sources in the pinned blocklist" test_xdp_firewall
	run_test "tcx-chain: ordered stages mark then drop" test_tcx_chain
fi
run_test "cgroup-connect4: the blocked port fails with EPERM" test_cgroup_connect4
run_test "all examples from one directory, installed layout" test_together
