// SPDX-License-Identifier: GPL-2.0-only
/* Maps pinned with `pin:` whose pin went away under running programs. */
#include <libgen.h>
#include <time.h>
#include <sys/stat.h>
#include <bpf/bpf.h>

#include "cnf/hooks.h"
#include "cnf/log.h"
#include "cnf/map_pins.h"
#include "cnf/reconcile.h"
#include "cnf/state.h"
#include "cnf/util.h"

/* ---- the map behind each pin: <bpffs>/_cnf/maps ---- */

/* A BPF hash map pinned at <bpffs>/_cnf/maps, NUL-padded keys:
 *   "<pin>"             the pin's path under _maps/ -> the id of the map
 *                       pinned there when the tool last pinned or reused it
 *   "@<manifest>/<pin>" -> the same: the manifest's objects pinned it (by
 *                       `pin:` or by name), so that the pin can be
 *                       collected once the manifest no longer declares it
 * A state root without it (older versions) is read as "nothing recorded". */
#define MAP_IDS_NAME "cnf_map_ids"
#define MAP_IDS_KEY 320
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

/* The key of pin `path` (a full path under <bpffs>/_maps/), or of its
 * owner entry with `manifest`. */
static int map_ids_key_of(const char *bpffs, const char *manifest, const char *path,
			  char key[MAP_IDS_KEY])
{
	const char *rel = state_map_rel(bpffs, path);

	memset(key, 0, MAP_IDS_KEY);
	if (!rel)
		return -EINVAL;
	if (snprintf(key, MAP_IDS_KEY, "%s%s%s%s", manifest ? "@" : "", manifest ? manifest : "",
		     manifest ? "/" : "", rel) >= MAP_IDS_KEY)
		return -ENAMETOOLONG;
	return 0;
}

static int map_ids_key(const char *bpffs, const char *path, char key[MAP_IDS_KEY])
{
	return map_ids_key_of(bpffs, NULL, path, key);
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

/* The record map as the run's lookups found it, opened once: a run that
 * checks many pins opens it once, not per pin. */
static struct {
	char bpffs[PATH_MAX];
	int fd;                       /* a negative errno when it could not be opened */
	bool valid;
} ids_cache;

static void ids_cache_drop(void)
{
	if (ids_cache.valid && ids_cache.fd >= 0)
		close(ids_cache.fd);
	ids_cache.valid = false;
}

int map_ids_lookup(const char *bpffs, const char *path, uint32_t *ret_id)
{
	struct map_id_rec rec = {};
	char key[MAP_IDS_KEY];
	int fd;

	*ret_id = 0;
	if (map_ids_key(bpffs, path, key) < 0)
		return -EINVAL;
	if (!ids_cache.valid || strcmp(ids_cache.bpffs, bpffs)) {
		ids_cache_drop();
		snprintf(ids_cache.bpffs, sizeof(ids_cache.bpffs), "%s", bpffs);
		ids_cache.fd = map_ids_open(bpffs, false);
		ids_cache.valid = true;
	}
	fd = ids_cache.fd;
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, key, &rec) < 0)
		return -errno;
	if (rec.version != MAP_IDS_VERSION || !rec.map_id)
		return -ENOENT;
	*ret_id = rec.map_id;
	return 0;
}

static int map_ids_put(const char *bpffs, const char *manifest, const char *path, uint32_t id)
{
	struct map_id_rec rec = { .version = MAP_IDS_VERSION, .map_id = id,
				  .recorded_sec = (uint64_t)time(NULL) };
	char key[MAP_IDS_KEY];
	_cleanup_close_ int fd = -1;

	if (!id || map_ids_key_of(bpffs, manifest, path, key) < 0)
		return -EINVAL;
	if (ids_cache.valid && ids_cache.fd < 0)
		ids_cache_drop(); /* the map may be created now */
	fd = map_ids_open(bpffs, true);
	if (fd < 0 || bpf_map_update_elem(fd, key, &rec, BPF_ANY) < 0) {
		int err = fd < 0 ? fd : -errno;

		log_warn("map pin %s: cannot record its map id %u: %s", path, id, strerror(-err));
		return err;
	}
	return 0;
}

int map_ids_record(const char *bpffs, const char *path, uint32_t id)
{
	return map_ids_put(bpffs, NULL, path, id);
}

static void map_ids_del(const char *bpffs, const char *manifest, const char *path)
{
	char key[MAP_IDS_KEY];
	_cleanup_close_ int fd = -1;

	if (map_ids_key_of(bpffs, manifest, path, key) < 0)
		return;
	fd = map_ids_open(bpffs, false);
	if (fd >= 0)
		bpf_map_delete_elem(fd, key);
}

void map_ids_forget(const char *bpffs, const char *path)
{
	map_ids_del(bpffs, NULL, path);
}

/* The owner records ("@<manifest>/<pin>"), of one manifest or (NULL) of
 * all, in one pass over the record map. */
static size_t map_ids_owner_keys(const char *bpffs, const char *manifest, char ***ret)
{
	char key[MAP_IDS_KEY], next[MAP_IDS_KEY], prefix[CNF_NAME_MAX + 3];
	_cleanup_close_ int fd = map_ids_open(bpffs, false);
	char **keys = NULL;
	size_t n = 0, cap = 0, plen;
	void *prev = NULL;

	*ret = NULL;
	if (fd < 0)
		return 0;
	plen = (size_t)snprintf(prefix, sizeof(prefix), "@%s%s", manifest ? manifest : "",
				manifest ? "/" : "");
	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, sizeof(key));
		prev = key;
		key[MAP_IDS_KEY - 1] = '\0';
		if (strncmp(key, prefix, plen) || !strchr(key, '/') ||
		    grow_array((void **)&keys, &cap, n + 1, sizeof(*keys)) < 0)
			continue;
		keys[n++] = xstrdup(key);
	}
	*ret = keys;
	return n;
}

size_t map_ids_owned(const char *bpffs, const char *manifest, char ***ret)
{
	size_t n = map_ids_owner_keys(bpffs, manifest, ret);

	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX];

		state_map_path(path, sizeof(path), bpffs, strchr((*ret)[i], '/') + 1);
		free((*ret)[i]);
		(*ret)[i] = xstrdup(path);
	}
	return n;
}

void map_ids_disown(const char *bpffs, const char *manifest, const char *path)
{
	map_ids_del(bpffs, manifest, path);
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
	ids_cache_drop();
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
static uint32_t map_user_besides(uint32_t id, const uint32_t *going, size_t n_going);

static void resolve_drifts(struct run *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->map_drifts_count; i++) {
		struct map_pin_drift *d = &r->map_drifts[i];

		/* Programs must hold it: a map whose last reference was the
		 * pin lingers a moment after the pin goes. */
		if (!d->map_id && d->recorded_id && map_alive(d->recorded_id, d->opt->name) &&
		    map_user_besides(d->recorded_id, NULL, 0))
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
				if (state_map_path(path, sizeof(path), r->cli->bpffs, mo->pin) < 0)
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
						pinned = map_pinned_id(path);
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
	const char *bpffs = r->cli->bpffs;

	for (size_t i = 0; i < r->map_drifts_count; i++) {
		const struct map_pin_drift *d = &r->map_drifts[i];

		if (!d->done)
			continue;
		map_ids_record(bpffs, d->path, d->map_id);
		map_ids_put(bpffs, d->manifest->name, d->path, d->map_id);
	}
	for (size_t i = 0; i < r->objs.maps_count; i++) {
		const struct map_plan *g = &r->objs.maps[i];

		if (!g->path || !g->done || !g->new_id || g->action == MAP_KEEP ||
		    g->action == MAP_UNPIN)
			continue;
		map_ids_record(bpffs, g->path, g->new_id);
		for (size_t k = 0; k < g->users_count; k++)
			map_ids_put(bpffs, g->users[k].e->manifest->name, g->path, g->new_id);
	}
}

/* Does a program other than those in `going` (sorted) use map `id`? The
 * first one found, 0 when none. */
static uint32_t map_user_besides(uint32_t id, const uint32_t *going, size_t n_going)
{
	uint32_t pid = 0;

	while (bpf_prog_get_next_id(pid, &pid) == 0) {
		struct live_maps l = {};
		bool uses = false;

		if ((n_going && own_has(going, n_going, pid)) || map_ids_of_prog(pid, &l) < 0) {
			free(l.v);
			continue;
		}
		for (size_t i = 0; i < l.count && !uses; i++)
			uses = l.v[i].id == id;
		free(l.v);
		if (uses)
			return pid;
	}
	return 0;
}


/* Is `path` the pin of a map some object of `m` declares (pin: or by
 * name)? */
static bool declared_by(const struct run *r, const struct cnf_manifest *m, const char *path)
{
	for (size_t i = 0; i < r->objs.count; i++) {
		const struct obj_entry *e = &r->objs.entries[i];
		struct bpf_map *map;

		if (e->manifest != m || !e->bo)
			continue;
		bpf_object__for_each_map(map, e->bo)
			if (bpf_map__pin_path(map) && streq(bpf_map__pin_path(map), path))
				return true;
	}
	return false;
}

/* Does the map plan list pin `path` already (a map it unpins, say)? */
static bool planned(const struct run *r, const char *path)
{
	for (size_t i = 0; i < r->objs.maps_count; i++)
		if (r->objs.maps[i].path && streq(r->objs.maps[i].path, path))
			return true;
	return false;
}

/* The new version takes over map `id` (unpinned now): the running
 * program that holds it stands for it. */
static uint32_t kept_by_new_version(const struct run *r, uint32_t id)
{
	for (size_t i = 0; i < r->objs.maps_count; i++) {
		const struct map_plan *g = &r->objs.maps[i];

		if (g->action == MAP_REUSE && !g->path && g->old_id == id)
			return map_user_besides(id, NULL, 0);
	}
	return 0;
}

int map_pins_stale(struct run *r)
{
	_cleanup_free_ uint32_t *going = xcalloc(r->plan.count + 1, sizeof(*going));
	size_t n_going = 0, cap = 0, n;
	char **keys = NULL;
	int ret = 0;

	for (size_t i = 0; i < r->plan.count; i++) {
		const struct cnf_action *a = &r->plan.actions[i];

		if (a->kind != ACT_NOOP && a->kind != ACT_CREATE && a->have && a->have->prog_id)
			going[n_going++] = a->have->prog_id;
	}
	qsort(going, n_going, sizeof(*going), cmp_u32);
	n = map_ids_owner_keys(r->cli->bpffs, NULL, &keys);
	for (size_t k = 0; k < n; k++) {
		const struct cnf_manifest *m = NULL;
		char path[PATH_MAX];
		char *slash = strchr(keys[k], '/');
		struct map_pin_stale *s;
		uint32_t id;

		*slash = '\0';
		for (size_t i = 0; i < r->set->count && !m; i++)
			if (streq(r->set->manifests[i]->name, keys[k] + 1))
				m = r->set->manifests[i];
		if (!m)
			continue; /* a manifest this run does not look at */
		if (state_map_path(path, sizeof(path), r->cli->bpffs, slash + 1) < 0 ||
		    declared_by(r, m, path) || planned(r, path))
			continue;
		id = map_pinned_id(path);
		if (!id)
			continue; /* gone already: destroy drops the record */
		if (grow_array((void **)&r->map_stale, &cap, r->map_stale_count + 1, sizeof(*s)) < 0) {
			ret = -ENOMEM;
			break;
		}
		s = &r->map_stale[r->map_stale_count++];
		memset(s, 0, sizeof(*s));
		s->manifest = m;
		snprintf(s->path, sizeof(s->path), "%s", path);
		s->map_id = id;
		s->used_by = kept_by_new_version(r, id);
		if (!s->used_by)
			s->used_by = map_user_besides(id, going, n_going);
		if (s->used_by)
			snprintf(s->reason, sizeof(s->reason), "pinned by manifest '%s', which no "
				 "longer declares it; program %u still uses map %u: it stays until no "
				 "program does", m->name, s->used_by, id);
		else
			snprintf(s->reason, sizeof(s->reason), "pinned by manifest '%s', which no "
				 "longer declares it, and no program uses map %u: apply unpins it",
				 m->name, id);
		r->plan.changes += !s->used_by;
	}
	for (size_t k = 0; k < n; k++)
		free(keys[k]);
	free(keys);
	return ret;
}

/* Removes the directories under <bpffs>/_maps/ (and it) that the pin
 * `path` left empty. */
static void rmdir_parents(const char *path, const char *bpffs)
{
	char dir[PATH_MAX];
	size_t stop = strlen(bpffs);

	snprintf(dir, sizeof(dir), "%s", path);
	for (char *slash = strrchr(dir, '/'); slash && (size_t)(slash - dir) > stop;
	     slash = strrchr(dir, '/')) {
		*slash = '\0';
		if (rmdir(dir) < 0)
			break;
	}
}

void map_pins_collect(struct run *r)
{
	const char *bpffs = r->cli->bpffs;

	for (size_t i = 0; i < r->map_stale_count; i++) {
		struct map_pin_stale *s = &r->map_stale[i];
		uint32_t id = map_pinned_id(s->path);

		if (s->used_by)
			continue;
		if (id && id != s->map_id) {
			log_warn("map pin %s: it holds another map than planned; left as it is",
				 s->path);
			continue;
		}
		if (id && map_user_besides(id, NULL, 0)) {
			log_warn("map pin %s: a program uses map %u again; left as it is", s->path, id);
			continue;
		}
		if (id && unlink(s->path) < 0) {
			log_warn("map pin %s: cannot unpin it: %s", s->path, strerror(errno));
			continue;
		}
		map_ids_forget(bpffs, s->path);
		map_ids_disown(bpffs, s->manifest->name, s->path);
		rmdir_parents(s->path, bpffs);
		s->done = true;
		r->applied++;
	}
}

size_t map_pins_destroy_owned(const struct cnf_manifest *m, const char *bpffs,
			      const uint32_t *gone, size_t n_gone)
{
	char **owned = NULL;
	size_t n = map_ids_owned(bpffs, m->name, &owned), unpinned = 0;

	for (size_t k = 0; k < n; k++) {
		uint32_t id = owned[k] ? map_pinned_id(owned[k]) : 0;

		if (owned[k] && (!id || !map_user_besides(id, gone, n_gone))) {
			if (!id || unlink(owned[k]) == 0) {
				unpinned += id != 0;
				map_ids_forget(bpffs, owned[k]);
				rmdir_parents(owned[k], bpffs);
			}
		}
		if (owned[k])
			map_ids_disown(bpffs, m->name, owned[k]);
		free(owned[k]);
	}
	free(owned);
	return unpinned;
}

void map_pins_free(struct run *r)
{
	ids_cache_drop();
	free(r->map_stale);
	r->map_stale = NULL;
	r->map_stale_count = 0;
	for (size_t i = 0; i < r->map_drifts_count; i++) {
		if (r->map_drifts[i].impostor_fd >= 0)
			close(r->map_drifts[i].impostor_fd);
		free(r->map_drifts[i].prog_ids);
	}
	free(r->map_drifts);
	r->map_drifts = NULL;
	r->map_drifts_count = 0;
}
