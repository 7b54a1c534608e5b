#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Runs as PID 1 of a matrix guest (see init.sh): the integration tests
# named on the kernel command line against the host's build, output on
# the console between markers, then power off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8

arg() {
	local w
	for w in $(cat /proc/cmdline); do
		case $w in "$1="*) echo "${w#*=}" ;; esac
	done
}

cd /run/cnf-src || exit 1
ip link set lo up
echo "CNF-VM-BEGIN"
echo "kernel $(uname -r)"
ex=$(arg cnf.examples)
[ "$ex" = - ] && ex=
export CNF_EXAMPLES="${ex//,/ }"
CNF_TEST_LABEL="vm-$(arg cnf.series)" CNF_TESTS="$(arg cnf.tests | tr ',' ' ')" \
	CNF_TEST_TIMEOUT=${CNF_VM_FILE_TIMEOUT:-400} tests/run-integration.sh "$(arg cnf.build)"
echo "CNF-VM-END $?"
sync
echo o >/proc/sysrq-trigger
sleep 60
