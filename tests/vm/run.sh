#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The kernel matrix: boot Debian kernels in QEMU (TCG) with this machine's
# root filesystem as the guest's (read-only, virtio-9p) and run the
# integration tests that depend on the kernel, with the binary already
# built in BUILD:
#
#   tests/vm/run.sh [6.12|6.1|all] [BUILD]      (as root; default: all, build)
#
# Kernels are fetched once (tests/vm/fetch-kernels.sh) into
# CNF_VM_CACHE (default /var/cache/cnf-apply-vm), outside the repository,
# with the initramfs built for each. One boot per kernel runs one suite;
# the guest prints the results on its serial console (kept in
# CACHE/console-SERIES.log) and powers off.
# Lines are labelled [vm-6.12] / [vm-6.1]; the last line is the summary
# over every kernel, "N passed, N failed, N skipped". A kernel that cannot
# be fetched or booted, or whose run ends without a summary, counts as a
# failure.
#
# CNF_VM_TESTS overrides the test files run on every kernel (names as in
# CNF_TESTS of tests/run-integration.sh), CNF_VM_EXAMPLES the examples
# test_hook_examples.sh runs there (default: all); CNF_VM_TIMEOUT (seconds, default 2400)
# bounds each boot; CNF_VM_SERIAL=1 boots the kernels one after the other
# (by default they run side by side); CNF_VM_CPU overrides -cpu max.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
want=${1:-all}
build=${2:-build}
case $build in
/*) ;;
*) build=$root/$build ;;
esac
CACHE=${CNF_VM_CACHE:-/var/cache/cnf-apply-vm}
export CNF_VM_CACHE=$CACHE
timeout_s=${CNF_VM_TIMEOUT:-2400}

# What each kernel runs: the tests whose outcome depends on the kernel,
# and not what this machine's own kernel already runs natively (TCG is
# slow). 6.12: the families this machine's kernel lacks (netkit, kprobes,
# kprobe_multi, fentry/fexit, LSM) and their examples, the tcx and XDP
# basics. 6.1: the families it lacks (netkit, kprobe_multi, netfilter
# links, struct_ops links; BPF LSM, left out of its lsm= list) refused for
# real, the tcx fallback to legacy tc for real, trampolines, XDP.
TESTS_6_12="hook_netkit hook_kprobe hook_kretprobe hook_kprobe_multi hook_fentry hook_fexit
hook_lsm hook_examples tcx xdp"
EXAMPLES_6_12="netkit-ipv6-monitor kprobe kprobe_multi fentry lsm"
TESTS_6_1="hook_netkit hook_kprobe_multi hook_netfilter hook_lsm hook_struct_ops
hook_tcx_fallback hook_fentry xdp"
EXAMPLES_6_1=""

csv() {
	echo $* | tr ' ' ','
}

passed=0
failed=0
skipped=0

fail_kernel() {
	echo "[vm-$1] FAIL vm-$1: $2"
	failed=$((failed + 1))
}

# initramfs SERIES DIR: build (once) DIR/initramfs.cpio.gz: busybox, the
# modules that reach the host root over virtio-9p, and /init.
initramfs() {
	local series=$1 dir=$2 kver moddir out work m
	out=$dir/initramfs.cpio.gz
	if [ -f "$out" ] && [ "$out" -nt "$here/init.sh" ] && [ "$out" -nt "$here/run.sh" ]; then
		return 0
	fi
	kver=$(basename "$(ls -d "$dir"/lib/modules/*)")
	moddir=$dir/lib/modules/$kver
	work=$(mktemp -d)
	mkdir -p "$work"/{bin,dev,proc,sys,newroot,lib/modules}
	cp "$(command -v busybox)" "$work/bin/busybox" || { rm -rf "$work"; return 1; }
	for a in sh mount umount mkdir insmod switch_root cat sleep echo poweroff mknod ls; do
		ln -s busybox "$work/bin/$a"
	done
	# Modules in load order (dependencies first); built-in ones have no
	# line in modules.dep.
	local -A seen=()
	local order=()
	add_mod() {
		local path=$1 dep deps
		[ -n "${seen[$path]:-}" ] && return 0
		seen[$path]=1
		deps=$(awk -v p="$path:" '$1 == p { $1 = ""; print }' "$moddir/modules.dep")
		for dep in $deps; do
			add_mod "$dep"
		done
		order+=("$path")
	}
	# The host root has no modules of the guest's kernel (and nowhere
	# to put them: it is read-only), so what the tests need beyond
	# 9p is loaded here too: veth pairs, clsact and cls_bpf (legacy tc).
	for m in virtio_pci 9pnet_virtio 9p veth sch_ingress cls_bpf; do
		local p
		p=$(awk -F: -v m="$m" '{ n = $1; sub(/.*\//, "", n); sub(/\.ko(\.xz|\.zst|\.gz)?$/, "", n);
			gsub(/-/, "_", n) } n == m { print $1; exit }' "$moddir/modules.dep")
		[ -n "$p" ] && add_mod "$p"
	done
	: >"$work/modules.order"
	for m in "${order[@]}"; do
		local base
		base=$(basename "$m")
		case $m in
		*.xz) xz -dc "$moddir/$m" >"$work/lib/modules/${base%.xz}"; base=${base%.xz} ;;
		*.zst) zstd -qdc "$moddir/$m" >"$work/lib/modules/${base%.zst}"; base=${base%.zst} ;;
		*) cp "$moddir/$m" "$work/lib/modules/$base" ;;
		esac
		echo "$base" >>"$work/modules.order"
	done
	cp "$here/init.sh" "$work/init"
	chmod 0755 "$work/init"
	(cd "$work" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.tmp" && mv "$out.tmp" "$out"
	rm -rf "$work"
}

# boot SERIES DIR: one guest run; its labelled lines go to stdout and the
# totals are added.
boot() {
	local series=$1 dir=$2 vmlinuz cmdline log rc summary lsm=""
	vmlinuz=$(ls "$dir"/boot/vmlinuz-* | head -n 1)
	if ! initramfs "$series" "$dir"; then
		fail_kernel "$series" "cannot build the initramfs"
		return
	fi
	# The active LSMs are chosen at boot: 6.12 with BPF LSM, 6.1 without
	# it, so that both an LSM attachment and its refusal run for real.
	if [ "$series" = 6.12 ]; then
		lsm="lsm=lockdown,capability,landlock,yama,apparmor,bpf"
	else
		lsm="lsm=lockdown,capability,landlock,yama,apparmor"
	fi
	cmdline="console=ttyS0 quiet loglevel=1 panic=-1 $lsm cnf.series=$series"
	cmdline+=" cnf.build=${build#"$root"/}"
	# Kept after the run (and readable during it) for a look at the details.
	log=$CACHE/console-$series.log
	if [ -n "${CNF_VM_TESTS:-}" ]; then
		tests=$(csv "$CNF_VM_TESTS")
		examples=$(csv "${CNF_VM_EXAMPLES:-}")
	elif [ "$series" = 6.12 ]; then
		tests=$(csv "$TESTS_6_12")
		examples=$(csv "$EXAMPLES_6_12")
	else
		tests=$(csv "$TESTS_6_1")
		examples=$(csv "$EXAMPLES_6_1")
	fi
	cmdline+=" cnf.tests=$tests cnf.examples=${examples:--}"
	echo "[vm-$series] booting $(basename "$vmlinuz") (TCG) for: ${tests//,/ }"
	local start=$SECONDS
	timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 \
		-accel tcg -cpu ${CNF_VM_CPU:-max} -m 2G -smp 2 -nographic -no-reboot -nodefaults \
		-serial stdio -monitor none \
		-kernel "$vmlinuz" -initrd "$dir/initramfs.cpio.gz" -append "$cmdline" \
		-fsdev local,id=hostroot,path=/,readonly=on,security_model=none,multidevs=remap \
		-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
		-fsdev local,id=src,path="$root",readonly=on,security_model=none,multidevs=remap \
		-device virtio-9p-pci,fsdev=src,mount_tag=cnfsrc \
		</dev/null 2>&1 | sed -u 's/\r$//' >"$log"
	rc=${PIPESTATUS[0]}
	# The guest's lines between its markers; the summary is kept apart.
	awk '/CNF-VM-BEGIN/ { on = 1; next } /CNF-VM-END/ { on = 0 } on' "$log" |
		grep -vE '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' |
		sed -E "s/^/[vm-$series] /; s/^\[vm-$series\] \[vm-$series\] /[vm-$series] /"
	summary=$(awk '/CNF-VM-BEGIN/ { on = 1; next } /CNF-VM-END/ { on = 0 } on' "$log" |
		grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' | tail -n 1)
	if [[ $summary =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped$ ]]; then
		passed=$((passed + BASH_REMATCH[1]))
		failed=$((failed + BASH_REMATCH[2]))
		skipped=$((skipped + BASH_REMATCH[3]))
		echo "[vm-$series] $summary ($((SECONDS - start)) s)"
	else
		[ "$rc" -eq 124 ] && why="timed out after ${timeout_s}s" || why="ended (qemu status $rc)"
		fail_kernel "$series" "the guest $why without a summary; its console:"
		tail -n 40 "$log" | sed "s/^/[vm-$series]     /"
	fi
}

if [ "$(id -u)" -ne 0 ]; then
	echo "run.sh: needs root (kernel packages, QEMU, the guest's tests)" >&2
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi
for c in qemu-system-x86_64 busybox cpio xz depmod apt-get dpkg; do
	if ! command -v "$c" >/dev/null; then
		echo "[vm] FAIL vm: missing command $c (run scripts/setup.sh)"
		echo "0 passed, 1 failed, 0 skipped"
		exit 1
	fi
done
case $build in
"$root"/*) ;;
*) echo "[vm] FAIL vm: BUILD must be inside the repository ($root)"; echo "0 passed, 1 failed, 0 skipped"; exit 1 ;;
esac
if [ ! -x "$build/cnf-apply" ]; then
	echo "[vm] FAIL vm: no $build/cnf-apply: run make first"
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi

case $want in
all) series_list="6.12 6.1" ;;
6.12 | 6.1) series_list=$want ;;
*) echo "usage: run.sh [6.12|6.1|all] [BUILD]" >&2; exit 2 ;;
esac

# run_kernel SERIES: fetch and boot one kernel; its lines on stdout, its
# totals last as "VMSUM P F S".
run_kernel() {
	local s=$1 line flog
	passed=0 failed=0 skipped=0
	flog=$(mktemp)
	line=$("$here/fetch-kernels.sh" "$s" 2>"$flog" | tail -n 1) || line=
	if [ -z "$line" ]; then
		fail_kernel "$s" "cannot fetch the kernel: $(tail -n 3 "$flog" | tr '\n' ' ')"
	else
		boot "$s" "${line#* }"
	fi
	rm -f "$flog"
	echo "VMSUM $passed $failed $skipped"
}

# The kernels boot side by side (each guest runs one test at a time, so
# two guests share this machine's cores well); their lines are shown one
# kernel after the other.
outdir=$(mktemp -d)
trap 'rm -rf "$outdir"' EXIT
if [ -n "${CNF_VM_SERIAL:-}" ]; then
	for s in $series_list; do
		run_kernel "$s" >"$outdir/$s"
	done
else
	for s in $series_list; do
		run_kernel "$s" >"$outdir/$s" &
	done
	wait
fi
passed=0 failed=0 skipped=0
for s in $series_list; do
	grep -v '^VMSUM ' "$outdir/$s"
	read -r _ p f k < <(grep '^VMSUM ' "$outdir/$s" || echo "VMSUM 0 1 0")
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + k))
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
