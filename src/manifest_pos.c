// SPDX-License-Identifier: GPL-2.0-only
/* The libyaml document of a manifest: syntax errors with line and column,
 * resource limits (size, alias expansion, nesting, one document), the
 * positions of entries and keys, and the free-form `config:` mappings. */
#include <stdarg.h>

#include "cnf/log.h"
#include "cnf/util.h"
#include "manifest_pos.h"

/* A plain value starting with '*' is a YAML alias: an unquoted glob
 * (`interface: *eth`) is "found undefined alias" to libyaml. The hint
 * says to quote it; "" when the error is not about an alias. */
static void alias_hint(const yaml_parser_t *p, const char *buf, size_t len, char *hint,
		       size_t sz)
{
	const yaml_mark_t *m = NULL;
	size_t n;

	hint[0] = '\0';
	if (p->context && streq(p->context, "while scanning an alias"))
		m = &p->context_mark;
	else if (p->problem && streq(p->problem, "found undefined alias"))
		m = &p->problem_mark;
	if (!m || m->index >= len || buf[m->index] != '*')
		return;
	/* The buffer need not end in a NUL (the fuzzer's does not). */
	for (n = 0; m->index + n < len && buf[m->index + n] &&
		    !strchr(" \t\r\n,]}#", buf[m->index + n]); n++)
		;
	snprintf(hint, sz, "; a value starting with '*' is a YAML alias: write a glob in "
		 "quotes: \"%.*s\"", (int)(n < 64 ? n : 64), buf + m->index);
}

static void log_syntax_error(const char *path, const yaml_parser_t *p,
			     const char *buf, size_t len)
{
	char hint[160];

	const char *problem = p->problem ? p->problem : "invalid YAML";
	size_t line, col;

	if (p->error == YAML_READER_ERROR) {
		/* Reader errors carry a byte offset, not a mark. */
		size_t off = p->problem_offset < len ? p->problem_offset : len;

		line = 1;
		col = 1;
		for (size_t i = 0; i < off; i++) {
			if (buf[i] == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
	} else {
		line = p->problem_mark.line + 1;
		col = p->problem_mark.column + 1;
	}

	alias_hint(p, buf, len, hint, sizeof(hint));
	if (p->context)
		log_error("%s:%zu:%zu: YAML syntax error: %s (%s started at line %zu)%s",
			  path, line, col, problem, p->context,
			  p->context_mark.line + 1, hint);
	else
		log_error("%s:%zu:%zu: YAML syntax error: %s%s", path, line, col, problem, hint);
}

static int parser_failed(const char *path, const yaml_parser_t *p, const char *buf,
			 size_t len)
{
	if (p->error == YAML_MEMORY_ERROR)
		return -ENOMEM;
	log_syntax_error(path, p, buf, len);
	return -EINVAL;
}

enum walk_state { WALK_NEW, WALK_BUSY, WALK_DONE };

struct limits_walk {
	yaml_document_t *doc;
	const char *path;
	unsigned char *state;
	size_t *count;      /* nodes in the subtree, aliases expanded */
	int *height;        /* nesting levels of collections in the subtree */
};

static int too_many_nodes(const struct limits_walk *w, const yaml_node_t *n)
{
	log_error("%s:%d: document expands to more than %d nodes through aliases",
		  w->path, mdoc_line(n), MANIFEST_MAX_NODES);
	return -EINVAL;
}

static int too_deep(const struct limits_walk *w, const yaml_node_t *n)
{
	log_error("%s:%d: document is nested more than %d levels deep",
		  w->path, mdoc_line(n), MANIFEST_MAX_DEPTH);
	return -EINVAL;
}

/* Depth-first over the node graph, memoized per node: aliases are shared
 * node indices, so each node is visited once however often it is used.
 * `depth` is the nesting level this node would occupy. Recursion stops at
 * MANIFEST_MAX_DEPTH + 1 levels. */
static int limits_node(struct limits_walk *w, int id, int depth)
{
	yaml_node_t *n = yaml_document_get_node(w->doc, id);
	size_t i = (size_t)id - 1, count = 1;
	int height = 0;

	if (!n)
		return -EINVAL;
	if (w->state[i] == WALK_DONE) {
		if (depth - 1 + w->height[i] > MANIFEST_MAX_DEPTH)
			return too_deep(w, n);
		return 0;
	}
	if (w->state[i] == WALK_BUSY) {
		log_error("%s:%d: an alias refers to a node that contains it",
			  w->path, mdoc_line(n));
		return -EINVAL;
	}
	if (n->type != YAML_SCALAR_NODE && depth > MANIFEST_MAX_DEPTH)
		return too_deep(w, n);

	w->state[i] = WALK_BUSY;
	if (n->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *it = n->data.sequence.items.start;
		     it < n->data.sequence.items.top; it++) {
			int r = limits_node(w, *it, depth + 1);

			if (r < 0)
				return r;
			count += w->count[*it - 1];
			if (w->height[*it - 1] > height)
				height = w->height[*it - 1];
			if (count > MANIFEST_MAX_NODES)
				return too_many_nodes(w, n);
		}
		height++;
	} else if (n->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
		     pr < n->data.mapping.pairs.top; pr++) {
			int ids[2] = { pr->key, pr->value };

			for (int k = 0; k < 2; k++) {
				int r = limits_node(w, ids[k], depth + 1);

				if (r < 0)
					return r;
				count += w->count[ids[k] - 1];
				if (w->height[ids[k] - 1] > height)
					height = w->height[ids[k] - 1];
				if (count > MANIFEST_MAX_NODES)
					return too_many_nodes(w, n);
			}
		}
		height++;
	}
	w->count[i] = count;
	w->height[i] = height;
	w->state[i] = WALK_DONE;
	return 0;
}

static int check_limits(const char *path, yaml_document_t *doc)
{
	size_t n = (size_t)(doc->nodes.top - doc->nodes.start);
	_cleanup_free_ unsigned char *state = xcalloc(n, sizeof(*state));
	_cleanup_free_ size_t *count = xcalloc(n, sizeof(*count));
	_cleanup_free_ int *height = xcalloc(n, sizeof(*height));
	struct limits_walk w = {
		.doc = doc, .path = path, .state = state, .count = count,
		.height = height,
	};

	return limits_node(&w, 1, 1);
}

/* A streaming pass before the document is built. libyaml's scanner slows
 * down quadratically with nesting and its loader looks anchors up linearly,
 * so nesting, node and anchor counts are bounded here, stopping at the
 * first event past a limit. Aliases count as one node each at this point;
 * their expansion is measured on the document. */
static int check_events(const char *path, const char *buf, size_t len)
{
	yaml_parser_t parser;
	size_t nodes = 0, anchors = 0;
	int depth = 0, r = 0;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	for (;;) {
		yaml_event_t ev;
		yaml_event_type_t type;
		const char *anchor = NULL;
		bool nul = false;
		int line;

		if (!yaml_parser_parse(&parser, &ev)) {
			r = parser_failed(path, &parser, buf, len);
			break;
		}
		type = ev.type;
		line = (int)ev.start_mark.line + 1;
		switch (type) {
		case YAML_SEQUENCE_START_EVENT:
			anchor = (const char *)ev.data.sequence_start.anchor;
			depth++;
			nodes++;
			break;
		case YAML_MAPPING_START_EVENT:
			anchor = (const char *)ev.data.mapping_start.anchor;
			depth++;
			nodes++;
			break;
		case YAML_SCALAR_EVENT:
			anchor = (const char *)ev.data.scalar.anchor;
			nodes++;
			/* "\0" in a quoted scalar: everything after it would be
			 * silently dropped, as strings are C strings here. */
			nul = ev.data.scalar.length &&
			      memchr(ev.data.scalar.value, '\0', ev.data.scalar.length);
			break;
		case YAML_ALIAS_EVENT:
			nodes++;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		default:
			break;
		}
		if (anchor)
			anchors++;
		yaml_event_delete(&ev);

		if (nul) {
			log_error("%s:%d: a string contains a NUL character (\\0)", path, line);
			r = -EINVAL;
			break;
		}
		if (depth > MANIFEST_MAX_DEPTH) {
			log_error("%s:%d: document is nested more than %d levels deep",
				  path, line, MANIFEST_MAX_DEPTH);
			r = -EINVAL;
			break;
		}
		if (nodes > MANIFEST_MAX_NODES) {
			log_error("%s:%d: document has more than %d nodes", path, line,
				  MANIFEST_MAX_NODES);
			r = -EINVAL;
			break;
		}
		if (anchors > MANIFEST_MAX_ANCHORS) {
			log_error("%s:%d: document has more than %d anchors", path, line,
				  MANIFEST_MAX_ANCHORS);
			r = -EINVAL;
			break;
		}
		if (type == YAML_STREAM_END_EVENT)
			break;
	}
	yaml_parser_delete(&parser);
	return r;
}

int mdoc_parse(const char *path, const char *buf, size_t len, struct mdoc **ret)
{
	yaml_parser_t parser;
	yaml_document_t extra;
	struct mdoc *d;
	int r;

	*ret = NULL;
	if (len > MANIFEST_MAX_BYTES) {
		log_error("%s: file is larger than 1 MiB (%zu bytes)", path, len);
		return -EINVAL;
	}
	r = check_events(path, buf, len);
	if (r < 0)
		return r;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);

	d = xcalloc(1, sizeof(*d));
	if (!yaml_parser_load(&parser, &d->doc)) {
		r = parser_failed(path, &parser, buf, len);
		free(TAKE_PTR(d));
		goto out;
	}
	if (!yaml_document_get_root_node(&d->doc)) {
		log_error("%s:1: manifest is empty", path);
		r = -EINVAL;
		goto out;
	}

	/* A second document (even an empty `---`) is refused: one file, one
	 * manifest. A syntax error after the first document is still one. */
	if (!yaml_parser_load(&parser, &extra)) {
		r = parser_failed(path, &parser, buf, len);
		goto out;
	}
	if (yaml_document_get_root_node(&extra)) {
		log_error("%s:%zu: more than one YAML document in one file",
			  path, extra.start_mark.line + 1);
		r = -EINVAL;
	}
	yaml_document_delete(&extra);
	if (r == 0)
		r = check_limits(path, &d->doc);
out:
	yaml_parser_delete(&parser);
	if (r < 0) {
		mdoc_free(d);
		return r;
	}
	*ret = d;
	return 0;
}

void mdoc_free(struct mdoc *d)
{
	if (!d)
		return;
	yaml_document_delete(&d->doc);
	free(d);
}

yaml_node_t *mdoc_root(struct mdoc *d)
{
	return d ? yaml_document_get_root_node(&d->doc) : NULL;
}

const char *mdoc_scalar(const yaml_node_t *n)
{
	if (!n || n->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)n->data.scalar.value;
}

bool mdoc_is_null(const yaml_node_t *n)
{
	const char *s = mdoc_scalar(n);

	if (!s || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return !*s || streq(s, "~") || streq(s, "null") || streq(s, "Null") ||
	       streq(s, "NULL");
}

yaml_node_t *mdoc_get_key_nth(struct mdoc *d, yaml_node_t *map, const char *key,
			      unsigned nth)
{
	if (!d || !map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&d->doc, p->key);
		const char *s = mdoc_scalar(k);

		if (s && streq(s, key) && nth-- == 0)
			return k;
	}
	return NULL;
}

yaml_node_t *mdoc_get(struct mdoc *d, yaml_node_t *map, const char *key,
		      yaml_node_t **ret_key)
{
	if (ret_key)
		*ret_key = NULL;
	if (!d || !map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&d->doc, p->key);
		const char *s = mdoc_scalar(k);

		if (s && streq(s, key)) {
			if (ret_key)
				*ret_key = k;
			return yaml_document_get_node(&d->doc, p->value);
		}
	}
	return NULL;
}

size_t mdoc_len(const yaml_node_t *n)
{
	if (!n)
		return 0;
	if (n->type == YAML_SEQUENCE_NODE)
		return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (n->type == YAML_MAPPING_NODE)
		return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	return 0;
}

yaml_node_t *mdoc_item(struct mdoc *d, yaml_node_t *seq, size_t idx)
{
	if (!d || !seq || seq->type != YAML_SEQUENCE_NODE || idx >= mdoc_len(seq))
		return NULL;
	return yaml_document_get_node(&d->doc, seq->data.sequence.items.start[idx]);
}

yaml_node_t *mdoc_entry(struct mdoc *d, const char *list, size_t idx)
{
	return mdoc_item(d, mdoc_get(d, mdoc_root(d), list, NULL), idx);
}

int mdoc_entry_line(struct mdoc *d, const char *list, size_t idx, const char *key)
{
	yaml_node_t *entry = mdoc_entry(d, list, idx), *k = NULL;

	if (!entry)
		return 0;
	if (key)
		mdoc_get(d, entry, key, &k);
	return mdoc_line(k ? k : entry);
}

int mdoc_top_line(struct mdoc *d, const char *key)
{
	yaml_node_t *root = mdoc_root(d), *k = NULL;

	if (!root)
		return 0;
	if (key)
		mdoc_get(d, root, key, &k);
	return mdoc_line(k ? k : root);
}

int manifest_attachment_line(const struct cnf_manifest *m, size_t idx, const char *key)
{
	if (!m || !m->pos)
		return 0;
	return mdoc_entry_line(m->pos, "attachments", idx, key);
}

int manifest_object_line(const struct cnf_manifest *m, size_t idx, const char *key)
{
	if (!m || !m->pos)
		return 0;
	return mdoc_entry_line(m->pos, "objects", idx, key);
}

static const char *node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "a scalar";
	}
}

#define CONFIG_MAX_ERRORS 50    /* shown per object; the rest are counted */

static void config_error(const char *path, const yaml_node_t *at, const char *label,
			 unsigned *errors, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void config_error(const char *path, const yaml_node_t *at, const char *label,
			 unsigned *errors, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	/* A hostile mapping can hold thousands of bad entries: show the
	 * first ones, count the rest (see mdoc_read_config()). */
	if ((*errors)++ >= CONFIG_MAX_ERRORS)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	log_error("%s (%s:%d): %s", label, path, mdoc_line(at), msg ? msg : "invalid config");
}

unsigned mdoc_read_config(struct mdoc *d, const char *path, size_t idx,
			  struct cnf_object *obj, const char *label)
{
	yaml_node_t *entry = mdoc_entry(d, "objects", idx), *key, *cfg, *dup;
	unsigned errors = 0;
	size_t n;

	cfg = mdoc_get(d, entry, "config", &key);
	if (!cfg)
		return 0;
	/* The typed loader ignores `config`, duplicates included. */
	dup = mdoc_get_key_nth(d, entry, "config", 1);
	if (dup)
		config_error(path, dup, label, &errors,
			     "duplicate key 'config' (first at line %d)", mdoc_line(key));
	if (mdoc_is_null(cfg))
		return errors;
	if (cfg->type != YAML_MAPPING_NODE) {
		config_error(path, key, label, &errors,
			     "key 'config': expected a mapping of variable names to values, got %s",
			     node_kind(cfg));
		return errors;
	}

	n = mdoc_len(cfg);
	obj->config = xcalloc(n, sizeof(*obj->config));
	for (yaml_node_pair_t *p = cfg->data.mapping.pairs.start;
	     p < cfg->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&d->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(&d->doc, p->value);
		const char *name = mdoc_scalar(k);
		struct cnf_config_var *var;

		if (!name || !*name) {
			config_error(path, k, label, &errors,
				     "config: variable names must be non-empty strings");
			continue;
		}
		if (v->type == YAML_MAPPING_NODE) {
			config_error(path, k, label, &errors,
				     "config '%s': expected a value or a list of values, got a mapping",
				     name);
			continue;
		}
		if (mdoc_is_null(v)) {
			config_error(path, k, label, &errors, "config '%s' has no value", name);
			continue;
		}

		var = &obj->config[obj->config_count++];
		var->name = xstrdup(name);
		var->line = mdoc_line(k);
		if (v->type == YAML_SCALAR_NODE) {
			var->value = xstrdup(mdoc_scalar(v));
			/* Any non-plain style is a string, never a number. */
			var->quoted = v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
			continue;
		}

		var->items = xcalloc(mdoc_len(v), sizeof(*var->items));
		for (size_t i = 0; i < mdoc_len(v); i++) {
			yaml_node_t *it = mdoc_item(d, v, i);

			if (it->type != YAML_SCALAR_NODE || mdoc_is_null(it)) {
				config_error(path, it, label, &errors,
					     "config '%s': entry %zu: expected a value, got %s",
					     name, i + 1,
					     it->type == YAML_SCALAR_NODE ? "nothing" : node_kind(it));
				continue;
			}
			var->items[var->items_count++] = xstrdup(mdoc_scalar(it));
		}
	}
	if (errors > CONFIG_MAX_ERRORS)
		log_error("%s (%s:%d): %u more problems in 'config' not shown", label, path,
			  mdoc_line(key), errors - CONFIG_MAX_ERRORS);
	return errors;
}
