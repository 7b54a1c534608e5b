// SPDX-License-Identifier: GPL-2.0-only
/* The planner: a pure function from (desired, observed) to actions. It
 * makes no system calls, so it is unit-tested without a kernel. */
#include <stdlib.h>
#include <stdio.h>
#include <net/if.h>
#include <linux/bpf.h>

#include "cnf/engine.h"
#include "cnf/hooks.h"
#include "cnf/hashidx.h"
#include "cnf/util.h"

const char *action_kind_name(enum action_kind k)
{
	switch (k) {
	case ACT_NOOP:    return "noop";
	case ACT_CREATE:  return "create";
	case ACT_UPDATE:  return "update";
	case ACT_REPLACE: return "replace";
	case ACT_DELETE:  return "delete";
	}
	return "?";
}

const char *strategy_name(enum strategy s)
{
	switch (s) {
	case STRAT_NONE:               return NULL;
	case STRAT_IN_PLACE:           return "in-place";
	case STRAT_MAKE_BEFORE_BREAK:  return "make-before-break";
	case STRAT_BREAK_BEFORE_MAKE:  return "break-before-make";
	}
	return NULL;
}

struct have_ref {
	const struct cnf_observed *o;
	uint64_t hash;                /* of (manifest, key) */
	bool matched;
};

/* The observed instances by (manifest, key): matching is linear in the
 * number of instances, not n log n with a string compare per step. */
static void index_build(struct hashidx *ix, const struct have_ref *refs, size_t n)
{
	hashidx_init(ix, n);
	for (size_t i = 0; i < n; i++)
		hashidx_add(ix, refs[i].hash, i);
}

static int have_cmp(const void *a, const void *b)
{
	const struct have_ref *x = a, *y = b;
	int r = strcmp(x->o->manifest, y->o->manifest);

	return r ? r : strcmp(x->o->key, y->o->key);
}

static struct have_ref *have_find(const struct hashidx *ix, struct have_ref *refs,
				  const char *manifest, const char *key)
{
	uint64_t h = hashidx_hash2(manifest, key);
	size_t s;

	hashidx_for_each_possible(ix, h, s) {
		struct have_ref *r = &refs[s];

		if (r->hash == h && streq(r->o->manifest, manifest) && streq(r->o->key, key))
			return r;
	}
	return NULL;
}

static bool in_list(const char *const *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (streq(list[i], name))
			return true;
	return false;
}

static bool in_scope(const struct plan_input *in, const char *manifest)
{
	return in->prune_all || in_list(in->scope, in->scope_count, manifest) ||
	       in_list(in->prune, in->prune_count, manifest);
}

bool plan_prunes(const struct plan_path *paths, size_t n, const char *file)
{
	const char *slash = file ? strrchr(file, '/') : NULL;
	bool all_dirs = n > 0;

	for (size_t i = 0; i < n; i++) {
		const char *p = paths[i].path;
		size_t dlen;

		all_dirs &= paths[i].is_dir;
		if (!slash || !p)
			continue;
		if (!paths[i].is_dir) {
			if (streq(p, file))
				return true;
			continue;
		}
		/* The file's directory is this one ("/" for "/x.yaml"). */
		dlen = slash == file ? 1 : (size_t)(slash - file);
		if (strlen(p) == dlen && !strncmp(p, file, dlen))
			return true;
	}
	return !file && all_dirs;
}

/* The attachment an observed instance belongs to, if its manifest still
 * declares it. */
static const struct cnf_attachment *declared(const struct plan_input *in,
					     const struct cnf_observed *h)
{
	const char *att = h->rec.attachment[0] ? h->rec.attachment : h->key;
	size_t len = h->rec.attachment[0] ? strlen(att) : strcspn(att, "/");

	for (size_t i = 0; i < in->manifests_count; i++) {
		const struct cnf_manifest *m = in->manifests[i];

		if (!streq(m->name, h->manifest))
			continue;
		for (size_t j = 0; j < m->attachments_count; j++)
			if (strlen(m->attachments[j].name) == len &&
			    !strncmp(m->attachments[j].name, att, len))
				return &m->attachments[j];
	}
	return NULL;
}

/* Why an instance of a manifest in the run goes: its attachment is no
 * longer there, or it is and its interface is gone or no longer
 * matches (a glob, a renamed interface, a changed list). */
static void delete_reason(const struct plan_input *in, const struct cnf_observed *h,
			  char *buf, size_t len)
{
	const struct cnf_attachment *att = declared(in, h);
	const char *target = h->rec.target[0] ? h->rec.target : strchr(h->key, '/') ?
			     strchr(h->key, '/') + 1 : h->key;

	if (!att)
		snprintf(buf, len, "attachment no longer in the manifest");
	else if (!att->interface && !att->interfaces_count)
		snprintf(buf, len, "target '%.200s' no longer declared by the attachment", target);
	else if (h->defunct)
		snprintf(buf, len, "interface '%.100s' is gone", target);
	else if (att->interface)
		snprintf(buf, len, "interface '%.100s' no longer matches '%.100s'", target,
			 att->interface);
	else
		snprintf(buf, len, "interface '%.100s' no longer in the attachment's interfaces",
			 target);
}

static const struct hook_caps default_caps;

static const struct hook_caps *caps_of(const struct plan_input *in, enum hook_kind k)
{
	const struct hook_caps *c = in->caps ? in->caps(k) : NULL;

	return c ? c : &default_caps;
}

/* Whether the target a defunct link was made for is the one that exists
 * now (the same interface or cgroup, not one made again under its name):
 * then the link was detached by hand. */
static bool target_still_there(const struct cnf_instance *w, const struct cnf_observed *h)
{
	if (w->t.ifindex)
		return h->rec.ifindex == w->t.ifindex && h->rec.netns_ino == w->t.netns_ino;
	if (w->t.cgroup_id)
		return h->rec.cgroup_id == w->t.cgroup_id;
	return false;
}

const char *link_type_name(uint32_t t)
{
	static const char *const names[] = {
		[BPF_LINK_TYPE_RAW_TRACEPOINT] = "raw_tracepoint", [BPF_LINK_TYPE_TRACING] = "tracing",
		[BPF_LINK_TYPE_CGROUP] = "cgroup", [BPF_LINK_TYPE_ITER] = "iter",
		[BPF_LINK_TYPE_NETNS] = "netns", [BPF_LINK_TYPE_XDP] = "xdp",
		[BPF_LINK_TYPE_PERF_EVENT] = "perf_event", [BPF_LINK_TYPE_KPROBE_MULTI] = "kprobe_multi",
		[BPF_LINK_TYPE_STRUCT_OPS] = "struct_ops", [BPF_LINK_TYPE_NETFILTER] = "netfilter",
		[BPF_LINK_TYPE_TCX] = "tcx", [BPF_LINK_TYPE_UPROBE_MULTI] = "uprobe_multi",
		[BPF_LINK_TYPE_NETKIT] = "netkit",
	};

	return t < ARRAY_SIZE(names) && names[t] ? names[t] : "unknown";
}

/* What a foreign pin holds, for people: "tcx link 12 running program 34
 * 'name'", "program 34 'name'", "a map". */
static void foreign_what(const struct cnf_observed *h, char *buf, size_t len)
{
	char prog[64] = "";

	if (h->foreign_prog_id)
		snprintf(prog, sizeof(prog), "program %u '%s'", h->foreign_prog_id,
			 h->foreign_prog_name);
	if (streq(h->foreign_kind, "link"))
		snprintf(buf, len, "%s link %u running %s", link_type_name(h->foreign_link_type),
			 h->foreign_link_id, prog[0] ? prog : "no program");
	else if (streq(h->foreign_kind, "prog"))
		snprintf(buf, len, "%s", prog);
	else
		snprintf(buf, len, "a %s", h->foreign_kind[0] ? h->foreign_kind : "file");
}

/* Families whose target is an interface. */
static bool network_kind(enum hook_kind k)
{
	const struct hook_ops *ops = hook_ops_get(k);

	return ops && ops->network;
}

/* Families whose target is an interface or a whole network namespace. */
static bool netns_kind(enum hook_kind k)
{
	const struct hook_ops *ops = hook_ops_get(k);

	return ops && (ops->network || ops->netns_wide);
}

/* The recorded link against the target the desired instance resolves to
 * now: the interface (by index), its namespace, the cgroup. A mismatch is
 * drift, whose reason is written into buf. */
static bool identity_drift(const struct plan_input *in, const struct cnf_instance *w,
			   const struct cnf_observed *h, char *buf, size_t len)
{
	const struct cnf_record *rec = &h->rec;
	enum hook_kind k = w->t.kind;

	/* A netkit link of the peer side holds the peer device, which may
	 * live in another namespace with an ifindex of its own: its live
	 * device is not the target's. */
	bool live_dev = w->t.side != BPF_NETKIT_PEER;

	if (netns_kind(k)) {
		uint64_t live_ns = h->live_known && live_dev ? h->live_netns_ino : 0;

		if (rec->netns_ino && w->t.netns_ino && rec->netns_ino != w->t.netns_ino) {
			snprintf(buf, len, "network namespace %.100s is now inode %llu, the link was "
				 "made in inode %llu", w->t.netns ? w->t.netns : "of the tool",
				 (unsigned long long)w->t.netns_ino,
				 (unsigned long long)rec->netns_ino);
			return true;
		}
		if (live_ns && w->t.netns_ino && live_ns != w->t.netns_ino) {
			snprintf(buf, len, "the link is in network namespace inode %llu, %.100s is "
				 "inode %llu", (unsigned long long)live_ns,
				 w->t.netns ? w->t.netns : "the tool's",
				 (unsigned long long)w->t.netns_ino);
			return true;
		}
	}
	if (network_kind(k) && live_dev && h->live_known && h->live_ifindex && w->t.ifindex > 0 &&
	    h->live_ifindex != (uint32_t)w->t.ifindex) {
		const char *now = in->ifname_of ?
			in->ifname_of(in->ifname_ctx, w->t.netns_ino, h->live_ifindex) : NULL;
		char hint[IF_NAMESIZE + 32] = "";

		if (now && !streq(now, w->t.ifname))
			snprintf(hint, sizeof(hint), " (renamed to %s?)", now);
		snprintf(buf, len, "interface %s is now ifindex %d, the link is on ifindex %u%s",
			 w->t.ifname, w->t.ifindex, h->live_ifindex, hint);
		return true;
	}
	if (h->live_known && h->live_cgroup_id && w->t.cgroup_id &&
	    h->live_cgroup_id != w->t.cgroup_id) {
		snprintf(buf, len, "cgroup %.120s is now id %llu, the link is on cgroup id %llu "
			 "(the cgroup was made again?)", w->t.cgroup_path ? w->t.cgroup_path : "",
			 (unsigned long long)w->t.cgroup_id, (unsigned long long)h->live_cgroup_id);
		return true;
	}
	return false;
}

/* Decide what one desired instance needs, given what is observed. */
static void decide(const struct plan_input *in, const struct cnf_instance *w,
		   const struct cnf_observed *h, struct cnf_action *a)
{
	const struct hook_caps *caps = caps_of(in, w->t.kind);

	a->want = w;
	a->have = h;

	if (w->target_missing) {
		a->kind = ACT_NOOP;
		snprintf(a->reason, sizeof(a->reason), "target %.200s is absent", w->target_text);
		return;
	}
	if (h && h->foreign_pin) {
		char what[128];

		/* Another tool's object where the instance's pin belongs: it
		 * stays alive, under the quarantine, and the attachment is
		 * made anew beside it. */
		foreign_what(h, what, sizeof(what));
		a->kind = ACT_CREATE;
		a->quarantine = true;
		if (h->has_record && h->rec.link_id)
			snprintf(a->reason, sizeof(a->reason), "foreign pin: it holds %s, not the "
				 "recorded link %u; it moves to the quarantine and the attachment is "
				 "made anew", what, h->rec.link_id);
		else
			snprintf(a->reason, sizeof(a->reason), "foreign pin: it holds %s, which no "
				 "record names; it moves to the quarantine and the attachment is made "
				 "anew", what);
		return;
	}
	if (h && h->foreign_filter) {
		a->kind = ACT_NOOP;
		a->refused = true;
		snprintf(a->reason, sizeof(a->reason), "foreign program: the tc filter at prio %u "
			 "handle 0x%x runs program %u '%s', not the one applied (%u); apply refuses "
			 "to replace a filter cnf-apply does not own", h->rec.tc_priority,
			 h->rec.tc_handle, h->foreign_prog_id, h->foreign_prog_name, h->rec.prog_id);
		return;
	}
	if (h && h->elsewhere && h->alive && !w->t.netns) {
		a->kind = ACT_NOOP;
		a->refused = true;
		snprintf(a->reason, sizeof(a->reason), "another namespace's: made in network "
			 "namespace inode %llu, this run is in inode %llu; apply leaves it alone (run "
			 "it in that namespace, or give this one a state root of its own)",
			 (unsigned long long)h->rec.netns_ino, (unsigned long long)h->self_netns_ino);
		return;
	}
	if (!h || !h->has_pin || !h->alive) {
		a->kind = ACT_CREATE;
		if (!h)
			snprintf(a->reason, sizeof(a->reason), "not attached");
		else if (h->defunct && target_still_there(w, h))
			snprintf(a->reason, sizeof(a->reason),
				 "recreate: link detached outside cnf-apply; its target still exists");
		else if (h->defunct)
			snprintf(a->reason, sizeof(a->reason),
				 "recreate: link is defunct (its target went away)");
		else if (h->has_pin)
			snprintf(a->reason, sizeof(a->reason),
				 "recreate: pinned %s is no longer attached",
				 caps->pin_is_prog ? "program" : "link");
		else
			snprintf(a->reason, sizeof(a->reason),
				 "recreate: pin was removed");
		return;
	}
	if (!h->has_record || h->rec.hook != (uint32_t)w->t.kind ||
	    memcmp(h->rec.hook_hash, w->hook_hash, CNF_HASH_LEN) != 0) {
		a->kind = ACT_REPLACE;
		a->strategy = caps->multi_prog ? STRAT_MAKE_BEFORE_BREAK : STRAT_BREAK_BEFORE_MAKE;
		if (!h->has_record)
			snprintf(a->reason, sizeof(a->reason), "no state record for the pinned link");
		else
			snprintf(a->reason, sizeof(a->reason), "hook changed: %.100s -> %.100s",
				 h->rec.hook_desc, w->hook_desc);
		return;
	}
	{
		char why[CNF_DESC_MAX - 8];

		if (identity_drift(in, w, h, why, sizeof(why))) {
			/* The link is not on the target the manifest names now:
			 * attach there, then detach it. */
			a->kind = ACT_REPLACE;
			a->strategy = caps->multi_prog ? STRAT_MAKE_BEFORE_BREAK
						       : STRAT_BREAK_BEFORE_MAKE;
			snprintf(a->reason, sizeof(a->reason), "drift: %s", why);
			return;
		}
	}
	if (h->order_drift[0]) {
		/* Re-attaching puts the link back where the manifest says. */
		a->kind = ACT_REPLACE;
		a->strategy = STRAT_MAKE_BEFORE_BREAK;
		snprintf(a->reason, sizeof(a->reason), "drift: %s", h->order_drift);
		return;
	}
	if (h->prog_replaced || memcmp(h->rec.prog_hash, w->prog_hash, CNF_HASH_LEN) != 0) {
		/* BPF_LINK_UPDATE keeps the link: the new program must fit it
		 * as the old one did (type, expected attach type, XDP frags and
		 * device binding). Otherwise it is a replacement. */
		const uint32_t fit_flags = BPF_F_XDP_HAS_FRAGS | BPF_F_XDP_DEV_BOUND_ONLY;
		bool fits = h->rec.prog_type == w->prog_type &&
			    h->rec.expected_attach_type == w->expected_attach_type &&
			    (h->rec.prog_flags & fit_flags) == (w->prog_flags & fit_flags);

		if (caps->link_update && !fits) {
			a->kind = ACT_REPLACE;
			a->strategy = caps->multi_prog ? STRAT_MAKE_BEFORE_BREAK
						       : STRAT_BREAK_BEFORE_MAKE;
			snprintf(a->reason, sizeof(a->reason),
				 "the new program does not fit the link (%s), so the link is replaced",
				 h->rec.prog_type != w->prog_type ? "another program type" :
				 h->rec.expected_attach_type != w->expected_attach_type ?
				 "another expected attach type" : "XDP frags or device binding differ");
			return;
		}
		if (caps->link_update) {
			a->kind = ACT_UPDATE;
			a->strategy = STRAT_IN_PLACE;
		} else {
			a->kind = ACT_REPLACE;
			a->strategy = caps->multi_prog ? STRAT_MAKE_BEFORE_BREAK
						       : STRAT_BREAK_BEFORE_MAKE;
		}
		if (h->prog_replaced)
			snprintf(a->reason, sizeof(a->reason),
				 "drift: the link runs program id %u, not the one applied (%u)",
				 h->prog_id, h->rec.prog_id);
		else if (!streq(h->rec.program, w->att->program ? w->att->program :
					     w->att->map ? w->att->map : ""))
			snprintf(a->reason, sizeof(a->reason), "program changed: %.100s -> %.100s",
				 h->rec.program, w->att->program ? w->att->program : w->att->map);
		else
			snprintf(a->reason, sizeof(a->reason), "object or config changed");
		return;
	}
	a->kind = ACT_NOOP;
	snprintf(a->reason, sizeof(a->reason), "in sync");
}

/* Target part of an instance key: what follows "<attachment>/". */
static const char *key_target(const char *key)
{
	const char *s = strchr(key, '/');

	return s ? s + 1 : key;
}

/* Desired instances by (manifest, key), for anchors: the anchor of an
 * instance is the instance "<anchor>/<target>" of the same manifest. */
static void want_index_build(struct hashidx *ix, const struct cnf_instance *want, size_t n)
{
	hashidx_init(ix, n);
	for (size_t i = 0; i < n; i++)
		hashidx_add(ix, hashidx_hash2(want[i].manifest->name, want[i].key), i);
}

/* Index of the instance `anchor` of w's manifest on w's target, or -1. */
static ssize_t want_anchor(const struct hashidx *ix, const struct cnf_instance *want,
			   const struct cnf_instance *w)
{
	char key[2 * CNF_KEY_MAX];
	size_t s;

	if (snprintf(key, sizeof(key), "%s/%s", w->t.anchor, key_target(w->key)) >=
	    (int)sizeof(key))
		return -1;
	hashidx_for_each_possible(ix, hashidx_hash2(w->manifest->name, key), s) {
		const struct cnf_instance *x = &want[s];

		if (x->manifest == w->manifest && streq(x->key, key))
			return (ssize_t)s;
	}
	return -1;
}

/* An anchor attached again (a replacement, a new link) moves on its hook;
 * what is declared before or after it is attached again next to it, in
 * the same run, so that nothing (another tool's program) ends up between
 * them. Chains follow in as many passes as they are long. */
static void follow_anchors(const struct plan_input *in, const struct hashidx *ix,
			   struct cnf_action *decided, size_t nw)
{
	bool moved = true;

	for (size_t pass = 0; moved && pass < nw; pass++) {
		moved = false;
		for (size_t i = 0; i < nw; i++) {
			const struct cnf_instance *w = &in->want[i];
			struct cnf_action *a = &decided[i];
			ssize_t j;

			if (!w->t.anchor || a->kind != ACT_NOOP || a->refused || !a->have)
				continue;
			j = want_anchor(ix, in->want, w);
			if (j < 0 || (decided[j].kind != ACT_REPLACE && decided[j].kind != ACT_CREATE))
				continue;
			a->kind = ACT_REPLACE;
			a->strategy = STRAT_MAKE_BEFORE_BREAK;
			snprintf(a->reason, sizeof(a->reason), "follows its anchor: '%s' is attached "
				 "again, and this stays %s it", w->t.anchor,
				 w->t.order == ORDER_BEFORE ? "before" : "after");
			moved = true;
		}
	}
}

struct emitter {
	const struct plan_input *in;
	const struct hashidx *ix;
	struct cnf_action *src;   /* decided actions for desired instances */
	bool *emitted;
	bool *visiting;
	struct cnf_action *out;
	size_t out_n;
};

static void emit_with_anchors(struct emitter *e, size_t i)
{
	const struct cnf_instance *w = e->src[i].want;

	if (e->emitted[i] || e->visiting[i])
		return;
	e->visiting[i] = true;
	if (w->t.anchor) {
		/* The anchor's instance on the same target goes first. */
		ssize_t j = want_anchor(e->ix, e->in->want, w);

		if (j >= 0 && (size_t)j != i)
			emit_with_anchors(e, (size_t)j);
	}
	e->visiting[i] = false;
	e->emitted[i] = true;
	e->out[e->out_n++] = e->src[i];
}

/* Observed and not desired: deleted before the desired instances when
 * their hook holds one program (a replacement or a renamed attachment may
 * need it), after them otherwise (make-before-break for renames). */
static bool delete_first(const struct plan_input *in, const struct cnf_observed *h)
{
	return !(h->has_record && caps_of(in, (enum hook_kind)h->rec.hook)->multi_prog);
}

/* Observed, not desired, and not the tool's to delete: a pin no record
 * names (another tool's; a killed run's temporary pins excepted), an
 * instance another namespace made through a shared state root. */
static bool left_alone(const struct cnf_observed *h)
{
	if (h->elsewhere && !h->foreign_pin)
		return true;
	return h->foreign_pin && !h->has_record;
}

static void left_alone_reason(const struct cnf_observed *h, struct cnf_action *a)
{
	char what[128];

	if (h->foreign_pin) {
		foreign_what(h, what, sizeof(what));
		a->left_alone = "foreign";
		snprintf(a->reason, sizeof(a->reason), "pinned by another tool: %s, and no record; "
			 "left alone", what);
		return;
	}
	a->left_alone = "elsewhere";
	snprintf(a->reason, sizeof(a->reason), "another namespace's: made in network namespace "
		 "inode %llu, this run is in inode %llu; left alone",
		 (unsigned long long)h->rec.netns_ino, (unsigned long long)h->self_netns_ino);
}

/* Is the observed instance's link on w's hook? */
static bool on_hook_of(const struct cnf_observed *h, const struct cnf_instance *w)
{
	return h->has_record && h->rec.hook == (uint32_t)w->t.kind &&
	       h->rec.ifindex == w->t.ifindex && h->rec.attach_type == w->t.attach_type &&
	       h->rec.cgroup_id == w->t.cgroup_id &&
	       (!h->rec.netns_ino || !w->t.netns_ino || h->rec.netns_ino == w->t.netns_ino);
}

/* A hook runs a program once. A replacement that attaches the program its
 * old link runs (the attachment's one running program, shared) on the
 * same hook cannot come in beside it, and neither can a create beside a
 * link this run deletes that runs it (an interface renamed to another
 * name the glob matches): the old link goes first. Such deletes move to
 * the front, with the deletes that free a single-program hook. */
static void same_program_goes_first(struct cnf_plan *p)
{
	size_t front = 0;

	for (size_t i = 0; i < p->count; i++) {
		struct cnf_action *a = &p->actions[i];
		const struct cnf_observed *h = a->have;

		char slot[CNF_DESC_MAX];

		/* Only hooks that run a program once (not cgroup links). */
		if (!a->reuse_prog_id || hook_slot(&a->want->t, slot, sizeof(slot)) == HOOK_SLOT_NONE)
			continue;
		if (a->kind == ACT_REPLACE && a->strategy == STRAT_MAKE_BEFORE_BREAK && h &&
		    a->reuse_prog_id == h->prog_id && on_hook_of(h, a->want))
			a->strategy = STRAT_BREAK_BEFORE_MAKE;
		for (size_t j = 0; a->kind == ACT_CREATE && j < p->count; j++) {
			struct cnf_action *d = &p->actions[j];

			if (d->kind == ACT_DELETE && d->strategy != STRAT_BREAK_BEFORE_MAKE &&
			    d->have->prog_id == a->reuse_prog_id && on_hook_of(d->have, a->want))
				d->strategy = STRAT_BREAK_BEFORE_MAKE;
		}
	}
	/* In execution order: the deletes that go first, first. */
	while (front < p->count && p->actions[front].kind == ACT_DELETE)
		front++;
	for (size_t j = front; j < p->count; j++) {
		struct cnf_action d = p->actions[j];

		if (d.kind != ACT_DELETE || d.strategy != STRAT_BREAK_BEFORE_MAKE)
			continue;
		memmove(&p->actions[front + 1], &p->actions[front],
			(j - front) * sizeof(*p->actions));
		p->actions[front++] = d;
	}
}

int plan_build(const struct plan_input *in, struct cnf_plan *ret)
{
	_cleanup_free_ struct have_ref *refs = NULL, *gone = NULL, *left = NULL;
	_cleanup_free_ struct have_ref **match = NULL;
	_cleanup_(hashidx_free) struct hashidx ix = {};
	size_t ngone = 0, nleft = 0, nout = 0, n = 0;
	bool anchors = false;
	struct cnf_action *out;
	size_t nh = in->have_count, nw = in->want_count;

	memset(ret, 0, sizeof(*ret));
	refs = xcalloc(nh, sizeof(*refs));
	for (size_t i = 0; i < nh; i++) {
		refs[i].o = &in->have[i];
		refs[i].hash = hashidx_hash2(in->have[i].manifest, in->have[i].key);
	}
	index_build(&ix, refs, nh);

	match = xcalloc(nw, sizeof(*match));
	for (size_t i = 0; i < nw; i++) {
		const struct cnf_instance *w = &in->want[i];
		struct have_ref *r = have_find(&ix, refs, w->manifest->name, w->key);

		if (r) {
			if (r->matched)
				return -EEXIST; /* two desired instances with one key */
			r->matched = true;
		}
		match[i] = r;
		anchors |= w->t.anchor != NULL;
	}

	/* What is observed and not desired, in a stable order: the deletes. */
	gone = xcalloc(nh, sizeof(*gone));
	left = xcalloc(nh, sizeof(*left));
	for (size_t i = 0; i < nh; i++) {
		if (refs[i].matched || !in_scope(in, refs[i].o->manifest))
			continue;
		if (left_alone(refs[i].o)) {
			left[nleft++] = refs[i];
			continue;
		}
		gone[ngone++] = refs[i];
	}
	qsort(gone, ngone, sizeof(*gone), have_cmp);
	qsort(left, nleft, sizeof(*left), have_cmp);

	/* Execution order: 1. deletes that free a single-program hook; 2. the
	 * desired instances, anchors before what refers to them; 3. the other
	 * deletes. Without anchors, the desired instances are decided in
	 * place. */
	nout = ngone + nleft + nw;
	out = xcalloc(nout ? nout : 1, sizeof(*out));
	for (size_t i = 0; i < ngone; i++)
		if (delete_first(in, gone[i].o))
			out[n++] = (struct cnf_action){ .kind = ACT_DELETE, .have = gone[i].o };
	if (!anchors) {
		for (size_t i = 0; i < nw; i++)
			decide(in, &in->want[i], match[i] ? match[i]->o : NULL, &out[n++]);
	} else {
		_cleanup_free_ struct cnf_action *decided = xcalloc(nw, sizeof(*decided));
		_cleanup_free_ bool *emitted = xcalloc(nw, sizeof(bool));
		_cleanup_free_ bool *visiting = xcalloc(nw, sizeof(bool));
		_cleanup_(hashidx_free) struct hashidx wix = {};
		struct emitter e;

		for (size_t i = 0; i < nw; i++)
			decide(in, &in->want[i], match[i] ? match[i]->o : NULL, &decided[i]);
		want_index_build(&wix, in->want, nw);
		follow_anchors(in, &wix, decided, nw);
		e = (struct emitter){ .in = in, .ix = &wix, .src = decided, .emitted = emitted,
				      .visiting = visiting, .out = out, .out_n = n };
		for (size_t i = 0; i < nw; i++)
			emit_with_anchors(&e, i);
		n = e.out_n;
	}
	for (size_t i = 0; i < ngone; i++)
		if (!delete_first(in, gone[i].o))
			out[n++] = (struct cnf_action){ .kind = ACT_DELETE, .have = gone[i].o };
	/* Not the tool's to delete: reported, never touched. */
	for (size_t i = 0; i < nleft; i++) {
		struct cnf_action *a = &out[n++];

		*a = (struct cnf_action){ .kind = ACT_NOOP, .have = left[i].o };
		left_alone_reason(left[i].o, a);
	}

	for (size_t i = 0; i < n; i++) {
		struct cnf_action *a = &out[i];

		if (a->kind == ACT_DELETE && a->have->foreign_pin) {
			char what[128];

			/* The record is the tool's, the pin another tool's: the
			 * record goes, the pin to the quarantine. */
			foreign_what(a->have, what, sizeof(what));
			a->quarantine = true;
			snprintf(a->reason, sizeof(a->reason), "%s; its pin holds %s, not the recorded "
				 "link %u: it moves to the quarantine, nothing is detached",
				 in->delete_reason ? in->delete_reason : "no longer declared", what,
				 a->have->rec.link_id);
		} else if (a->kind == ACT_DELETE) {
			bool known = in_list(in->scope, in->scope_count, a->have->manifest);

			if (known && !in->delete_reason)
				delete_reason(in, a->have, a->reason, sizeof(a->reason));
			else
				snprintf(a->reason, sizeof(a->reason), "%s",
					 in->delete_reason ? in->delete_reason
							   : "manifest no longer present");
		}
		if (a->kind != ACT_NOOP || a->refused)
			ret->changes++;
	}
	ret->actions = out;
	ret->count = n;
	plan_share_programs(in, ret);
	same_program_goes_first(ret);
	return 0;
}

void plan_free(struct cnf_plan *p)
{
	free(p->actions);
	memset(p, 0, sizeof(*p));
}

bool plan_target_names(const char *target, const char *manifest, const char *att)
{
	size_t n = strlen(manifest);

	if (strncmp(target, manifest, n) != 0)
		return false;
	if (!target[n])
		return true;
	return target[n] == '/' && att && streq(target + n + 1, att);
}

bool plan_target_within(const char *target, const char *manifest)
{
	size_t n = strlen(manifest);

	return !strncmp(target, manifest, n) && (!target[n] || target[n] == '/');
}
