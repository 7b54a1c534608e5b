// SPDX-License-Identifier: GPL-2.0-only
/* The manifest loader: finds manifest files, loads each one twice (libyaml's
 * document for limits, positions and `config:`; libcyaml for the typed
 * structs), and runs the checks that need neither objects nor a kernel
 * (manifest_check.c) on each.
 * Every problem is logged once as "FILE:LINE: <entry>: <message>". */
#include <cyaml/cyaml.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
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


/* ---- The typed schema ------------------------------------------------ */

/* Every field is optional for libcyaml: required keys are checked below,
 * so that all missing keys of a file are reported together. */
#define OPT (CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL)
#define F_STR(key, type, member) \
	CYAML_FIELD_STRING_PTR(key, OPT, type, member, 0, CYAML_UNLIMITED)
#define F_INT(key, type, member) CYAML_FIELD_INT_PTR(key, OPT, type, member)
#define F_SEQ(key, type, member, entry) \
	CYAML_FIELD_SEQUENCE(key, OPT, type, member, entry, 0, CYAML_UNLIMITED)

static const cyaml_schema_value_t string_schema = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
};

static const cyaml_schema_field_t map_opt_fields[] = {
	F_STR("name", struct cnf_map_opt, name),
	F_STR("pin", struct cnf_map_opt, pin),
	F_STR("on_incompatible", struct cnf_map_opt, on_incompatible),
	/* Keys and values of any shape: read from the libyaml document. */
	CYAML_FIELD_IGNORE("entries", CYAML_FLAG_OPTIONAL),
	CYAML_FIELD_END,
};

static const cyaml_schema_value_t map_opt_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct cnf_map_opt, map_opt_fields),
};

static const cyaml_schema_field_t prog_opt_fields[] = {
	F_STR("name", struct cnf_prog_opt, name),
	F_STR("type", struct cnf_prog_opt, type),
	CYAML_FIELD_END,
};

static const cyaml_schema_value_t prog_opt_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct cnf_prog_opt, prog_opt_fields),
};

static const cyaml_schema_field_t object_fields[] = {
	F_STR("name", struct cnf_object, name),
	F_STR("file", struct cnf_object, file),
	/* A free-form mapping: read from the libyaml document instead. */
	CYAML_FIELD_IGNORE("config", CYAML_FLAG_OPTIONAL),
	F_SEQ("maps", struct cnf_object, maps, &map_opt_schema),
	F_SEQ("programs", struct cnf_object, programs, &prog_opt_schema),
	CYAML_FIELD_END,
};

static const cyaml_schema_value_t object_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct cnf_object, object_fields),
};

static const cyaml_schema_field_t attachment_fields[] = {
	F_STR("name", struct cnf_attachment, name),
	F_STR("program", struct cnf_attachment, program),
	F_STR("hook", struct cnf_attachment, hook),
	F_STR("interface", struct cnf_attachment, interface),
	F_SEQ("interfaces", struct cnf_attachment, interfaces, &string_schema),
	F_STR("netns", struct cnf_attachment, netns),
	F_STR("mode", struct cnf_attachment, mode),
	F_STR("direction", struct cnf_attachment, direction),
	F_STR("order", struct cnf_attachment, order),
	F_STR("before", struct cnf_attachment, before),
	F_STR("after", struct cnf_attachment, after),
	F_INT("priority", struct cnf_attachment, priority),
	F_INT("handle", struct cnf_attachment, handle),
	F_STR("side", struct cnf_attachment, side),
	F_STR("cgroup", struct cnf_attachment, cgroup),
	F_STR("attach_type", struct cnf_attachment, attach_type),
	F_STR("tracepoint", struct cnf_attachment, tracepoint),
	F_STR("function", struct cnf_attachment, function),
	F_SEQ("functions", struct cnf_attachment, functions, &string_schema),
	F_STR("binary", struct cnf_attachment, binary),
	F_STR("symbol", struct cnf_attachment, symbol),
	F_INT("offset", struct cnf_attachment, offset),
	F_INT("pid", struct cnf_attachment, pid),
	F_INT("maxactive", struct cnf_attachment, maxactive),
	F_STR("family", struct cnf_attachment, family),
	F_STR("netfilter_hook", struct cnf_attachment, netfilter_hook),
	F_STR("map", struct cnf_attachment, map),
	CYAML_FIELD_END,
};

static const cyaml_schema_value_t attachment_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct cnf_attachment, attachment_fields),
};

static const cyaml_schema_field_t manifest_fields[] = {
	F_STR("apiVersion", struct cnf_manifest, api_version),
	F_STR("name", struct cnf_manifest, name),
	F_SEQ("objects", struct cnf_manifest, objects, &object_schema),
	F_SEQ("attachments", struct cnf_manifest, attachments, &attachment_schema),
	CYAML_FIELD_END,
};

static const cyaml_schema_value_t manifest_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct cnf_manifest, manifest_fields),
};

/* Used to free: libcyaml logs nothing when log_fn is NULL. */
static const cyaml_config_t cyaml_free_config = {
	.log_fn = NULL,
	.mem_fn = cyaml_mem,
	.log_level = CYAML_LOG_ERROR,
};

/* ---- libcyaml's messages --------------------------------------------- */

#define CYAML_LOG_MAX (64u << 10)

struct cyaml_msgs {
	char *text;
	size_t len;
};

static void cyaml_collect(cyaml_log_t level, void *ctx, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void cyaml_collect(cyaml_log_t level, void *ctx, const char *fmt, va_list ap)
{
	struct cyaml_msgs *c = ctx;
	char *s, *t;
	size_t n;

	if (level < CYAML_LOG_ERROR || c->len > CYAML_LOG_MAX)
		return;
	if (vasprintf(&s, fmt, ap) < 0)
		return;
	n = strlen(s);
	t = realloc(c->text, c->len + n + 1);
	if (t) {
		memcpy(t + c->len, s, n + 1);
		c->text = t;
		c->len += n;
	}
	free(s);
}

/* One level of libcyaml's backtrace: a mapping field or a sequence entry. */
struct bt_step {
	const char *field;      /* NULL: sequence entry */
	unsigned long entry;    /* 1-based */
	int line;
};

#define BT_MAX (2 * MANIFEST_MAX_DEPTH + 4)

static int bt_line(const char *s)
{
	const char *p = strstr(s, "(line: ");

	return p ? atoi(p + 7) : 0;
}

const char *manifest_entry_kind(const char *list)
{
	if (streq(list, "objects"))
		return "object";
	if (streq(list, "attachments"))
		return "attachment";
	if (streq(list, "maps"))
		return "map";
	if (streq(list, "programs"))
		return "program";
	return NULL;
}

/* "attachment 'fw-eth0'", or "attachment #3" while it has no usable name. */
char *manifest_entry_label(const char *kind, const char *name, size_t idx)
{
	char *s = name ? strprintf("%s '%s'", kind, name) : strprintf("%s #%zu", kind, idx + 1);

	if (!s)
		abort();
	return s;
}

static const char *cyaml_type_desc(const char *t, size_t len)
{
	static const struct { const char *name, *desc; } types[] = {
		{ "STRING", "a string" }, { "INT", "an integer" },
		{ "UINT", "a non-negative integer" }, { "BOOL", "true or false" },
		{ "SEQUENCE", "a list" }, { "SEQUENCE_FIXED", "a list" },
		{ "MAPPING", "a mapping" }, { "FLOAT", "a number" },
		{ "SCALAR", "a scalar" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		if (strlen(types[i].name) == len && !strncmp(types[i].name, t, len))
			return types[i].desc;
	return NULL;
}

/* What the document holds at the failing place, for "got ...". */
static char *got_desc(const yaml_node_t *n, const char *event)
{
	if (n && n->type == YAML_SCALAR_NODE)
		return mdoc_is_null(n) ? xstrdup("nothing") : strprintf("'%s'", mdoc_scalar(n));
	if (n)
		return xstrdup(n->type == YAML_SEQUENCE_NODE ? "a list" : "a mapping");
	if (event && !strncmp(event, "SEQUENCE", 8))
		return xstrdup("a list");
	if (event && !strncmp(event, "MAPPING", 7))
		return xstrdup("a mapping");
	return xstrdup(event ? event : "something else");
}

/* Splits libcyaml's collected text into its problem line and backtrace
 * steps (innermost first). Modifies `text`. */
static const char *bt_parse(char *text, struct bt_step *steps, size_t *ret_nsteps,
			    int *ret_fallback_line)
{
	const char *problem = NULL;
	size_t nsteps = 0;
	int fallback_line = 0;
	char *save = NULL;

	for (char *l = text ? strtok_r(text, "\n", &save) : NULL; l;
	     l = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(l, "Load: ", 6))
			l += 6;
		while (*l == ' ' || *l == '\t')
			l++;
		if (!*l || !strncmp(l, "Backtrace:", 10))
			continue;
		if (!strncmp(l, "in mapping field '", 18)) {
			char *q = strchr(l + 18, '\'');

			if (!q || nsteps == BT_MAX)
				continue;
			*q = '\0';
			steps[nsteps++] = (struct bt_step){ .field = l + 18, .line = bt_line(q + 1) };
		} else if (!strncmp(l, "in sequence entry '", 19)) {
			if (nsteps == BT_MAX)
				continue;
			steps[nsteps++] = (struct bt_step){
				.entry = strtoul(l + 19, NULL, 10), .line = bt_line(l),
			};
		} else if (!strncmp(l, "in mapping", 10)) {
			if (!fallback_line)
				fallback_line = bt_line(l);
		} else if (!problem) {
			problem = l;
		}
	}
	if (!fallback_line && nsteps)
		fallback_line = steps[0].line;
	*ret_nsteps = nsteps;
	*ret_fallback_line = fallback_line;
	return problem;
}

/* Where a backtrace leads in the document. */
struct bt_place {
	yaml_node_t *node;        /* the failing value, or the mapping with a bad key */
	yaml_node_t *container;   /* what holds `node` */
	yaml_node_t *key;         /* key node when `node` is a mapping value */
	const char *field;        /* key under which the failing value sits, if any */
	unsigned long item;       /* 1-based list entry when the path ends in one */
	char *label;              /* "manifest", "attachment 'x'", "object 'o': map 'm'" */
	bool lost;                /* the document did not follow the backtrace */
};

static void bt_walk(struct mdoc *d, const struct bt_step *steps, size_t nsteps,
		    struct bt_place *pl)
{
	const char *top_list = NULL;

	*pl = (struct bt_place){ .node = mdoc_root(d), .label = xstrdup("manifest") };
	for (size_t k = nsteps; k-- > 0 && !pl->lost;) {
		const struct bt_step *st = &steps[k];
		size_t depth = nsteps - 1 - k;
		const char *kind, *name;
		char *sub;

		if (st->field) {
			pl->container = pl->node;
			pl->node = mdoc_get(d, pl->node, st->field, &pl->key);
			pl->field = st->field;
			pl->item = 0;
			pl->lost = !pl->node;
			continue;
		}

		kind = pl->field ? manifest_entry_kind(pl->field) : NULL;
		pl->container = pl->node;
		pl->node = mdoc_item(d, pl->node, st->entry ? st->entry - 1 : 0);
		pl->key = NULL;
		pl->item = st->entry;
		pl->lost = !pl->node;
		if (pl->lost || !kind)
			continue;

		/* An entry of a named list becomes the subject of the message. */
		name = mdoc_scalar(mdoc_get(d, pl->node, "name", NULL));
		if (depth == 1 && (streq(pl->field, "objects") || streq(pl->field, "attachments"))) {
			top_list = pl->field;
			free(pl->label);
			pl->label = manifest_entry_label(kind, name, st->entry - 1);
		} else if (depth == 3 && top_list && streq(top_list, "objects")) {
			_cleanup_free_ char *sl = manifest_entry_label(kind, name, st->entry - 1);

			sub = strprintf("%s: %s", pl->label, sl);
			if (!sub)
				abort();
			free(pl->label);
			pl->label = sub;
		} else {
			continue;
		}
		pl->field = NULL;
		pl->item = 0;
	}
}

/* "expected an integer, got 'abc'" from libcyaml's wording. */
static char *value_problem(const char *problem, const struct bt_place *pl)
{
	const char *v, *t;

	if (!strncmp(problem, "Invalid ", 8) && (v = strstr(problem, " value: "))) {
		t = cyaml_type_desc(problem + 8, (size_t)(v - problem - 8));
		return strprintf("expected %s, got %s", t ? t : "another value", v + 8);
	}
	if (!strncmp(problem, "Expecting ", 10) && (v = strstr(problem, ", got event: "))) {
		_cleanup_free_ char *got = got_desc(pl->lost ? NULL : pl->node, v + 13);

		t = cyaml_type_desc(problem + 10, (size_t)(v - problem - 10));
		return strprintf("expected %s, got %s", t ? t : "another kind of value", got);
	}
	if (!strncmp(problem, "Missing required mapping field: ", 32))
		return strprintf("missing required key '%s'", problem + 32);
	return xstrdup(problem);
}

/* "; did you mean 'interface'?" for an unknown key: the closest of the
 * keys of the mapping it is in, the fields of the innermost list the
 * backtrace went through (none: the top level). "" when none is close. */
static char *key_hint(const char *key, const struct bt_step *steps, size_t nsteps)
{
	static const struct { const char *list; const cyaml_schema_field_t *fields; } lists[] = {
		{ "attachments", attachment_fields }, { "objects", object_fields },
		{ "maps", map_opt_fields }, { "programs", prog_opt_fields },
	};
	const cyaml_schema_field_t *fields = manifest_fields;
	const char *names[48] = { 0 }, *close;
	size_t n = 0;

	for (size_t k = 0; k < nsteps && fields == manifest_fields; k++)
		for (size_t l = 0; steps[k].field && l < ARRAY_SIZE(lists); l++)
			if (streq(steps[k].field, lists[l].list))
				fields = lists[l].fields;
	for (; fields[n].key && n + 1 < ARRAY_SIZE(names); n++)
		names[n] = fields[n].key;
	close = suggest_word(key, names);
	return close ? strprintf("; did you mean '%s'?", close) : xstrdup("");
}

/* Turns libcyaml's message and backtrace into one message that names the
 * file, the line of the offending key and the entry it belongs to. */
static void report_cyaml_error(const char *path, struct mdoc *d, char *text,
			       cyaml_err_t err)
{
	struct bt_step steps[BT_MAX];
	struct bt_place pl;
	_cleanup_free_ char *where = NULL, *detail = NULL;
	const char *problem, *arg;
	size_t nsteps;
	int line;

	problem = bt_parse(text, steps, &nsteps, &line);
	if (!problem)
		problem = cyaml_strerror(err);
	bt_walk(d, steps, nsteps, &pl);

	if (!strncmp(problem, "Unexpected key: ", 16)) {
		_cleanup_free_ char *hint = NULL;
		yaml_node_t *k;

		arg = problem + 16;
		k = pl.lost ? NULL : mdoc_get_key_nth(d, pl.node, arg, 0);
		if (k)
			line = mdoc_line(k);
		hint = key_hint(arg, steps, nsteps);
		log_error("%s (%s:%d): unknown key '%s'%s", pl.label, path, line, arg, hint);
	} else if (!strncmp(problem, "Mapping field already seen: ", 28)) {
		/* The backtrace may end in the field being read. */
		yaml_node_t *map = pl.lost ? NULL : (nsteps && steps[0].field ? pl.container : pl.node);
		yaml_node_t *first, *again;

		arg = problem + 28;
		first = mdoc_get_key_nth(d, map, arg, 0);
		again = mdoc_get_key_nth(d, map, arg, 1);
		if (again)
			line = mdoc_line(again);
		if (first && again)
			log_error("%s (%s:%d): duplicate key '%s' (first at line %d)",
				  pl.label, path, line, arg, mdoc_line(first));
		else
			log_error("%s (%s:%d): duplicate key '%s'", pl.label, path, line, arg);
	} else {
		/* A value of the wrong type or form: point at its key or item. */
		if (!pl.lost)
			line = mdoc_line(pl.item || !pl.key ? pl.node : pl.key);
		if (pl.field && pl.item)
			where = strprintf("key '%s': entry %lu: ", pl.field, pl.item);
		else if (pl.field)
			where = strprintf("key '%s': ", pl.field);
		detail = value_problem(problem, &pl);
		log_error("%s (%s:%d): %s%s", pl.label, path, line, where ? where : "",
			  detail ? detail : problem);
	}
	free(pl.label);
}

static int load_typed(const char *path, struct mdoc *d, const char *buf, size_t len,
		      struct cnf_manifest **ret)
{
	struct cyaml_msgs msgs = { 0 };
	cyaml_config_t cfg = {
		.log_fn = cyaml_collect,
		.log_ctx = &msgs,
		.mem_fn = cyaml_mem,
		.log_level = CYAML_LOG_ERROR,
		.flags = CYAML_CFG_DEFAULT,
	};
	cyaml_data_t *data = NULL;
	cyaml_err_t err;

	err = cyaml_load_data((const uint8_t *)buf, len, &cfg, &manifest_schema, &data, NULL);
	if (err == CYAML_OK && data) {
		free(msgs.text);
		*ret = data;
		return 0;
	}
	if (err == CYAML_ERR_OOM) {
		free(msgs.text);
		return -ENOMEM;
	}
	report_cyaml_error(path, d, msgs.text, err);
	free(msgs.text);
	return -EINVAL;
}

/* ---- Loading ----------------------------------------------------------- */

/* Absolute directory of `path`, or its dirname as written when that does
 * not resolve (buffers loaded under made-up names). A manifest reached
 * through a symbolic link is in its target's directory: it was written
 * next to its objects, wherever a link to it is put. */
static char *manifest_dir(const char *path)
{
	_cleanup_free_ char *file = realpath(path, NULL);
	_cleanup_free_ char *copy = xstrdup(file ? file : path);
	char *dir = dirname(copy);
	char *real = realpath(dir, NULL);

	return real ? real : xstrdup(dir);
}

static void config_var_free(struct cnf_config_var *v)
{
	free(v->name);
	free(v->value);
	for (size_t i = 0; i < v->items_count; i++)
		free(v->items[i]);
	free(v->items);
}

void manifest_free(struct cnf_manifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->objects_count; i++) {
		struct cnf_object *o = &m->objects[i];

		for (size_t j = 0; j < o->maps_count; j++) {
			struct cnf_map_opt *mo = &o->maps[j];

			for (size_t k = 0; k < mo->entries_count; k++) {
				config_var_free(&mo->entries[k].key);
				config_var_free(&mo->entries[k].value);
			}
			free(mo->entries);
			mo->entries = NULL;
			mo->entries_count = 0;
		}

		free(o->path);
		o->path = NULL;
		for (size_t j = 0; j < o->config_count; j++)
			config_var_free(&o->config[j]);
		free(o->config);
		o->config = NULL;
		o->config_count = 0;
	}
	mdoc_free(m->pos);
	free(m->path);
	free(m->dir);
	free(m->source);
	free(m->source_file);
	m->pos = NULL;
	m->path = m->dir = m->source = m->source_file = NULL;
	cyaml_free(&cyaml_free_config, &manifest_schema, m, 0);
}

int manifest_load_buffer(const char *path, const char *buf, size_t len,
			 struct cnf_manifest **ret)
{
	struct cnf_manifest *m = NULL;
	struct mdoc *d = NULL;
	int r;

	*ret = NULL;
	r = mdoc_parse(path, buf, len, &d);
	if (r < 0)
		return r;
	r = load_typed(path, d, buf, len, &m);
	if (r < 0) {
		mdoc_free(d);
		return r;
	}
	m->pos = d;
	m->path = xstrdup(path);
	m->dir = manifest_dir(path);
	r = manifest_check(path, m);
	if (r < 0) {
		manifest_free(m);
		return r;
	}
	*ret = m;
	return 0;
}

/* As root: refuses a manifest someone but root could change (see "Who
 * can change a file"). `fd` is the opened manifest, `walk_r` and `wst` the
 * result of walking its path before it was opened. */
static int manifest_trusted(const char *path, int fd, int walk_r, const char *walk_why,
			    const struct stat *wst)
{
	char why[PATH_MAX + 256];
	struct stat st;

	if (fstat(fd, &st) < 0) {
		log_error("%s: %s", path, strerror(errno));
		return -EINVAL;
	}
	if (walk_r < 0)
		snprintf(why, sizeof(why), "%s", walk_why);
	else if (wst->st_dev != st.st_dev || wst->st_ino != st.st_ino)
		snprintf(why, sizeof(why), "it was replaced while being checked");
	else if (!trust_problem(&st, "it", true, why, sizeof(why)))
		return 0;
	log_error("%s: refusing to use this manifest as root: %s; whoever can change a "
		  "manifest can make cnf-apply attach any BPF program: " TRUST_HINT, path, why);
	return -EINVAL;
}

static int read_manifest(const char *path, char **ret_buf, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	char walk_why[PATH_MAX + 256] = "";
	struct stat st, wst;
	bool root = geteuid() == 0;
	int walk_r = 0;
	size_t len = 0;

	/* Walk first: a path that leads through a directory others can
	 * write is refused before anything is opened there. */
	if (root) {
		walk_r = trust_walk(path, &wst, walk_why, sizeof(walk_why));
		if (walk_r == -EPERM) {
			log_error("%s: refusing to use this manifest as root: %s; whoever can change "
				  "a manifest can make cnf-apply attach any BPF program: " TRUST_HINT,
				  path, walk_why);
			return -EINVAL;
		}
	}
	/* O_NONBLOCK: a FIFO named like a manifest must not hang the run. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		log_error("%s: %s", path, strerror(errno));
		return -EINVAL;
	}
	if (!S_ISREG(st.st_mode)) {
		log_error("%s: not a regular file", path);
		return -EINVAL;
	}
	if (root && manifest_trusted(path, fd, walk_r, walk_why, &wst) < 0)
		return -EINVAL;
	if (st.st_size > (off_t)MANIFEST_MAX_BYTES) {
		log_error("%s: file is larger than 1 MiB (%lld bytes)", path,
			  (long long)st.st_size);
		return -EINVAL;
	}
	/* One byte more than allowed, to notice a file that grew meanwhile. */
	buf = malloc(MANIFEST_MAX_BYTES + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(fd, buf + len, MANIFEST_MAX_BYTES + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error("%s: %s", path, strerror(errno));
			return -EINVAL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > MANIFEST_MAX_BYTES) {
			log_error("%s: file is larger than 1 MiB", path);
			return -EINVAL;
		}
	}
	*ret_buf = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

static int load_file(const char *path, struct cnf_manifest **ret)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	r = read_manifest(path, &buf, &len);
	if (r < 0)
		return r;
	if (len >= 4 && !memcmp(buf, "\177ELF", 4)) {
		log_error("%s: an ELF file (a BPF object?), not a YAML manifest: a manifest names "
			  "its objects under 'objects:'", path);
		return -EINVAL;
	}
	return manifest_load_buffer(path, buf, len, ret);
}

static bool has_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), k = strlen(suffix);

	return n > k && streq(name + n - k, suffix);
}

static bool is_manifest_name(const char *name)
{
	if (name[0] == '.')
		return false;
	return has_suffix(name, ".yaml") || has_suffix(name, ".yml");
}

/* A file given as a PATH is a manifest by its name, as in a directory:
 * a README or an object file is refused by name, not as broken YAML. */
static int check_file_name(const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

	if (has_suffix(base, ".yaml") || has_suffix(base, ".yml"))
		return 0;
	log_error("%s: not a manifest: a manifest file's name ends in .yaml or .yml%s", path,
		  has_suffix(base, ".o") ? " (a BPF object is named in a manifest, under 'objects:')" :
		  "");
	return -EINVAL;
}

static int strptr_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The directory's manifest files (not hidden, regular), sorted by name. */
static int list_manifests(const char *dir, char ***ret, size_t *ret_count)
{
	_cleanup_closedir_ DIR *dh = opendir(dir);
	size_t n = 0, cap = 0, dlen = strlen(dir);
	bool slash = dlen && dir[dlen - 1] == '/', broken = false;
	char **files = NULL;
	struct dirent *de;

	if (!dh) {
		log_error("%s: %s", dir, strerror(errno));
		return -EINVAL;
	}
	while ((errno = 0, de = readdir(dh))) {
		struct stat st;
		char *p;

		if (!is_manifest_name(de->d_name))
			continue;
		p = strprintf("%s%s%s", dir, slash ? "" : "/", de->d_name);
		if (!p) {
			strv_free(files, n);
			return -ENOMEM;
		}
		if (stat(p, &st) < 0) {
			/* Skipping it would make apply prune what it owns. */
			if (errno == ENOENT)
				log_error("%s: dangling symbolic link: its target does not exist", p);
			else
				log_error("%s: %s", p, strerror(errno));
			broken = true;
			free(p);
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			free(p);
			continue;
		}
		if (grow_array((void **)&files, &cap, n + 1, sizeof(*files)) < 0) {
			free(p);
			strv_free(files, n);
			return -ENOMEM;
		}
		files[n++] = p;
	}
	if (errno) {
		log_error("%s: %s", dir, strerror(errno));
		broken = true;
	}
	if (broken) {
		strv_free(files, n);
		return -EINVAL;
	}
	if (n)
		qsort(files, n, sizeof(*files), strptr_cmp);
	*ret = files;
	*ret_count = n;
	return 0;
}

static int set_add(struct cnf_manifest_set *set, size_t *cap, struct cnf_manifest *m)
{
	if (grow_array((void **)&set->manifests, cap, set->count + 1,
		       sizeof(*set->manifests)) < 0) {
		manifest_free(m);
		return -ENOMEM;
	}
	set->manifests[set->count++] = m;
	return 0;
}

static int worse(int r, int q)
{
	if (r == -ENOMEM || q == -ENOMEM)
		return -ENOMEM;
	return r < 0 ? r : q;
}

static bool allow_empty_dirs;

/* Records where m came from: the PATH argument `arg` (a directory when
 * is_dir), m's file being `file`. */
static void set_source(struct cnf_manifest *m, const char *arg, bool is_dir, const char *file)
{
	const char *name = strrchr(file, '/');

	m->source = path_absolute(arg, is_dir);
	if (!m->source)
		return;
	if (!is_dir)
		m->source_file = xstrdup(m->source);
	else
		m->source_file = strprintf("%s%s%s", m->source, streq(m->source, "/") ? "" : "/",
					   name ? name + 1 : file);
}

void manifest_set_allow_empty_dirs(bool allow)
{
	allow_empty_dirs = allow;
}

int manifest_set_load(char *const *paths, size_t paths_count,
		      struct cnf_manifest_set **ret)
{
	struct cnf_manifest_set *set = xcalloc(1, sizeof(*set));
	size_t cap = 0;
	int r = 0;

	*ret = NULL;
	if (!paths_count) {
		log_error("no manifest paths given");
		free(set);
		return -EINVAL;
	}
	set->from_dirs = true;
	for (size_t i = 0; i < paths_count; i++) {
		const char *path = paths[i];
		struct cnf_manifest *m;
		struct stat st;
		char **files = NULL;
		size_t nfiles = 0;
		int q;

		if (stat(path, &st) < 0) {
			log_error("%s: %s", path, strerror(errno));
			set->from_dirs = false;
			r = worse(r, -EINVAL);
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			set->from_dirs = false;
			q = check_file_name(path);
			if (q == 0)
				q = load_file(path, &m);
			if (q == 0) {
				set_source(m, path, false, path);
				q = set_add(set, &cap, m);
			}
			r = worse(r, q);
			continue;
		}

		q = list_manifests(path, &files, &nfiles);
		if (q == 0 && !nfiles && !allow_empty_dirs) {
			log_error("no manifests in %s", path);
			q = -EINVAL;
		}
		r = worse(r, q);
		for (size_t f = 0; f < nfiles; f++) {
			q = load_file(files[f], &m);
			if (q == 0) {
				set_source(m, path, true, files[f]);
				q = set_add(set, &cap, m);
			}
			r = worse(r, q);
		}
		strv_free(files, nfiles);
	}

	/* Manifest names own bpffs directories: one owner each. */
	for (size_t i = 0; i < set->count; i++) {
		struct cnf_manifest *m = set->manifests[i];

		for (size_t j = 0; j < i; j++) {
			struct cnf_manifest *o = set->manifests[j];

			if (!streq(m->name, o->name))
				continue;
			log_error("manifest '%s' (%s:%d): name already used by %s:%d", m->name,
				  m->path, mdoc_top_line(m->pos, "name"),
				  o->path, mdoc_top_line(o->pos, "name"));
			r = worse(r, -EINVAL);
			break;
		}
	}

	if (r < 0) {
		manifest_set_free(set);
		return r;
	}
	*ret = set;
	return 0;
}

void manifest_set_free(struct cnf_manifest_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->count; i++)
		manifest_free(set->manifests[i]);
	free(set->manifests);
	free(set);
}
