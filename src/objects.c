// SPDX-License-Identifier: GPL-2.0-only
/* BPF objects: identity, opening, configuration, loading. */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>

#include "cnf/cli.h"
#include "cnf/digest.h"
#include "cnf/hooks.h"
#include "cnf/log.h"
#include "cnf/objects.h"
#include "cnf/state.h"
#include "cnf/util.h"

void sha256_buf(const void *buf, size_t len, uint8_t out[CNF_HASH_LEN])
{
	struct digest d;

	digest_init(&d);
	digest_update(&d, buf, len);
	digest_final(&d, out);
}

int sha256_file(int fd, uint8_t out[CNF_HASH_LEN])
{
	struct digest d;
	char buf[65536];
	ssize_t r;

	digest_init(&d);
	while ((r = read(fd, buf, sizeof(buf))) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		digest_update(&d, buf, (size_t)r);
	}
	digest_final(&d, out);
	return 0;
}

void hash_hex(const uint8_t h[CNF_HASH_LEN], char out[2 * CNF_HASH_LEN + 1])
{
	for (int i = 0; i < CNF_HASH_LEN; i++)
		sprintf(out + 2 * i, "%02x", h[i]);
}

int objects_file_open(const char *path, struct stat *ret_st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	if (fd < 0)
		return -errno;
	if (fstat(fd, ret_st) < 0 || !S_ISREG(ret_st->st_mode)) {
		int err = S_ISREG(ret_st->st_mode) ? -errno : -EFTYPE_OBJ;

		close(fd);
		return err;
	}
	return fd;
}

void objects_file_path(char *buf, size_t len, int fd)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

int objects_init(struct obj_cache *c, const struct cnf_manifest_set *set, const char *bpffs)
{
	size_t n = 0, k = 0;

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < set->count; i++)
		n += set->manifests[i]->objects_count;
	c->entries = xcalloc(n, sizeof(*c->entries));
	c->count = n;
	c->bpffs = bpffs;
	for (size_t i = 0; i < set->count; i++) {
		struct cnf_manifest *m = set->manifests[i];

		for (size_t j = 0; j < m->objects_count; j++) {
			c->entries[k].manifest = m;
			c->entries[k].obj = &m->objects[j];
			c->entries[k].idx = j;
			c->entries[k].cache = c;
			c->entries[k].fd = -1;
			k++;
		}
	}
	return 0;
}

void objects_free(struct obj_cache *c)
{
	map_plans_free(c);
	for (size_t i = 0; i < c->count; i++) {
		struct obj_entry *e = &c->entries[i];

		bpf_object__close(e->bo);
		if (e->fd >= 0)
			close(e->fd);
		for (size_t k = 0; k < e->inits_count; k++) {
			free(e->inits[k].keys);
			free(e->inits[k].values);
		}
		free(e->inits);
	}
	free(c->entries);
	memset(c, 0, sizeof(*c));
}

struct obj_entry *objects_for(struct obj_cache *c, const struct cnf_attachment *att)
{
	for (size_t i = 0; i < c->count; i++)
		if (c->entries[i].obj == att->object)
			return &c->entries[i];
	return NULL;
}

/* File problems point at the object's `file:` key. */
#define OBJ_LOC(e) (e)->manifest->path, manifest_object_line((e)->manifest, (e)->idx, "file")

/* Does a record describe the same object of the same manifest? The record
 * keeps "object/program" in `program`. */
static bool record_is_object(const struct cnf_record *r, const char *obj)
{
	size_t n = strlen(obj);

	return strncmp(r->program, obj, n) == 0 && r->program[n] == '/';
}

int objects_identify(struct obj_cache *c, const struct cnf_record *recs, size_t nrecs,
		     const char *const *rec_manifests)
{
	int ret = 0;

	for (size_t i = 0; i < c->count; i++) {
		struct obj_entry *e = &c->entries[i];
		bool reused = false;
		int fd = objects_file_open(e->obj->path, &e->st);

		if (fd == -EFTYPE_OBJ) {
			log_error("object '%s' (%s:%d): '%s' is not a regular file", e->obj->name,
				  OBJ_LOC(e), e->obj->path);
			ret = -EINVAL;
			continue;
		}
		if (fd < 0) {
			log_error("object '%s' (%s:%d): cannot open '%s': %s", e->obj->name,
				  OBJ_LOC(e), e->obj->path, strerror(-fd));
			ret = -EINVAL;
			continue;
		}
		/* What is hashed here is what libbpf reads (objects_open()). */
		e->fd = fd;
		/* The manifest loader checked the way to the file; check the
		 * file opened, in case it changed since. */
		if (geteuid() == 0 && (e->st.st_uid != 0 || (e->st.st_mode & (S_IWGRP | S_IWOTH)))) {
			log_error("object '%s' (%s:%d): refusing to load '%s' as root: it is owned by "
				  "uid %u with mode %04o; whoever can change an object can make "
				  "cnf-apply attach any BPF program: make it owned by root and not "
				  "writable by group or others", e->obj->name, OBJ_LOC(e), e->obj->path,
				  (unsigned)e->st.st_uid, (unsigned)(e->st.st_mode & 07777));
			ret = -EINVAL;
			continue;
		}
		e->identified = true;
		for (size_t j = 0; j < nrecs && !reused; j++) {
			const struct cnf_record *r = &recs[j];
			uint64_t mt = (uint64_t)e->st.st_mtim.tv_sec * 1000000000ull +
				      (uint64_t)e->st.st_mtim.tv_nsec;
			uint64_t ct = (uint64_t)e->st.st_ctim.tv_sec * 1000000000ull +
				      (uint64_t)e->st.st_ctim.tv_nsec;

			if (!streq(rec_manifests[j], e->manifest->name) ||
			    !record_is_object(r, e->obj->name))
				continue;
			if (r->obj_dev == e->st.st_dev && r->obj_ino == e->st.st_ino &&
			    r->obj_size == (uint64_t)e->st.st_size && r->obj_mtime_ns == mt &&
			    r->obj_ctime_ns == ct && mt != 0) {
				memcpy(e->hash, r->obj_hash, CNF_HASH_LEN);
				reused = true;
			}
		}
		e->hash_from_record = reused;
		if (!reused) {
			int r = sha256_file(fd, e->hash);

			if (r >= 0 && lseek(fd, 0, SEEK_SET) < 0)
				r = -errno;
			if (r < 0) {
				log_error("object '%s' (%s:%d): reading '%s': %s", e->obj->name,
					  OBJ_LOC(e), e->obj->path, strerror(-r));
				ret = -EINVAL;
			}
		}
		/* Everything else that shapes the loaded programs. */
		{
			struct digest ctx;

			digest_init(&ctx);
			for (size_t k = 0; k < e->obj->config_count; k++) {
				const struct cnf_config_var *v = &e->obj->config[k];

				digest_update(&ctx, "C", 1);
				digest_update(&ctx, v->name, strlen(v->name) + 1);
				if (v->value)
					digest_update(&ctx, v->value, strlen(v->value) + 1);
				digest_update(&ctx, v->quoted ? "q" : "u", 1);
				for (size_t m = 0; m < v->items_count; m++)
					digest_update(&ctx, v->items[m], strlen(v->items[m]) + 1);
			}
			for (size_t k = 0; k < e->obj->maps_count; k++) {
				const struct cnf_map_opt *mo = &e->obj->maps[k];

				digest_update(&ctx, "M", 1);
				digest_update(&ctx, mo->name, strlen(mo->name) + 1);
				if (mo->pin)
					digest_update(&ctx, mo->pin, strlen(mo->pin) + 1);
			}
			for (size_t k = 0; k < e->obj->programs_count; k++) {
				const struct cnf_prog_opt *po = &e->obj->programs[k];

				digest_update(&ctx, "P", 1);
				digest_update(&ctx, po->name, strlen(po->name) + 1);
				if (po->type)
					digest_update(&ctx, po->type, strlen(po->type) + 1);
			}
			digest_final(&ctx, e->cfg_hash);
		}
	}
	return ret;
}

struct bpf_program *objects_program(struct obj_entry *e, const char *prog_name)
{
	return e->bo ? bpf_object__find_program_by_name(e->bo, prog_name) : NULL;
}

/* ---- config: global variables in .rodata/.data/.bss ---- */

static bool parse_int(const char *s, bool is_signed, long long *sv, unsigned long long *uv)
{
	char *end;

	errno = 0;
	if (is_signed)
		*sv = strtoll(s, &end, 0);
	else {
		if (*s == '-')
			return false;
		*uv = strtoull(s, &end, 0);
	}
	return errno == 0 && end != s && *end == '\0';
}

static int set_int(void *dst, size_t size, bool is_signed, const char *text, char *why, size_t whylen)
{
	long long sv = 0;
	unsigned long long uv = 0;

	if (!parse_int(text, is_signed, &sv, &uv)) {
		snprintf(why, whylen, "'%s' is not %s integer", text, is_signed ? "an" : "an unsigned");
		return -EINVAL;
	}
	if (is_signed) {
		long long lo = size >= 8 ? LLONG_MIN : -(1ll << (size * 8 - 1));
		long long hi = size >= 8 ? LLONG_MAX : (1ll << (size * 8 - 1)) - 1;

		if (sv < lo || sv > hi) {
			snprintf(why, whylen, "%s does not fit %zu-byte signed integer", text, size);
			return -ERANGE;
		}
		uv = (unsigned long long)sv;
	} else if (size < 8 && uv >> (size * 8)) {
		snprintf(why, whylen, "%s does not fit %zu-byte unsigned integer", text, size);
		return -ERANGE;
	}
	memcpy(dst, &uv, size); /* little-endian host */
	return 0;
}

static int set_var(const struct btf *btf, __u32 type_id, void *dst, __u32 size,
		   const struct cnf_config_var *v, char *why, size_t whylen)
{
	const struct btf_type *t = btf__type_by_id(btf, btf__resolve_type(btf, type_id));

	if (!t) {
		snprintf(why, whylen, "no type information");
		return -EINVAL;
	}
	if (btf_is_int(t)) {
		__u8 enc = btf_int_encoding(t);

		if (!v->value) {
			snprintf(why, whylen, "expects a scalar, not a list");
			return -EINVAL;
		}
		if (enc & BTF_INT_BOOL) {
			if (streq(v->value, "true") || streq(v->value, "1"))
				*(char *)dst = 1;
			else if (streq(v->value, "false") || streq(v->value, "0"))
				*(char *)dst = 0;
			else {
				snprintf(why, whylen, "'%s' is not a boolean", v->value);
				return -EINVAL;
			}
			return 0;
		}
		if (v->quoted && (enc & BTF_INT_CHAR) && size == 1 && strlen(v->value) == 1) {
			*(char *)dst = v->value[0];
			return 0;
		}
		if (v->quoted) {
			snprintf(why, whylen, "expects an integer, got the string \"%s\"", v->value);
			return -EINVAL;
		}
		if (streq(v->value, "true") || streq(v->value, "false")) {
			memset(dst, 0, size);
			*(char *)dst = streq(v->value, "true");
			return 0;
		}
		return set_int(dst, size, enc & BTF_INT_SIGNED, v->value, why, whylen);
	}
	if (btf_is_enum(t) || btf_is_enum64(t)) {
		if (!v->value) {
			snprintf(why, whylen, "expects an enum value, not a list");
			return -EINVAL;
		}
		for (int i = 0; i < btf_vlen(t); i++) {
			const char *name;
			long long val;

			if (btf_is_enum(t)) {
				name = btf__name_by_offset(btf, btf_enum(t)[i].name_off);
				val = btf_enum(t)[i].val;
			} else {
				name = btf__name_by_offset(btf, btf_enum64(t)[i].name_off);
				val = (long long)btf_enum64_value(&btf_enum64(t)[i]);
			}
			if (name && streq(name, v->value)) {
				memcpy(dst, &val, size);
				return 0;
			}
		}
		return set_int(dst, size, true, v->value, why, whylen);
	}
	if (btf_is_array(t)) {
		const struct btf_array *arr = btf_array(t);
		const struct btf_type *et = btf__type_by_id(btf, btf__resolve_type(btf, arr->type));
		__s64 esz = btf__resolve_size(btf, arr->type);

		if (!et || esz <= 0) {
			snprintf(why, whylen, "unsupported array element type");
			return -EINVAL;
		}
		if (v->value && btf_is_int(et) && esz == 1) {
			size_t len = strlen(v->value);

			if (len >= arr->nelems) {
				snprintf(why, whylen, "string of %zu bytes does not fit char[%u]",
					 len, arr->nelems);
				return -ERANGE;
			}
			memset(dst, 0, size);
			memcpy(dst, v->value, len);
			return 0;
		}
		if (!v->value) {
			if (v->items_count > arr->nelems) {
				snprintf(why, whylen, "%zu items do not fit an array of %u",
					 v->items_count, arr->nelems);
				return -ERANGE;
			}
			memset(dst, 0, size);
			for (size_t i = 0; i < v->items_count; i++) {
				struct cnf_config_var item = { .name = v->name, .value = v->items[i] };
				int r = set_var(btf, arr->type, (char *)dst + i * esz, (__u32)esz,
						&item, why, whylen);

				if (r < 0)
					return r;
			}
			return 0;
		}
		snprintf(why, whylen, "expects a list for an array of %u", arr->nelems);
		return -EINVAL;
	}
	snprintf(why, whylen, "has a type that config cannot set (struct, union or pointer)");
	return -EINVAL;
}

static int apply_config(struct obj_entry *e)
{
	const struct btf *btf = bpf_object__btf(e->bo);
	int ret = 0;

	for (size_t k = 0; k < e->obj->config_count; k++) {
		const struct cnf_config_var *v = &e->obj->config[k];
		struct bpf_map *map;
		bool found = false;

		bpf_object__for_each_map(map, e->bo) {
			const struct btf_type *sec;
			const struct btf_var_secinfo *vs;
			__u32 sec_id;

			if (!bpf_map__is_internal(map) || !btf)
				continue;
			sec_id = bpf_map__btf_value_type_id(map);
			sec = btf__type_by_id(btf, sec_id);
			if (!sec || !btf_is_datasec(sec))
				continue;
			vs = btf_var_secinfos(sec);
			for (int i = 0; i < btf_vlen(sec); i++, vs++) {
				const struct btf_type *var = btf__type_by_id(btf, vs->type);
				char why[160];
				size_t sz;
				char *data;

				if (!var || !btf_is_var(var) ||
				    !streq(btf__name_by_offset(btf, var->name_off), v->name))
					continue;
				found = true;
				data = bpf_map__initial_value(map, &sz);
				if (!data || vs->offset + vs->size > sz) {
					log_error("object '%s' (%s:%d): config '%s': cannot set it",
						  e->obj->name, e->manifest->path, v->line, v->name);
					ret = -EINVAL;
					break;
				}
				if (set_var(btf, var->type, data + vs->offset, vs->size, v, why,
					    sizeof(why)) < 0) {
					log_error("object '%s' (%s:%d): config '%s' %s", e->obj->name,
						  e->manifest->path, v->line, v->name, why);
					ret = -EINVAL;
				}
				break;
			}
			if (found)
				break;
		}
		if (!found) {
			log_error("object '%s' (%s:%d): config '%s': no such global variable in %s",
				  e->obj->name, e->manifest->path, v->line, v->name, e->obj->file);
			ret = -EINVAL;
		}
	}
	return ret;
}

/* ---- maps: `on_incompatible:` and initial `entries:` ---- */

/* "0x0a000001": the bytes as written, in memory order. Sets *ret_n to
 * their number; false when `s` is not such a string. */
static bool hex_bytes(const char *s, uint8_t *out, size_t size, size_t *ret_n)
{
	size_t len;

	if (!s || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return false;
	s += 2;
	len = strlen(s);
	if (!len || len % 2 || strspn(s, "0123456789abcdefABCDEF") != len)
		return false;
	*ret_n = len / 2;
	for (size_t i = 0; out && i < len / 2 && i < size; i++) {
		unsigned int b;

		sscanf(s + 2 * i, "%2x", &b);
		out[i] = (uint8_t)b;
	}
	return true;
}

/* Encodes one key or value of `size` bytes whose BTF type is `type_id`
 * (0: none): typed forms (integers, enums, arrays, strings for char
 * arrays, as for `config:`) or the generic ones (a quoted hex string, a
 * list of bytes). */
static int encode_part(const struct btf *btf, __u32 type_id, size_t size,
		       const struct cnf_config_var *v, uint8_t *out, char *why, size_t whylen)
{
	const struct btf_type *t = NULL;
	size_t n;

	if (btf && type_id) {
		t = btf__type_by_id(btf, btf__resolve_type(btf, type_id));
		if (t && btf__resolve_size(btf, type_id) != (__s64)size)
			t = NULL; /* the definition overrides it: sizes only */
	}
	memset(out, 0, size);
	if (v->value && v->quoted && hex_bytes(v->value, NULL, 0, &n)) {
		if (n != size) {
			snprintf(why, whylen, "is %zu byte%s, but the hex string \"%s\" has %zu", size,
				 size == 1 ? "" : "s", v->value, n);
			return -EINVAL;
		}
		hex_bytes(v->value, out, size, &n);
		return 0;
	}
	if (!v->value && !(t && btf_is_array(t))) {
		if (v->items_count != size) {
			snprintf(why, whylen, "is %zu byte%s, but the list has %zu item%s: a list "
				 "gives every byte", size, size == 1 ? "" : "s", v->items_count,
				 v->items_count == 1 ? "" : "s");
			return -EINVAL;
		}
		for (size_t i = 0; i < size; i++) {
			char b[160];

			if (set_int(out + i, 1, false, v->items[i], b, sizeof(b)) < 0) {
				snprintf(why, whylen, "item %zu: '%s' is not a byte (0 to 255)", i + 1,
					 v->items[i]);
				return -EINVAL;
			}
		}
		return 0;
	}
	if (t && (btf_is_composite(t) || btf_is_ptr(t) || btf_is_float(t))) {
		snprintf(why, whylen, "is %s of %zu bytes: write it as a hex string \"0x...\" of "
			 "%zu digits, or a list of %zu bytes",
			 btf_is_struct(t) ? "a struct" : btf_is_union(t) ? "a union" :
			 btf_is_ptr(t) ? "a pointer" : "a floating-point number", size, 2 * size, size);
		return -EINVAL;
	}
	if (t)
		return set_var(btf, type_id, out, (__u32)size, v, why, whylen);
	/* No type information: an integer of the size, or the generic forms. */
	if (v->quoted) {
		snprintf(why, whylen, "expects an integer or a hex string \"0x...\", got the string "
			 "\"%s\"", v->value);
		return -EINVAL;
	}
	if (size != 1 && size != 2 && size != 4 && size != 8) {
		snprintf(why, whylen, "is %zu bytes without type information: write it as a hex "
			 "string \"0x...\" of %zu digits, or a list of %zu bytes", size, 2 * size, size);
		return -EINVAL;
	}
	return set_int(out, size, v->value[0] == '-', v->value, why, whylen);
}

static bool map_type_takes_entries(enum bpf_map_type t)
{
	switch (t) {
	case BPF_MAP_TYPE_HASH:
	case BPF_MAP_TYPE_ARRAY:
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_LRU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
	case BPF_MAP_TYPE_LPM_TRIE:
	case BPF_MAP_TYPE_DEVMAP:
	case BPF_MAP_TYPE_DEVMAP_HASH:
		return true;
	default:
		return false;
	}
}

static bool map_type_is_array(enum bpf_map_type t)
{
	return t == BPF_MAP_TYPE_ARRAY || t == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       t == BPF_MAP_TYPE_DEVMAP;
}

static bool map_type_is_percpu(enum bpf_map_type t)
{
	return t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

#define MAP_LOC(e) (e)->obj->name, (e)->manifest->path

static int encode_entries(struct obj_entry *e, const struct cnf_map_opt *mo, struct bpf_map *map,
			  struct map_init *in)
{
	const struct btf *btf = bpf_object__btf(e->bo);
	enum bpf_map_type type = bpf_map__type(map);
	size_t ksz = bpf_map__key_size(map), vsz = bpf_map__value_size(map);
	int ret = 0;

	in->e = e;
	in->mo = mo;
	in->map_name = mo->name;
	if (bpf_map__is_internal(map)) {
		log_error("object '%s' (%s:%d): map '%s' holds the object's global variables: "
			  "set them with config:, not entries:", MAP_LOC(e), mo->line, mo->name);
		return -EINVAL;
	}
	if (!map_type_takes_entries(type) || !ksz) {
		log_error("object '%s' (%s:%d): map '%s' is a %s map: initial entries are for "
			  "hash, array, lru_hash, lpm_trie and devmap maps (and their per-CPU "
			  "variants)", MAP_LOC(e), mo->line, mo->name,
			  libbpf_bpf_map_type_str(type) ? libbpf_bpf_map_type_str(type) : "?");
		return -EINVAL;
	}
	if (bpf_map__map_flags(map) & BPF_F_RDONLY) {
		log_error("object '%s' (%s:%d): map '%s' is read-only for user space "
			  "(BPF_F_RDONLY): its entries cannot be written", MAP_LOC(e), mo->line,
			  mo->name);
		return -EINVAL;
	}
	if (mo->entries_count > bpf_map__max_entries(map)) {
		log_error("object '%s' (%s:%d): map '%s' holds at most %u entries, entries: lists "
			  "%zu", MAP_LOC(e), mo->line, mo->name, bpf_map__max_entries(map),
			  mo->entries_count);
		return -EINVAL;
	}
	in->key_size = (uint32_t)ksz;
	in->value_size = (uint32_t)vsz;
	in->keys = xcalloc(mo->entries_count, ksz);
	in->values = xcalloc(mo->entries_count, vsz);
	for (size_t k = 0; k < mo->entries_count; k++) {
		const struct cnf_map_entry *me = &mo->entries[k];
		uint8_t *key = in->keys + k * ksz, *val = in->values + k * vsz;
		char why[256];

		if (encode_part(btf, bpf_map__btf_key_type_id(map), ksz, &me->key, key, why,
				sizeof(why)) < 0) {
			log_error("object '%s' (%s:%d): map '%s': entry %zu: key %s", MAP_LOC(e),
				  me->key.line, mo->name, k + 1, why);
			ret = -EINVAL;
			continue;
		}
		if (encode_part(btf, bpf_map__btf_value_type_id(map), vsz, &me->value, val, why,
				sizeof(why)) < 0) {
			log_error("object '%s' (%s:%d): map '%s': entry %zu: value %s",
				  MAP_LOC(e), me->value.line, mo->name, k + 1, why);
			ret = -EINVAL;
			continue;
		}
		if (map_type_is_array(type) && ksz == 4 &&
		    *(uint32_t *)key >= bpf_map__max_entries(map)) {
			log_error("object '%s' (%s:%d): map '%s': entry %zu: key %u is out of range: "
				  "the array has %u entries (0 to %u)", MAP_LOC(e), me->key.line,
				  mo->name, k + 1, *(uint32_t *)key, bpf_map__max_entries(map),
				  bpf_map__max_entries(map) - 1);
			ret = -EINVAL;
			continue;
		}
		if (type == BPF_MAP_TYPE_LPM_TRIE && ksz > 4 &&
		    *(uint32_t *)key > (ksz - 4) * 8) {
			log_error("object '%s' (%s:%d): map '%s': entry %zu: prefix length %u is more "
				  "than the key's %zu bits of data", MAP_LOC(e), me->key.line,
				  mo->name, k + 1, *(uint32_t *)key, (ksz - 4) * 8);
			ret = -EINVAL;
			continue;
		}
		for (size_t j = 0; j < k; j++)
			if (!memcmp(in->keys + j * ksz, key, ksz)) {
				log_error("object '%s' (%s:%d): map '%s': entry %zu: the same key as "
					  "entry %zu (line %d)", MAP_LOC(e), me->key.line, mo->name,
					  k + 1, j + 1, mo->entries[j].key.line);
				ret = -EINVAL;
				break;
			}
	}
	in->count = mo->entries_count;
	return ret;
}

/* At open: `on_incompatible:` names a pinned map; `entries:` fit the
 * map's key and value types and sizes. */
static int check_map_opts(struct obj_entry *e)
{
	int ret = 0;

	e->inits = xcalloc(e->obj->maps_count + 1, sizeof(*e->inits));
	for (size_t k = 0; k < e->obj->maps_count; k++) {
		const struct cnf_map_opt *mo = &e->obj->maps[k];
		struct bpf_map *map = bpf_object__find_map_by_name(e->bo, mo->name);

		if (!map)
			continue; /* set_map_pins() said so */
		if (mo->on_incompatible && !bpf_map__pin_path(map) && map_own_reason(map)) {
			log_error("object '%s' (%s:%d): map '%s': on_incompatible does not apply: "
				  "the map is %s, never carried over", MAP_LOC(e), mo->line, mo->name,
				  map_own_reason(map));
			ret = -EINVAL;
		}
		if (!mo->entries_count)
			continue;
		if (encode_entries(e, mo, map, &e->inits[e->inits_count]) < 0)
			ret = -EINVAL;
		e->inits_count++;
	}
	/* The entries of an unpinned map are part of the program's version,
	 * like config: a new map gets them at every load. Those of a pinned
	 * map seed it once and never change the program. */
	if (ret == 0) {
		struct digest ctx;
		bool any = false;

		digest_init(&ctx);
		digest_update(&ctx, e->cfg_hash, CNF_HASH_LEN);
		for (size_t k = 0; k < e->inits_count; k++) {
			const struct map_init *in = &e->inits[k];
			struct bpf_map *map = bpf_object__find_map_by_name(e->bo, in->map_name);

			if (!map || bpf_map__pin_path(map))
				continue;
			any = true;
			digest_update(&ctx, "E", 1);
			digest_update(&ctx, in->map_name, strlen(in->map_name) + 1);
			digest_update(&ctx, in->keys, in->count * in->key_size);
			digest_update(&ctx, in->values, in->count * in->value_size);
		}
		if (any)
			digest_final(&ctx, e->cfg_hash);
	}
	return ret;
}

/* Writes a map's initial entries into `fd`, a map created by this run
 * (per-CPU maps: the same value on every CPU). */
static int write_entries(const struct map_init *in, enum bpf_map_type type, int fd)
{
	const struct obj_entry *e = in->e;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t stride = ((size_t)in->value_size + 7) & ~(size_t)7;
	int ncpu = map_type_is_percpu(type) ? libbpf_num_possible_cpus() : 1;

	if (ncpu < 1)
		ncpu = 1;
	if (map_type_is_percpu(type))
		buf = xcalloc((size_t)ncpu, stride);
	for (size_t k = 0; k < in->count; k++) {
		const void *val = in->values + k * in->value_size;

		if (buf) {
			for (int cpu = 0; cpu < ncpu; cpu++)
				memcpy(buf + (size_t)cpu * stride, val, in->value_size);
			val = buf;
		}
		if (bpf_map_update_elem(fd, in->keys + k * in->key_size, val, BPF_ANY) < 0) {
			int err = -errno;

			log_error("object '%s' (%s:%d): map '%s': entry %zu: the kernel refused it: %s",
				  e->obj->name, e->manifest->path, in->mo->entries[k].line,
				  in->map_name, k + 1, strerror(-err));
			return err;
		}
	}
	log_debug("object '%s': map '%s': %zu initial entr%s written", e->obj->name, in->map_name,
		  in->count, in->count == 1 ? "y" : "ies");
	return 0;
}

static int set_map_pins(struct obj_entry *e, const char *bpffs)
{
	int ret = 0;

	for (size_t k = 0; k < e->obj->maps_count; k++) {
		const struct cnf_map_opt *mo = &e->obj->maps[k];
		struct bpf_map *map = bpf_object__find_map_by_name(e->bo, mo->name);
		char path[PATH_MAX];

		if (!map) {
			log_error("object '%s' (%s:%d): map '%s' is not in %s", e->obj->name,
				  e->manifest->path, mo->line, mo->name, e->obj->file);
			ret = -EINVAL;
			continue;
		}
		if (!mo->pin)
			continue;
		state_map_path(path, sizeof(path), bpffs, mo->pin);
		if (bpf_map__set_pin_path(map, path) < 0) {
			log_error("object '%s' (%s:%d): map '%s': bad pin path", e->obj->name,
				  e->manifest->path, mo->line, mo->name);
			ret = -EINVAL;
		}
	}
	return ret;
}

static int set_prog_types(struct obj_entry *e)
{
	int ret = 0;

	for (size_t k = 0; k < e->obj->programs_count; k++) {
		const struct cnf_prog_opt *po = &e->obj->programs[k];
		struct bpf_program *p = bpf_object__find_program_by_name(e->bo, po->name);
		enum bpf_prog_type pt;
		enum bpf_attach_type at;

		if (!p) {
			log_error("object '%s' (%s:%d): program '%s' is not in %s", e->obj->name,
				  e->manifest->path, po->line, po->name, e->obj->file);
			ret = -EINVAL;
			continue;
		}
		if (!po->type)
			continue;
		if (libbpf_prog_type_by_name(po->type, &pt, &at) < 0) {
			log_error("object '%s' (%s:%d): program '%s': unknown type '%s'",
				  e->obj->name, e->manifest->path, po->line, po->name, po->type);
			ret = -EINVAL;
			continue;
		}
		bpf_program__set_type(p, pt);
		bpf_program__set_expected_attach_type(p, at);
	}
	return ret;
}

int objects_open(struct obj_cache *c)
{
	int ret = 0;

	for (size_t i = 0; i < c->count; i++) {
		struct obj_entry *e = &c->entries[i];
		char pin_root[PATH_MAX], fd_path[32];
		/* Maps pinned by name (LIBBPF_PIN_BY_NAME) go under the state
		 * root, with those pinned with `pin:`, not under /sys/fs/bpf. */
		LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = e->obj->name,
			    .pin_root_path = pin_root);
		struct bpf_object *bo;
		int err;

		state_map_path(pin_root, sizeof(pin_root), c->bpffs ? c->bpffs : CNF_DEFAULT_BPFFS,
			       NULL);

		/* Its identity step reported the problem already. */
		if (e->bo || !e->identified)
			continue;
		/* The file identified, not whatever its path names now. */
		objects_file_path(fd_path, sizeof(fd_path), e->fd);
		log_libbpf_capture(true);
		bo = bpf_object__open_file(fd_path, &oo);
		err = bo ? 0 : -errno;
		log_libbpf_capture(false);
		if (!bo) {
			const char *why = err == -ENOENT ? "file not found" :
					  err == -ELIBBAD || err == -EINVAL || err == -ENOEXEC ||
					  err == -LIBBPF_ERRNO__FORMAT ?
					  "not a BPF ELF object" : strerror(-err);
			const char *log = log_libbpf_captured();
			const char *last = NULL;

			/* libbpf's own reason is its last message line. */
			for (const char *p = log; (p = strstr(p, "libbpf: ")); p++)
				last = p;
			log_error("object '%s' (%s:%d): cannot open '%s': %s%s%.*s%s", e->obj->name,
				  OBJ_LOC(e), e->obj->path, why, last ? " (" : "",
				  last ? (int)strcspn(last, "\n") : 0, last ? last : "",
				  last ? ")" : "");
			ret = -EINVAL;
			continue;
		}
		e->bo = bo;
		if (set_prog_types(e) < 0 || set_map_pins(e, c->bpffs) < 0 || apply_config(e) < 0 ||
		    check_map_opts(e) < 0)
			ret = -EINVAL;
	}
	return ret;
}

/* After a load: the maps this object created get their initial entries
 * (pinned ones once, by the object that created them). `dry`: every map
 * is new and thrown away; the kernel's checks of the entries run on it. */
static int load_entries(struct obj_entry *e, bool dry)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, e->bo) {
		struct map_plan *g = map_plan_of(e, map);
		int fd = bpf_map__fd(map);

		if (!g || g->action == MAP_REUSE || g->action == MAP_KEEP)
			continue;
		if (!dry) {
			if (g->new_fd >= 0)
				continue; /* created by another object, or taken over */
			g->new_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
			if (g->new_fd < 0) {
				log_error("object '%s': map '%s': %s", e->obj->name, bpf_map__name(map),
					  strerror(errno));
				return -errno;
			}
		}
		if (g->init && write_entries(g->init, bpf_map__type(map), fd) < 0)
			return -EINVAL;
	}
	return 0;
}

/* The last `n` lines of a verifier log (the reason is at its end). */
static const char *log_tail(const char *log, int n)
{
	const char *p = log + strlen(log);

	while (p > log && (p[-1] == '\n' || p[-1] == ' '))
		p--;
	while (p > log && n > 0) {
		p--;
		if (*p == '\n')
			n--;
	}
	return p == log ? p : p + 1;
}

/* libbpf could not create a map ("map 'NAME': failed to create: ..."):
 * name the map, its definition and the kernel's reason. Returns false
 * when the failure was not a map's. */
static bool report_map_failure(const struct obj_entry *e, const char *for_attachment,
			       int for_line, int err)
{
	const char *log = log_libbpf_captured();
	const char *end = strstr(log, "': failed to create: ");
	const char *name = end;
	const struct bpf_map *map;
	enum bpf_map_type type;
	char why[160];

	while (name && name - log >= 5 && strncmp(name - 5, "map '", 5))
		name--;
	if (!end || name - log < 5)
		return false;
	snprintf(why, sizeof(why), "%.*s", (int)(end - name), name);
	map = bpf_object__find_map_by_name(e->bo, why);
	if (!map)
		return false;
	type = bpf_map__type(map);
	if (libbpf_probe_bpf_map_type(type, NULL) == 0)
		snprintf(why, sizeof(why), "this kernel has no %s maps",
			 libbpf_bpf_map_type_str(type) ?: "such");
	else
		snprintf(why, sizeof(why), "the kernel refused it: %s%s", strerror(-err),
			 err == -ENOMEM || err == -E2BIG ? " (too large)" :
			 err == -EPERM ? " (needs root or CAP_BPF)" : "");
	log_error("attachment '%s' (%s:%d): object '%s' (%s): map '%s' (%s, key %u bytes, "
		  "value %u bytes, max_entries %u) cannot be created: %s", for_attachment,
		  e->manifest->path, for_line, e->obj->name, e->obj->file, bpf_map__name(map),
		  libbpf_bpf_map_type_str(type) ?: "unknown type", bpf_map__key_size(map),
		  bpf_map__value_size(map), bpf_map__max_entries(map), why);
	return true;
}

/* Verifier logs: a buffer for every program the load loads, which libbpf
 * fills for the program the kernel refuses (it asks the kernel for a log
 * only then, so a load that passes costs nothing more). */
#define VERIFIER_LOG_SIZE (1u << 20)

struct verifier_logs {
	char **buf;                   /* by program, in the object's order */
	size_t count;
};

static void verifier_logs_set(struct obj_entry *e, struct verifier_logs *vl)
{
	struct bpf_program *p;
	size_t n = 0;

	bpf_object__for_each_program(p, e->bo)
		n++;
	vl->buf = xcalloc(n + 1, sizeof(*vl->buf));
	vl->count = n;
	n = 0;
	bpf_object__for_each_program(p, e->bo) {
		if (bpf_program__autoload(p)) {
			vl->buf[n] = xcalloc(1, VERIFIER_LOG_SIZE);
			bpf_program__set_log_buf(p, vl->buf[n], VERIFIER_LOG_SIZE);
		}
		n++;
	}
}

static void verifier_logs_free(struct obj_entry *e, struct verifier_logs *vl)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, e->bo)
		bpf_program__set_log_buf(p, NULL, 0);
	for (size_t i = 0; i < vl->count; i++)
		free(vl->buf[i]);
	free(vl->buf);
	memset(vl, 0, sizeof(*vl));
}

/* The program whose load wrote a log (the one refused), NULL if none. */
static struct bpf_program *verifier_logs_failed(struct obj_entry *e,
						const struct verifier_logs *vl, const char **ret_log)
{
	struct bpf_program *p;
	size_t i = 0;

	bpf_object__for_each_program(p, e->bo) {
		if (vl->buf[i] && vl->buf[i][0]) {
			*ret_log = vl->buf[i];
			return p;
		}
		i++;
	}
	return NULL;
}

/* A failed load that was not a map's: the program that failed and the
 * verifier log's tail. */
static void report_load_failure(struct obj_entry *e, const struct verifier_logs *vl,
				const char *for_attachment, int for_line, int err)
{
	const char *vlog = NULL, *tail = NULL;
	struct bpf_program *bad = verifier_logs_failed(e, vl, &vlog);
	char failed[96] = "";

	if (vlog)
		tail = log_tail(vlog, log_verbosity ? 1000000 : 12);
	while (tail && *tail == '\n')
		tail++;
	if (tail && !*tail)
		tail = NULL;
	if (bad)
		snprintf(failed, sizeof(failed), "program '%s' of ", bpf_program__name(bad));
	log_error("attachment '%s' (%s:%d): %sobject '%s' (%s) %s%s%s", for_attachment,
		  e->manifest->path, for_line, failed, e->obj->name, e->obj->file,
		  err == -EACCES || (err == -EINVAL && tail) ?
		  "was rejected by the verifier" :
		  err == -EPERM ? "cannot be loaded: permission denied (needs root or CAP_BPF)" :
		  "cannot be loaded",
		  tail ? "; verifier log (last lines; -v for all):\n" : "",
		  tail ? tail : "");
	if (!tail && err != -EPERM)
		log_error("attachment '%s' (%s:%d): loading object '%s': %s", for_attachment,
			  e->manifest->path, for_line, e->obj->name, strerror(-err));
}

int objects_load(struct obj_entry *e, const char *for_attachment, int for_line, bool dry)
{
	struct verifier_logs vl = {};
	const struct cnf_manifest *m = e->manifest;
	struct bpf_program *p;
	int err;

	if (e->loaded)
		return 0;
	if (e->load_failed)
		return -EINVAL;
	/* Load only the programs some attachment of this manifest uses. */
	bpf_object__for_each_program(p, e->bo) {
		bool used = false;

		for (size_t i = 0; i < m->attachments_count; i++)
			if (m->attachments[i].object == e->obj &&
			    streq_ptr(m->attachments[i].prog_name, bpf_program__name(p)))
				used = true;
		bpf_program__set_autoload(p, used);
	}
	{
		struct bpf_map *map;

		bpf_object__for_each_map(map, e->bo) {
			const char *pin = bpf_map__pin_path(map);
			struct map_plan *g = map_plan_of(e, map);
			char dir[PATH_MAX];
			char *slash;
			int fd;

			if (!pin) {
				/* The running program's map, carried over. */
				if (!dry && g && g->action == MAP_REUSE &&
				    bpf_map__reuse_fd(map, g->old_fd) < 0) {
					log_error("object '%s' (%s:%d): map '%s': cannot use map %u of "
						  "the running program: %s", e->obj->name, OBJ_LOC(e),
						  g->name, g->old_id, strerror(errno));
					e->load_failed = true;
					return -EINVAL;
				}
				continue;
			}
			if (dry) {
				/* A check only: nothing may be pinned. */
				bpf_map__set_pin_path(map, NULL);
				continue;
			}
			if (g && g->action != MAP_KEEP) {
				/* The plan chose the map (objects_plan_maps()), and
				 * the run pins what it creates itself, once every
				 * object is loaded (objects_maps_pin()). */
				bpf_map__set_pin_path(map, NULL);
				fd = g->action == MAP_REUSE ? g->old_fd : g->new_fd;
				if (fd >= 0 && bpf_map__reuse_fd(map, fd) < 0) {
					log_error("object '%s' (%s:%d): map '%s': cannot use the map "
						  "pinned at %s: %s", e->obj->name, OBJ_LOC(e),
						  bpf_map__name(map), g->path, strerror(errno));
					e->load_failed = true;
					return -EINVAL;
				}
				continue;
			}
			/* libbpf pins (or reuses) at load; `pin:` may name
			 * directories under _maps/ that do not exist yet. */
			snprintf(dir, sizeof(dir), "%s", pin);
			slash = strrchr(dir, '/');
			if (slash) {
				*slash = '\0';
				if (mkdir_p(dir, 0700) < 0) {
					log_error("object '%s' (%s:%d): cannot create %s for pinned map "
						  "'%s': %s", e->obj->name, OBJ_LOC(e), dir,
						  bpf_map__name(map), strerror(errno));
					return -EINVAL;
				}
			}
		}
	}
	verifier_logs_set(e, &vl);
	log_libbpf_capture(true);
	err = bpf_object__load(e->bo);
	log_libbpf_capture(false);
	if (err && !report_map_failure(e, for_attachment, for_line, err))
		report_load_failure(e, &vl, for_attachment, for_line, err);
	verifier_logs_free(e, &vl);
	if (err) {
		e->load_failed = true;
		return -EINVAL;
	}
	if (load_entries(e, dry) < 0) {
		e->load_failed = true;
		return -EINVAL;
	}
	e->loaded = true;
	return 0;
}
