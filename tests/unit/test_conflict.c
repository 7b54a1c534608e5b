// SPDX-License-Identifier: GPL-2.0-only
/* Conflicts among desired instances (plan_conflicts()), without a kernel:
 * each case is a handful of instances and the conflicts expected. */
#include <stdlib.h>

#include "cnf/engine.h"
#include "testlib.h"

/* The case tables name only the fields a case needs. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static struct cnf_manifest m1 = { .name = (char *)"one" }, m2 = { .name = (char *)"two" };
static struct cnf_object obj_a = { .name = (char *)"a" }, obj_b = { .name = (char *)"b" };

/* One desired instance, as the case tables write it. */
struct inst {
	struct cnf_manifest *m;
	struct cnf_object *obj;
	const char *prog;
	enum hook_kind kind;
	const char *ifname;
	const char *netns;
	int mode_or_dir;         /* xdp: enum xdp_mode; tcx: enum tc_dir */
	enum order_kind order;
	uint32_t prio;           /* tc, netfilter */
	bool missing;
};

struct conflict_case {
	const char *name;
	struct inst in[4];
	size_t n;
	size_t want;             /* conflicts expected */
	const char *what;        /* the first one's, NULL: any */
	size_t a, b;             /* the first one's pair */
};

static const struct conflict_case cases[] = {
	{ "xdp: one interface twice", {
		{ &m1, &obj_a, "p", HOOK_XDP, "eth0" },
		{ &m1, &obj_a, "p", HOOK_XDP, "eth0" } }, 2, 1, "holds one program", 0, 1 },
	{ "xdp: two manifests, native and generic", {
		{ &m1, &obj_a, "p", HOOK_XDP, "eth0", NULL, XDP_MODE_NATIVE },
		{ &m2, &obj_b, "q", HOOK_XDP, "eth0", NULL, XDP_MODE_GENERIC } }, 2, 1,
	  "holds one program", 0, 1 },
	{ "xdp: offload beside native is no conflict", {
		{ &m1, &obj_a, "p", HOOK_XDP, "eth0", NULL, XDP_MODE_NATIVE },
		{ &m2, &obj_b, "q", HOOK_XDP, "eth0", NULL, XDP_MODE_OFFLOAD } }, 2, 0 },
	{ "xdp: same name in another namespace is no conflict", {
		{ &m1, &obj_a, "p", HOOK_XDP, "eth0" },
		{ &m1, &obj_a, "p", HOOK_XDP, "eth0", "/run/netns/blue" } }, 2, 0 },
	{ "xdp: three on one interface pair with the first", {
		{ &m1, &obj_a, "p", HOOK_XDP, "eth0" },
		{ &m1, &obj_a, "p", HOOK_XDP, "eth1" },
		{ &m2, &obj_a, "p", HOOK_XDP, "eth0" },
		{ &m2, &obj_b, "p", HOOK_XDP, "eth0" } }, 4, 2, "holds one program", 0, 2 },
	{ "xdp: a missing target is left out", {
		{ &m1, &obj_a, "p", HOOK_XDP, "eth0" },
		{ &m2, &obj_a, "p", HOOK_XDP, "eth0", .missing = true } }, 2, 0 },
	{ "tcx: one program twice on one hook", {
		{ &m1, &obj_a, "p", HOOK_TCX, "eth0" },
		{ &m1, &obj_a, "p", HOOK_TCX, "eth0" } }, 2, 1, "would run one program twice", 0, 1 },
	{ "tcx: one program on both directions", {
		{ &m1, &obj_a, "p", HOOK_TCX, "eth0", NULL, TC_DIR_INGRESS },
		{ &m1, &obj_a, "p", HOOK_TCX, "eth0", NULL, TC_DIR_EGRESS } }, 2, 0 },
	{ "tcx: the same program name in two manifests is two programs", {
		{ &m1, &obj_a, "p", HOOK_TCX, "eth0" },
		{ &m2, &obj_a, "p", HOOK_TCX, "eth0" } }, 2, 0 },
	{ "tcx: two programs of one object", {
		{ &m1, &obj_a, "p", HOOK_TCX, "eth0" },
		{ &m1, &obj_a, "q", HOOK_TCX, "eth0" } }, 2, 0 },
	{ "tcx: first claimed twice", {
		{ &m1, &obj_a, "p", HOOK_TCX, "eth0", NULL, 0, ORDER_FIRST },
		{ &m2, &obj_b, "q", HOOK_TCX, "eth0", NULL, 0, ORDER_FIRST } }, 2, 1,
	  "has one first place, claimed twice", 0, 1 },
	{ "tcx: last claimed twice", {
		{ &m1, &obj_a, "p", HOOK_TCX, "eth0", NULL, 0, ORDER_LAST },
		{ &m1, &obj_b, "q", HOOK_TCX, "eth0", NULL, 0, ORDER_LAST } }, 2, 1,
	  "has one last place, claimed twice", 0, 1 },
	{ "tcx: first and last", {
		{ &m1, &obj_a, "p", HOOK_TCX, "eth0", NULL, 0, ORDER_FIRST },
		{ &m2, &obj_b, "q", HOOK_TCX, "eth0", NULL, 0, ORDER_LAST } }, 2, 0 },
	{ "tc: one priority twice", {
		{ &m1, &obj_a, "p", HOOK_TC, "eth0", NULL, 0, 0, 7 },
		{ &m2, &obj_b, "q", HOOK_TC, "eth0", NULL, 0, 0, 7 } }, 2, 1, "holds one program", 0, 1 },
	{ "tc: two priorities", {
		{ &m1, &obj_a, "p", HOOK_TC, "eth0", NULL, 0, 0, 7 },
		{ &m2, &obj_b, "q", HOOK_TC, "eth0", NULL, 0, 0, 8 } }, 2, 0 },
	{ "netfilter: one priority twice", {
		{ &m1, &obj_a, "p", HOOK_NETFILTER, "", NULL, 0, 0, 10 },
		{ &m2, &obj_b, "q", HOOK_NETFILTER, "", NULL, 0, 0, 10 } }, 2, 1,
	  "holds one program", 0, 1 },
	{ "cgroup: links may run one program twice", {
		{ &m1, &obj_a, "p", HOOK_CGROUP, "" },
		{ &m1, &obj_a, "p", HOOK_CGROUP, "" } }, 2, 0 },
	{ "sk_lookup: a namespace may run one program twice", {
		{ &m1, &obj_a, "p", HOOK_SK_LOOKUP, "" },
		{ &m1, &obj_a, "p", HOOK_SK_LOOKUP, "" } }, 2, 0 },
	{ "tracing hooks never conflict", {
		{ &m1, &obj_a, "p", HOOK_TRACEPOINT, "" },
		{ &m1, &obj_a, "p", HOOK_TRACEPOINT, "" } }, 2, 0 },
};

static struct cnf_attachment atts[4];

static void build(const struct conflict_case *c, struct cnf_instance *w)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct inst *s = &c->in[i];

		memset(&w[i], 0, sizeof(w[i]));
		memset(&atts[i], 0, sizeof(atts[i]));
		atts[i].name = (char *)"att";
		atts[i].object = s->obj;
		atts[i].prog_name = (char *)s->prog;
		w[i].manifest = s->m;
		w[i].att = &atts[i];
		w[i].t.kind = s->kind;
		snprintf(w[i].t.ifname, sizeof(w[i].t.ifname), "%s", s->ifname);
		w[i].t.netns = s->netns;
		w[i].t.xdp_mode = (enum xdp_mode)s->mode_or_dir;
		w[i].t.dir = (enum tc_dir)s->mode_or_dir;
		w[i].t.attach_type = s->kind == HOOK_TCX && s->mode_or_dir == TC_DIR_EGRESS ?
				     BPF_TCX_EGRESS : s->kind == HOOK_TCX ? BPF_TCX_INGRESS : 0;
		w[i].t.order = s->order;
		w[i].t.tc_priority = s->prio;
		w[i].t.nf_priority = (int32_t)s->prio;
		w[i].target_missing = s->missing;
	}
}

TEST(test_conflict_table)
{
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct conflict_case *c = &cases[k];
		struct cnf_instance w[4];
		struct plan_conflict *out = NULL;
		size_t n;

		build(c, w);
		n = plan_conflicts(w, c->n, &out);
		if (n != c->want)
			fprintf(stderr, "  case '%s': %zu conflicts, expected %zu\n", c->name, n, c->want);
		CHECK_INT(n, c->want);
		if (n && c->want && c->what) {
			CHECK_STR(out[0].what, c->what);
			CHECK_INT(out[0].a, c->a);
			CHECK_INT(out[0].b, c->b);
		}
		free(out);
	}
}

/* A glob over many interfaces: one slot each, no conflict, and no
 * quadratic work (this would take minutes if every pair were compared). */
TEST(test_conflicts_many_instances)
{
	size_t n = 20000;
	struct cnf_instance *w = calloc(n, sizeof(*w));
	struct cnf_attachment att = { .name = (char *)"fw", .object = &obj_a, .prog_name = (char *)"p" };
	struct plan_conflict *out = NULL;

	for (size_t i = 0; i < n; i++) {
		w[i].manifest = &m1;
		w[i].att = &att;
		w[i].t.kind = i % 2 ? HOOK_XDP : HOOK_TCX;
		w[i].t.attach_type = i % 2 ? 0 : BPF_TCX_INGRESS;
		snprintf(w[i].t.ifname, sizeof(w[i].t.ifname), "v%zu", i / 2);
	}
	CHECK_INT(plan_conflicts(w, n, &out), 0);
	free(out);
	free(w);
}

UNIT_MAIN(test_conflict_table, test_conflicts_many_instances)
