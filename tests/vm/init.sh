#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# /init of the matrix's initramfs (busybox): load the modules that reach
# the host over virtio-9p (and the few the tests need: the host root has
# no modules of this kernel), mount the host root read-only as the new
# root with writable tmpfs, bpffs, tracefs and cgroup2, the repository at
# /run/cnf-src, and hand over to guest.sh.
# Parameters come on the kernel command line (cnf.series, cnf.build,
# cnf.cache, cnf.tests); see tests/vm/run.sh.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo 1 >/proc/sys/kernel/printk

die() {
	echo "CNF-VM-BEGIN"
	echo "FAIL vm-init: $*"
	echo "0 passed, 1 failed, 0 skipped"
	echo "CNF-VM-END"
	echo o >/proc/sysrq-trigger
	sleep 30
}

for m in $(cat /modules.order); do
	insmod "/lib/modules/$m" || die "insmod $m"
done

arg() {
	for w in $(cat /proc/cmdline); do
		case $w in "$1="*) echo "${w#*=}" ;; esac
	done
}

R=/newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot $R ||
	die "cannot mount the host root over virtio-9p"
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t devtmpfs devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm 2>/dev/null
mount -t devpts devpts $R/dev/pts
# What udev would add: bash's <(...) needs /dev/fd.
ln -sf /proc/self/fd $R/dev/fd
ln -sf /proc/self/fd/0 $R/dev/stdin
ln -sf /proc/self/fd/1 $R/dev/stdout
ln -sf /proc/self/fd/2 $R/dev/stderr
mount -t tmpfs tmpfs $R/dev/shm
for d in /tmp /run /var/tmp /root; do
	mount -t tmpfs -o mode=1777 tmpfs $R$d || die "tmpfs on $d"
done
mount -t bpf -o mode=0700 bpf $R/sys/fs/bpf
mount -t tracefs tracefs $R/sys/kernel/tracing
mount -t debugfs debugfs $R/sys/kernel/debug
mount -t securityfs securityfs $R/sys/kernel/security
mount -t cgroup2 cgroup2 $R/sys/fs/cgroup
mkdir -p $R/run/cnf-src
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose cnfsrc $R/run/cnf-src ||
	die "cannot mount the repository"

exec switch_root $R /bin/bash /run/cnf-src/tests/vm/guest.sh
die "switch_root failed"
