// SPDX-License-Identifier: GPL-2.0-only
/* Renderers for the verbs' results. */
#include <stdarg.h>
#include <stdio.h>

#include "cnf/hooks.h"
#include "cnf/log.h"
#include "cnf/output.h"
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

int output_fail(const struct cli *cli, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
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
	return a->want ? a->want->att->name : a->have->rec.attachment[0] ?
		a->have->rec.attachment : a->have->key;
}

static const char *action_hook(const struct cnf_action *a)
{
	if (a->want)
		return a->want->att->hook;
	return a->have->has_record ? hook_kind_name((enum hook_kind)a->have->rec.hook) : "?";
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

static const char *action_via(const struct cnf_action *a)
{
	if (a->want && a->want->t.kind == HOOK_TCX)
		return a->want->t.tc_fallback ? "tc" : "tcx";
	if (!a->want && a->have->has_record && a->have->rec.hook == HOOK_TCX)
		return a->have->rec.tc_parent ? "tc" : "tcx";
	return NULL;
}

json_object *output_action_json(const struct cnf_action *a, bool applied)
{
	json_object *o = json_object_new_object();
	const char *s;

	json_object_object_add(o, "action", json_object_new_string(action_kind_name(a->kind)));
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
	if (a->want && a->want->hook_desc[0])
		json_object_object_add(o, "hook_params", json_object_new_string(a->want->hook_desc));
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
	if (a->want && a->want->t.kind == HOOK_XDP) {
		const char *mode = a->result_note;

		if (!mode && a->have && a->have->has_record && a->kind != ACT_CREATE &&
		    a->kind != ACT_REPLACE)
			mode = a->have->rec.xdp_flags == 2 /* XDP_FLAGS_SKB_MODE */ ? "generic" :
			       a->have->rec.xdp_flags == 8 /* XDP_FLAGS_HW_MODE */ ? "offload" :
			       "native";
		if (mode)
			json_object_object_add(o, "xdp_mode", json_object_new_string(mode));
	}
	return o;
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

void output_plan(const struct run *r, bool applied)
{
	const struct cnf_plan *p = &r->plan;
	size_t counts[ACT_DELETE + 1] = {};

	for (size_t i = 0; i < p->count; i++)
		counts[p->actions[i].kind]++;

	if (r->cli->json) {
		json_object *doc = json_object_new_object();
		json_object *arr = json_object_new_array();
		json_object *summary = json_object_new_object();

		for (size_t i = 0; i < p->count; i++)
			json_object_array_add(arr, output_action_json(&p->actions[i], applied));
		json_object_object_add(doc, "changed", json_object_new_boolean(
			applied ? r->applied > 0 : p->changes > 0));
		json_object_object_add(doc, "verb", json_object_new_string(r->cli->verb));
		for (int k = 0; k <= ACT_DELETE; k++)
			json_object_object_add(summary, action_kind_name((enum action_kind)k),
					       json_object_new_int64((int64_t)counts[k]));
		json_object_object_add(doc, "summary", summary);
		json_object_object_add(doc, "actions", arr);
		output_json(doc);
		json_object_put(doc);
		return;
	}

	for (size_t i = 0; i < p->count; i++) {
		const struct cnf_action *a = &p->actions[i];
		const char *s;

		if (a->kind == ACT_NOOP && log_verbosity < 1)
			continue;
		printf("%-3s %-7s %s/%s  %s %s", action_sign(a->kind), action_kind_name(a->kind),
		       action_manifest(a), action_attachment(a), action_hook(a), action_target(a));
		if ((s = action_via(a)) && streq(s, "tc"))
			printf(" (via tc)");
		if ((s = action_program(a)))
			printf("  [%s]", s);
		printf("\n      %s", a->reason);
		if ((s = strategy_name(a->strategy)))
			printf("; %s", s);
		if (a->kind == ACT_REPLACE && a->strategy == STRAT_BREAK_BEFORE_MAKE)
			printf(" (the hook holds one program: a short gap)");
		if (applied && a->done && a->link_id)
			printf("; link %u", a->link_id);
		if (applied && a->done && a->prog_id)
			printf(", prog %u", a->prog_id);
		if (applied && a->done && a->result_note && a->want && a->want->t.kind == HOOK_XDP)
			printf(", %s mode", a->result_note);
		printf("\n");
	}
	if (p->changes == 0)
		printf("No changes: %zu attachment%s in sync.\n", counts[ACT_NOOP],
		       counts[ACT_NOOP] == 1 ? "" : "s");
	else if (applied)
		printf("Applied: %zu created, %zu updated in place, %zu replaced, %zu deleted, "
		       "%zu unchanged.\n", counts[ACT_CREATE], counts[ACT_UPDATE], counts[ACT_REPLACE],
		       counts[ACT_DELETE], counts[ACT_NOOP]);
	else
		printf("Plan: %zu to create, %zu to update in place, %zu to replace, %zu to delete, "
		       "%zu unchanged.\n", counts[ACT_CREATE], counts[ACT_UPDATE], counts[ACT_REPLACE],
		       counts[ACT_DELETE], counts[ACT_NOOP]);
}
