# SPDX-License-Identifier: GPL-2.0-only
# bash completion for cnf-apply(8)
#
# Installed as $(PREFIX)/share/bash-completion/completions/cnf-apply, where
# bash-completion loads it on first use; or source it from ~/.bashrc.
#
#   cnf-apply [OPTIONS] [VERB] [PATH...]
#
# Completes the verbs, the options (those valid with the verb given, once
# there is one), directories after --bpffs, and manifest paths: directories
# and *.yaml/*.yml files. Works with or without the bash-completion package.

_cnf_apply_verbs="plan apply status destroy validate probe watch"

# The options of src/main.c, by the verbs they go with; before the verb,
# all of them. (tests/integration/test_install.sh checks the list against
# src/main.c's option table.)
_cnf_apply_opts() {
	local verb=$1 opts="--bpffs --json --no-iter -v --verbose -h --help -V --version"

	case $verb in
	'') opts+=" --dry-run --detailed-exitcode --all --target --out --plan --destroy --metrics --wait --no-wait"
	    opts+=" --interval --settle" ;;
	plan) opts+=" --dry-run --out --destroy --all --target --wait --no-wait" ;;
	apply) opts+=" --dry-run --detailed-exitcode --plan --target --wait --no-wait" ;;
	status) opts+=" --metrics --target --wait --no-wait" ;;
	destroy) opts+=" --detailed-exitcode --all --target --wait --no-wait" ;;
	watch) opts+=" --wait --no-wait --interval --settle" ;;
	esac
	echo "$opts"
}

# _cnf_apply_paths CUR: directories, and manifest files, matching CUR.
_cnf_apply_paths() {
	local IFS=$'\n'

	compopt -o filenames 2>/dev/null
	COMPREPLY+=($(compgen -d -- "$1"))
	COMPREPLY+=($(compgen -f -X '!*.yaml' -- "$1"))
	COMPREPLY+=($(compgen -f -X '!*.yml' -- "$1"))
}

_cnf_apply() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev= pprev=
	local i w verb= all= IFS=$' \t\n'

	COMPREPLY=()
	[ "$COMP_CWORD" -ge 1 ] && prev=${COMP_WORDS[COMP_CWORD - 1]}
	[ "$COMP_CWORD" -ge 2 ] && pprev=${COMP_WORDS[COMP_CWORD - 2]}

	# --bpffs DIR, and --bpffs=DIR (which bash splits at "=").
	if [ "$prev" = --bpffs ] && [ "$cur" != = ]; then
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -d -- "$cur"))
		return 0
	fi
	if { [ "$prev" = --bpffs ] && [ "$cur" = = ]; } || { [ "$pprev" = --bpffs ] && [ "$prev" = = ]; }; then
		[ "$cur" = = ] && cur=
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -d -- "$cur"))
		return 0
	fi
	# --out FILE, --plan FILE: any file.
	case "$prev/$pprev" in
	--out/* | --plan/* | =/--out | =/--plan)
		[ "$cur" = = ] && cur=
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "$cur"))
		return 0
		;;
	esac
	# --wait SECONDS, --target MANIFEST/ATTACHMENT: nothing to complete.
	case "$prev/$pprev" in
	--wait/* | --target/* | =/--wait | =/--target) return 0 ;;
	esac
	case $cur in
	--bpffs=*)   # when COMP_WORDBREAKS has no "=": the word keeps its prefix
		COMPREPLY=($(compgen -d -P --bpffs= -S / -- "${cur#--bpffs=}"))
		compopt -o nospace 2>/dev/null
		return 0
		;;
	esac

	# The verb is the first word that is not an option or an option's
	# argument; options may come before or after it.
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--bpffs | --wait | --target | --out | --plan)
			i=$((i + 1))
			[ "${COMP_WORDS[i]:-}" = = ] && i=$((i + 1))
			;;
		--all) all=1 ;;
		-*) ;;
		*)
			if [ -z "$verb" ]; then
				verb=$w
				case " $_cnf_apply_verbs " in
				*" $w "*) ;;
				*) verb=apply ;;  # a path: the verb is apply
				esac
			fi
			;;
		esac
	done

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_cnf_apply_opts "$verb")" -- "$cur"))
		return 0
	fi
	if [ -z "$verb" ]; then
		COMPREPLY=($(compgen -W "$_cnf_apply_verbs" -- "$cur"))
		_cnf_apply_paths "$cur"
		return 0
	fi
	# probe reads no manifests, nor does destroy --all (plan --destroy --all).
	[ "$verb" = probe ] && return 0
	case $verb in destroy | plan) [ -n "$all" ] && return 0 ;; esac
	_cnf_apply_paths "$cur"
	return 0
}

complete -F _cnf_apply cnf-apply
