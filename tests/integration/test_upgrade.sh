#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Upgrades without a traffic gap: UDP packets flow through a veth pair
# while the XDP and tcx programs on it are replaced by new versions (and
# their config changed) many times. The receiver's own count, the count
# in a map both versions share (pinned with `pin:`), and the sender's
# count must all agree: no packet dropped, no counter lost.
. "$(dirname "$0")/lib.sh"
lib_setup "$@"

PKTS=5000

# write_m VARIANT: the manifest, with `config: variant`.
write_m() {
	cat >"$W/m.yaml" <<EOF
apiVersion: cnf-apply/v1
name: up
objects:
  - name: t
    file: objs/traffic.bpf.o
    config:
      variant: $1
    maps:
      - name: pkt_counts
        pin: upgrade/pkt_counts
attachments:
  - name: rx-xdp
    program: t/xdp_count
    hook: xdp
    interface: u0
  - name: rx-tcx
    program: t/tc_count
    hook: tcx
    interface: u0
    direction: ingress
EOF
}

counts() {            # counts -> "xdp tcx" from the pinned map
	bt map dump pinned "$T/bpffs/_maps/upgrade/pkt_counts" |
		jq -r '[.[] | .formatted | select(.key == 0 or .key == 1) | .value] | map(tostring) | join(" ")'
}

test_upgrade_under_traffic() {
	local i n lid_x lid_t sent got ups=0

	netns_add peer
	ip link add u0 type veth peer name u0p || { _fail "veth"; return; }
	ip link set u0p netns peer
	ip addr add 10.77.0.1/24 dev u0
	ip link set u0 up
	in_netns peer ip addr add 10.77.0.2/24 dev u0p
	in_netns peer ip link set u0p up
	in_netns peer ip link set lo up
	cp "$W/objs/traffic_v1.bpf.o" "$W/objs/traffic.bpf.o"
	write_m 0
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v1" || return
	lid_x=$(jq -r '.actions[] | select(.attachment == "rx-xdp") | .link_id' <<<"$OUT")
	lid_t=$(jq -r '.actions[] | select(.attachment == "rx-tcx") | .link_id' <<<"$OUT")
	assert_exists "$T/bpffs/_maps/upgrade/pkt_counts" "the shared map is pinned under _maps/"
	# Let ARP and neighbour discovery settle before counting.
	in_netns peer ping -c 1 -W 2 10.77.0.1 >/dev/null 2>&1

	# The receiver counts what reaches its socket; the sender paces its
	# packets over a few seconds and reports how many it sent.
	python3 - "$T/received" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
# SO_RCVBUFFORCE (root): above rmem_max, so a busy machine cannot
# overflow the socket while the receiver waits for the CPU.
s.setsockopt(socket.SOL_SOCKET, 33, 32 << 20)
s.bind(("10.77.0.1", 9999))
s.settimeout(5.0)
n = 0
try:
    while True:
        data = s.recv(64)
        if data == b"end":
            break
        n += 1
except socket.timeout:
    pass
open(sys.argv[1], "w").write(str(n))
EOF
	local rx=$!
	sleep 0.3
	in_netns peer python3 - "$PKTS" "$T/sent" <<'EOF' &
import socket, sys, time
n = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    s.sendto(b"x%d" % i, ("10.77.0.1", 9999))
    time.sleep(0.001)
open(sys.argv[2], "w").write(str(n))
time.sleep(0.2)
s.sendto(b"end", ("10.77.0.1", 9999))
EOF
	local tx=$!

	# Meanwhile: new program versions and config changes, in place.
	i=0
	while kill -0 "$tx" 2>/dev/null; do
		i=$((i + 1))
		if [ $((i % 2)) -eq 1 ]; then
			cp "$W/objs/traffic_v2.bpf.o" "$W/objs/traffic.bpf.o"
		else
			cp "$W/objs/traffic_v1.bpf.o" "$W/objs/traffic.bpf.o"
		fi
		write_m $((i % 3))
		"$CNF" --bpffs "$T/bpffs" --json apply "$W/m.yaml" >"$T/up.json" 2>"$T/up.err" || {
			_fail "upgrade $i failed"
			_show "$(cat "$T/up.err")"
			break
		}
		n=$(jq '[.actions[] | select(.action == "update")] | length' "$T/up.json")
		[ "$n" = 2 ] && ups=$((ups + 1))
		if [ "$(jq -r '[.actions[].link_id] | sort | map(tostring) | join(" ")' "$T/up.json")" != \
			"$(printf '%s\n' "$lid_x" "$lid_t" | sort -n | paste -sd' ')" ]; then
			_fail "upgrade $i did not keep both links"
			_show "$(cat "$T/up.json")"
		fi
		sleep 0.1
	done
	wait "$tx"
	wait "$rx"
	sent=$(cat "$T/sent" 2>/dev/null)
	got=$(cat "$T/received" 2>/dev/null)

	echo "    $ups in-place upgrades (both links each time) while $sent packets flowed" >&3
	assert_ne "$ups" 0 "upgrades happened during the traffic"
	[ "$ups" -ge 5 ] || _fail "only $ups upgrades during the traffic (want at least 5)"
	assert_eq "$sent" "$PKTS" "the sender sent every packet"
	assert_eq "$got" "$PKTS" "the receiver got every packet: no gap during the upgrades"
	# The programs also see the sender's final "end" packet.
	assert_eq "$(counts)" "$((PKTS + 1)) $((PKTS + 1))" \
		"the shared map counted every packet at XDP and tcx: counts carried over every version"
	assert_eq "$(link_json "$lid_x" | jq -r .prog_id)" "$(xdp_prog_id u0)" \
		"bpftool: the same XDP link still runs the hook"
	assert_eq "$(tcx_entries u0 ingress | jq -r '.[0].link_id')" "$lid_t" \
		"bpftool: the same tcx link still runs the hook"
}

test_incompatible_pinned_map() {
	local before

	veth_add u0 u0p
	cp "$W/objs/traffic_v1.bpf.o" "$W/objs/traffic.bpf.o"
	write_m 0
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v1" || return
	before=$(snapshot_host)

	# A version whose counter map has another size cannot reuse the pin.
	cp "$W/objs/traffic_big.bpf.o" "$W/objs/traffic.bpf.o"
	cnf_json plan "$W/m.yaml"
	assert_rc 1 "plan refuses the incompatible map"
	assert_contains "$ERR" "map 'pkt_counts' is pinned at" "the error names the map"
	assert_contains "$ERR" "max_entries 4, the object wants 8" "the error says what differs"
	assert_at "$ERR" "$W/m.yaml" 9
	cnf_json apply "$W/m.yaml"
	assert_rc 1 "apply refuses it too"
	assert_unchanged "$before" "a refused apply changes nothing"
}

test_destroy_keeps_shared_maps_in_use() {
	veth_add u0 u0p
	cp "$W/objs/traffic_v1.bpf.o" "$W/objs/traffic.bpf.o"
	write_m 0
	sed -e 's/^name: up/name: other/' -e 's/interface: u0/interface: u0p/' "$W/m.yaml" >"$W/other.yaml"
	cnf_json apply "$W/m.yaml" "$W/other.yaml"
	assert_rc 0 "apply two manifests sharing one pinned map" || return
	cnf_json destroy "$W/m.yaml"
	assert_rc 0 "destroy the first"
	assert_exists "$T/bpffs/_maps/upgrade/pkt_counts" "the map stays: the other manifest's programs use it"
	cnf_json destroy "$W/other.yaml"
	assert_rc 0 "destroy the second"
	assert_not_exists "$T/bpffs/_maps/upgrade/pkt_counts" "the map goes with its last user"
}

run_test "XDP and tcx upgraded under traffic: no drop, counters kept" test_upgrade_under_traffic
run_test "an incompatible pinned map is refused before any change" test_incompatible_pinned_map
run_test "destroy removes a shared map only with its last user" test_destroy_keeps_shared_maps_in_use
