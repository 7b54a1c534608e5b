// SPDX-License-Identifier: GPL-2.0-only
/* Maps pinned with `pin:` whose pin went away under running programs. */
#include <libgen.h>
#include <sys/stat.h>
#include <bpf/bpf.h>

#include "cnf/log.h"
#include "cnf/map_pins.h"
#include "cnf/reconcile.h"
#include "cnf/state.h"
#include "cnf/util.h"

static struct map_pin_drift *drift_find(struct run *r, const char *path)
{
	for (size_t i = 0; i < r->map_drifts_count; i++)
		if (streq(r->map_drifts[i].path, path))
			return &r->map_drifts[i];
	return NULL;
}

static bool has_prog(const struct map_pin_drift *d, uint32_t id)
{
	for (size_t i = 0; i < d->prog_count; i++)
		if (d->prog_ids[i] == id)
			return true;
	return false;
}

/* Looks for the map named `name` among the maps of program `prog_id`. */
static uint32_t prog_map_by_name(uint32_t prog_id, const char *name)
{
	struct live_maps l = {};
	uint32_t id = 0;

	map_ids_of_prog(prog_id, &l);
	for (size_t i = 0; i < l.count && !id; i++)
		if (map_name_is(l.v[i].name, name))
			id = l.v[i].id;
	free(l.v);
	return id;
}

/* The programs of object `o` of manifest `m` that run now under the
 * state root: which of them hold the map the pin named? */
static void find_live_map(struct run *r, struct map_pin_drift *d, const struct cnf_manifest *m,
			  const struct cnf_object *o, const struct cnf_map_opt *mo)
{
	for (size_t i = 0; i < r->st.count; i++) {
		const struct cnf_observed *h = &r->st.obs[i];
		uint32_t id;

		if (!h->has_record || !h->alive || !h->prog_id || !streq(h->manifest, m->name) ||
		    !map_record_of_object(&h->rec, o->name) || has_prog(d, h->prog_id))
			continue;
		id = prog_map_by_name(h->prog_id, mo->name);
		if (!id)
			continue;
		if (d->map_id && id != d->map_id) {
			/* Another map of the same name: the pin was lost before,
			 * and a load made a new one. Keep the first found. */
			log_debug("map pin %s: program id %u holds map id %u, not %u", d->path,
				  h->prog_id, id, d->map_id);
			continue;
		}
		d->map_id = id;
		if (grow_array((void **)&d->prog_ids, &d->prog_cap, d->prog_count + 1,
			       sizeof(*d->prog_ids)) < 0)
			continue;
		d->prog_ids[d->prog_count++] = h->prog_id;
	}
}

/* Is object `o` of manifest `m` deployed: does a record name it? */
static bool deployed(const struct run *r, const struct cnf_manifest *m, const struct cnf_object *o)
{
	for (size_t i = 0; i < r->st.count; i++) {
		const struct cnf_observed *h = &r->st.obs[i];

		if (h->has_record && streq(h->manifest, m->name) && map_record_of_object(&h->rec, o->name))
			return true;
	}
	return false;
}

static struct obj_entry *entry_of(struct run *r, const struct cnf_object *o)
{
	for (size_t i = 0; i < r->objs.count; i++)
		if (r->objs.entries[i].obj == o)
			return &r->objs.entries[i];
	return NULL;
}

/* Would the new version of the object reuse the live map? The check
 * objects_plan_maps() makes for a pinned map (objects_map_diff()). */
static bool live_map_fits(struct run *r, const struct map_pin_drift *d, char *what, size_t len)
{
	struct obj_entry *e = entry_of(r, d->obj);
	struct bpf_map *map = e && e->bo ? bpf_object__find_map_by_name(e->bo, d->opt->name) : NULL;
	struct map_diff diffs[MAP_DIFF_MAX];
	_cleanup_close_ int fd = bpf_map_get_fd_by_id(d->map_id);
	int n;

	what[0] = '\0';
	if (!map || fd < 0)
		return true; /* nothing to compare with: libbpf decides at load */
	n = objects_map_diff(e->bo, map, fd, diffs, NULL);
	if (n <= 0)
		return true;
	map_diffs_text(diffs, (size_t)n, "the object wants", what, len);
	return false;
}

int map_pins_observe(struct run *r)
{
	size_t cap = 0;

	if (r->mode != RUN_PLAN && r->mode != RUN_APPLY && r->mode != RUN_STATUS)
		return 0;
	if (r->st.count == 0)
		return 0; /* nothing deployed: pins are made at the first load */
	for (size_t i = 0; i < r->set->count; i++) {
		const struct cnf_manifest *m = r->set->manifests[i];

		for (size_t j = 0; j < m->objects_count; j++) {
			const struct cnf_object *o = &m->objects[j];

			for (size_t k = 0; k < o->maps_count; k++) {
				const struct cnf_map_opt *mo = &o->maps[k];
				struct map_pin_drift *d;
				char path[PATH_MAX];
				struct stat st;
				size_t before;

				if (!mo->pin)
					continue;
				if (snprintf(path, sizeof(path), "%s/" CNF_MAPS_DIR "/%s", r->cli->bpffs,
					     mo->pin) >= (int)sizeof(path))
					continue; /* set_map_pins() reports it */
				d = drift_find(r, path);
				if (!d) {
					if (!deployed(r, m, o) || stat(path, &st) == 0 ||
					    (errno != ENOENT && errno != ENOTDIR))
						continue;
					if (grow_array((void **)&r->map_drifts, &cap,
						       r->map_drifts_count + 1, sizeof(*d)) < 0)
						return -ENOMEM;
					d = &r->map_drifts[r->map_drifts_count++];
					memset(d, 0, sizeof(*d));
					d->manifest = m;
					d->obj = o;
					d->opt = mo;
					snprintf(d->path, sizeof(d->path), "%s", path);
				}
				/* Objects sharing the pin may name the map differently;
				 * the drift names the object whose programs hold it. */
				before = d->prog_count;
				find_live_map(r, d, m, o, mo);
				if (!before && d->prog_count) {
					d->manifest = m;
					d->obj = o;
					d->opt = mo;
				}
			}
		}
	}
	for (size_t i = 0; i < r->map_drifts_count; i++) {
		struct map_pin_drift *d = &r->map_drifts[i];
		char what[512];

		if (!d->map_id) {
			snprintf(d->reason, sizeof(d->reason),
				 "map pin %s missing, and no managed program holds map '%s' any more: "
				 "it is created afresh, empty, when object '%s' is next loaded", d->path,
				 d->opt->name, d->obj->name);
		} else if (!live_map_fits(r, d, what, sizeof(what))) {
			snprintf(d->reason, sizeof(d->reason),
				 "map pin %s missing; live map id %u still used by the programs has %s: "
				 "its contents cannot carry over, so it is not pinned again and object "
				 "'%s' gets a new, empty map when next loaded", d->path, d->map_id, what,
				 d->obj->name);
			d->map_id = 0;
			free(d->prog_ids);
			d->prog_ids = NULL;
			d->prog_count = 0;
		} else {
			snprintf(d->reason, sizeof(d->reason),
				 "map pin %s missing; live map id %u still used by the programs", d->path,
				 d->map_id);
		}
		log_debug("%s", d->reason);
	}
	return 0;
}

int map_pins_repair(struct run *r)
{
	for (size_t i = 0; i < r->map_drifts_count; i++) {
		struct map_pin_drift *d = &r->map_drifts[i];
		_cleanup_close_ int fd = -1;
		char dir[PATH_MAX];
		int err;

		if (!d->map_id || d->done)
			continue;
		fd = bpf_map_get_fd_by_id(d->map_id);
		if (fd < 0) {
			/* Its last program went away since: a new map it is. */
			log_warn("map pin %s: live map id %u is gone (%s); object '%s' gets a new, "
				 "empty map when next loaded", d->path, d->map_id, strerror(errno),
				 d->obj->name);
			continue;
		}
		snprintf(dir, sizeof(dir), "%s", d->path);
		err = mkdir_p(dirname(dir), 0700);
		if (err < 0) {
			log_error("map pin %s: cannot create its directory: %s", d->path, strerror(-err));
			return err;
		}
		if (bpf_obj_pin(fd, d->path) < 0) {
			struct bpf_map_info info = {};
			__u32 len = sizeof(info);
			_cleanup_close_ int cur = -1;

			err = -errno;
			if (err == -EEXIST)
				cur = bpf_obj_get(d->path);
			if (cur >= 0 && bpf_info_get(cur, &info, &len) == 0 &&
			    info.id == d->map_id) {
				continue; /* someone put it back meanwhile */
			}
			log_error("map pin %s: pinning live map id %u again failed: %s", d->path,
				  d->map_id, err == -EEXIST ? "another object is pinned there now"
							    : strerror(-err));
			return err;
		}
		d->done = true;
		r->applied++;
	}
	return 0;
}

void map_pins_undo(struct run *r)
{
	for (size_t i = 0; i < r->map_drifts_count; i++) {
		struct map_pin_drift *d = &r->map_drifts[i];
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		_cleanup_close_ int fd = -1;

		if (!d->done)
			continue;
		d->done = false;
		if (r->applied)
			r->applied--;
		fd = bpf_obj_get(d->path);
		if (fd >= 0 && bpf_info_get(fd, &info, &len) == 0 && info.id == d->map_id &&
		    unlink(d->path) < 0)
			log_warn("map pin %s: could not remove it again: %s", d->path, strerror(errno));
	}
}

size_t map_pins_hints(const struct run *r, struct map_pin_hint **ret)
{
	struct map_pin_hint *hints = xcalloc(r->map_drifts_count + 1, sizeof(*hints));
	size_t n = 0;

	for (size_t i = 0; i < r->map_drifts_count; i++)
		if (r->map_drifts[i].map_id)
			hints[n++] = (struct map_pin_hint){ r->map_drifts[i].path,
							    r->map_drifts[i].map_id };
	*ret = hints;
	return n;
}

size_t map_pins_changes(const struct run *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->map_drifts_count; i++)
		n += r->map_drifts[i].map_id != 0;
	return n;
}

const struct map_pin_drift *map_pins_drift_of_prog(const struct run *r, uint32_t prog_id)
{
	for (size_t i = 0; prog_id && i < r->map_drifts_count; i++)
		if (r->map_drifts[i].map_id && has_prog(&r->map_drifts[i], prog_id))
			return &r->map_drifts[i];
	return NULL;
}

void map_pins_free(struct run *r)
{
	for (size_t i = 0; i < r->map_drifts_count; i++)
		free(r->map_drifts[i].prog_ids);
	free(r->map_drifts);
	r->map_drifts = NULL;
	r->map_drifts_count = 0;
}
