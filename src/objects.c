// SPDX-License-Identifier: GPL-2.0-only
/* BPF objects: identity, opening, configuration, loading. */
#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <openssl/evp.h>

#include "cnf/hooks.h"
#include "cnf/log.h"
#include "cnf/objects.h"
#include "cnf/state.h"
#include "cnf/util.h"

/* OpenSSL 3 looks the implementation up on every digest started with
 * EVP_sha256() (EVP_MD_fetch: locks, a property query); fetch it once. */
static const EVP_MD *sha256_md(void)
{
	static EVP_MD *md;

	if (!md)
		md = EVP_MD_fetch(NULL, "SHA256", NULL);
	return md ? md : EVP_sha256();
}

void sha256_buf(const void *buf, size_t len, uint8_t out[CNF_HASH_LEN])
{
	unsigned int n = CNF_HASH_LEN;

	EVP_Digest(buf, len, out, &n, sha256_md(), NULL);
}

int sha256_file(int fd, uint8_t out[CNF_HASH_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char buf[65536];
	unsigned int n = CNF_HASH_LEN;
	ssize_t r;
	int ret = 0;

	if (!ctx)
		return -ENOMEM;
	EVP_DigestInit_ex(ctx, sha256_md(), NULL);
	while ((r = read(fd, buf, sizeof(buf))) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto out;
		}
		EVP_DigestUpdate(ctx, buf, (size_t)r);
	}
	EVP_DigestFinal_ex(ctx, out, &n);
out:
	EVP_MD_CTX_free(ctx);
	return ret;
}

void hash_hex(const uint8_t h[CNF_HASH_LEN], char out[2 * CNF_HASH_LEN + 1])
{
	for (int i = 0; i < CNF_HASH_LEN; i++)
		sprintf(out + 2 * i, "%02x", h[i]);
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
			k++;
		}
	}
	return 0;
}

void objects_free(struct obj_cache *c)
{
	for (size_t i = 0; i < c->count; i++)
		bpf_object__close(c->entries[i].bo);
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
		_cleanup_close_ int fd = -1;
		bool reused = false;

		fd = open(e->obj->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &e->st) < 0) {
			log_error("object '%s' (%s:%d): cannot open '%s': %s", e->obj->name,
				  OBJ_LOC(e), e->obj->path, strerror(errno));
			ret = -EINVAL;
			continue;
		}
		if (!S_ISREG(e->st.st_mode)) {
			log_error("object '%s' (%s:%d): '%s' is not a regular file", e->obj->name,
				  OBJ_LOC(e), e->obj->path);
			ret = -EINVAL;
			continue;
		}
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

			if (!streq(rec_manifests[j], e->manifest->name) ||
			    !record_is_object(r, e->obj->name))
				continue;
			if (r->obj_dev == e->st.st_dev && r->obj_ino == e->st.st_ino &&
			    r->obj_size == (uint64_t)e->st.st_size && r->obj_mtime_ns == mt &&
			    mt != 0) {
				memcpy(e->hash, r->obj_hash, CNF_HASH_LEN);
				reused = true;
			}
		}
		e->hash_from_record = reused;
		if (!reused) {
			int r = sha256_file(fd, e->hash);

			if (r < 0) {
				log_error("object '%s' (%s:%d): reading '%s': %s", e->obj->name,
					  OBJ_LOC(e), e->obj->path, strerror(-r));
				ret = -EINVAL;
			}
		}
		/* Everything else that shapes the loaded programs. */
		{
			EVP_MD_CTX *ctx = EVP_MD_CTX_new();
			unsigned int n = CNF_HASH_LEN;

			if (!ctx)
				return -ENOMEM;
			EVP_DigestInit_ex(ctx, sha256_md(), NULL);
			for (size_t k = 0; k < e->obj->config_count; k++) {
				const struct cnf_config_var *v = &e->obj->config[k];

				EVP_DigestUpdate(ctx, "C", 1);
				EVP_DigestUpdate(ctx, v->name, strlen(v->name) + 1);
				if (v->value)
					EVP_DigestUpdate(ctx, v->value, strlen(v->value) + 1);
				EVP_DigestUpdate(ctx, v->quoted ? "q" : "u", 1);
				for (size_t m = 0; m < v->items_count; m++)
					EVP_DigestUpdate(ctx, v->items[m], strlen(v->items[m]) + 1);
			}
			for (size_t k = 0; k < e->obj->maps_count; k++) {
				const struct cnf_map_opt *mo = &e->obj->maps[k];

				EVP_DigestUpdate(ctx, "M", 1);
				EVP_DigestUpdate(ctx, mo->name, strlen(mo->name) + 1);
				if (mo->pin)
					EVP_DigestUpdate(ctx, mo->pin, strlen(mo->pin) + 1);
			}
			for (size_t k = 0; k < e->obj->programs_count; k++) {
				const struct cnf_prog_opt *po = &e->obj->programs[k];

				EVP_DigestUpdate(ctx, "P", 1);
				EVP_DigestUpdate(ctx, po->name, strlen(po->name) + 1);
				if (po->type)
					EVP_DigestUpdate(ctx, po->type, strlen(po->type) + 1);
			}
			EVP_DigestFinal_ex(ctx, e->cfg_hash, &n);
			EVP_MD_CTX_free(ctx);
		}
	}
	return ret;
}

int objects_check_pinned_maps(struct obj_cache *c)
{
	int ret = 0;

	for (size_t i = 0; i < c->count; i++) {
		struct obj_entry *e = &c->entries[i];
		struct bpf_map *map;

		if (!e->bo)
			continue;
		bpf_object__for_each_map(map, e->bo) {
			const char *pin = bpf_map__pin_path(map);
			struct bpf_map_info info = {};
			__u32 len = sizeof(info);
			_cleanup_close_ int fd = -1;
			char what[160] = "";

			if (!pin)
				continue;
			fd = bpf_obj_get(pin);
			if (fd < 0)
				continue; /* created at load */
			if (bpf_map_get_info_by_fd(fd, &info, &len) < 0)
				continue;
			if (info.type != (__u32)bpf_map__type(map))
				snprintf(what, sizeof(what), "type %s, the object wants %s",
					 libbpf_bpf_map_type_str(info.type),
					 libbpf_bpf_map_type_str(bpf_map__type(map)));
			else if (info.key_size != bpf_map__key_size(map))
				snprintf(what, sizeof(what), "key size %u, the object wants %u",
					 info.key_size, bpf_map__key_size(map));
			else if (info.value_size != bpf_map__value_size(map))
				snprintf(what, sizeof(what), "value size %u, the object wants %u",
					 info.value_size, bpf_map__value_size(map));
			else if (info.max_entries != bpf_map__max_entries(map))
				snprintf(what, sizeof(what), "max_entries %u, the object wants %u",
					 info.max_entries, bpf_map__max_entries(map));
			else if (info.map_flags != bpf_map__map_flags(map))
				snprintf(what, sizeof(what), "flags 0x%x, the object wants 0x%x",
					 info.map_flags, bpf_map__map_flags(map));
			if (!what[0])
				continue;
			{
				int line = manifest_object_line(e->manifest, e->idx, NULL);

				/* Point at the map's own entry in `maps:`. */
				for (size_t k = 0; k < e->obj->maps_count; k++)
					if (streq(e->obj->maps[k].name, bpf_map__name(map)))
						line = e->obj->maps[k].line;
				log_error("object '%s' (%s:%d): map '%s' is pinned at %s with %s; its "
					  "contents cannot carry over to this version, and cnf-apply does "
					  "not drop them on its own: remove the pin to start afresh",
					  e->obj->name, e->manifest->path, line, bpf_map__name(map), pin,
					  what);
			}
			ret = -EINVAL;
		}
	}
	return ret;
}

/* Is map `id` used by any loaded program? */
static bool map_in_use(__u32 id)
{
	__u32 pid = 0;

	while (bpf_prog_get_next_id(pid, &pid) == 0) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info), ids[64];
		_cleanup_close_ int fd = bpf_prog_get_fd_by_id(pid);

		if (fd < 0)
			continue;
		info.nr_map_ids = ARRAY_SIZE(ids);
		info.map_ids = (__u64)(unsigned long)ids;
		if (bpf_prog_get_info_by_fd(fd, &info, &len) < 0)
			continue;
		for (__u32 k = 0; k < info.nr_map_ids && k < ARRAY_SIZE(ids); k++)
			if (ids[k] == id)
				return true;
	}
	return false;
}

int objects_unpin_unused_maps(const struct cnf_manifest *m, const char *bpffs)
{
	int n = 0;

	for (size_t i = 0; i < m->objects_count; i++) {
		for (size_t k = 0; k < m->objects[i].maps_count; k++) {
			const struct cnf_map_opt *mo = &m->objects[i].maps[k];
			struct bpf_map_info info = {};
			__u32 len = sizeof(info);
			char path[PATH_MAX];
			_cleanup_close_ int fd = -1;

			if (!mo->pin)
				continue;
			snprintf(path, sizeof(path), "%s/" CNF_MAPS_DIR "/%s", bpffs, mo->pin);
			fd = bpf_obj_get(path);
			if (fd < 0 || bpf_map_get_info_by_fd(fd, &info, &len) < 0)
				continue;
			if (map_in_use(info.id))
				continue; /* another manifest's programs still use it */
			if (unlink(path) == 0)
				n++;
		}
	}
	return n;
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
		snprintf(path, sizeof(path), "%s/" CNF_MAPS_DIR "/%s", bpffs, mo->pin);
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
		LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = e->obj->name);
		struct bpf_object *bo;
		int err;

		/* Its identity step reported the problem already. */
		if (e->bo || !e->identified)
			continue;
		log_libbpf_capture(true);
		bo = bpf_object__open_file(e->obj->path, &oo);
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
		if (set_prog_types(e) < 0 || set_map_pins(e, c->bpffs) < 0 || apply_config(e) < 0)
			ret = -EINVAL;
	}
	return ret;
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

int objects_load(struct obj_entry *e, const char *for_attachment, int for_line, bool dry)
{
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
			char dir[PATH_MAX];
			char *slash;

			if (!pin)
				continue;
			if (dry) {
				/* A check only: nothing may be pinned. */
				bpf_map__set_pin_path(map, NULL);
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
	log_libbpf_capture(true);
	err = bpf_object__load(e->bo);
	log_libbpf_capture(false);
	if (err) {
		const char *log = log_libbpf_captured();
		const char *vstart = strstr(log, "-- BEGIN PROG LOAD LOG --");
		const char *tail = NULL;
		_cleanup_free_ char *vlog = NULL;
		char failed[96] = "";

		if (vstart) {
			const char *vend = strstr(vstart, "-- END PROG LOAD LOG --");

			vstart += strlen("-- BEGIN PROG LOAD LOG --");
			vlog = strndup(vstart, vend ? (size_t)(vend - vstart) : strlen(vstart));
			if (vlog)
				tail = log_tail(vlog, log_verbosity ? 1000000 : 12);
		}
		while (tail && *tail == '\n')
			tail++;
		/* libbpf names the program that failed: "prog 'x': BPF program load failed". */
		{
			const char *pp = strstr(log, "prog '");

			if (pp) {
				pp += strlen("prog '");
				snprintf(failed, sizeof(failed), "program '%.*s' of ",
					 (int)strcspn(pp, "'"), pp);
			}
		}
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
		e->load_failed = true;
		return -EINVAL;
	}
	e->loaded = true;
	return 0;
}
