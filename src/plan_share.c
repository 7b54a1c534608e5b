// SPDX-License-Identifier: GPL-2.0-only
/* One program per attachment program: a create that follows an earlier
 * apply (a new interface matching a glob, a recreated interface, a new
 * cgroup) attaches the program the in-sync instances already run, instead
 * of loading the object again. Without this, instances made at different
 * times would run separate copies of the program, each with its own
 * unpinned maps (split counters, split tables), and every such create
 * would pay a verifier run.
 *
 * A running program qualifies when an in-sync instance of the same
 * manifest runs it, with the same program identity (object content,
 * config, program, its type: cnf_instance.prog_hash), on a hook of the
 * same family and attach type, and the family lets one loaded program
 * run on several targets (hook_caps.shared_prog). Offloaded and
 * device-bound XDP programs are tied to one device at load: never shared.
 * A focused run (watch) plans only some targets: it passes the running
 * programs of the in-sync instances it leaves out as plan_input.sources.
 * Pure: no kernel access. Apply opens the program by id, and stops before
 * touching anything when it is gone. */
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <stdlib.h>
#include <string.h>

#include "cnf/engine.h"
#include "cnf/hashidx.h"
#include "cnf/util.h"

static bool shareable(const struct hook_caps *c, const struct cnf_instance *w)
{
	if (!c || !c->shared_prog)
		return false;
	if (w->t.prog_bound)
		return false;
	return !(w->prog_flags & BPF_F_XDP_DEV_BOUND_ONLY);
}

bool plan_source_of(const struct cnf_instance *w, const struct cnf_observed *h,
		    const struct hook_caps *caps, struct plan_source *ret)
{
	if (!w || !h || w->target_missing || !shareable(caps, w))
		return false;
	if (!h->has_record || !h->has_pin || !h->alive || h->defunct || h->prog_replaced ||
	    !h->prog_id || h->prog_id != h->rec.prog_id || h->order_drift[0])
		return false;
	/* What makes the pair in sync (plan.c's decide()): same hook, same
	 * program identity. */
	if (h->rec.hook != (uint32_t)w->t.kind ||
	    memcmp(h->rec.hook_hash, w->hook_hash, CNF_HASH_LEN) != 0 ||
	    memcmp(h->rec.prog_hash, w->prog_hash, CNF_HASH_LEN) != 0)
		return false;
	if (h->rec.xdp_flags & XDP_FLAGS_HW_MODE)
		return false;
	ret->manifest = w->manifest;
	ret->kind = w->t.kind;
	ret->attach_type = w->t.attach_type;
	ret->prog_id = h->prog_id;
	memcpy(ret->prog_hash, w->prog_hash, CNF_HASH_LEN);
	return true;
}

static bool source_fits(const struct plan_source *s, const struct cnf_instance *w)
{
	return s->manifest == w->manifest && s->kind == w->t.kind &&
	       s->attach_type == w->t.attach_type &&
	       !memcmp(s->prog_hash, w->prog_hash, CNF_HASH_LEN);
}

static uint64_t hash_of(const uint8_t prog_hash[CNF_HASH_LEN], enum hook_kind kind,
			uint32_t attach_type)
{
	uint64_t h;

	/* prog_hash is a SHA-256: any of its bytes are as good as a hash. */
	memcpy(&h, prog_hash, sizeof(h));
	return h ^ (uint64_t)kind ^ ((uint64_t)attach_type << 8);
}

/* The running programs, one entry per distinct program of a group (same
 * manifest, family, attach type and program identity), with how many
 * in-sync instances run it. */
struct counted {
	struct plan_source s;
	size_t count;
};

struct sources {
	struct counted *src;
	size_t count;
	struct hashidx ix;
};

/* The program of w's group that the most instances run (the newest, the
 * highest id, among equals): the one every instance should run. */
static const struct plan_source *sources_best(const struct sources *ss,
					      const struct cnf_instance *w, size_t *ret_count)
{
	const struct counted *best = NULL;
	size_t e;

	hashidx_for_each_possible(&ss->ix, hash_of(w->prog_hash, w->t.kind, w->t.attach_type), e) {
		const struct counted *c = &ss->src[e];

		if (!source_fits(&c->s, w))
			continue;
		if (!best || c->count > best->count ||
		    (c->count == best->count && c->s.prog_id > best->s.prog_id))
			best = c;
	}
	*ret_count = best ? best->count : 0;
	return best ? &best->s : NULL;
}

static void sources_add(struct sources *ss, const struct plan_source *s)
{
	size_t e;

	hashidx_for_each_possible(&ss->ix, hash_of(s->prog_hash, s->kind, s->attach_type), e) {
		struct counted *x = &ss->src[e];

		if (x->s.manifest == s->manifest && x->s.kind == s->kind &&
		    x->s.attach_type == s->attach_type && x->s.prog_id == s->prog_id &&
		    !memcmp(x->s.prog_hash, s->prog_hash, CNF_HASH_LEN)) {
			x->count++;
			return;
		}
	}
	ss->src[ss->count] = (struct counted){ .s = *s, .count = 1 };
	hashidx_add(&ss->ix, hash_of(s->prog_hash, s->kind, s->attach_type), ss->count++);
}

static const struct hook_caps *caps_of(const struct plan_input *in, enum hook_kind k)
{
	return in->caps ? in->caps(k) : NULL;
}

/* An in-sync instance that runs another copy of its attachment program
 * than most of its siblings (a killed rollout, a repair made before
 * programs were shared) moves onto that program: in place where the
 * family can. */
static void join_program(const struct plan_input *in, struct cnf_action *a,
			 const struct plan_source *best, size_t best_count)
{
	const struct hook_caps *c = caps_of(in, a->want->t.kind);

	if (c && c->link_update) {
		a->kind = ACT_UPDATE;
		a->strategy = STRAT_IN_PLACE;
	} else {
		a->kind = ACT_REPLACE;
		a->strategy = c && c->multi_prog ? STRAT_MAKE_BEFORE_BREAK : STRAT_BREAK_BEFORE_MAKE;
	}
	snprintf(a->reason, sizeof(a->reason), "one program per attachment program: it runs "
		 "program id %u, a copy of program id %u, which %zu other instance%s run%s",
		 a->have->prog_id, best->prog_id, best_count, best_count == 1 ? "" : "s",
		 best_count == 1 ? "s" : "");
	a->reuse_prog_id = best->prog_id;
}

void plan_share_programs(const struct plan_input *in, struct cnf_plan *p)
{
	size_t max = in->sources_count;
	struct sources ss = {};
	struct plan_source one;

	for (size_t i = 0; i < p->count; i++)
		max += p->actions[i].kind == ACT_NOOP;
	if (!max)
		return;
	ss.src = xcalloc(max, sizeof(*ss.src));
	hashidx_init(&ss.ix, max);
	for (size_t i = 0; i < p->count; i++) {
		const struct cnf_action *a = &p->actions[i];

		if (a->kind == ACT_NOOP && !a->refused && a->want &&
		    plan_source_of(a->want, a->have, caps_of(in, a->want->t.kind), &one))
			sources_add(&ss, &one);
	}
	for (size_t i = 0; i < in->sources_count; i++)
		sources_add(&ss, &in->sources[i]);
	for (size_t i = 0; i < p->count && ss.count; i++) {
		struct cnf_action *a = &p->actions[i];
		const struct plan_source *s;
		size_t n;

		if (!a->want || a->refused || a->kind == ACT_DELETE ||
		    !shareable(caps_of(in, a->want->t.kind), a->want))
			continue;
		s = sources_best(&ss, a->want, &n);
		if (!s)
			continue;
		if (a->kind != ACT_NOOP) {
			/* A create, an update or a replacement attaches the
			 * program its siblings run rather than another copy. */
			a->reuse_prog_id = s->prog_id;
			continue;
		}
		/* In sync, but with a copy of its own. */
		if (a->have && a->have->prog_id != s->prog_id &&
		    plan_source_of(a->want, a->have, caps_of(in, a->want->t.kind), &one)) {
			join_program(in, a, s, n);
			p->changes++;
		}
	}
	hashidx_free(&ss.ix);
	free(ss.src);
}
