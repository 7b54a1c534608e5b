#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The script a user writes today, with bpftool and ip, for what the
# benchmark's manifest declares: XDP program xdp_main and tcx ingress
# program tc_main on every interface matching a glob. The benchmark
# (bench/run.sh) times it beside cnf-apply and the floor program.
#
#   by-hand.sh apply   PIN_DIR OBJ_DIR GLOB   load both objects, attach on every interface
#   by-hand.sh check   PIN_DIR OBJ_DIR GLOB   is everything still attached? (exit 2 if not)
#   by-hand.sh rollout PIN_DIR OBJ_DIR GLOB   load the new objects, detach + reattach everywhere
#   by-hand.sh destroy PIN_DIR OBJ_DIR GLOB   detach everywhere, remove the pins
#
# OBJ_DIR holds xdp.bpf.o and tc.bpf.o (the files the manifest names);
# PIN_DIR is a directory on bpffs. The programs are pinned (bpftool prog
# loadall) so that the attach commands can name them; the attachments
# themselves are held by the interfaces (XDP through netlink, tcx through
# BPF_PROG_ATTACH), which is what `bpftool net attach` does.
#
# What it does not do, and cnf-apply does: it is not idempotent (a second
# `apply` fails on the first interface, which already has an XDP program;
# `check` is the closest thing to a no-op run), it has no record of what it
# attached, and the rollout leaves each interface without a program between
# its detach and its attach.
set -eu -o pipefail

verb=${1:?verb}
pins=${2:?pin dir}
objs=${3:?object dir}
glob=${4:?interface glob}

devices() {
	# "3: bv0a@bv0b: <BROADCAST,..." -> bv0a
	ip -o link show | awk -F': ' '{ print $2 }' | cut -d@ -f1 | while read -r dev; do
		# shellcheck disable=SC2053 # the glob is meant to match
		[[ $dev == $glob ]] && echo "$dev"
	done
}

load() {
	# One load per object; every program of the object is loaded and pinned.
	mkdir -p "$1"
	bpftool prog loadall "$objs/xdp.bpf.o" "$1/xdp"
	bpftool prog loadall "$objs/tc.bpf.o" "$1/tc"
}

attach() {
	local dev=$1 dir=$2

	bpftool net attach xdp pinned "$dir/xdp/xdp_main" dev "$dev"
	bpftool net attach tcx_ingress pinned "$dir/tc/tc_main" dev "$dev"
}

detach() {
	local dev=$1

	bpftool net detach xdp dev "$dev"
	bpftool net detach tcx_ingress dev "$dev"
}

case $verb in
apply)
	load "$pins/cur"
	for dev in $(devices); do
		attach "$dev" "$pins/cur"
	done
	;;
check)
	want=$(devices | wc -l)
	# One dump of everything attached; count ours.
	read -r xdp tcx < <(bpftool -j net | jq -r --arg g "^${glob//\*/.*}$" '
		.[0] as $n
		| [ ($n.xdp | map(select(.devname | test($g))) | length),
		    ($n.tc | map(select(.kind == "tcx/ingress" and .name == "tc_main"
					and (.devname | test($g)))) | length) ]
		| @tsv')
	[ "$xdp" -eq "$want" ] && [ "$tcx" -eq "$want" ] || exit 2
	;;
rollout)
	# The new release: load it beside the old one, then move every
	# interface over: detach the old program, attach the new one.
	load "$pins/next"
	for dev in $(devices); do
		detach "$dev"
		attach "$dev" "$pins/next"
	done
	rm -rf "$pins/cur"
	mv "$pins/next" "$pins/cur"
	;;
destroy)
	for dev in $(devices); do
		detach "$dev"
	done
	rm -rf "$pins"
	;;
*)
	echo "by-hand.sh: unknown verb '$verb'" >&2
	exit 1
	;;
esac
