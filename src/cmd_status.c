// SPDX-License-Identifier: GPL-2.0-only
/* status: desired vs live for every attachment instance, with drift and
 * the programs on managed hooks that the tool does not own. */
#include <stdlib.h>

#include "cnf/cli.h"
#include "cnf/hooks.h"
#include "cnf/log.h"
#include "cnf/map_pins.h"
#include "cnf/metrics.h"
#include "cnf/output.h"
#include "cnf/reconcile.h"
#include "cnf/state.h"
#include "cnf/util.h"

static const char *state_of(const struct cnf_action *a)
{
	if (a->left_alone)
		return a->left_alone;
	if (a->quarantine || (a->have && a->have->foreign_filter))
		return "foreign";
	if (a->refused && a->have && a->have->elsewhere)
		return "elsewhere";
	switch (a->kind) {
	case ACT_NOOP:
		if (a->want && a->want->target_missing)
			return a->have && a->have->has_pin ? "defunct" : "missing";
		return "in-sync";
	case ACT_CREATE:
		return a->have && a->have->defunct ? "defunct" : "missing";
	case ACT_UPDATE:
	case ACT_REPLACE:
		return "drifted";
	case ACT_DELETE:
		return a->have->defunct ? "defunct" : "orphaned";
	}
	return "?";
}

/* The attachment's reason, and what its object's pinned maps say: the
 * ones that do not fit the version apply would load. */
static const char *reason_with_maps(struct run *r, const struct cnf_action *a, const char *why,
				    char *buf, size_t len)
{
	const struct obj_entry *e = a->want ? objects_for(&r->objs, a->want->att) : NULL;
	size_t pos = 0;

	if (!e)
		return why;
	for (size_t i = 0; i < r->objs.maps_count; i++) {
		const struct map_plan *g = &r->objs.maps[i];
		bool uses = false;

		for (size_t k = 0; k < g->users_count; k++)
			uses |= g->users[k].e == e;
		if (!uses || !(g->diffs_count || g->problem))
			continue;
		if (!pos)
			pos = (size_t)snprintf(buf, len, "%s", why);
		if (pos < len)
			pos += (size_t)snprintf(buf + pos, len - pos, "; map '%s' %s%s %s",
						g->name, g->path ? "pinned at " : "(not pinned)",
						g->path ? g->path : "", g->diffs_count ?
						"does not fit this version" : "cannot be used");
		for (size_t k = 0; k < g->diffs_count && pos < len; k++)
			pos += (size_t)snprintf(buf + pos, len - pos, "%s%s %s -> %s", k ? ", " : " (",
						g->diffs[k].property, g->diffs[k].old_val,
						g->diffs[k].new_val);
		if (pos < len)
			pos += (size_t)snprintf(buf + pos, len - pos, "%s: %s",
						g->diffs_count ? ")" : "",
						g->problem ? "apply refuses it" :
						g->path ? "apply recreates it, its contents lost" :
						"apply resets it, its contents lost");
	}
	return pos ? buf : why;
}

/* The programs of other tools on the desired instance's hook. */
static void foreign_of(const struct cnf_instance *w, const uint32_t *own, size_t n_own,
		       struct status_row *row)
{
	const struct hook_ops *ops;
	int orig;

	if (!w || w->target_missing)
		return;
	ops = w->t.tc_fallback ? &hook_tc_ops : hook_ops_get(w->t.kind);
	if (ops && ops->foreign && netns_enter(w->t.netns, &orig) == 0) {
		ops->foreign(w, own, n_own, &row->foreign, &row->foreign_count);
		netns_leave(orig);
	}
}

/* The model: one row per planned action. Returns whether anything
 * differs from what the manifests declare. */
static bool status_rows(struct run *r, struct status_row *rows)
{
	_cleanup_free_ uint32_t *own = NULL;
	/* Every program the tool attached, under any manifest. */
	size_t n_own = run_own_progs(r, &own);
	bool differ = false;

	for (size_t i = 0; i < r->plan.count; i++) {
		const struct cnf_action *a = &r->plan.actions[i];
		struct status_row *row = &rows[i];
		const struct map_pin_drift *md;
		char why[2048];

		row->a = a;
		row->state = state_of(a);
		row->reason = a->reason;
		row->link_id = a->have ? a->have->link_id : 0;
		row->prog_id = a->have ? a->have->prog_id : 0;
		/* Its programs hold a map whose pin went away. */
		if (streq(row->state, "in-sync") && a->have &&
		    (md = map_pins_drift_of_prog(r, a->have->prog_id))) {
			row->state = "drifted";
			row->reason = md->reason;
		}
		if (!streq(row->state, "in-sync")) {
			differ = true;
			row->reason = row->reason_owned =
				xstrdup(reason_with_maps(r, a, row->reason, why, sizeof(why)));
		}
		foreign_of(a->want, own, n_own, row);
	}
	/* A pinned map that does not fit, a recreate to finish, a leftover
	 * <pin>%new: differences of their own. */
	for (size_t i = 0; i < r->objs.maps_count; i++)
		differ |= objects_map_differs(&r->objs.maps[i]);
	for (size_t i = 0; i < r->map_stale_count; i++)
		differ |= !r->map_stale[i].used_by;
	return differ;
}

static void status_rows_free(struct status_row *rows, size_t n)
{
	for (size_t i = 0; rows && i < n; i++) {
		free(rows[i].reason_owned);
		free(rows[i].foreign);
	}
	free(rows);
}

static void metrics_of(const struct status_row *rows, size_t n, bool in_sync)
{
	_cleanup_free_ struct metrics_row *m = xcalloc(n + 1, sizeof(*m));

	for (size_t i = 0; i < n; i++) {
		const struct cnf_action *a = rows[i].a;
		const struct cnf_instance *w = a->want;

		m[i] = (struct metrics_row){
			.manifest = w ? w->manifest->name : a->have->manifest,
			.attachment = w ? w->att->name : a->have->rec.attachment,
			.hook = w ? w->att->hook : hook_kind_name((enum hook_kind)a->have->rec.hook),
			.target = w ? w->target_text : a->have->rec.target,
			.state = rows[i].state,
			.created_sec = a->have ? a->have->rec.created_sec : 0,
			.foreign = rows[i].foreign_count,
		};
	}
	metrics_print(stdout, m, n, in_sync);
	fflush(stdout);
}

int cmd_status(const struct cli *cli)
{
	struct status_row *rows;
	struct run r;
	bool differ;
	int err;

	err = run_prepare(&r, cli, RUN_STATUS);
	if (err >= 0)
		err = run_plan(&r);
	if (err >= 0) {
		/* The pinned maps of what apply would load, as plan sees them:
		 * what would make it fail is reported, not an error. */
		_cleanup_free_ struct map_pin_hint *hints = NULL;
		size_t n = map_pins_hints(&r, &hints);

		err = objects_check_maps(&r.objs, &r.plan, hints, n);
		if (err < 0)
			log_error("pinned maps: cannot check them: %s", strerror(-err));
		if (err >= 0)
			err = map_pins_stale(&r);
	}
	if (err < 0) {
		run_free(&r);
		if (cli->metrics)
			metrics_print_down(stdout);
		return output_errors(cli);
	}
	rows = xcalloc(r.plan.count + 1, sizeof(*rows));
	differ = status_rows(&r, rows);
	/* Every string the rows point to lives in r until run_free(). */
	if (cli->metrics)
		metrics_of(rows, r.plan.count, !differ);
	else
		output_status(&r, rows, r.plan.count, !differ);
	status_rows_free(rows, r.plan.count);
	run_free(&r);
	return differ ? EXIT_CHANGES : EXIT_OK;
}
