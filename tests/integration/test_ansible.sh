#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The collection cnf.apply (contrib/ansible: the module and the deploy
# role) and examples/ansible/site.yml, run for real with ansible-core
# against localhost (connection local) inside the test's namespaces: the
# module's documentation against validate-modules, check mode changes
# nothing and --diff shows the attachments as people read them, a bad
# manifest fails the host with the tool's own message (and the rollback
# outcome) before /etc/cnf.d is touched, and state=absent destroys (check
# mode: plan --destroy). Every check also looks at the kernel (bpftool).
# First run, idempotence, pruning, rollout, a failing canary and orphans
# over three hosts: test_ansible_fleet.sh.
#
# Needs ansible-core (Debian's; scripts/setup.sh installs it).
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$(realpath "$0")")/../.." && pwd)
lib_setup "$@"

PLAYBOOK=$ROOT/examples/ansible/site.yml
COLLECTION=$ROOT/contrib/ansible
PY=/usr/bin/python3

# Ansible's own state (temp dirs, facts cache) stays in this run's $T.
ans_env() {
	mkdir -p "$T/ans-home" "$T/ans-tmp"
	export HOME=$T/ans-home LC_ALL=C.UTF-8 ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 \
		ANSIBLE_LOCAL_TEMP=$T/ans-tmp ANSIBLE_REMOTE_TEMP=$T/ans-tmp \
		ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_GATHERING=explicit \
		ANSIBLE_PYTHON_INTERPRETER=$PY ANSIBLE_DEPRECATION_WARNINGS=0 \
		ANSIBLE_CALLBACK_PLUGINS=$ROOT/tests/tools/ansible ANSIBLE_COLLECTIONS_PATH=$T/ans-collections
	# The collection as ansible-galaxy would install it.
	mkdir -p "$T/ans-collections/ansible_collections/cnf"
	ln -sfn "$COLLECTION" "$T/ans-collections/ansible_collections/cnf/apply"
}

# The GitOps repository ($W/repo: one manifest and its objects), the
# host's /etc/cnf.d ($W/etc/cnf.d) and staging dir, and the vars that
# point the playbook at them.
ans_setup() {
	veth_add eth0 eth0p || return 1
	mkdir -p "$W/repo" "$W/etc/cnf.d"
	cp "$W/objs/xdp_v1.bpf.o" "$W/repo/xdp.bpf.o"
	cp "$W/objs/tc_v1.bpf.o" "$W/repo/tc.bpf.o"
	cat >"$W/repo/10-edge.yaml" <<'EOF'
apiVersion: cnf-apply/v1
name: edge
objects:
  - name: fw
    file: xdp.bpf.o
  - name: tc
    file: tc.bpf.o
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
	jq -n --arg src "$W/repo" --arg dir "$W/etc/cnf.d" --arg stage "$W/stage" \
		--arg prev "$W/previous" --arg bpffs "$T/bpffs" --arg bin "$CNF" --arg py "$PY" \
		'{cnf_hosts: "localhost", cnf_src: $src, cnf_dir: $dir, cnf_stage: $stage,
		  cnf_previous: $prev, cnf_bpffs: $bpffs, cnf_binary: $bin, ansible_become: false,
		  ansible_python_interpreter: $py}' >"$W/vars.json"
}

# play [ARGS...]: run site.yml with the JSON callback; its document in
# $AOUT, exit status in $ARC. play_text: the same with the default
# (human) callback.
play() {
	echo "\$ ansible-playbook site.yml $*"
	AOUT=$(ANSIBLE_STDOUT_CALLBACK=cnf_test_json ansible-playbook -i localhost, -c local \
		-e "@$W/vars.json" "$@" "$PLAYBOOK" 2>"$T/ans.err")
	ARC=$?
	echo "  -> exit $ARC"
	_show "$(jq -c '.stats, (.tasks[] | select(.status == "failed") | {failed: .name, msg: (.result.msg // .result)})' \
		<<<"$AOUT" 2>/dev/null || echo "$AOUT")"
	[ -s "$T/ans.err" ] && _show "$(cat "$T/ans.err")"
	return 0
}

play_text() {
	echo "\$ ansible-playbook site.yml $*"
	AOUT=$(ansible-playbook -i localhost, -c local -e "@$W/vars.json" "$@" "$PLAYBOOK" 2>&1)
	ARC=$?
	echo "  -> exit $ARC"
	_show "$AOUT"
	return 0
}

# task NAME: the last result of that task for localhost, from $AOUT, with
# _status: ok, failed or skipped (a role's task is "ROLE : NAME").
task() {
	jq -c --arg n "$1" '[.tasks[] | select((.name == $n or (.name | endswith(" : " + $n))) and .host == "localhost")
		| .result + {_status: .status}] | last' <<<"$AOUT"
}

stat_of() {            # stat_of KEY: .stats.localhost.KEY from $AOUT
	jq -r --arg k "$1" '.stats.localhost[$k]' <<<"$AOUT"
}

# adhoc ARGS_JSON [ansible ARGS...]: the module alone (ansible localhost -m cnf.apply.cnf_apply).
adhoc() {
	local args=$1
	shift
	echo "\$ ansible localhost -m cnf.apply.cnf_apply -a '$args' $*"
	AOUT=$(ANSIBLE_STDOUT_CALLBACK=cnf_test_json ANSIBLE_LOAD_CALLBACK_PLUGINS=1 \
		ansible localhost -i localhost, -c local -e ansible_python_interpreter=$PY \
		-m cnf.apply.cnf_apply -a "$args" "$@" 2>"$T/ans.err")
	ARC=$?
	echo "  -> exit $ARC"
	_show "$AOUT"
	return 0
}

adhoc_result() {
	jq -c '.tasks[0] | .result + {_status: .status}' <<<"$AOUT"
}

# snap_bpf: what a run could change here, seen by bpftool and in bpffs:
# the hooks of this namespace's interfaces and the pins of the state root,
# with the link and program each pin of a link holds.
snap_bpf() {
	echo "## net"
	net_json | jq -S -c '.[0] | {xdp, tc}'     # netfilter links are host-wide
	echo "## links of the state root"
	find "$T/bpffs" -path '*/links/*' -type f | sort | while read -r p; do
		echo "$p $(pinned_link_id "$p") $(link_prog_id "$(pinned_link_id "$p")")"
	done
	echo "## pins"
	(cd "$T/bpffs" && find . | sort)
}

assert_same_bpf() {   # assert_same_bpf BEFORE MSG
	local now
	now=$(snap_bpf)
	[ "$now" == "$1" ] && return 0
	_fail "$2: changed:"
	diff <(printf '%s\n' "$1") <(printf '%s\n' "$now") | head -n 40 | sed 's/^/      /'
	return 1
}

assert_attached() {    # assert_attached MSG: both attachments of 10-edge.yaml in the kernel
	assert_ne "$(xdp_prog_id eth0)" "" "$1: bpftool net: XDP program on eth0"
	assert_eq "$(tcx_names eth0 ingress)" "tc_main" "$1: bpftool net: tcx program on eth0"
}

test_check_and_diff() {
	local snap r

	ans_setup || return
	play
	assert_eq "$ARC" 0 "first run" || return
	cp -a "$W/etc/cnf.d" "$W/installed.before"

	# A new program version and a new attachment.
	cp "$W/objs/xdp_v2.bpf.o" "$W/repo/xdp.bpf.o"
	cat >>"$W/repo/10-edge.yaml" <<'EOF'
  - name: count-out
    program: tc/tc_second
    hook: tcx
    interface: eth0
    direction: egress
EOF
	snap=$(snap_bpf)
	# The diff as people see it (the JSON of check mode, over three
	# hosts: test_ansible_fleet.sh).
	play_text --check --diff
	assert_eq "$ARC" 0 "check mode, human output"
	assert_match "$AOUT" '^\+edge/count-out: tcx eth0 dir=egress \[tc/tc_second\]  # create' "human diff: + line for the new attachment"
	assert_match "$AOUT" '^-edge/fw-eth0: xdp eth0 mode=auto \[fw/xdp_main\]$' "human diff: - line for the updated one"
	assert_match "$AOUT" 'changed=1 ' "recap: one change in check mode"
	assert_same_bpf "$snap" "check mode: no BPF change"
	assert_ok "check mode: /etc/cnf.d untouched" diff -r "$W/installed.before" "$W/etc/cnf.d"

	# The real run, with its diff.
	play_text --diff
	assert_eq "$ARC" 0 "real run with --diff" || return
	assert_match "$AOUT" '^\+edge/count-out: tcx eth0' "real run: diff shows the created attachment"
	assert_eq "$(tcx_names eth0 egress)" "tc_second" "bpftool net: the new attachment on egress"
}

test_bad_manifest() {
	local snap r want

	ans_setup || return
	play
	assert_eq "$ARC" 0 "first run" || return
	cp -a "$W/etc/cnf.d" "$W/installed.before"
	cat >"$W/repo/30-bad.yaml" <<'EOF'
apiVersion: cnf-apply/v1
name: bad
objects:
  - name: fw
    file: xdp.bpf.o
attachments:
  - name: fw-eth9
    program: fw/xdp_main
    hook: xdp
    interface: eth9
EOF
	snap=$(snap_bpf)
	play
	assert_ne "$ARC" 0 "a bad manifest fails the run"
	r=$(task 'Plan the staged set')
	assert_jq "$r" '._status == "failed" and .rc == 1' "the plan task failed with exit status 1"
	# The message is the tool's own `error`, as `cnf-apply --json plan` prints it.
	cnf_json plan "$W/stage"
	want=$(jf "$OUT" '.error')
	assert_contains "$want" "interface 'eth9' not found" "the tool's error names the interface"
	assert_eq "$(jf "$r" '.msg')" "$want (nothing was changed: the run failed before touching a hook)" \
		"the task's msg is the tool's error field, then the rollback outcome"
	assert_jq "$r" '.rollback == "none"' "rollback: none (nothing had been changed)"
	assert_jq "$r" '.errors | length >= 1' "the task returns the tool's errors"
	assert_eq "$(stat_of failures)" 1 "recap: failed=1"
	assert_jq "$(task Apply)" '. == null' "nothing after the failed task ran"
	assert_ok "the failed host's /etc/cnf.d is untouched" diff -r "$W/installed.before" "$W/etc/cnf.d"
	assert_same_bpf "$snap" "no BPF change"

	# Human output shows the message too.
	play_text
	assert_contains "$AOUT" "interface 'eth9' not found" "human output: the tool's message"

	# The module alone, on a file with a YAML error: the loader's message.
	printf 'apiVersion: cnf-apply/v1\nname: [oops\n' >"$W/broken.yaml"
	adhoc "{\"paths\": [\"$W/broken.yaml\"], \"bpffs\": \"$T/bpffs\", \"binary\": \"$CNF\"}"
	assert_ne "$ARC" 0 "module on a broken file fails"
	cnf_json plan "$W/broken.yaml"
	assert_eq "$(jf "$(adhoc_result)" '.msg')" "$(jf "$OUT" '.error') (nothing was changed: the run failed before touching a hook)" \
		"module msg is the tool's error, then the rollback outcome"
	assert_contains "$(jf "$(adhoc_result)" '.msg')" "broken.yaml" "the message names the file"
}

test_absent() {
	local snap args r

	ans_setup || return
	play
	assert_eq "$ARC" 0 "first run" || return
	args="{\"paths\": [\"$W/etc/cnf.d\"], \"bpffs\": \"$T/bpffs\", \"binary\": \"$CNF\", \"state\": \"absent\"}"

	snap=$(snap_bpf)
	adhoc "$args" --check --diff
	assert_eq "$ARC" 0 "absent, check mode"
	r=$(adhoc_result)
	assert_jq "$r" '.changed == true and .verb == "plan" and (.actions | length) == 2
		and all(.actions[]; .action == "delete")' "check mode: plan --destroy, two deletes would happen"
	assert_jq "$r" '.diff.before | contains("  # delete: destroy")' "check mode: the diff's delete lines carry the reason"
	assert_jq "$r" '.diff.after == "" and (.diff.before | contains("edge/fw-eth0"))' "check mode: diff before -> nothing"
	assert_same_bpf "$snap" "absent in check mode: no BPF change"

	adhoc "$args"
	assert_eq "$ARC" 0 "absent"
	assert_jq "$(adhoc_result)" '.changed == true and .verb == "destroy" and (.actions | length) == 2' \
		"absent: destroy deleted two"
	assert_eq "$(xdp_prog_id eth0)$(tcx_names eth0 ingress)" "" "bpftool net: eth0's hooks are empty"

	adhoc "$args"
	assert_jq "$(adhoc_result)" '.changed == false' "absent again: nothing to do"
	adhoc "$args" --check
	assert_jq "$(adhoc_result)" '.changed == false' "absent in check mode once gone: nothing to do"

	# wait and verbosity reach the tool; a missing binary is said plainly.
	adhoc "{\"paths\": [\"$W/etc/cnf.d\"], \"bpffs\": \"$T/bpffs\", \"binary\": \"$CNF\", \"wait\": 0, \"verbosity\": 2}"
	r=$(adhoc_result)
	assert_jq "$r" '._status == "ok" and (.cmd | length) > 0 and all(.cmd[]; index("--no-wait") != null
		and ([.[] | select(. == "-v")] | length) == 2) and (.messages | length) > 0' \
		"wait: 0 is --no-wait, verbosity: 2 is -v -v, the tool's messages returned"
	adhoc "{\"paths\": [\"$W/etc/cnf.d\"], \"binary\": \"$W/no-such-cnf-apply\"}"
	r=$(adhoc_result)
	assert_jq "$r" "._status == \"failed\" and (.msg | startswith(\"cnf-apply binary '$W/no-such-cnf-apply' does not exist\"))" \
		"a missing binary: the task fails saying so"
}

# validate-modules, the checks of `ansible-test sanity --test validate-modules`:
# ansible-test itself wants to download pip into a venv, which this
# offline machine cannot, so its validate.py runs with Debian's
# python3-voluptuous and ansible-core, the way ansible-test invokes it,
# honouring the collection's tests/sanity/ignore-2.14.txt. Then
# ansible-doc renders the documentation and ansible-galaxy builds the
# collection.
test_docs() {
	local vm=/usr/lib/python3/dist-packages/ansible_test/_util/controller/sanity/validate-modules/validate.py
	local c=$T/ans-collections/ansible_collections/cnf/apply out ignored

	[ -f "$vm" ] || { t_skip "validate-modules not found at $vm"; return; }
	/usr/bin/python3 -c 'import voluptuous' 2>/dev/null ||
		{ t_skip "python3-voluptuous not installed (scripts/setup.sh installs it)"; return; }
	out=$(cd "$c" && /usr/bin/python3 "$vm" --format json --arg-spec --collection ansible_collections/cnf/apply \
		--collection-version "$(awk '/^version:/ { print $2 }' galaxy.yml)" plugins/modules/cnf_apply.py 2>&1)
	echo "$out"
	ignored=$(sed -n 's/^plugins\/modules\/cnf_apply.py validate-modules:\([^ ]*\).*/\1/p' \
		"$COLLECTION/tests/sanity/ignore-2.14.txt" | jq -R . | jq -s -c .)
	assert_jq "$out" "[.[\"plugins/modules/cnf_apply.py\"].errors[].code] - $ignored == []" \
		"validate-modules: no error but those the collection's ignore file lists"
	assert_jq "$out" '[.[].traces[]] == []' "validate-modules: no traceback"

	out=$(ansible-doc -t module cnf.apply.cnf_apply 2>&1)
	assert_contains "$out" "ATTRIBUTES" "ansible-doc shows the attributes"
	assert_contains "$out" "prune_from" "ansible-doc shows the options"
	out=$(cd "$W" && ansible-galaxy collection build "$COLLECTION" 2>&1)
	assert_ok "ansible-galaxy collection build: $out" test -f "$W/cnf-apply-0.1.0.tar.gz"
}

if ! command -v ansible-playbook >/dev/null; then
	skip "ansible" "ansible-playbook not installed (apt-get install ansible-core; scripts/setup.sh does)"
	exit 0
fi
ans_env
run_test "the module's documentation passes validate-modules; the collection builds" test_docs
run_test "check mode changes nothing; --diff shows the attachments as people read them" test_check_and_diff
run_test "a bad manifest fails with the tool's message, before /etc/cnf.d changes" test_bad_manifest
run_test "state=absent destroys (check mode: plan --destroy)" test_absent
