/* SPDX-License-Identifier: GPL-2.0-only */
/* What a new program version changes in its global variables.
 *
 * A config change is a program change: plan and apply show it as an
 * update (or replacement) of every attachment using the object, naming
 * the variables whose values change. The state record does not keep the
 * old config; the running program does. Its .rodata/.data/.bss maps
 * (among the program's map_ids) hold the variables at the offsets the
 * map's own BTF DATASEC gives, and they are compared, by name, with the
 * new object's initial values after `config:` was applied.
 *
 * Which variables are listed:
 *   - read-only sections (.rodata, .rodata.*): every variable whose value
 *     differs, named in `config:` or not (a new object may change a
 *     default);
 *   - writable sections (.data, .bss, .data.*): only variables named in
 *     `config:`, since the program may change the others itself. Their old
 *     value is the one the variable holds now, which the program may have
 *     written: such a change is marked `writable`;
 *   - a variable of a section the running program does not use (its code
 *     holds only the maps it refers to) does not change that program and
 *     is not listed for it.
 *
 * Computed only for actions that are already updates or replacements of
 * a new program version: a run that changes nothing reads nothing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;
struct run;

struct config_change {
	char *variable;
	char *section;                /* ".rodata", ".data", ".bss", ... (the new object's) */
	char *old_text, *new_text;    /* for people; NULL: no such variable on that side */
	struct json_object *old_json, *new_json; /* typed values; NULL: absent */
	bool writable;                /* the old value is the live value of a writable section */
	bool in_config;               /* named in the manifest's `config:` */
};

struct config_diff {
	uint32_t prog_id;             /* the running program compared against */
	const void *entry;            /* the new object's struct obj_entry */
	bool object_changed;          /* the object file's content differs from the record's */
	bool known;                   /* the running program's variables could be read */
	struct config_change *changes;
	size_t count;
};

/* Fills each update/replace action's `config_diff` and rewrites its
 * generic reason ("object or config changed") into what changed:
 * "config: sample_rate 100 -> 200", "object changed; config: ...". */
void config_diff_annotate(struct run *r);
void config_diff_free(struct run *r);

/* The changes of one action as a JSON array (a new reference). */
struct json_object *config_diff_json(const struct config_diff *d);

struct btf;
/* One value of BTF type `type_id`, for people (integers, true/false,
 * enumerator names, "strings" for char arrays, [lists], else 0x hex; cut
 * with "..." past 200 characters) and for JSON (typed, whole). */
void config_value_format(const struct btf *btf, uint32_t type_id, const void *data, size_t size,
			 char *text, size_t textlen, struct json_object **ret_json);
