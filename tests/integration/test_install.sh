#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# `make install` (DESTDIR, PREFIX): the tree it lays out, that what it
# installs works from there (the binary, the example manifests with their
# objects beside them), and the bash completion it installs, loaded the
# way bash-completion loads it and driven through COMP_WORDS/COMP_CWORD.
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$(realpath "$0")")/../.." && pwd)
BUILD=$(realpath "${BUILD:-$ROOT/build}")
export BUILD
lib_setup "$@"

# make_install DESTDIR PREFIX [VAR=VALUE...]: log in $T/install.log.
# PREFIX "-": the Makefile's default.
make_install() {
	local destdir=$1 prefix=$2
	shift 2
	[ "$prefix" = - ] || set -- PREFIX="$prefix" "$@"
	echo "\$ make install DESTDIR=$destdir $*"
	# -o: install the binary under test as it is, never relink it here.
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$ROOT" --no-print-directory \
		-o "$BUILD/cnf-apply" BUILD="$BUILD" DESTDIR="$destdir" "$@" install \
		>"$T/install.log" 2>&1
	local rc=$?
	[ $rc -eq 0 ] || _show "$(tail -n 30 "$T/install.log")"
	return $rc
}

assert_mode() {        # assert_mode FILE MODE MSG
	assert_eq "$(stat -c %a "$1" 2>/dev/null)" "$2" "$3"
}

test_tree() {
	local r=$W/root d ex m

	assert_ok "make install DESTDIR=... PREFIX=/usr" make_install "$r" /usr || return
	assert_mode "$r/usr/sbin/cnf-apply" 755 "binary in sbin, executable"
	assert_mode "$r/usr/share/man/man8/cnf-apply.8" 644 "cnf-apply(8)"
	assert_mode "$r/usr/share/man/man5/cnf.d.5" 644 "cnf.d(5)"
	assert_mode "$r/usr/share/bash-completion/completions/cnf-apply" 644 "bash completion, named after the command"
	for u in cnf-apply.service cnf-apply.path cnf-apply-reload.service; do
		assert_mode "$r/usr/lib/systemd/system/$u" 644 "unit $u"
	done
	assert_mode "$r/usr/share/cnf-apply/schema/manifest.schema.json" 644 "the manifest schema"
	assert_mode "$r/usr/share/cnf-apply/schema/planfile.schema.json" 644 "the plan file schema"
	assert_ok "/etc/cnf.d created" test -d "$r/etc/cnf.d"
	assert_contains "$(grep '^ExecStart=' "$r/usr/lib/systemd/system/cnf-apply.service")" \
		"ExecStart=/usr/sbin/cnf-apply apply /etc/cnf.d" "the service runs the installed binary"
	assert_match "$("$r/usr/sbin/cnf-apply" --version)" '^cnf-apply [0-9]' "the installed binary runs"
	assert_contains "$(man -l "$r/usr/share/man/man8/cnf-apply.8" 2>/dev/null | col -b 2>/dev/null || cat "$r/usr/share/man/man8/cnf-apply.8")" \
		"cnf-apply" "the man page renders"

	# Every example directory, with each built object beside its manifest.
	for d in "$ROOT"/examples/*/; do
		ex=$(basename "$d")
		assert_ok "examples/$ex installed" test -d "$r/usr/share/cnf-apply/examples/$ex"
		for f in $(cd "$d" && find . -type f ! -path '*/__pycache__/*' | sort); do
			assert_exists "$r/usr/share/cnf-apply/examples/$ex/${f#./}" "examples/$ex/${f#./} installed"
		done
	done
	for o in "$BUILD"/examples/*/*.bpf.o; do
		ex=$(basename "$(dirname "$o")")
		assert_mode "$r/usr/share/cnf-apply/examples/$ex/$(basename "$o")" 644 "object $ex/$(basename "$o") beside its manifest"
	done
	for m in "$r"/usr/share/cnf-apply/examples/*/*.yaml; do
		ex=$(basename "$(dirname "$m")")
		[ -n "$(ls "$BUILD/examples/$ex/"*.bpf.o 2>/dev/null)" ] || continue
		assert_not_contains "$(grep 'file:' "$m")" "/" "$ex: file: names the object alone"
		assert_exists "$(dirname "$m")/$(sed -n 's/^ *file: *//p' "$m" | head -n 1)" "$ex: the object beside the manifest"
		# The schema modeline resolves in the installed tree.
		assert_exists "$(dirname "$m")/$(sed -n 's/^# yaml-language-server: \$schema=//p' "$m")" \
			"$ex: the \$schema modeline points at the installed schema"
	done
	# The examples this suite runs (test_examples.sh) validate as installed;
	# others may need kernel features validate probes for (netkit, ...).
	for ex in xdp-firewall tcx-chain cgroup-connect4; do
		cnf_json validate "$r/usr/share/cnf-apply/examples/$ex"
		assert_rc 0 "installed examples/$ex validates with its object beside it"
	done

	# Another PREFIX: the units follow the binary.
	assert_ok "make install PREFIX=/usr/local" make_install "$W/root2" /usr/local || return
	assert_ok "binary in /usr/local/sbin" test -x "$W/root2/usr/local/sbin/cnf-apply"
	assert_ok "completion under /usr/local/share" test -f "$W/root2/usr/local/share/bash-completion/completions/cnf-apply"
	assert_contains "$(cat "$W/root2/usr/local/lib/systemd/system/cnf-apply.service")" \
		"ExecStart=/usr/local/sbin/cnf-apply apply /etc/cnf.d" "PREFIX=/usr/local: the units name /usr/local/sbin/cnf-apply"
	assert_not_contains "$(cat "$W/root2/usr/local/lib/systemd/system/"*)" "/usr/sbin/cnf-apply" \
		"PREFIX=/usr/local: no unit names /usr/sbin/cnf-apply"
}

# cnf-apply(8)'s FILES are where make install puts them, by default.
test_man_files() {
	local f n=0

	assert_ok "make install DESTDIR=... (default PREFIX)" make_install "$W/root" - || return
	while read -r f; do
		assert_exists "$W/root$f" "FILES: $f installed"
		n=$((n + 1))
	done < <(sed -n '/^# FILES/,/^# /p' "$ROOT/man/cnf-apply.8.scd" |
		grep -oE '^_/usr/[^ ]+_|, _/usr/[^ ]+_$' | sed 's/^, //; s/^_//; s/_$//; s/\\_/_/g')
	assert_ne "$n" 0 "FILES lists installed files"
	[ "$n" -ge 8 ] || _fail "FILES: only $n installed paths found"
}

# --- bash completion -----------------------------------------------------------

COMPLETION=

# comp WORD... : complete the last WORD (may be '') of `cnf-apply WORD...`
# in the current directory; prints COMPREPLY, sorted, one per line.
comp() {
	(
		# shellcheck disable=SC1090
		. "$COMPLETION"
		COMP_WORDS=(cnf-apply "$@")
		COMP_CWORD=$#
		COMP_LINE="${COMP_WORDS[*]}"
		COMP_POINT=${#COMP_LINE}
		_cnf_apply cnf-apply "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort
	)
}

# words LIST: "a b c" as sorted lines, to compare with comp's output.
words() {
	printf '%s\n' $1 | sort
}

# The options of src/main.c: its long options and getopt's short ones.
main_options() {
	{
		sed -n 's/^[[:space:]]*{ *"\([a-z-]*\)", *[a-z_]*_argument.*/--\1/p' "$ROOT/src/main.c"
		sed -n 's/.*getopt_long(argc, argv, "\([^"]*\)".*/\1/p' "$ROOT/src/main.c" |
			tr -d ':' | fold -w1 | sed 's/^/-/'
	} | sort
}

test_completion() {
	local c=$W/c opts

	assert_ok "make install" make_install "$W/root" /usr || return
	COMPLETION=$W/root/usr/share/bash-completion/completions/cnf-apply
	mkdir -p "$c/dir1/sub" "$c/other"
	touch "$c/m1.yaml" "$c/m2.yml" "$c/notes.txt" "$c/dir1/x.yaml"
	cd "$c" || return

	# Verbs, and manifest paths, where the verb goes.
	assert_eq "$(comp '')" "$(words 'apply destroy dir1 m1.yaml m2.yml other plan probe status validate watch')" \
		"first word: verbs, directories and manifests"
	assert_eq "$(comp pl)" "plan" "pl -> plan"
	assert_eq "$(comp --json st)" "status" "options before the verb are skipped"

	# Options: exactly those of src/main.c.
	opts=$(main_options)
	assert_ne "$opts" "" "src/main.c's options parsed"
	assert_eq "$(comp -)" "$opts" "options: exactly src/main.c's (getopt_long table and short options)"
	assert_contains "$(comp destroy --)" "--all" "destroy offers --all"
	assert_not_contains "$(comp status --)" "--all" "status does not offer --all"
	assert_contains "$(comp plan --)" "--destroy" "plan offers --destroy (and --all with it)"
	assert_contains "$(comp status --)" "--target" "status offers --target"
	assert_not_contains "$(comp plan --)" "--detailed-exitcode" "plan does not offer --detailed-exitcode"
	assert_contains "$(comp apply --d)" "--dry-run" "apply offers --dry-run"
	assert_eq "$(comp apply --js)" "--json" "--js -> --json"

	# --bpffs takes a directory.
	assert_eq "$(comp --bpffs '')" "$(words 'dir1 other')" "--bpffs: directories only"
	assert_eq "$(comp --bpffs di)" "dir1" "--bpffs di -> dir1"
	assert_eq "$(comp plan --bpffs = '')" "$(words 'dir1 other')" "--bpffs=: directories (bash splits at =)"
	assert_eq "$(comp --bpffs dir1 '')" "$(words 'apply destroy dir1 m1.yaml m2.yml other plan probe status validate watch')" \
		"after --bpffs DIR: the verb again"
	assert_eq "$(comp --wait '')" "" "--wait SECONDS: nothing offered"

	# Paths: directories and *.yaml/*.yml files.
	assert_eq "$(comp apply '')" "$(words 'dir1 m1.yaml m2.yml other')" "apply: directories and manifests, no other files"
	assert_eq "$(comp --json plan m)" "$(words 'm1.yaml m2.yml')" "plan m -> the manifests"
	assert_eq "$(comp validate dir1/)" "$(words 'dir1/sub dir1/x.yaml')" "paths inside a directory"
	assert_eq "$(comp apply m1.yaml '')" "$(words 'dir1 m1.yaml m2.yml other')" "several paths"
	assert_eq "$(comp m1.yaml '')" "$(words 'dir1 m1.yaml m2.yml other')" "a path as first word (verb apply)"
	assert_eq "$(comp probe '')" "" "probe takes no paths"
	assert_eq "$(comp destroy --all '')" "" "destroy --all takes no paths"

	# Loaded on demand by bash-completion from where make install puts it.
	if [ -r /usr/share/bash-completion/bash_completion ]; then
		assert_contains "$(XDG_DATA_DIRS=$W/root/usr/share bash -c '
			. /usr/share/bash-completion/bash_completion
			__load_completion cnf-apply && complete -p cnf-apply' 2>&1)" \
			"complete -F _cnf_apply cnf-apply" "bash-completion finds it in share/bash-completion/completions"
	else
		echo "bash-completion not installed: on-demand loading not checked"
	fi
	cd / || return
}

if ! command -v scdoc >/dev/null; then
	skip "tree" "scdoc not installed (the man pages are part of make install)"
else
	run_test "make install DESTDIR PREFIX: binary, man pages, completion, units, examples" test_tree
	run_test "bash completion: verbs, options of src/main.c, --bpffs dirs, manifest paths" test_completion
	run_test "cnf-apply(8) FILES: the paths make install uses" test_man_files
fi
