#!/usr/bin/env bash
# Install what cnf-apply needs on Debian 12 (bookworm).
#
#   scripts/setup.sh          to build and test: everything (QEMU for the
#                             kernel matrix, Ansible, packaging tools, ...)
#   scripts/setup.sh --demo   to build the program and run scripts/demo.sh:
#                             the compilers and libraries, bpftool, iproute2
#
# Idempotent: packages already present are not fetched again.
set -euo pipefail

demo_only=0
case ${1:-} in
--demo) demo_only=1 ;;
'') ;;
*) echo "usage: setup.sh [--demo]" >&2; exit 1 ;;
esac

if [ "$(id -u)" -ne 0 ]; then
	echo "setup.sh: must run as root (it installs Debian packages)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive

bpo=/etc/apt/sources.list.d/bookworm-backports.sources
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	cat >"$bpo" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi

# Packages from bookworm itself: to build the program and run the demo
# (unshare/nsenter, tc, mount) ...
build_pkgs=(
	build-essential pkg-config make gcc clang llvm
	libelf-dev zlib1g-dev libyaml-dev libcyaml-dev libjson-c-dev libmnl-dev nettle-dev
	util-linux kmod
)
# ... and to test it.
test_pkgs=(
	jq strace
	libclang-rt-14-dev scdoc python3-jsonschema python3-yaml
	iputils-ping
	# The kernel matrix (tests/vm/): QEMU (TCG), a static busybox for the
	# guest's initramfs, cpio and xz to build it.
	qemu-system-x86 busybox-static cpio xz-utils
	# Operating it (tests/integration/test_{examples,ansible,systemd,install}.sh):
	# Debian's ansible-core for the module, systemd (systemd-analyze, and
	# PID 1 of the boot test) with man-db for its Documentation= checks,
	# bash-completion's loader, pgrep.
	ansible-core systemd man-db bash-completion procps
	# The module's documentation against validate-modules (test_ansible.sh),
	# status --metrics against prometheus_client's parser (test_metrics.sh).
	python3-voluptuous python3-prometheus-client
	# The Debian package (make deb, test_deb.sh).
	dpkg-dev debhelper lintian fakeroot git
)
base_pkgs=("${build_pkgs[@]}")
[ "$demo_only" = 1 ] || base_pkgs+=("${test_pkgs[@]}")
# Packages that must come from bookworm-backports (tcx/netkit APIs).
bpo_pkgs=(libbpf-dev bpftool iproute2 linux-libc-dev)

need_update=0
missing=()
for p in "${base_pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# libbpf must be >= 1.4 and bpftool must exist.
libbpf_ver=$(dpkg-query -W -f='${Version}' libbpf-dev 2>/dev/null || true)
if [ -z "$libbpf_ver" ] || dpkg --compare-versions "$libbpf_ver" lt 1:1.4; then
	need_bpo=1
else
	need_bpo=0
	command -v bpftool >/dev/null || need_bpo=1
	iproute_ver=$(dpkg-query -W -f='${Version}' iproute2 2>/dev/null || true)
	dpkg --compare-versions "${iproute_ver:-0}" lt 6.5 && need_bpo=1
fi

if [ ${#missing[@]} -gt 0 ] || [ "$need_bpo" = 1 ]; then
	need_update=1
fi

if [ "$need_update" = 1 ]; then
	apt-get update -q
fi
if [ ${#missing[@]} -gt 0 ]; then
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [ "$need_bpo" = 1 ]; then
	apt-get install -y -q --no-install-recommends -t bookworm-backports "${bpo_pkgs[@]}"
fi

# bpffs for the host (the tool's default state root lives there).
if ! mountpoint -q /sys/fs/bpf; then
	mount -t bpf -o mode=0700 bpf /sys/fs/bpf || true
fi
# tracefs (used by tracepoint hooks and by libbpf).
if [ -d /sys/kernel/tracing ] && ! mountpoint -q /sys/kernel/tracing; then
	mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
fi
