/* SPDX-License-Identifier: GPL-2.0-only */
/* Live kernel state: every bpf_link on the host, read through the tool's
 * own iter/bpf_link program, or through BPF_LINK_GET_NEXT_ID where the
 * iterator cannot be used; and what this kernel supports. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/bpf.h>

struct btf;

/* One link as the kernel sees it. Fields a link type does not have are 0. */
struct live_link {
	uint32_t id;
	uint32_t type;          /* enum bpf_link_type */
	uint32_t prog_id;
	uint32_t prog_type;     /* enum bpf_prog_type */
	uint32_t attach_type;   /* enum bpf_attach_type (tcx, netkit, cgroup, xdp) */
	uint32_t ifindex;       /* xdp, tcx, netkit; 0 when the device is gone */
	uint64_t netns_ino;     /* inode of the device's network namespace (xdp, tcx, netkit, netns links);
				 * 0 = unknown: the NEXT_ID source fills it for netns links, and for
				 * tcx/netkit links only when they sit in the caller's netns; never
				 * for xdp links. The iterator sources fill it always. */
	uint64_t cgroup_id;     /* cgroup links */
	char prog_name[16];
};

enum live_source {
	LIVE_SRC_ITER_PINNED,   /* pinned iterator link: one read */
	LIVE_SRC_ITER_LOADED,   /* iterator loaded this run */
	LIVE_SRC_NEXT_ID,       /* BPF_LINK_GET_NEXT_ID + get_info */
};

struct live_links {
	struct live_link *links; /* sorted by id */
	size_t count;
	enum live_source source;
};

/* The tool's own directory under the state root. bpffs refuses names
 * containing '.', so it cannot be ".cnf"; manifest names start with
 * [a-z0-9], so a leading '_' never clashes with a manifest's directory. */
#define LIVE_STATE_DIR "_cnf"

struct live_opts {
	const char *bpffs;      /* state root; the iterator is pinned under <bpffs>/_cnf/ */
	bool may_pin;           /* load and pin the iterator if no pin exists (apply) */
	bool force_next_id;     /* skip the iterator (tests, --no-iter) */
};

/* Reads every link on the host. Returns 0 or a negative errno. */
int live_links_read(const struct live_opts *opts, struct live_links *ret);
/* What a link's info says of it (id, type, program, target), as the
 * BPF_LINK_GET_NEXT_ID source reads it. */
struct bpf_link_info;
void live_link_fill(struct live_link *l, const struct bpf_link_info *info);
void live_links_free(struct live_links *l);
const struct live_link *live_links_find(const struct live_links *l, uint32_t id);
const char *live_source_name(enum live_source s);
/* Remove the pinned iterator (destroy --all). */
int live_iter_unpin(const char *bpffs);
/* Hex hash of the embedded iterator object: the pin is <bpffs>/_cnf/iter-<this>. */
const char *live_iter_version(void);

/* What this kernel supports, found by probing (never by version). */
struct probe_result {
	bool bpf;               /* bpf() works at all (root, not disabled) */
	bool link_create;       /* BPF_LINK_CREATE */
	bool xdp_link;
	bool tcx;
	bool netkit;
	bool tc_legacy;         /* cls_bpf via clsact */
	bool cgroup_link;
	bool link_iter;         /* iter/bpf_link loads */
	bool link_update;       /* BPF_LINK_UPDATE */
	bool kprobe_multi;
	bool trampoline;        /* fentry/fexit */
	bool bpf_lsm;
	bool netfilter_link;
	bool tracepoint;
	bool uprobe;
	bool btf_vmlinux;
	char kernel_release[65];
	/* Added beside the fields above. */
	int bpf_errno;          /* why bpf is false (EPERM: not root), else 0 */
	bool kprobe;            /* kprobe/kretprobe: perf kprobe PMU + kprobe programs */
	bool raw_tracepoint;
	bool sk_lookup;
	bool flow_dissector;
	bool struct_ops;
	bool tracefs;           /* tracefs events/ found (tracepoint needs it) */
	bool kprobe_pmu;        /* /sys/bus/event_source/devices/kprobe */
	bool uprobe_pmu;        /* /sys/bus/event_source/devices/uprobe */
	bool kprobe_prog;       /* BPF_PROG_TYPE_KPROBE loads (kprobes and uprobes) */
	bool lsm_active;        /* "bpf" is in the kernel's active LSM list */
	bool struct_ops_link;   /* struct_ops maps attach through bpf_links (BPF_F_LINK) */
};

/* Probes once per process and caches; cheap probes first. Never changes
 * anything on the host that outlives the call. Environment overrides for
 * tests: CNF_APPLY_FORCE_NO_TCX=1 makes tcx report unsupported. */
const struct probe_result *probe_kernel(void);
/* Just tcx, with one query (the hot path needs nothing else). */
bool probe_tcx(void);
/* Single cached probes for the hooks that need one, cheaper than
 * probe_kernel(): 1 supported, 0 not, -1 cannot tell (no privileges). */
int probe_netkit_support(void);
/* validate: from now on, probes that would call bpf() answer -1 (cannot
 * tell) without calling it, as root or not: validate touches no kernel,
 * and its verdict does not depend on who runs it. */
void probe_without_kernel(void);
bool probe_bpf_lsm_active(void);
/* Test loads of an fentry / an LSM program, once per process: 0, or the
 * kernel's -errno (-ENOENT: no BTF; LSM: -ENOPKG when bpf is not an
 * active LSM). */
int probe_trampoline_errno(void);
int probe_bpf_lsm_errno(void);
/* vmlinux BTF, parsed once per process (NULL without it). */
const struct btf *probe_vmlinux_btf(void);
