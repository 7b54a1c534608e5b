/* SPDX-License-Identifier: GPL-2.0-only */
/* The reconcile run shared by the verbs: load manifests, read state,
 * resolve targets, plan, and (apply, destroy) execute. */
#pragma once

#include "cnf/cli.h"
#include "cnf/engine.h"
#include "cnf/iflist.h"
#include "cnf/live.h"
#include "cnf/manifest.h"
#include "cnf/objects.h"
#include "cnf/state.h"

enum run_mode {
	RUN_VALIDATE,      /* manifests + objects, no kernel state */
	RUN_PLAN,          /* read-only */
	RUN_STATUS,        /* read-only, plus foreign programs */
	RUN_APPLY,
	RUN_DESTROY,
};

struct map_pin_drift;
struct config_diff_cache;

struct if_cache {
	const char *netns;         /* NULL: the tool's own */
	uint64_t netns_ino;
	struct iface_list ifs;
	int err;                   /* listing failed (0: listed) */
};

/* A tcx hook as the plan saw it: its revision when its order was read.
 * The run's first change on the hook must find it unchanged (the kernel
 * refuses the attach otherwise, ESTALE); each change the run makes on it
 * adds one. */
struct hook_rev {
	uint64_t netns_ino;
	int ifindex;
	uint32_t attach_type;
	uint64_t revision;
};

struct run {
	const struct cli *cli;
	enum run_mode mode;
	struct cnf_manifest_set *set;
	struct obj_cache objs;
	struct state st;
	bool state_partial;        /* st holds only the named manifests */
	/* By observed instance: the pin run_verify_pins() opened and found
	 * the recorded link in, for the change that acts through it
	 * (run_pin_take()); -1 elsewhere, NULL when none was opened. */
	int *pin_fds;
	struct live_links live;
	bool have_live;
	struct cnf_instance *want;
	size_t want_count;
	/* A focused run: the programs of the in-sync instances it left out,
	 * which its creates may share (plan_input.sources). */
	struct plan_source *share;
	size_t share_count;
	/* The programs of the observed instances it left out: still the
	 * tool's own (run_own_progs()). */
	uint32_t *others;
	size_t others_count, others_cap;
	struct hook_rev *revs;
	size_t revs_count, revs_cap;
	const char **scope;
	size_t scope_count;
	/* The PATH arguments, absolute, and the vanished manifests last
	 * applied from within them: their instances are deleted. */
	struct plan_path *paths;
	size_t paths_count;
	char **prune;
	size_t prune_count;
	struct cnf_plan plan;
	int lock_fd;
	size_t applied;            /* actions carried out */
	struct if_cache *ifcache;
	size_t ifcache_count, ifcache_cap;
	/* Pinned maps whose pin went away (map_pins.h), and what new program
	 * versions change in their variables (config_diff.h). */
	struct map_pin_drift *map_drifts;
	size_t map_drifts_count;
	struct map_pin_stale *map_stale;   /* pins no manifest declares any more */
	size_t map_stale_count;
	struct config_diff_cache *config_diffs;
};

/* What one watch-triggered reconcile looks at: interfaces that appeared,
 * went away or were renamed, and whole network namespaces. Only desired
 * and observed instances on these targets are planned; everything else is
 * left as it is. `netns` NULL is the tool's own namespace. */
struct focus_if {
	const char *netns;
	char ifname[IF_NAMESIZE];
};

struct run_focus {
	struct focus_if *ifs;
	size_t ifs_count;
	const char **netns;        /* whole namespaces, by path */
	size_t netns_count;
	bool own_netns;            /* the tool's own namespace as a whole */
};

int run_prepare(struct run *r, const struct cli *cli, enum run_mode mode);
int run_execute(struct run *r);
void run_free(struct run *r);

struct hook_ops;
struct cnf_record;
/* The hook family that handles a record / a target (tcx that fell back
 * to tc is handled by tc). */
const struct hook_ops *ops_for_record(const struct cnf_record *rec);
const struct hook_ops *ops_for_target(const struct cnf_target *t);

/* Enter a network namespace by path (NULL: stay). Returns the fd of the
 * namespace to go back to (or -1) in *ret_orig. */
int netns_enter(const char *path, int *ret_orig);
void netns_leave(int orig);

/* Every program the tool runs from a pin under the root, as the run read
 * them (instances left out of a focused run included), sorted. */
size_t run_own_progs(const struct run *r, uint32_t **ret);

/* Whether the run plans the observed instances of `manifest`: one of its
 * manifests, one it prunes, or any with destroy --all. */
bool run_in_scope(const struct run *r, const char *manifest);

/* Whether --target names manifest `manifest` (att NULL: any of its
 * attachments) or its attachment `att`; true without --target. */
bool run_targeted(const struct cli *cli, const char *manifest, const char *att);

/* Records where each manifest of the set that has state was applied
 * from, where that changed (apply); removes what is left of a vanished
 * manifest that has nothing applied. */
int run_record_sources(struct run *r);

/* Opens the pins the plan would update, replace or detach through, and
 * marks those that hold another link than recorded as foreign. Returns how
 * many it marked (the plan is then made again). */
size_t run_verify_pins(struct run *r);
/* The pin of observed instance `h`, opened (the one run_verify_pins()
 * checked, handed over, or opened now): a descriptor the caller closes,
 * or a negative errno. */
int run_pin_take(struct run *r, const struct cnf_observed *h);

/* plan_input.ifname_of over the interfaces the run listed (ctx: the run). */
const char *run_ifname_of(void *ctx, uint64_t netns_ino, uint32_t ifindex);

/* Builds r->plan from r->want and r->st. */
int run_plan(struct run *r);

/* Everything apply checks before it touches a hook (src/preflight.c),
 * run by plan and apply alike: conflicts among the desired instances,
 * the families' kernel support, the loads (verifier; `dry`: nothing
 * pinned), the programs' fit, and each changed hook as the kernel has it.
 * Logs every refusal, subject first; negative errno if any. */
int run_preflight(struct run *r, bool dry);
/* Conflicts among desired instances (plan_conflicts()), logged; -EBUSY
 * if any. validate runs it on the targets named literally. */
int run_conflicts(const struct cnf_instance *want, size_t n);

/* The revision the plan read for w's tcx hook, NULL when it read none. */
struct hook_rev *run_hook_rev(struct run *r, const struct cnf_instance *w);
/* The same for the hook a record says a link is on. */
struct hook_rev *run_hook_rev_of_record(struct run *r, const struct cnf_record *rec);
