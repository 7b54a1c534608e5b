// SPDX-License-Identifier: GPL-2.0-only
/* plan and apply. */
#include <errno.h>

#include "cnf/cli.h"
#include "cnf/config_diff.h"
#include "cnf/hooks.h"
#include "cnf/log.h"
#include "cnf/map_pins.h"
#include "cnf/output.h"
#include "cnf/planfile.h"
#include "cnf/reconcile.h"
#include "cnf/util.h"

/* What happens to the pinned maps of the objects the plan loads (reused,
 * created, recreated), with the pins apply puts back first as given. */
static int plan_maps(struct run *r)
{
	_cleanup_free_ struct map_pin_hint *hints = xcalloc(r->map_drifts_count + 1,
							     sizeof(*hints));
	size_t n = 0;
	int err;

	for (size_t i = 0; i < r->map_drifts_count; i++)
		if (r->map_drifts[i].map_id)
			hints[n++] = (struct map_pin_hint){ r->map_drifts[i].path,
							    r->map_drifts[i].map_id };
	err = objects_plan_maps(&r->objs, &r->plan, hints, n);
	if (err < 0)
		return err;
	/* A pin a killed run left to move is a change of its own. */
	r->plan.changes += objects_maps_changes(&r->objs);
	return 0;
}

int run_plan(struct run *r)
{
	struct plan_input in = {
		.want = r->want,
		.want_count = r->want_count,
		.have = r->st.obs,
		.have_count = r->st.count,
		.scope = r->scope,
		.scope_count = r->scope_count,
		.prune_all = r->mode == RUN_DESTROY && r->cli->all,
		.prune = (const char *const *)r->prune,
		.prune_count = r->prune_count,
		.caps = hook_caps_get,
		.delete_reason = r->mode == RUN_DESTROY ? "destroy" : NULL,
		.sources = r->share,
		.sources_count = r->share_count,
		.manifests = r->set ? (const struct cnf_manifest *const *)r->set->manifests : NULL,
		.manifests_count = r->set ? r->set->count : 0,
		.ifname_of = run_ifname_of,
		.ifname_ctx = r,
	};
	int err = plan_build(&in, &r->plan);

	/* What the plan would act on through a pin is checked to be the
	 * recorded link first (the no-op path opens no pin): another tool's
	 * link there is planned as such, never updated or detached. */
	if (err >= 0 && run_verify_pins(r) > 0) {
		plan_free(&r->plan);
		err = plan_build(&in, &r->plan);
	}
	if (err < 0) {
		log_error("planning failed: %s", strerror(-err));
		return err;
	}
	if (r->mode == RUN_DESTROY)
		return 0;
	/* Only for what is already an update: a no-op run reads nothing. */
	config_diff_annotate(r);
	/* Pinning a live map again is a change of its own, and so is
	 * unpinning one no manifest declares any more. */
	r->plan.changes += map_pins_changes(r);
	if (r->mode == RUN_PLAN || r->mode == RUN_APPLY) {
		err = plan_maps(r);
		if (err < 0)
			return err;
		/* Pins no manifest declares any more, knowing which maps the
		 * new versions keep (status: after its own map check). */
		return map_pins_stale(r);
	}
	return 0;
}

static int save_plan(struct run *r)
{
	json_object *doc = planfile_build(r);
	int err = planfile_save(r->cli->out_file, doc);

	json_object_put(doc);
	return err;
}

/* The end of a plan: saved with --out, printed; exit 2 when it would
 * change something. Frees the run. */
static int plan_finish(struct run *r)
{
	const struct cli *cli = r->cli;
	int ret;

	if (cli->out_file && save_plan(r) < 0) {
		run_free(r);
		return output_errors(cli);
	}
	output_plan(r, false);
	ret = r->plan.changes ? EXIT_CHANGES : EXIT_OK;
	run_free(r);
	return ret;
}

static int plan_or_apply(const struct cli *cli, bool apply)
{
	struct run r;
	int err, ret;

	err = run_prepare(&r, cli, apply ? RUN_APPLY : RUN_PLAN);
	if (err >= 0)
		err = run_plan(&r);
	if (err < 0) {
		planfile_failed(cli);
		run_free(&r);
		return output_errors(cli);
	}
	if (!apply) {
		/* What apply would check before it changes anything: the
		 * verifier, conflicts, the hooks as they are now. */
		err = run_preflight(&r, true);
		if (err < 0) {
			run_free(&r);
			return output_errors(cli);
		}
		return plan_finish(&r);
	}
	/* apply --plan: the same inputs and actions as the saved plan, or
	 * nothing. */
	if (cli->plan_doc && planfile_check(&r, cli->plan_doc, cli->plan_file) < 0) {
		run_free(&r);
		return output_errors(cli);
	}
	test_pause("plan");
	err = run_execute(&r);
	if (err < 0) {
		run_free(&r);
		return output_errors(cli);
	}
	output_plan(&r, true);
	ret = cli->detailed_exitcode && r.applied ? EXIT_CHANGES : EXIT_OK;
	run_free(&r);
	return ret;
}

/* plan --destroy: what destroy would do, read-only. */
static int plan_destroy(const struct cli *cli)
{
	struct run r;
	int err;

	err = run_prepare(&r, cli, RUN_DESTROY);
	if (err >= 0)
		err = run_plan(&r);
	if (err < 0) {
		run_free(&r);
		return output_errors(cli);
	}
	return plan_finish(&r);
}

int cmd_plan(const struct cli *cli)
{
	return cli->plan_destroy ? plan_destroy(cli) : plan_or_apply(cli, false);
}

/* apply --plan FILE: the run is made again from the plan file's PATHs,
 * targets and state root, and carried out only if it is the same. */
static int apply_saved(const struct cli *cli)
{
	struct cli c = *cli;
	json_object *doc = NULL;
	bool destroy = false;
	int ret;

	if (planfile_load(cli->plan_file, &c, &destroy, &doc) < 0)
		return output_errors(cli);
	c.plan_doc = doc;
	if (destroy)
		c.verb = "destroy";
	ret = destroy ? cmd_destroy(&c) : plan_or_apply(&c, true);
	free(c.paths);
	free(c.targets);
	json_object_put(doc);
	return ret;
}

int cmd_apply(const struct cli *cli)
{
	return cli->plan_file ? apply_saved(cli) : plan_or_apply(cli, true);
}
