// SPDX-License-Identifier: GPL-2.0-only
/* Maps across program versions: what each run does with the maps of the
 * objects it loads (objects_plan_maps()), and the pins apply makes, moves
 * and removes for them. */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>

#include "cnf/hooks.h"
#include "cnf/log.h"
#include "cnf/map_pins.h"
#include "cnf/objects.h"
#include "cnf/state.h"
#include "cnf/util.h"

void map_plans_free(struct obj_cache *c)
{
	for (size_t i = 0; i < c->maps_count; i++) {
		struct map_plan *g = &c->maps[i];

		if (g->old_fd >= 0)
			close(g->old_fd);
		if (g->new_fd >= 0)
			close(g->new_fd);
		free(g->users);
		free(g->path);
		free(g->name);
		free(g->problem);
	}
	free(c->maps);
	c->maps = NULL;
	c->maps_count = 0;
}

/* ---- pinned maps across versions ---- */

const char *map_action_name(enum map_action a)
{
	switch (a) {
	case MAP_REUSE:    return "keep";
	case MAP_CREATE:   return "create";
	case MAP_RECREATE: return "recreate";
	case MAP_KEEP:     return "keep";
	case MAP_RESET:    return "reset";
	case MAP_UNPIN:    return "unpin";
	}
	return "?";
}

/* Appends to a bounded string; the result stays NUL-terminated. */
static void sbuf_add(char *buf, size_t len, size_t *pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void sbuf_add(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*pos >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *pos, len - *pos, fmt, ap);
	va_end(ap);
	if (n > 0)
		*pos = *pos + (size_t)n < len ? *pos + (size_t)n : len;
}

/* The layout of a BTF type, without the names of types (a typedef or a
 * renamed struct is the same data) but with the names of struct members
 * (swapped fields are not): "struct { u32 pkts@0; u64 bytes@8; }". */
static void btf_layout(const struct btf *btf, __u32 id, int depth, char *buf, size_t len,
		       size_t *pos)
{
	const struct btf_type *t;

	/* Qualifiers and typedefs do not change the data. */
	for (int hops = 0; hops < 32; hops++) {
		t = btf__type_by_id(btf, id);
		if (!t || !(btf_is_typedef(t) || btf_is_const(t) || btf_is_volatile(t) ||
			    btf_is_restrict(t) || btf_is_type_tag(t)))
			break;
		id = t->type;
	}
	if (!t || depth > 8) {
		sbuf_add(buf, len, pos, "?");
		return;
	}
	if (btf_is_int(t)) {
		__u8 enc = btf_int_encoding(t);

		if (enc & BTF_INT_BOOL)
			sbuf_add(buf, len, pos, "bool");
		else if (enc & BTF_INT_CHAR)
			sbuf_add(buf, len, pos, "char");
		else
			sbuf_add(buf, len, pos, "%c%u", enc & BTF_INT_SIGNED ? 's' : 'u',
				 btf_int_bits(t));
	} else if (btf_is_any_enum(t)) {
		sbuf_add(buf, len, pos, "%c%u", btf_kflag(t) ? 's' : 'u', t->size * 8);
	} else if (btf_is_float(t)) {
		sbuf_add(buf, len, pos, "f%u", t->size * 8);
	} else if (btf_is_ptr(t)) {
		sbuf_add(buf, len, pos, "ptr");
	} else if (btf_is_array(t)) {
		btf_layout(btf, btf_array(t)->type, depth + 1, buf, len, pos);
		sbuf_add(buf, len, pos, "[%u]", btf_array(t)->nelems);
	} else if (btf_is_composite(t)) {
		const struct btf_member *m = btf_members(t);

		sbuf_add(buf, len, pos, "%s { ", btf_is_struct(t) ? "struct" : "union");
		for (int i = 0; i < btf_vlen(t); i++, m++) {
			__u32 bits = btf_member_bitfield_size(t, i);

			btf_layout(btf, m->type, depth + 1, buf, len, pos);
			sbuf_add(buf, len, pos, " %s@%u", btf__name_by_offset(btf, m->name_off),
				 btf_member_bit_offset(t, i) / 8);
			if (bits)
				sbuf_add(buf, len, pos, ":%u", bits);
			sbuf_add(buf, len, pos, "; ");
		}
		sbuf_add(buf, len, pos, "} (%u bytes)", t->size);
	} else {
		sbuf_add(buf, len, pos, "kind %u", btf_kind(t));
	}
}

/* What a map is, from an object's definition or from the kernel. */
struct map_desc {
	__u32 type, key_size, value_size, max_entries, flags;
	__u64 extra;
	char key_btf[512], value_btf[512];   /* "" without BTF */
};

static void btf_layout_of(const struct btf *btf, __u32 id, char *buf, size_t len)
{
	size_t pos = 0;

	buf[0] = '\0';
	if (btf && id)
		btf_layout(btf, id, 0, buf, len, &pos);
}

static void desc_of_map(const struct bpf_object *bo, const struct bpf_map *map,
			struct map_desc *d)
{
	const struct btf *btf = bpf_object__btf(bo);

	memset(d, 0, sizeof(*d));
	d->type = bpf_map__type(map);
	d->key_size = bpf_map__key_size(map);
	d->value_size = bpf_map__value_size(map);
	d->max_entries = bpf_map__max_entries(map);
	d->flags = bpf_map__map_flags(map);
	d->extra = bpf_map__map_extra(map);
	btf_layout_of(btf, bpf_map__btf_key_type_id(map), d->key_btf, sizeof(d->key_btf));
	btf_layout_of(btf, bpf_map__btf_value_type_id(map), d->value_btf, sizeof(d->value_btf));
}

/* Negative errno; -ENOTTY when `fd` is no map. */
static int desc_of_fd(int fd, struct map_desc *d, __u32 *ret_id)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	struct btf *btf = NULL;

	memset(d, 0, sizeof(*d));
	if (bpf_info_get(fd, &info, &len) < 0)
		return errno == EINVAL ? -ENOTTY : -errno;
	d->type = info.type;
	d->key_size = info.key_size;
	d->value_size = info.value_size;
	d->max_entries = info.max_entries;
	d->flags = info.map_flags;
	d->extra = info.map_extra;
	if (info.btf_id && (info.btf_key_type_id || info.btf_value_type_id))
		btf = btf__load_from_kernel_by_id(info.btf_id);
	btf_layout_of(btf, info.btf_key_type_id, d->key_btf, sizeof(d->key_btf));
	btf_layout_of(btf, info.btf_value_type_id, d->value_btf, sizeof(d->value_btf));
	btf__free(btf);
	if (ret_id)
		*ret_id = info.id;
	return 0;
}

static void diff_add(struct map_diff *out, size_t *n, const char *prop, const char *old_val,
		     const char *new_val)
{
	if (*n >= MAP_DIFF_MAX)
		return;
	out[*n].property = prop;
	snprintf(out[*n].old_val, sizeof(out[*n].old_val), "%s", old_val);
	snprintf(out[*n].new_val, sizeof(out[*n].new_val), "%s", new_val);
	(*n)++;
}

static void diff_u64(struct map_diff *out, size_t *n, const char *prop, __u64 a, __u64 b,
		     bool hex)
{
	char x[32], y[32];

	if (a == b)
		return;
	snprintf(x, sizeof(x), hex ? "0x%llx" : "%llu", (unsigned long long)a);
	snprintf(y, sizeof(y), hex ? "0x%llx" : "%llu", (unsigned long long)b);
	diff_add(out, n, prop, x, y);
}

/* What differs between map `a` (the one there) and `b` (the one wanted):
 * what libbpf's own reuse check compares, and the BTF layout of key and
 * value where both sides have it. */
static size_t desc_diff(const struct map_desc *a, const struct map_desc *b, struct map_diff *out)
{
	__u32 fa = a->flags, fb = b->flags;
	size_t n = 0;

	if (a->type != b->type) {
		const char *x = libbpf_bpf_map_type_str(a->type);
		const char *y = libbpf_bpf_map_type_str(b->type);

		diff_add(out, &n, "type", x ? x : "?", y ? y : "?");
	}
	diff_u64(out, &n, "key_size", a->key_size, b->key_size, false);
	diff_u64(out, &n, "value_size", a->value_size, b->value_size, false);
	diff_u64(out, &n, "max_entries", a->max_entries, b->max_entries, false);
	/* The kernel sets BPF_F_RDONLY_PROG on device maps itself. */
	if (b->type == BPF_MAP_TYPE_DEVMAP || b->type == BPF_MAP_TYPE_DEVMAP_HASH) {
		fa |= BPF_F_RDONLY_PROG;
		fb |= BPF_F_RDONLY_PROG;
	}
	diff_u64(out, &n, "flags", fa, fb, true);
	diff_u64(out, &n, "map_extra", a->extra, b->extra, true);
	if (a->key_btf[0] && b->key_btf[0] && !streq(a->key_btf, b->key_btf))
		diff_add(out, &n, "key_btf", a->key_btf, b->key_btf);
	if (a->value_btf[0] && b->value_btf[0] && !streq(a->value_btf, b->value_btf))
		diff_add(out, &n, "value_btf", a->value_btf, b->value_btf);
	return n;
}

int objects_map_diff(const struct bpf_object *bo, const struct bpf_map *map, int fd,
		     struct map_diff out[MAP_DIFF_MAX], uint32_t *ret_id)
{
	struct map_desc want, have;
	int err;

	err = desc_of_fd(fd, &have, ret_id);
	if (err < 0)
		return err;
	desc_of_map(bo, map, &want);
	return (int)desc_diff(&have, &want, out);
}

/* "max_entries 4, the object wants 8; flags 0x0, the object wants 0x1". */
void map_diffs_text(const struct map_diff *d, size_t n, const char *want, char *buf, size_t len)
{
	size_t pos = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *what = streq(d[i].property, "key_size") ? "key size" :
				   streq(d[i].property, "value_size") ? "value size" :
				   streq(d[i].property, "key_btf") ? "key type" :
				   streq(d[i].property, "value_btf") ? "value type" : d[i].property;

		sbuf_add(buf, len, &pos, "%s%s %s, %s %s", i ? "; " : "", what, d[i].old_val, want,
			 d[i].new_val);
	}
}

static int line_of_map(const struct obj_entry *e, const struct cnf_map_opt *mo)
{
	return mo ? mo->line : manifest_object_line(e->manifest, e->idx, NULL);
}

#define USER_LOC(u) (u)->e->manifest->path, line_of_map((u)->e, (u)->mo)

static const struct cnf_map_opt *map_opt_of(const struct obj_entry *e, const char *name)
{
	for (size_t k = 0; k < e->obj->maps_count; k++)
		if (streq(e->obj->maps[k].name, name))
			return &e->obj->maps[k];
	return NULL;
}

static const struct map_init *map_init_of(const struct obj_entry *e, const char *name)
{
	for (size_t k = 0; k < e->inits_count; k++)
		if (streq(e->inits[k].map_name, name))
			return &e->inits[k];
	return NULL;
}

static bool inits_equal(const struct map_init *a, const struct map_init *b)
{
	return a->count == b->count && a->key_size == b->key_size &&
	       a->value_size == b->value_size &&
	       !memcmp(a->keys, b->keys, a->count * a->key_size) &&
	       !memcmp(a->values, b->values, a->count * a->value_size);
}

static int tmp_pin_path(char *buf, size_t len, const char *path)
{
	return snprintf(buf, len, "%s%s", path, TMP_SUFFIX) >= (int)len ? -ENAMETOOLONG : 0;
}

uint32_t map_pinned_id(const char *path)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	_cleanup_close_ int fd = bpf_obj_get(path);

	if (fd < 0 || bpf_info_get(fd, &info, &len) < 0)
		return 0;
	return info.id;
}

/* The programs loaded on the host that use map `id`. */
static size_t progs_using_map(__u32 id, __u32 **ret)
{
	__u32 pid = 0, *ids = NULL;
	size_t n = 0, cap = 0;

	while (bpf_prog_get_next_id(pid, &pid) == 0) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info), nmaps;
		_cleanup_free_ __u32 *maps = NULL;
		_cleanup_close_ int fd = bpf_prog_get_fd_by_id(pid);

		if (fd < 0 || bpf_info_get(fd, &info, &len) < 0 || !info.nr_map_ids)
			continue;
		nmaps = info.nr_map_ids;
		maps = xcalloc(nmaps, sizeof(*maps));
		memset(&info, 0, sizeof(info));
		info.nr_map_ids = nmaps;
		info.map_ids = (__u64)(unsigned long)maps;
		len = sizeof(info);
		if (bpf_info_get(fd, &info, &len) < 0)
			continue;
		for (__u32 k = 0; k < info.nr_map_ids && k < nmaps; k++) {
			if (maps[k] != id)
				continue;
			if (grow_array((void **)&ids, &cap, n + 1, sizeof(*ids)) == 0)
				ids[n++] = pid;
			break;
		}
	}
	*ret = ids;
	return n;
}

static const char *prog_name_of(__u32 id, char *buf, size_t len)
{
	struct bpf_prog_info info = {};
	__u32 ilen = sizeof(info);
	_cleanup_close_ int fd = bpf_prog_get_fd_by_id(id);

	snprintf(buf, len, "?");
	if (fd >= 0 && bpf_info_get(fd, &info, &ilen) == 0)
		snprintf(buf, len, "%s", info.name);
	return buf;
}

/* A problem that makes plan and apply fail on the map of group `g`: an
 * error there, returned as `err`; status keeps the first one with the
 * map and goes on (returns 0). */
static int map_problem(struct map_plan *g, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int map_problem(struct map_plan *g, int err, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	if (!g->report) {
		log_error("%s", msg);
		free(msg);
		return err;
	}
	if (!g->problem)
		g->problem = msg;
	else
		free(msg);
	return 0;
}

/* What the plan does with program `id`: the noop action that keeps it,
 * or NULL, with *ret_goes when an action replaces or removes it (neither:
 * a program of a manifest not given, or one cnf-apply does not own). */
static const struct cnf_action *prog_fate(__u32 id, const struct cnf_plan *plan, bool *ret_goes)
{
	const struct cnf_action *kept = NULL;

	*ret_goes = false;
	for (size_t k = 0; k < plan->count; k++) {
		const struct cnf_action *a = &plan->actions[k];

		if (!a->have || (a->have->prog_id != id &&
				 !(a->have->has_record && a->have->rec.prog_id == id)))
			continue;
		if (a->kind == ACT_NOOP)
			kept = a;
		else
			*ret_goes = true;
	}
	return kept;
}

/* A recreated map must leave no program on the old one: every program
 * that uses it must be one this run replaces or removes. */
static int check_old_map_users(struct map_plan *g, const struct map_user *u,
			       const struct cnf_plan *plan)
{
	_cleanup_free_ __u32 *ids = NULL;
	size_t n = progs_using_map(g->old_id, &ids);
	int ret = 0;

	for (size_t i = 0; i < n; i++) {
		const struct cnf_action *kept;
		bool goes;
		char name[BPF_OBJ_NAME_LEN + 1], why[256];

		kept = prog_fate(ids[i], plan, &goes);
		if (!kept && goes)
			continue;
		if (kept)
			snprintf(why, sizeof(why), "of attachment '%s' of manifest '%s' uses the old "
				 "map and is not reloaded by this run", kept->have->has_record ?
				 kept->have->rec.attachment : kept->have->key, kept->have->manifest);
		else
			snprintf(why, sizeof(why), "uses the old map and this run does not reload it "
				 "(a manifest not given here, or a program cnf-apply does not own)");
		if (map_problem(g, -EBUSY, "object '%s' (%s:%d): map '%s' %s%s cannot be "
				"%s: program %u ('%s') %s, so it would silently keep the old "
				"map; change and apply every manifest that uses the map together",
				u->e->obj->name, USER_LOC(u), g->name, g->path ? "pinned at " :
				"(not pinned)", g->path ? g->path : "", g->path ? "recreated" : "reset",
				ids[i], prog_name_of(ids[i], name, sizeof(name)), why) < 0)
			ret = -EBUSY;
	}
	return ret;
}

/* Is <pin>%new next to pin `path` a leftover of a killed run that goes?
 * It is when the run neither makes it (`replaced`: the run pins its own
 * new map there) nor takes it over, unless a program the run does not
 * replace or remove still uses it. *ret_id: the map there (0: none). */
static bool tmp_pin_stale(const char *path, const char *name, bool replaced,
			  const struct cnf_plan *plan, __u32 *ret_id)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	_cleanup_free_ __u32 *ids = NULL;
	_cleanup_close_ int fd = -1;
	char tmp[PATH_MAX];
	size_t n;

	*ret_id = 0;
	if (tmp_pin_path(tmp, sizeof(tmp), path) < 0)
		return false;
	fd = bpf_obj_get(tmp);
	if (fd < 0)
		return false;
	if (bpf_info_get(fd, &info, &len) == 0)
		*ret_id = info.id;
	if (replaced || !*ret_id)
		return true;
	n = progs_using_map(*ret_id, &ids);
	for (size_t i = 0; i < n; i++) {
		char pname[BPF_OBJ_NAME_LEN + 1];
		bool goes;

		if (!prog_fate(ids[i], plan, &goes) && goes)
			continue;
		log_warn("map '%s': %s, left by an interrupted run, stays pinned: program %u "
			 "('%s') uses its map %u, and this run does not reload it", name, tmp,
			 ids[i], prog_name_of(ids[i], pname, sizeof(pname)), *ret_id);
		return false;
	}
	return true;
}

static int hint_fd(const struct map_pin_hint *hints, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (streq(hints[i].path, path) && hints[i].map_id)
			return bpf_map_get_fd_by_id(hints[i].map_id);
	errno = ENOENT;
	return -1;
}

static struct map_plan *plan_add(struct obj_cache *c, size_t *cap, const char *path,
				 const char *name)
{
	struct map_plan *g;

	if (grow_array((void **)&c->maps, cap, c->maps_count + 1, sizeof(*c->maps)) < 0)
		return NULL;
	g = &c->maps[c->maps_count++];
	memset(g, 0, sizeof(*g));
	g->path = path ? xstrdup(path) : NULL;
	/* A copy: bpf_map__reuse_fd() replaces the map's own. */
	g->name = xstrdup(name);
	g->old_fd = g->new_fd = -1;
	g->report = c->maps_report;
	return g;
}

static void plan_add_user(struct map_plan *g, struct obj_entry *e, struct bpf_map *map)
{
	struct map_user *u;

	g->users = realloc(g->users, (g->users_count + 1) * sizeof(*g->users));
	if (!g->users)
		abort();
	u = &g->users[g->users_count++];
	u->e = e;
	u->map = map;
	u->mo = map_opt_of(e, bpf_map__name(map));
	u->init = map_init_of(e, bpf_map__name(map));
}

/* Decides what happens to the pinned map of group `g`, whose users are
 * the objects the plan loads. */
static int decide_pinned(struct map_plan *g, const struct cnf_plan *plan,
			 const struct map_pin_hint *hints, size_t nhints)
{
	const struct map_user *first = &g->users[0];
	struct map_diff scratch[MAP_DIFF_MAX];
	struct map_desc want, next;
	char tmp[PATH_MAX], what[512];
	_cleanup_close_ int fd = -1, tfd = -1;
	int err;

	g->init = first->init;
	if (g->users_count > 1)
		desc_of_map(first->e->bo, first->map, &want);
	/* Objects loaded together share the map: they must agree on it. */
	for (size_t i = 1; i < g->users_count; i++) {
		const struct map_user *u = &g->users[i];
		struct map_diff d[MAP_DIFF_MAX];
		size_t n;

		desc_of_map(u->e->bo, u->map, &next);
		n = desc_diff(&want, &next, d);
		if (n) {
			map_diffs_text(d, n, "this object has", what, sizeof(what));
			return map_problem(g, -EINVAL, "object '%s' (%s:%d): map '%s' is pinned at %s "
					   "like map '%s' of object '%s' (%s:%d), but they define it "
					   "differently: that one has %s", u->e->obj->name, USER_LOC(u),
					   bpf_map__name(u->map), g->path, bpf_map__name(first->map),
					   first->e->obj->name, USER_LOC(first), what);
		}
		if (u->init && g->init && !inits_equal(u->init, g->init))
			return map_problem(g, -EINVAL, "object '%s' (%s:%d): map '%s' is pinned at %s "
					   "like map '%s' of object '%s' (%s:%d), with other initial "
					   "entries: one map has one set of initial entries",
					   u->e->obj->name, USER_LOC(u), bpf_map__name(u->map), g->path,
					   bpf_map__name(first->map), first->e->obj->name,
					   USER_LOC(first));
		if (u->init && !g->init)
			g->init = u->init;
	}

	/* A pin apply puts back first (missing, or holding an impostor):
	 * the live map it names. */
	fd = hint_fd(hints, nhints, g->path);
	if (fd < 0)
		fd = bpf_obj_get(g->path);
	if (fd < 0) {
		if (errno != ENOENT)
			return map_problem(g, -errno, "object '%s' (%s:%d): map '%s': cannot open "
					   "its pin %s: %s", first->e->obj->name, USER_LOC(first),
					   bpf_map__name(first->map), g->path, strerror(errno));
		g->action = MAP_CREATE;
		return 0;
	}
	err = objects_map_diff(first->e->bo, first->map, fd, g->diffs, &g->old_id);
	if (err < 0)
		return map_problem(g, err, "object '%s' (%s:%d): map '%s': %s %s",
				   first->e->obj->name, USER_LOC(first), bpf_map__name(first->map),
				   g->path, err == -ENOTTY ? "is pinned there, but it is not a map" :
				   strerror(-err));
	g->diffs_count = (size_t)err;
	if (!g->diffs_count) {
		g->action = MAP_REUSE;
		g->old_fd = TAKE_FD(fd);
		return 0;
	}
	map_diffs_text(g->diffs, g->diffs_count, "the object wants", what, sizeof(what));
	g->action = MAP_RECREATE;

	/* A run killed between making the new map and moving the pin left
	 * it next to the old one: take it over, contents and all. */
	if (tmp_pin_path(tmp, sizeof(tmp), g->path) == 0 && (tfd = bpf_obj_get(tmp)) >= 0 &&
	    objects_map_diff(first->e->bo, first->map, tfd, scratch, NULL) == 0)
		g->resume = true;

	for (size_t i = 0; i < g->users_count; i++) {
		const struct map_user *u = &g->users[i];

		if (u->mo && u->mo->on_incompatible && streq(u->mo->on_incompatible, "recreate"))
			continue;
		g->resume = false;
		return map_problem(g, -EINVAL, "object '%s' (%s:%d): map '%s' is pinned at %s with "
				   "%s; its contents cannot carry over to this version, and "
				   "cnf-apply does not drop them on its own: set 'on_incompatible: "
				   "recreate' on the map to replace it with a new, empty one (its "
				   "contents are lost), or remove the pin", u->e->obj->name,
				   USER_LOC(u), bpf_map__name(u->map), g->path, what);
	}
	g->old_fd = TAKE_FD(fd);
	if (g->resume)
		g->new_fd = TAKE_FD(tfd);
	return check_old_map_users(g, first, plan);
}

static int plan_pinned(struct map_plan *g, const struct cnf_plan *plan,
		       const struct map_pin_hint *hints, size_t nhints)
{
	int err = decide_pinned(g, plan, hints, nhints);

	/* A <pin>%new the run does not take over is a killed run's
	 * leftover: apply unpins it (a recreate pins its own there). */
	if (err >= 0 && !g->resume)
		g->stale = tmp_pin_stale(g->path, g->name, g->action == MAP_RECREATE && !g->problem,
					 plan, &g->stale_id);
	return err;
}

/* A pinned map of an object this run does not load: a recreate that a
 * killed run left half-done (the new map at <pin>%new, the programs
 * already on it) is finished; any other <pin>%new is a leftover that
 * goes. A stat per pin: a run that changes nothing opens nothing. */
static int plan_idle(struct obj_cache *c, size_t *cap, struct obj_entry *e, struct bpf_map *map,
		     const struct cnf_plan *plan)
{
	const char *pin = bpf_map__pin_path(map);
	const struct cnf_map_opt *mo = map_opt_of(e, bpf_map__name(map));
	struct map_diff scratch[MAP_DIFF_MAX];
	struct bpf_map_info info = {};
	__u32 ilen = sizeof(info), stale_id;
	char tmp[PATH_MAX];
	struct stat st;
	_cleanup_close_ int fd = -1, tfd = -1;
	struct map_plan *g;

	if (tmp_pin_path(tmp, sizeof(tmp), pin) < 0 || stat(tmp, &st) < 0)
		return 0;
	for (size_t i = 0; i < c->maps_count; i++)
		if (c->maps[i].path && streq(c->maps[i].path, pin))
			return 0;
	fd = bpf_obj_get(pin);
	tfd = bpf_obj_get(tmp);
	if (mo && mo->on_incompatible && streq(mo->on_incompatible, "recreate") && fd >= 0 &&
	    tfd >= 0 && objects_map_diff(e->bo, map, tfd, scratch, NULL) == 0 &&
	    objects_map_diff(e->bo, map, fd, scratch, NULL) > 0) {
		g = plan_add(c, cap, pin, bpf_map__name(map));
		if (!g)
			return -ENOMEM;
		plan_add_user(g, e, map);
		g->diffs_count = (size_t)objects_map_diff(e->bo, map, fd, g->diffs, &g->old_id);
		g->action = MAP_RECREATE;
		g->resume = g->finish_only = true;
		g->old_fd = TAKE_FD(fd);
		g->new_fd = TAKE_FD(tfd);
		return check_old_map_users(g, &g->users[0], plan);
	}
	if (!tmp_pin_stale(pin, bpf_map__name(map), false, plan, &stale_id))
		return 0;
	g = plan_add(c, cap, pin, bpf_map__name(map));
	if (!g)
		return -ENOMEM;
	plan_add_user(g, e, map);
	g->action = MAP_KEEP;
	g->stale = true;
	g->stale_id = stale_id;
	if (fd >= 0 && bpf_info_get(fd, &info, &ilen) == 0)
		g->old_id = info.id;
	return 0;
}

/* ---- unpinned maps: from the running program to the new version ---- */

bool map_record_of_object(const struct cnf_record *rec, const char *obj)
{
	size_t n = strlen(obj);

	return strncmp(rec->program, obj, n) == 0 && rec->program[n] == '/';
}

bool map_name_is(const char *kname, const char *name)
{
	size_t n = strnlen(name, BPF_OBJ_NAME_LEN - 1);

	return strnlen(kname, BPF_OBJ_NAME_LEN) == n && strncmp(kname, name, n) == 0;
}

/* The running program of an action's instance, when it is the tool's
 * own (not a program someone swapped onto its link). */
static uint32_t running_prog(const struct cnf_action *a, const struct obj_entry *e)
{
	const struct cnf_observed *h = a->have;

	if (!h || !h->has_record || !h->alive || !h->prog_id || h->prog_replaced ||
	    !streq(h->manifest, e->manifest->name) || !map_record_of_object(&h->rec, e->obj->name))
		return 0;
	return h->prog_id;
}

/* Does the plan keep an instance of object `e` as it runs? */
static bool keeps_object(const struct obj_entry *e, const struct cnf_plan *plan)
{
	for (size_t i = 0; i < plan->count; i++)
		if (plan->actions[i].kind == ACT_NOOP && running_prog(&plan->actions[i], e))
			return true;
	return false;
}

static int live_maps_add(struct live_maps *l, uint32_t id, const char *name, uint32_t prog)
{
	for (size_t i = 0; i < l->count; i++)
		if (l->v[i].id == id)
			return 0;
	if (grow_array((void **)&l->v, &l->cap, l->count + 1, sizeof(*l->v)) < 0)
		return -ENOMEM;
	l->v[l->count].id = id;
	l->v[l->count].prog_id = prog;
	snprintf(l->v[l->count].name, sizeof(l->v[l->count].name), "%s", name);
	l->count++;
	return 0;
}

int map_ids_of_prog(uint32_t prog_id, struct live_maps *out)
{
	struct bpf_prog_info pi = {};
	__u32 len = sizeof(pi), n;
	_cleanup_free_ __u32 *ids = NULL;
	_cleanup_close_ int pfd = bpf_prog_get_fd_by_id(prog_id);

	if (pfd < 0 || bpf_info_get(pfd, &pi, &len) < 0)
		return -errno;
	n = pi.nr_map_ids;
	if (!n)
		return 0;
	ids = xcalloc(n, sizeof(*ids));
	memset(&pi, 0, sizeof(pi));
	pi.nr_map_ids = n;
	pi.map_ids = (__u64)(unsigned long)ids;
	len = sizeof(pi);
	if (bpf_info_get(pfd, &pi, &len) < 0)
		return -errno;
	for (__u32 i = 0; i < pi.nr_map_ids && i < n; i++) {
		struct bpf_map_info mi = {};
		__u32 mlen = sizeof(mi);
		_cleanup_close_ int mfd = bpf_map_get_fd_by_id(ids[i]);

		if (mfd >= 0 && bpf_info_get(mfd, &mi, &mlen) == 0 &&
		    live_maps_add(out, mi.id, mi.name, prog_id) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* The maps the running programs of object `e` use, as the plan found
 * them: one lookup per program, for all the object's maps. */
static void running_maps(const struct obj_entry *e, const struct cnf_plan *plan,
			 struct live_maps *out)
{
	_cleanup_free_ uint32_t *seen = xcalloc(plan->count + 1, sizeof(*seen));
	size_t nseen = 0;

	for (size_t i = 0; i < plan->count; i++) {
		uint32_t id = running_prog(&plan->actions[i], e);
		bool dup = false;

		for (size_t k = 0; k < nseen && !dup; k++)
			dup = seen[k] == id;
		if (!id || dup)
			continue;
		seen[nseen++] = id;
		if (map_ids_of_prog(id, out) < 0)
			log_debug("object '%s': the maps of program %u: %s", e->obj->name, id,
				  strerror(errno));
	}
}

/* Why a map is the new version's own, never carried over; NULL when
 * it holds state that may carry over. */
const char *map_own_reason(const struct bpf_map *map)
{
	if (bpf_map__is_internal(map))
		return "the object's global variables (its data sections)";
	switch (bpf_map__type(map)) {
	case BPF_MAP_TYPE_PROG_ARRAY:
		return "a program array, filled by each version with its own programs";
	case BPF_MAP_TYPE_STRUCT_OPS:
		return "a struct_ops map, registered by each version";
	case BPF_MAP_TYPE_CGROUP_STORAGE:
	case BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE:
		return "cgroup storage, bound to the programs that create it";
	default:
		return NULL;
	}
}

/* Decides what happens to unpinned map `g` of an object this run loads:
 * it keeps the map its running program uses when the new version fits
 * it; one that does not fit is a loss, refused unless the map says
 * `on_incompatible: recreate` (then reset: a new, empty map). */
static int plan_unpinned(struct map_plan *g, const struct live_maps *running,
			 const struct cnf_plan *plan)
{
	const struct map_user *u = &g->users[0];
	_cleanup_close_ int fd = -1;
	uint32_t id = 0, prog = 0;
	char what[512];
	int n;

	g->init = u->init;
	g->action = MAP_CREATE;
	g->own = map_own_reason(u->map);
	if (!g->own && u->init)
		g->own = "not pinned, with entries: in the manifest, which each version starts with";
	if (g->own)
		return 0;
	for (size_t i = 0; i < running->count && !id; i++)
		if (map_name_is(running->v[i].name, bpf_map__name(u->map))) {
			id = running->v[i].id;
			prog = running->v[i].prog_id;
		}
	if (!id)
		return 0; /* nothing runs with it: a new map */
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0) {
		log_debug("map '%s': map %u of program %u is gone: %s", g->name, id, prog,
			  strerror(errno));
		return 0;
	}
	n = objects_map_diff(u->e->bo, u->map, fd, g->diffs, &g->old_id);
	if (n < 0)
		return map_problem(g, n, "object '%s' (%s:%d): map '%s': map %u of the running "
				   "program %u: %s", u->e->obj->name, USER_LOC(u), g->name, id, prog,
				   strerror(-n));
	g->diffs_count = (size_t)n;
	if (!n) {
		g->action = MAP_REUSE;
		g->old_fd = TAKE_FD(fd);
		return 0;
	}
	g->action = MAP_RESET;
	if (u->mo && u->mo->on_incompatible && streq(u->mo->on_incompatible, "recreate")) {
		g->old_fd = TAKE_FD(fd);
		return check_old_map_users(g, u, plan);
	}
	map_diffs_text(g->diffs, g->diffs_count, "the new version wants", what, sizeof(what));
	return map_problem(g, -EINVAL, "object '%s' (%s:%d): map '%s' (not pinned) of the running "
			   "program %u (map %u) has %s; its contents cannot carry over to this "
			   "version, and cnf-apply does not drop them on its own: set "
			   "'on_incompatible: recreate' on the map (under the object's maps:) to "
			   "start the new version with a new, empty map (its contents are lost)",
			   u->e->obj->name, USER_LOC(u), g->name, prog, id, what);
}

/* Does the plan touch a running instance of object `e`? */
static bool keeps_or_replaces(const struct obj_entry *e, const struct cnf_plan *plan)
{
	for (size_t i = 0; i < plan->count; i++)
		if (running_prog(&plan->actions[i], e))
			return true;
	return false;
}

/* A map of the running version pinned by name (<bpffs>/_maps/<name>)
 * that the new version no longer pins there: once the run has replaced
 * every program that uses it, nothing does, and its pin goes (listed as
 * "unpin"). One still used by a program the run keeps stays. */
static int plan_stale_by_name(struct obj_cache *c, size_t *cap, struct obj_entry *e,
			      const struct live_map *lm, const struct cnf_plan *plan)
{
	_cleanup_free_ __u32 *ids = NULL;
	struct map_plan *g;
	struct map_user *u;
	char path[PATH_MAX];
	size_t n;

	if (state_map_path(path, sizeof(path), c->bpffs, lm->name) < 0)
		return 0;
	for (size_t k = 0; k < c->maps_count; k++)
		if (c->maps[k].path && streq(c->maps[k].path, path))
			return 0; /* the new version pins a map there */
	if (access(path, F_OK) < 0 || map_pinned_id(path) != lm->id)
		return 0;
	n = progs_using_map(lm->id, &ids);
	for (size_t i = 0; i < n; i++) {
		bool goes;

		if (prog_fate(ids[i], plan, &goes) || !goes)
			return 0;
	}
	g = plan_add(c, cap, path, lm->name);
	if (!g)
		return -ENOMEM;
	g->users = xcalloc(1, sizeof(*g->users));
	u = &g->users[g->users_count++];
	u->e = e;
	g->action = MAP_UNPIN;
	g->old_id = lm->id;
	g->old_fd = bpf_map_get_fd_by_id(lm->id);
	g->loaded = true;
	return 0;
}

static int plan_maps(struct obj_cache *c, const struct cnf_plan *plan,
		     const struct map_pin_hint *hints, size_t nhints)
{
	_cleanup_free_ bool *loads = xcalloc(c->count + 1, sizeof(*loads));
	size_t cap = 0;
	int ret = 0;

	map_plans_free(c);
	/* What the plan loads: the objects of what it creates or updates
	 * (a create that attaches a running program loads nothing). */
	for (size_t i = 0; i < plan->count; i++) {
		const struct cnf_action *a = &plan->actions[i];
		struct obj_entry *e;

		if (!a->want || a->kind == ACT_NOOP || a->kind == ACT_DELETE || a->reuse_prog_id)
			continue;
		e = objects_for(c, a->want->att);
		if (e && e->bo)
			loads[e - c->entries] = true;
	}
	for (size_t i = 0; i < c->count; i++) {
		struct obj_entry *e = &c->entries[i];
		struct bpf_map *map;

		struct live_maps running = {};
		bool have_running = false;

		if (!loads[i])
			continue;
		bpf_object__for_each_map(map, e->bo) {
			const char *pin = bpf_map__pin_path(map);
			struct map_plan *g = NULL;

			if (!pin) {
				/* Not pinned: from the running program, if it fits. */
				g = plan_add(c, &cap, NULL, bpf_map__name(map));
				if (!g)
					return -ENOMEM;
				plan_add_user(g, e, map);
				g->loaded = true;
				if (!have_running) {
					running_maps(e, plan, &running);
					have_running = true;
				}
				if (plan_unpinned(g, &running, plan) < 0)
					ret = -EINVAL;
				continue;
			}
			for (size_t k = 0; k < c->maps_count && !g; k++)
				if (c->maps[k].path && streq(c->maps[k].path, pin))
					g = &c->maps[k];
			if (!g)
				g = plan_add(c, &cap, pin, bpf_map__name(map));
			if (!g)
				return -ENOMEM;
			plan_add_user(g, e, map);
			g->loaded = true;
		}
		if (!have_running && keeps_or_replaces(e, plan)) {
			running_maps(e, plan, &running);
			have_running = true;
		}
		for (size_t k = 0; k < running.count; k++) {
			int err = plan_stale_by_name(c, &cap, e, &running.v[k], plan);

			if (err < 0) {
				free(running.v);
				return err;
			}
		}
		free(running.v);
	}
	for (size_t i = 0; i < c->maps_count; i++)
		if (c->maps[i].path && c->maps[i].action != MAP_UNPIN &&
		    plan_pinned(&c->maps[i], plan, hints, nhints) < 0)
			ret = -EINVAL;
	for (size_t i = 0; i < c->count; i++) {
		struct obj_entry *e = &c->entries[i];
		struct bpf_map *map;
		int err;

		if (loads[i] || !e->bo)
			continue;
		bpf_object__for_each_map(map, e->bo) {
			if (!bpf_map__pin_path(map))
				continue;
			err = plan_idle(c, &cap, e, map, plan);
			if (err == -ENOMEM)
				return err;
			if (err < 0)
				ret = -EINVAL;
		}
		/* The rest of what the run keeps, as it is: listed from the
		 * ELF, without asking the kernel. */
		if (!keeps_object(e, plan))
			continue;
		bpf_object__for_each_map(map, e->bo) {
			const char *pin = bpf_map__pin_path(map);
			struct map_plan *g;
			bool listed = false;

			for (size_t k = 0; k < c->maps_count && !listed; k++)
				listed = pin ? c->maps[k].path && streq(c->maps[k].path, pin)
					     : map_plan_of(e, map) != NULL;
			/* A pin put back first is listed as such (map_pins.h). */
			for (size_t k = 0; pin && k < nhints && !listed; k++)
				listed = streq(hints[k].path, pin);
			if (listed)
				continue;
			g = plan_add(c, &cap, pin, bpf_map__name(map));
			if (!g)
				return -ENOMEM;
			plan_add_user(g, e, map);
			g->action = MAP_KEEP;
		}
	}
	return ret;
}

int objects_plan_maps(struct obj_cache *c, const struct cnf_plan *plan,
		      const struct map_pin_hint *hints, size_t nhints)
{
	c->maps_report = false;
	return plan_maps(c, plan, hints, nhints);
}

int objects_check_maps(struct obj_cache *c, const struct cnf_plan *plan,
		       const struct map_pin_hint *hints, size_t nhints)
{
	int err;

	c->maps_report = true;
	err = plan_maps(c, plan, hints, nhints);
	c->maps_report = false;
	return err;
}

bool objects_map_differs(const struct map_plan *g)
{
	return g->diffs_count || g->problem || g->stale || g->action == MAP_UNPIN;
}

size_t objects_maps_changes(const struct obj_cache *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->maps_count; i++)
		n += c->maps[i].finish_only ||
		     (c->maps[i].stale && c->maps[i].action != MAP_RECREATE);
	return n;
}

/* The plan of map `map` of `e`, NULL when none. */
struct map_plan *map_plan_of(struct obj_entry *e, const struct bpf_map *map)
{
	struct obj_cache *c = e->cache;

	for (size_t i = 0; c && i < c->maps_count; i++)
		for (size_t k = 0; k < c->maps[i].users_count; k++)
			if (c->maps[i].users[k].e == e && c->maps[i].users[k].map == map)
				return &c->maps[i];
	return NULL;
}

int objects_maps_pin(struct obj_cache *c)
{
	for (size_t i = 0; i < c->maps_count; i++) {
		struct map_plan *g = &c->maps[i];
		char path[PATH_MAX], *slash;
		int err = 0;

		if (!g->path || g->new_fd < 0 || g->resume ||
		    (g->action != MAP_CREATE && g->action != MAP_RECREATE))
			continue;
		if (g->action == MAP_RECREATE)
			err = tmp_pin_path(path, sizeof(path), g->path);
		else if (snprintf(path, sizeof(path), "%s", g->path) >= (int)sizeof(path))
			err = -ENAMETOOLONG;
		if (err >= 0 && (slash = strrchr(path, '/'))) {
			*slash = '\0';
			err = mkdir_p(path, 0700) < 0 ? -errno : 0;
			*slash = '/';
		}
		/* A stale new map of a refused or failed run goes. */
		if (err >= 0 && g->action == MAP_RECREATE)
			unlink(path);
		if (err >= 0 && bpf_obj_pin(g->new_fd, path) < 0)
			err = -errno;
		if (err < 0) {
			log_error("map '%s': pinning it at %s failed: %s", g->name, path,
				  err == -EEXIST ? "something else was pinned there meanwhile"
						 : strerror(-err));
			objects_maps_rollback(c);
			return err;
		}
		if (g->action == MAP_RECREATE)
			g->tmp_pinned = true;
		else
			g->pinned = true;
	}
	return 0;
}

int objects_maps_swap(struct obj_cache *c)
{
	int n = 0;

	for (size_t i = 0; i < c->maps_count; i++) {
		struct map_plan *g = &c->maps[i];
		char tmp[PATH_MAX];

		if (g->action != MAP_RECREATE || !(g->tmp_pinned || g->resume))
			continue;
		/* One rename: the pin names the old map or the new one,
		 * never nothing. */
		if (tmp_pin_path(tmp, sizeof(tmp), g->path) < 0 || rename(tmp, g->path) < 0) {
			int err = -errno;

			log_error("map '%s': moving the new map's pin %s to %s failed: %s", g->name,
				  tmp, g->path, strerror(-err));
			return err;
		}
		g->swapped = true;
		n += g->finish_only;
	}
	/* The running version's pins by name that the new one dropped. */
	for (size_t i = 0; i < c->maps_count; i++) {
		struct map_plan *g = &c->maps[i];

		if (g->action != MAP_UNPIN)
			continue;
		if (map_pinned_id(g->path) != g->old_id) {
			log_warn("map '%s': %s holds another map than planned; left as it is", g->name,
				 g->path);
			continue;
		}
		if (unlink(g->path) < 0) {
			log_warn("map '%s': cannot unpin %s: %s", g->name, g->path, strerror(errno));
			continue;
		}
		map_ids_forget(c->bpffs, g->path);
		map_ids_disown(c->bpffs, g->users[0].e->manifest->name, g->path);
		g->swapped = true;
		n++;
	}
	/* The leftovers of killed runs go (a recreate pinned its own new
	 * map over one already). */
	for (size_t i = 0; i < c->maps_count; i++) {
		struct map_plan *g = &c->maps[i];
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		_cleanup_close_ int fd = -1;
		char tmp[PATH_MAX];

		if (!g->stale || g->action == MAP_RECREATE ||
		    tmp_pin_path(tmp, sizeof(tmp), g->path) < 0)
			continue;
		fd = bpf_obj_get(tmp);
		if (fd < 0)
			continue; /* gone meanwhile */
		if (g->stale_id && (bpf_info_get(fd, &info, &len) < 0 ||
				    info.id != g->stale_id)) {
			log_warn("map '%s': %s holds another map than planned; left as it is",
				 g->name, tmp);
			continue;
		}
		if (unlink(tmp) < 0) {
			log_warn("map '%s': cannot unpin %s, left by an interrupted run: %s", g->name,
				 tmp, strerror(errno));
			continue;
		}
		g->stale_removed = true;
		n++;
	}
	for (size_t i = 0; i < c->maps_count; i++) {
		struct map_plan *g = &c->maps[i];
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		int fd = g->new_fd >= 0 ? g->new_fd : g->old_fd;

		g->done = g->action == MAP_KEEP ? g->stale_removed :
			  (g->action != MAP_RECREATE && g->action != MAP_UNPIN) || g->swapped;
		if (fd >= 0 && bpf_info_get(fd, &info, &len) == 0)
			g->new_id = info.id;
	}
	return n;
}

void objects_maps_rollback(struct obj_cache *c)
{
	for (size_t i = 0; i < c->maps_count; i++) {
		struct map_plan *g = &c->maps[i];
		char tmp[PATH_MAX];

		g->done = false;
		if (g->action == MAP_UNPIN) {
			if (g->swapped && g->old_fd >= 0 && bpf_obj_pin(g->old_fd, g->path) < 0)
				log_error("rollback: map '%s': could not pin it at %s again: %s",
					  g->name, g->path, strerror(errno));
			g->swapped = false;
			continue;
		}
		if (!g->path || tmp_pin_path(tmp, sizeof(tmp), g->path) < 0)
			continue;
		if (g->swapped) {
			/* The old map takes its pin back, in one rename. */
			unlink(tmp);
			if (bpf_obj_pin(g->old_fd, tmp) < 0 || rename(tmp, g->path) < 0)
				log_error("rollback: map '%s': could not pin the old map at %s "
					  "again: %s", g->name, g->path, strerror(errno));
			else
				g->swapped = false;
			/* A map taken over from a killed run goes back where it was. */
			if (g->resume && bpf_obj_pin(g->new_fd, tmp) < 0)
				log_debug("map '%s': %s: %s", g->name, tmp, strerror(errno));
		} else if (g->tmp_pinned) {
			unlink(tmp);
		}
		g->tmp_pinned = false;
		if (g->pinned) {
			struct bpf_map_info a = {}, b = {};
			__u32 la = sizeof(a), lb = sizeof(b);
			_cleanup_close_ int fd = bpf_obj_get(g->path);

			/* Only the map this run made. */
			if (fd >= 0 && bpf_info_get(fd, &a, &la) == 0 &&
			    bpf_info_get(g->new_fd, &b, &lb) == 0 && a.id == b.id)
				unlink(g->path);
			g->pinned = false;
		}
	}
}

/* Is a map pinned at `path` used by no loaded program? Then unpin it. */
static int unpin_if_unused(const char *path, const uint32_t *gone, size_t n_gone)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	_cleanup_free_ __u32 *ids = NULL;
	_cleanup_close_ int fd = bpf_obj_get(path);
	size_t n;

	if (fd < 0 || bpf_info_get(fd, &info, &len) < 0)
		return 0;
	/* The programs the run detached may linger an RCU grace period
	 * (bpffs frees a pin's object then): they do not count. */
	n = progs_using_map(info.id, &ids);
	for (size_t i = 0; i < n; i++)
		if (!n_gone || !own_has(gone, n_gone, ids[i]))
			return 0; /* another manifest's programs still use it */
	return unlink(path) == 0;
}

/* Unpins `path` (and a new map a killed recreate left next to it) when
 * no program uses it, and the directories that leaves empty. */
static int unpin_map_path(const char *path, const char *maps_root, const char *bpffs,
			  const uint32_t *gone, size_t n_gone)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	int n = unpin_if_unused(path, gone, n_gone);

	if (access(path, F_OK) < 0 && errno == ENOENT)
		map_ids_forget(bpffs, path);

	if (tmp_pin_path(tmp, sizeof(tmp), path) == 0)
		unpin_if_unused(tmp, gone, n_gone);
	snprintf(dir, sizeof(dir), "%s", path);
	for (char *slash = strrchr(dir, '/'); slash && strlen(dir) > strlen(maps_root);
	     slash = strrchr(dir, '/')) {
		*slash = '\0';
		if (strlen(dir) < strlen(maps_root) || rmdir(dir) < 0)
			break;
	}
	return n;
}

int objects_unpin_unused_maps(const struct cnf_manifest *m, const char *bpffs,
			      const uint32_t *gone, size_t n_gone)
{
	char root[PATH_MAX];
	int n = 0;

	state_map_path(root, sizeof(root), bpffs, NULL);
	for (size_t i = 0; i < m->objects_count; i++) {
		const struct cnf_object *o = &m->objects[i];
		LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = o->name,
			    .pin_root_path = root);
		struct bpf_object *bo = NULL;
		struct bpf_map *map;
		_cleanup_close_ int fd = -1;
		char fd_path[32];
		struct stat st;

		for (size_t k = 0; k < o->maps_count; k++) {
			char path[PATH_MAX];

			if (!o->maps[k].pin)
				continue;
			snprintf(path, sizeof(path), "%s/%s", root, o->maps[k].pin);
			n += unpin_map_path(path, root, bpffs, gone, n_gone);
		}
		/* Maps the object pins by name (LIBBPF_PIN_BY_NAME): its ELF
		 * says which; nothing is loaded. */
		if (!o->path)
			continue;
		/* Never a FIFO's open(), which would wait for a writer. */
		fd = objects_file_open(o->path, &st);
		if (fd < 0) {
			log_debug("object '%s': cannot open %s to find its maps pinned by name: %s",
				  o->name, o->path, strerror(-fd));
			continue;
		}
		objects_file_path(fd_path, sizeof(fd_path), fd);
		log_libbpf_capture(true);
		bo = bpf_object__open_file(fd_path, &oo);
		log_libbpf_capture(false);
		if (!bo) {
			log_debug("object '%s': cannot open %s to find its maps pinned by name: %s",
				  o->name, o->path, strerror(errno));
			continue;
		}
		bpf_object__for_each_map(map, bo) {
			const char *pin = bpf_map__pin_path(map);
			bool declared = false;

			for (size_t k = 0; k < o->maps_count; k++)
				declared |= o->maps[k].pin &&
					    streq(o->maps[k].name, bpf_map__name(map));
			if (pin && !declared)
				n += unpin_map_path(pin, root, bpffs, gone, n_gone);
		}
		bpf_object__close(bo);
	}
	return n;
}
