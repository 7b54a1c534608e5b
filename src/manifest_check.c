// SPDX-License-Identifier: GPL-2.0-only
/* The manifest's checks: what can be checked without objects or a kernel
 * (names, references between entries, pins, who can change the files,
 * each attachment's keys by its hook family's row, ordering anchors,
 * map `entries:`). The loader (manifest.c) runs them on each manifest.
 * Every problem is logged once as "FILE:LINE: <entry>: <message>". */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>

#include "cnf/log.h"
#include "cnf/manifest.h"
#include "cnf/suggest.h"
#include "cnf/trust.h"
#include "cnf/util.h"
#include "manifest_check.h"
#include "manifest_pos.h"

#define PIN_PATH_MAX 200
#define IFNAME_MAX 15            /* IFNAMSIZ - 1 */

/* ---- Names and small parsers ----------------------------------------- */

static bool is_lower_or_digit(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

static bool is_alnum(char ch)
{
	return is_lower_or_digit(ch) || (ch >= 'A' && ch <= 'Z');
}

bool cnf_name_valid(const char *name)
{
	size_t n;

	if (!name || !is_lower_or_digit(name[0]))
		return false;
	n = strlen(name);
	if (n > CNF_NAME_MAX)
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_lower_or_digit(name[i]) && name[i] != '_' && name[i] != '-')
			return false;
	return true;
}

bool cnf_entry_name_valid(const char *name)
{
	size_t n;

	if (!name || !is_alnum(name[0]))
		return false;
	n = strlen(name);
	if (n > CNF_NAME_MAX)
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_alnum(name[i]) && name[i] != '_' && name[i] != '-')
			return false; /* bpffs refuses '.' in names */
	return true;
}

enum pin_problem { PIN_OK, PIN_ESCAPES, PIN_CHARS, PIN_LONG };

static enum pin_problem pin_check(const char *pin)
{
	size_t len = strlen(pin);

	if (len > PIN_PATH_MAX)
		return PIN_LONG;
	if (!len || pin[0] == '/')
		return PIN_ESCAPES;
	for (const char *c = pin; *c;) {
		size_t n = strcspn(c, "/");

		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return PIN_ESCAPES;
		for (size_t i = 0; i < n; i++)
			if (!is_alnum(c[i]) && c[i] != '_' && c[i] != '-')
				return PIN_CHARS; /* bpffs refuses '.' in names */
		c += n;
		if (*c == '/' && !*++c)
			return PIN_ESCAPES;     /* trailing slash: an empty component */
	}
	return PIN_OK;
}

static bool has_dotdot_component(const char *p)
{
	for (const char *c = p; *c;) {
		size_t n = strcspn(c, "/");

		if (n == 2 && c[0] == '.' && c[1] == '.')
			return true;
		c += n;
		if (*c == '/')
			c++;
	}
	return false;
}

static const char *ifname_problem(const char *s)
{
	if (!*s)
		return "is empty";
	if (strlen(s) > IFNAME_MAX)
		return "is longer than 15 characters";
	if (streq(s, ".") || streq(s, ".."))
		return "is not an interface name";
	for (const char *c = s; *c; c++)
		if (*c == '/' || *c == ':' || *c == ' ' || *c == '\t' || *c == '\n')
			return "contains '/', ':' or white space";
	return NULL;
}

/* "OBJECT/NAME" with one slash and both parts non-empty. */
static bool ref_split(const char *ref, size_t *ret_objlen)
{
	const char *slash = strchr(ref, '/');

	if (!slash || slash == ref || !slash[1] || strchr(slash + 1, '/'))
		return false;
	*ret_objlen = (size_t)(slash - ref);
	return true;
}

/* ---- Who can change a file ------------------------------------------- */

/* Run as root, cnf-apply loads and attaches whatever its manifests name:
 * whoever can change a manifest or an object file -- or replace it, or a
 * directory on the way to it -- can make root run their code in the
 * kernel. So, as root, such a file must be owned by root and not writable
 * by group or others, and every directory a name is looked up in on the
 * way to it (following symbolic links) must be owned by root and not
 * writable by group or others unless it has the sticky bit (like /tmp,
 * where no one can rename or remove another user's entry). A symbolic
 * link in such a shared sticky directory must be owned by root too, as
 * the kernel's fs.protected_symlinks wants for open(). Not run as root,
 * the tool can do nothing its user could not do anyway: nothing is
 * checked. */


/* As root: can only root change the object file `path`? A file that
 * does not exist (yet) is left to the object loader, which reports it
 * when it opens the file and checks that file's owner and mode again.
 * That also keeps manifests loaded from buffers under made-up names
 * (unit tests, the fuzzer) from walking the current directory. */
static bool object_trusted(const char *path, char *why, size_t whylen)
{
	struct stat st;
	int r;

	if (geteuid() != 0 || stat(path, &st) < 0)
		return true;
	r = trust_walk(path, &st, why, whylen);
	if (r == -EPERM)
		return false;
	if (r < 0 || !S_ISREG(st.st_mode))
		return true;
	return !trust_problem(&st, "it", true, why, whylen);
}

/* ---- Sorted name lookups --------------------------------------------- */

struct name_ref {
	const char *name;
	size_t idx;
};

static int name_ref_cmp(const void *a, const void *b)
{
	const struct name_ref *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	if (r)
		return r;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Sorts the references; returns dup[i] = the first entry with the same
 * name as entry i (i itself for the first), SIZE_MAX without a name. */
static size_t *name_refs_sort(struct name_ref *refs, size_t n, size_t count)
{
	size_t *dup = xcalloc(count, sizeof(*dup));

	for (size_t i = 0; i < count; i++)
		dup[i] = SIZE_MAX;
	qsort(refs, n, sizeof(*refs), name_ref_cmp);
	for (size_t k = 0, first = 0; k < n; k++) {
		if (k == 0 || strcmp(refs[k].name, refs[k - 1].name))
			first = refs[k].idx;
		dup[refs[k].idx] = first;
	}
	return dup;
}

/* Lowest index with `name` (length `len`) among sorted refs, or SIZE_MAX. */
static size_t name_refs_find(const struct name_ref *refs, size_t n, const char *name,
			     size_t len)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strncmp(refs[mid].name, name, len);

		if (r == 0 && refs[mid].name[len])
			r = 1;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < n && !strncmp(refs[lo].name, name, len) && !refs[lo].name[len])
		return refs[lo].idx;
	return SIZE_MAX;
}

/* ---- Checks ------------------------------------------------------------ */

#define CHK_MAX_ERRORS 50       /* per manifest; the rest are counted */

struct chk {
	const char *path;
	struct cnf_manifest *m;
	struct mdoc *d;
	unsigned errors;
	unsigned suppressed;            /* errors counted, not shown */
	struct name_ref *objs;          /* objects by name */
	size_t objs_count;
	struct name_ref *atts;          /* attachments by name */
	size_t atts_count;
	char *known_objects;            /* see known_objects() */
};

static void chk_vlog(struct chk *c, int line, const char *label, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

static void chk_vlog(struct chk *c, int line, const char *label, const char *fmt, va_list ap)
{
	_cleanup_free_ char *msg = NULL;

	/* A hostile file can hold tens of thousands of problems: show the
	 * first ones, count the rest (reported by manifest_check()). */
	if (c->errors >= CHK_MAX_ERRORS) {
		c->errors++;
		c->suppressed++;
		return;
	}
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	log_error("%s (%s:%d): %s", label, c->path, line, msg ? msg : "(out of memory)");
	c->errors++;
}

/* A problem at `line` of entry `idx` (of kind `kind`, named `name`). */
static void chk_log(struct chk *c, int line, const char *kind, const char *name, size_t idx,
		    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void chk_log(struct chk *c, int line, const char *kind, const char *name, size_t idx,
		    const char *fmt, ...)
{
	_cleanup_free_ char *label = manifest_entry_label(kind, name, idx);
	va_list ap;

	va_start(ap, fmt);
	chk_vlog(c, line, label, fmt, ap);
	va_end(ap);
}

static void man_err(struct chk *c, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void man_err(struct chk *c, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	chk_vlog(c, mdoc_top_line(c->d, key), "manifest", fmt, ap);
	va_end(ap);
}

static void obj_err(struct chk *c, size_t i, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void obj_err(struct chk *c, size_t i, const char *key, const char *fmt, ...)
{
	_cleanup_free_ char *label = manifest_entry_label("object", c->m->objects[i].name, i);
	va_list ap;

	va_start(ap, fmt);
	chk_vlog(c, manifest_object_line(c->m, i, key), label, fmt, ap);
	va_end(ap);
}

/* A problem in entry `j` of an object's `maps` or `programs`. */
static void sub_err(struct chk *c, size_t i, const char *list, size_t j, const char *name,
		    const char *key, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

static void sub_err(struct chk *c, size_t i, const char *list, size_t j, const char *name,
		    const char *key, const char *fmt, ...)
{
	_cleanup_free_ char *olabel = manifest_entry_label("object", c->m->objects[i].name, i);
	_cleanup_free_ char *slabel = manifest_entry_label(manifest_entry_kind(list), name, j);
	_cleanup_free_ char *label = strprintf("%s: %s", olabel, slabel);
	yaml_node_t *entry = mdoc_item(c->d, mdoc_get(c->d, mdoc_entry(c->d, "objects", i),
						      list, NULL), j);
	yaml_node_t *k = NULL;
	va_list ap;

	if (key)
		mdoc_get(c->d, entry, key, &k);
	va_start(ap, fmt);
	chk_vlog(c, mdoc_line(k ? k : entry), label ? label : olabel, fmt, ap);
	va_end(ap);
}

static void att_verr(struct chk *c, size_t i, int line, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

static void att_verr(struct chk *c, size_t i, int line, const char *fmt, va_list ap)
{
	_cleanup_free_ char *label = manifest_entry_label("attachment", c->m->attachments[i].name, i);

	chk_vlog(c, line, label, fmt, ap);
}

static void att_err(struct chk *c, size_t i, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void att_err(struct chk *c, size_t i, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	att_verr(c, i, manifest_attachment_line(c->m, i, key), fmt, ap);
	va_end(ap);
}

static void att_err_line(struct chk *c, size_t i, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void att_err_line(struct chk *c, size_t i, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	att_verr(c, i, line, fmt, ap);
	va_end(ap);
}

/* Line of item `j` of the list under `key` in attachment `i`. */
static int att_item_line(struct chk *c, size_t i, const char *key, size_t j)
{
	yaml_node_t *list = mdoc_get(c->d, mdoc_entry(c->d, "attachments", i), key, NULL);
	yaml_node_t *it = mdoc_item(c->d, list, j);

	return it ? mdoc_line(it) : manifest_attachment_line(c->m, i, key);
}

static void check_top(struct chk *c)
{
	struct cnf_manifest *m = c->m;
	yaml_node_t *root = mdoc_root(c->d);

	if (!m->api_version)
		man_err(c, NULL, "missing required key 'apiVersion' (use '%s')", CNF_API_VERSION);
	else if (!streq(m->api_version, CNF_API_VERSION))
		man_err(c, "apiVersion", "unsupported apiVersion '%s' (expected '%s')",
			m->api_version, CNF_API_VERSION);

	if (!m->name)
		man_err(c, NULL, "missing required key 'name'");
	else if (!cnf_name_valid(m->name))
		man_err(c, "name", "invalid name '%s': use lowercase letters, digits, '-' and '_', "
			"starting with a letter or digit, at most %d characters",
			m->name, CNF_NAME_MAX);

	if (!mdoc_get(c->d, root, "objects", NULL))
		man_err(c, NULL, "missing required key 'objects'");
	else if (!m->objects_count)
		man_err(c, "objects", "key 'objects' must list at least one object");

	if (!mdoc_get(c->d, root, "attachments", NULL))
		man_err(c, NULL, "missing required key 'attachments' "
			"(an empty list 'attachments: []' removes everything this manifest owns)");
}

/* Reports entries whose name was used before in the same list. */
static void check_dup_objects(struct chk *c, const size_t *dup)
{
	for (size_t i = 0; i < c->m->objects_count; i++)
		if (dup[i] != SIZE_MAX && dup[i] != i)
			obj_err(c, i, "name", "duplicate name: also used by the object at line %d",
				manifest_object_line(c->m, dup[i], "name"));
}

/* ---- `entries:` of a map ---- */

static const char *yaml_kind(const yaml_node_t *n)
{
	return n->type == YAML_SEQUENCE_NODE ? "a list" :
	       n->type == YAML_MAPPING_NODE ? "a mapping" : "a value";
}

/* A problem at `line` in the `entries:` of map `j` of object `i`. */
static void entry_err(struct chk *c, size_t i, size_t j, int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void entry_err(struct chk *c, size_t i, size_t j, int line, const char *fmt, ...)
{
	_cleanup_free_ char *olabel = manifest_entry_label("object", c->m->objects[i].name, i);
	_cleanup_free_ char *mlabel = manifest_entry_label("map", c->m->objects[i].maps[j].name, j);
	_cleanup_free_ char *label = strprintf("%s: %s", olabel, mlabel);
	va_list ap;

	va_start(ap, fmt);
	chk_vlog(c, line, label ? label : olabel, fmt, ap);
	va_end(ap);
}

/* The key or the value of entry `k`: a scalar, or a list of scalars. */
static void read_entry_part(struct chk *c, size_t i, size_t j, size_t k, yaml_node_t *item,
			    const char *what, struct cnf_config_var *v)
{
	yaml_node_t *key = NULL, *n = mdoc_get(c->d, item, what, &key);

	v->name = xstrdup(what);
	if (!n) {
		entry_err(c, i, j, mdoc_line(item), "entry %zu: missing required key '%s'", k + 1,
			  what);
		return;
	}
	v->line = mdoc_line(n);
	if (mdoc_get_key_nth(c->d, item, what, 1)) {
		entry_err(c, i, j, mdoc_line(mdoc_get_key_nth(c->d, item, what, 1)),
			  "entry %zu: duplicate key '%s' (first at line %d)", k + 1, what,
			  mdoc_line(key));
		return;
	}
	if (n->type == YAML_MAPPING_NODE || (n->type == YAML_SCALAR_NODE && mdoc_is_null(n))) {
		entry_err(c, i, j, v->line, "entry %zu: %s: expected a value or a list of values, "
			  "got %s", k + 1, what, n->type == YAML_MAPPING_NODE ? "a mapping" : "nothing");
		return;
	}
	if (n->type == YAML_SCALAR_NODE) {
		v->value = xstrdup(mdoc_scalar(n));
		/* Any non-plain style is a string, never a number. */
		v->quoted = n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
		return;
	}
	v->items = xcalloc(mdoc_len(n) + 1, sizeof(*v->items));
	for (size_t x = 0; x < mdoc_len(n); x++) {
		yaml_node_t *it = mdoc_item(c->d, n, x);

		if (it->type != YAML_SCALAR_NODE || mdoc_is_null(it)) {
			entry_err(c, i, j, mdoc_line(it), "entry %zu: %s: item %zu: expected a value, "
				  "got %s", k + 1, what, x + 1,
				  it->type == YAML_SCALAR_NODE ? "nothing" : yaml_kind(it));
			return;
		}
		v->items[v->items_count++] = xstrdup(mdoc_scalar(it));
	}
}

/* `entries:` of map `j` of object `i`: a list of {key: K, value: V}. The
 * typed loader ignores the key, duplicates included. */
static void read_map_entries(struct chk *c, size_t i, size_t j, yaml_node_t *map,
			     struct cnf_map_opt *mo)
{
	yaml_node_t *key = NULL, *list = mdoc_get(c->d, map, "entries", &key);

	if (!list)
		return;
	if (mdoc_get_key_nth(c->d, map, "entries", 1)) {
		entry_err(c, i, j, mdoc_line(mdoc_get_key_nth(c->d, map, "entries", 1)),
			  "duplicate key 'entries' (first at line %d)", mdoc_line(key));
		return;
	}
	if (list->type != YAML_SEQUENCE_NODE) {
		entry_err(c, i, j, mdoc_line(key), "key 'entries': expected a list of "
			  "{key: ..., value: ...}, got %s",
			  mdoc_is_null(list) ? "nothing" : yaml_kind(list));
		return;
	}
	mo->entries = xcalloc(mdoc_len(list) + 1, sizeof(*mo->entries));
	for (size_t k = 0; k < mdoc_len(list); k++) {
		yaml_node_t *item = mdoc_item(c->d, list, k);
		struct cnf_map_entry *me = &mo->entries[mo->entries_count];

		if (item->type != YAML_MAPPING_NODE) {
			entry_err(c, i, j, mdoc_line(item), "entry %zu: expected a mapping "
				  "{key: ..., value: ...}, got %s", k + 1, yaml_kind(item));
			continue;
		}
		for (yaml_node_pair_t *p = item->data.mapping.pairs.start;
		     p < item->data.mapping.pairs.top; p++) {
			yaml_node_t *kn = yaml_document_get_node(&c->d->doc, p->key);
			const char *name = mdoc_scalar(kn);

			if (!name || (!streq(name, "key") && !streq(name, "value")))
				entry_err(c, i, j, mdoc_line(kn), "entry %zu: unknown key '%s' "
					  "(an entry has 'key' and 'value')", k + 1,
					  name ? name : "?");
		}
		me->line = mdoc_line(item);
		/* Kept even when broken, so that it is freed with the rest. */
		mo->entries_count++;
		read_entry_part(c, i, j, k, item, "key", &me->key);
		read_entry_part(c, i, j, k, item, "value", &me->value);
	}
}

static void check_object_subs(struct chk *c, size_t i)
{
	struct cnf_object *o = &c->m->objects[i];
	yaml_node_t *entry = mdoc_entry(c->d, "objects", i);
	yaml_node_t *maps = mdoc_get(c->d, entry, "maps", NULL);
	yaml_node_t *progs = mdoc_get(c->d, entry, "programs", NULL);
	_cleanup_free_ struct name_ref *refs = NULL;
	_cleanup_free_ size_t *dup = NULL;
	size_t n = 0;

	refs = xcalloc(o->maps_count, sizeof(*refs));
	for (size_t j = 0; j < o->maps_count; j++) {
		struct cnf_map_opt *mo = &o->maps[j];

		mo->line = mdoc_line(mdoc_item(c->d, maps, j));
		if (!mo->name || !*mo->name) {
			sub_err(c, i, "maps", j, NULL, mo->name ? "name" : NULL,
				mo->name ? "key 'name' must not be empty" : "missing required key 'name'");
			continue;
		}
		refs[n++] = (struct name_ref){ mo->name, j };
		if (mo->on_incompatible && !streq(mo->on_incompatible, "refuse") &&
		    !streq(mo->on_incompatible, "recreate"))
			sub_err(c, i, "maps", j, mo->name, "on_incompatible",
				"on_incompatible '%s' is not one of: refuse, recreate",
				mo->on_incompatible);
		read_map_entries(c, i, j, mdoc_item(c->d, maps, j), mo);
		if (!mo->pin)
			continue;
		switch (pin_check(mo->pin)) {
		case PIN_OK:
			break;
		case PIN_ESCAPES:
			sub_err(c, i, "maps", j, mo->name, "pin",
				"pin path '%s' escapes the bpffs root: use a relative path "
				"such as 'shared/%s', without '.', '..' or empty components",
				mo->pin, mo->name);
			break;
		case PIN_CHARS:
			sub_err(c, i, "maps", j, mo->name, "pin",
				"pin path '%s' is invalid: path components may only contain "
				"letters, digits, '-' and '_' (bpffs refuses '.')", mo->pin);
			break;
		case PIN_LONG:
			sub_err(c, i, "maps", j, mo->name, "pin",
				"pin path '%.40s...' is longer than %d characters",
				mo->pin, PIN_PATH_MAX);
			break;
		}
	}
	dup = name_refs_sort(refs, n, o->maps_count);
	for (size_t j = 0; j < o->maps_count; j++)
		if (dup[j] != SIZE_MAX && dup[j] != j)
			sub_err(c, i, "maps", j, o->maps[j].name, "name",
				"duplicate name: also listed at line %d", o->maps[dup[j]].line);
	free(TAKE_PTR(refs));
	free(TAKE_PTR(dup));

	n = 0;
	refs = xcalloc(o->programs_count, sizeof(*refs));
	for (size_t j = 0; j < o->programs_count; j++) {
		struct cnf_prog_opt *po = &o->programs[j];

		po->line = mdoc_line(mdoc_item(c->d, progs, j));
		if (!po->name || !*po->name) {
			sub_err(c, i, "programs", j, NULL, po->name ? "name" : NULL,
				po->name ? "key 'name' must not be empty" : "missing required key 'name'");
			continue;
		}
		refs[n++] = (struct name_ref){ po->name, j };
		if (po->type && !*po->type)
			sub_err(c, i, "programs", j, po->name, "type", "key 'type' must not be empty");
	}
	dup = name_refs_sort(refs, n, o->programs_count);
	for (size_t j = 0; j < o->programs_count; j++)
		if (dup[j] != SIZE_MAX && dup[j] != j)
			sub_err(c, i, "programs", j, o->programs[j].name, "name",
				"duplicate name: also listed at line %d", o->programs[dup[j]].line);
}

static void check_config_dups(struct chk *c, size_t i)
{
	struct cnf_object *o = &c->m->objects[i];
	_cleanup_free_ struct name_ref *refs = xcalloc(o->config_count, sizeof(*refs));
	_cleanup_free_ size_t *dup = NULL;

	for (size_t j = 0; j < o->config_count; j++)
		refs[j] = (struct name_ref){ o->config[j].name, j };
	dup = name_refs_sort(refs, o->config_count, o->config_count);
	for (size_t j = 0; j < o->config_count; j++)
		if (dup[j] != j)
			chk_log(c, o->config[j].line, "object", o->name, i,
				"config '%s' is set twice (first at line %d)", o->config[j].name,
				o->config[dup[j]].line);
}

static void check_objects(struct chk *c)
{
	struct cnf_manifest *m = c->m;
	_cleanup_free_ size_t *dup = NULL;

	c->objs = xcalloc(m->objects_count, sizeof(*c->objs));
	for (size_t i = 0; i < m->objects_count; i++) {
		struct cnf_object *o = &m->objects[i];
		_cleanup_free_ char *label = NULL;

		o->line = manifest_object_line(m, i, NULL);
		if (!o->name) {
			obj_err(c, i, NULL, "missing required key 'name'");
		} else if (!cnf_entry_name_valid(o->name)) {
			obj_err(c, i, "name", "invalid name: use letters, digits, '-' and '_' (bpffs refuses '.'), "
				"starting with a letter or digit, at most %d characters", CNF_NAME_MAX);
		} else {
			c->objs[c->objs_count++] = (struct name_ref){ o->name, i };
		}

		if (!o->file)
			obj_err(c, i, NULL, "missing required key 'file'");
		else if (!*o->file)
			obj_err(c, i, "file", "key 'file' must not be empty");
		else if (o->file[0] == '/')
			o->path = xstrdup(o->file);
		else if (!(o->path = strprintf("%s/%s", m->dir, o->file)))
			abort();
		if (o->path) {
			char why[PATH_MAX + 256];

			if (!object_trusted(o->path, why, sizeof(why)))
				obj_err(c, i, "file", "refusing to load '%s' as root: %s; whoever can "
					"change an object can make cnf-apply attach any BPF program: "
					TRUST_HINT, o->path, why);
		}

		label = manifest_entry_label("object", o->name, i);
		c->errors += mdoc_read_config(c->d, c->path, i, o, label);
		check_config_dups(c, i);
		check_object_subs(c, i);
	}
	dup = name_refs_sort(c->objs, c->objs_count, m->objects_count);
	check_dup_objects(c, dup);
}

static const char *const akey_names[AK__COUNT] = {
	[AK_PROGRAM] = "program", [AK_MAP] = "map", [AK_INTERFACE] = "interface",
	[AK_INTERFACES] = "interfaces", [AK_NETNS] = "netns", [AK_MODE] = "mode",
	[AK_DIRECTION] = "direction", [AK_ORDER] = "order", [AK_BEFORE] = "before",
	[AK_AFTER] = "after", [AK_PRIORITY] = "priority", [AK_HANDLE] = "handle",
	[AK_SIDE] = "side", [AK_CGROUP] = "cgroup", [AK_ATTACH_TYPE] = "attach_type",
	[AK_TRACEPOINT] = "tracepoint", [AK_FUNCTION] = "function",
	[AK_FUNCTIONS] = "functions", [AK_BINARY] = "binary", [AK_SYMBOL] = "symbol",
	[AK_OFFSET] = "offset", [AK_PID] = "pid", [AK_FAMILY] = "family",
	[AK_NETFILTER_HOOK] = "netfilter_hook", [AK_MAXACTIVE] = "maxactive",
};

const char *akey_name(enum akey k)
{
	return k < AK__COUNT ? akey_names[k] : "?";
}

#define B(k) AK_BIT(k)
#define PROG B(AK_PROGRAM)

static char *join_words(const char *const *words)
{
	size_t len = 1;
	char *s;

	for (size_t i = 0; words[i]; i++)
		len += strlen(words[i]) + 2;
	s = xcalloc(1, len);
	for (size_t i = 0; words[i]; i++) {
		if (i)
			strcat(s, ", ");
		strcat(s, words[i]);
	}
	return s;
}

static void check_enum(struct chk *c, size_t i, const char *key, const char *value,
		       const char *const *set)
{
	_cleanup_free_ char *known = NULL;

	for (size_t k = 0; set[k]; k++)
		if (streq(value, set[k]))
			return;
	known = join_words(set);
	att_err(c, i, key, "%s '%s' is not one of: %s", key, value, known);
}

static void check_nonempty(struct chk *c, size_t i, const char *key, const char *value)
{
	if (value && !*value)
		att_err(c, i, key, "key '%s' must not be empty", key);
}

/* Which keys each hook family takes and needs, and their values, are on
 * its row of the hook table. `name` and `hook` apply everywhere. */
static const struct hook_keys *hook_rule_find(const char *hook)
{
	return hook_keys_of(hook);
}

/* A hint for an unknown hook: a parameter written into its name
 * ("tcx_ingress": hook 'tcx' with 'direction: ingress'), else the closest
 * hook name. "" when there is none. */
static char *hook_hint(const char *hook, const char *const *names)
{
	const char *sep = hook + strcspn(hook, "_-/ "), *close;
	_cleanup_free_ char *base = strndup(hook, (size_t)(sep - hook));
	const struct hook_keys *rule = base && *sep ? hook_rule_find(base) : NULL;

	/* A word one of the family's keys takes ("tcx_ingress"). */
	for (const struct hook_key_rule *r = rule ? rule->rules : NULL; r && r->key != AK__COUNT; r++)
		for (size_t k = 0; r->words && r->words[k]; k++)
			if (streq(sep + 1, r->words[k]))
				return strprintf("; use hook '%s' with '%s: %s'", base,
						 akey_names[r->key], r->words[k]);
	close = suggest_word(hook, names);
	return close ? strprintf("; did you mean '%s'?", close) : xstrdup("");
}

/* Keys the attachment's mapping actually contains. */
static uint32_t att_keys_present(struct chk *c, size_t i)
{
	yaml_node_t *entry = mdoc_entry(c->d, "attachments", i);
	uint32_t present = 0;

	if (!entry || entry->type != YAML_MAPPING_NODE)
		return 0;
	for (yaml_node_pair_t *p = entry->data.mapping.pairs.start;
	     p < entry->data.mapping.pairs.top; p++) {
		const char *k = mdoc_scalar(yaml_document_get_node(&c->d->doc, p->key));

		for (unsigned a = 0; k && a < AK__COUNT; a++)
			if (streq(k, akey_names[a]))
				present |= B(a);
	}
	return present;
}

#define KNOWN_OBJECTS_SHOWN 8

/* "fw, tc", the objects a reference may name, for messages: built once
 * per manifest, and only the first few of a long list. */
static const char *known_objects(struct chk *c)
{
	const struct cnf_manifest *m = c->m;
	size_t len = 0, shown = 0, named = 0;
	char *s;

	if (c->known_objects)
		return c->known_objects;
	for (size_t k = 0; k < m->objects_count; k++)
		if (m->objects[k].name) {
			named++;
			if (shown < KNOWN_OBJECTS_SHOWN) {
				len += strlen(m->objects[k].name) + 2;
				shown++;
			}
		}
	s = xcalloc(1, len + 64);
	shown = 0;
	for (size_t k = 0; k < m->objects_count && shown < KNOWN_OBJECTS_SHOWN; k++) {
		if (!m->objects[k].name)
			continue;
		if (shown++)
			strcat(s, ", ");
		strcat(s, m->objects[k].name);
	}
	if (!named)
		strcpy(s, "none");
	else if (named > shown)
		sprintf(s + strlen(s), ", ... (%zu in all)", named);
	c->known_objects = s;
	return s;
}

/* `program: OBJECT/PROGRAM` or struct_ops `map: OBJECT/MAP`. */
static void check_ref(struct chk *c, size_t i, const char *key, const char *ref,
		      const char *what)
{
	struct cnf_attachment *a = &c->m->attachments[i];
	size_t objlen, oi;

	if (!ref_split(ref, &objlen)) {
		att_err(c, i, key, "%s '%s' must be written OBJECT/%s", key, ref, what);
		return;
	}
	oi = name_refs_find(c->objs, c->objs_count, ref, objlen);
	if (oi == SIZE_MAX) {
		att_err(c, i, key, "%s '%s' names object '%.*s', which this manifest does not "
			"define (objects: %s)", key, ref, (int)objlen, ref, known_objects(c));
		return;
	}
	a->object = &c->m->objects[oi];
	if (streq(key, "program"))
		a->prog_name = ref + objlen + 1;
}

static void check_interfaces(struct chk *c, size_t i, uint32_t present)
{
	struct cnf_attachment *a = &c->m->attachments[i];
	const char *why;

	if ((present & B(AK_INTERFACE)) && (present & B(AK_INTERFACES))) {
		att_err(c, i, "interfaces", "keys 'interface' and 'interfaces' are mutually exclusive");
		return;
	}
	if (!(present & (B(AK_INTERFACE) | B(AK_INTERFACES)))) {
		att_err(c, i, NULL, "missing required key 'interface' (or 'interfaces') for hook '%s'",
			a->hook);
		return;
	}
	if (a->interface && (why = ifname_problem(a->interface)))
		att_err(c, i, "interface", "interface name '%s' %s", a->interface, why);
	if ((present & B(AK_INTERFACES)) && !a->interfaces_count)
		att_err(c, i, "interfaces", "key 'interfaces' must list at least one interface");
	for (size_t j = 0; j < a->interfaces_count; j++)
		if ((why = ifname_problem(a->interfaces[j])))
			att_err_line(c, i, att_item_line(c, i, "interfaces", j),
				     "interface name '%s' %s", a->interfaces[j], why);
}

/* The value of an integer key, NULL when absent or not an integer key. */
static const int64_t *att_int(const struct cnf_attachment *a, enum akey k)
{
	switch (k) {
	case AK_PRIORITY:  return a->priority;
	case AK_HANDLE:    return a->handle;
	case AK_OFFSET:    return a->offset;
	case AK_PID:       return a->pid;
	case AK_MAXACTIVE: return a->maxactive;
	default:           return NULL;
	}
}

/* The value of a word key, NULL when absent or not a word key. */
static const char *att_word(const struct cnf_attachment *a, enum akey k)
{
	switch (k) {
	case AK_MODE:           return a->mode;
	case AK_DIRECTION:      return a->direction;
	case AK_ORDER:          return a->order;
	case AK_SIDE:           return a->side;
	case AK_FAMILY:         return a->family;
	case AK_NETFILTER_HOOK: return a->netfilter_hook;
	default:                return NULL;
	}
}

/* The values the family's row allows for its keys. */
static void check_rule_values(struct chk *c, size_t i, const struct hook_keys *rule,
			      uint32_t use)
{
	const struct cnf_attachment *a = &c->m->attachments[i];

	for (const struct hook_key_rule *r = rule->rules; r && r->key != AK__COUNT; r++) {
		const char *word = att_word(a, r->key);
		const int64_t *n = att_int(a, r->key);

		if (!(use & B(r->key)))
			continue;
		if (r->words && word)
			check_enum(c, i, akey_names[r->key], word, r->words);
		else if (!r->words && n && (*n < r->min || *n > r->max))
			att_err(c, i, akey_names[r->key], r->max == UINT32_MAX /* a handle */ ?
				"%s %" PRId64 " is out of range (%" PRId64 "..0x%" PRIx64 ")" :
				"%s %" PRId64 " is out of range (%" PRId64 "..%" PRId64 ")",
				akey_names[r->key], *n, r->min, r->max);
	}
}

/* The family's own checks report through this. */
struct key_err_ctx {
	struct chk *c;
	size_t i;
};

static void key_err(void *ctx, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void key_err(void *ctx, const char *key, const char *fmt, ...)
{
	struct key_err_ctx *k = ctx;
	va_list ap;

	va_start(ap, fmt);
	att_verr(k->c, k->i, manifest_attachment_line(k->c->m, k->i, key), fmt, ap);
	va_end(ap);
}

static void check_ordering_keys(struct chk *c, size_t i, uint32_t use)
{
	const char *second = NULL;
	unsigned n = 0;

	for (unsigned k = AK_ORDER; k <= AK_AFTER; k++)
		if ((use & B(k)) && ++n == 2)
			second = akey_names[k];
	if (second)
		att_err(c, i, second, "only one of 'order', 'before' and 'after' may be set");
}

static void check_hook_values(struct chk *c, size_t i, const struct hook_keys *rule,
			      uint32_t present)
{
	struct cnf_attachment *a = &c->m->attachments[i];
	uint32_t use = present & rule->keys;
	struct key_err_ctx kc = { c, i };

	if (rule->keys & B(AK_INTERFACE))
		check_interfaces(c, i, present);
	if ((use & B(AK_NETNS)) && a->netns && a->netns[0] != '/')
		att_err(c, i, "netns", "netns '%s' must be an absolute path, e.g. /run/netns/NAME",
			a->netns);
	if (use & AK_ORDERING)
		check_ordering_keys(c, i, use);
	check_rule_values(c, i, rule, use);
	if (use & B(AK_CGROUP)) {
		if (a->cgroup && !*a->cgroup)
			check_nonempty(c, i, "cgroup", a->cgroup);
		else if (a->cgroup && has_dotdot_component(a->cgroup))
			att_err(c, i, "cgroup", "cgroup path '%s' must not contain '..'", a->cgroup);
	}
	if (use & B(AK_ATTACH_TYPE))
		check_nonempty(c, i, "attach_type", a->attach_type);
	if (use & B(AK_TRACEPOINT))
		check_nonempty(c, i, "tracepoint", a->tracepoint);
	if (use & B(AK_FUNCTION))
		check_nonempty(c, i, "function", a->function);
	if (use & B(AK_FUNCTIONS)) {
		if (!a->functions_count)
			att_err(c, i, "functions", "key 'functions' must list at least one function");
		for (size_t j = 0; j < a->functions_count; j++)
			if (!*a->functions[j])
				att_err_line(c, i, att_item_line(c, i, "functions", j),
					     "key 'functions': entry %zu is empty", j + 1);
	}
	if (use & B(AK_BINARY))
		check_nonempty(c, i, "binary", a->binary);
	if (use & B(AK_SYMBOL))
		check_nonempty(c, i, "symbol", a->symbol);
	if ((use & B(AK_OFFSET)) && a->offset && *a->offset < 0)
		att_err(c, i, "offset", "offset %" PRId64 " must not be negative", *a->offset);
	if ((use & B(AK_PID)) && a->pid && (*a->pid < 1 || *a->pid > INT32_MAX))
		att_err(c, i, "pid", "pid %" PRId64 " is not a process id (must be > 0)", *a->pid);
	if (rule->check)
		rule->check(a, present, key_err, &kc);
}

/* libcyaml reads "1.5" as 1: an integer key must be an integer literal. */
static void check_int_literals(struct chk *c, size_t i)
{
	static const char *const keys[] = { "priority", "handle", "offset", "pid", "maxactive" };
	yaml_node_t *entry = mdoc_entry(c->d, "attachments", i);

	for (size_t k = 0; entry && k < ARRAY_SIZE(keys); k++) {
		yaml_node_t *v = mdoc_get(c->d, entry, keys[k], NULL);
		const char *text = v ? mdoc_scalar(v) : NULL;
		char *end;

		if (!text)
			continue;
		errno = 0;
		(void)strtoll(text, &end, 0);
		if (end == text || *end || errno)
			att_err(c, i, keys[k], "key '%s': expected an integer, got '%s'", keys[k], text);
	}
}

static void check_attachment(struct chk *c, size_t i, const struct hook_keys **ret_rule)
{
	struct cnf_attachment *a = &c->m->attachments[i];
	uint32_t present = att_keys_present(c, i);
	const struct hook_keys *rule = NULL;

	*ret_rule = NULL;
	check_int_literals(c, i);
	a->line = manifest_attachment_line(c->m, i, NULL);
	if (!a->name)
		att_err(c, i, NULL, "missing required key 'name'");
	else if (!cnf_entry_name_valid(a->name))
		att_err(c, i, "name", "invalid name: use letters, digits, '-' and '_' (bpffs refuses '.'), "
			"starting with a letter or digit, at most %d characters", CNF_NAME_MAX);

	if (!a->hook) {
		att_err(c, i, NULL, "missing required key 'hook'");
	} else if (!*a->hook) {
		att_err(c, i, "hook", "key 'hook' must not be empty");
	} else if (!(rule = hook_rule_find(a->hook))) {
		const char *const *names = hook_family_names();
		_cleanup_free_ char *known = NULL;
		_cleanup_free_ char *hint = NULL;

		known = join_words(names);
		hint = hook_hint(a->hook, names);
		att_err(c, i, "hook", "unknown hook '%s'%s (hooks: %s)", a->hook, hint, known);
	}

	if (rule) {
		for (unsigned k = 0; k < AK__COUNT; k++) {
			if ((present & B(k)) && !(rule->keys & B(k)))
				att_err(c, i, akey_names[k], "key '%s' does not apply to hook '%s'",
					akey_names[k], a->hook);
			else if (!(present & B(k)) && (rule->required & B(k)))
				att_err(c, i, NULL, "missing required key '%s'%s%s%s", akey_names[k],
					k == AK_PROGRAM ? "" : " for hook '",
					k == AK_PROGRAM ? "" : a->hook,
					k == AK_PROGRAM ? "" : "'");
		}
		check_hook_values(c, i, rule, present);
		*ret_rule = rule;
	} else if (!a->program && !a->map) {
		att_err(c, i, NULL, "missing required key 'program'");
	}

	/* References are checked even when the hook is unknown. */
	if (a->program && (!rule || (rule->keys & PROG)))
		check_ref(c, i, "program", a->program, "PROGRAM");
	if (a->map && (!rule || (rule->keys & B(AK_MAP))))
		check_ref(c, i, "map", a->map, "MAP");
}

/* `before:`/`after:` name another attachment with the same hook; following
 * them must never come back to where it started. */
static void check_anchors(struct chk *c, const struct hook_keys *const *rules)
{
	struct cnf_manifest *m = c->m;
	size_t n = m->attachments_count;
	_cleanup_free_ size_t *anchor = xcalloc(n, sizeof(*anchor));
	_cleanup_free_ size_t *seen = xcalloc(n, sizeof(*seen));

	for (size_t i = 0; i < n; i++) {
		struct cnf_attachment *a = &m->attachments[i];
		const char *key = a->before ? "before" : "after";
		const char *target = a->before ? a->before : a->after;
		size_t j;

		anchor[i] = SIZE_MAX;
		if (!rules[i] || !(rules[i]->keys & AK_ORDERING) || !target || (a->before && a->after))
			continue;
		if (!*target) {
			att_err(c, i, key, "key '%s' must not be empty", key);
			continue;
		}
		if (a->name && streq(target, a->name)) {
			att_err(c, i, key, "'%s' names the attachment itself", key);
			continue;
		}
		j = name_refs_find(c->atts, c->atts_count, target, strlen(target));
		if (j == SIZE_MAX) {
			att_err(c, i, key, "%s '%s' names no attachment in this manifest", key, target);
			continue;
		}
		if (!m->attachments[j].hook || !streq(m->attachments[j].hook, a->hook)) {
			att_err(c, i, key, "%s '%s' is not a '%s' attachment: anchors must have "
				"the same hook", key, target, a->hook);
			continue;
		}
		anchor[i] = j;
	}

	/* Each attachment has at most one anchor: walk the chains, stamping
	 * nodes with the walk's number (1-based) to find loops in O(n). */
	for (size_t i = 0; i < n; i++) {
		size_t j = i;

		if (seen[i])
			continue;
		while (j != SIZE_MAX && !seen[j]) {
			seen[j] = i + 1;
			j = anchor[j];
		}
		if (j == SIZE_MAX || seen[j] != i + 1)
			continue;

		/* j is on a loop found by this walk. */
		_cleanup_free_ char *chain = xstrdup(m->attachments[j].name);
		size_t k = anchor[j], shown = 1;

		for (;; k = anchor[k]) {
			char *s;

			if (shown++ < 16)
				s = strprintf("%s -> %s", chain, m->attachments[k].name);
			else if (k == j)
				s = strprintf("%s -> ... -> %s", chain, m->attachments[k].name);
			else
				continue;
			if (!s)
				abort();
			free(chain);
			chain = s;
			if (k == j)
				break;
		}
		att_err(c, j, m->attachments[j].before ? "before" : "after",
			"ordering anchors form a cycle: %s", chain);
	}
}

static void check_attachments(struct chk *c)
{
	struct cnf_manifest *m = c->m;
	_cleanup_free_ const struct hook_keys **rules = xcalloc(m->attachments_count,
								 sizeof(*rules));
	_cleanup_free_ size_t *dup = NULL;

	c->atts = xcalloc(m->attachments_count, sizeof(*c->atts));
	for (size_t i = 0; i < m->attachments_count; i++) {
		check_attachment(c, i, &rules[i]);
		if (m->attachments[i].name && cnf_entry_name_valid(m->attachments[i].name))
			c->atts[c->atts_count++] = (struct name_ref){ m->attachments[i].name, i };
	}
	dup = name_refs_sort(c->atts, c->atts_count, m->attachments_count);
	for (size_t i = 0; i < m->attachments_count; i++)
		if (dup[i] != SIZE_MAX && dup[i] != i)
			att_err(c, i, "name", "duplicate name: also used by the attachment at line %d",
				m->attachments[dup[i]].line);
	check_anchors(c, rules);
}

int manifest_check(const char *path, struct cnf_manifest *m)
{
	struct chk c = { .path = path, .m = m, .d = m->pos };

	check_top(&c);
	check_objects(&c);
	check_attachments(&c);
	free(c.objs);
	free(c.atts);
	free(c.known_objects);
	if (c.suppressed)
		log_error("%s: %u more problems not shown", path, c.suppressed);
	return c.errors ? -EINVAL : 0;
}

