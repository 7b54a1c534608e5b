/* SPDX-License-Identifier: GPL-2.0-only */
/* The reconcile engine's model: desired instances (manifest entries
 * expanded over their targets), observed instances (what the state root
 * and the kernel say), and the actions that turn one into the other. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include <linux/bpf.h>

#include "cnf/manifest.h"

#define CNF_KEY_MAX 256       /* one bpffs path component */
#define CNF_HASH_LEN 32       /* sha256 */
#define CNF_DESC_MAX 256

enum hook_kind {
	HOOK_XDP,
	HOOK_TCX,
	HOOK_TC,
	HOOK_NETKIT,
	HOOK_CGROUP,
	HOOK_TRACEPOINT,
	HOOK_RAW_TRACEPOINT,
	HOOK_KPROBE,
	HOOK_KRETPROBE,
	HOOK_KPROBE_MULTI,
	HOOK_FENTRY,
	HOOK_FEXIT,
	HOOK_UPROBE,
	HOOK_URETPROBE,
	HOOK_LSM,
	HOOK_NETFILTER,
	HOOK_SK_LOOKUP,
	HOOK_FLOW_DISSECTOR,
	HOOK_STRUCT_OPS,
	HOOK__COUNT,
	HOOK_INVALID = -1,
};

enum xdp_mode { XDP_MODE_AUTO, XDP_MODE_NATIVE, XDP_MODE_GENERIC, XDP_MODE_OFFLOAD };
enum tc_dir { TC_DIR_INGRESS, TC_DIR_EGRESS };
enum order_kind { ORDER_NONE, ORDER_FIRST, ORDER_LAST, ORDER_BEFORE, ORDER_AFTER };

/* A resolved hook target. Everything that identifies the hook goes into
 * `desc`, a canonical text whose hash is the hook identity. */
struct cnf_target {
	enum hook_kind kind;
	/* network */
	char ifname[IF_NAMESIZE];
	int ifindex;                  /* 0: interface absent now */
	const char *netns;            /* path from the manifest, NULL = the tool's own */
	uint64_t netns_ino;
	enum xdp_mode xdp_mode;
	uint32_t xdp_prog_id[3];      /* XDP programs on the interface when it was listed */
	bool xdp_known;               /* (native, generic, offload; 0: none) */
	enum tc_dir dir;
	uint32_t tc_priority;
	uint32_t tc_handle;
	bool tc_fallback;             /* tcx requested, legacy tc used */
	enum order_kind order;
	const char *anchor;           /* attachment name for before/after */
	/* cgroup */
	char *cgroup_path;            /* absolute */
	uint64_t cgroup_id;           /* 0: cgroup absent now */
	enum bpf_attach_type attach_type;
	/* other families: what their resolve() found (owned strings) */
	char *name;                   /* tracepoint, function, symbol, LSM hook, struct_ops map */
	char *path;                   /* uprobe binary, netns of sk_lookup/flow_dissector */
	uint64_t offset;              /* kprobe/uprobe offset */
	int32_t pid;                  /* uprobe pid, 0: all */
	bool retprobe;
	uint32_t maxactive;           /* kretprobe: 0 = the kernel's default (kprobe PMU) */
	uint32_t nf_family, nf_hooknum, nf_flags;
	int32_t nf_priority;
	uint32_t side;                /* netkit: BPF_NETKIT_PRIMARY or BPF_NETKIT_PEER */
	bool prog_bound;              /* the program is loaded for this target alone
				       * (XDP offload): never shared with another */
};

/* One desired attachment instance: an attachment applied to one target. */
struct cnf_instance {
	const struct cnf_manifest *manifest;
	const struct cnf_attachment *att;
	size_t att_idx;
	char key[CNF_KEY_MAX];        /* unique in the manifest; the pin's name */
	char target_text[CNF_DESC_MAX]; /* for people: "eth0", "eth0@blue", "/sys/fs/cgroup/x" */
	char hook_desc[CNF_DESC_MAX]; /* canonical hook parameters */
	uint8_t prog_hash[CNF_HASH_LEN]; /* object content + program + config */
	uint8_t hook_hash[CNF_HASH_LEN]; /* sha256 of hook_desc (full, untruncated) */
	struct cnf_target t;
	bool target_missing;          /* named target does not exist now */
	/* What BPF_LINK_UPDATE needs to match (from the ELF; no load). */
	uint32_t prog_type;
	uint32_t prog_flags;
	uint32_t expected_attach_type;
};

/* What the state root holds for one instance: written after a successful
 * attach, read back on the next run. Stored as the value of the manifest's
 * pinned state map, keyed by the instance key. Fixed layout, versioned:
 * a new version only adds fields at the end, and the map's value size
 * says which one it holds. Version 1 ended before obj_ctime_ns: read as a
 * version 2 record with ctime 0 (the object is hashed again), and its
 * map is rewritten in the new layout by the first apply that writes a
 * record in it. */
#define CNF_RECORD_VERSION 2
#define CNF_RECORD_V1_SIZE offsetof(struct cnf_record, obj_ctime_ns)
struct cnf_record {
	uint32_t version;
	uint32_t hook;                /* enum hook_kind */
	uint32_t link_id;             /* 0 for legacy tc (program pinned instead) */
	uint32_t prog_id;
	uint8_t prog_hash[CNF_HASH_LEN];
	uint8_t hook_hash[CNF_HASH_LEN];
	/* object file identity, to skip rehashing an unchanged file */
	uint64_t obj_dev, obj_ino, obj_size, obj_mtime_ns;
	uint8_t obj_hash[CNF_HASH_LEN];
	uint64_t netns_ino;
	uint64_t cgroup_id;
	int32_t ifindex;
	uint32_t xdp_flags;           /* mode actually obtained */
	uint32_t tc_priority, tc_handle, tc_parent;
	uint64_t created_sec;
	char attachment[64];
	char program[128];            /* object/program */
	char target[CNF_DESC_MAX];
	char hook_desc[CNF_DESC_MAX];
	char netns[CNF_DESC_MAX];     /* netns path of network hooks, "" for the tool's own */
	uint32_t prog_type;
	uint32_t attach_type;
	uint32_t prog_flags;          /* BPF_F_XDP_HAS_FRAGS, BPF_F_XDP_DEV_BOUND_ONLY, ... */
	uint32_t expected_attach_type;
	/* version 2: with the other stat fields, so that content written
	 * in place with the size and mtime put back is seen */
	uint64_t obj_ctime_ns;
};

/* One instance as observed. */
struct cnf_observed {
	char manifest[CNF_NAME_MAX + 1];
	char key[CNF_KEY_MAX];
	bool has_record;
	struct cnf_record rec;
	bool has_pin;                 /* pinned link (or prog, for legacy tc) present */
	bool alive;                   /* link/filter is attached to its target */
	bool defunct;                 /* link exists but its target is gone */
	bool prog_replaced;           /* the link runs another program than recorded */
	uint32_t link_id;
	uint32_t prog_id;
	char order_drift[128];        /* tcx/netkit: why the link is out of its declared order */
	/* What the kernel says of the recorded link (the live list or the
	 * pin): compared with the record and the target it resolves to now.
	 * 0 where unknown or not of the link type. */
	bool live_known;
	uint32_t live_type;           /* enum bpf_link_type */
	uint32_t live_attach_type;
	uint32_t live_ifindex;
	uint64_t live_netns_ino;
	uint64_t live_cgroup_id;
	/* The pin holds what the tool did not make: not the recorded link, or
	 * no record says what it is. Never updated or detached; a desired
	 * instance moves it to the quarantine (state.h) and attaches anew. */
	bool foreign_pin;
	/* tc: a program the tool does not own runs at the recorded priority
	 * and handle: never replaced. */
	bool foreign_filter;
	/* The link lives in another network namespace than the tool's own,
	 * which it was recorded in (no `netns:`): another namespace's
	 * instance, left alone. */
	bool elsewhere;
	uint64_t self_netns_ino;      /* elsewhere: the namespace of this run */
	/* What the foreign object is, from the kernel (foreign_pin,
	 * foreign_filter). */
	uint32_t foreign_link_id, foreign_prog_id, foreign_link_type;
	char foreign_kind[8];         /* "link", "prog", "map", "object" */
	char foreign_prog_name[16];
};

struct config_diff;

enum action_kind { ACT_NOOP, ACT_CREATE, ACT_UPDATE, ACT_REPLACE, ACT_DELETE };

enum strategy {
	STRAT_NONE,
	STRAT_IN_PLACE,               /* BPF_LINK_UPDATE / tc replace: no gap */
	STRAT_MAKE_BEFORE_BREAK,      /* new attached, then old detached */
	STRAT_BREAK_BEFORE_MAKE,      /* the hook holds one program: a short gap */
};

struct cnf_action {
	enum action_kind kind;
	enum strategy strategy;
	const struct cnf_instance *want;  /* NULL for delete */
	const struct cnf_observed *have;  /* NULL for create */
	char reason[CNF_DESC_MAX];
	/* results, filled by apply */
	bool done;
	uint32_t link_id, prog_id;
	const char *result_note;      /* e.g. "xdp mode: generic" */
	/* A new version of the running program: what changed in its
	 * global variables (config_diff.h); NULL otherwise. */
	const struct config_diff *config_diff;
	/* create: the program already running for another instance of the
	 * same attachment program (same object content, config and program)
	 * is attached instead of loading the object again, so that every
	 * instance runs one program with one set of maps (0: load). */
	uint32_t reuse_prog_id;
	/* apply refuses it (a foreign program in the way, another
	 * namespace's instance): plan shows it, apply stops before any
	 * change. Counted as a change. */
	bool refused;
	/* A foreign pin at the instance's path moves to the quarantine (a
	 * create) or is forgotten with the record (a delete); the foreign
	 * object itself is never detached. */
	bool quarantine;
	/* Not the tool's (a pin without a record, another namespace's
	 * instance): reported in this state ("foreign", "elsewhere"), never
	 * touched. */
	const char *left_alone;
};

struct cnf_plan {
	struct cnf_action *actions;
	size_t count;
	size_t changes;               /* actions that are not noop */
};

/* Static properties of a hook family the planner needs. */
struct hook_caps {
	bool link_update;             /* BPF_LINK_UPDATE works on its links */
	bool multi_prog;              /* several programs may share the hook */
	/* one loaded program may run on several targets of the family (not
	 * so where the target is fixed at load: fentry, LSM, struct_ops) */
	bool shared_prog;
	bool pin_is_prog;             /* no link: the pin holds the program (legacy tc) */
	bool ordered;                 /* links in a declared order, read and checked (tcx) */
	bool mprog;                   /* the kernel's multi-program API (tcx, netkit): an
				       * unordered attach goes last */
};

/* How many programs a hook holds at once: none of interest (tracing
 * hooks: no conflict is checked), one (XDP, a tc priority and handle,
 * a netfilter priority, the flow dissector) or several, each program
 * once (tcx, netkit; cgroup links and sk_lookup have no slot: they run a
 * program as often as it is attached). */
enum hook_slot_kind { HOOK_SLOT_NONE, HOOK_SLOT_ONE, HOOK_SLOT_MANY };

/* The slot of a target (its family's row), HOOK_SLOT_NONE for families
 * without: a canonical text naming the hook's place (namespace,
 * interface, direction, ...), equal for targets that share it. */
enum hook_slot_kind hook_slot(const struct cnf_target *t, char *buf, size_t len);

/* Two desired instances that cannot both be attached: they claim a hook
 * that holds one program, put one program twice on a hook, or both claim
 * its first (last) place. Indexes into the desired instances, a < b. */
struct plan_conflict {
	size_t a, b;
	const char *what;             /* "holds one program", ... */
	char slot[CNF_DESC_MAX];      /* the hook, for people */
};
/* Part of the planner, pure: the conflicts among `want` (target_missing
 * ones left out), at most one per pair of instances, in `want` order.
 * Returns how many were found; *ret (free()d by the caller) holds them. */
size_t plan_conflicts(const struct cnf_instance *want, size_t n, struct plan_conflict **ret);

const char *action_kind_name(enum action_kind k);
const char *strategy_name(enum strategy s);
const char *hook_kind_name(enum hook_kind k);
/* "xdp", "tcx", "perf_event", ... for enum bpf_link_type. */
const char *link_type_name(uint32_t type);
enum hook_kind hook_kind_from_name(const char *name);

/* A program some in-sync instance runs, that a create may attach too. */
struct plan_source {
	const struct cnf_manifest *manifest;
	enum hook_kind kind;
	uint32_t attach_type;
	uint32_t prog_id;
	uint8_t prog_hash[CNF_HASH_LEN];
};
/* The source an in-sync pair (desired, observed) offers; false when its
 * program cannot be shared (see plan_share.c). */
bool plan_source_of(const struct cnf_instance *w, const struct cnf_observed *h,
		    const struct hook_caps *caps, struct plan_source *ret);

/* The planner: a pure function. Desired instances are in manifest order;
 * observed ones in any order. `scope` lists the manifest names whose
 * observed instances may be deleted (the manifests being applied; with
 * `prune_all` any observed manifest not desired is deleted too).
 * Actions come out in execution order: deletes of pruned instances last,
 * creates ordered so tcx anchors exist before what refers to them. */
struct plan_input {
	const struct cnf_instance *want;
	size_t want_count;
	const struct cnf_observed *have;
	size_t have_count;
	const char *const *scope;
	size_t scope_count;
	bool prune_all;
	/* Manifests no longer among the desired ones whose instances are
	 * all deleted (plan_prunes() chose them). */
	const char *const *prune;
	size_t prune_count;
	const char *delete_reason;    /* overrides the reason of deletes (destroy) */
	const struct hook_caps *(*caps)(enum hook_kind kind);
	/* Running programs of in-sync instances left out of the plan (a
	 * focused run): creates may share them as they would a noop's. */
	const struct plan_source *sources;
	size_t sources_count;
	/* The desired manifests, for why an instance of one of them goes:
	 * its attachment was removed, or its interface is gone or no
	 * longer matches. NULL: "attachment no longer in the manifest". */
	const struct cnf_manifest *const *manifests;
	size_t manifests_count;
	/* The name of interface `ifindex` in namespace `netns_ino` now, NULL
	 * when there is none: names the interface a link moved to. */
	const char *(*ifname_of)(void *ctx, uint64_t netns_ino, uint32_t ifindex);
	void *ifname_ctx;
};
int plan_build(const struct plan_input *in, struct cnf_plan *ret);

/* A PATH argument of a run, absolute (manifest.h's source). */
struct plan_path {
	const char *path;
	bool is_dir;
};
/* Whether a run over `paths` prunes a manifest that is no longer among
 * them, last applied from the file `file`: a file it reads (in one of its
 * directories, or one of its files). NULL: nowhere recorded (a state root
 * of an older version): pruned when every PATH is a directory, as then. */
bool plan_prunes(const struct plan_path *paths, size_t n, const char *file);

/* --target MANIFEST[/ATTACHMENT]: whether `target` names the manifest's
 * attachment `att` (att NULL: the manifest as a whole: only a target
 * MANIFEST does), and whether it is one within the manifest. */
bool plan_target_names(const char *target, const char *manifest, const char *att);
bool plan_target_within(const char *target, const char *manifest);
/* Part of plan_build(): sets reuse_prog_id of the creates that can run a
 * program an in-sync instance already runs. */
void plan_share_programs(const struct plan_input *in, struct cnf_plan *p);
void plan_free(struct cnf_plan *p);
