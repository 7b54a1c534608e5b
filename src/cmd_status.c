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

/* Entries under the root the tool did not make: reported, not a
 * difference (apply leaves them alone, so it could never settle them). */
static json_object *strays_json(const struct state *st)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < st->strays_count; i++) {
		const struct state_stray *x = &st->strays[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "state", json_object_new_string("stray"));
		json_object_object_add(o, "path", json_object_new_string(x->path));
		json_object_object_add(o, "what", json_object_new_string(x->what));
		json_object_object_add(o, "manifest", x->manifest[0] ?
				       json_object_new_string(x->manifest) : NULL);
		json_object_array_add(arr, o);
	}
	return arr;
}

int cmd_status(const struct cli *cli)
{
	struct run r;
	_cleanup_free_ uint32_t *own = NULL;
	size_t n_own = 0;
	bool differ = false;
	json_object *doc = NULL, *arr = NULL;
	_cleanup_free_ struct metrics_row *rows = NULL;
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
	/* Every program the tool attached, under any manifest. */
	n_own = run_own_progs(&r, &own);

	if (cli->json) {
		doc = json_object_new_object();
		arr = json_object_new_array();
	}
	if (cli->metrics && r.plan.count) {
		rows = calloc(r.plan.count, sizeof(*rows));
		if (!rows) {
			log_error("status: out of memory");
			run_free(&r);
			return output_errors(cli);
		}
	}
	for (size_t i = 0; i < r.plan.count; i++) {
		const struct cnf_action *a = &r.plan.actions[i];
		const struct cnf_instance *w = a->want;
		const char *st = state_of(a), *why = a->reason;
		char why_buf[2048];
		const struct map_pin_drift *md;
		_cleanup_free_ struct foreign_prog *fp = NULL;
		size_t nfp = 0;
		uint32_t link = a->have ? a->have->link_id : 0, prog = a->have ? a->have->prog_id : 0;

		/* Its programs hold a map whose pin went away. */
		if (streq(st, "in-sync") && a->have &&
		    (md = map_pins_drift_of_prog(&r, a->have->prog_id))) {
			st = "drifted";
			why = md->reason;
		}
		if (!streq(st, "in-sync")) {
			differ = true;
			why = reason_with_maps(&r, a, why, why_buf, sizeof(why_buf));
		}
		if (w && !w->target_missing) {
			const struct hook_ops *ops = w->t.tc_fallback ? &hook_tc_ops : hook_ops_get(w->t.kind);
			int orig;

			if (ops && ops->foreign && netns_enter(w->t.netns, &orig) == 0) {
				ops->foreign(w, own, n_own, &fp, &nfp);
				netns_leave(orig);
			}
		}
		if (rows) {
			rows[i] = (struct metrics_row){
				.manifest = w ? w->manifest->name : a->have->manifest,
				.attachment = w ? w->att->name : a->have->rec.attachment,
				.hook = w ? w->att->hook : hook_kind_name((enum hook_kind)a->have->rec.hook),
				.target = w ? w->target_text : a->have->rec.target,
				.state = st,
				.created_sec = a->have ? a->have->rec.created_sec : 0,
				.foreign = nfp,
			};
		} else if (cli->json) {
			json_object *o = output_action_json(a, false);
			json_object *f = json_object_new_array();

			json_object_object_del(o, "action");
			json_object_object_add(o, "state", json_object_new_string(st));
			json_object_object_add(o, "reason", json_object_new_string(why));
			json_object_object_add(o, "link_id", link ? json_object_new_int64(link) : NULL);
			json_object_object_add(o, "prog_id", prog ? json_object_new_int64(prog) : NULL);
			for (size_t k = 0; k < nfp; k++) {
				json_object *e = json_object_new_object();

				json_object_object_add(e, "prog_id", json_object_new_int64(fp[k].prog_id));
				json_object_object_add(e, "link_id", fp[k].link_id ?
						       json_object_new_int64(fp[k].link_id) : NULL);
				json_object_object_add(e, "prog_name", json_object_new_string(fp[k].prog_name));
				json_object_array_add(f, e);
			}
			json_object_object_add(o, "foreign", f);
			json_object_array_add(arr, o);
		} else {
			char att[CNF_KEY_MAX];
			const char *tgt = a->have ? strchr(a->have->key, '/') : NULL;

			/* Without a record the pin's path names it. */
			if (!w && !a->have->has_record)
				snprintf(att, sizeof(att), "%.*s", tgt ? (int)(tgt - a->have->key) : 0,
					 a->have->key);
			printf("%-12s %s/%s  %s %s", st,
			       w ? w->manifest->name : a->have->manifest,
			       w ? w->att->name : a->have->has_record ? a->have->rec.attachment : att,
			       w ? w->att->hook : a->have->has_record ?
			       hook_kind_name((enum hook_kind)a->have->rec.hook) :
			       a->have->foreign_link_id ? link_type_name(a->have->foreign_link_type) : "?",
			       w ? w->target_text : a->have->has_record ? a->have->rec.target :
			       tgt ? tgt + 1 : "");
			if (link)
				printf("  link %u", link);
			if (prog)
				printf("  prog %u", prog);
			if (!streq(st, "in-sync"))
				printf("\n             %s", why);
			for (size_t k = 0; k < nfp; k++)
				printf("\n             foreign program on this hook: prog %u '%s'%s", fp[k].prog_id,
				       fp[k].prog_name, fp[k].link_id ? " (link)" : "");
			printf("\n");
		}
	}
	/* A pinned map that does not fit, a recreate to finish, a leftover
	 * <pin>%new: differences of their own. */
	for (size_t i = 0; i < r.objs.maps_count; i++)
		differ |= objects_map_differs(&r.objs.maps[i]);
	for (size_t i = 0; i < r.map_stale_count; i++)
		differ |= !r.map_stale[i].used_by;
	if (cli->json) {
		json_object *maps = output_map_pins_json(&r, false);

		output_maps_status_json(&r, maps);
		json_object_object_add(doc, "in_sync", json_object_new_boolean(!differ));
		json_object_object_add(doc, "attachments", arr);
		json_object_object_add(doc, "maps", maps);
		json_object_object_add(doc, "stray", strays_json(&r.st));
		output_json(doc);
		json_object_put(doc);
	} else if (cli->metrics) {
		/* Every string the rows point to lives in r until run_free(). */
		metrics_print(stdout, rows, r.plan.count, !differ);
		fflush(stdout);
	} else {
		for (size_t i = 0; i < r.map_drifts_count; i++)
			printf("%-12s %s/%s  map %s\n             %s\n",
			       r.map_drifts[i].impostor_id ? "impostor" : "missing",
			       r.map_drifts[i].manifest->name, r.map_drifts[i].obj->name,
			       r.map_drifts[i].opt->pin, r.map_drifts[i].reason);
		for (size_t i = 0; i < r.map_stale_count; i++)
			printf("%-12s %s  map %s\n             %s\n", "stale",
			       r.map_stale[i].manifest->name, r.map_stale[i].path,
			       r.map_stale[i].reason);
		output_maps_status_text(&r);
		for (size_t i = 0; i < r.st.strays_count; i++)
			printf("%-12s %s\n             %s cnf-apply did not make: left alone\n", "stray",
			       r.st.strays[i].path, r.st.strays[i].what);
		if (r.plan.count == 0 && !r.st.strays_count)
			printf("Nothing declared and nothing under %s.\n", cli->bpffs);
	}
	run_free(&r);
	return differ ? EXIT_CHANGES : EXIT_OK;
}
