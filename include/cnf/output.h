/* SPDX-License-Identifier: GPL-2.0-only */
/* One data model, three renderers: text for people, a JSON document for
 * machines, JSON lines for watch. */
#pragma once

#include <stdarg.h>
#include <json-c/json.h>

#include "cnf/cli.h"
#include "cnf/reconcile.h"

/* Logs an error and returns EXIT_FAIL after printing {"error": ...} in
 * JSON mode. */
int output_fail(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The message of a format and its arguments (vasprintf), NULL if it cannot
 * be made: output_fail() and watch's lines. Free it. */
char *output_vformat(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/* After errors were logged: the JSON error document (JSON mode), EXIT_FAIL. */
int output_errors(const struct cli *cli);
/* Prints one JSON document on stdout (adds "warnings" when there are any). */
void output_json(json_object *doc);
/* JSON lines (watch): one line {"time", "event": EVENT, ...o's members},
 * flushed. Takes `o`. */
void output_json_line(const char *event, json_object *o);

/* plan/apply: the actions, with results after apply. */
void output_plan(const struct run *r, bool applied);
/* The JSON document output_plan() prints in JSON mode. */
json_object *output_plan_json(const struct run *r, bool applied);
json_object *output_action_json(const struct cnf_action *a, bool applied);
/* Pinned maps whose pin went away (map_pins.h): plan, apply, status. */
json_object *output_map_pins_json(const struct run *r, bool applied);
void output_map_pins_text(const struct run *r, bool applied);
/* status: one attachment instance, as the model the renderers share. */
struct foreign_prog;
struct status_row {
	const struct cnf_action *a;
	const char *state;            /* in-sync, missing, drifted, defunct, orphaned, ... */
	const char *reason;
	char *reason_owned;           /* `reason` when made for the row (freed with it) */
	uint32_t link_id, prog_id;
	struct foreign_prog *foreign; /* other tools' programs on its hook */
	size_t foreign_count;
};
/* status's renderers: text or the JSON document (--metrics: metrics.h). */
void output_status(const struct run *r, const struct status_row *rows, size_t n, bool in_sync);
/* status: the maps of the objects that would be loaded, and pins left by
 * killed runs, that need attention (objects_map_differs()). */
void output_maps_status_json(const struct run *r, json_object *arr);
void output_maps_status_text(const struct run *r);
