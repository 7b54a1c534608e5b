// SPDX-License-Identifier: GPL-2.0-only
/* destroy: remove everything the named manifests own (--all: everything
 * under the state root). */
#include <limits.h>

#include "cnf/cli.h"
#include "cnf/live.h"
#include "cnf/log.h"
#include "cnf/map_pins.h"
#include "cnf/objects.h"
#include "cnf/output.h"
#include "cnf/planfile.h"
#include "cnf/reconcile.h"
#include "cnf/util.h"

static void remove_tree(const char *path)
{
	_cleanup_closedir_ DIR *d = opendir(path);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char sub[PATH_MAX];

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		if (de->d_type == DT_DIR)
			remove_tree(sub);
		else
			unlink(sub);
	}
	rmdir(path);
}

int cmd_destroy(const struct cli *cli)
{
	struct run r;
	int err, ret;

	err = run_prepare(&r, cli, RUN_DESTROY);
	if (err >= 0)
		err = run_plan(&r);
	if (err < 0)
		planfile_failed(cli);
	/* apply --plan of a plan --destroy: the same, or nothing. */
	if (err >= 0 && cli->plan_doc)
		err = planfile_check(&r, cli->plan_doc, cli->plan_file);
	if (err >= 0)
		err = run_execute(&r);
	if (err < 0) {
		run_free(&r);
		return output_errors(cli);
	}
	/* destroy --all --target: the targets only, as without --all. */
	if (!cli->all || cli->targets_count) {
		/* Maps shared with `pin:` go once no program uses them. */
		for (size_t i = 0; i < r.set->count; i++)
			objects_unpin_unused_maps(r.set->manifests[i], cli->bpffs);
		map_ids_tidy(cli->bpffs, false);
	}
	if (cli->all && !cli->targets_count) {
		char path[PATH_MAX];

		/* Shared maps and the tool's own pins go with --all. */
		snprintf(path, sizeof(path), "%s/" CNF_MAPS_DIR, cli->bpffs);
		remove_tree(path);
		live_iter_unpin(cli->bpffs);
		map_ids_tidy(cli->bpffs, true);
		snprintf(path, sizeof(path), "%s/" LIVE_STATE_DIR, cli->bpffs);
		rmdir(path);
		for (size_t i = 0; i < r.st.manifests_count; i++)
			state_tidy(cli->bpffs, r.st.manifests[i]);
	}
	output_plan(&r, true);
	ret = cli->detailed_exitcode && r.applied ? EXIT_CHANGES : EXIT_OK;
	run_free(&r);
	return ret;
}
