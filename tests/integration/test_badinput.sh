#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Bad input: runs the catalogue in tests/badinput/ (its README describes a
# case's files). Every case is a manifest (or several, or a directory) next
# to an `expect` descriptor. For each case, with the manifest `base`
# already applied on bi0, every verb the case names (default: apply, plan,
# validate) must
#   - exit 1 with exactly ONE "error:" line (or as many as `errors:` says),
#   - name the file and line ("FILE:LINE", or "ENTRY (FILE:LINE)" when the
#     descriptor names an entry) and contain every expected substring,
#   - leave the host as it was: neither `base` nor the valid attachment
#     `good` (bi1) next to the broken entry changes (all-or-nothing);
# apply is also run with --json: one entry in "errors", same host.
#
# Then a few cases that are not a broken manifest: root-owned 0644
# manifests and trusted symbolic links are accepted, and the permission
# checks do not apply when the tool does not run as root.
#
# The host is compared through views scoped to this test (snapshot_scoped:
# the test namespace's XDP/tc/tcx hooks and tc filters, its netns, its
# cgroup, and every pin under the state root with its inode), before the
# case's runs and after all of them. Set CNF_TEST_HOST_SNAPSHOT=1 to add
# lib.sh's snapshot_host (also the links, programs and maps the test owns;
# slower: about 0.2 s a case more).
#
# CNF_BADINPUT="NNN ..." runs only those cases (by number or directory
# name; "extra" for the cases after the catalogue).
#
# Files the test writes are 0644 and directories 0755 whatever the
# caller's umask: group-writable ones would be refused.
umask 022
. "$(dirname "$0")/lib.sh"
lib_setup "$@"

ROOT=$(cd "$(dirname "$(realpath "$0")")/../.." && pwd)
CATALOGUE=$ROOT/tests/badinput

# The catalogue's own objects (tests/badinput/objs/*.bpf.c), built by
# `make`; built here when missing.
badinput_objs() {
	local src obj missing=()

	for src in "$CATALOGUE"/objs/*.bpf.c; do
		obj=$BUILD/tests/badinput/$(basename "$src" .c).o
		[ -f "$obj" ] || missing+=("$obj")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	make -s -C "$ROOT" BUILD="$BUILD" "${missing[@]}" >&2
}

if [ -z "${BUILD:-}" ]; then
	echo "FAIL badinput: BUILD is not set (the build directory, for the catalogue's objects)"
	_T_FAILED=$((_T_FAILED + 1))
	exit 1
fi
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || {
	echo "FAIL badinput: no build directory '$BUILD'"
	_T_FAILED=$((_T_FAILED + 1))
	exit 1
}
if ! badinput_objs; then
	echo "FAIL badinput: cannot build the catalogue's objects in $BUILD/tests/badinput"
	_T_FAILED=$((_T_FAILED + 1))
	exit 1
fi

GOOD='  - name: good
    program: o/xdp_main
    hook: xdp
    interface: bi1'

# Two interfaces, `base` applied on bi0; bi1 is free for `good`.
bad_setup() {
	veth_add bi0 bi0p
	veth_add bi1 bi1p
	mkdir -p "$W/base"
	cat >"$W/base/base.yaml" <<EOF
apiVersion: cnf-apply/v1
name: base
objects:
  - name: o
    file: ../objs/xdp_v1.bpf.o
attachments:
  - name: fw
    program: o/xdp_main
    hook: xdp
    interface: bi0
EOF
	# Quietly: a failing case's log should show the case, not this.
	"$CNF" --bpffs "$T/bpffs" --json apply "$W/base/base.yaml" >"$T/stdout" 2>"$T/stderr"
	RC=$?
	ERR=$(cat "$T/stderr")
	assert_rc 0 "apply the base manifest" || return 1
	[ -n "$(xdp_prog_id bi0)" ] || { _fail "base is not attached"; return 1; }
}

# Everything a run could change, as seen from this test only. Pins are
# listed with their inode numbers: a pin removed and made again (a new
# link, program or map) has a new one.
snapshot_scoped() {
	local dev dir ns

	# bpftool lists netfilter links of every namespace: left out.
	echo "## net"
	net_json | jq -S -c 'map(del(.netfilter))'
	for dev in $(test_ifaces); do
		for dir in ingress egress; do
			echo "## tc $dev $dir"
			tc -j filter show dev "$dev" "$dir" 2>/dev/null
			echo
		done
	done
	for ns in "${_LIB_NETNS[@]}"; do
		echo "## netns $ns"
		in_netns "$ns" bpftool -j net 2>/dev/null
		echo
	done
	echo "## cgroup"
	bt cgroup show "$CG"
	echo
	echo "## pins"
	(cd "$T/bpffs" && find . -printf '%y %m %i %p\n' | sort -k4)
	if [ -n "${CNF_TEST_HOST_SNAPSHOT:-}" ]; then
		echo "## host"
		snapshot_host
	fi
}

assert_scoped_unchanged() {
	local now
	now=$(snapshot_scoped)
	[ "$now" == "$1" ] && return 0
	_fail "$2: the host changed:"
	diff <(printf '%s\n' "$1") <(printf '%s\n' "$now") | head -n 60 | sed 's/^/      /'
	return 1
}

# --- the descriptor ------------------------------------------------------

# case_load DIR: reads DIR/expect into C_* variables.
case_load() {
	local line key val

	C_ARGS=bad.yaml C_VERBS="apply plan validate" C_ENTRY='' C_PENDING='' C_NEEDS='' C_ERRORS=1
	C_AT=() C_MSGS=()
	if [ ! -f "$1/expect" ]; then
		_fail "no descriptor $1/expect"
		return 1
	fi
	while IFS= read -r line || [ -n "$line" ]; do
		[[ $line =~ ^[[:space:]]*(#|$) ]] && continue
		if [[ ! $line =~ ^([a-z]+):[[:space:]]*(.*)$ ]]; then
			_fail "$1/expect: cannot read line '$line'"
			return 1
		fi
		key=${BASH_REMATCH[1]}
		val=${BASH_REMATCH[2]}
		val=${val//@W@/$W}
		val=${val//@CGREL@/$CG_REL}
		val=${val//@CG@/$CG}
		case $key in
		what) ;;        # the test's name, read by the loop below
		args) C_ARGS=$val ;;
		verbs) C_VERBS=$val ;;
		at) C_AT+=("$val") ;;
		entry) C_ENTRY=$val ;;
		message) C_MSGS+=("$val") ;;
		pending) C_PENDING=$val ;;
		needs) C_NEEDS=$val ;;
		errors) C_ERRORS=$val ;;
		schema) ;;      # for tests/schema/check_schema.py
		*) _fail "$1/expect: unknown key '$key'"; return 1 ;;
		esac
	done <"$1/expect"
	if [ ${#C_AT[@]} -eq 0 ]; then
		_fail "$1/expect: no 'at:' line"
		return 1
	fi
}

# at_resolve SPEC: "FILE", "FILE:N" or "FILE:/TEXT/" (the first line of
# FILE containing TEXT, a fixed string) -> AT_WHERE="$W/FILE" or
# "$W/FILE:N". Not in a subshell: a failure must count.
at_resolve() {
	local spec=$1 file rest n
	file=${spec%%:*}
	rest=${spec#"$file"}
	rest=${rest#:}
	AT_WHERE=
	if [ -z "$rest" ]; then
		AT_WHERE=$W/$file
	elif [[ $rest =~ ^/(.*)/$ ]]; then
		n=$(line_of "$W/$file" "${BASH_REMATCH[1]}")
		if [ -z "$n" ]; then
			_fail "at: '${BASH_REMATCH[1]}' is not in $file"
			return 1
		fi
		AT_WHERE=$W/$file:$n
	else
		AT_WHERE=$W/$file:$rest
	fi
}

# check_refusal VERB: the last run refused the case as the descriptor says.
check_refusal() {
	local verb=$1 spec where ok='' n m re
	local -a wheres=()

	assert_rc 1 "$verb exits 1" || return 1
	n=$(grep -c '^cnf-apply: error: ' <<<"$ERR")
	assert_eq "$n" "$C_ERRORS" "$verb: number of errors" || _show "$ERR"
	for spec in "${C_AT[@]}"; do
		at_resolve "$spec" || return 1
		where=$AT_WHERE
		wheres+=("$where")
		re=$(printf '%s' "$where" | sed 's/[][\.*^$/]/\\&/g')
		if [ -n "$C_ENTRY" ]; then
			grep -qF -- "$C_ENTRY ($where)" <<<"$ERR" && ok=1
		else
			grep -qE -- "$re([^0-9]|\$)" <<<"$ERR" && ok=1
		fi
	done
	if [ -z "$ok" ]; then
		_fail "$verb: the error does not name ${C_ENTRY:+$C_ENTRY at }one of: ${wheres[*]}"
		_show "$ERR"
	fi
	for m in "${C_MSGS[@]}"; do
		assert_contains "$ERR" "$m" "$verb: the error says it"
	done
}

# template: the case's files (and its descriptor's values) may say @W@ (the
# work dir), @CG@ (this test's cgroup, absolute) and @CGREL@ (the same,
# relative to the cgroup2 mount).
template() {
	local f
	while IFS= read -r -d '' f; do
		sed -i -e "s|@W@|$W|g" -e "s|@CG@|$CG|g" -e "s|@CGREL@|$CG_REL|g" "$f"
	done < <(find "$W" -path "$W/objs" -prune -o -type f \( -name '*.yaml' -o -name '*.yml' \) -print0)
}

# run_case: the case in $CASE_DIR.
run_case() {
	local dir=$CASE_DIR before verb a fails
	local -a args=()

	case_load "$dir" || return
	if [ "$C_NEEDS" = nobody ] && ! getent passwd 65534 >/dev/null; then
		t_skip "needs a user with uid 65534"
		return
	fi
	bad_setup || return
	cp "$BUILD"/tests/badinput/*.bpf.o "$W/objs/"
	# The case's files, not its descriptor or setup script, and not with
	# the checkout's owner and modes (a checkout made with umask 002 has
	# group-writable files, which the tool refuses as root): owned by root,
	# 0644 and 0755 like a root-owned /etc/cnf.d, the objects too. A case
	# about owners or modes sets them in its setup script.
	(cd "$dir" && find . -mindepth 1 -maxdepth 1 ! -name expect ! -name setup \
		-exec cp -R {} "$W/" \;)
	find "$W" -type d -exec chmod 0755 {} + -o -type f -exec chmod 0644 {} +
	template
	if [ -f "$dir/setup" ]; then
		pushd "$W" >/dev/null || return
		# shellcheck disable=SC1091
		. "$dir/setup"
		local rc=$?
		popd >/dev/null || return
		assert_eq "$rc" 0 "the case's setup script" || return
	fi
	for a in $C_ARGS; do
		args+=("$W/$a")
	done

	fails=$_T_FAILS
	before=$(snapshot_scoped)
	for verb in $C_VERBS; do
		cnf_run "$verb" "${args[@]}"
		check_refusal "$verb"
		[ "$verb" = apply ] || continue
		cnf_json apply "${args[@]}"
		assert_rc 1 "apply --json exits 1"
		assert_jq "$OUT" "(.errors | length) == $C_ERRORS and (.error | type) == \"string\"" \
			"apply --json: the errors"
	done
	# Once for all runs: what one of them changed would still show.
	assert_scoped_unchanged "$before" "refused runs ($C_VERBS) change nothing"
	assert_eq "$(xdp_prog_id bi1)" "" "the valid attachment was not applied"
	[ -n "$(xdp_prog_id bi0)" ] || _fail "base is no longer attached"

	# A case that needs a change elsewhere: reported as skipped until then.
	if [ -n "$C_PENDING" ] && [ "$_T_FAILS" -gt "$fails" ]; then
		_T_FAILS=$fails
		t_skip "pending: $C_PENDING"
	fi
}

selected() {
	local name=$1 want
	[ -z "${CNF_BADINPUT:-}" ] && return 0
	for want in $CNF_BADINPUT; do
		[[ $name == "$want" || $name == "$want"-* ]] && return 0
	done
	return 1
}

for dir in "$CATALOGUE"/[0-9]*/; do
	dir=${dir%/}
	name=$(basename "$dir")
	selected "$name" || continue
	what=$(sed -n 's/^what:[[:space:]]*//p' "$dir/expect" 2>/dev/null | head -n 1)
	CASE_DIR=$dir
	run_test "$name: ${what:-?}" run_case
done

# --- what must still work ----------------------------------------------------

good_manifest() {       # good_manifest FILE OBJECT_PATH
	cat >"$1" <<EOF
apiVersion: cnf-apply/v1
name: ok
objects:
  - name: o
    file: $2
attachments:
$GOOD
EOF
}

test_root_owned_0644() {
	bad_setup || return
	mkdir -m 0755 "$W/etc"
	good_manifest "$W/etc/ok.yaml" ../objs/xdp_v1.bpf.o
	chmod 0644 "$W/etc/ok.yaml" "$W/objs/xdp_v1.bpf.o"
	cnf_run validate "$W/etc/ok.yaml"
	assert_rc 0 "validate"
	cnf_json apply "$W/etc"
	assert_rc 0 "apply" || return
	[ -n "$(xdp_prog_id bi1)" ] || _fail "good is attached on bi1"
}

# A link in a root-only directory to a root-owned manifest elsewhere is
# followed, and relative object paths resolve against the target's
# directory (where the manifest was written next to its objects).
test_trusted_symlink() {
	bad_setup || return
	mkdir -m 0755 "$W/etc" "$W/release"
	cp "$W/objs/xdp_v1.bpf.o" "$W/release/"
	good_manifest "$W/release/ok.yaml" xdp_v1.bpf.o
	ln -s ../release/ok.yaml "$W/etc/ok.yaml"
	cnf_run validate "$W/etc"
	assert_rc 0 "validate through the link"
	cnf_json apply "$W/etc"
	assert_rc 0 "apply through the link" || return
	[ -n "$(xdp_prog_id bi1)" ] || _fail "good is attached on bi1"
	# A sticky world-writable directory (like /tmp) is fine for root's
	# own files and links.
	chmod 1777 "$W/etc"
	cnf_json plan "$W/etc"
	assert_rc 0 "plan with a sticky, world-writable directory"
}

# Not root: nothing a manifest names can do more than its user can, so
# ownership is not checked (validate needs no root).
test_not_root_not_checked() {
	command -v setpriv >/dev/null || { t_skip "setpriv not installed"; return; }
	getent passwd 65534 >/dev/null || { t_skip "no user with uid 65534"; return; }
	mkdir -m 0777 "$W/shared"
	good_manifest "$W/shared/ok.yaml" ../objs/xdp_v1.bpf.o
	chmod 0666 "$W/shared/ok.yaml"
	echo "\$ (as nobody) cnf-apply validate $W/shared/ok.yaml"
	setpriv --reuid=65534 --regid=65534 --clear-groups -- \
		"$CNF" validate "$W/shared/ok.yaml" >"$T/stdout" 2>"$T/stderr"
	RC=$?
	ERR=$(cat "$T/stderr")
	assert_rc 0 "validate as nobody of a world-writable manifest"
	cnf_run validate "$W/shared/ok.yaml"
	assert_rc 1 "validate as root of the same manifest"
	assert_contains "$ERR" "refusing to use this manifest as root" "root refuses it"
}

if selected extra; then
	run_test "root-owned 0644 manifest and object are accepted" test_root_owned_0644
	run_test "a link to a root-owned manifest is followed" test_trusted_symlink
	run_test "not root: ownership is not checked" test_not_root_not_checked
fi
