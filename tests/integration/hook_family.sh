# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# One lifecycle, every hook family: the tests/integration/test_hook_*.sh
# files describe their family in HK_* variables and call hook_family_suite
# after lib_setup. Where `cnf-apply probe` says this kernel has the family:
#
#   create      apply creates the link; bpftool sees a link of HK_LINK_TYPE
#               running the program, pinned where the tool says; the
#               program fires (its counter moves) when HK_TRIGGER runs;
#               a second apply changes nothing and makes no BPF_PROG_LOAD
#               or BPF_LINK_CREATE (strace); status says in-sync
#   change      a new object version: plan and apply say HK_UPDATE
#               ("update in-place", "replace make-before-break", ...);
#               bpftool sees the same link with the new program (in place)
#               or the old link gone and a new one (replace); the new
#               version fires
#   delete      the attachment removed from the manifest: its link and
#               pin are gone
#   missing     a target that does not exist (HK_MISSING): exit 1, the
#               error names file:line and HK_MISSING_MSG, nothing changed
#
# and where it does not: `refused` (exit 1 naming HK_REFUSE_MSG, nothing
# changed) runs, and the four above are reported as skipped by name.
#
#   HK_HOOK         hook name (also its key in `probe --json`)
#   HK_OBJ          test object family: $W/objs/${HK_OBJ}_v1.bpf.o and _v2
#   HK_ATT          YAML lines of the attachment below `hook:` (4 spaces)
#   HK_MISSING      the same, naming a target that does not exist
#   HK_MISSING_MSG  what the error must say about it
#   HK_REFUSE_ATT   attachment lines usable on a kernel without the family
#                   (default HK_ATT)
#   HK_REFUSE_MSG   what the refusal must say (an ERE)
#   HK_LINK_TYPE    bpftool's name of the link type
#   HK_UPDATE       "update in-place", "replace make-before-break" or
#                   "replace break-before-make"
#   HK_SLOT         slot of `counters` the program counts in (empty: none)
#   hk_trigger      function making the program run (optional)
#   hk_setup        function run first in every test (optional)
#   hk_oracle       function ACTION_JSON checking the hook from outside,
#                   beyond the link (optional)

HK_SLOT=${HK_SLOT:-}

hk_supported() {
	"$CNF" probe --json 2>/dev/null | jq -e --arg h "$HK_HOOK" '.hooks[$h].supported == true' >/dev/null
}

# hk_manifest FILE [YAML]: manifest `m` with object `t` and attachment `a1`
# (YAML: its lines after `hook:`, default HK_ATT; "none": no attachment).
hk_manifest() {
	local file=$1 att=${2:-$HK_ATT}
	[ -e "$W/objs/hk.bpf.o" ] || cp "$W/objs/${HK_OBJ}_v1.bpf.o" "$W/objs/hk.bpf.o"
	{
		cat <<EOF
apiVersion: cnf-apply/v1
name: m
objects:
  - name: t
    file: objs/hk.bpf.o
attachments:
EOF
		if [ "$att" = none ]; then
			echo "  []"
		else
			echo "  - name: a1"
			echo "    hook: $HK_HOOK"
			printf '%s\n' "$att"
		fi
	} >"$file"
}

# hk_count PROG_ID: the program's counter in slot HK_SLOT.
hk_count() {
	local m
	for m in $(bt prog show id "$1" | jq -r '.map_ids[]?'); do
		if [ "$(bt map show id "$m" | jq -r '.name')" = counters ]; then
			bt map lookup id "$m" key "$HK_SLOT" 0 0 0 | jq -r '.formatted.value // empty'
			return 0
		fi
	done
}

# hk_fires PROG_ID VERSION: the trigger makes the program count (VERSION
# per event: the test objects' versions add 1 and 2).
hk_fires() {
	local before after
	[ -n "$HK_SLOT" ] && declare -F hk_trigger >/dev/null || return 0
	before=$(hk_count "$1")
	hk_trigger
	after=$(hk_count "$1")
	if [ -z "$after" ] || [ "$after" -le "${before:-0}" ]; then
		_fail "program $1 did not run on its event (counter ${before:-?} -> ${after:-?})"
		return 1
	fi
	[ $(((after - ${before:-0}) % $2)) -eq 0 ] ||
		_fail "program $1 counted $((after - ${before:-0})), not a multiple of version $2"
}

hk_setup_maybe() {
	if declare -F hk_setup >/dev/null; then
		hk_setup || { _fail "setup"; return 1; }
	fi
	return 0
}

# hk_apply_create: apply the manifest, check the create; sets LID and PID.
hk_apply_create() {
	hk_manifest "$W/m.yaml"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply" || return 1
	assert_jq "$OUT" ".changed == true and (.actions | length) == 1 and .actions[0].action == \"create\"
		and .actions[0].hook == \"$HK_HOOK\" and .actions[0].attachment == \"a1\"" "JSON: one create" || return 1
	LID=$(jf "$OUT" '.actions[0].link_id')
	PID=$(jf "$OUT" '.actions[0].prog_id')
	TARGET=$(jf "$OUT" '.actions[0].target')
	return 0
}

test_hk_create() {
	local lj key
	hk_setup_maybe || return
	hk_apply_create || return
	lj=$(link_json "$LID")
	assert_jq "$lj" ".type == \"$HK_LINK_TYPE\"" "bpftool link: a $HK_LINK_TYPE link" || return
	if [ "$PID" != null ]; then
		assert_jq "$lj" ".prog_id == $PID" "bpftool link: runs the program the tool reports"
		assert_eq "$(bt prog show id "$PID" | jq -r '.id')" "$PID" "bpftool prog: the program is loaded"
	fi
	key=$(find "$T/bpffs/m/links/a1" -mindepth 1 -maxdepth 1 | head -n 1)
	assert_eq "$(pinned_link_id "$key")" "$LID" "the link is pinned under <root>/m/links/a1/"
	declare -F hk_oracle >/dev/null && hk_oracle "$OUT"
	[ "$PID" != null ] && hk_fires "$PID" 1

	if cnf_strace apply "$W/m.yaml"; then
		assert_rc 0 "second apply"
		assert_jq "$OUT" '.changed == false and all(.actions[]; .action == "noop")' "second apply: nothing to do"
		assert_eq "$(bpf_calls BPF_PROG_LOAD | wc -l)" 0 "second apply loads no program"
		assert_eq "$(bpf_calls BPF_LINK_CREATE | wc -l)" 0 "second apply creates no link"
	else
		cnf_json apply "$W/m.yaml"
		assert_jq "$OUT" '.changed == false' "second apply: nothing to do"
	fi
	cnf_json status "$W/m.yaml"
	assert_rc 0 "status: in sync"
	assert_jq "$OUT" ".attachments | length == 1 and .[0].state == \"in-sync\" and .[0].link_id == $LID" \
		"status: in-sync with the link"
	assert_ok "link still there after the no-op" link_exists "$LID"
}

test_hk_change() {
	local action=${HK_UPDATE% *} strategy=${HK_UPDATE#* } lid2 pid2
	hk_setup_maybe || return
	hk_apply_create || return
	cp "$W/objs/${HK_OBJ}_v2.bpf.o" "$W/objs/hk.bpf.o"
	cnf_json plan "$W/m.yaml"
	assert_rc 2 "plan sees the new version"
	assert_jq "$OUT" ".actions[0].action == \"$action\" and .actions[0].strategy == \"$strategy\"" \
		"plan: $HK_UPDATE"
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply v2" || return
	assert_jq "$OUT" ".changed == true and .actions[0].action == \"$action\" and .actions[0].strategy == \"$strategy\"" \
		"apply: $HK_UPDATE" || return
	lid2=$(jf "$OUT" '.actions[0].link_id')
	pid2=$(jf "$OUT" '.actions[0].prog_id')
	if [ "$action" = update ]; then
		assert_eq "$lid2" "$LID" "in place: the same link"
		[ "$PID" != null ] && assert_eq "$(link_prog_id "$LID")" "$pid2" "bpftool link: the link runs the new program"
	else
		assert_ne "$lid2" "$LID" "replace: a new link"
		link_exists "$LID" && _fail "the old link $LID still exists"
		assert_ok "the new link exists" link_exists "$lid2"
		assert_jq "$(link_json "$lid2")" ".type == \"$HK_LINK_TYPE\"" "bpftool link: the new link's type"
	fi
	[ "$PID" != null ] && assert_ne "$pid2" "$PID" "a new program"
	assert_eq "$(pinned_link_id "$(find "$T/bpffs/m/links/a1" -mindepth 1 -maxdepth 1 | head -n 1)")" "$lid2" \
		"the pin holds the current link"
	declare -F hk_oracle >/dev/null && hk_oracle "$OUT"
	[ "$PID" != null ] && hk_fires "$pid2" 2
	cnf_json apply "$W/m.yaml"
	assert_jq "$OUT" '.changed == false' "apply after the change: nothing to do"
}

test_hk_delete() {
	hk_setup_maybe || return
	hk_apply_create || return
	hk_manifest "$W/m.yaml" none
	cnf_json apply "$W/m.yaml"
	assert_rc 0 "apply without the attachment" || return
	assert_jq "$OUT" '.changed == true and .actions[0].action == "delete"' "JSON: delete"
	link_exists "$LID" && _fail "link $LID still exists"
	[ -z "$(find "$T/bpffs/m/links" -mindepth 2 2>/dev/null)" ] || _fail "pins left: $(find "$T/bpffs/m/links" -mindepth 2)"
	cnf_json status "$W/m.yaml"
	assert_jq "$OUT" '.attachments | length == 0' "status: nothing left"
}

test_hk_missing() {
	local before line
	hk_setup_maybe || return
	hk_manifest "$W/m.yaml" "$HK_MISSING"
	before=$(snapshot_host)
	cnf_json apply "$W/m.yaml"
	assert_rc 1 "apply with a missing target"
	assert_jq "$OUT" '.error | type == "string"' "JSON: an error document"
	assert_contains "$ERR" "$HK_MISSING_MSG" "the error says what is missing"
	line=$(line_of "$W/m.yaml" "- name: a1")
	assert_at "$ERR" "$W/m.yaml" "$line" "$((line + 1))" "$((line + 2))" "$((line + 3))" "$((line + 4))" \
		"$((line + 5))"
	assert_unchanged "$before" "nothing changed"
	cnf_json plan "$W/m.yaml"
	assert_rc 1 "plan refuses it too"
}

test_hk_refused() {
	local before plan_err
	hk_manifest "$W/m.yaml" "${HK_REFUSE_ATT:-$HK_ATT}"
	before=$(snapshot_host)
	cnf_json plan "$W/m.yaml"
	assert_rc 1 "plan on a kernel without $HK_HOOK"
	assert_match "$ERR" "$HK_REFUSE_MSG" "plan's refusal names what the kernel lacks"
	plan_err=$ERR
	cnf_json apply "$W/m.yaml"
	assert_rc 1 "apply on a kernel without $HK_HOOK"
	assert_match "$ERR" "$HK_REFUSE_MSG" "the refusal names what the kernel lacks"
	assert_eq "$ERR" "$plan_err" "apply refuses as plan said"
	assert_contains "$ERR" "attachment 'a1'" "the refusal names the attachment"
	assert_unchanged "$before" "nothing changed"
}

# hook_family_suite [LABEL]: the family's tests; LABEL prefixes their names
# (a file that runs the suite for several families, e.g. uprobe and
# uretprobe).
hook_family_suite() {
	local p=${1:+$1: }

	if hk_supported; then
		run_test "${p}create, no-op, status" test_hk_create
		run_test "${p}program change: $HK_UPDATE" test_hk_change
		run_test "${p}delete" test_hk_delete
		if [ -n "${HK_MISSING:-}" ]; then
			run_test "${p}missing target fails validation" test_hk_missing
		fi
	else
		local why="this kernel ($(uname -r)) has no $HK_HOOK (cnf-apply probe)"
		run_test "${p}refused on a kernel without it" test_hk_refused
		skip "${p}create, no-op, status" "$why"
		skip "${p}program change: $HK_UPDATE" "$why"
		skip "${p}delete" "$why"
		[ -n "${HK_MISSING:-}" ] && skip "${p}missing target fails validation" "$why"
	fi
}
