#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# cgroup attachments: several attach types on one cgroup through bpf links,
# absolute and relative cgroup paths, update in place, delete, and a
# program of another tool on the same cgroup.
. "$(dirname "$0")/lib.sh"
lib_setup "$@"

# attachment name, program, attach_type, kernel's attach type (bpftool)
CASES=(
	"ingress skb_ingress ingress cgroup_inet_ingress"
	"egress skb_egress egress cgroup_inet_egress"
	"sock-create sock_create sock_create cgroup_inet_sock_create"
	"connect4 connect4 connect4 cgroup_inet4_connect"
	"sock-ops sock_ops sock_ops cgroup_sock_ops"
	"sysctl sysctl sysctl cgroup_sysctl"
	"device dev device cgroup_device"
	"getsockopt getsockopt getsockopt cgroup_getsockopt"
)

# write_cg FILE [ATTACHMENT...]: the CASES (all, or the named ones) on $CG;
# `connect4` names the cgroup by its path relative to the cgroup2 mount.
write_cg() {
	local file=$1 c att prog type kern path
	shift
	[ -e "$W/objs/cg.bpf.o" ] || cp "$W/objs/cgroup_progs.bpf.o" "$W/objs/cg.bpf.o"
	{
		cat <<EOF
apiVersion: cnf-apply/v1
name: m
objects:
  - name: cg
    file: objs/cg.bpf.o
attachments:
EOF
		for c in "${CASES[@]}"; do
			read -r att prog type kern <<<"$c"
			if [ $# -gt 0 ] && [[ " $* " != *" $att "* ]]; then
				continue
			fi
			path=$CG
			[ "$att" = connect4 ] && path=$CG_REL
			cat <<EOF
  - name: $att
    program: cg/$prog
    hook: cgroup
    cgroup: $path
    attach_type: $type
EOF
		done
		[ $# -eq 1 ] && [ "$1" = none ] && echo "  []"
	} >"$file"
}

test_attach_types() {
	local c att prog type kern lid pid cgid cgshow

	write_cg "$W/m.yaml"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return
	assert_jq "$OUT" "(.actions | length) == ${#CASES[@]} and all(.actions[]; .action == \"create\" and .hook == \"cgroup\")" \
		"JSON: one create per attach type"
	assert_jq "$OUT" ".actions[] | select(.attachment == \"ingress\") | .target == \"$CG\"" \
		"JSON: target is the cgroup path"
	cgid=$(stat -c %i "$CG")
	cgshow=$(cgroup_progs "$CG")
	for c in "${CASES[@]}"; do
		read -r att prog type kern <<<"$c"
		lid=$(jf "$OUT" ".actions[] | select(.attachment == \"$att\") | .link_id")
		pid=$(jf "$OUT" ".actions[] | select(.attachment == \"$att\") | .prog_id")
		assert_jq "$cgshow" "[.[] | select(.attach_type == \"$kern\")] | length == 1 and .[0].id == $pid
			and .[0].name == \"$prog\" and .[0].attach_flags == \"multi\"" \
			"bpftool cgroup show: $att is a link-based $kern"
		assert_jq "$(link_json "$lid")" ".type == \"cgroup\" and .prog_id == $pid and .cgroup_id == $cgid
			and .attach_type == \"$kern\"" "bpftool link: $att's cgroup link"
		assert_eq "$(pinned_link_id "$(pin_of m "$att" cgroup)")" "$lid" "$att pinned at <root>/m/links/$att/cgroup"
	done

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "second apply"
	assert_jq "$OUT" '.changed == false' "second apply: nothing to do"
}

test_update_in_place() {
	local c att prog type kern lids pids cgshow

	write_cg "$W/m.yaml"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v1" || return
	lids=$(jq -c '[.actions[] | {key: .attachment, value: .link_id}] | from_entries' <<<"$OUT")
	pids=$(jq -c '[.actions[] | {key: .attachment, value: .prog_id}] | from_entries' <<<"$OUT")

	cp "$W/objs/cgroup_progs_v2.bpf.o" "$W/objs/cg.bpf.o"
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan sees the new programs"
	assert_jq "$OUT" 'all(.actions[]; .action == "update" and .strategy == "in-place")' "plan: all in place"

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v2" || return
	cgshow=$(cgroup_progs "$CG")
	for c in "${CASES[@]}"; do
		read -r att prog type kern <<<"$c"
		assert_jq "$OUT" ".actions[] | select(.attachment == \"$att\") | .link_id == $(jf "$lids" ".[\"$att\"]")
			and .prog_id != $(jf "$pids" ".[\"$att\"]")" "JSON: $att same link, new program"
		assert_eq "$(link_prog_id "$(jf "$lids" ".[\"$att\"]")")" \
			"$(jf "$OUT" ".actions[] | select(.attachment == \"$att\") | .prog_id")" \
			"bpftool link: $att's link runs the new program"
		assert_jq "$cgshow" "[.[] | select(.attach_type == \"$kern\")] | length == 1 and .[0].id != $(jf "$pids" ".[\"$att\"]")" \
			"bpftool cgroup show: one $kern program, the new one"
	done
}

test_delete() {
	local lids fid

	write_cg "$W/m.yaml"
	# Another tool's program on one of the same attach types.
	if ! bpftool prog loadall "$W/objs/cgroup_progs.bpf.o" "$T/fpin/f" >/dev/null 2>&1; then
		_fail "bpftool prog loadall"
		return
	fi
	bpftool cgroup attach "$CG" connect4 pinned "$T/fpin/f/connect4" multi || { _fail "bpftool cgroup attach"; return; }
	fid=$(pinned_prog_id "$T/fpin/f/connect4")

	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply next to a foreign program" || return
	lids=$(jq -c '[.actions[] | {key: .attachment, value: .link_id}] | from_entries' <<<"$OUT")

	write_cg "$W/m.yaml" ingress egress
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply with two attachments left" || return
	assert_jq "$OUT" "[.actions[] | select(.action == \"delete\")] | length == $((${#CASES[@]} - 2))" \
		"JSON: the others deleted"
	assert_jq "$(cgroup_progs "$CG")" \
		"[.[] | select(.attach_flags == \"multi\" and .id != $fid) | .attach_type] | sort == [\"cgroup_inet_egress\", \"cgroup_inet_ingress\"]" \
		"bpftool cgroup show: only ingress and egress left of ours"
	assert_jq "$(cgroup_progs "$CG")" "any(.[]; .id == $fid and .attach_type == \"cgroup_inet4_connect\")" \
		"the foreign connect4 program is still attached"
	link_exists "$(jf "$lids" '.connect4')" && _fail "connect4's link still exists"
	link_exists "$(jf "$lids" '.device')" && _fail "device's link still exists"
	assert_not_exists "$(pin_of m connect4 cgroup)" "connect4's pin gone"
	assert_ok "ingress link kept" link_exists "$(jf "$lids" '.ingress')"

	write_cg "$W/m.yaml" none
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply with none left"
	assert_jq "$(cgroup_progs "$CG")" "[.[] | select(.id != $fid)] | length == 0" \
		"bpftool cgroup show: none of ours left"
}

run_test "several attach types, link-based" test_attach_types
run_test "new programs update the links in place" test_update_in_place
run_test "removed attachments are detached, others' kept" test_delete
