// SPDX-License-Identifier: GPL-2.0-only
/* Conflicts among desired instances, found before anything is loaded or
 * attached: the part of the preflight that needs no kernel, so that plan,
 * apply and validate say the same. Pure: no system calls, no logging. */
#include <stdlib.h>
#include <stdio.h>

#include "cnf/engine.h"
#include "cnf/hashidx.h"
#include "cnf/util.h"

struct slot_ref {
	size_t idx;
	uint64_t hash;
	enum hook_slot_kind kind;
};

static int slot_ref_cmp(const void *a, const void *b)
{
	const struct slot_ref *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int conflict_cmp(const void *a, const void *b)
{
	const struct plan_conflict *x = a, *y = b;

	if (x->a != y->a)
		return x->a < y->a ? -1 : 1;
	return x->b < y->b ? -1 : x->b > y->b;
}

struct conflicts {
	struct plan_conflict *v;
	size_t n, cap;
};

static void add(struct conflicts *c, size_t a, size_t b, const char *what, const char *slot)
{
	struct plan_conflict *p;

	if (grow_array((void **)&c->v, &c->cap, c->n + 1, sizeof(*c->v)) < 0)
		abort();
	p = &c->v[c->n++];
	p->a = a < b ? a : b;
	p->b = a < b ? b : a;
	p->what = what;
	snprintf(p->slot, sizeof(p->slot), "%s", slot);
}

/* The program an instance runs, as loaded: one per object and program
 * of a manifest (creates share the running one only within it). */
static bool same_program(const struct cnf_instance *x, const struct cnf_instance *y)
{
	return x->manifest == y->manifest && x->att->object == y->att->object &&
	       streq_ptr(x->att->prog_name, y->att->prog_name);
}

/* One run of instances on one slot (same hash, texts compared to rule out
 * a collision): the pairs that cannot be attached together. */
static void check_run(const struct cnf_instance *want, const struct slot_ref *r, size_t n,
		      struct conflicts *c)
{
	char s0[CNF_DESC_MAX], s[CNF_DESC_MAX];

	hook_slot(&want[r[0].idx].t, s0, sizeof(s0));
	for (size_t k = 1; k < n; k++) {
		const struct cnf_instance *y = &want[r[k].idx];

		hook_slot(&y->t, s, sizeof(s));
		if (!streq(s, s0))
			continue;
		if (r[0].kind == HOOK_SLOT_ONE) {
			add(c, r[0].idx, r[k].idx, "holds one program", s0);
			continue;
		}
		for (size_t j = 0; j < k; j++) {
			const struct cnf_instance *x = &want[r[j].idx];

			if (same_program(x, y))
				add(c, r[j].idx, r[k].idx, "would run one program twice", s0);
			else if (x->t.order == y->t.order && x->t.order == ORDER_FIRST)
				add(c, r[j].idx, r[k].idx, "has one first place, claimed twice", s0);
			else if (x->t.order == y->t.order && x->t.order == ORDER_LAST)
				add(c, r[j].idx, r[k].idx, "has one last place, claimed twice", s0);
		}
	}
}

size_t plan_conflicts(const struct cnf_instance *want, size_t n, struct plan_conflict **ret)
{
	_cleanup_free_ struct slot_ref *refs = xcalloc(n + 1, sizeof(*refs));
	struct conflicts c = {};
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		char buf[CNF_DESC_MAX];
		enum hook_slot_kind k;

		if (want[i].target_missing)
			continue;
		k = hook_slot(&want[i].t, buf, sizeof(buf));
		if (k != HOOK_SLOT_NONE)
			refs[m++] = (struct slot_ref){ i, hashidx_hash(buf), k };
	}
	qsort(refs, m, sizeof(*refs), slot_ref_cmp);
	for (size_t i = 0, j; i < m; i = j) {
		for (j = i + 1; j < m && refs[j].hash == refs[i].hash; j++)
			;
		if (j - i > 1)
			check_run(want, &refs[i], j - i, &c);
	}
	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), conflict_cmp);
	*ret = c.v;
	return c.n;
}
