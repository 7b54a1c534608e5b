// SPDX-License-Identifier: GPL-2.0-only
/* Maps pinned with `pin:` whose pin went away under running programs. */
#include <libgen.h>
#include <time.h>
#include <sys/stat.h>
#include <bpf/bpf.h>

#include "cnf/log.h"
#include "cnf/map_pins.h"
#include "cnf/reconcile.h"
#include "cnf/state.h"
#include "cnf/util.h"

/* ---- the map behind each pin: <bpffs>/_cnf/maps ---- */

/* A BPF hash map pinned at <bpffs>/_cnf/maps: key the pin's path under
 * _maps/ (NUL-padded), value the id of the map pinned there when the tool
 * last pinned or reused it. A state root without it (older versions) is
 * read as "nothing recorded". */
#define MAP_IDS_NAME "cnf_map_ids"
#define MAP_IDS_KEY 256
#define MAP_IDS_MAX 16384
#define MAP_IDS_VERSION 1

struct map_id_rec {
	uint32_t version;
	uint32_t map_id;
	uint64_t recorded_sec;
};

static int map_ids_path(char *buf, size_t len, const char *bpffs)
{
	return snprintf(buf, len, "%s/" LIVE_STATE_DIR "/maps", bpffs) >= (int)len ? -ENAMETOOLONG : 0;
}

/* The key of pin `path` (a full path under <bpffs>/_maps/). */
static int map_ids_key(const char *bpffs, const char *path, char key[MAP_IDS_KEY])
{
	size_t n = strlen(bpffs), m = strlen(CNF_MAPS_DIR);

	memset(key, 0, MAP_IDS_KEY);
	if (strncmp(path, bpffs, n) || path[n] != '/' || strncmp(path + n + 1, CNF_MAPS_DIR, m) ||
	    path[n + 1 + m] != '/' || strlen(path + n + m + 2) >= MAP_IDS_KEY)
		return -EINVAL;
	memcpy(key, path + n + m + 2, strlen(path + n + m + 2));
	return 0;
}

/* Opens the record map; -ENOENT when there is none, -EINVAL (and a
 * warning) when what is pinned there is not the tool's. */
static int map_ids_open(const char *bpffs, bool create)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, err;

	if (map_ids_path(path, sizeof(path), bpffs) < 0)
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0 && errno == ENOENT && create) {
		LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
		char dir[PATH_MAX];

		snprintf(dir, sizeof(dir), "%s/" LIVE_STATE_DIR, bpffs);
		err = mkdir_p(dir, 0700);
		if (err < 0)
			return err;
		fd = bpf_map_create(BPF_MAP_TYPE_HASH, MAP_IDS_NAME, MAP_IDS_KEY,
				    sizeof(struct map_id_rec), MAP_IDS_MAX, &o);
		if (fd < 0)
			return -errno;
		if (bpf_obj_pin(fd, path) < 0) {
			err = -errno;
			close(fd);
			return err;
		}
		return fd;
	}
	if (fd < 0)
		return -errno;
	if (bpf_info_get(fd, &info, &len) < 0 || info.type != BPF_MAP_TYPE_HASH ||
	    info.key_size != MAP_IDS_KEY || info.value_size != sizeof(struct map_id_rec)) {
		log_warn("%s is not the map of map ids cnf-apply keeps there (type %u, key size %u, "
			 "value size %u): map pins are checked without it", path, info.type,
			 info.key_size, info.value_size);
		close(fd);
		return -EINVAL;
	}
	return fd;
}

int map_ids_lookup(const char *bpffs, const char *path, uint32_t *ret_id)
{
	struct map_id_rec rec = {};
	char key[MAP_IDS_KEY];
	_cleanup_close_ int fd = -1;

	*ret_id = 0;
	if (map_ids_key(bpffs, path, key) < 0)
		return -EINVAL;
	fd = map_ids_open(bpffs, false);
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, key, &rec) < 0)
		return -errno;
	if (rec.version != MAP_IDS_VERSION || !rec.map_id)
		return -ENOENT;
	*ret_id = rec.map_id;
	return 0;
}

int map_ids_record(const char *bpffs, const char *path, uint32_t id)
{
	struct map_id_rec rec = { .version = MAP_IDS_VERSION, .map_id = id,
				  .recorded_sec = (uint64_t)time(NULL) };
	char key[MAP_IDS_KEY];
	_cleanup_close_ int fd = -1;

	if (!id || map_ids_key(bpffs, path, key) < 0)
		return -EINVAL;
	fd = map_ids_open(bpffs, true);
	if (fd < 0 || bpf_map_update_elem(fd, key, &rec, BPF_ANY) < 0) {
		int err = fd < 0 ? fd : -errno;

		log_warn("map pin %s: cannot record its map id %u: %s", path, id, strerror(-err));
		return err;
	}
	return 0;
}

void map_ids_forget(const char *bpffs, const char *path)
{
	char key[MAP_IDS_KEY];
	_cleanup_close_ int fd = -1;

	if (map_ids_key(bpffs, path, key) < 0)
		return;
	fd = map_ids_open(bpffs, false);
	if (fd >= 0)
		bpf_map_delete_elem(fd, key);
}

void map_ids_tidy(const char *bpffs, bool all)
{
	char path[PATH_MAX], key[MAP_IDS_KEY];
	_cleanup_close_ int fd = -1;

	if (map_ids_path(path, sizeof(path), bpffs) < 0)
		return;
	fd = map_ids_open(bpffs, false);
	if (fd == -ENOENT)
		return;
	if (all || (fd >= 0 && bpf_map_get_next_key(fd, NULL, key) < 0 && errno == ENOENT))
		unlink(path);
}

/* The id of the map pinned at `path`, 0 when none (or not a map). */
static uint32_t pinned_map_id(const char *path)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	_cleanup_close_ int fd = bpf_obj_get(path);

	if (fd < 0 || bpf_info_get(fd, &info, &len) < 0)
		return 0;
	return info.id;
}

static bool map_alive(uint32_t id, const char *name)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	_cleanup_close_ int fd = id ? bpf_map_get_fd_by_id(id) : -1;

	return fd >= 0 && bpf_info_get(fd, &info, &len) == 0 && map_name_is(info.name, name);
}

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

/* What the pins found missing or holding another map come to: the live
 * map is the one managed programs hold, else the one recorded at pin time
 * when it still exists (a shared pin whose programs belong to manifests
 * not in this run). A pin that holds that very map is no drift after all;
 * one that holds another map while no live map is known is taken as it
 * is. */
static void resolve_drifts(struct run *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->map_drifts_count; i++) {
		struct map_pin_drift *d = &r->map_drifts[i];

		if (!d->map_id && d->recorded_id && map_alive(d->recorded_id, d->opt->name))
			d->map_id = d->recorded_id;
		if (d->impostor_id && (!d->map_id || d->map_id == d->impostor_id)) {
			free(d->prog_ids);
			continue;
		}
		r->map_drifts[n++] = *d;
	}
	r->map_drifts_count = n;
}

int map_pins_observe(struct run *r)
{
	size_t cap = 0;

	if (r->mode != RUN_PLAN && r->mode != RUN_APPLY && r->mode != RUN_STATUS)
		return 0;
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
					uint32_t rec_id = 0, pinned = 0;
					bool dep = deployed(r, m, o);

					if (stat(path, &st) == 0) {
						/* There: is it the map recorded at pin
						 * time? Without a record (older state),
						 * the running programs say. */
						if (map_ids_lookup(r->cli->bpffs, path, &rec_id) < 0 && !dep)
							continue;
						pinned = pinned_map_id(path);
						if (!pinned || pinned == rec_id)
							continue;
					} else if (errno != ENOENT && errno != ENOTDIR) {
						continue;
					} else if (map_ids_lookup(r->cli->bpffs, path, &rec_id) < 0 &&
						   !dep) {
						continue; /* never deployed: made at the first load */
					}
					if (grow_array((void **)&r->map_drifts, &cap,
						       r->map_drifts_count + 1, sizeof(*d)) < 0)
						return -ENOMEM;
					d = &r->map_drifts[r->map_drifts_count++];
					memset(d, 0, sizeof(*d));
					d->manifest = m;
					d->obj = o;
					d->opt = mo;
					d->impostor_fd = -1;
					d->recorded_id = rec_id;
					d->impostor_id = pinned;
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
	resolve_drifts(r);
	for (size_t i = 0; i < r->map_drifts_count; i++) {
		struct map_pin_drift *d = &r->map_drifts[i];
		char what[512];

		if (d->impostor_id) {
			if (!live_map_fits(r, d, what, sizeof(what)))
				snprintf(d->reason, sizeof(d->reason),
					 "map pin %s holds map id %u, not map id %u that the programs "
					 "use, which has %s: it is not pinned again", d->path,
					 d->impostor_id, d->map_id, what);
			else
				snprintf(d->reason, sizeof(d->reason),
					 "map pin %s holds another map (id %u) than the one the programs "
					 "use (id %u%s): an impostor; the live map is pinned there again",
					 d->path, d->impostor_id, d->map_id,
					 d->map_id == d->recorded_id ? ", recorded when it was pinned" : "");
			if (what[0] && d->impostor_id) {
				d->map_id = 0;
				d->prog_count = 0;
			}
		} else if (!d->map_id) {
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

/* Pins `fd` at `path` in one rename over what is there. */
static int pin_over(int fd, const char *path)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s%s", path, PIN_TMP_SUFFIX) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	unlink(tmp);
	if (bpf_obj_pin(fd, tmp) < 0)
		return -errno;
	if (rename(tmp, path) < 0) {
		int err = -errno;

		unlink(tmp);
		return err;
	}
	return 0;
}

/* The live map takes its pin back from the impostor, which is kept open
 * until the run is over (a rollback pins it back). */
static int replace_impostor(struct map_pin_drift *d, int live_fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int err;

	d->impostor_fd = bpf_obj_get(d->path);
	if (d->impostor_fd < 0 || bpf_info_get(d->impostor_fd, &info, &len) < 0 ||
	    info.id != d->impostor_id) {
		log_error("map pin %s: it no longer holds map id %u as planned; nothing was changed "
			  "there", d->path, d->impostor_id);
		return -ESTALE;
	}
	err = pin_over(live_fd, d->path);
	if (err < 0)
		log_error("map pin %s: pinning live map id %u over map id %u failed: %s", d->path,
			  d->map_id, d->impostor_id, strerror(-err));
	else
		log_warn("map pin %s: map id %u was pinned there instead of map id %u that the "
			 "programs use; the pin holds map id %u again", d->path, d->impostor_id,
			 d->map_id, d->map_id);
	return err;
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
		if (d->impostor_id) {
			err = replace_impostor(d, fd);
			if (err < 0)
				return err;
			d->done = true;
			r->applied++;
			continue;
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
		if (d->impostor_fd >= 0) {
			int err = pin_over(d->impostor_fd, d->path);

			if (err < 0)
				log_warn("map pin %s: could not pin map id %u back: %s", d->path,
					 d->impostor_id, strerror(-err));
			continue;
		}
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

void map_pins_record(struct run *r)
{
	for (size_t i = 0; i < r->map_drifts_count; i++)
		if (r->map_drifts[i].done)
			map_ids_record(r->cli->bpffs, r->map_drifts[i].path, r->map_drifts[i].map_id);
	for (size_t i = 0; i < r->objs.maps_count; i++) {
		const struct map_plan *g = &r->objs.maps[i];

		if (g->path && g->done && g->new_id && g->action != MAP_KEEP &&
		    g->action != MAP_UNPIN)
			map_ids_record(r->cli->bpffs, g->path, g->new_id);
	}
}

void map_pins_free(struct run *r)
{
	for (size_t i = 0; i < r->map_drifts_count; i++) {
		if (r->map_drifts[i].impostor_fd >= 0)
			close(r->map_drifts[i].impostor_fd);
		free(r->map_drifts[i].prog_ids);
	}
	free(r->map_drifts);
	r->map_drifts = NULL;
	r->map_drifts_count = 0;
}
