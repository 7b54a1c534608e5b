/* SPDX-License-Identifier: GPL-2.0-only */
/* The libyaml side of the manifest loader: one manifest's YAML document,
 * parsed with the document API and kept for the lifetime of the manifest
 * (it is `m->pos`), for resource limits, key and entry positions and the
 * free-form `config:` mappings that the typed schema cannot describe. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "cnf/manifest.h"

#define MANIFEST_MAX_BYTES (1u << 20)   /* refused before parsing */
#define MANIFEST_MAX_NODES 100000       /* nodes after alias expansion */
#define MANIFEST_MAX_DEPTH 64           /* nesting of collections */
#define MANIFEST_MAX_ANCHORS 1000       /* libyaml looks anchors up linearly */

struct mdoc {
	yaml_document_t doc;
};

/* Parses `buf`, enforces the limits above and rejects streams of more or
 * fewer than one document (an empty file is refused too). Problems are logged as "PATH:LINE[:COL]: ...";
 * returns -EINVAL (or -ENOMEM) after logging. */
int mdoc_parse(const char *path, const char *buf, size_t len, struct mdoc **ret);
void mdoc_free(struct mdoc *d);

yaml_node_t *mdoc_root(struct mdoc *d);
/* Value of `key` in mapping `map` (first occurrence); its key node goes to
 * *ret_key when not NULL. NULL when absent or `map` is no mapping. */
yaml_node_t *mdoc_get(struct mdoc *d, yaml_node_t *map, const char *key,
		      yaml_node_t **ret_key);
/* The `nth` (0-based) occurrence of `key` in `map`, key node only. */
yaml_node_t *mdoc_get_key_nth(struct mdoc *d, yaml_node_t *map, const char *key,
			      unsigned nth);
/* Item `idx` of sequence `seq`; NULL when out of range or no sequence. */
yaml_node_t *mdoc_item(struct mdoc *d, yaml_node_t *seq, size_t idx);
size_t mdoc_len(const yaml_node_t *n);
/* Scalar text, NULL when `n` is no scalar. */
const char *mdoc_scalar(const yaml_node_t *n);
/* A plain scalar that YAML reads as null: empty, `~`, `null`. */
bool mdoc_is_null(const yaml_node_t *n);
static inline int mdoc_line(const yaml_node_t *n)
{
	return n ? (int)n->start_mark.line + 1 : 0;
}

/* Entry `idx` of the top-level list `list` ("objects" or "attachments"). */
yaml_node_t *mdoc_entry(struct mdoc *d, const char *list, size_t idx);
/* Line of `key` in that entry, the entry's line when the key is absent,
 * 0 when there is no such entry. */
int mdoc_entry_line(struct mdoc *d, const char *list, size_t idx, const char *key);
/* Line of a top-level key, or of the document's start when absent. */
int mdoc_top_line(struct mdoc *d, const char *key);

/* Reads `config:` of object entry `idx` into obj->config. Problems are
 * logged as "PATH:LINE: LABEL: ..."; returns how many (0: fine). Scalars
 * in any style but plain count as `quoted`. */
unsigned mdoc_read_config(struct mdoc *d, const char *path, size_t idx,
			  struct cnf_object *obj, const char *label);
