#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The systemd units of systemd/, as `make install` installs them:
#
# - `systemd-analyze verify` passes on every unit (with its man pages);
# - a real boot: systemd itself runs as PID 1 of a new PID, mount and
#   cgroup namespace (sharing the test's network namespace), with only the
#   installed units plus stub targets in its unit path, the units enabled
#   through their [Install] sections (`systemctl --root enable`), and a
#   private /etc (overlay) holding /etc/cnf.d. cnf-apply.service must apply
#   /etc/cnf.d under its full sandbox, cnf-apply-bpffs.service must mount
#   bpffs in the namespace systemd runs in (or be skipped when it is
#   already mounted), and cnf-apply.path must re-apply when /etc/cnf.d
#   changes, also when an object in its objs/ subdirectory is rebuilt;
#   cnf-apply-metrics.service must write status --metrics where
#   node_exporter reads it. Checked with bpftool, the tool's --json status
#   and prometheus_client's parser.
#
# The host's units, generators and /etc are not used: a stray sysinit
# target could run tmpfiles and the like against the host's file systems.
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$(realpath "$0")")/../.." && pwd)
BUILD=$(realpath "${BUILD:-$ROOT/build}")
export BUILD
lib_setup "$@"

SYSTEMD_BIN=/usr/lib/systemd/systemd
UNITS="cnf-apply.service cnf-apply.path cnf-apply-reload.service cnf-apply-bpffs.service cnf-apply-watch.service
	cnf-apply-metrics.service cnf-apply-metrics.timer"
PARSE=$ROOT/tests/tools/prom_parse.py

make_install() {       # make_install DESTDIR PREFIX [VAR=VALUE...]
	local destdir=$1 prefix=$2
	shift 2
	echo "\$ make install DESTDIR=$destdir PREFIX=$prefix $*"
	# -o: install the binary under test as it is, never relink it here.
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$ROOT" --no-print-directory -o "$BUILD/cnf-apply" \
		BUILD="$BUILD" DESTDIR="$destdir" PREFIX="$prefix" "$@" install >"$T/install.log" 2>&1 ||
		{ _show "$(tail -n 30 "$T/install.log")"; return 1; }
}

test_verify() {
	local p=$W/prefix out u files=()

	# A PREFIX whose sbin/cnf-apply exists, so that verify can check the
	# Exec lines; its man pages through MANPATH for Documentation=.
	make_install "" "$p" SYSCONFDIR="$p/etc" || { _fail "make install"; return; }
	for u in $UNITS; do
		assert_exists "$p/lib/systemd/system/$u" "$u installed" || return
		files+=("$p/lib/systemd/system/$u")
	done
	out=$(MANPATH=$p/share/man SYSTEMD_LOG_COLOR=0 systemd-analyze verify "${files[@]}" 2>&1)
	assert_eq "$?" 0 "systemd-analyze verify exits 0"
	assert_eq "$out" "" "systemd-analyze verify has nothing to say"
	[ -n "$out" ] && _show "$out"
	# For the record: systemd's own view of the sandbox.
	systemd-analyze security --offline=true --no-pager "$p/lib/systemd/system/cnf-apply.service" 2>&1 | tail -n 1
}

# --- a real boot -----------------------------------------------------------------

SD_LAUNCHER=
SD_PID=

# sd CMD...: run CMD in the booted systemd's namespaces.
sd() {
	nsenter -t "$SD_PID" -m -p -C -- "$@"
}

sd_prop() {            # sd_prop UNIT PROPERTY
	sd systemctl show -P "$2" "$1" 2>/dev/null
}

# sd_boot PREMOUNT: boot systemd as described above; PREMOUNT=1 mounts a
# fresh bpffs at /sys/fs/bpf first, PREMOUNT=0 leaves it unmounted.
sd_boot() {
	local premount=$1 r=$W/root u i

	make_install "$r" /usr || { _fail "make install"; return 1; }
	# Stubs of the targets the units name (the host's would pull in the
	# host's services), and a boot target pulling in sysinit and paths.
	for u in sysinit basic paths shutdown umount local-fs network-pre; do
		printf '[Unit]\nDescription=stub %s.target\n' "$u" >"$r/usr/lib/systemd/system/$u.target"
	done
	printf '[Unit]\nDescription=cnf-apply boot test\nWants=sysinit.target paths.target\n' \
		>"$r/usr/lib/systemd/system/cnf-boot.target"
	# Enable the units the way an operator would, through [Install].
	SYSTEMD_LOG_LEVEL=warning systemctl --root="$r" enable cnf-apply.service cnf-apply.path ||
		{ _fail "systemctl --root enable"; return 1; }
	# (symlinks to /usr/lib/systemd/system/..., which resolve inside the boot)
	assert_ok "enable: cnf-apply.service wanted by sysinit.target" \
		test -L "$r/etc/systemd/system/sysinit.target.wants/cnf-apply.service" || return 1
	assert_ok "enable: cnf-apply.path wanted by paths.target" \
		test -L "$r/etc/systemd/system/paths.target.wants/cnf-apply.path" || return 1

	# The unit path: the installed units and the stubs, nothing else.
	mkdir -p "$W/units" "$W/empty" "$W/etc-up" "$W/etc-work"
	cp "$r"/usr/lib/systemd/system/* "$W/units/"

	# /etc/cnf.d as an operator leaves it: a manifest and its object.
	mkdir -p "$W/cnf.d"
	cp "$W/objs/xdp_v1.bpf.o" "$W/cnf.d/xdp.bpf.o"
	cat >"$W/cnf.d/10-edge.yaml" <<'EOF'
apiVersion: cnf-apply/v1
name: edge
objects:
  - name: fw
    file: xdp.bpf.o
attachments:
  - name: fw-eth0
    program: fw/xdp_main
    hook: xdp
    interface: eth0
EOF
	mkdir -p "$CG/sd"
	SDB_ASAN=0
	# (grep without -q: it reads all, so pipefail does not see a SIGPIPE)
	readelf -sW "$CNF" 2>/dev/null | grep '__asan_init' >/dev/null && SDB_ASAN=1
	export SDB_W=$W SDB_R=$r SDB_PREMOUNT=$premount SDB_BIN=$SYSTEMD_BIN SDB_ASAN
	bash -c '
		echo $$ >"$1/cgroup.procs" || exit 1
		exec unshare --pid --fork --kill-child --mount --cgroup --propagation private --mount-proc \
			bash -c "$2"' _ "$CG/sd" '
		set -e
		W=$SDB_W
		mount -t tmpfs -o mode=0755 tmpfs /run
		umount -R /sys/fs/cgroup 2>/dev/null || umount -l /sys/fs/cgroup
		mount -t cgroup2 none /sys/fs/cgroup
		while mountpoint -q /sys/fs/bpf; do umount /sys/fs/bpf; done
		[ "$SDB_PREMOUNT" = 1 ] && mount -t bpf -o mode=0700 bpf /sys/fs/bpf
		mount --bind "$W/empty" /usr/lib/systemd/system-generators
		mount --bind "$W/units" /usr/lib/systemd/system
		mount -t overlay overlay -o "lowerdir=$SDB_R/usr/sbin:/usr/sbin" /usr/sbin
		mount -t overlay overlay -o "lowerdir=/etc,upperdir=$W/etc-up,workdir=$W/etc-work" /etc
		mount --bind "$SDB_R/etc/systemd/system" /etc/systemd/system
		mkdir -p /etc/cnf.d
		cp "$W"/cnf.d/* /etc/cnf.d/
		# Without journald, keep what the service prints (test only: the
		# sandbox is untouched).
		mkdir -p /run/systemd/system/cnf-apply.service.d
		printf "[Service]\nStandardOutput=append:/run/cnf-apply.log\nStandardError=append:/run/cnf-apply.log\n" \
			>/run/systemd/system/cnf-apply.service.d/test-log.conf
		# A sanitizer build: LeakSanitizer needs ptrace, which the sandbox
		# (rightly) forbids; AddressSanitizer itself still runs.
		[ "$SDB_ASAN" = 1 ] && printf "[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\n" \
			>/run/systemd/system/cnf-apply.service.d/test-asan.conf
		# The metrics go to /run (private to this boot), not to /var.
		mkdir -p /run/systemd/system/cnf-apply-metrics.service.d
		printf "[Service]\nEnvironment=CNF_METRICS_DIR=/run/textfile\n" \
			>/run/systemd/system/cnf-apply-metrics.service.d/test-dir.conf
		[ "$SDB_ASAN" = 1 ] && printf "[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\n" \
			>/run/systemd/system/cnf-apply-metrics.service.d/test-asan.conf
		exec env -i container=cnf-apply-test "$SDB_BIN" --unit=cnf-boot.target --show-status=no
	' >"$W/console.log" 2>&1 &
	SD_LAUNCHER=$!    # not track_pid: lib.sh would SIGTERM it and wait forever
	for i in $(seq 50); do
		SD_PID=$(pgrep -P "$SD_LAUNCHER" | head -n 1)
		[ -n "$SD_PID" ] && sd test -S /run/systemd/private 2>/dev/null && break
		sleep 0.2
	done
	if [ -z "$SD_PID" ] || ! sd test -S /run/systemd/private 2>/dev/null; then
		_fail "systemd did not come up"
		_show "$(cat "$W/console.log")"
		return 1
	fi
	# Wait for the boot transaction (cnf-apply.service) to settle.
	for i in $(seq 100); do
		case $(sd_prop cnf-apply.service ActiveState) in
		active | failed) break ;;
		esac
		sleep 0.2
	done
	echo "systemd is PID 1 of its namespaces (host pid $SD_PID)"
	return 0
}

# sd_stop: end the boot. unshare ignores SIGTERM while it waits for its
# child, so it gets SIGKILL, and --kill-child passes that on to systemd
# (PID 1 of its namespace: the whole namespace goes with it).
sd_stop() {
	[ -n "$SD_LAUNCHER" ] || return 0
	kill -KILL "$SD_LAUNCHER" 2>/dev/null
	wait "$SD_LAUNCHER" 2>/dev/null
	[ -n "$SD_PID" ] && kill -KILL "$SD_PID" 2>/dev/null
	SD_LAUNCHER=
	SD_PID=
	# Wait until its cgroups are empty, then remove them.
	for _ in $(seq 50); do
		[ -z "$(find "$CG/sd" -name cgroup.procs -exec cat {} + 2>/dev/null)" ] && break
		sleep 0.1
	done
	find "$CG/sd" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null
	return 0
}

sd_log() {
	echo "--- /run/cnf-apply.log"
	sd cat /run/cnf-apply.log 2>/dev/null
	sd systemctl show -p DropInPaths -p Environment cnf-apply.service 2>&1
	echo "--- units"
	sd systemctl list-units --all --no-pager --plain 'cnf-*' 2>&1
}

# wait_for SECONDS CMD...: until CMD succeeds.
wait_for() {
	local n=$(($1 * 5))
	shift
	while [ $n -gt 0 ]; do
		"$@" && return 0
		sleep 0.2
		n=$((n - 1))
	done
	return 1
}

tcx_is() {             # tcx_is NAMES: eth0's tcx ingress programs are NAMES
	[ "$(tcx_names eth0 ingress)" = "$1" ]
}

tcx_prog_is_not() {    # tcx_prog_is_not ID: eth0's tcx ingress runs one program, not ID
	local p
	p=$(tcx_entries eth0 ingress | jq -r 'if length == 1 then .[0].prog_id else empty end')
	[ -n "$p" ] && [ "$p" != "$1" ]
}

sd_idle() {            # no re-apply queued or running
	[ "$(sd_prop cnf-apply-reload.service ActiveState)" != activating ] &&
		[ "$(sd_prop cnf-apply.service SubState)" = exited ]
}

test_boot() {
	local pid link out tcx_prog

	veth_add eth0 eth0p || return
	sd_boot 0 || { sd_stop; return; }

	# bpffs: mounted by cnf-apply-bpffs.service in systemd's namespace.
	assert_eq "$(sd_prop cnf-apply-bpffs.service ConditionResult)" yes "bpffs helper ran (nothing had mounted bpffs)"
	assert_eq "$(sd_prop cnf-apply-bpffs.service Result)" success "bpffs helper succeeded"
	assert_eq "$(sd findmnt -n -o FSTYPE /sys/fs/bpf)" bpf "/sys/fs/bpf is a bpffs in systemd's mount namespace"

	# The boot apply.
	assert_eq "$(sd_prop cnf-apply.service ActiveState)/$(sd_prop cnf-apply.service SubState)" active/exited \
		"cnf-apply.service active (exited)" || { sd_log; sd_stop; return; }
	pid=$(xdp_prog_id eth0)
	assert_ne "$pid" "" "bpftool net: XDP program on eth0"
	link=$(sd bpftool -j link show pinned /sys/fs/bpf/cnf/edge/links/fw-eth0/eth0 2>/dev/null)
	assert_jq "$link" ".type == \"xdp\" and .prog_id == $pid" \
		"the link is pinned under /sys/fs/bpf/cnf and runs that program (it outlived the service's namespace)"
	out=$(sd /usr/sbin/cnf-apply --json status /etc/cnf.d 2>&1)
	assert_jq "$out" '.in_sync == true and (.attachments | length) == 1' "cnf-apply status: in sync"

	# The path unit re-applies when /etc/cnf.d changes.
	assert_eq "$(sd_prop cnf-apply.path ActiveState)/$(sd_prop cnf-apply.path SubState)" active/waiting \
		"cnf-apply.path is watching"
	sd cp "$W/objs/tc_v1.bpf.o" /etc/cnf.d/tc.bpf.o
	sd sh -c 'cat >/etc/cnf.d/20-count.yaml' <<'EOF'
apiVersion: cnf-apply/v1
name: count
objects:
  - name: tc
    file: tc.bpf.o
attachments:
  - name: count-in
    program: tc/tc_main
    hook: tcx
    interface: eth0
    direction: ingress
EOF
	wait_for 60 tcx_is tc_main || { _fail "a new manifest in /etc/cnf.d was not applied: tcx ingress is '$(tcx_names eth0 ingress)'"; sd_log; }
	assert_eq "$(sd_prop cnf-apply-reload.service Result)" success "cnf-apply-reload.service succeeded"
	assert_eq "$(xdp_prog_id eth0)" "$pid" "the XDP program was left alone by the re-apply"

	sd rm /etc/cnf.d/20-count.yaml /etc/cnf.d/tc.bpf.o
	wait_for 60 tcx_is "" || { _fail "a removed manifest's attachment stayed: '$(tcx_names eth0 ingress)'"; sd_log; }

	# An object rebuilt in objs/ (the README's layout): the path unit
	# watches that directory too, and the re-apply swaps the program.
	sd mkdir -p /etc/cnf.d/objs
	sd cp "$W/objs/tc_v1.bpf.o" /etc/cnf.d/objs/tc.bpf.o
	sd sh -c 'cat >/etc/cnf.d/20-count.yaml' <<'EOF'
apiVersion: cnf-apply/v1
name: count
objects:
  - name: tc
    file: objs/tc.bpf.o
attachments:
  - name: count-in
    program: tc/tc_main
    hook: tcx
    interface: eth0
    direction: ingress
EOF
	wait_for 60 tcx_is tc_main || { _fail "the manifest using objs/ was not applied"; sd_log; }
	tcx_prog=$(tcx_entries eth0 ingress | jq -r '.[0].prog_id')
	wait_for 5 sd_idle
	sd cp "$W/objs/tc_v2.bpf.o" /etc/cnf.d/objs/tc.bpf.o
	wait_for 60 tcx_prog_is_not "$tcx_prog" ||
		{ _fail "an object rebuilt in /etc/cnf.d/objs was not applied (the path unit missed it)"; sd_log; }
	out=$(sd /usr/sbin/cnf-apply --json status /etc/cnf.d 2>&1)
	assert_jq "$out" '.in_sync == true' "status after the object rebuild: in sync"

	# node_exporter's textfile: written by the metrics service.
	assert_ok "systemctl start cnf-apply-metrics.service" sd systemctl start cnf-apply-metrics.service
	assert_eq "$(sd_prop cnf-apply-metrics.service Result)" success "the metrics service succeeded"
	out=$(sd cat /run/textfile/cnf-apply.prom | "$PARSE")
	assert_jq "$out" 'any(.samples[]; .name == "cnf_apply_attachment" and .labels.manifest == "count"
		and .labels.attachment == "count-in" and .labels.state == "in-sync" and .value == 1)
		and any(.samples[]; .name == "cnf_apply_in_sync" and .value == 1)' \
		"cnf-apply.prom parses and holds count/count-in in sync"
	assert_eq "$(sd ls /run/textfile)" "cnf-apply.prom" "no temporary file left beside it"
	assert_ok "the timer starts" sd systemctl start cnf-apply-metrics.timer
	assert_eq "$(sd_prop cnf-apply-metrics.timer ActiveState)" active "cnf-apply-metrics.timer active"
	sd rm -r /etc/cnf.d/20-count.yaml /etc/cnf.d/objs
	wait_for 60 tcx_is "" || { _fail "a removed manifest's attachment stayed: '$(tcx_names eth0 ingress)'"; sd_log; }
	assert_eq "$(sd_prop cnf-apply.service ActiveState)" active "cnf-apply.service still active after reloads"

	# reload re-applies; stop leaves the attachments in place.
	assert_ok "systemctl reload cnf-apply" sd systemctl reload cnf-apply.service
	assert_ok "systemctl stop cnf-apply" sd systemctl stop cnf-apply.service
	assert_eq "$(xdp_prog_id eth0)" "$pid" "stopping the unit leaves the XDP program attached"
	sd_stop
}

test_boot_premounted() {
	veth_add eth0 eth0p || return
	sd_boot 1 || { sd_stop; return; }
	assert_eq "$(sd_prop cnf-apply-bpffs.service ConditionResult)" no "bpffs helper skipped (already mounted)"
	assert_eq "$(sd_prop cnf-apply.service ActiveState)/$(sd_prop cnf-apply.service SubState)" active/exited \
		"cnf-apply.service active (exited)" || sd_log
	assert_ne "$(xdp_prog_id eth0)" "" "bpftool net: XDP program on eth0"
	sd_stop
}

# Never leave a booted systemd behind, whatever ends this script.
trap '_sd_rc=$?; sd_stop; (exit $_sd_rc); _lib_exit' EXIT

if ! command -v systemd-analyze >/dev/null; then
	skip "verify" "systemd-analyze not installed (apt-get install systemd)"
else
	run_test "systemd-analyze verify passes on the installed units" test_verify
fi
if [ ! -x "$SYSTEMD_BIN" ] || ! grep -qw overlay /proc/filesystems; then
	skip "boot" "needs $SYSTEMD_BIN and overlayfs"
	skip "boot, bpffs already mounted" "needs $SYSTEMD_BIN and overlayfs"
else
	run_test "boot under systemd: bpffs, apply /etc/cnf.d, path unit re-applies" test_boot
	sd_stop
	run_test "boot under systemd with bpffs already mounted" test_boot_premounted
	sd_stop
fi
