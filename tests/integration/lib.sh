# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# Shared harness for the integration tests. A test file looks like:
#
#   . "$(dirname "$0")/lib.sh"
#   lib_setup "$@"
#
#   test_something() {
#       veth_add t0 t0p
#       cat >"$W/m.yaml" <<EOF ... EOF
#       cnf_json apply "$W/m.yaml"
#       assert_rc 0
#       assert_jq "$OUT" '.changed == true' "first apply changes something"
#       assert_eq "$(xdp_prog_id t0)" "$(jq '.actions[0].prog_id' <<<"$OUT")" "bpftool sees our program"
#   }
#   run_test "something works" test_something
#
# lib_setup re-executes the file inside a new network and mount namespace
# (unshare -n -m, private propagation), so interfaces, bpffs mounts and
# netns files a test creates disappear with it. Inside, it provides:
#
#   $T        temp dir of this run (removed on exit; CNF_TEST_KEEP=1 keeps it)
#   $W        per-test work dir, fresh for every test; $W/objs holds copies
#             of every test object ($TEST_OBJS/*.bpf.o), free to overwrite
#   $T/bpffs  private bpffs, the tool's state root (--bpffs)
#   $T/fpin   a second private bpffs, for programs other tools attach
#   $CG2      the cgroup2 mount; $CG a child cgroup of it for this run,
#             $CG_REL the same path relative to $CG2
#
# Every test starts from a clean slate: the previous test's interfaces and
# netns are deleted, both bpffs instances are remounted (which drops every
# pin, so links held only by pins go away), the cgroup is recreated and $W
# is refilled. Checks go through the tool's --json output AND an
# independent view (bpftool, tc, ip), never through the tool alone.
#
# Output: one line per test ("ok", "FAIL", "skip"); a failing test's log
# (commands, tool output, failed assertions) follows its FAIL line; the
# last line is "N passed, N failed, N skipped". Exit status 1 if a test
# failed.

set -o pipefail

LIB_FILE=$(basename "$0" .sh)
LIB_NAME=${LIB_FILE#test_}

_T_PASSED=0
_T_FAILED=0
_T_SKIPPED=0
_T_SEQ=0
_T_NAME=
_T_FAILS=0
_T_SKIP=
_T_LOG=
_LIB_DONE=
_LIB_NETNS=()
_LIB_PIDS=()

# --- setup and teardown ---------------------------------------------------

_lib_summary() {
	echo "$_T_PASSED passed, $_T_FAILED failed, $_T_SKIPPED skipped"
}

# Before the re-exec: things without which no test can run.
_lib_preflight() {
	local c missing=()

	if [ "$(id -u)" -ne 0 ]; then
		echo "skip $LIB_NAME: needs root (namespaces, bpffs, BPF)"
		_T_SKIPPED=1
		_lib_summary
		exit 0
	fi
	if [ -z "${CNF:-}" ] || [ ! -x "$CNF" ]; then
		echo "FAIL $LIB_NAME: cnf-apply binary not found: CNF='${CNF:-}'"
		_T_FAILED=1
		_lib_summary
		exit 1
	fi
	if [ -z "${TEST_OBJS:-}" ] || ! compgen -G "$TEST_OBJS/*.bpf.o" >/dev/null; then
		echo "FAIL $LIB_NAME: no test objects in TEST_OBJS='${TEST_OBJS:-}'"
		_T_FAILED=1
		_lib_summary
		exit 1
	fi
	for c in unshare nsenter ip tc bpftool jq readelf mount umount mountpoint; do
		command -v "$c" >/dev/null || missing+=("$c")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "FAIL $LIB_NAME: missing commands: ${missing[*]} (run scripts/setup.sh)"
		_T_FAILED=1
		_lib_summary
		exit 1
	fi
}

lib_setup() {
	if [ -z "${CNF_TEST_INNER:-}" ]; then
		_lib_preflight
		CNF=$(realpath "$CNF")
		TEST_OBJS=$(realpath "$TEST_OBJS")
		export CNF TEST_OBJS CNF_TEST_INNER=1
		# shellcheck disable=SC2093 # the lines below run only if exec fails
		exec unshare --net --mount --propagation private -- \
			bash "$(realpath "$0")" "$@"
		echo "FAIL $LIB_NAME: cannot enter new namespaces (unshare -n -m)"
		_T_FAILED=1
		_lib_summary
		exit 1
	fi

	trap _lib_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM HUP

	ip link set lo up

	T=$(mktemp -d "/tmp/cnf-test-$LIB_NAME.XXXXXX") || exit 1
	chmod 0755 "$T"          # validate runs as an unprivileged user
	W=$T/w
	mkdir -p "$T/bpffs" "$T/fpin" "$W"
	mount -t bpf -o mode=0700 bpf "$T/bpffs" || { echo "FAIL $LIB_NAME: cannot mount bpffs"; exit 1; }
	mount -t bpf bpf "$T/fpin" || exit 1

	# tracefs, for tracepoints (and libbpf's probes). Private to this
	# mount namespace, so it does not outlive the test.
	if [ -d /sys/kernel/tracing ] && ! mountpoint -q /sys/kernel/tracing; then
		mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
	fi

	# cgroup2: the host's mount if there is one, else a private one.
	CG2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
	if [ -z "$CG2" ]; then
		CG2=$T/cgroup2
		mkdir -p "$CG2"
		mount -t cgroup2 none "$CG2" || { echo "FAIL $LIB_NAME: no cgroup2"; exit 1; }
	fi
	CG=$CG2/cnf-test-$LIB_NAME-$$
	CG_REL=${CG#"$CG2"/}
	mkdir "$CG" || { echo "FAIL $LIB_NAME: cannot create cgroup $CG"; exit 1; }

	export T W CG2 CG CG_REL
}

# Undo everything the current test created, as independently of the tool
# as possible: delete interfaces and netns, remount the bpffs instances
# (dropping every pin and with it every link only a pin held), recreate
# the cgroup, refill $W.
_t_reset() {
	local p ns dev d

	for p in "${_LIB_PIDS[@]}"; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	_LIB_PIDS=()
	for ns in "${_LIB_NETNS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	_LIB_NETNS=()
	# Every interface but lo: the namespace belongs to this run.
	for dev in $(test_ifaces); do
		ip link del dev "$dev" 2>/dev/null
	done

	for d in "$T/bpffs" "$T/fpin"; do
		umount "$d" 2>/dev/null || umount -l "$d"
		mount -t bpf -o mode=0700 bpf "$d"
	done

	if [ -d "$CG" ]; then
		find "$CG" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null
		rmdir "$CG" 2>/dev/null
	fi
	mkdir -p "$CG"

	rm -rf "$W"
	mkdir -p "$W/objs"
	cp "$TEST_OBJS"/*.bpf.o "$W/objs/"
	chmod -R a+rX "$W"
}

_lib_exit() {
	local rc=$?

	if [ -n "$_T_NAME" ]; then
		echo "aborted (exit $rc) inside the test"
		_T_FAILS=$((_T_FAILS + 1))
		t_end
	fi
	if [ -z "$_LIB_DONE" ]; then
		_LIB_DONE=1
		_t_cleanup_all
		_lib_summary
	fi
	[ "$_T_FAILED" -eq 0 ] && exit 0
	exit 1
}

_t_cleanup_all() {
	local p ns d

	for p in "${_LIB_PIDS[@]}"; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	for ns in "${_LIB_NETNS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	[ -n "${T:-}" ] || return 0
	# bpffs first: dropping the pins releases what is attached to the cgroup.
	for d in "$T/bpffs" "$T/fpin"; do
		mountpoint -q "$d" 2>/dev/null && { umount "$d" 2>/dev/null || umount -l "$d"; }
	done
	if [ -n "${CG:-}" ] && [ -d "$CG" ]; then
		find "$CG" -depth -type d -exec rmdir {} + 2>/dev/null
		[ -d "$CG" ] && echo "warning: could not remove cgroup $CG" >&2
	fi
	mountpoint -q "$T/cgroup2" 2>/dev/null && umount "$T/cgroup2"
	if [ -n "${CNF_TEST_KEEP:-}" ]; then
		echo "kept $T" >&2
	else
		# Nothing may still be mounted below $T: never recurse into a mount.
		if ! awk -v t="$T/" 'index($2, t) == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
			rm -rf "$T"
		fi
	fi
}

# --- per-test bookkeeping --------------------------------------------------

# t_begin NAME: start a test. Its output goes to a log shown only if it fails.
t_begin() {
	[ -n "$_T_NAME" ] && t_end
	_T_NAME=$1
	_T_FAILS=0
	_T_SKIP=
	_T_SEQ=$((_T_SEQ + 1))
	_T_LOG=$T/log.$_T_SEQ
	exec 3>&1 4>&2 >"$_T_LOG" 2>&1
	_t_reset
}

# t_end: finish the current test and print its line.
t_end() {
	[ -n "$_T_NAME" ] || return 0
	exec 1>&3 2>&4 3>&- 4>&-
	if [ "$_T_FAILS" -gt 0 ]; then
		_T_FAILED=$((_T_FAILED + 1))
		echo "FAIL $LIB_NAME: $_T_NAME"
		sed 's/^/    /' "$_T_LOG"
	elif [ -n "$_T_SKIP" ]; then
		_T_SKIPPED=$((_T_SKIPPED + 1))
		echo "skip $LIB_NAME: $_T_NAME: $_T_SKIP"
	else
		_T_PASSED=$((_T_PASSED + 1))
		echo "ok   $LIB_NAME: $_T_NAME"
	fi
	_T_NAME=
}

# run_test NAME FUNCTION: t_begin, run the function, t_end. A function may
# `return` early once a failed step makes the rest meaningless.
run_test() {
	t_begin "$1"
	"$2"
	t_end
}

# skip NAME REASON: count a test that cannot run here as skipped.
skip() {
	_T_SKIPPED=$((_T_SKIPPED + 1))
	echo "skip $LIB_NAME: $1: $2"
}

# t_skip REASON: inside a test: mark it skipped (the caller then returns).
t_skip() {
	_T_SKIP=$1
	echo "skipped: $1"
}

# --- assertions --------------------------------------------------------------

_fail() {
	local i=1
	# Report the line in the test file, not in this library.
	while [ "${BASH_SOURCE[$i]:-}" = "${BASH_SOURCE[0]}" ]; do
		i=$((i + 1))
	done
	_T_FAILS=$((_T_FAILS + 1))
	echo "  ASSERTION FAILED (${BASH_SOURCE[$i]##*/}:${BASH_LINENO[$((i - 1))]}): $*"
}

# A clipped, indented copy of a value, for failure messages.
_show() {
	printf '%s\n' "$1" | head -c 4000 | sed 's/^/      | /'
}

assert_eq() {
	[ "$1" == "$2" ] && return 0
	_fail "$3: got '$1', expected '$2'"
	return 1
}

assert_ne() {
	[ "$1" != "$2" ] && return 0
	_fail "$3: got '$1', expected anything else"
	return 1
}

# assert_rc N [MSG]: the exit status of the last cnf_json/cnf_run.
assert_rc() {
	[ "$RC" == "$1" ] && return 0
	_fail "${2:-exit status}: got $RC, expected $1"
	[ -n "$ERR" ] && { echo "    stderr:"; _show "$ERR"; }
	return 1
}

# assert_jq JSON FILTER MSG: the filter must print exactly `true`.
assert_jq() {
	local r
	r=$(jq -e "$2" <<<"$1" 2>&1)
	[ "$r" == true ] && return 0
	_fail "$3: jq '$2' gave '$r' on:"
	_show "$1"
	return 1
}

# assert_contains TEXT NEEDLE MSG (fixed string)
assert_contains() {
	grep -qF -- "$2" <<<"$1" && return 0
	_fail "$3: '$2' not found in:"
	_show "$1"
	return 1
}

assert_not_contains() {
	grep -qF -- "$2" <<<"$1" || return 0
	_fail "$3: '$2' unexpectedly found in:"
	_show "$1"
	return 1
}

# assert_match TEXT ERE MSG
assert_match() {
	grep -qE -- "$2" <<<"$1" && return 0
	_fail "$3: /$2/ does not match:"
	_show "$1"
	return 1
}

# assert_ok MSG CMD...: the command must succeed.
assert_ok() {
	local msg=$1 out
	shift
	out=$("$@" 2>&1) && return 0
	_fail "$msg: '$*' failed:"
	_show "$out"
	return 1
}

assert_exists() {
	[ -e "$1" ] && return 0
	_fail "$2: $1 does not exist"
	return 1
}

assert_not_exists() {
	[ ! -e "$1" ] && return 0
	_fail "$2: $1 still exists"
	return 1
}

# --- running the tool ------------------------------------------------------

_cnf_capture() {
	echo "\$ cnf-apply $*"
	"$CNF" --bpffs "$T/bpffs" "$@" >"$T/stdout" 2>"$T/stderr"
	RC=$?
	OUT=$(cat "$T/stdout")
	ERR=$(cat "$T/stderr")
	echo "  -> exit $RC"
	[ -n "$OUT" ] && { echo "  stdout:"; _show "$OUT"; }
	[ -n "$ERR" ] && { echo "  stderr:"; _show "$ERR"; }
	return 0
}

# cnf ARGS...: run the tool on the test's state root, output to the log.
cnf() {
	echo "\$ cnf-apply $*"
	"$CNF" --bpffs "$T/bpffs" "$@"
}

# cnf_json ARGS...: run with --json; stdout in $OUT, stderr in $ERR, exit
# status in $RC. The global options go first: `cnf_json apply --detailed-exitcode F`.
cnf_json() {
	_cnf_capture --json "$@"
}

# cnf_run ARGS...: like cnf_json without --json (plain text output).
cnf_run() {
	_cnf_capture "$@"
}

# cnf_strace ARGS...: cnf_json under strace; the bpf(2) calls it made are
# in $T/strace.log. Returns 1 (and the test should skip) without strace.
cnf_strace() {
	command -v strace >/dev/null || return 1
	echo "\$ strace cnf-apply --json $*"
	# LeakSanitizer cannot run under ptrace.
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -qq -e trace=bpf -o "$T/strace.log" \
		"$CNF" --bpffs "$T/bpffs" --json "$@" >"$T/stdout" 2>"$T/stderr"
	RC=$?
	OUT=$(cat "$T/stdout")
	ERR=$(cat "$T/stderr")
	echo "  -> exit $RC"
	return 0
}

# cnf_paused POINT CMD [ARGS...]: `cnf-apply --json $CNF_ARGS`, paused at
# POINT (CNF_APPLY_TEST_PAUSE: plan, checked, attach=NAME) while CMD runs,
# then let go on. Sets RC, OUT, ERR; fails the test when the run never
# reached POINT or CMD failed.
cnf_paused() {
	local point=$1 cpid rc=0
	shift

	rm -f "$T/pause" "$T/paused"
	mkfifo "$T/pause" || { _fail "mkfifo"; return 1; }
	echo "\$ CNF_APPLY_TEST_PAUSE=$point:FIFO cnf-apply --json $CNF_ARGS   (meanwhile: $*)"
	# shellcheck disable=SC2086
	CNF_APPLY_TEST_PAUSE="$point:$T/pause" \
		"$CNF" --bpffs "$T/bpffs" --json $CNF_ARGS >"$T/stdout" 2>"$T/stderr" &
	cpid=$!
	track_pid "$cpid"
	# Opening the FIFO waits for the tool to reach the point; closing it
	# (the end of this shell) lets the tool go on.
	timeout 60 bash -c 'exec 3>"$1"; echo paused >"$2"; shift 2; "$@"' _ \
		"$T/pause" "$T/paused" "$@" || rc=$?
	wait "$cpid"
	RC=$?
	OUT=$(cat "$T/stdout")
	ERR=$(cat "$T/stderr")
	echo "  -> exit $RC"
	[ -n "$ERR" ] && { echo "  stderr:"; _show "$ERR"; }
	[ -e "$T/paused" ] || { _fail "the run never reached $point"; return 1; }
	rm -f "$T/paused"
	[ "$rc" -eq 0 ] || { _fail "$* (exit $rc)"; return 1; }
	return 0
}

# bpf_calls CMD [PROG_NAME]: the strace lines of bpf(CMD, ...) from the last
# cnf_strace, optionally only those naming PROG_NAME. Iterator links count
# too: the tool pins its link iterator when it first changes something, so
# a no-op run only reads it.
bpf_calls() {
	grep -E "bpf\($1," "$T/strace.log" |
		{ if [ -n "${2:-}" ]; then grep -F "prog_name=\"$2\""; else cat; fi; }
	return 0
}

# line_of FILE TEXT: the number of the first line of FILE containing TEXT.
line_of() {
	grep -nF -m1 -- "$2" "$1" | cut -d: -f1
}

# assert_at TEXT FILE LINE... : TEXT (an error message) refers to FILE's
# basename at one of the given lines, as "NAME:LINE".
assert_at() {
	local text=$1 base alt
	base=$(basename "$2")
	shift 2
	alt=$(IFS='|'; echo "$*")
	grep -qE -- "${base//./\\.}:($alt)([^0-9]|\$)" <<<"$text" && return 0
	_fail "expected a reference to $base:{$*} in:"
	_show "$text"
	return 1
}

# jf JSON FILTER: shorthand for jq -r on a value.
jf() {
	jq -r "$2" <<<"$1"
}

# --- the host: interfaces, namespaces, processes ---------------------------

# veth_add NAME PEER: a veth pair in the test namespace, both ends up.
veth_add() {
	ip link add "$1" type veth peer name "$2" || { _fail "veth_add $1 $2"; return 1; }
	ip link set "$1" up && ip link set "$2" up
}

# test_ifaces: the interfaces of the test namespace, lo excepted.
test_ifaces() {
	ip -j link show | jq -r '.[].ifname | select(. != "lo")'
}

# netns_add NAME: a named netns (/run/netns/NAME), private to this test's
# mount namespace and deleted after the test.
netns_add() {
	if ! mountpoint -q /run/netns 2>/dev/null; then
		mkdir -p /run/netns
		mount -t tmpfs -o mode=0755 tmpfs /run/netns || { _fail "tmpfs on /run/netns"; return 1; }
	fi
	ip netns add "$1" || { _fail "ip netns add $1"; return 1; }
	_LIB_NETNS+=("$1")
	ip -n "$1" link set lo up
}

# in_netns NAME CMD...: run CMD in /run/netns/NAME, network namespace only
# (unlike `ip netns exec`, which would hide bpffs, tracefs and cgroup2).
in_netns() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" "$@"
}

# track_pid PID: killed at the end of the test.
track_pid() {
	_LIB_PIDS+=("$1")
}

# --- independent views of the kernel ---------------------------------------

# bt ARGS...: bpftool -j ARGS. bpftool 7.5 exits non-zero after some
# successful `show`s, so the status is ignored and the output judged.
bt() {
	bpftool -j "$@" 2>/dev/null
	return 0
}

link_json() {          # link_json ID -> bpftool's JSON of that link, or nothing
	bt link show id "$1"
}

link_exists() {        # link_exists ID
	[ -n "$1" ] && [ "$1" != null ] &&
		bt link show id "$1" | jq -e '.id' >/dev/null 2>&1
}

link_prog_id() {       # link_prog_id ID -> the program the link runs
	link_json "$1" | jq -r '.prog_id // empty'
}

prog_exists() {        # prog_exists ID
	[ -n "$1" ] && [ "$1" != null ] &&
		bt prog show id "$1" | jq -e '.id' >/dev/null 2>&1
}

# --- what the test owns ------------------------------------------------------
#
# Programs, links and maps are host-wide, and other test runs on the same
# host load programs of the same names at any moment: checks look only at
# what this test owns, never at host-wide lists by name:
#   - what is attached in its network namespaces (its own and every
#     netns_add one): XDP, tc, tcx, netkit and flow dissector programs
#     (bpftool net), their links (matched by ifindex and program: an ifindex
#     alone means nothing outside its namespace), netns links (sk_lookup,
#     flow_dissector) by namespace inode;
#   - what is attached to its cgroup $CG and the cgroups below it;
#   - links, programs and maps pinned under its bpffs instances ($T/bpffs,
#     $T/fpin);
#   - the programs those links run, the maps those programs use and the
#     struct_ops maps those links hold.
# Tracing links (tracepoint, uprobe, netfilter, ...) are host-wide by
# nature: they are the test's through its pins. What a run of the tool
# leaves behind outlives it only through an attachment or a pin (anything
# else dies with its file descriptors), so this view sees every leak.

# net_json_of [NETNS]: bpftool -j net in the test namespace or in
# /run/netns/NETNS, as valid JSON (bpftool 7.5 writes a flow dissector as
# '"flow_dissector":["id":N]').
net_json_of() {
	if [ -n "${1:-}" ]; then
		in_netns "$1" bpftool -j net 2>/dev/null
	else
		bt net
	fi | sed -E 's/"flow_dissector":\[("id":[0-9]+)\]/"flow_dissector":[{\1}]/'
}

# own_objects [FILTER]: {"links": [...], "progs": [...], "maps": [...]},
# what this test owns (see above), bpftool's objects sorted by id; with a
# jq FILTER, what it makes of that (its strings printed raw).
own_objects() {
	local ns d cgs

	{
		net_json_of
		for ns in "${_LIB_NETNS[@]}"; do
			net_json_of "$ns"
		done
	} >"$T/own.net"
	cgs=$(find "$CG" -type d 2>/dev/null)
	for d in $cgs; do
		bt cgroup show "$d"
	done >"$T/own.cg"
	bt -f link show >"$T/own.links"
	bt -f prog show >"$T/own.progs"
	bt -f map show >"$T/own.maps"
	jq -n -r -c --arg t "$T/" \
		--argjson inos "[$(own_netns_inos | paste -sd,)]" \
		--argjson cgids "[$(for d in $cgs; do stat -c %i "$d"; done | paste -sd,)]" \
		--slurpfile N "$T/own.net" --slurpfile C "$T/own.cg" \
		--slurpfile L "$T/own.links" --slurpfile P "$T/own.progs" --slurpfile M "$T/own.maps" '
	def has($a): . as $x | $a | any(.[]; . == $x);
	def pinned_here: any(.pinned[]?; startswith($t) and (test("/(maps|progs)\\.debug$") | not));
	[$N[][]?] as $net
	| [$net[] | (.xdp[]? | [.ifindex, .id]), (.tc[]? | [.ifindex, (.prog_id // .id)])] as $pairs
	| [$net[] | .tc[]? | .link_id // 0 | select(. > 0)] as $hook_links
	| ($L[0] // []) as $links | ($P[0] // []) as $progs | ($M[0] // []) as $maps
	| [$links[] | select(pinned_here
		or (.netns_ino != null and (.netns_ino | has($inos)))
		or (.type == "cgroup" and (.cgroup_id | has($cgids)))
		or ((.type == "xdp" or .type == "tcx" or .type == "netkit") and ([.ifindex, .prog_id] | has($pairs)))
		or (.id | has($hook_links)))] as $ol
	| ([$ol[].prog_id] + [$net[] | (.xdp[]?.id), (.tc[]? | .prog_id // .id), (.flow_dissector[]?.id)]
	   + [$C[][]?.id] + [$progs[] | select(pinned_here) | .id]) as $pids
	| [$progs[] | select(.id | has($pids))] as $op
	| ([$op[].map_ids[]?] + [$ol[].map_id // empty] + [$maps[] | select(pinned_here) | .id]) as $mids
	| {links: ($ol | sort_by(.id)), progs: ($op | sort_by(.id)),
	   maps: ([$maps[] | select(.id | has($mids))] | sort_by(.id))}
	| '"${1:-.}"
}

# own_netns_inos: the inode numbers of the test's network namespaces.
own_netns_inos() {
	local ns
	stat -L -c %i /proc/self/ns/net
	for ns in "${_LIB_NETNS[@]}"; do
		stat -L -c %i "/run/netns/$ns" 2>/dev/null
	done
}

# own_prog_ids / own_link_ids: the ids of the programs and links this test
# owns (own_objects), one per line.
own_prog_ids() {
	own_objects '.progs[].id'
}

own_link_ids() {
	own_objects '.links[].id'
}

pinned_link_id() {     # pinned_link_id PATH
	bt link show pinned "$1" | jq -r '.id // empty'
}

pinned_prog_id() {     # pinned_prog_id PATH
	bt prog show pinned "$1" | jq -r '.id // empty'
}

# state_pins: every file under the state root, one per line, without the
# maps.debug/progs.debug iterators the kernel puts in every new bpffs.
state_pins() {
	find "$T/bpffs" -mindepth 1 ! -type d ! -path "$T/bpffs/maps.debug" ! -path "$T/bpffs/progs.debug" | sort
}

# pin_of MANIFEST ATTACHMENT KEY: where the tool pins an instance.
pin_of() {
	echo "$T/bpffs/$1/links/$2/$3"
}

net_json() {           # bpftool -j net, in the current netns (net_json_of)
	net_json_of
}

xdp_entry() {          # xdp_entry DEV -> {"devname","ifindex","mode","id"} or nothing
	net_json | jq -c --arg d "$1" '.[0].xdp[] | select(.devname == $d)'
}

xdp_prog_id() {        # program attached at DEV's XDP hook (bpftool net)
	xdp_entry "$1" | jq -r '.id // empty'
}

xdp_mode() {           # driver | generic | offload
	xdp_entry "$1" | jq -r '.mode // empty'
}

# tcx_entries DEV DIR: the tcx programs on DEV ingress|egress, in run order.
tcx_entries() {
	net_json | jq -c --arg d "$1" --arg k "tcx/$2" '[.[0].tc[] | select(.devname == $d and .kind == $k)]'
}

tcx_names() {          # tcx_names DEV DIR -> "a b c" in run order
	tcx_entries "$1" "$2" | jq -r '[.[].name] | join(" ")'
}

# tc_filters DEV DIR: the bpf filters (legacy tc) on DEV ingress|egress.
tc_filters() {
	tc -j filter show dev "$1" "$2" 2>/dev/null |
		jq -c '[.[]? | select(.kind == "bpf" and .options != null)]' 2>/dev/null || echo '[]'
}

cgroup_progs() {       # cgroup_progs PATH -> bpftool -j cgroup show PATH, or []
	local out
	out=$(bt cgroup show "$1")
	[ -n "$out" ] && echo "$out" || echo '[]'
}

ip_xdp() {             # ip_xdp DEV -> the xdp object of `ip -j link show`
	ip -j link show dev "$1" | jq -c '.[0].xdp // null'
}

# snapshot_host: a canonical picture of everything a run could change, as
# this test owns it: its links, programs and maps (own_objects), the XDP,
# tc, tcx and flow dissector hooks of its namespaces, the legacy tc filters
# of its interfaces, its cgroup's programs and the pins under the state
# root. Other tools' objects on the host do not appear.
snapshot_host() {
	local dev dir ns

	own_objects '"## links", [.links[] | {id, type, prog_id, map_id}],
		"## programs", [.progs[] | {id, name, type}],
		"## maps", [.maps[] | {id, name, type}]'
	# bpftool net lists the netfilter links of every namespace: left out.
	echo "## net"
	net_json_of | jq -S -c 'map(del(.netfilter))'
	# One jq for the rest: each heading is a JSON string, printed raw.
	{
		for dev in $(test_ifaces); do
			for dir in ingress egress; do
				echo "\"## tc $dev $dir\""
				tc -j filter show dev "$dev" "$dir" 2>/dev/null
			done
		done
		for ns in "${_LIB_NETNS[@]}"; do
			echo "\"## netns $ns\""
			net_json_of "$ns" | jq -c 'map(del(.netfilter))'
		done
		echo '"## cgroup"'
		cgroup_progs "$CG"
	} | jq -r -S -c .
	echo "## pins"
	(cd "$T/bpffs" && find . | sort)
}

# assert_unchanged BEFORE MSG [SNAPSHOT]: the host looks as in an earlier
# snapshot (taken by the function SNAPSHOT, default snapshot_host).
assert_unchanged() {
	local now
	now=$(${3:-snapshot_host})
	[ "$now" == "$1" ] && return 0
	_fail "$2: the host changed:"
	diff <(printf '%s\n' "$1") <(printf '%s\n' "$now") | head -n 60 | sed 's/^/      /'
	return 1
}
