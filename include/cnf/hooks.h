/* SPDX-License-Identifier: GPL-2.0-only */
/* Hook families behind one table (like libbpf's SEC_DEF rows): adding a
 * hook is one file and one row in hooks.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <bpf/libbpf.h>

#include "cnf/engine.h"

struct probe_result;

struct attach_args {
	uint32_t anchor_link_id;       /* tcx before/after */
	uint32_t last_link_id;         /* tcx unordered: the link the run wants last (0: none) */
	uint64_t expected_revision;    /* tcx: detect concurrent changes (0: any) */
	struct bpf_object *obj;        /* the loaded object (struct_ops finds its map here) */
	struct bpf_program *prog;      /* the loaded program, NULL for struct_ops */
};

struct attach_result {
	uint32_t xdp_flags;            /* XDP mode obtained */
	uint32_t tc_priority, tc_handle, tc_parent;
	uint32_t prog_id, link_id;
	const char *note;              /* e.g. "native", "generic" */
	bool qdisc_created;            /* tc: the attach created the clsact qdisc */
};

/* tc: removes the clsact qdisc of `ifindex` (the caller is in its netns)
 * when no filter of any kind is left on it. Returns 1 when it is gone,
 * 0 when filters keep it, or a negative errno. */
int tc_clsact_release(int ifindex);
/* The record that the tool created the clsact qdisc of an interface. */
int tc_clsact_mark(const char *bpffs, uint64_t netns_ino, int ifindex);
bool tc_clsact_marked(const char *bpffs, uint64_t netns_ino, int ifindex);
void tc_clsact_unmark(const char *bpffs, uint64_t netns_ino, int ifindex);

/* A program on a managed hook that the tool did not attach. */
struct foreign_prog {
	uint32_t prog_id;
	uint32_t link_id;              /* 0: attached without a link */
	char prog_name[16];
};

/* A program pinned under the state root, as a preflight sees it: who
 * runs it, and whether this run removes that instance first. */
struct hook_holder {
	uint32_t prog_id;
	const char *manifest;
	const struct cnf_observed *have;
	const struct cnf_instance *want;  /* desired by this run, if so */
	bool leaving;                     /* deleted or replaced by this run */
};

struct preflight_ctx {
	/* Every program pinned under the state root (every manifest's),
	 * sorted by prog_id. */
	const struct hook_holder *holders;
	size_t count;
};

struct hook_ops {
	enum hook_kind kind;
	const char *name;              /* the manifest's `hook:` */
	struct hook_keys keys;         /* its manifest keys and their values */
	struct hook_caps caps;
	bool network;                  /* targets interfaces (netns applies) */
	bool netns_wide;               /* the hook is a whole network namespace's */
	uint32_t link_type;            /* BPF_LINK_TYPE_* of its links, checked against
					* the live link (0: not checked) */
	/* Families with one target that resolve() finds: the manifest key
	 * naming it (errors point there; NULL: the entry), and a fixed pin
	 * name for it (NULL: the target's text, escaped). */
	const char *target_key;
	const char *pin_name;
	/* Checks that `prog` fits the hook and completes the target fields that
	 * depend on the attachment and program (attach type, mode, ...). On a
	 * problem writes a reason into `why` and returns -EINVAL. */
	int (*prepare)(const struct cnf_attachment *a, struct bpf_program *prog,
		       struct cnf_target *t, char *why, size_t whylen);
	/* Families that target neither interfaces nor cgroups: finds the one
	 * target (tracepoint, function, binary, netns, ...), fills the target
	 * fields and writes a text naming it for people (also the pin's name,
	 * escaped). Returns -ENOENT, with a reason in `why`, when the target
	 * does not exist; other negative errnos for other problems. */
	int (*resolve)(const struct cnf_attachment *a, struct bpf_program *prog,
		       struct cnf_target *t, char *text, size_t textlen, char *why, size_t whylen);
	/* What the target needs from this kernel, after prepare() and not
	 * for validate (tcx: the tc fallback where tcx is missing). */
	void (*adapt)(struct cnf_target *t);
	/* Appends the canonical hook parameters (the hook identity). */
	void (*describe)(const struct cnf_target *t, char *buf, size_t len);
	/* The hook's place and how many programs it holds (see enum
	 * hook_slot_kind): what plan_conflicts() compares between desired
	 * instances. NULL: HOOK_SLOT_NONE. */
	enum hook_slot_kind (*slot)(const struct cnf_target *t, char *buf, size_t len);
	/* What an attach obtained, in output: the JSON field of the action's
	 * result note ("xdp_mode"; the text says "<note> mode"), and the
	 * note a record holds (an update keeps the attach's). */
	const char *note_key;
	const char *(*record_note)(const struct cnf_record *rec);
	/* How the family attaches an instance, when it has two ways (tcx:
	 * "tcx", or "tc" where it fell back); from the target or, for a
	 * delete, the record. */
	const char *(*via)(const struct cnf_target *t, const struct cnf_record *rec);
	/* `cnf-apply probe`: how the family attaches on this kernel ("link",
	 * "perf_event", "tc-fallback", ...), NULL when it cannot. */
	const char *(*probed)(const struct probe_result *p);
	/* Kernel support for the family, checked before anything of it is
	 * loaded: 0, or a negative errno with the true reason in `why`. */
	int (*supported)(char *why, size_t whylen);
	/* Does the loaded program fit the hook (expected attach type, load
	 * flags)? Run after the load, by plan and apply alike. */
	int (*fit)(const struct cnf_instance *w, struct bpf_program *prog, char *why,
		   size_t whylen);
	/* Everything the kernel would refuse at attach time that can be read
	 * without attaching: occupancy of a hook that holds one program,
	 * device capability, ordering claims of other manifests. Run by plan
	 * and apply alike (the caller entered the target's netns). */
	int (*preflight)(const struct cnf_instance *w, const struct preflight_ctx *ctx,
			 char *why, size_t whylen);
	/* Attaches; returns a link fd to pin (or, without links, the program
	 * fd duplicated for pinning), negative errno on failure. */
	int (*attach)(const struct cnf_instance *w, int prog_fd, const struct attach_args *args,
		      struct attach_result *res);
	/* Swaps the program in place. `pin_fd` is the pinned link (or program). */
	int (*update)(const struct cnf_instance *w, const struct cnf_record *rec, int pin_fd,
		      int prog_fd, uint32_t old_prog_id, const struct attach_args *args,
		      struct attach_result *res);
	/* Hooks holding one program: attaches `prog_fd` where `rec` says (the
	 * caller entered its netns), to put back what a failed run removed.
	 * Returns the new link's fd. */
	int (*restore)(const struct cnf_record *rec, int prog_fd);
	/* Detaches what `rec` describes; `pin_fd` may be -1 when the pin is gone. */
	int (*detach)(const struct cnf_record *rec, int pin_fd);
	/* For hooks without links: is the recorded program attached? Sets
	 * *ret_prog_id to the program found at the recorded place (0 none). */
	int (*observe)(const struct cnf_record *rec, uint32_t *ret_prog_id);
	/* Programs on the target's hook that are not in `own` (sorted ids). */
	int (*foreign)(const struct cnf_instance *w, const uint32_t *own_prog_ids, size_t n_own,
		       struct foreign_prog **ret, size_t *ret_count);
};

const struct hook_ops *hook_ops_get(enum hook_kind kind);
/* The holders of `prog_id` (several when instances share a program):
 * *ret_n of them from the one returned (NULL, 0: not the tool's). */
const struct hook_holder *preflight_holders(const struct preflight_ctx *ctx, uint32_t prog_id,
					   size_t *ret_n);
/* Is h's instance on w's hook (the same slot)? */
bool preflight_on_hook(const struct hook_holder *h, const struct cnf_instance *w);
/* Hooks that hold one program: refuses when one of `ids` (0s skipped) is
 * kept on w's hook by anything but `w` itself or an instance this run
 * removes first. `hook` names the hook for people ("XDP on eth0").
 * -EBUSY with a reason naming the holder: manifest and attachment
 * (file:line when this run read it), or another tool's program id and
 * name. */
int preflight_exclusive(const struct cnf_instance *w, const struct preflight_ctx *ctx,
			const uint32_t *ids, size_t n, const char *hook, char *why, size_t whylen);
/* Who holds `prog_id` (h: one of its holders, NULL: another tool's), for
 * a message. */
void preflight_describe_holder(const struct hook_holder *h, uint32_t prog_id, char *buf,
			       size_t len);
/* The place of a network target in a slot text: its namespace (inode,
 * or the manifest's path when not resolved) and interface name. */
int hook_net_where(const struct cnf_target *t, char *buf, size_t len);
const struct hook_caps *hook_caps_get(enum hook_kind kind);

extern const struct hook_ops hook_xdp_ops;
/* `direction:`'s words (tc and tcx), by enum tc_dir. */
extern const char *const tc_direction_names[];
extern const struct hook_ops hook_tcx_ops;
extern const struct hook_ops hook_tc_ops;
extern const struct hook_ops hook_cgroup_ops;

/* Shared by link-based hooks. */
int link_update_common(int link_fd, int prog_fd, uint32_t old_prog_id);
/* A program opened by id, once per program however many links of a run
 * name it (BPF_F_REPLACE's guard, the program a rollback puts back): the
 * fd is borrowed, valid until hook_prog_fds_close(), which the end of a
 * run calls. Negative errno when the program is gone. */
int hook_prog_fd(uint32_t prog_id);
void hook_prog_fds_close(void);
int link_detach_common(int link_fd);
bool own_has(const uint32_t *own, size_t n, uint32_t id);
int foreign_add(struct foreign_prog **arr, size_t *n, uint32_t prog_id, uint32_t link_id);

/* cgroup attach types by the names the manifest uses. */
int cgroup_attach_type_by_name(const char *name, enum bpf_attach_type *ret);
const char *cgroup_attach_type_name(enum bpf_attach_type t);

extern const struct hook_ops hook_netkit_ops;
extern const struct hook_ops hook_tracepoint_ops;
extern const struct hook_ops hook_raw_tracepoint_ops;
extern const struct hook_ops hook_kprobe_ops;
extern const struct hook_ops hook_kretprobe_ops;
extern const struct hook_ops hook_kprobe_multi_ops;
extern const struct hook_ops hook_fentry_ops;
extern const struct hook_ops hook_fexit_ops;
extern const struct hook_ops hook_uprobe_ops;
extern const struct hook_ops hook_uretprobe_ops;
extern const struct hook_ops hook_lsm_ops;
extern const struct hook_ops hook_netfilter_ops;
extern const struct hook_ops hook_sk_lookup_ops;
extern const struct hook_ops hook_flow_dissector_ops;
extern const struct hook_ops hook_struct_ops_ops;

/* Shared by the families that target neither interfaces nor cgroups
 * (hook_targets.c). */

/* Refuses a program whose type is not `type` (`needs` says what the hook
 * needs, e.g. "tracepoint (SEC(\"tracepoint/GROUP/NAME\"))"). */
int hook_check_prog_type(const struct cnf_attachment *a, struct bpf_program *prog,
			 enum bpf_prog_type type, const char *needs, char *why, size_t whylen);
/* What the program's ELF section names after one of `prefixes` and '/'
 * ("tracepoint/syscalls/sys_enter_openat" -> "syscalls/sys_enter_openat"),
 * NULL when the section names nothing. Sets *ret_prefix to the match. */
const char *hook_section_target(struct bpf_program *prog, const char *const *prefixes,
				const char **ret_prefix);
/* The tracefs mount ("/sys/kernel/tracing" or the debugfs one), NULL if none. */
const char *hook_tracefs(void);
/* Is `name` a text symbol in /proc/kallsyms (vmlinux or a module)? 1 yes,
 * 0 no, negative errno when kallsyms cannot be read. */
int hook_kallsyms_has(const char *name);
/* Kernel functions that ftrace can attach to (available_filter_functions)
 * matching the names or globs in `pats`, sorted and deduplicated. When a
 * pattern matches nothing, *ret_unmatched points to it and -ENOENT is
 * returned. */
int hook_filter_functions(char *const *pats, size_t npats, char ***ret, size_t *ret_count,
			  const char **ret_unmatched);
void hook_strv_free(char **v, size_t n);
/* kprobe, kretprobe, uprobe, uretprobe (perf event links): the loaded
 * program must be a plain one, not one libbpf loaded for a multi link
 * (a USDT program on a kernel with uprobe_multi, kprobe.multi). */
int hook_fit_single_probe(const struct cnf_instance *w, struct bpf_program *prog, char *why,
			  size_t whylen);
/* A test load's -errno as the reason a family cannot work here
 * (`what`: "fentry", "LSM"): 0 when err is 0, else -EOPNOTSUPP. */
int hook_support_reason(int err, const char *family, const char *what, char *why, size_t whylen);
/* Does vmlinux BTF have a type `name` of `kind` (BTF_KIND_FUNC, ...)? 1, 0,
 * or -ENOENT without BTF. A fact of the kernel, found without loading. */
int hook_kernel_has(int kind, const char *name);
/* Is there a BTF function `name` in vmlinux or a module? 1, 0 or -errno. */
int hook_btf_func_exists(const char *name);
/* A perf event opened on a PMU (`pmu` names /sys/bus/event_source/devices/
 * <pmu>; "tracepoint" uses PERF_TYPE_TRACEPOINT with `config`) and a
 * BPF_PERF_EVENT link from `prog_fd` to it. Returns the link fd. */
struct hook_perf_event {
	const char *pmu;               /* "kprobe", "uprobe" or "tracepoint" */
	bool retprobe;
	uint64_t config;               /* tracepoint id */
	const char *name;              /* kprobe function / uprobe binary path */
	uint64_t offset;
	int pid;                       /* uprobe: 0 all processes */
};
int hook_perf_link(int prog_fd, const struct hook_perf_event *ev);
/* Is there a PMU for dynamic probes of that kind (kprobe, uprobe)? */
bool hook_pmu_exists(const char *pmu);
/* Link-based hooks whose links cannot be updated: detach through the pin. */
int hook_link_detach(const struct cnf_record *rec, int pin_fd);
/* The netns of the calling thread (network hooks have entered theirs). */
int hook_netns_fd(void);
/* Hooks of a whole network namespace (sk_lookup, flow_dissector): `netns`
 * or the tool's own. Sets t->netns (the engine enters it around attach,
 * detach and queries), t->path and t->netns_ino; -ENOENT if it is gone. */
int hook_netns_target(const struct cnf_attachment *a, struct cnf_target *t, char *text,
		      size_t textlen, char *why, size_t whylen);
/* BPF_PROG_QUERY on the current netns: programs not in `own`. */
int hook_netns_foreign(enum bpf_attach_type type, const uint32_t *own, size_t n_own,
		       struct foreign_prog **ret, size_t *ret_count);

/* Hooks without a query of their own (hook_foreign.c): every link of
 * `type` on the host whose program is not in `own` and that `match` puts
 * on the hook is added to *ret. `name` is the name the link's info
 * carries (perf event links: function, file or tracepoint; raw
 * tracepoint links: the tracepoint), "" for other types. */
typedef bool (*hook_link_match_fn)(const struct bpf_link_info *info, const char *name,
				   const void *ctx);
int hook_links_foreign(enum bpf_link_type type, hook_link_match_fn match, const void *ctx,
		       const uint32_t *own, size_t n_own, struct foreign_prog **ret, size_t *ret_count);
/* The kernel function `name` as tracing links name their target: the id
 * of the kernel BTF object (vmlinux or a module) and its type id there. */
int hook_btf_func_target(const char *name, uint32_t *ret_obj_id, uint32_t *ret_btf_id);
/* Tracing links (fentry, fexit, LSM) of attach type `attach_type` on the
 * kernel function `func` whose programs are not in `own`. */
int hook_tracing_foreign(uint32_t attach_type, const char *func, const uint32_t *own,
			 size_t n_own, struct foreign_prog **ret, size_t *ret_count);

/* ---- mprog: tcx and netkit, the kernel's multi-program hooks (hook_mprog.c) */
/* `order:`'s words. */
extern const char *const mprog_order_names[];
/* t->order and t->anchor from `order`, `before` or `after`. */
void mprog_order_prepare(const struct cnf_attachment *a, struct cnf_target *t);
/* "<where>", "<where> order=first", "<where> before=ANCHOR", ... */
void mprog_order_describe(const struct cnf_target *t, const char *where, char *buf, size_t len);
/* BPF_PROG_QUERY of the instance's hook: at most *count ids (link_ids may
 * be NULL); *count becomes how many were filled. */
int mprog_query(const struct cnf_instance *w, uint32_t *prog_ids, uint32_t *link_ids,
		uint32_t *count, uint64_t *revision);
/* Attaches in the declared order (args->anchor_link_id for before/after:
 * -ENOENT if it is not on the hook), guarded by the hook's revision
 * (-ESTALE when the hook changed meanwhile). Returns the link fd. */
int mprog_attach(const struct cnf_instance *w, int prog_fd, const struct attach_args *args);
/* Puts back a link a failed run removed (the caller entered its netns):
 * at the end of the hook; the next run puts it back in its order. */
int mprog_restore(const struct cnf_record *rec, int prog_fd);
int mprog_foreign(const struct cnf_instance *w, const uint32_t *own, size_t n_own,
		  struct foreign_prog **ret, size_t *ret_count);
/* Which hook of the interface, for messages: "ingress", "(side peer)". */
const char *mprog_where(const struct cnf_target *t);
/* The hook as a slot of several programs (tcx_ingress, netkit_peer, ...). */
enum hook_slot_kind mprog_slot(const struct cnf_target *t, char *buf, size_t len);
/* order first/last: refuses when a link of another manifest that stays
 * claims the same end of the hook. */
int mprog_preflight(const struct cnf_instance *w, const struct preflight_ctx *ctx, char *why,
		    size_t whylen);
/* mprog end */
