// SPDX-License-Identifier: GPL-2.0-only
/* Renderers for the verbs' results. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "cnf/config_diff.h"
#include "cnf/hooks.h"
#include "cnf/log.h"
#include "cnf/map_pins.h"
#include "cnf/output.h"
#include "cnf/state.h"
#include "cnf/util.h"

void output_json(json_object *doc)
{
	if (log_warn_count()) {
		json_object *w = json_object_new_array();

		for (unsigned i = 0; i < log_warn_count(); i++)
			json_object_array_add(w, json_object_new_string(log_warn_at(i)));
		json_object_object_add(doc, "warnings", w);
	}
	fputs(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
					      JSON_C_TO_STRING_NOSLASHESCAPE), stdout);
	fputc('\n', stdout);
	fflush(stdout);
}

int output_errors(const struct cli *cli)
{
	json_object *doc, *arr;

	if (!cli->json)
		return EXIT_FAIL;
	doc = json_object_new_object();
	arr = json_object_new_array();
	for (unsigned i = 0; i < log_error_count(); i++)
		json_object_array_add(arr, json_object_new_string(log_error_at(i)));
	json_object_object_add(doc, "error", json_object_new_string(
		log_error_count() ? log_error_at(0) : "failed"));
	json_object_object_add(doc, "errors", arr);
	output_json(doc);
	json_object_put(doc);
	return EXIT_FAIL;
}

char *output_vformat(const char *fmt, va_list ap)
{
	char *s;

	return vasprintf(&s, fmt, ap) < 0 ? NULL : s;
}

int output_fail(const struct cli *cli, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = output_vformat(fmt, ap);
	va_end(ap);
	log_error("%s", s ? s : fmt);
	free(s);
	return output_errors(cli);
}

static const char *action_manifest(const struct cnf_action *a)
{
	return a->want ? a->want->manifest->name : a->have->manifest;
}

static const char *action_attachment(const struct cnf_action *a)
{
	static char att[CNF_KEY_MAX];
	const char *slash;

	if (a->want)
		return a->want->att->name;
	if (a->have->rec.attachment[0])
		return a->have->rec.attachment;
	/* No record: the pin's directory names it. */
	slash = strchr(a->have->key, '/');
	snprintf(att, sizeof(att), "%.*s", slash ? (int)(slash - a->have->key) : (int)strlen(a->have->key),
		 a->have->key);
	return att;
}

static const char *action_hook(const struct cnf_action *a)
{
	if (a->want)
		return a->want->att->hook;
	if (a->have->has_record)
		return hook_kind_name((enum hook_kind)a->have->rec.hook);
	return a->have->foreign_link_id ? link_type_name(a->have->foreign_link_type) : "?";
}

static const char *action_target(const struct cnf_action *a)
{
	if (a->want)
		return a->want->target_text;
	return a->have->has_record ? a->have->rec.target : strchr(a->have->key, '/') + 1;
}

static const char *action_program(const struct cnf_action *a)
{
	if (a->want)
		return a->want->att->program ? a->want->att->program : a->want->att->map;
	return a->have->has_record ? a->have->rec.program : NULL;
}

/* The family of an action: its target's, or for a delete its record's. */
static const struct hook_ops *action_ops(const struct cnf_action *a)
{
	if (a->want)
		return hook_ops_get(a->want->t.kind);
	return a->have->has_record ? hook_ops_get((enum hook_kind)a->have->rec.hook) : NULL;
}

static const char *action_via(const struct cnf_action *a)
{
	const struct hook_ops *ops = action_ops(a);

	if (!ops || !ops->via)
		return NULL;
	return ops->via(a->want ? &a->want->t : NULL, a->want ? NULL : &a->have->rec);
}

/* What another tool put where the instance is: its kind and ids, from
 * the kernel. */
static json_object *output_foreign_json(const struct cnf_observed *h)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "kind", json_object_new_string(
		h->foreign_filter ? "tc filter" : h->foreign_kind));
	if (h->foreign_link_id) {
		json_object_object_add(o, "link_id", json_object_new_int64(h->foreign_link_id));
		json_object_object_add(o, "link_type", json_object_new_string(
			link_type_name(h->foreign_link_type)));
	}
	if (h->foreign_prog_id) {
		json_object_object_add(o, "prog_id", json_object_new_int64(h->foreign_prog_id));
		json_object_object_add(o, "prog_name", json_object_new_string(h->foreign_prog_name));
	}
	return o;
}

json_object *output_action_json(const struct cnf_action *a, bool applied)
{
	json_object *o = json_object_new_object();
	const struct hook_ops *ops;
	const char *s;

	json_object_object_add(o, "action", json_object_new_string(
		a->refused ? "refuse" : a->left_alone ? "none" : action_kind_name(a->kind)));
	json_object_object_add(o, "manifest", json_object_new_string(action_manifest(a)));
	json_object_object_add(o, "attachment", json_object_new_string(action_attachment(a)));
	json_object_object_add(o, "hook", json_object_new_string(action_hook(a)));
	json_object_object_add(o, "target", json_object_new_string(action_target(a)));
	if ((s = action_program(a)))
		json_object_object_add(o, "program", json_object_new_string(s));
	json_object_object_add(o, "reason", json_object_new_string(a->reason));
	if ((s = strategy_name(a->strategy)))
		json_object_object_add(o, "strategy", json_object_new_string(s));
	if ((s = action_via(a)))
		json_object_object_add(o, "via", json_object_new_string(s));
	if (a->reuse_prog_id)
		json_object_object_add(o, "reuses_prog_id", json_object_new_int64(a->reuse_prog_id));
	if (a->refused)
		json_object_object_add(o, "refused", json_object_new_boolean(true));
	if (a->quarantine)
		json_object_object_add(o, "quarantine", json_object_new_boolean(true));
	if (a->have && (a->have->foreign_pin || a->have->foreign_filter))
		json_object_object_add(o, "foreign_object", output_foreign_json(a->have));
	if (a->want && a->want->hook_desc[0])
		json_object_object_add(o, "hook_params", json_object_new_string(a->want->hook_desc));
	if (a->config_diff) {
		json_object_object_add(o, "object_changed",
				       json_object_new_boolean(a->config_diff->object_changed));
		json_object_object_add(o, "config_changes", a->config_diff->known ?
				       config_diff_json(a->config_diff) : NULL);
	}
	if (applied || a->kind == ACT_NOOP || a->kind == ACT_DELETE) {
		uint32_t link = a->done || a->kind == ACT_NOOP ? a->link_id : a->have ? a->have->link_id : 0;
		uint32_t prog = a->done || a->kind == ACT_NOOP ? a->prog_id : a->have ? a->have->prog_id : 0;

		if (a->kind == ACT_NOOP && a->have) {
			link = a->have->link_id;
			prog = a->have->prog_id;
		}
		if (link)
			json_object_object_add(o, "link_id", json_object_new_int64(link));
		if (prog)
			json_object_object_add(o, "prog_id", json_object_new_int64(prog));
	}
	if (applied)
		json_object_object_add(o, "done", json_object_new_boolean(a->done || a->kind == ACT_NOOP));
	if (a->want && (ops = hook_ops_get(a->want->t.kind)) && ops->note_key) {
		const char *note = a->result_note;

		/* What the attach obtained stays until the link is replaced. */
		if (!note && a->have && a->have->has_record && a->kind != ACT_CREATE &&
		    a->kind != ACT_REPLACE)
			note = ops->record_note(&a->have->rec);
		if (note)
			json_object_object_add(o, ops->note_key, json_object_new_string(note));
	}
	return o;
}

/* A path under <bpffs>/_maps/ as a manifest's pin: relative to it. */
static const char *map_path_rel(const struct run *r, const char *path)
{
	const char *rel = state_map_rel(r->cli->bpffs, path);

	return rel ? rel : path;
}

json_object *output_map_pins_json(const struct run *r, bool applied)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < r->map_drifts_count; i++) {
		const struct map_pin_drift *d = &r->map_drifts[i];
		json_object *o = json_object_new_object(), *progs = json_object_new_array();

		for (size_t k = 0; k < d->prog_count; k++)
			json_object_array_add(progs, json_object_new_int64(d->prog_ids[k]));
		json_object_object_add(o, "action", json_object_new_string(d->map_id ? "repin" : "none"));
		json_object_object_add(o, "state", json_object_new_string(d->impostor_id ? "impostor"
										       : "missing"));
		json_object_object_add(o, "impostor_map_id", d->impostor_id ?
				       json_object_new_int64(d->impostor_id) : NULL);
		json_object_object_add(o, "recorded_map_id", d->recorded_id ?
				       json_object_new_int64(d->recorded_id) : NULL);
		json_object_object_add(o, "manifest", json_object_new_string(d->manifest->name));
		json_object_object_add(o, "object", json_object_new_string(d->obj->name));
		json_object_object_add(o, "map", json_object_new_string(d->opt->name));
		json_object_object_add(o, "pin", json_object_new_string(d->opt->pin));
		json_object_object_add(o, "path", json_object_new_string(d->path));
		json_object_object_add(o, "map_id", d->map_id ? json_object_new_int64(d->map_id) : NULL);
		json_object_object_add(o, "prog_ids", progs);
		json_object_object_add(o, "reason", json_object_new_string(d->reason));
		if (applied)
			json_object_object_add(o, "done", json_object_new_boolean(d->done));
		json_object_array_add(arr, o);
	}
	for (size_t i = 0; i < r->map_stale_count; i++) {
		const struct map_pin_stale *s = &r->map_stale[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "action", json_object_new_string(s->used_by ? "keep"
										       : "unpin"));
		json_object_object_add(o, "state", json_object_new_string("stale"));
		json_object_object_add(o, "manifest", json_object_new_string(s->manifest->name));
		json_object_object_add(o, "object", NULL);
		json_object_object_add(o, "map", json_object_new_string(strrchr(s->path, '/') + 1));
		json_object_object_add(o, "pin", json_object_new_string(map_path_rel(r, s->path)));
		json_object_object_add(o, "path", json_object_new_string(s->path));
		json_object_object_add(o, "map_id", s->map_id ? json_object_new_int64(s->map_id) : NULL);
		json_object_object_add(o, "used_by_prog_id", s->used_by ?
				       json_object_new_int64(s->used_by) : NULL);
		json_object_object_add(o, "contents_lost", json_object_new_boolean(false));
		json_object_object_add(o, "reason", json_object_new_string(s->reason));
		if (applied)
			json_object_object_add(o, "done", json_object_new_boolean(s->done));
		json_object_array_add(arr, o);
	}
	return arr;
}

void output_map_pins_text(const struct run *r, bool applied)
{
	for (size_t i = 0; i < r->map_stale_count; i++) {
		const struct map_pin_stale *s = &r->map_stale[i];

		printf("%-3s %-7s %s  map %s  [stale]\n      %s%s\n", s->used_by ? "=" : "-",
		       s->used_by ? "keep" : "unpin", s->manifest->name, map_path_rel(r, s->path),
		       s->reason, applied && s->done ? "; unpinned" : "");
	}
	for (size_t i = 0; i < r->map_drifts_count; i++) {
		const struct map_pin_drift *d = &r->map_drifts[i];

		printf("%-3s %-7s %s/%s  map %s  [%s]\n      %s", d->map_id ? "~" : "!",
		       d->map_id ? "repin" : "map", d->manifest->name, d->obj->name, d->opt->pin,
		       d->opt->name, d->reason);
		if (d->map_id)
			printf(applied && d->done ? "; pinned again" :
			       applied ? "; not pinned again" : "; pinned again before any object is loaded");
		printf("\n");
	}
}

/* The pin of a map as a manifest writes it: its path under _maps/. */
static const char *map_pin_rel(const struct run *r, const struct map_plan *g)
{
	const char *rel = state_map_rel(r->cli->bpffs, g->path);

	return rel ? rel : g->path;
}

/* A stale <pin>%new goes with this run (or went, after apply). */
static bool stale_removed(const struct map_plan *g)
{
	return g->stale_removed || (g->stale && g->action == MAP_RECREATE && g->done);
}

/* Why, for people: what the run does with the map. */
static void map_plan_reason(const struct map_plan *g, bool applied, char *buf, size_t len)
{
	size_t pos = 0;
	int n;

	buf[0] = '\0';
#define ADD(...) do {								\
		n = snprintf(buf + pos, pos < len ? len - pos : 0, __VA_ARGS__);	\
		if (n > 0)							\
			pos += (size_t)n;					\
	} while (0)
	if (g->problem) {
		/* status: what plan and apply refuse. */
		ADD("%s", g->problem);
		return;
	}
	switch (g->action) {
	case MAP_REUSE:
		if (g->path)
			ADD("pinned map reused: its contents carry over");
		else
			ADD("not pinned: the new version takes over map %u of the running program, "
			    "contents and all", g->old_id);
		if (g->init)
			ADD("; its %zu initial entr%s are not written over live state",
			    g->init->count, g->init->count == 1 ? "y" : "ies");
		break;
	case MAP_CREATE:
		if (g->path)
			ADD("no map pinned there: a new one");
		else if (g->own)
			ADD("%s: a new map with the new version", g->own);
		else
			ADD("not pinned, and no running program of the object uses it: a new map");
		if (g->init)
			ADD(", with %zu initial entr%s", g->init->count,
			    g->init->count == 1 ? "y" : "ies");
		break;
	case MAP_RESET:
		ADD("not pinned; map %u of the running program does not fit the new version: ",
		    g->old_id);
		for (size_t i = 0; i < g->diffs_count; i++)
			ADD("%s%s %s -> %s", i ? ", " : "", g->diffs[i].property, g->diffs[i].old_val,
			    g->diffs[i].new_val);
		ADD("; the new version starts with a new map%s", g->init ? "" : ", empty");
		if (g->init)
			ADD(", with %zu initial entr%s", g->init->count,
			    g->init->count == 1 ? "y" : "ies");
		ADD("; the contents of map %u %s LOST (on_incompatible: recreate)", g->old_id,
		    applied && g->done ? "are" : "will be");
		break;
	case MAP_RECREATE:
		ADD("pinned map does not fit the new version: ");
		for (size_t i = 0; i < g->diffs_count; i++)
			ADD("%s%s %s -> %s", i ? ", " : "", g->diffs[i].property, g->diffs[i].old_val,
			    g->diffs[i].new_val);
		if (g->resume)
			ADD("; %s the new map an interrupted run made", applied ? "took over" :
			    "takes over");
		else
			ADD("; a new map replaces it%s", g->init ? "" : ", empty");
		if (g->init && !g->resume)
			ADD(", with %zu initial entr%s", g->init->count,
			    g->init->count == 1 ? "y" : "ies");
		ADD("; the contents of map %u %s lost (on_incompatible: recreate)", g->old_id,
		    applied && g->done ? "are" : "will be");
		break;
	case MAP_UNPIN:
		ADD("pinned by name by the running version (map %u), which the new version "
		    "no longer has: %s", g->old_id, applied && g->done ? "unpinned" :
		    "unpinned once the programs using it are replaced");
		break;
	case MAP_KEEP:
		ADD("no object of this run loads it: the %s stays as it is",
		    g->path ? "pinned map" : "running program's map");
		break;
	}
	if (g->stale)
		ADD("; %s%s, left by an interrupted run, %s", g->path, TMP_SUFFIX,
		    !applied ? "is unpinned" : stale_removed(g) ? "was unpinned" : "was left");
#undef ADD
}

/* The state of a map in status: what makes it a difference. */
static const char *map_plan_state(const struct map_plan *g)
{
	/* "stale": a leftover <pin>%new, or a pin by name the new version dropped. */
	return g->diffs_count ? "incompatible" : g->problem ? "invalid" : "stale";
}

static json_object *map_plan_json(const struct run *r, const struct map_plan *g, bool applied,
				  bool status)
{
	const struct map_user *u = &g->users[0];
	json_object *o = json_object_new_object(), *objs = json_object_new_array();
	json_object *diffs = json_object_new_array();
	char reason[2048];

	for (size_t k = 0; k < g->users_count; k++) {
		char *s = strprintf("%s/%s", g->users[k].e->manifest->name, g->users[k].e->obj->name);

		json_object_array_add(objs, json_object_new_string(s ? s : "?"));
		free(s);
	}
	for (size_t k = 0; k < g->diffs_count; k++) {
		json_object *d = json_object_new_object();

		json_object_object_add(d, "property", json_object_new_string(g->diffs[k].property));
		json_object_object_add(d, "old", json_object_new_string(g->diffs[k].old_val));
		json_object_object_add(d, "new", json_object_new_string(g->diffs[k].new_val));
		json_object_array_add(diffs, d);
	}
	map_plan_reason(g, applied, reason, sizeof(reason));
	/* status: apply refuses what `problem` says. */
	json_object_object_add(o, "action", json_object_new_string(
		g->problem ? "none" : map_action_name(g->action)));
	if (status)
		json_object_object_add(o, "state", json_object_new_string(map_plan_state(g)));
	json_object_object_add(o, "manifest", json_object_new_string(u->e->manifest->name));
	json_object_object_add(o, "object", json_object_new_string(u->e->obj->name));
	json_object_object_add(o, "objects", objs);
	json_object_object_add(o, "map", json_object_new_string(g->name));
	json_object_object_add(o, "pin", g->path ? json_object_new_string(map_pin_rel(r, g)) : NULL);
	json_object_object_add(o, "path", g->path ? json_object_new_string(g->path) : NULL);
	json_object_object_add(o, "loaded", json_object_new_boolean(g->loaded));
	if (g->action == MAP_RECREATE || g->action == MAP_RESET)
		json_object_object_add(o, "old_map_id", json_object_new_int64(g->old_id));
	if (applied && g->done && g->new_id && g->action != MAP_KEEP)
		json_object_object_add(o, "map_id", json_object_new_int64(g->new_id));
	else if ((g->action == MAP_REUSE || g->action == MAP_KEEP || g->action == MAP_UNPIN) &&
		 g->old_id)
		json_object_object_add(o, "map_id", json_object_new_int64(g->old_id));
	json_object_object_add(o, "contents_lost",
			       json_object_new_boolean((g->action == MAP_RECREATE ||
							g->action == MAP_RESET) && !g->problem));
	json_object_object_add(o, "differences", diffs);
	json_object_object_add(o, "initial_entries", json_object_new_int64(
		g->init && g->action != MAP_REUSE && g->action != MAP_KEEP && !g->resume &&
		!g->problem ? (int64_t)g->init->count : 0));
	if (g->stale) {
		char *p = strprintf("%s%s", g->path, TMP_SUFFIX);

		json_object_object_add(o, "stale_path", json_object_new_string(p ? p : "?"));
		free(p);
	} else {
		json_object_object_add(o, "stale_path", NULL);
	}
	json_object_object_add(o, "reason", json_object_new_string(reason));
	if (applied)
		json_object_object_add(o, "done", json_object_new_boolean(g->done));
	return o;
}

static void output_maps_json(const struct run *r, bool applied, json_object *arr)
{
	for (size_t i = 0; i < r->objs.maps_count; i++)
		json_object_array_add(arr, map_plan_json(r, &r->objs.maps[i], applied, false));
}

static void output_maps_text(const struct run *r, bool applied)
{
	for (size_t i = 0; i < r->objs.maps_count; i++) {
		const struct map_plan *g = &r->objs.maps[i];
		const struct map_user *u = &g->users[0];
		char reason[2048];

		/* What loses its contents always shows; what carries over or
		 * is each version's own, with -v. */
		if ((g->action == MAP_REUSE || g->action == MAP_KEEP ||
		     (g->action == MAP_CREATE && !g->path)) && !g->stale && log_verbosity < 1)
			continue;
		map_plan_reason(g, applied, reason, sizeof(reason));
		printf("%-3s %-7s %s/%s  map %s  [%s]\n      %s",
		       g->action == MAP_RECREATE || g->action == MAP_RESET ? "-/+" :
		       g->action == MAP_CREATE ? "+" : g->action == MAP_UNPIN ? "-" : "=",
		       map_action_name(g->action), u->e->manifest->name, u->e->obj->name,
		       g->path ? map_pin_rel(r, g) : "(not pinned)", g->name, reason);
		if (g->users_count > 1)
			printf("; shared by %zu objects of this run", g->users_count);
		if (applied && g->done && g->new_id && g->action != MAP_REUSE && g->action != MAP_KEEP)
			printf("; map %u", g->new_id);
		printf("\n");
	}
}

void output_maps_status_json(const struct run *r, json_object *arr)
{
	for (size_t i = 0; i < r->objs.maps_count; i++)
		if (objects_map_differs(&r->objs.maps[i]))
			json_object_array_add(arr, map_plan_json(r, &r->objs.maps[i], false, true));
}

void output_maps_status_text(const struct run *r)
{
	for (size_t i = 0; i < r->objs.maps_count; i++) {
		const struct map_plan *g = &r->objs.maps[i];
		const struct map_user *u = &g->users[0];
		char reason[2048];

		if (!objects_map_differs(g))
			continue;
		map_plan_reason(g, false, reason, sizeof(reason));
		printf("%-12s %s/%s  map %s  [%s]\n             %s%s\n", map_plan_state(g),
		       u->e->manifest->name, u->e->obj->name,
		       g->path ? map_pin_rel(r, g) : "(not pinned)", g->name, reason,
		       g->problem ? "" : g->diffs_count ? "; apply does it" : "");
	}
}

/* ", 1 map to recreate" for the summary line. */
static void maps_summary(const struct run *r, bool applied, char *buf, size_t len)
{
	size_t n = 0, stale = 0, pos = strlen(buf);

	for (size_t i = 0; i < r->objs.maps_count; i++) {
		const struct map_plan *g = &r->objs.maps[i];

		n += (g->action == MAP_RECREATE || g->action == MAP_RESET) && (!applied || g->done);
		stale += g->stale && g->action != MAP_RECREATE && (!applied || g->stale_removed);
	}
	if (n && pos < len)
		pos += (size_t)snprintf(buf + pos, len - pos, ", %zu map%s %s", n, n == 1 ? "" : "s",
					applied ? "recreated, contents lost" :
					"to recreate, contents lost");
	if (stale && pos < len)
		snprintf(buf + pos, len - pos, ", %zu leftover map pin%s %s", stale,
			 stale == 1 ? "" : "s", applied ? "removed" : "to remove");
}

static const char *action_sign(enum action_kind k)
{
	switch (k) {
	case ACT_CREATE:  return "+";
	case ACT_UPDATE:  return "~";
	case ACT_REPLACE: return "-/+";
	case ACT_DELETE:  return "-";
	case ACT_NOOP:    return "=";
	}
	return "?";
}

/* Actions by kind, the refused ones apart (their count is returned) and
 * those left alone not counted. */
static size_t plan_counts(const struct cnf_plan *p, size_t counts[ACT_DELETE + 1])
{
	size_t refused = 0;

	for (size_t i = 0; i < p->count; i++) {
		if (p->actions[i].refused)
			refused++;
		else if (!p->actions[i].left_alone)
			counts[p->actions[i].kind]++;
	}
	return refused;
}

json_object *output_plan_json(const struct run *r, bool applied)
{
	const struct cnf_plan *p = &r->plan;
	size_t counts[ACT_DELETE + 1] = {};
	json_object *doc = json_object_new_object();
	json_object *arr = json_object_new_array();
	json_object *summary = json_object_new_object();
	json_object *maps_json;

	size_t refused = 0;

	refused = plan_counts(p, counts);
	for (size_t i = 0; i < p->count; i++)
		json_object_array_add(arr, output_action_json(&p->actions[i], applied));
	json_object_object_add(doc, "changed", json_object_new_boolean(
		applied ? r->applied > 0 : p->changes > 0));
	json_object_object_add(doc, "verb", json_object_new_string(r->cli->verb));
	for (int k = 0; k <= ACT_DELETE; k++)
		json_object_object_add(summary, action_kind_name((enum action_kind)k),
				       json_object_new_int64((int64_t)counts[k]));
	json_object_object_add(summary, "repin", json_object_new_int64((int64_t)map_pins_changes(r)));
	json_object_object_add(summary, "refused", json_object_new_int64((int64_t)refused));
	json_object_object_add(doc, "summary", summary);
	json_object_object_add(doc, "actions", arr);
	maps_json = output_map_pins_json(r, applied);
	output_maps_json(r, applied, maps_json);
	json_object_object_add(doc, "maps", maps_json);
	return doc;
}

void output_plan(const struct run *r, bool applied)
{
	const struct cnf_plan *p = &r->plan;
	size_t counts[ACT_DELETE + 1] = {};
	size_t repins = map_pins_changes(r);
	char maps[160] = "";
	size_t refused = 0;

	refused = plan_counts(p, counts);

	if (r->cli->json) {
		json_object *doc = output_plan_json(r, applied);

		output_json(doc);
		json_object_put(doc);
		return;
	}

	output_map_pins_text(r, applied);
	output_maps_text(r, applied);
	for (size_t i = 0; i < p->count; i++) {
		const struct cnf_action *a = &p->actions[i];
		const char *s;

		if (a->kind == ACT_NOOP && !a->refused && !a->left_alone && log_verbosity < 1)
			continue;
		printf("%-3s %-7s %s/%s  %s %s", a->refused ? "!" : a->left_alone ? "?" :
		       action_sign(a->kind), a->refused ? "refuse" : a->left_alone ? a->left_alone :
		       action_kind_name(a->kind),
		       action_manifest(a), action_attachment(a), action_hook(a), action_target(a));
		/* Another way than the family's own (tcx's tc fallback). */
		if ((s = action_via(a)) && !streq(s, action_hook(a)))
			printf(" (via %s)", s);
		if ((s = action_program(a)))
			printf("  [%s]", s);
		printf("\n      %s", a->reason);
		if ((s = strategy_name(a->strategy)))
			printf("; %s", s);
		if (a->kind == ACT_REPLACE && a->strategy == STRAT_BREAK_BEFORE_MAKE)
			printf(" (the hook holds one program: a short gap)");
		if (a->reuse_prog_id)
			printf("; runs program %u, already running for this attachment's program",
			       a->reuse_prog_id);
		if (applied && a->done && a->link_id)
			printf("; link %u", a->link_id);
		if (applied && a->done && a->prog_id)
			printf(", prog %u", a->prog_id);
		if (applied && a->done && a->result_note && a->want &&
		    hook_ops_get(a->want->t.kind)->note_key)
			printf(", %s mode", a->result_note);
		printf("\n");
	}
	if (applied) {
		repins = 0;
		for (size_t i = 0; i < r->map_drifts_count; i++)
			repins += r->map_drifts[i].done;
	}
	if (repins)
		snprintf(maps, sizeof(maps), ", %zu map%s %s", repins, repins == 1 ? "" : "s",
			 applied ? "pinned again" : "to pin again");
	maps_summary(r, applied, maps, sizeof(maps));
	if (streq(r->cli->verb, "destroy") && p->changes == 0)
		printf("Nothing to destroy.\n");
	else if (streq(r->cli->verb, "destroy"))
		printf("Destroyed: %zu deleted%s.\n", counts[ACT_DELETE], maps);
	else if (p->changes == 0)
		printf("No changes: %zu attachment%s in sync.\n", counts[ACT_NOOP],
		       counts[ACT_NOOP] == 1 ? "" : "s");
	else if (applied)
		printf("Applied: %zu created, %zu updated in place, %zu replaced, %zu deleted, "
		       "%zu unchanged%s.\n", counts[ACT_CREATE], counts[ACT_UPDATE], counts[ACT_REPLACE],
		       counts[ACT_DELETE], counts[ACT_NOOP], maps);
	else
		printf("Plan: %zu to create, %zu to update in place, %zu to replace, %zu to delete, "
		       "%zu unchanged%s.\n", counts[ACT_CREATE], counts[ACT_UPDATE], counts[ACT_REPLACE],
		       counts[ACT_DELETE], counts[ACT_NOOP], maps);
	if (refused)
		printf("Refused: %zu (see '!' above): apply stops before any change.\n", refused);
}

/* ---- JSON lines (watch) ---- */

static void now_iso(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

void output_json_line(const char *event, json_object *o)
{
	json_object *doc = json_object_new_object();
	char t[40];

	now_iso(t, sizeof(t));
	json_object_object_add(doc, "time", json_object_new_string(t));
	json_object_object_add(doc, "event", json_object_new_string(event));
	json_object_object_foreach(o, k, v)
		json_object_object_add(doc, k, json_object_get(v));
	json_object_put(o);
	puts(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN |
					     JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	json_object_put(doc);
}

/* ---- status ---- */

/* Entries under the root the tool did not make: reported, not a
 * difference (apply leaves them alone, so it could never settle them). */
static json_object *strays_json(const struct state *st)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < st->strays_count; i++) {
		const struct state_stray *x = &st->strays[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "state", json_object_new_string("stray"));
		json_object_object_add(o, "path", json_object_new_string(x->path));
		json_object_object_add(o, "what", json_object_new_string(x->what));
		json_object_object_add(o, "manifest", x->manifest[0] ?
				       json_object_new_string(x->manifest) : NULL);
		json_object_array_add(arr, o);
	}
	return arr;
}

static json_object *status_row_json(const struct status_row *row)
{
	json_object *o = output_action_json(row->a, false);
	json_object *f = json_object_new_array();

	json_object_object_del(o, "action");
	json_object_object_add(o, "state", json_object_new_string(row->state));
	json_object_object_add(o, "reason", json_object_new_string(row->reason));
	json_object_object_add(o, "link_id", row->link_id ? json_object_new_int64(row->link_id) : NULL);
	json_object_object_add(o, "prog_id", row->prog_id ? json_object_new_int64(row->prog_id) : NULL);
	for (size_t k = 0; k < row->foreign_count; k++) {
		const struct foreign_prog *fp = &row->foreign[k];
		json_object *e = json_object_new_object();

		json_object_object_add(e, "prog_id", json_object_new_int64(fp->prog_id));
		json_object_object_add(e, "link_id", fp->link_id ? json_object_new_int64(fp->link_id) : NULL);
		json_object_object_add(e, "prog_name", json_object_new_string(fp->prog_name));
		json_object_array_add(f, e);
	}
	json_object_object_add(o, "foreign", f);
	return o;
}

static void status_row_text(const struct status_row *row)
{
	const struct cnf_action *a = row->a;
	const struct cnf_instance *w = a->want;
	/* Without a record the pin's path names it. */
	const char *tgt = a->have ? strchr(a->have->key, '/') : NULL;

	printf("%-12s %s/%s  %s %s", row->state, action_manifest(a), action_attachment(a),
	       action_hook(a),
	       w ? w->target_text : a->have->has_record ? a->have->rec.target : tgt ? tgt + 1 : "");
	if (row->link_id)
		printf("  link %u", row->link_id);
	if (row->prog_id)
		printf("  prog %u", row->prog_id);
	if (!streq(row->state, "in-sync"))
		printf("\n             %s", row->reason);
	for (size_t k = 0; k < row->foreign_count; k++)
		printf("\n             foreign program on this hook: prog %u '%s'%s",
		       row->foreign[k].prog_id, row->foreign[k].prog_name,
		       row->foreign[k].link_id ? " (link)" : "");
	printf("\n");
}

static void status_maps_text(const struct run *r)
{
	for (size_t i = 0; i < r->map_drifts_count; i++)
		printf("%-12s %s/%s  map %s\n             %s\n",
		       r->map_drifts[i].impostor_id ? "impostor" : "missing",
		       r->map_drifts[i].manifest->name, r->map_drifts[i].obj->name,
		       r->map_drifts[i].opt->pin, r->map_drifts[i].reason);
	for (size_t i = 0; i < r->map_stale_count; i++)
		printf("%-12s %s  map %s\n             %s\n", "stale", r->map_stale[i].manifest->name,
		       r->map_stale[i].path, r->map_stale[i].reason);
	output_maps_status_text(r);
}

void output_status(const struct run *r, const struct status_row *rows, size_t n, bool in_sync)
{
	if (r->cli->json) {
		json_object *doc = json_object_new_object(), *arr = json_object_new_array();
		json_object *maps = output_map_pins_json(r, false);

		for (size_t i = 0; i < n; i++)
			json_object_array_add(arr, status_row_json(&rows[i]));
		output_maps_status_json(r, maps);
		json_object_object_add(doc, "in_sync", json_object_new_boolean(in_sync));
		json_object_object_add(doc, "attachments", arr);
		json_object_object_add(doc, "maps", maps);
		json_object_object_add(doc, "stray", strays_json(&r->st));
		output_json(doc);
		json_object_put(doc);
		return;
	}
	for (size_t i = 0; i < n; i++)
		status_row_text(&rows[i]);
	status_maps_text(r);
	for (size_t i = 0; i < r->st.strays_count; i++)
		printf("%-12s %s\n             %s cnf-apply did not make: left alone\n", "stray",
		       r->st.strays[i].path, r->st.strays[i].what);
	if (n == 0 && !r->st.strays_count)
		printf("Nothing declared and nothing under %s.\n", r->cli->bpffs);
}
