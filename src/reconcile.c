// SPDX-License-Identifier: GPL-2.0-only
/* The reconcile run: everything is checked and resolved before the first
 * change; then the plan's actions are carried out in order. */
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <sched.h>
#include <time.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>

#include "cnf/config_diff.h"
#include "cnf/hooks.h"
#include "cnf/log.h"
#include "cnf/map_pins.h"
#include "cnf/reconcile.h"
#include "cnf/util.h"
#include "run_internal.h"

#define ATT_LOC(m, idx, key) (m)->path, manifest_attachment_line((m), (idx), (key))

int netns_enter(const char *path, int *ret_orig)
{
	_cleanup_close_ int fd = -1, orig = -1;

	*ret_orig = -1;
	if (!path)
		return 0;
	orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (orig < 0)
		return -errno;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET) < 0)
		return -errno;
	*ret_orig = TAKE_FD(orig);
	return 0;
}

void netns_leave(int orig)
{
	if (orig < 0)
		return;
	if (setns(orig, CLONE_NEWNET) < 0) {
		log_error("cannot return to the original network namespace: %s", strerror(errno));
		abort(); /* acting in the wrong namespace is never acceptable */
	}
	close(orig);
}

uint64_t run_netns_ino_of(const char *path)
{
	struct stat st;

	if (stat(path ? path : "/proc/self/ns/net", &st) < 0)
		return 0;
	return st.st_ino;
}

const struct hook_ops *ops_for_record(const struct cnf_record *rec)
{
	/* Records of tcx instances that fell back to tc carry a tc parent. */
	if (rec->tc_parent)
		return &hook_tc_ops;
	return hook_ops_get((enum hook_kind)rec->hook);
}

const struct hook_ops *ops_for_target(const struct cnf_target *t)
{
	return t->tc_fallback ? &hook_tc_ops : hook_ops_get(t->kind);
}

/* ---- focus (watch) ---- */

static bool focus_netns(const struct run_focus *f, const char *netns)
{
	if (!netns)
		return f->own_netns;
	for (size_t i = 0; i < f->netns_count; i++)
		if (streq(f->netns[i], netns))
			return true;
	return false;
}

static bool focus_match(const struct run_focus *f, const char *netns, const char *ifname)
{
	if (focus_netns(f, netns))
		return true;
	if (!ifname || !ifname[0])
		return false;
	for (size_t i = 0; i < f->ifs_count; i++)
		if (streq_ptr(f->ifs[i].netns, netns) && streq(f->ifs[i].ifname, ifname))
			return true;
	return false;
}

bool run_hook_per_netns(enum hook_kind k)
{
	const struct hook_ops *ops = hook_ops_get(k);

	return ops && (ops->network || ops->netns_wide);
}

static bool want_in_focus(const struct cnf_instance *w, const void *ctx)
{
	const struct run_focus *f = ctx;

	if (!run_hook_per_netns(w->t.kind))
		return false;
	return focus_match(f, w->t.netns, hook_ops_get(w->t.kind)->network ? w->t.ifname : NULL);
}

static bool have_in_focus(const struct cnf_observed *o, const void *ctx)
{
	const struct run_focus *f = ctx;
	const char *netns;
	char ifname[IF_NAMESIZE] = "";

	/* Without a record nothing says where it is: full runs handle it. */
	if (!o->has_record || !run_hook_per_netns((enum hook_kind)o->rec.hook))
		return false;
	netns = o->rec.netns[0] ? o->rec.netns : NULL;
	if (o->rec.ifindex) {
		/* The target text is "IFNAME" or "IFNAME@NETNS". */
		size_t n = strlen(o->rec.target), sfx = netns ? strlen(netns) + 1 : 0;

		if (n > sfx && n - sfx < sizeof(ifname)) {
			memcpy(ifname, o->rec.target, n - sfx);
			ifname[n - sfx] = '\0';
		}
	}
	return focus_match(f, netns, ifname);
}

/* Keeps only the desired and observed instances `keep_want` and
 * `keep_have` accept: the planner then neither creates nor deletes
 * anything elsewhere. The in-sync instances left out still offer their
 * running programs to the creates kept (one program per attachment
 * program). */
static void run_keep(struct run *r, bool (*keep_want)(const struct cnf_instance *, const void *),
		     bool (*keep_have)(const struct cnf_observed *, const void *), const void *ctx)
{
	size_t n = 0;

	r->share = xcalloc(r->want_count + 1, sizeof(*r->share));
	r->share_count = 0;
	for (size_t i = 0; i < r->want_count; i++) {
		struct cnf_instance *w = &r->want[i];

		if (keep_want(w, ctx)) {
			if (n != i)
				r->want[n] = *w;
			n++;
		} else {
			struct cnf_observed *h = state_lookup(&r->st, w->manifest->name, w->key);

			if (h && plan_source_of(w, h, hook_caps_get(w->t.kind),
						&r->share[r->share_count]))
				r->share_count++;
			free(w->t.cgroup_path);
			free(w->t.name);
			free(w->t.path);
		}
	}
	r->want_count = n;
	n = 0;
	for (size_t i = 0; i < r->st.count; i++) {
		const struct cnf_observed *o = &r->st.obs[i];

		if (keep_have(o, ctx)) {
			r->st.obs[n++] = *o;
			continue;
		}
		/* Left out, still the tool's own (not foreign to what is kept). */
		if (grow_array((void **)&r->others, &r->others_cap, r->others_count + 2,
			       sizeof(*r->others)) < 0)
			continue;
		if (o->prog_id)
			r->others[r->others_count++] = o->prog_id;
		if (o->has_record && o->rec.prog_id)
			r->others[r->others_count++] = o->rec.prog_id;
	}
	r->st.count = n;
	log_debug("kept: %zu desired and %zu observed instances", r->want_count, r->st.count);
}

size_t run_own_progs(const struct run *r, uint32_t **ret)
{
	uint32_t *own = xcalloc(2 * r->st.count + r->others_count + 1, sizeof(*own));
	size_t n = 0;

	for (size_t i = 0; i < r->st.count; i++) {
		if (r->st.obs[i].prog_id)
			own[n++] = r->st.obs[i].prog_id;
		if (r->st.obs[i].has_record && r->st.obs[i].rec.prog_id)
			own[n++] = r->st.obs[i].rec.prog_id;
	}
	for (size_t i = 0; i < r->others_count; i++)
		own[n++] = r->others[i];
	qsort(own, n, sizeof(*own), cmp_u32);
	*ret = own;
	return n;
}

/* ---- targets (--target MANIFEST[/ATTACHMENT]) ---- */

bool run_targeted(const struct cli *cli, const char *manifest, const char *att)
{
	if (!cli->targets_count)
		return true;
	for (size_t i = 0; i < cli->targets_count; i++)
		if (att ? plan_target_names(cli->targets[i], manifest, att)
			: plan_target_within(cli->targets[i], manifest))
			return true;
	return false;
}

/* The attachment of an observed instance: its record's, or its key's
 * first part ("<attachment>/<target>"). */
static const char *have_attachment(const struct cnf_observed *o, char *buf, size_t len)
{
	if (o->has_record && o->rec.attachment[0])
		return o->rec.attachment;
	snprintf(buf, len, "%.*s", (int)strcspn(o->key, "/"), o->key);
	return buf;
}

static bool want_targeted(const struct cnf_instance *w, const void *ctx)
{
	return run_targeted(ctx, w->manifest->name, w->att->name);
}

static bool have_targeted(const struct cnf_observed *o, const void *ctx)
{
	char att[CNF_KEY_MAX];

	return run_targeted(ctx, o->manifest, have_attachment(o, att, sizeof(att)));
}

bool run_in_scope(const struct run *r, const char *manifest)
{
	if (r->mode == RUN_DESTROY && r->cli->all)
		return true;
	for (size_t i = 0; i < r->scope_count; i++)
		if (streq(r->scope[i], manifest))
			return true;
	for (size_t i = 0; i < r->prune_count; i++)
		if (streq(r->prune[i], manifest))
			return true;
	return false;
}

/* Every target names a manifest of the run, or an attachment one of
 * them declares or one the run found applied. */
static int targets_check(struct run *r)
{
	int ret = 0;

	for (size_t i = 0; i < r->cli->targets_count; i++) {
		const char *t = r->cli->targets[i];
		bool known = false;

		for (size_t j = 0; j < r->set->count && !known; j++) {
			const struct cnf_manifest *m = r->set->manifests[j];

			known = plan_target_names(t, m->name, NULL);
			for (size_t k = 0; k < m->attachments_count && !known; k++)
				known = plan_target_names(t, m->name, m->attachments[k].name);
		}
		for (size_t j = 0; j < r->st.count && !known; j++) {
			const struct cnf_observed *o = &r->st.obs[j];
			char att[CNF_KEY_MAX];

			known = run_in_scope(r, o->manifest) &&
				plan_target_names(t, o->manifest, have_attachment(o, att, sizeof(att)));
		}
		if (!known) {
			size_t mlen = strcspn(t, "/");
			bool have_m = false;

			for (size_t j = 0; j < r->set->count && !have_m; j++)
				have_m = strlen(r->set->manifests[j]->name) == mlen &&
					 !strncmp(r->set->manifests[j]->name, t, mlen);
			if (have_m)
				log_error("--target '%s': manifest '%.*s' declares no attachment '%s', "
					  "and none of that name is applied", t, (int)mlen, t, t + mlen + 1);
			else
				log_error("--target '%s': no manifest '%.*s' among those of this run%s", t,
					  (int)mlen, t, r->mode == RUN_DESTROY && r->cli->all ?
					  " (none of that name is applied)" : " (see PATH)");
			ret = -EINVAL;
		}
	}
	return ret;
}

static int apply_targets(struct run *r)
{
	int err;

	if (!r->cli->targets_count)
		return 0;
	err = targets_check(r);
	if (err < 0)
		return err;
	run_keep(r, want_targeted, have_targeted, r->cli);
	return 0;
}

/* ---- prepare ---- */

/* Runs serialise on a lock of the state root directory: exclusive for
 * apply and destroy, shared for plan and status. */
static int lock_root(struct run *r, bool exclusive)
{
	struct timespec start, now;
	int op = (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB;
	long long waited_ms;

	if (exclusive) {
		/* The root must exist to be locked; an empty directory is all
		 * that a failed run may leave behind. */
		int err = state_root_check(r->cli->bpffs, true);

		if (err < 0)
			return err;
	}
	r->lock_fd = open(r->cli->bpffs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->lock_fd < 0)
		return errno == ENOENT ? 0 : -errno;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (flock(r->lock_fd, op) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		/* Whole seconds alone would give up up to a second early. */
		clock_gettime(CLOCK_MONOTONIC, &now);
		waited_ms = (now.tv_sec - start.tv_sec) * 1000LL + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (waited_ms >= r->cli->wait_sec * 1000LL) {
			log_error("another cnf-apply run holds the lock on %s%s; %s", r->cli->bpffs,
				  r->cli->wait_sec ? " (waited)" : "",
				  r->cli->wait_sec ? "try again later or raise --wait"
						   : "try again, or use --wait SECONDS");
			return -EWOULDBLOCK;
		}
		usleep(50 * 1000);
	}
	return 0;
}

/* Object identification needs one record per object file as recorded
 * (manifest, object, file identity and hash), not one per instance: with
 * a glob over a thousand interfaces, all but a few are the same. */
static bool rec_file_seen(const struct cnf_record *recs, const char *const *manifests, size_t n,
			  const struct cnf_observed *o)
{
	const struct cnf_record *x = &o->rec;
	size_t objlen = strcspn(x->program, "/");

	for (size_t j = n; j > 0; j--) {
		const struct cnf_record *y = &recs[j - 1];

		if (y->obj_ino == x->obj_ino && y->obj_dev == x->obj_dev &&
		    y->obj_size == x->obj_size && y->obj_mtime_ns == x->obj_mtime_ns &&
		    y->obj_ctime_ns == x->obj_ctime_ns &&
		    !memcmp(y->obj_hash, x->obj_hash, CNF_HASH_LEN) &&
		    !strncmp(y->program, x->program, objlen) && y->program[objlen] == x->program[objlen] &&
		    streq(manifests[j - 1], o->manifest))
			return true;
	}
	return false;
}

/* ---- sources ---- */

static void paths_resolve(struct run *r)
{
	r->paths = xcalloc(r->cli->paths_count + 1, sizeof(*r->paths));
	for (size_t i = 0; i < r->cli->paths_count; i++) {
		struct stat st;
		struct plan_path *p = &r->paths[r->paths_count];

		if (stat(r->cli->paths[i], &st) < 0)
			continue;
		p->is_dir = S_ISDIR(st.st_mode);
		p->path = path_absolute(r->cli->paths[i], p->is_dir);
		if (p->path)
			r->paths_count++;
	}
}

static bool set_has(const struct cnf_manifest_set *set, const char *name)
{
	for (size_t i = 0; i < set->count; i++)
		if (streq(set->manifests[i]->name, name))
			return true;
	return false;
}

/* The manifests under the root that are no longer among the desired
 * ones, and were last applied from within the run's PATHs. */
static int select_prune(struct run *r)
{
	char **names = NULL;
	size_t n = 0;
	int err = state_manifests_list(r->cli->bpffs, &names, &n);

	if (err < 0) {
		log_error("state root '%s': %s", r->cli->bpffs, strerror(-err));
		return err;
	}
	r->prune = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		struct cnf_source src;
		bool known;

		if (set_has(r->set, names[i]))
			continue;
		known = state_source_get(r->cli->bpffs, names[i], &src) == 0;
		if (plan_prunes(r->paths, r->paths_count, known ? src.file : NULL)) {
			log_debug("manifest '%s' (last applied from %s) is pruned", names[i],
				  known ? src.file : "an unrecorded place");
			r->prune[r->prune_count++] = TAKE_PTR(names[i]);
		}
	}
	strv_free(names, n);
	return 0;
}

static bool manifest_has_state(const struct run *r, const struct cnf_manifest *m)
{
	for (size_t i = 0; i < r->st.manifests_count; i++)
		if (streq(r->st.manifests[i], m->name))
			return true;
	for (size_t i = 0; i < r->plan.count; i++) {
		const struct cnf_action *a = &r->plan.actions[i];

		if (a->want && a->want->manifest == m && a->kind != ACT_NOOP)
			return true;
	}
	return false;
}

/* A vanished manifest with nothing applied any more (a directory with
 * its source alone: an earlier version's destroy left it) goes. */
static void tidy_pruned(struct run *r)
{
	for (size_t i = 0; i < r->prune_count; i++) {
		bool any = false;

		for (size_t j = 0; j < r->st.count && !any; j++)
			any = streq(r->st.obs[j].manifest, r->prune[i]);
		if (!any && run_targeted(r->cli, r->prune[i], NULL))
			state_tidy(r->cli->bpffs, r->prune[i]);
	}
}

int run_record_sources(struct run *r)
{
	tidy_pruned(r);
	for (size_t i = 0; i < r->set->count; i++) {
		const struct cnf_manifest *m = r->set->manifests[i];
		struct cnf_source old, src = { .version = CNF_SOURCE_VERSION };
		int err;

		if (!m->source || !m->source_file || !run_targeted(r->cli, m->name, NULL) ||
		    !manifest_has_state(r, m))
			continue;
		if (state_source_get(r->cli->bpffs, m->name, &old) == 0 && streq(old.path, m->source) &&
		    streq(old.file, m->source_file))
			continue;
		snprintf(src.path, sizeof(src.path), "%s", m->source);
		snprintf(src.file, sizeof(src.file), "%s", m->source_file);
		err = state_source_put(r->cli->bpffs, m->name, &src);
		if (err < 0) {
			log_error("manifest '%s': cannot record where it was applied from under %s: %s",
				  m->name, r->cli->bpffs, strerror(-err));
			return err;
		}
	}
	return 0;
}

int run_prepare(struct run *r, const struct cli *cli, enum run_mode mode)
{
	const char **rec_manifests = NULL;
	struct cnf_record *recs = NULL;
	size_t nrecs = 0;
	int err;

	memset(r, 0, sizeof(*r));
	r->cli = cli;
	r->mode = mode;
	r->lock_fd = -1;
	if (mode == RUN_VALIDATE)
		probe_without_kernel();

	if (!(mode == RUN_DESTROY && cli->all)) {
		err = manifest_set_load(cli->paths, cli->paths_count, &r->set);
		if (err < 0)
			return err;
	} else {
		r->set = xcalloc(1, sizeof(*r->set));
	}
	r->scope = xcalloc(r->set->count + 1, sizeof(char *));
	for (size_t i = 0; i < r->set->count; i++)
		r->scope[r->scope_count++] = r->set->manifests[i]->name;

	if (mode != RUN_VALIDATE) {
		bool mutate = mode == RUN_APPLY || (mode == RUN_DESTROY && !cli->plan_destroy);

		if (geteuid() != 0)
			log_warn("not running as root: reading BPF state will likely fail");
		err = state_root_check(cli->bpffs, false);
		if (err < 0)
			return err;
		err = lock_root(r, mutate);
		if (err < 0) {
			if (err != -EWOULDBLOCK)
				log_error("state root '%s': cannot lock it: %s", cli->bpffs,
					  strerror(-err));
			return err;
		}
		/* Without directories the set is not the whole desired state:
		 * read only the named manifests. */
		bool all = (mode == RUN_DESTROY && cli->all) || r->set->from_dirs ||
			   mode == RUN_STATUS;
		const char **only = NULL;

		r->state_partial = !all;

		paths_resolve(r);
		if (mode != RUN_DESTROY) {
			err = select_prune(r);
			if (err < 0)
				return err;
		}
		if (!all) {
			only = xcalloc(r->scope_count + r->prune_count + 1, sizeof(char *));
			for (size_t i = 0; i < r->scope_count; i++)
				only[i] = r->scope[i];
			for (size_t i = 0; i < r->prune_count; i++)
				only[r->scope_count + i] = r->prune[i];
		}
		err = state_read(cli->bpffs, (char *const *)only, r->scope_count + r->prune_count,
				 &r->st);
		free(only);
		if (err < 0)
			return err;
		err = run_observe_all(r);
		if (err < 0)
			return err;
		recs = xcalloc(r->st.count, sizeof(*recs));
		rec_manifests = xcalloc(r->st.count, sizeof(char *));
		for (size_t i = 0; i < r->st.count; i++)
			if (r->st.obs[i].has_record &&
			    !rec_file_seen(recs, rec_manifests, nrecs, &r->st.obs[i])) {
				recs[nrecs] = r->st.obs[i].rec;
				rec_manifests[nrecs++] = r->st.obs[i].manifest;
			}
	}
	if (mode == RUN_DESTROY) {
		free(recs);
		free(rec_manifests);
		return apply_targets(r);
	}

	objects_init(&r->objs, r->set, cli->bpffs);
	err = objects_identify(&r->objs, recs, nrecs, rec_manifests);
	free(recs);
	free(rec_manifests);
	if (objects_open(&r->objs) < 0)
		err = -EINVAL;
	if (err >= 0)
		err = map_pins_observe(r);
	if (err < 0)
		return err;
	err = run_resolve_all(r);
	if (err < 0)
		return err;
	run_check_order(r);
	if (cli->focus)
		run_keep(r, want_in_focus, have_in_focus, cli->focus);
	return apply_targets(r);
}

void run_free(struct run *r)
{
	for (size_t i = 0; r->pin_fds && i < r->st.count; i++)
		if (r->pin_fds[i] >= 0)
			close(r->pin_fds[i]);
	free(r->pin_fds);
	for (size_t i = 0; i < r->ifcache_count; i++)
		iface_list_free(&r->ifcache[i].ifs);
	free(r->ifcache);
	for (size_t i = 0; i < r->want_count; i++) {
		free(r->want[i].t.cgroup_path);
		free(r->want[i].t.name);
		free(r->want[i].t.path);
	}
	free(r->want);
	free(r->share);
	free(r->others);
	free(r->revs);
	config_diff_free(r);
	map_pins_free(r);
	plan_free(&r->plan);
	objects_free(&r->objs);
	if (r->have_live)
		live_links_free(&r->live);
	state_free(&r->st);
	state_close_maps();
	free(r->scope);
	for (size_t i = 0; i < r->paths_count; i++)
		free((char *)r->paths[i].path);
	free(r->paths);
	strv_free(r->prune, r->prune_count);
	if (r->set)
		manifest_set_free(r->set);
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	memset(r, 0, sizeof(*r));
}

