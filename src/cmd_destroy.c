// SPDX-License-Identifier: GPL-2.0-only
/* destroy: remove everything the named manifests own (--all: everything
 * under the state root). */
#include <fcntl.h>
#include <limits.h>

#include "cnf/cli.h"
#include "cnf/live.h"
#include "cnf/log.h"
#include "cnf/map_pins.h"
#include "cnf/objects.h"
#include "cnf/output.h"
#include "cnf/planfile.h"
#include "cnf/reconcile.h"
#include "cnf/state.h"
#include "cnf/util.h"

/* Removes the directory `name` of `dfd` and what it holds; a symbolic
 * link is removed, never followed. */
static void remove_tree(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (fd >= 0 && !d)
		close(fd);
	while (d && (de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (de->d_type == DT_DIR)
			remove_tree(dirfd(d), de->d_name);
		else
			unlinkat(dirfd(d), de->d_name, 0);
	}
	unlinkat(dfd, name, AT_REMOVEDIR);
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
		_cleanup_free_ uint32_t *gone = xcalloc(2 * r.plan.count + 1, sizeof(*gone));
		size_t n_gone = 0;

		/* The programs destroy detached: they may linger a moment. */
		for (size_t i = 0; i < r.plan.count; i++) {
			const struct cnf_observed *h = r.plan.actions[i].have;

			if (!h || !r.plan.actions[i].done)
				continue;
			if (h->prog_id)
				gone[n_gone++] = h->prog_id;
			if (h->has_record && h->rec.prog_id)
				gone[n_gone++] = h->rec.prog_id;
		}
		qsort(gone, n_gone, sizeof(*gone), cmp_u32);
		for (size_t i = 0; i < r.set->count; i++) {
			map_pins_destroy_owned(r.set->manifests[i], cli->bpffs, gone, n_gone);
			objects_unpin_unused_maps(r.set->manifests[i], cli->bpffs, gone, n_gone);
		}
		map_ids_tidy(cli->bpffs, false);
	}
	if (cli->all && !cli->targets_count) {
		char path[PATH_MAX];

		_cleanup_close_ int root = state_open(cli->bpffs, ".", O_PATH | O_DIRECTORY);

		/* Shared maps and the tool's own pins go with --all. */
		if (root >= 0)
			remove_tree(root, CNF_MAPS_DIR);
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
