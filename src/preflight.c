// SPDX-License-Identifier: GPL-2.0-only
/* The preflight: everything apply checks before it touches a hook, run by
 * plan as well, so that a plan that passes is an apply that does not
 * refuse. In order:
 *  1. conflicts among the desired instances of every manifest of the run
 *     (plan_conflicts(): pure, no kernel);
 *  2. per change: the family's kernel support (its row's supported()),
 *     the object's load (the verifier), the loaded program's fit to the
 *     hook (fit()), and the hook itself as the kernel has it now
 *     (preflight(): occupancy, device capability, ordering claims of
 *     other manifests), in the target's network namespace.
 * What can still change between plan and apply is the host itself (a
 * program another tool attaches meanwhile): apply runs the same checks
 * again before it changes anything. */
#include <errno.h>
#include <bpf/bpf.h>

#include "cnf/hooks.h"
#include "cnf/log.h"
#include "cnf/reconcile.h"
#include "cnf/util.h"

#define WANT_LOC(w) (w)->manifest->path, manifest_attachment_line((w)->manifest, (w)->att_idx, NULL)

/* ---- conflicts among desired instances ---- */

/* Subject first: the later of the two, which the earlier one (in
 * manifest order) keeps from its place. */
static void conflict_report(const struct cnf_instance *x, const struct cnf_instance *y,
			    const struct plan_conflict *c, size_t more)
{
	log_error("attachment '%s' (%s:%d): cannot be attached together with attachment '%s' of "
		  "manifest '%s' (%s:%d): hook %s on %s %s%s", y->att->name, WANT_LOC(y),
		  x->att->name, x->manifest->name, WANT_LOC(x), hook_kind_name(x->t.kind),
		  x->target_text, c->what, more ? " (and on more targets)" : "");
}

int run_conflicts(const struct cnf_instance *want, size_t n)
{
	_cleanup_free_ struct plan_conflict *c = NULL;
	size_t nc = plan_conflicts(want, n, &c);

	/* One message per pair of attachments, however many targets. */
	for (size_t i = 0; i < nc; i++) {
		const struct cnf_instance *x = &want[c[i].a], *y = &want[c[i].b];
		bool seen = false, more = false;

		for (size_t j = 0; j < nc; j++) {
			bool same = want[c[j].a].att == x->att && want[c[j].b].att == y->att;

			seen |= same && j < i;
			more |= same && j > i;
		}
		if (!seen)
			conflict_report(x, y, &c[i], more);
	}
	return nc ? -EBUSY : 0;
}

/* ---- who holds the programs on a hook ---- */

static int holder_cmp(const void *a, const void *b)
{
	const struct hook_holder *x = a, *y = b;

	return x->prog_id < y->prog_id ? -1 : x->prog_id > y->prog_id;
}

static void holder_add(struct hook_holder *h, size_t *n, const struct cnf_observed *o,
		       const struct cnf_action *a)
{
	struct hook_holder base = {
		.manifest = o->manifest,
		.have = o,
		.want = a ? a->want : NULL,
		.leaving = a && (a->kind == ACT_DELETE || a->kind == ACT_REPLACE),
	};

	if (o->prog_id) {
		h[*n] = base;
		h[(*n)++].prog_id = o->prog_id;
	}
	if (o->has_record && o->rec.prog_id && o->rec.prog_id != o->prog_id) {
		h[*n] = base;
		h[(*n)++].prog_id = o->rec.prog_id;
	}
}

/* Every program pinned under the root, with what this run does to the
 * instance that runs it. `others`: the state of the manifests the run
 * did not read (a run on some files), read here once; NULL if it read
 * them all. */
static struct hook_holder *holders_build(const struct run *r, const struct state *others,
					 size_t *ret_n)
{
	_cleanup_free_ const struct cnf_action **act = xcalloc(r->st.count + 1, sizeof(*act));
	size_t n = 0, max = 2 * (r->st.count + (others ? others->count : 0)) + r->others_count + 1;
	struct hook_holder *h = xcalloc(max, sizeof(*h));

	for (size_t i = 0; i < r->plan.count; i++) {
		const struct cnf_action *a = &r->plan.actions[i];

		if (a->have)
			act[a->have - r->st.obs] = a;
	}
	for (size_t i = 0; i < r->st.count; i++)
		holder_add(h, &n, &r->st.obs[i], act[i]);
	/* Instances a focused run (--target, watch) left out: the tool's,
	 * staying, on hooks this run does not know. */
	for (size_t i = 0; i < r->others_count; i++)
		h[n++] = (struct hook_holder){ .prog_id = r->others[i] };
	for (size_t i = 0; others && i < others->count; i++)
		if (!run_in_scope(r, others->obs[i].manifest))
			holder_add(h, &n, &others->obs[i], NULL);
	qsort(h, n, sizeof(*h), holder_cmp);
	*ret_n = n;
	return h;
}

/* ---- per change ---- */

/* A create that shares a running program: the program is still there and
 * is what the plan saw (the plan read its id from an in-sync link). */
static bool reuse_check(const struct cnf_action *a)
{
	const struct cnf_instance *w = a->want;
	struct bpf_prog_info pi = {};
	__u32 len = sizeof(pi);
	int fd = hook_prog_fd(a->reuse_prog_id);

	if (fd >= 0 && bpf_info_get(fd, &pi, &len) == 0 && pi.id == a->reuse_prog_id &&
	    pi.type == w->prog_type)
		return true;
	log_error("attachment '%s' (%s:%d): program id %u, which its in-sync instances ran when "
		  "the plan was made, is gone or changed (a concurrent change): run apply again",
		  w->att->name, WANT_LOC(w), a->reuse_prog_id);
	return false;
}

/* The family's support, the load and the program's fit. */
static int check_program(struct run *r, const struct cnf_action *a, bool dry)
{
	const struct cnf_instance *w = a->want;
	const struct hook_ops *ops = ops_for_target(&w->t);
	struct obj_entry *e = objects_for(&r->objs, w->att);
	struct bpf_program *prog;
	char why[512];

	if (a->reuse_prog_id)
		return reuse_check(a) ? 0 : -ESTALE;
	if (ops->supported && ops->supported(why, sizeof(why)) < 0) {
		log_error("attachment '%s' (%s:%d): %s", w->att->name, WANT_LOC(w), why);
		return -EOPNOTSUPP;
	}
	if (objects_load(e, w->att->name,
			 manifest_attachment_line(w->manifest, w->att_idx, "program"), dry) < 0)
		return -EINVAL;
	prog = w->att->prog_name ? objects_program(e, w->att->prog_name) : NULL;
	if (ops->fit && prog && ops->fit(w, prog, why, sizeof(why)) < 0) {
		log_error("attachment '%s' (%s:%d): %s", w->att->name,
			  w->manifest->path,
			  manifest_attachment_line(w->manifest, w->att_idx, "program"), why);
		return -EINVAL;
	}
	return 0;
}

/* The hook as the kernel has it, in the target's namespace. */
static int check_hook(const struct cnf_action *a, const struct preflight_ctx *ctx)
{
	const struct cnf_instance *w = a->want;
	const struct hook_ops *ops = ops_for_target(&w->t);
	char why[1024];
	int orig, err;

	/* An update keeps its link: the hook does not change hands. */
	if (a->kind == ACT_UPDATE || !ops->preflight)
		return 0;
	err = netns_enter(w->t.netns, &orig);
	if (err < 0) {
		log_error("attachment '%s' (%s:%d): network namespace '%s': %s", w->att->name,
			  WANT_LOC(w), w->t.netns, strerror(-err));
		return err;
	}
	err = ops->preflight(w, ctx, why, sizeof(why));
	netns_leave(orig);
	if (err < 0)
		log_error("attachment '%s' (%s:%d): %s", w->att->name, WANT_LOC(w), why);
	return err;
}

int run_preflight(struct run *r, bool dry)
{
	_cleanup_free_ struct hook_holder *holders = NULL;
	_cleanup_(state_free) struct state others = {};
	struct preflight_ctx ctx = {};
	bool hooks_change = false;
	int ret = 0;

	for (size_t i = 0; i < r->plan.count; i++)
		hooks_change |= r->plan.actions[i].kind == ACT_CREATE ||
				r->plan.actions[i].kind == ACT_REPLACE;
	/* Only a run that takes a new place on a hook can conflict. */
	if (hooks_change && run_conflicts(r->want, r->want_count) < 0)
		return -EBUSY;
	if (hooks_change) {
		/* Hooks are shared by every manifest under the root. */
		if (r->state_partial && state_read(r->cli->bpffs, NULL, 0, &others) < 0)
			return -EIO;
		holders = holders_build(r, r->state_partial ? &others : NULL, &ctx.count);
		ctx.holders = holders;
	}
	for (size_t i = 0; i < r->plan.count; i++) {
		const struct cnf_action *a = &r->plan.actions[i];
		int err;

		if (!a->want || a->kind == ACT_NOOP || a->kind == ACT_DELETE)
			continue;
		err = check_program(r, a, dry);
		if (err >= 0)
			err = check_hook(a, &ctx);
		if (err < 0 && ret >= 0)
			ret = err;
	}
	return ret;
}
