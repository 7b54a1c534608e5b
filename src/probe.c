// SPDX-License-Identifier: GPL-2.0-only
/* What this kernel supports, found by trying it, never by version numbers.
 *
 * Every probe is a program load, a query, or an attach whose failure mode
 * tells the answer; nothing outlives probe_kernel(). The one probe that
 * needs a real attach (legacy tc: clsact + cls_bpf) runs on the loopback
 * device of a throwaway network namespace owned by a short-lived thread:
 * the rest of the process never leaves its netns, and the namespace (with
 * the qdisc and filter in it) goes away when the thread exits.
 *
 * errno meanings relied on (kernel source semantics):
 *  - BPF_LINK_CREATE / BPF_LINK_UPDATE with fd -1: EBADF once the command
 *    exists (the fd is looked up first), EINVAL when the command is unknown.
 *  - cgroup link with target fd -1: EBADF from the cgroup fd lookup once
 *    cgroup links exist; EINVAL from link_create's prog-type switch before.
 *  - XDP link in native mode on lo: see probe_xdp_link().
 *  - BPF_PROG_QUERY tcx ingress on lo: 0 with tcx; EINVAL where the attach
 *    type is unknown.
 *  - BPF_PROG_QUERY netkit primary on lo: ENXIO ("not a netkit device")
 *    with CONFIG_NETKIT; EINVAL from the !CONFIG_NETKIT stub or where the
 *    attach type is unknown.
 *  - kprobe_multi link on a symbol that does not exist: ESRCH (or ENOENT)
 *    from the symbol lookup when fprobe exists; EOPNOTSUPP without
 *    CONFIG_FPROBE; EINVAL where the attach type is unknown.
 */
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <linux/lsm.h>

#include "cnf/live.h"
#include "cnf/log.h"
#include "cnf/util.h"

static struct probe_result result;
static bool probed;

/* r0 = ret; exit */
static int prog_load(enum bpf_prog_type type, enum bpf_attach_type eat,
		     __u32 btf_id, int ret)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = ret },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o,
		    .expected_attach_type = eat,
		    .attach_btf_id = btf_id);
	int fd;

	fd = bpf_prog_load(type, NULL, "GPL", insns, ARRAY_SIZE(insns), &o);
	return fd < 0 ? -errno : fd;
}

static bool prog_loads(enum bpf_prog_type type, enum bpf_attach_type eat, int ret)
{
	int fd = prog_load(type, eat, 0, ret);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static bool path_exists(const char *p)
{
	return access(p, F_OK) == 0;
}

/* Does the LSM list contain "bpf"? lsm_list_modules(2) where it exists
 * (no securityfs needed), else securityfs. */
static bool lsm_has_bpf(void)
{
	_cleanup_fclose_ FILE *f = NULL;
	char buf[512];

#ifdef __NR_lsm_list_modules
	{
		__u64 ids[64];
		__u32 size = sizeof(ids);
		long n = syscall(__NR_lsm_list_modules, ids, &size, 0);

		if (n >= 0) {
			for (long i = 0; i < n; i++)
				if (ids[i] == LSM_ID_BPF)
					return true;
			return false;
		}
	}
#endif
	f = fopen("/sys/kernel/security/lsm", "re");
	if (!f || !fgets(buf, sizeof(buf), f))
		return false;
	for (char *save = NULL, *t = strtok_r(buf, ",\n", &save); t;
	     t = strtok_r(NULL, ",\n", &save))
		if (streq(t, "bpf"))
			return true;
	return false;
}

bool probe_bpf_lsm_active(void)
{
	static int cached = -1;

	if (cached < 0)
		cached = lsm_has_bpf();
	return cached;
}

const struct btf *probe_vmlinux_btf(void)
{
	static struct btf *btf;
	static bool tried;

	/* Kept for the life of the process: every hook that needs it
	 * (fentry, LSM, raw tracepoints, struct_ops) shares one parse. */
	if (!tried) {
		tried = true;
		btf = btf__load_vmlinux_btf();
		if (!btf)
			log_debug("probe: cannot parse vmlinux BTF: %s", strerror(errno));
	}
	return btf;
}

static bool probe_tcx_uncached(void);

bool probe_tcx(void)
{
	static int cached = -1;

	if (cached < 0)
		cached = probe_tcx_uncached();
	return cached;
}

static bool probe_tcx_uncached(void)
{
	LIBBPF_OPTS(bpf_prog_query_opts, q);
	const char *env = getenv("CNF_APPLY_FORCE_NO_TCX");

	if (env && streq(env, "1")) {
		log_debug("probe: tcx forced off by CNF_APPLY_FORCE_NO_TCX=1");
		return false;
	}
	/* lo is ifindex 1 in every netns. */
	return bpf_prog_query_opts(1, BPF_TCX_INGRESS, &q) == 0;
}

static int probe_netkit_uncached(void)
{
	LIBBPF_OPTS(bpf_prog_query_opts, q);
	int r = bpf_prog_query_opts(1, BPF_NETKIT_PRIMARY, &q);

	log_debug("probe: netkit query on lo: %s", strerror(-r));
	if (r == 0 || r == -ENXIO || r == -ENODEV || r == -EACCES)
		return 1;
	/* Without CAP_NET_ADMIN the query is refused before the device. */
	return r == -EPERM ? -1 : 0;
}

static bool without_kernel;

void probe_without_kernel(void)
{
	without_kernel = true;
}

int probe_netkit_support(void)
{
	static int cached = -2;

	if (without_kernel)
		return -1;
	if (cached == -2)
		cached = probe_netkit_uncached();
	return cached;
}

static bool probe_netkit(void)
{
	return probe_netkit_support() == 1;
}

static bool probe_link_create(void)
{
	int fd = bpf_link_create(-1, -1, BPF_CGROUP_INET_INGRESS, NULL);

	if (fd >= 0)
		close(fd);
	return fd >= 0 || errno == EBADF;
}

static bool probe_link_update(void)
{
	return bpf_link_update(-1, -1, NULL) < 0 && errno == EBADF;
}

static bool probe_cgroup_link(void)
{
	_cleanup_close_ int prog = -1;
	int fd;

	prog = prog_load(BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_INGRESS, 0, 1);
	if (prog < 0)
		return false;
	fd = bpf_link_create(prog, -1, BPF_CGROUP_INET_INGRESS, NULL);
	if (fd >= 0)
		close(fd);
	return fd >= 0 || errno == EBADF;
}

static bool probe_kprobe_multi(void);

static bool probe_kprobe_multi_support(void)
{
	static int cached = -1;

	if (cached < 0)
		cached = probe_kprobe_multi();
	return cached;
}

static bool probe_kprobe_multi(void)
{
	const char *syms[] = { "cnf_apply_probe_no_such_function" };
	LIBBPF_OPTS(bpf_link_create_opts, o,
		    .kprobe_multi.syms = syms,
		    .kprobe_multi.cnt = 1);
	_cleanup_close_ int prog = -1;
	int fd, e;

	prog = prog_load(BPF_PROG_TYPE_KPROBE, BPF_TRACE_KPROBE_MULTI, 0, 0);
	if (prog < 0)
		return false;
	fd = bpf_link_create(prog, 0, BPF_TRACE_KPROBE_MULTI, &o);
	if (fd >= 0) {
		close(fd);
		return true;
	}
	e = errno;
	log_debug("probe: kprobe_multi link on a missing symbol: %s", strerror(e));
	return e == ESRCH || e == ENOENT;
}

/* fentry/fexit, LSM and iterator programs load against a BTF id. The
 * iterator probe loads a bare iter/bpf_link program rather than the
 * CO-RE skeleton: same kernel answer, without libbpf parsing vmlinux BTF
 * a second time. */
static bool probe_btf_prog(const struct btf *vmlinux, const char *func,
			   enum bpf_prog_type type, enum bpf_attach_type eat)
{
	int id, fd;

	if (!vmlinux)
		return false;
	id = btf__find_by_name_kind(vmlinux, func, BTF_KIND_FUNC);
	if (id <= 0)
		return false;
	fd = prog_load(type, eat, id, 0);
	if (fd < 0) {
		log_debug("probe: program against %s does not load: %s", func, strerror(-fd));
		return false;
	}
	close(fd);
	return true;
}

/* A test load against `func`, once per process: 0, or the kernel's
 * -errno (-ENOENT without BTF or without the function). */
static int btf_prog_errno(const char *func, enum bpf_prog_type type, enum bpf_attach_type eat)
{
	const struct btf *vmlinux = probe_vmlinux_btf();
	int id, fd;

	if (!vmlinux)
		return -ENOENT;
	id = btf__find_by_name_kind(vmlinux, func, BTF_KIND_FUNC);
	if (id <= 0)
		return -ENOENT;
	fd = prog_load(type, eat, id, 0);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

int probe_trampoline_errno(void)
{
	static int cached = 1;

	if (cached == 1)
		cached = btf_prog_errno("bpf_fentry_test1", BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY);
	return cached;
}

int probe_bpf_lsm_errno(void)
{
	static int cached = 1;

	if (cached == 1)
		cached = !probe_bpf_lsm_active() ? -ENOPKG :
			 btf_prog_errno("bpf_lsm_file_open", BPF_PROG_TYPE_LSM, BPF_LSM_MAC);
	return cached;
}

/* XDP link in native mode on lo. Loopback has no native XDP, so nothing
 * gets attached: EOPNOTSUPP ("driver does not support XDP in native
 * mode"), or EEXIST/EBUSY when lo carries a generic program, all say the
 * link type exists; EINVAL says it does not. A real generic-mode attach
 * would tell the same at about 15 ms (generic XDP static key flip). */
static bool probe_xdp_link(void)
{
	LIBBPF_OPTS(bpf_link_create_opts, o, .flags = XDP_FLAGS_DRV_MODE);
	_cleanup_close_ int prog = -1;
	int fd, e;

	prog = prog_load(BPF_PROG_TYPE_XDP, BPF_XDP, 0, 2 /* XDP_PASS */);
	if (prog < 0)
		return false;
	fd = bpf_link_create(prog, 1, BPF_XDP, &o);
	if (fd >= 0) {
		close(fd);
		return true;
	}
	e = errno;
	log_debug("probe: native XDP link on lo: %s", strerror(e));
	return e != EINVAL && e != EPERM;
}

/* clsact + cls_bpf on lo (private netns only). */
static bool probe_tc_attach(void)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = 1, .attach_point = BPF_TC_INGRESS);
	_cleanup_close_ int prog = -1;
	int r;

	prog = prog_load(BPF_PROG_TYPE_SCHED_CLS, 0, 0, 0);
	if (prog < 0)
		return false;
	r = bpf_tc_hook_create(&hook);
	if (r < 0 && r != -EEXIST)
		return false;
	{
		LIBBPF_OPTS(bpf_tc_opts, t, .prog_fd = prog);

		r = bpf_tc_attach(&hook, &t);
	}
	return r == 0;
}

struct netns_probe {
	int err;
	bool tc_legacy;
};

static void *netns_probe_thread(void *arg)
{
	struct netns_probe *p = arg;

	/* Only this thread moves; the netns dies with it. */
	if (unshare(CLONE_NEWNET) < 0) {
		p->err = -errno;
		return NULL;
	}
	p->tc_legacy = probe_tc_attach();
	return NULL;
}

static void probe_in_private_netns(struct probe_result *r)
{
	struct netns_probe p = { 0 };
	pthread_t t;
	int e;

	e = pthread_create(&t, NULL, netns_probe_thread, &p);
	if (e == 0)
		e = pthread_join(t, NULL);
	else
		p.err = -e;
	if (e == 0 && p.err == 0) {
		r->tc_legacy = p.tc_legacy;
		return;
	}
	/* No private netns (no CAP_SYS_ADMIN over the netns, seccomp...):
	 * answer from the program type alone. */
	log_debug("probe: no private netns for the tc probe (%s)",
		  strerror(p.err ? -p.err : e));
	r->tc_legacy = prog_loads(BPF_PROG_TYPE_SCHED_CLS, 0, 0);
}

static void probe_all(struct probe_result *r)
{
	const struct btf *vmlinux = NULL;
	struct utsname u;
	int fd;

	if (uname(&u) == 0)
		snprintf(r->kernel_release, sizeof(r->kernel_release), "%s", u.release);

	/* Filesystem facts: readable without privileges. */
	r->btf_vmlinux = path_exists("/sys/kernel/btf/vmlinux");
	r->tracefs = path_exists("/sys/kernel/tracing/events") ||
		     path_exists("/sys/kernel/debug/tracing/events");
	r->kprobe_pmu = path_exists("/sys/bus/event_source/devices/kprobe/type");
	r->uprobe_pmu = path_exists("/sys/bus/event_source/devices/uprobe/type");
	r->lsm_active = probe_bpf_lsm_active();

	/* bpf() usable as the tool needs it: a program loads, and the
	 * CAP_SYS_ADMIN-only id walk works. */
	fd = prog_load(BPF_PROG_TYPE_SOCKET_FILTER, 0, 0, 0);
	if (fd < 0) {
		r->bpf_errno = -fd;
	} else {
		__u32 id;

		close(fd);
		if (bpf_prog_get_next_id(0, &id) < 0 && errno != ENOENT)
			r->bpf_errno = errno;
	}
	r->bpf = r->bpf_errno == 0;
	if (!r->bpf) {
		log_debug("probe: bpf() not usable: %s", strerror(r->bpf_errno));
		return;
	}

	r->link_create = probe_link_create();
	r->link_update = probe_link_update();
	r->tcx = probe_tcx();
	r->netkit = probe_netkit();
	r->cgroup_link = r->link_create && probe_cgroup_link();
	r->netfilter_link = prog_loads(BPF_PROG_TYPE_NETFILTER, BPF_NETFILTER, 1);
	r->raw_tracepoint = prog_loads(BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 0);
	r->tracepoint = r->tracefs && prog_loads(BPF_PROG_TYPE_TRACEPOINT, 0, 0);
	r->kprobe_prog = prog_loads(BPF_PROG_TYPE_KPROBE, 0, 0);
	r->kprobe = r->kprobe_pmu && r->kprobe_prog;
	r->uprobe = r->uprobe_pmu && r->kprobe_prog;
	r->kprobe_multi = r->kprobe_prog && probe_kprobe_multi_support();
	r->sk_lookup = prog_loads(BPF_PROG_TYPE_SK_LOOKUP, BPF_SK_LOOKUP, 1);
	r->flow_dissector = prog_loads(BPF_PROG_TYPE_FLOW_DISSECTOR, BPF_FLOW_DISSECTOR, 0);
	r->struct_ops = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_STRUCT_OPS, NULL) == 1;

	r->xdp_link = r->link_create && probe_xdp_link();
	probe_in_private_netns(r);

	/* The expensive ones last: they parse vmlinux BTF. */
	if (r->btf_vmlinux)
		vmlinux = probe_vmlinux_btf();
	r->trampoline = probe_btf_prog(vmlinux, "bpf_fentry_test1",
				       BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY);
	r->bpf_lsm = r->lsm_active &&
		     probe_btf_prog(vmlinux, "bpf_lsm_file_open",
				    BPF_PROG_TYPE_LSM, BPF_LSM_MAC);
	/* struct_ops links (BPF_F_LINK maps) came with this kernel type. */
	r->struct_ops_link = r->struct_ops && vmlinux &&
			     btf__find_by_name_kind(vmlinux, "bpf_struct_ops_link", BTF_KIND_STRUCT) > 0;
	r->link_iter = probe_btf_prog(vmlinux, "bpf_iter_bpf_link",
				      BPF_PROG_TYPE_TRACING, BPF_TRACE_ITER);
}

const struct probe_result *probe_kernel(void)
{
	if (!probed) {
		probe_all(&result);
		probed = true;
	}
	return &result;
}
