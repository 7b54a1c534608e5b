#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The promise of plan, tested on generated cases: manifests of the hook
# families this host runs (XDP with modes, tcx with order/before/after,
# legacy tc with priority/handle, cgroup; names, globs, lists; several
# manifests, as a directory or as files; now and then --target), applied
# over a host another tool, a person or a killed run has changed
# (tests/property/gen.py; a case is a function of its seed). For every
# case:
#
#   plan exits 1  <=>  apply exits 1, with plan's errors, and the test's
#                      hooks, cgroups and state root are as before;
#   otherwise          apply exits 0 having done exactly the planned
#                      actions (action, manifest, attachment, target), and
#                      the next plan is a no-op (exit 0, changed false).
#
# Every case under tests/property/regressions/ is replayed first (one with
# a `known` file is a known failure: reported as skipped, with its reason;
# a generated case failing as its "match:" line says is reported so too).
# A failing generated case is shrunk (things removed while it still
# fails), printed with its seed, and stored there as a new regression.
#
#   CNF_PROPERTY_CASES   how many generated cases (default 100; 25 under ASan)
#   CNF_PROPERTY_SEED    the first case's seed (default 1): seeds SEED..SEED+CASES-1
#   CNF_PROPERTY_SAVE=0  do not store failing cases under tests/property/regressions/
#   CNF_PROPERTY_LOG=FILE  append every case's log to FILE
#   CNF_PROPERTY_REPORTS  how many failing cases are shrunk and stored (default 3)
. "$(dirname "$0")/lib.sh"
lib_setup "$@"

PROP_DIR=$(cd "$(dirname "$0")/../property" && pwd)
GEN=(/usr/bin/python3 "$PROP_DIR/gen.py")
KILLAT=(/usr/bin/python3 "$PROP_DIR/killat.py")
case "${BUILD:-}" in
*-san) PROP_CASES=${CNF_PROPERTY_CASES:-25} ;;
*) PROP_CASES=${CNF_PROPERTY_CASES:-100} ;;
esac
PROP_SEED=${CNF_PROPERTY_SEED:-1}
PROP_FOREIGN=0

# ---- the host ----------------------------------------------------------

# prop_view: what a run may change, scoped to this test: its namespace's
# hooks (bpftool net, legacy tc filters), its cgroups' programs and the
# pins of its state root. (Raw tool output where it will do: a jq costs
# more than a cnf-apply run.)
prop_view() {
	local dev dir cg

	# Only XDP and tc: bpftool lists netfilter links host-wide.
	bt net | jq -S -c '[.[] | {xdp, tc}]'
	for dev in /sys/class/net/*; do
		dev=${dev##*/}
		[ "$dev" = lo ] && continue
		for dir in ingress egress; do
			echo "tc $dev $dir:"
			tc -j filter show dev "$dev" "$dir" 2>/dev/null
		done
	done
	for cg in "$CG" "$CG/a"; do
		echo "cgroup ${cg#"$CG"}:"
		bt cgroup show "$cg"
	done
	(cd "$T/bpffs" && find . | sort)
}

# prop_step OP DEV DIR MODE PRIO HANDLE TYPE MULTI TO K SET POINT: one
# perturbation of the host (gen.py's STEP, "-" for a field it has not).
prop_step() {
	local op=$1 dev=$2 dir=$3 mode=$4 prio=$5 handle=$6 type=$7 multi=$8 to=$9
	local k=${10} set=${11} point=${12} pin pid n line prog cpid what

	echo "## step: $*"
	PROP_FOREIGN=$((PROP_FOREIGN + 1))
	case $op in
	foreign_xdp)
		ip link set dev "$dev" "xdp$mode" obj "$W/objs/foreign.bpf.o" sec xdp ;;
	foreign_tc)
		tc qdisc add dev "$dev" clsact 2>/dev/null
		tc filter add dev "$dev" "$dir" prio "$prio" handle "$handle" \
			bpf da obj "$W/objs/foreign.bpf.o" sec tc ;;
	foreign_tcx)
		bpftool prog loadall "$W/objs/foreign.bpf.o" "$T/fpin/f$PROP_FOREIGN" &&
			bpftool net attach "tcx_$dir" pinned "$T/fpin/f$PROP_FOREIGN/tc_foreign" dev "$dev" ;;
	foreign_cgroup)
		case $type in
		ingress | egress) prog=skb_$type ;;
		*) prog=$type ;;
		esac
		[ "$multi" = true ] && multi=(multi) || multi=()
		bpftool prog loadall "$W/objs/cgroup_progs.bpf.o" "$T/fpin/c$PROP_FOREIGN" &&
			bpftool cgroup attach "$CG" "$type" pinned "$T/fpin/c$PROP_FOREIGN/$prog" "${multi[@]}" ;;
	rename)
		ip link set dev "$dev" down && ip link set dev "$dev" name "$to" &&
			ip link set dev "$to" up ;;
	delete)
		ip link del dev "$dev" ;;
	add)
		ip link add "$dev" type veth peer name "q${dev#p}" &&
			ip link set "$dev" up && ip link set "q${dev#p}" up ;;
	detach)
		mapfile -t pins < <(find "$T/bpffs" -path '*/links/*' ! -type d | sort)
		n=${#pins[@]}
		[ "$n" -gt 0 ] || { echo "(no managed link)"; return 0; }
		pin=${pins[$((k % n))]}
		echo "detaching $pin"
		if [ -n "$(pinned_link_id "$pin")" ]; then
			bpftool link detach pinned "$pin"
		else
			# A legacy tc filter: the pin is its program.
			pid=$(pinned_prog_id "$pin")
			for dev in $(test_ifaces); do
				for dir in ingress egress; do
					tc -j filter show dev "$dev" "$dir" 2>/dev/null |
						jq -r --argjson p "${pid:-0}" \
							'.[]? | select(.options.prog.id? == $p) | "\(.pref) \(.options.handle)"' |
						while read -r line; do
							# shellcheck disable=SC2086 # "PREF HANDLE"
							set -- $line
							tc filter del dev "$dev" "$dir" pref "$1" handle "$2" bpf
						done
				done
			done
		fi ;;
	kill)
		mapfile -t paths < <("${GEN[@]}" render "$PROP_CASE" "$set" "$PROP_W" "$CG")
		rm -f "$T/pause" && mkfifo "$T/pause"
		CNF_APPLY_TEST_PAUSE="$point:$T/pause" \
			"$CNF" --bpffs "$T/bpffs" --json apply "${paths[@]}" >"$T/kill.out" 2>&1 &
		cpid=$!
		what=$("${KILLAT[@]}" "$cpid")
		[ "$what" != timeout ] || kill -9 "$cpid"
		wait "$cpid"
		echo "apply of $set paused at $point: $what (exit $?)"
		;;
	esac
	echo "-> step exit $?"
	return 0
}

# prop_setup: the case's interfaces, cgroups and pre-apply, then its steps.
prop_setup() {
	local dev pre line

	{
		read -r -a PROP_IFACES
		read -r pre
		mapfile -t PROP_STEPS
	} < <("${GEN[@]}" script "$PROP_CASE")
	for dev in "${PROP_IFACES[@]}"; do
		ip link add "$dev" type veth peer name "q${dev#p}" &&
			ip link set "$dev" up && ip link set "q${dev#p}" up
	done
	mkdir -p "$CG/a" "$PROP_W/d"
	ln -sfn "$W/objs" "$PROP_W/d/objs"
	if [ "$pre" = pre ]; then
		mapfile -t paths < <("${GEN[@]}" render "$PROP_CASE" pre "$PROP_W" "$CG")
		cnf_json apply "${paths[@]}"
	fi
	for line in "${PROP_STEPS[@]}"; do
		local IFS=$'\t'
		# shellcheck disable=SC2086 # the step's fields
		prop_step $line 2>&1
	done
}

# What plan and apply said, and how that breaks the promise (one jq, given
# $p, $a: their JSON documents, $prc/$arc: their exit statuses, $next: the
# next plan's document and $nrc its exit status, $links: the link ids
# bpftool lists after the apply). Prints the violations.
# shellcheck disable=SC2016 # jq's own \( ) and $names
PROP_JUDGE='
def acts: [.actions[]? | [.action, .manifest, .attachment, .target]];
def errs: (.errors // [.error // empty]) | join("; ");
if $prc == 1 then
	(if $arc != 1 then "plan refused (\($p | errs)), apply exited \($arc)" else empty end),
	(if $arc == 1 and ($a | errs) != ($p | errs)
	 then "apply'"'"'s errors are not plan'"'"'s: plan: \($p | errs); apply: \($a | errs)" else empty end)
elif $prc == 0 or $prc == 2 then
	if $arc != 0 then "plan exited \($prc), apply exited \($arc): \($a | errs)"
	else
		(if ($p | acts) != ($a | acts)
		 then "apply'"'"'s actions are not plan'"'"'s: plan: \($p | acts); apply: \($a | acts)" else empty end),
		(if $p.changed != $a.changed then "plan said changed \($p.changed), apply \($a.changed)" else empty end),
		([$a.actions[]? | select(.action != "delete" and (.link_id // 0) != 0) | .link_id] - $links |
		 if . != [] then "bpftool does not list the links apply reported: \(.)" else empty end),
		([$p.actions[]? | select(.action == "delete" and (.link_id // 0) != 0) | .link_id] |
		 . - (. - $links) | if . != [] then "the links of planned deletes are still there: \(.)" else empty end),
		(if $nrc != 0 or $next.changed != false
		 then "the next plan is not a no-op (exit \($nrc)): \($next | acts) \($next | errs)" else empty end)
	end
else "plan exited \($prc): \($p | errs)"
end'

# prop_case FILE: run one case; its violations of the promise, one a line,
# in PROP_VERDICT (empty: it holds).
prop_case() {
	local before after prc pout arc aout nrc=0 nout='{}' paths v links

	PROP_CASE=$1
	PROP_VERDICT=
	PROP_W=$W/case
	prop_setup
	mapfile -t paths < <("${GEN[@]}" render "$PROP_CASE" final "$PROP_W" "$CG")
	echo "## final manifests (${paths[*]}):"
	cat "$PROP_W"/d/*.yaml 2>/dev/null

	before=$(prop_view)
	cnf_json plan "${paths[@]}"
	prc=$RC pout=${OUT:-null}
	after=$(prop_view)
	[ "$after" == "$before" ] || prop_violation "plan changed the host" "$before" "$after"
	cnf_json apply "${paths[@]}"
	arc=$RC aout=${OUT:-null}
	after=$(prop_view)
	if [ "$prc" = 1 ]; then
		[ "$after" == "$before" ] || prop_violation "a refused apply changed the host" "$before" "$after"
	elif [ "$prc" = 0 ] && [ "$arc" = 0 ]; then
		[ "$after" == "$before" ] ||
			prop_violation "plan had nothing to change, and apply changed the host" "$before" "$after"
	fi
	links=$(bt link show | jq -c '[.[].id]')
	if [ "$arc" = 0 ]; then
		cnf_json plan "${paths[@]}"
		nrc=$RC nout=${OUT:-null}
	fi
	echo "## outcome: plan $prc, apply $arc, next plan $nrc"
	v=$(jq -n -r --argjson p "$pout" --argjson a "$aout" --argjson next "$nout" \
		--argjson prc "$prc" --argjson arc "$arc" --argjson nrc "$nrc" --argjson links "${links:-[]}" "$PROP_JUDGE" 2>&1)
	[ -z "$v" ] || prop_violation "$v"
	PROP_OUTCOME="$prc/$arc"
}

# prop_violation WHAT [BEFORE AFTER]: record a broken promise (with how the
# host changed).
prop_violation() {
	PROP_VERDICT+="$1"$'\n'
	echo "VIOLATION: $1"
	[ $# -lt 3 ] || diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | head -n 40 | sed 's/^/      /'
}

# prop_run FILE: prop_case on a clean slate, its log in $T/case.log.
prop_run() {
	_t_reset
	prop_case "$1" >"$T/case.log" 2>&1
	[ -z "$PROP_VERDICT" ]
}

# prop_shrink FILE: FILE made as small as it goes while it still fails.
prop_shrink() {
	local budget=${CNF_PROPERTY_SHRINK_RUNS:-60} found=1 cand

	while [ "$found" = 1 ] && [ "$budget" -gt 0 ]; do
		found=0
		"${GEN[@]}" shrink "$1" >"$T/cands"
		while read -r cand && [ "$budget" -gt 0 ]; do
			budget=$((budget - 1))
			printf '%s\n' "$cand" >"$T/cand.json"
			if ! prop_run "$T/cand.json"; then
				cp "$T/cand.json" "$1"
				found=1
				break
			fi
		done <"$T/cands"
	done
}

# prop_report FILE: a failing case: shrink it, print it with its seed and
# how it fails, and store it as a regression case.
prop_report() {
	local seed dir keep verdict

	seed=$(jq .seed "$1")
	verdict=$PROP_VERDICT
	echo "FAILING CASE: seed $seed (CNF_PROPERTY_SEED=$seed CNF_PROPERTY_CASES=1)"
	echo "broken promise:"
	printf '%s' "$verdict" | sed 's/^/  /'
	echo "log of the run:"
	sed 's/^/  /' "$T/case.log"
	keep=$T/min.json
	cp "$1" "$keep"
	prop_shrink "$keep"
	if prop_run "$keep"; then
		echo "(it does not fail again: flaky; stored whole)"
		keep=$1
	else
		verdict=$PROP_VERDICT
		echo "shrunk, it fails so:"
		printf '%s' "$verdict" | sed 's/^/  /'
		echo "log of the shrunk run:"
		sed 's/^/  /' "$T/case.log"
	fi
	echo "reproduction:"
	"${GEN[@]}" show "$keep" | sed 's/^/  /'
	[ "${CNF_PROPERTY_SAVE:-1}" != 0 ] || return 0
	dir=$PROP_DIR/regressions/seed-$seed
	[ -e "$dir" ] && return 0
	if mkdir -p "$dir" 2>/dev/null; then
		jq -S . "$keep" >"$dir/case.json"
		{
			echo "seed $seed; broken promise:"
			printf '%s' "$verdict" | sed 's/^/  /'
			"${GEN[@]}" show "$keep"
		} >"$dir/README"
		echo "stored as tests/property/regressions/seed-$seed"
	fi
}

# ---- the tests -------------------------------------------------------------

replay() {
	local dir=$PROP_REPLAY
	if prop_run "$dir/case.json"; then
		[ ! -e "$dir/known" ] ||
			echo "note: marked known, and holds now: remove $dir/known"
		return
	fi
	if [ -e "$dir/known" ]; then
		t_skip "known failure: $(head -n 1 "$dir/known")"
		return
	fi
	_fail "regression $(basename "$dir") fails again:"
	printf '%s' "$PROP_VERDICT" | sed 's/^/  /'
	"${GEN[@]}" show "$dir/case.json" | sed 's/^/  /'
	sed 's/^/  /' "$T/case.log"
}

for d in "$PROP_DIR"/regressions/*/; do
	[ -e "$d/case.json" ] || continue
	PROP_REPLAY=${d%/}
	run_test "regression $(basename "$d")" replay
done

# prop_known: the reason of the known failure (a regression case's `known`
# file: its first line the reason, a line "match: ERE" what its broken
# promise says) that PROP_VERDICT matches, or nothing.
prop_known() {
	local k re
	for k in "$PROP_DIR"/regressions/*/known; do
		[ -e "$k" ] || continue
		re=$(sed -n 's/^match: //p' "$k")
		[ -n "$re" ] && grep -qE -- "$re" <<<"$PROP_VERDICT" &&
			{ echo "$(head -n 1 "$k") ($(basename "$(dirname "$k")"))"; return; }
	done
}

PROP_KNOWN=()

generated() {
	local seed failures=0 last=$((PROP_SEED + PROP_CASES - 1)) o why
	local -A tally=()

	for ((seed = PROP_SEED; seed <= last; seed++)); do
		"${GEN[@]}" case "$seed" >"$T/case.json"
		prop_run "$T/case.json"
		o=$?
		[ -z "${CNF_PROPERTY_LOG:-}" ] || { echo "#### seed $seed"; cat "$T/case.log"; } >>"$CNF_PROPERTY_LOG"
		tally[$PROP_OUTCOME]=$((${tally[$PROP_OUTCOME]:-0} + 1))
		[ "$o" = 0 ] && continue
		why=$(prop_known)
		if [ -n "$why" ]; then
			# Reported as skipped after the batch, never as passed.
			echo "seed $seed: known failure: $why"
			printf '%s' "$PROP_VERDICT" | sed 's/^/  /'
			PROP_KNOWN+=("seed $seed|known failure: $why")
			tally[known]=$((${tally[known]:-0} + 1))
			continue
		fi
		failures=$((failures + 1))
		_fail "seed $seed breaks the promise"
		cp "$T/case.json" "$T/failed-$seed.json"
		[ "$failures" -le "${CNF_PROPERTY_REPORTS:-3}" ] && prop_report "$T/failed-$seed.json"
	done
	# On the run's own output too (fd 3, see t_begin): what the cases did.
	echo "note $LIB_NAME: $PROP_CASES cases, $failures failed; plan/apply exit statuses:" \
		"$(for o in "${!tally[@]}"; do echo "$o: ${tally[$o]}"; done | sort | paste -sd, -)" |
		tee /dev/fd/3
}

if [ "$PROP_CASES" -gt 0 ]; then
	run_test "$PROP_CASES generated cases (seeds $PROP_SEED..$((PROP_SEED + PROP_CASES - 1)))" generated
	for k in "${PROP_KNOWN[@]}"; do
		skip "${k%%|*}" "${k#*|}"
	done
fi
