// SPDX-License-Identifier: GPL-2.0-only
/* Config differences between the running program and its new version. */
#include <ctype.h>
#include <stdarg.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <json-c/json.h>

#include "cnf/config_diff.h"
#include "cnf/log.h"
#include "cnf/reconcile.h"
#include "cnf/util.h"

#define TEXT_MAX 200                  /* one value, for people; JSON has it whole */
#define MAX_DEPTH 4                   /* nested arrays */
#define MAX_PROG_MAPS 64

/* ---- values, formatted by BTF type ---- */

struct tbuf {
	char s[TEXT_MAX + 4];
	size_t n;
	bool cut;
};

static void tput(struct tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tput(struct tbuf *b, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (b->cut)
		return;
	va_start(ap, fmt);
	k = vsnprintf(b->s + b->n, TEXT_MAX + 1 - b->n, fmt, ap);
	va_end(ap);
	if (k < 0 || b->n + (size_t)k > TEXT_MAX) {
		b->n = TEXT_MAX;
		b->cut = true;
		memcpy(b->s + TEXT_MAX, "...", 4);
		return;
	}
	b->n += (size_t)k;
}

static bool int_signed(const struct btf_type *t)
{
	return btf_int_encoding(t) & BTF_INT_SIGNED;
}

static uint64_t read_uint(const void *p, size_t size)
{
	uint64_t v = 0;

	memcpy(&v, p, size > 8 ? 8 : size); /* little-endian host */
	return v;
}

static int64_t read_sint(const void *p, size_t size)
{
	uint64_t v = read_uint(p, size);

	if (size < 8 && (v >> (size * 8 - 1)) & 1)
		v |= ~0ull << (size * 8);
	return (int64_t)v;
}

static void fmt_hex(const uint8_t *p, size_t size, struct tbuf *b, json_object **js)
{
	char *hex = xcalloc(2 * size + 3, 1);

	memcpy(hex, "0x", 2);
	for (size_t i = 0; i < size; i++)
		sprintf(hex + 2 + 2 * i, "%02x", p[i]);
	tput(b, "%s", hex);
	*js = json_object_new_string(hex);
	free(hex);
}

/* A char array as a string: up to its first NUL, non-printable bytes as \xNN. */
static void fmt_chars(const uint8_t *p, size_t size, struct tbuf *b, json_object **js)
{
	size_t n = strnlen((const char *)p, size);
	char *s = xcalloc(4 * n + 1, 1), *q = s;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\\' || p[i] == '"') {
			*q++ = '\\';
			*q++ = (char)p[i];
		} else if (isprint(p[i])) {
			*q++ = (char)p[i];
		} else {
			q += sprintf(q, "\\x%02x", p[i]);
		}
	}
	tput(b, "\"%s\"", s);
	*js = json_object_new_string_len((const char *)p, (int)n);
	free(s);
}

static void fmt_value(const struct btf *btf, __u32 type_id, const uint8_t *p, size_t size,
		      int depth, struct tbuf *b, json_object **js)
{
	const struct btf_type *t = btf__type_by_id(btf, btf__resolve_type(btf, type_id));

	if (!t || depth > MAX_DEPTH) {
		fmt_hex(p, size, b, js);
		return;
	}
	if (btf_is_int(t) && size <= 8 && btf_int_offset(t) == 0) {
		if (btf_int_encoding(t) & BTF_INT_BOOL) {
			bool v = read_uint(p, size) != 0;

			tput(b, "%s", v ? "true" : "false");
			*js = json_object_new_boolean(v);
		} else if (int_signed(t)) {
			int64_t v = read_sint(p, size);

			tput(b, "%lld", (long long)v);
			*js = json_object_new_int64(v);
		} else {
			uint64_t v = read_uint(p, size);

			tput(b, "%llu", (unsigned long long)v);
			*js = json_object_new_uint64(v);
		}
		return;
	}
	if ((btf_is_enum(t) || btf_is_enum64(t)) && size <= 8) {
		bool sgn = btf_kflag(t);
		int64_t sv = read_sint(p, size);
		uint64_t uv = read_uint(p, size);

		for (int i = 0; i < btf_vlen(t); i++) {
			const char *name;
			uint64_t val;

			if (btf_is_enum(t)) {
				name = btf__name_by_offset(btf, btf_enum(t)[i].name_off);
				val = sgn ? (uint64_t)(int64_t)btf_enum(t)[i].val : (uint32_t)btf_enum(t)[i].val;
			} else {
				name = btf__name_by_offset(btf, btf_enum64(t)[i].name_off);
				val = btf_enum64_value(&btf_enum64(t)[i]);
			}
			if (size < 8)
				val &= (1ull << (size * 8)) - 1;
			if (name && val == uv) {
				tput(b, "%s", name);
				*js = json_object_new_string(name);
				return;
			}
		}
		if (sgn) {
			tput(b, "%lld", (long long)sv);
			*js = json_object_new_int64(sv);
		} else {
			tput(b, "%llu", (unsigned long long)uv);
			*js = json_object_new_uint64(uv);
		}
		return;
	}
	if (btf_is_array(t)) {
		const struct btf_array *arr = btf_array(t);
		const struct btf_type *et = btf__type_by_id(btf, btf__resolve_type(btf, arr->type));
		__s64 esz = btf__resolve_size(btf, arr->type);
		json_object *a;

		if (!et || esz <= 0 || (size_t)esz * arr->nelems > size) {
			fmt_hex(p, size, b, js);
			return;
		}
		if (btf_is_int(et) && esz == 1 &&
		    (streq(btf__name_by_offset(btf, et->name_off), "char") ||
		     (btf_int_encoding(et) & BTF_INT_CHAR))) {
			fmt_chars(p, arr->nelems, b, js);
			return;
		}
		a = json_object_new_array();
		tput(b, "[");
		for (__u32 i = 0; i < arr->nelems; i++) {
			json_object *e = NULL;

			if (i)
				tput(b, ", ");
			fmt_value(btf, arr->type, p + i * esz, (size_t)esz, depth + 1, b, &e);
			json_object_array_add(a, e);
		}
		tput(b, "]");
		*js = a;
		return;
	}
	/* Structs, unions, pointers, floats: config cannot set them, but a new
	 * object may change their initial bytes. */
	fmt_hex(p, size, b, js);
}

void config_value_format(const struct btf *btf, uint32_t type_id, const void *data, size_t size,
			 char *text, size_t textlen, json_object **ret_json)
{
	struct tbuf b = {};

	*ret_json = NULL;
	fmt_value(btf, type_id, data, size, 0, &b, ret_json);
	snprintf(text, textlen, "%s", b.s);
}

/* ---- the two sides: a set of data sections ---- */

struct sec {
	const char *name;             /* ".rodata", ".data", ... */
	const struct btf *btf;
	const struct btf_type *ds;    /* the DATASEC */
	const uint8_t *data;
	size_t size;
};

struct side {
	struct sec secs[MAX_PROG_MAPS];
	size_t count;
	struct btf *owned[MAX_PROG_MAPS];  /* BTF loaded from the kernel */
	__u32 owned_ids[MAX_PROG_MAPS];
	size_t owned_count;
	void *bufs[MAX_PROG_MAPS];         /* map values read from the kernel */
	size_t bufs_count;
};

static void side_free(struct side *s)
{
	for (size_t i = 0; i < s->owned_count; i++)
		btf__free(s->owned[i]);
	for (size_t i = 0; i < s->bufs_count; i++)
		free(s->bufs[i]);
	memset(s, 0, sizeof(*s));
}

/* Only global data sections carry variables config can set: .kconfig
 * (filled by libbpf at load) and the like are left out. */
static bool data_section(const char *name)
{
	return name && (streq(name, ".rodata") || streq(name, ".data") || streq(name, ".bss") ||
			strncmp(name, ".rodata.", 8) == 0 || strncmp(name, ".data.", 6) == 0);
}

static bool section_writable(const char *name)
{
	return strncmp(name, ".rodata", 7) != 0;
}

/* The running program's data sections, read through its maps. */
static int side_from_prog(uint32_t prog_id, struct side *s)
{
	struct bpf_prog_info pi = {};
	__u32 len = sizeof(pi), ids[MAX_PROG_MAPS];
	_cleanup_close_ int pfd = -1;

	pfd = bpf_prog_get_fd_by_id(prog_id);
	if (pfd < 0)
		return -errno;
	pi.nr_map_ids = ARRAY_SIZE(ids);
	pi.map_ids = (__u64)(unsigned long)ids;
	if (bpf_info_get(pfd, &pi, &len) < 0)
		return -errno;
	for (__u32 i = 0; i < pi.nr_map_ids && i < ARRAY_SIZE(ids); i++) {
		struct bpf_map_info mi = {};
		__u32 mlen = sizeof(mi), key = 0;
		_cleanup_close_ int mfd = bpf_map_get_fd_by_id(ids[i]);
		const struct btf *btf = NULL;
		const struct btf_type *ds;
		const char *name;
		void *val;

		if (mfd < 0 || bpf_info_get(mfd, &mi, &mlen) < 0)
			continue;
		if (mi.type != BPF_MAP_TYPE_ARRAY || mi.max_entries != 1 || !mi.btf_id ||
		    !mi.btf_value_type_id)
			continue;
		/* The maps of one object share its BTF: load it once. */
		for (size_t k = 0; k < s->owned_count && !btf; k++)
			if (s->owned_ids[k] == mi.btf_id)
				btf = s->owned[k];
		if (!btf) {
			struct btf *nb = btf__load_from_kernel_by_id(mi.btf_id);

			if (!nb)
				continue;
			s->owned_ids[s->owned_count] = mi.btf_id;
			s->owned[s->owned_count++] = nb;
			btf = nb;
		}
		ds = btf__type_by_id(btf, mi.btf_value_type_id);
		if (!ds || !btf_is_datasec(ds))
			continue;
		name = btf__name_by_offset(btf, ds->name_off);
		if (!data_section(name))
			continue;
		val = xcalloc(1, mi.value_size);
		if (bpf_map_lookup_elem(mfd, &key, val) < 0) {
			free(val);
			continue;
		}
		s->bufs[s->bufs_count++] = val;
		s->secs[s->count++] = (struct sec){ .name = name, .btf = btf, .ds = ds,
						    .data = val, .size = mi.value_size };
	}
	return 0;
}

/* The new object's data sections, as `config:` left them. */
static void side_from_object(struct bpf_object *bo, struct side *s)
{
	const struct btf *btf = bpf_object__btf(bo);
	struct bpf_map *map;

	if (!btf)
		return;
	bpf_object__for_each_map(map, bo) {
		const struct btf_type *ds;
		const char *name;
		size_t sz = 0;
		const void *data;

		if (!bpf_map__is_internal(map) || s->count >= ARRAY_SIZE(s->secs))
			continue;
		ds = btf__type_by_id(btf, bpf_map__btf_value_type_id(map));
		if (!ds || !btf_is_datasec(ds))
			continue;
		name = btf__name_by_offset(btf, ds->name_off);
		data = bpf_map__initial_value(map, &sz);
		if (!data_section(name) || !data)
			continue;
		s->secs[s->count++] = (struct sec){ .name = name, .btf = btf, .ds = ds,
						    .data = data, .size = sz };
	}
}

struct var {
	const struct sec *sec;
	__u32 type;
	const uint8_t *p;
	size_t size;
};

/* Variable `name` in section `secname` of a side, else in any of its
 * sections (a variable may move between versions, e.g. become const). */
static bool side_find(const struct side *s, const char *secname, const char *name, struct var *ret)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < s->count; i++) {
			const struct sec *sec = &s->secs[i];
			const struct btf_var_secinfo *vs = btf_var_secinfos(sec->ds);

			if (pass == 0 && !streq(sec->name, secname))
				continue;
			for (int k = 0; k < btf_vlen(sec->ds); k++, vs++) {
				const struct btf_type *v = btf__type_by_id(sec->btf, vs->type);

				if (!v || !btf_is_var(v) || vs->offset + vs->size > sec->size ||
				    !streq(btf__name_by_offset(sec->btf, v->name_off), name))
					continue;
				*ret = (struct var){ .sec = sec, .type = v->type,
						     .p = sec->data + vs->offset, .size = vs->size };
				return true;
			}
		}
	}
	return false;
}

static bool side_has(const struct side *s, const char *secname)
{
	for (size_t i = 0; i < s->count; i++)
		if (streq(s->secs[i].name, secname))
			return true;
	return false;
}

static bool in_config(const struct cnf_object *o, const char *name)
{
	for (size_t i = 0; i < o->config_count; i++)
		if (streq(o->config[i].name, name))
			return true;
	return false;
}

static void add_change(struct config_diff *d, size_t *cap, const char *name, const char *secname,
		       const struct var *old, const struct var *nw, bool writable, bool cfg)
{
	struct config_change *c;
	struct tbuf ot = {}, nt = {};
	json_object *oj = NULL, *nj = NULL;

	if (old && old->size == nw->size && !memcmp(old->p, nw->p, nw->size))
		return;
	if (old)
		fmt_value(old->sec->btf, old->type, old->p, old->size, 0, &ot, &oj);
	fmt_value(nw->sec->btf, nw->type, nw->p, nw->size, 0, &nt, &nj);
	/* The same value in a type of another size: not a change. */
	if (old && json_object_equal(oj, nj)) {
		json_object_put(oj);
		json_object_put(nj);
		return;
	}
	if (grow_array((void **)&d->changes, cap, d->count + 1, sizeof(*d->changes)) < 0) {
		json_object_put(oj);
		json_object_put(nj);
		return;
	}
	c = &d->changes[d->count++];
	c->variable = xstrdup(name);
	c->section = xstrdup(secname);
	c->old_text = old ? xstrdup(ot.s) : NULL;
	c->new_text = xstrdup(nt.s);
	c->old_json = oj;
	c->new_json = nj;
	c->writable = writable;
	c->in_config = cfg;
}

static void diff_compute(struct config_diff *d, const struct obj_entry *e)
{
	struct side old = {}, nw = {};
	size_t cap = 0;
	int err;

	err = side_from_prog(d->prog_id, &old);
	d->known = err >= 0;
	if (err < 0)
		log_debug("config of program id %u: %s", d->prog_id, strerror(-err));
	side_from_object(e->bo, &nw);
	for (size_t i = 0; d->known && i < nw.count; i++) {
		const struct sec *sec = &nw.secs[i];
		const struct btf_var_secinfo *vs = btf_var_secinfos(sec->ds);
		bool writable = section_writable(sec->name);

		for (int k = 0; k < btf_vlen(sec->ds); k++, vs++) {
			const struct btf_type *v = btf__type_by_id(sec->btf, vs->type);
			const char *name;
			struct var nv, ov;
			bool cfg, have_old;

			if (!v || !btf_is_var(v) || vs->offset + vs->size > sec->size)
				continue;
			name = btf__name_by_offset(sec->btf, v->name_off);
			if (!name || !name[0])
				continue;
			cfg = in_config(e->obj, name);
			/* The program may write writable sections itself. */
			if (writable && !cfg)
				continue;
			nv = (struct var){ .sec = sec, .type = v->type, .p = sec->data + vs->offset,
					   .size = vs->size };
			have_old = side_find(&old, sec->name, name, &ov);
			/* A program holds only the maps its code refers to: one
			 * that does not read this section is not affected by it. */
			if (!have_old && !side_has(&old, sec->name))
				continue;
			if (!have_old && !cfg)
				continue; /* a new variable: part of the object change */
			add_change(d, &cap, name, sec->name, have_old ? &ov : NULL, &nv,
				   have_old && section_writable(ov.sec->name), cfg);
		}
	}
	side_free(&old);
}

/* ---- annotating the plan ---- */

struct config_diff_cache {
	struct config_diff **d;
	size_t count, cap;
};

/* Does the record's "object/program" name this object? */
static bool record_of_object(const struct cnf_record *rec, const char *obj)
{
	size_t n = strlen(obj);

	return strncmp(rec->program, obj, n) == 0 && rec->program[n] == '/';
}

static void changes_text(const struct config_diff *d, char *buf, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < d->count && n < len; i++) {
		const struct config_change *c = &d->changes[i];

		n += (size_t)snprintf(buf + n, len - n, "%s%s %s -> %s%s", i ? ", " : "", c->variable,
				      c->old_text ? c->old_text : "(none)", c->new_text,
				      c->writable ? " (live value)" : "");
	}
}

/* The reason of an action whose program identity changed. */
static void set_reason(struct cnf_action *a, const struct config_diff *d)
{
	static const char generic[] = "object or config changed";
	char what[1024] = "", list[1024] = "";
	size_t n, need;

	if (d->count)
		changes_text(d, list, sizeof(list));
	if (d->object_changed)
		snprintf(what, sizeof(what), "object changed%s%s", list[0] ? "; config: " : "", list);
	else if (list[0])
		snprintf(what, sizeof(what), "config: %s", list);
	else if (d->known)
		snprintf(what, sizeof(what), "config, map or program options changed; no variable "
			 "differs from the running program's");
	else
		snprintf(what, sizeof(what), "config changed (the running program's variables "
			 "cannot be read)");
	if (streq(a->reason, generic)) {
		need = (size_t)snprintf(a->reason, sizeof(a->reason), "%s", what);
	} else {
		if (!list[0])
			return;
		n = strlen(a->reason);
		need = n + (size_t)snprintf(a->reason + n, sizeof(a->reason) - n, "; config: %s", list);
	}
	/* Cut at the end of the field, marked: JSON lists the changes whole. */
	if (need >= sizeof(a->reason))
		memcpy(a->reason + sizeof(a->reason) - 4, "...", 4);
}

static struct config_diff *diff_get(struct run *r, uint32_t prog_id, const struct obj_entry *e,
				    const struct cnf_record *rec)
{
	struct config_diff_cache *c = r->config_diffs;
	struct config_diff *d;

	if (!c)
		c = r->config_diffs = xcalloc(1, sizeof(*c));
	for (size_t i = 0; i < c->count; i++)
		if (c->d[i]->prog_id == prog_id && c->d[i]->entry == e)
			return c->d[i];
	if (grow_array((void **)&c->d, &c->cap, c->count + 1, sizeof(*c->d)) < 0)
		return NULL;
	d = xcalloc(1, sizeof(*d));
	d->prog_id = prog_id;
	d->entry = e;
	d->object_changed = memcmp(rec->obj_hash, e->hash, CNF_HASH_LEN) != 0;
	diff_compute(d, e);
	c->d[c->count++] = d;
	return d;
}

void config_diff_annotate(struct run *r)
{
	for (size_t i = 0; i < r->plan.count; i++) {
		struct cnf_action *a = &r->plan.actions[i];
		const struct cnf_instance *w = a->want;
		const struct cnf_observed *h = a->have;
		struct obj_entry *e;
		struct config_diff *d;
		uint32_t prog_id;

		if ((a->kind != ACT_UPDATE && a->kind != ACT_REPLACE) || !w || !h ||
		    !h->has_record || !h->alive || h->prog_replaced ||
		    !memcmp(h->rec.prog_hash, w->prog_hash, CNF_HASH_LEN))
			continue;
		e = objects_for(&r->objs, w->att);
		prog_id = h->prog_id ? h->prog_id : h->rec.prog_id;
		if (!e || !e->bo || !prog_id || !record_of_object(&h->rec, e->obj->name))
			continue;
		d = diff_get(r, prog_id, e, &h->rec);
		if (!d)
			continue;
		a->config_diff = d;
		set_reason(a, d);
	}
}

void config_diff_free(struct run *r)
{
	struct config_diff_cache *c = r->config_diffs;

	if (!c)
		return;
	for (size_t i = 0; i < c->count; i++) {
		struct config_diff *d = c->d[i];

		for (size_t k = 0; k < d->count; k++) {
			free(d->changes[k].variable);
			free(d->changes[k].section);
			free(d->changes[k].old_text);
			free(d->changes[k].new_text);
			json_object_put(d->changes[k].old_json);
			json_object_put(d->changes[k].new_json);
		}
		free(d->changes);
		free(d);
	}
	free(c->d);
	free(c);
	r->config_diffs = NULL;
}

json_object *config_diff_json(const struct config_diff *d)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < d->count; i++) {
		const struct config_change *c = &d->changes[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "variable", json_object_new_string(c->variable));
		json_object_object_add(o, "old", json_object_get(c->old_json));
		json_object_object_add(o, "new", json_object_get(c->new_json));
		json_object_object_add(o, "section", json_object_new_string(c->section));
		json_object_object_add(o, "in_config", json_object_new_boolean(c->in_config));
		if (c->writable)
			json_object_object_add(o, "writable", json_object_new_boolean(true));
		json_object_array_add(arr, o);
	}
	return arr;
}
