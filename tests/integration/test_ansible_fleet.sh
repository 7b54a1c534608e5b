#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The role cnf.apply.deploy (contrib/ansible) through examples/ansible/site.yml,
# run for real with ansible-core over a simulated fleet of three hosts on
# this machine: canary, edge1, edge2, each a local connection with its own
# network namespace (its cnf_binary is a wrapper entering it), its own
# bpffs (cnf_bpffs), its own /etc/cnf.d (cnf_dir), all from host_vars;
# cnf_src comes from group_vars (the play sets no cnf_* variable). It
# checks, each time against bpftool inside every host's namespace:
#
# - the first run creates on every host, the second changes nothing;
# - --check --diff changes nothing and predicts exactly the real run;
# - a new program version rolls out in place (same link, new program);
# - a canary whose apply fails in the kernel (a foreign XDP program
#   attached after the tool's checks, CNF_APPLY_TEST_PAUSE=checked) stops
#   the rollout: the canary's previous set is restored in its cnf_dir and
#   runs, the message says so, the other hosts are not touched;
# - cnf_state=absent with orphans (a manifest file removed by hand): check
#   mode predicts exactly what the real run removes, everything goes, and
#   check mode then reports nothing to do.
#
# Slow (ansible-playbook over three hosts, many times): run in the normal
# build only; a sanitizer build skips it (the module and role are Python
# and YAML, the tool's C is the same binary the other tests check).
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$(realpath "$0")")/../.." && pwd)
lib_setup "$@"

PLAYBOOK=$ROOT/examples/ansible/site.yml
PY=/usr/bin/python3
HOSTS="canary edge1 edge2"

ans_env() {
	mkdir -p "$T/ans-home" "$T/ans-tmp" "$T/ans-collections/ansible_collections/cnf"
	ln -sfn "$ROOT/contrib/ansible" "$T/ans-collections/ansible_collections/cnf/apply"
	export HOME=$T/ans-home LC_ALL=C.UTF-8 ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 \
		ANSIBLE_LOCAL_TEMP=$T/ans-tmp ANSIBLE_REMOTE_TEMP=$T/ans-tmp \
		ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_GATHERING=explicit \
		ANSIBLE_DEPRECATION_WARNINGS=0 ANSIBLE_COLLECTIONS_PATH=$T/ans-collections ANSIBLE_PYTHON_INTERPRETER=$PY \
		ANSIBLE_CALLBACK_PLUGINS=$ROOT/tests/tools/ansible ANSIBLE_STDOUT_CALLBACK=cnf_test_json
}

# A host: netns H with eth0 and eth1 (veth, peers in the same netns), a
# bpffs, a cnf-apply wrapper entering the netns, its host_vars.
host_add() {
	local h=$1 d=$T/hosts/$1
	netns_add "$h" || return 1
	ip -n "$h" link add eth0 type veth peer name eth0p && ip -n "$h" link add eth1 type veth peer name eth1p &&
		for i in eth0 eth0p eth1 eth1p; do ip -n "$h" link set "$i" up; done || return 1
	mkdir -p "$d/bpffs" "$d/etc"
	mount -t bpf -o mode=0700 bpf "$d/bpffs" || return 1
	printf '#!/bin/sh\nexec nsenter --net=/run/netns/%s %s "$@"\n' "$h" "$CNF" >"$d/cnf-apply"
	chmod 0755 "$d/cnf-apply"
	cat >"$W/inv/host_vars/$h.yml" <<EOF
cnf_dir: $d/etc/cnf.d
cnf_stage: $d/stage
cnf_previous: $d/previous
cnf_bpffs: $d/bpffs
cnf_binary: $d/cnf-apply
EOF
}

hosts_umount() {
	local h
	for h in $HOSTS; do
		mountpoint -q "$T/hosts/$h/bpffs" && umount "$T/hosts/$h/bpffs"
	done
	rm -rf "$T/hosts"
}

# The GitOps repository (group_vars: cnf_src) with v1: xdp fw-eth0 and
# tcx count-in on eth0 in 10-edge.yaml; tcx count-out in 20-out.yaml.
fleet_setup() {
	local h
	hosts_umount
	mkdir -p "$W/inv/host_vars" "$W/inv/group_vars" "$W/repo/objs"
	printf '[cnf]\ncanary\nedge1\nedge2\n' >"$W/inv/hosts.ini"
	cat >"$W/inv/group_vars/cnf.yml" <<EOF
ansible_connection: local
ansible_python_interpreter: $PY
ansible_become: false
cnf_src: $W/repo
EOF
	for h in $HOSTS; do
		host_add "$h" || { _fail "host $h"; return 1; }
	done
	cp "$W/objs/xdp_v1.bpf.o" "$W/repo/objs/xdp.bpf.o"
	cp "$W/objs/tc_v1.bpf.o" "$W/repo/objs/tc.bpf.o"
	cat >"$W/repo/10-edge.yaml" <<'EOF'
apiVersion: cnf-apply/v1
name: edge
objects:
  - name: fw
    file: objs/xdp.bpf.o
  - name: tc
    file: objs/tc.bpf.o
attachments:
  - name: fw-eth0
    program: fw/xdp_main
    hook: xdp
    interface: eth0
  - name: count-in
    program: tc/tc_main
    hook: tcx
    interface: eth0
    direction: ingress
EOF
	cat >"$W/repo/20-out.yaml" <<'EOF'
apiVersion: cnf-apply/v1
name: out
objects:
  - name: tc
    file: objs/tc.bpf.o
attachments:
  - name: count-out
    program: tc/tc_main
    hook: tcx
    interface: eth0
    direction: egress
EOF
}

# play [ARGS...]: site.yml over the fleet; JSON in $AOUT, exit in $ARC.
play() {
	echo "\$ ansible-playbook -i inv site.yml $*"
	AOUT=$(ansible-playbook -i "$W/inv/hosts.ini" "$@" "$PLAYBOOK" 2>"$T/ans.err")
	ARC=$?
	echo "  -> exit $ARC"
	_show "$(jq -c '.stats, (.tasks[] | select(.status == "failed") | {host, failed: .name, msg: .result.msg})' \
		<<<"$AOUT" 2>/dev/null || echo "$AOUT")"
	[ -s "$T/ans.err" ] && _show "$(cat "$T/ans.err")"
	return 0
}

task() {               # task HOST NAME: that task's last result on HOST, with _status
	jq -c --arg h "$1" --arg n "$2" '[.tasks[] | select(.host == $h and (.name == $n or
		(.name | endswith(" : " + $n)))) | .result + {_status: .status}] | last' <<<"$AOUT"
}

stat_of() {            # stat_of HOST KEY
	jq -r --arg h "$1" --arg k "$2" '.stats[$h][$k]' <<<"$AOUT"
}

# changes JSON: the actions that change something, as sorted lines.
changes() {
	jq -r '[.actions[] | select(.action != "noop") | "\(.action) \(.manifest)/\(.attachment) \(.target)"]
		| sort | .[]' <<<"$1"
}

# view HOST: the hooks of HOST's eth0/eth1 as bpftool sees them in its
# netns (program names and ids, link ids; a line each), and its state
# root's pins.
view() {
	in_netns "$1" bpftool -j net | jq -S -c '.[0] | (.xdp[] | {devname, id}),
		(.tc[] | {devname, kind, name, prog_id, link_id})'
	(cd "$T/hosts/$1/bpffs" && find . -path '*/links/*' -type f | sort)
}

xdp_of() {             # xdp_of HOST DEV: the program id on DEV's XDP hook
	in_netns "$1" bpftool -j net | jq -r --arg d "$2" '.[0].xdp[] | select(.devname == $d) | .id'
}

tcx_of() {             # tcx_of HOST DIR: eth0's tcx programs' names
	in_netns "$1" bpftool -j net |
		jq -r --arg k "tcx/$2" '[.[0].tc[] | select(.devname == "eth0" and .kind == $k) | .name] | join(" ")'
}

test_rollout() {
	local h r before=() want link1 link2 prog1 fifo helper

	fleet_setup || return

	# First run: every host, all at once.
	play -e cnf_serial=3
	assert_eq "$ARC" 0 "first run succeeds" || return
	for h in $HOSTS; do
		r=$(task "$h" Apply)
		assert_jq "$r" '.changed == true and ([.actions[].action] | sort) == ["create", "create", "create"]' \
			"$h: first run creates three"
		assert_ne "$(xdp_of "$h" eth0)" "" "$h: bpftool net (its netns): XDP on eth0"
		assert_eq "$(tcx_of "$h" ingress)/$(tcx_of "$h" egress)" "tc_main/tc_main" "$h: bpftool net: tcx both ways"
		assert_eq "$(jf "$r" '.actions[] | select(.attachment == "fw-eth0") | .prog_id')" "$(xdp_of "$h" eth0)" \
			"$h: the module's prog_id is the one bpftool sees"
		assert_exists "$T/hosts/$h/etc/cnf.d/objs/xdp.bpf.o" "$h: the set is in its cnf_dir (host_vars)"
		assert_exists "$T/hosts/$h/bpffs/edge/links/fw-eth0/eth0" "$h: pinned in its bpffs (host_vars)"
	done

	# Idempotence.
	play -e cnf_serial=3
	assert_eq "$ARC" 0 "second run succeeds"
	for h in $HOSTS; do
		assert_eq "$(stat_of "$h" changed)" 0 "$h: second run changes nothing (recap changed=0)"
		assert_jq "$(task "$h" Apply)" 'all(.actions[]; .action == "noop")' "$h: all noop"
	done

	# v2: a new program version (in place), out.yaml removed (prune).
	cp "$W/objs/xdp_v2.bpf.o" "$W/repo/objs/xdp.bpf.o"
	rm "$W/repo/20-out.yaml"
	for h in $HOSTS; do
		before+=("$(view "$h")")
		cp -a "$T/hosts/$h/etc/cnf.d" "$T/hosts/$h/installed.before"
	done
	play -e cnf_serial=3 --check --diff
	assert_eq "$ARC" 0 "check mode run succeeds" || return
	want="delete out/count-out eth0
update edge/fw-eth0 eth0"
	local i=0
	for h in $HOSTS; do
		r=$(task "$h" 'Plan the staged set')
		assert_eq "$(changes "$r")" "$want" "$h: check mode predicts the update and the prune"
		assert_jq "$r" '.diff.before | test("(^|\n)out/count-out: .*  # delete: [^\n]")' \
			"$h: diff: the delete line says why"
		assert_jq "$r" '.diff.after | contains("edge/fw-eth0: xdp eth0") and contains("# update:")' \
			"$h: diff: the update"
		assert_jq "$(task "$h" Apply)" '._status == "skipped"' "$h: check mode: Apply skipped"
		assert_eq "$(view "$h")" "${before[$i]}" "$h: check mode: bpftool and pins unchanged"
		assert_ok "$h: check mode: cnf_dir unchanged" diff -r "$T/hosts/$h/installed.before" "$T/hosts/$h/etc/cnf.d"
		i=$((i + 1))
	done

	# The rollout: canary, then one at a time; in place.
	link1=$(pinned_link_id "$T/hosts/edge1/bpffs/edge/links/fw-eth0/eth0")
	prog1=$(xdp_of edge1 eth0)
	play
	assert_eq "$ARC" 0 "rollout succeeds" || return
	for h in $HOSTS; do
		assert_eq "$(changes "$(task "$h" Apply)")" "$want" "$h: the real run did what check mode predicted"
		assert_eq "$(tcx_of "$h" egress)" "" "$h: bpftool net: the pruned attachment is gone"
	done
	assert_eq "$(jq -r '[.tasks[] | select(.name | endswith(" : Apply")) | .host] | join(" ")' <<<"$AOUT")" \
		"canary edge1 edge2" "canary first, then the others"
	link2=$(pinned_link_id "$T/hosts/edge1/bpffs/edge/links/fw-eth0/eth0")
	assert_eq "$link2" "$link1" "edge1: the same XDP link (updated in place)"
	assert_ne "$(link_prog_id "$link2")" "$prog1" "edge1: bpftool link: it runs a new program"
	assert_eq "$(link_prog_id "$link2")" "$(xdp_of edge1 eth0)" "edge1: bpftool net agrees"

	# v3 adds fw-eth1. The canary's apply pauses once checked; meanwhile
	# another tool takes eth1's XDP hook, so the kernel refuses the attach
	# (no plan could have seen it) and the rollout must stop there.
	cat >>"$W/repo/10-edge.yaml" <<'EOF'
  - name: fw-eth1
    program: fw/xdp_main
    hook: xdp
    interface: eth1
EOF
	before=()
	for h in $HOSTS; do
		before+=("$(view "$h")")
		rm -rf "$T/hosts/$h/installed.before"
		cp -a "$T/hosts/$h/etc/cnf.d" "$T/hosts/$h/installed.before"
	done
	fifo=$T/pause-canary
	rm -f "$fifo" "$T/foreign.done"
	mkfifo "$fifo"
	printf 'cnf_environment:\n  CNF_APPLY_TEST_PAUSE: "checked:%s"\n' "$fifo" >>"$W/inv/host_vars/canary.yml"
	# Every opening of the FIFO lets one paused run go on; the first one
	# attaches the foreign program before.
	bash -c 'while exec 3>"$1"; do
		[ -e "$2" ] || { nsenter --net=/run/netns/canary ip link set dev eth1 xdpgeneric obj "$3" sec xdp; touch "$2"; }
		exec 3>&-; sleep 0.2; done' _ "$fifo" "$T/foreign.done" "$W/objs/foreign.bpf.o" &
	helper=$!
	track_pid "$helper"
	play
	assert_ne "$ARC" 0 "the run fails"
	assert_exists "$T/foreign.done" "the foreign program was attached while the canary's apply paused"
	r=$(task canary Apply)
	assert_jq "$r" '._status == "failed" and .rollback == "rolled back"' "canary: Apply failed, the tool rolled back"
	assert_contains "$(jf "$r" .msg)" "rolled back" "canary: the module's msg carries the rollback outcome"
	r=$(task canary 'Fail, saying what was restored')
	assert_contains "$(jf "$r" .msg)" "Restored the previous set in $T/hosts/canary/etc/cnf.d" \
		"canary: the role says it restored the previous set"
	assert_contains "$(jf "$r" .msg)" "rolled back" "canary: and why it failed"
	assert_jq "$(task canary 'Apply the previous set')" '._status == "ok" and .changed == false' \
		"canary: the previous set applied again, nothing to change"
	assert_ok "canary: cnf_dir holds the previous set" \
		diff -r "$T/hosts/canary/installed.before" "$T/hosts/canary/etc/cnf.d"
	assert_eq "$(view canary | sed '/eth1/d')" "$(sed '/eth1/d' <<<"${before[0]}")" \
		"canary: bpftool: its hooks are as before (eth1 aside)"
	assert_ne "$(xdp_of canary eth1)" "" "canary: bpftool: eth1 holds the foreign program, left alone"
	assert_not_exists "$T/hosts/canary/bpffs/edge/links/fw-eth1" "canary: nothing of fw-eth1 pinned"
	assert_eq "$(stat_of canary failures)" 1 "recap: the canary failed"
	assert_eq "$(stat_of canary rescued)" 1 "recap: the canary was rescued"
	for h in edge1 edge2; do
		assert_jq "$(task "$h" 'Plan the staged set')" '. == null' "$h: not touched (the rollout stopped)"
		assert_eq "$(view "$h")" "${before[$([ "$h" = edge1 ] && echo 1 || echo 2)]}" "$h: bpftool: unchanged"
		assert_ok "$h: cnf_dir unchanged" diff -r "$T/hosts/$h/installed.before" "$T/hosts/$h/etc/cnf.d"
	done
	kill "$helper" 2>/dev/null
	in_netns canary ip link set dev eth1 xdpgeneric off
	sed -i '/cnf_environment/,$d' "$W/inv/host_vars/canary.yml"
	CNF_STATUS=$(in_netns canary "$CNF" --bpffs "$T/hosts/canary/bpffs" --json status "$T/hosts/canary/etc/cnf.d")
	assert_jq "$CNF_STATUS" '.in_sync == true' "canary: cnf-apply status: the previous set is in sync"

	# absent, with orphans: on every host, 20-out.yaml is put into cnf_dir
	# and applied by hand, then its file is removed (its attachment stays,
	# orphaned).
	for h in $HOSTS; do
		printf 'apiVersion: cnf-apply/v1\nname: out\nobjects:\n  - {name: tc, file: objs/tc.bpf.o}\nattachments:\n  - {name: count-out, program: tc/tc_main, hook: tcx, interface: eth0, direction: egress}\n' \
			>"$T/hosts/$h/etc/cnf.d/20-out.yaml"
		assert_ok "$h: out.yaml applied by hand" "$T/hosts/$h/cnf-apply" --bpffs "$T/hosts/$h/bpffs" \
			apply "$T/hosts/$h/etc/cnf.d" || return
		rm "$T/hosts/$h/etc/cnf.d/20-out.yaml"
	done
	play -e cnf_serial=3 -e cnf_state=absent --check --diff
	assert_eq "$ARC" 0 "absent, check mode"
	want="delete edge/count-in eth0
delete edge/fw-eth0 eth0
delete out/count-out eth0"
	for h in $HOSTS; do
		r=$(task "$h" 'Remove what the manifests own')
		assert_eq "$(changes "$r")" "$want" "$h: check mode predicts three deletes, the orphan's too"
		assert_jq "$r" '.orphans == ["out"]' "$h: out is the orphan"
		assert_eq "$(tcx_of "$h" egress)" "tc_main" "$h: check mode: bpftool: the orphan still attached"
	done
	play -e cnf_serial=3 -e cnf_state=absent
	assert_eq "$ARC" 0 "absent"
	for h in $HOSTS; do
		assert_eq "$(changes "$(task "$h" 'Remove what the manifests own')")" "$want" \
			"$h: the real run did what check mode predicted"
		assert_eq "$(in_netns "$h" bpftool -j net | jq -c '.[0] | [.xdp[], .tc[]] | length')" 0 \
			"$h: bpftool net: nothing attached any more"
		assert_eq "$(cd "$T/hosts/$h/bpffs" && find . -path '*/links/*' -type f)" "" "$h: no link pinned"
		assert_eq "$(ls -A "$T/hosts/$h/etc/cnf.d")" "" "$h: cnf_dir emptied"
	done
	play -e cnf_serial=3 -e cnf_state=absent --check
	for h in $HOSTS; do
		assert_eq "$(stat_of "$h" changed)" 0 "$h: absent in check mode afterwards: nothing to do"
	done
}

if ! command -v ansible-playbook >/dev/null; then
	skip "a fleet of 3" "ansible-playbook not installed (apt-get install ansible-core; scripts/setup.sh does)"
	exit 0
fi
if readelf -sW "$CNF" 2>/dev/null | grep '__asan_init' >/dev/null; then
	skip "a fleet of 3" "sanitizer build: the fleet test runs in the normal build only (slow; Python and YAML)"
	exit 0
fi
ans_env
run_test "a fleet of 3: first run, idempotence, check/diff, in-place rollout, failing canary, absent with orphans" \
	test_rollout
hosts_umount
