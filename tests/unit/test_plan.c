// SPDX-License-Identifier: GPL-2.0-only
/* The planner, without a kernel: desired and observed states built by hand. */
#include <errno.h>
#include <stdlib.h>
#include <linux/if_link.h>

#include "cnf/engine.h"
#include "cnf/log.h"
#include "testlib.h"

static struct cnf_manifest man = { .name = (char *)"edge" };
static struct cnf_attachment atts[8];

static const struct hook_caps xdp_caps = { .link_update = true, .multi_prog = false,
					   .shared_prog = true };
static const struct hook_caps tcx_caps = { .link_update = true, .multi_prog = true,
					   .shared_prog = true };
/* fentry-like: the target is fixed when the program is loaded */
static const struct hook_caps none_caps = { .link_update = false, .multi_prog = true };

static const struct hook_caps *caps(enum hook_kind k)
{
	switch (k) {
	case HOOK_XDP:
		return &xdp_caps;
	case HOOK_TCX:
	case HOOK_CGROUP:
		return &tcx_caps;
	default:
		return &none_caps;
	}
}

static void want_init(struct cnf_instance *w, int att, enum hook_kind kind, const char *name,
		      const char *target, uint8_t prog, uint8_t hook)
{
	memset(w, 0, sizeof(*w));
	atts[att].name = (char *)name;
	atts[att].program = (char *)"fw/main";
	w->manifest = &man;
	w->att = &atts[att];
	w->att_idx = (size_t)att;
	w->t.kind = kind;
	snprintf(w->key, sizeof(w->key), "%s/%s", name, target);
	snprintf(w->target_text, sizeof(w->target_text), "%s", target);
	snprintf(w->hook_desc, sizeof(w->hook_desc), "%s %s h%u", hook_kind_name(kind), target, hook);
	memset(w->prog_hash, prog, CNF_HASH_LEN);
	memset(w->hook_hash, hook, CNF_HASH_LEN);
}

static void have_init(struct cnf_observed *h, const char *manifest, const char *key,
		      enum hook_kind kind, uint8_t prog, uint8_t hook)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->manifest, sizeof(h->manifest), "%s", manifest);
	snprintf(h->key, sizeof(h->key), "%s", key);
	h->has_record = h->has_pin = h->alive = true;
	h->link_id = 10;
	h->prog_id = 20;
	h->rec.version = CNF_RECORD_VERSION;
	h->rec.hook = (uint32_t)kind;
	h->rec.link_id = 10;
	h->rec.prog_id = 20;
	snprintf(h->rec.program, sizeof(h->rec.program), "fw/main");
	memset(h->rec.prog_hash, prog, CNF_HASH_LEN);
	memset(h->rec.hook_hash, hook, CNF_HASH_LEN);
}

static const char *scope_edge[] = { "edge" };

static int plan(struct cnf_instance *w, size_t nw, struct cnf_observed *h, size_t nh,
		bool prune_all, struct cnf_plan *p)
{
	struct plan_input in = {
		.want = w, .want_count = nw, .have = h, .have_count = nh,
		.scope = scope_edge, .scope_count = 1, .prune_all = prune_all, .caps = caps,
	};
	return plan_build(&in, p);
}

TEST(test_fresh_creates)
{
	struct cnf_instance w[2];
	struct cnf_plan p;

	want_init(&w[0], 0, HOOK_XDP, "fw", "eth0", 1, 1);
	want_init(&w[1], 1, HOOK_TCX, "count", "eth0", 1, 2);
	CHECK_INT(plan(w, 2, NULL, 0, false, &p), 0);
	CHECK_INT(p.count, 2);
	CHECK_INT(p.changes, 2);
	CHECK_INT(p.actions[0].kind, ACT_CREATE);
	CHECK_INT(p.actions[1].kind, ACT_CREATE);
	CHECK_STR(p.actions[0].reason, "not attached");
	plan_free(&p);
}

TEST(test_in_sync_is_noop)
{
	struct cnf_instance w;
	struct cnf_observed h;
	struct cnf_plan p;

	want_init(&w, 0, HOOK_XDP, "fw", "eth0", 1, 1);
	have_init(&h, "edge", "fw/eth0", HOOK_XDP, 1, 1);
	CHECK_INT(plan(&w, 1, &h, 1, false, &p), 0);
	CHECK_INT(p.count, 1);
	CHECK_INT(p.changes, 0);
	CHECK_INT(p.actions[0].kind, ACT_NOOP);
	CHECK(p.actions[0].have == &h);
	plan_free(&p);
}

TEST(test_prog_change_updates_in_place)
{
	struct cnf_instance w;
	struct cnf_observed h;
	struct cnf_plan p;

	want_init(&w, 0, HOOK_TCX, "count", "eth0", 2, 1);
	have_init(&h, "edge", "count/eth0", HOOK_TCX, 1, 1);
	CHECK_INT(plan(&w, 1, &h, 1, false, &p), 0);
	CHECK_INT(p.actions[0].kind, ACT_UPDATE);
	CHECK_INT(p.actions[0].strategy, STRAT_IN_PLACE);
	CHECK_STR(p.actions[0].reason, "object or config changed");
	plan_free(&p);
}

TEST(test_prog_that_does_not_fit_the_link_replaces)
{
	struct cnf_instance w;
	struct cnf_observed h;
	struct cnf_plan p;

	/* An XDP program gaining frags support cannot be swapped into the
	 * link: the hook holds one program, so break-before-make. */
	want_init(&w, 0, HOOK_XDP, "fw", "eth0", 2, 1);
	w.prog_flags = BPF_F_XDP_HAS_FRAGS;
	have_init(&h, "edge", "fw/eth0", HOOK_XDP, 1, 1);
	CHECK_INT(plan(&w, 1, &h, 1, false, &p), 0);
	CHECK_INT(p.actions[0].kind, ACT_REPLACE);
	CHECK_INT(p.actions[0].strategy, STRAT_BREAK_BEFORE_MAKE);
	CHECK(strstr(p.actions[0].reason, "does not fit the link") != NULL);
	plan_free(&p);

	/* Another program type on tcx: make-before-break. */
	want_init(&w, 0, HOOK_TCX, "c", "eth0", 2, 1);
	w.prog_type = BPF_PROG_TYPE_SCHED_ACT;
	have_init(&h, "edge", "c/eth0", HOOK_TCX, 1, 1);
	h.rec.prog_type = BPF_PROG_TYPE_SCHED_CLS;
	CHECK_INT(plan(&w, 1, &h, 1, false, &p), 0);
	CHECK_INT(p.actions[0].kind, ACT_REPLACE);
	CHECK_INT(p.actions[0].strategy, STRAT_MAKE_BEFORE_BREAK);
	plan_free(&p);
}

TEST(test_prog_change_without_link_update_replaces)
{
	struct cnf_instance w;
	struct cnf_observed h;
	struct cnf_plan p;

	want_init(&w, 0, HOOK_TRACEPOINT, "tp", "sys_enter", 2, 1);
	have_init(&h, "edge", "tp/sys_enter", HOOK_TRACEPOINT, 1, 1);
	CHECK_INT(plan(&w, 1, &h, 1, false, &p), 0);
	CHECK_INT(p.actions[0].kind, ACT_REPLACE);
	CHECK_INT(p.actions[0].strategy, STRAT_MAKE_BEFORE_BREAK);
	plan_free(&p);
}

TEST(test_hook_change_replaces)
{
	struct cnf_instance w;
	struct cnf_observed h;
	struct cnf_plan p;

	/* XDP holds one program: the replacement has a gap, and says so. */
	want_init(&w, 0, HOOK_XDP, "fw", "eth0", 1, 7);
	have_init(&h, "edge", "fw/eth0", HOOK_XDP, 1, 1);
	snprintf(h.rec.hook_desc, sizeof(h.rec.hook_desc), "xdp eth0 mode=native");
	CHECK_INT(plan(&w, 1, &h, 1, false, &p), 0);
	CHECK_INT(p.actions[0].kind, ACT_REPLACE);
	CHECK_INT(p.actions[0].strategy, STRAT_BREAK_BEFORE_MAKE);
	CHECK(strstr(p.actions[0].reason, "hook changed: xdp eth0 mode=native -> ") != NULL);
	plan_free(&p);

	/* tcx holds several: make-before-break. */
	want_init(&w, 0, HOOK_TCX, "c", "eth0", 1, 7);
	have_init(&h, "edge", "c/eth0", HOOK_TCX, 1, 1);
	CHECK_INT(plan(&w, 1, &h, 1, false, &p), 0);
	CHECK_INT(p.actions[0].kind, ACT_REPLACE);
	CHECK_INT(p.actions[0].strategy, STRAT_MAKE_BEFORE_BREAK);
	plan_free(&p);
}

TEST(test_hook_kind_change_replaces)
{
	struct cnf_instance w;
	struct cnf_observed h;
	struct cnf_plan p;

	want_init(&w, 0, HOOK_TCX, "c", "eth0", 1, 1);
	have_init(&h, "edge", "c/eth0", HOOK_TC, 1, 1);
	CHECK_INT(plan(&w, 1, &h, 1, false, &p), 0);
	CHECK_INT(p.actions[0].kind, ACT_REPLACE);
	plan_free(&p);
}

TEST(test_missing_pin_or_dead_link_recreates)
{
	struct cnf_instance w;
	struct cnf_observed h;
	struct cnf_plan p;

	want_init(&w, 0, HOOK_XDP, "fw", "eth0", 1, 1);
	have_init(&h, "edge", "fw/eth0", HOOK_XDP, 1, 1);
	h.has_pin = false;
	h.alive = false;
	CHECK_INT(plan(&w, 1, &h, 1, false, &p), 0);
	CHECK_INT(p.actions[0].kind, ACT_CREATE);
	CHECK_STR(p.actions[0].reason, "recreate: pin was removed");
	plan_free(&p);

	have_init(&h, "edge", "fw/eth0", HOOK_XDP, 1, 1);
	h.alive = false;
	h.defunct = true;
	CHECK_INT(plan(&w, 1, &h, 1, false, &p), 0);
	CHECK_INT(p.actions[0].kind, ACT_CREATE);
	CHECK(strstr(p.actions[0].reason, "defunct") != NULL);
	CHECK(p.actions[0].have == &h); /* the executor removes the stale pin */
	plan_free(&p);
}

/* A defunct link whose interface is the one it was made for (same
 * ifindex) was detached by hand; one whose interface was made again
 * under its name lost its target. */
TEST(test_detached_link_is_not_a_gone_target)
{
	struct cnf_instance w;
	struct cnf_observed h;
	struct cnf_plan p;

	want_init(&w, 0, HOOK_TCX, "count", "eth0", 1, 1);
	w.t.ifindex = 5;
	have_init(&h, "edge", "count/eth0", HOOK_TCX, 1, 1);
	h.alive = false;
	h.defunct = true;
	h.rec.ifindex = 5;
	CHECK_INT(plan(&w, 1, &h, 1, false, &p), 0);
	CHECK_INT(p.actions[0].kind, ACT_CREATE);
	CHECK_STR(p.actions[0].reason,
		  "recreate: link detached outside cnf-apply; its target still exists");
	plan_free(&p);

	w.t.ifindex = 6; /* deleted and made again */
	CHECK_INT(plan(&w, 1, &h, 1, false, &p), 0);
	CHECK_STR(p.actions[0].reason, "recreate: link is defunct (its target went away)");
	plan_free(&p);
}

/* Deletes of a manifest in the run say why: the attachment was removed,
 * or its interface is gone or no longer matches. */
TEST(test_delete_reasons)
{
	static struct cnf_attachment decl[2] = {
		{ .name = (char *)"keep", .interface = (char *)"eth*" },
		{ .name = (char *)"listed", .interfaces_count = 1 },
	};
	static struct cnf_manifest m = { .name = (char *)"edge", .attachments = decl,
					 .attachments_count = 2 };
	const struct cnf_manifest *ms[] = { &m };
	struct cnf_observed h[4];
	struct plan_input in = { .have = h, .have_count = 4, .scope = scope_edge, .scope_count = 1,
				 .caps = caps, .manifests = ms, .manifests_count = 1 };
	struct cnf_plan p;

	have_init(&h[0], "edge", "gone/eth0", HOOK_TCX, 1, 1);
	have_init(&h[1], "edge", "keep/eth1", HOOK_TCX, 1, 1);
	h[1].defunct = true;
	h[1].alive = false;
	have_init(&h[2], "edge", "keep/wlan0", HOOK_TCX, 1, 1);
	snprintf(h[2].rec.attachment, sizeof(h[2].rec.attachment), "keep");
	snprintf(h[2].rec.target, sizeof(h[2].rec.target), "wlan0");
	have_init(&h[3], "edge", "listed/eth3", HOOK_TCX, 1, 1);
	CHECK_INT(plan_build(&in, &p), 0);
	CHECK_INT(p.count, 4);
	CHECK_STR(p.actions[0].reason, "attachment no longer in the manifest");
	CHECK_STR(p.actions[1].reason, "interface 'eth1' is gone");
	CHECK_STR(p.actions[2].reason, "interface 'wlan0' no longer matches 'eth*'");
	CHECK_STR(p.actions[3].reason, "interface 'eth3' no longer in the attachment's interfaces");
	plan_free(&p);
}

TEST(test_drift_prog_replaced_updates)
{
	struct cnf_instance w;
	struct cnf_observed h;
	struct cnf_plan p;

	want_init(&w, 0, HOOK_XDP, "fw", "eth0", 1, 1);
	have_init(&h, "edge", "fw/eth0", HOOK_XDP, 1, 1);
	h.prog_replaced = true;
	h.prog_id = 99;
	CHECK_INT(plan(&w, 1, &h, 1, false, &p), 0);
	CHECK_INT(p.actions[0].kind, ACT_UPDATE);
	CHECK(strstr(p.actions[0].reason, "drift") != NULL);
	plan_free(&p);
}

TEST(test_pin_without_record_replaces)
{
	struct cnf_instance w;
	struct cnf_observed h;
	struct cnf_plan p;

	want_init(&w, 0, HOOK_TCX, "c", "eth0", 1, 1);
	have_init(&h, "edge", "c/eth0", HOOK_TCX, 1, 1);
	h.has_record = false;
	CHECK_INT(plan(&w, 1, &h, 1, false, &p), 0);
	CHECK_INT(p.actions[0].kind, ACT_REPLACE);
	plan_free(&p);
}

TEST(test_removed_attachment_deletes_in_scope_only)
{
	struct cnf_instance w;
	struct cnf_observed h[3];
	struct cnf_plan p;

	want_init(&w, 0, HOOK_TCX, "keep", "eth0", 1, 1);
	have_init(&h[0], "edge", "keep/eth0", HOOK_TCX, 1, 1);
	have_init(&h[1], "edge", "gone/eth0", HOOK_TCX, 1, 1);
	have_init(&h[2], "other", "x/eth0", HOOK_TCX, 1, 1);
	CHECK_INT(plan(&w, 1, h, 3, false, &p), 0);
	CHECK_INT(p.count, 2);
	CHECK_INT(p.changes, 1);
	CHECK_INT(p.actions[1].kind, ACT_DELETE);
	CHECK(p.actions[1].have == &h[1]);
	CHECK_STR(p.actions[1].reason, "attachment no longer in the manifest");
	plan_free(&p);

	/* A directory is the whole desired state: other manifests go too. */
	CHECK_INT(plan(&w, 1, h, 3, true, &p), 0);
	CHECK_INT(p.changes, 2);
	CHECK_STR(p.actions[2].reason, "manifest no longer present");
	CHECK(p.actions[2].have == &h[2]);
	plan_free(&p);
}

TEST(test_pruned_manifest_deletes_only_it)
{
	static const char *prune[] = { "gone" };
	struct cnf_instance w;
	struct cnf_observed h[3];
	struct cnf_plan p;
	struct plan_input in = {
		.want = &w, .want_count = 1, .have = h, .have_count = 3,
		.scope = scope_edge, .scope_count = 1, .prune = prune, .prune_count = 1,
		.caps = caps,
	};

	want_init(&w, 0, HOOK_TCX, "keep", "eth0", 1, 1);
	have_init(&h[0], "edge", "keep/eth0", HOOK_TCX, 1, 1);
	have_init(&h[1], "gone", "x/eth0", HOOK_TCX, 1, 1);
	have_init(&h[2], "other", "x/eth0", HOOK_TCX, 1, 1);
	CHECK_INT(plan_build(&in, &p), 0);
	CHECK_INT(p.count, 2);
	CHECK_INT(p.changes, 1);
	CHECK(p.actions[1].have == &h[1]);
	CHECK_STR(p.actions[1].reason, "manifest no longer present");
	plan_free(&p);
}

TEST(test_prunes_within_source)
{
	const struct plan_path dir = { "/etc/cnf.d", true }, root = { "/", true },
			       file = { "/etc/cnf.d/a.yaml", false }, other = { "/srv/x", true };
	const struct plan_path both[] = { other, dir }, mixed[] = { dir, file };

	/* A directory reads the files directly in it, not below. */
	CHECK(plan_prunes(&dir, 1, "/etc/cnf.d/a.yaml"));
	CHECK(!plan_prunes(&dir, 1, "/etc/cnf.d/sub/a.yaml"));
	CHECK(!plan_prunes(&dir, 1, "/etc/cnf.dx/a.yaml"));
	CHECK(!plan_prunes(&dir, 1, "/etc/a.yaml"));
	CHECK(!plan_prunes(&other, 1, "/etc/cnf.d/a.yaml"));
	CHECK(plan_prunes(both, 2, "/etc/cnf.d/a.yaml"));
	CHECK(plan_prunes(&root, 1, "/a.yaml"));
	CHECK(!plan_prunes(&root, 1, "/etc/a.yaml"));
	/* A file reads itself: a manifest renamed inside it. */
	CHECK(plan_prunes(&file, 1, "/etc/cnf.d/a.yaml"));
	CHECK(!plan_prunes(&file, 1, "/etc/cnf.d/b.yaml"));
	/* Nothing recorded (an older state root): pruned by directories only. */
	CHECK(plan_prunes(&dir, 1, NULL));
	CHECK(plan_prunes(both, 2, NULL));
	CHECK(!plan_prunes(&file, 1, NULL));
	CHECK(!plan_prunes(mixed, 2, NULL));
	CHECK(!plan_prunes(NULL, 0, NULL));
}

TEST(test_targets)
{
	CHECK(plan_target_names("edge", "edge", NULL));
	CHECK(plan_target_names("edge", "edge", "fw"));
	CHECK(plan_target_names("edge/fw", "edge", "fw"));
	CHECK(!plan_target_names("edge/fw", "edge", "fw2"));
	CHECK(!plan_target_names("edge/fw", "edge", NULL));
	CHECK(!plan_target_names("edge2", "edge", NULL));
	CHECK(!plan_target_names("edge2/fw", "edge", "fw"));
	CHECK(!plan_target_names("edg", "edge", NULL));
	CHECK(plan_target_within("edge/fw", "edge"));
	CHECK(plan_target_within("edge", "edge"));
	CHECK(!plan_target_within("edge2/fw", "edge"));
	CHECK(!plan_target_within("edg/fw", "edge"));
}

TEST(test_single_prog_hook_deleted_before_create)
{
	struct cnf_instance w;
	struct cnf_observed h;
	struct cnf_plan p;

	/* Renamed XDP attachment: the old one must go first. */
	want_init(&w, 0, HOOK_XDP, "new", "eth0", 1, 1);
	have_init(&h, "edge", "old/eth0", HOOK_XDP, 1, 1);
	CHECK_INT(plan(&w, 1, &h, 1, false, &p), 0);
	CHECK_INT(p.count, 2);
	CHECK_INT(p.actions[0].kind, ACT_DELETE);
	CHECK_INT(p.actions[1].kind, ACT_CREATE);
	plan_free(&p);

	/* tcx: make before break, the delete comes last. */
	want_init(&w, 0, HOOK_TCX, "new", "eth0", 1, 1);
	have_init(&h, "edge", "old/eth0", HOOK_TCX, 1, 1);
	CHECK_INT(plan(&w, 1, &h, 1, false, &p), 0);
	CHECK_INT(p.actions[0].kind, ACT_CREATE);
	CHECK_INT(p.actions[1].kind, ACT_DELETE);
	plan_free(&p);
}

TEST(test_anchor_created_first)
{
	struct cnf_instance w[3];
	struct cnf_plan p;

	/* "b" is after "a", declared before it; "c" first with no anchor. */
	want_init(&w[0], 0, HOOK_TCX, "b", "eth0", 1, 1);
	w[0].t.order = ORDER_AFTER;
	w[0].t.anchor = "a";
	want_init(&w[1], 1, HOOK_TCX, "c", "eth0", 1, 1);
	want_init(&w[2], 2, HOOK_TCX, "a", "eth0", 1, 1);
	CHECK_INT(plan(w, 3, NULL, 0, false, &p), 0);
	CHECK_INT(p.count, 3);
	CHECK_STR(p.actions[0].want->att->name, "a");
	CHECK_STR(p.actions[1].want->att->name, "b");
	CHECK_STR(p.actions[2].want->att->name, "c");
	plan_free(&p);
}

TEST(test_anchor_per_target)
{
	struct cnf_instance w[4];
	struct cnf_plan p;

	want_init(&w[0], 0, HOOK_TCX, "b", "eth0", 1, 1);
	w[0].t.order = ORDER_BEFORE;
	w[0].t.anchor = "a";
	want_init(&w[1], 0, HOOK_TCX, "b", "eth1", 1, 1);
	w[1].t.order = ORDER_BEFORE;
	w[1].t.anchor = "a";
	want_init(&w[2], 1, HOOK_TCX, "a", "eth1", 1, 1);
	want_init(&w[3], 1, HOOK_TCX, "a", "eth0", 1, 1);
	CHECK_INT(plan(w, 4, NULL, 0, false, &p), 0);
	CHECK_INT(p.count, 4);
	CHECK_STR(p.actions[0].want->key, "a/eth0");
	CHECK_STR(p.actions[1].want->key, "b/eth0");
	CHECK_STR(p.actions[2].want->key, "a/eth1");
	CHECK_STR(p.actions[3].want->key, "b/eth1");
	plan_free(&p);
}

TEST(test_duplicate_keys_rejected)
{
	struct cnf_instance w[2];
	struct cnf_observed h;
	struct cnf_plan p;

	want_init(&w[0], 0, HOOK_TCX, "a", "eth0", 1, 1);
	want_init(&w[1], 0, HOOK_TCX, "a", "eth0", 1, 1);
	have_init(&h, "edge", "a/eth0", HOOK_TCX, 1, 1);
	CHECK_INT(plan(w, 2, &h, 1, false, &p), -EEXIST);
}

TEST(test_scales_linearly_enough)
{
	enum { N = 20000 };
	struct cnf_instance *w = calloc(N, sizeof(*w));
	struct cnf_observed *h = calloc(N, sizeof(*h));
	struct cnf_plan p;

	for (int i = 0; i < N; i++) {
		char name[32], key[64];

		snprintf(name, sizeof(name), "veth%d", i);
		want_init(&w[i], 0, HOOK_TCX, "a", name, 1, 1);
		snprintf(key, sizeof(key), "a/%s", name);
		have_init(&h[N - 1 - i], "edge", key, HOOK_TCX, 1, 1);
	}
	/* Observed order is reversed: matching must not depend on it. */
	for (int i = 0; i < N; i++)
		snprintf(h[N - 1 - i].key, sizeof(h[0].key), "a/veth%d", i);
	CHECK_INT(plan(w, N, h, N, false, &p), 0);
	CHECK_INT(p.count, N);
	CHECK_INT(p.changes, 0);
	plan_free(&p);
	free(w);
	free(h);
}

/* A new target of an attachment whose other targets are in sync attaches
 * the program they run; nothing else does. */
TEST(test_create_shares_running_program)
{
	struct cnf_instance w[3];
	struct cnf_observed h[2];
	struct cnf_plan p;

	want_init(&w[0], 0, HOOK_XDP, "fw", "eth0", 1, 1);
	want_init(&w[1], 0, HOOK_XDP, "fw", "eth1", 1, 1);
	want_init(&w[2], 0, HOOK_XDP, "fw", "eth2", 1, 1);
	have_init(&h[0], "edge", "fw/eth0", HOOK_XDP, 1, 1);
	h[0].prog_id = h[0].rec.prog_id = 77;
	/* eth2's link is defunct (the interface came back): recreated */
	have_init(&h[1], "edge", "fw/eth2", HOOK_XDP, 1, 1);
	h[1].alive = false;
	h[1].defunct = true;
	h[1].prog_id = h[1].rec.prog_id = 55;
	CHECK_INT(plan(w, 3, h, 2, false, &p), 0);
	CHECK_INT(p.count, 3);
	CHECK_INT(p.actions[0].kind, ACT_NOOP);
	CHECK_INT(p.actions[0].reuse_prog_id, 0);
	CHECK_INT(p.actions[1].kind, ACT_CREATE);
	CHECK_INT(p.actions[1].reuse_prog_id, 77);
	CHECK_INT(p.actions[2].kind, ACT_CREATE);
	CHECK_INT(p.actions[2].reuse_prog_id, 77); /* not the defunct link's 55 */
	plan_free(&p);

	/* Another attachment of the same program (same identity) shares too;
	 * a different program does not. */
	want_init(&w[1], 1, HOOK_XDP, "fw2", "eth1", 1, 1);
	want_init(&w[2], 2, HOOK_XDP, "other", "eth2", 9, 1);
	CHECK_INT(plan(w, 3, h, 1, false, &p), 0);
	CHECK_INT(p.actions[1].reuse_prog_id, 77);
	CHECK_INT(p.actions[2].reuse_prog_id, 0);
	plan_free(&p);
}

TEST(test_create_shares_only_what_fits)
{
	static struct cnf_manifest other = { .name = (char *)"other" };
	struct cnf_instance w[2];
	struct cnf_observed h;
	struct cnf_plan p;

	/* No in-sync source: the object is loaded. */
	want_init(&w[0], 0, HOOK_TCX, "count", "eth0", 2, 1);
	want_init(&w[1], 0, HOOK_TCX, "count", "eth1", 2, 1);
	have_init(&h, "edge", "count/eth0", HOOK_TCX, 1, 1);
	CHECK_INT(plan(w, 2, &h, 1, false, &p), 0);
	CHECK_INT(p.actions[0].kind, ACT_UPDATE);
	CHECK_INT(p.actions[1].kind, ACT_CREATE);
	CHECK_INT(p.actions[1].reuse_prog_id, 0);
	plan_free(&p);

	/* Another manifest's program is not shared. */
	want_init(&w[0], 0, HOOK_TCX, "count", "eth0", 1, 1);
	want_init(&w[1], 0, HOOK_TCX, "count", "eth1", 1, 1);
	w[1].manifest = &other;
	CHECK_INT(plan(w, 2, &h, 1, true, &p), 0);
	CHECK_INT(p.actions[1].kind, ACT_CREATE);
	CHECK_INT(p.actions[1].reuse_prog_id, 0);
	plan_free(&p);

	/* Another attach type (egress vs ingress) is not shared. */
	want_init(&w[1], 0, HOOK_TCX, "count", "eth1", 1, 1);
	w[1].t.attach_type = BPF_TCX_EGRESS;
	CHECK_INT(plan(w, 2, &h, 1, false, &p), 0);
	CHECK_INT(p.actions[1].reuse_prog_id, 0);
	plan_free(&p);

	/* A family whose target is fixed at load never shares. */
	want_init(&w[0], 0, HOOK_FENTRY, "f", "a", 1, 1);
	want_init(&w[1], 0, HOOK_FENTRY, "f", "b", 1, 2);
	have_init(&h, "edge", "f/a", HOOK_FENTRY, 1, 1);
	CHECK_INT(plan(w, 2, &h, 1, false, &p), 0);
	CHECK_INT(p.actions[0].kind, ACT_NOOP);
	CHECK_INT(p.actions[1].kind, ACT_CREATE);
	CHECK_INT(p.actions[1].reuse_prog_id, 0);
	plan_free(&p);

	/* XDP offload and device-bound programs are tied to one device. */
	want_init(&w[0], 0, HOOK_XDP, "fw", "eth0", 1, 1);
	want_init(&w[1], 0, HOOK_XDP, "fw", "eth1", 1, 1);
	have_init(&h, "edge", "fw/eth0", HOOK_XDP, 1, 1);
	w[1].t.xdp_mode = XDP_MODE_OFFLOAD;
	w[1].t.prog_bound = true; /* as the xdp row's prepare() says for offload */
	CHECK_INT(plan(w, 2, &h, 1, false, &p), 0);
	CHECK_INT(p.actions[1].reuse_prog_id, 0);
	plan_free(&p);
	w[1].t.xdp_mode = XDP_MODE_AUTO;
	w[1].t.prog_bound = false;
	h.rec.xdp_flags = XDP_FLAGS_HW_MODE;
	CHECK_INT(plan(w, 2, &h, 1, false, &p), 0);
	CHECK_INT(p.actions[1].reuse_prog_id, 0);
	plan_free(&p);
	h.rec.xdp_flags = 0;
	w[0].prog_flags = w[1].prog_flags = BPF_F_XDP_DEV_BOUND_ONLY;
	CHECK_INT(plan(w, 2, &h, 1, false, &p), 0);
	CHECK_INT(p.actions[1].reuse_prog_id, 0);
	plan_free(&p);

	/* A link running another program than recorded is drift, not a
	 * source. */
	w[0].prog_flags = w[1].prog_flags = 0;
	have_init(&h, "edge", "fw/eth0", HOOK_XDP, 1, 1);
	h.prog_replaced = true;
	CHECK_INT(plan(w, 2, &h, 1, false, &p), 0);
	CHECK_INT(p.actions[0].kind, ACT_UPDATE);
	CHECK_INT(p.actions[1].reuse_prog_id, 0);
	plan_free(&p);
}

/* A focused run (watch) leaves the in-sync instances out of the plan and
 * passes their programs as sources. */
TEST(test_create_shares_source_outside_plan)
{
	struct cnf_instance w[2];
	struct cnf_observed h;
	struct plan_source src;
	struct cnf_plan p;
	struct plan_input in = {
		.want = &w[1], .want_count = 1, .scope = scope_edge, .scope_count = 1,
		.caps = caps, .sources = &src, .sources_count = 1,
	};

	want_init(&w[0], 0, HOOK_TCX, "count", "eth0", 1, 1);
	want_init(&w[1], 0, HOOK_TCX, "count", "eth1", 1, 1);
	have_init(&h, "edge", "count/eth0", HOOK_TCX, 1, 1);
	h.prog_id = h.rec.prog_id = 42;
	CHECK(plan_source_of(&w[0], &h, caps(HOOK_TCX), &src));
	CHECK_INT(src.prog_id, 42);
	CHECK_INT(plan_build(&in, &p), 0);
	CHECK_INT(p.count, 1);
	CHECK_INT(p.actions[0].kind, ACT_CREATE);
	CHECK_INT(p.actions[0].reuse_prog_id, 42);
	plan_free(&p);

	/* Not in sync, not a source: another program, order drift, a dead
	 * link, a family that does not share. */
	w[0].prog_hash[0] ^= 1;
	CHECK(!plan_source_of(&w[0], &h, caps(HOOK_TCX), &src));
	w[0].prog_hash[0] ^= 1;
	snprintf(h.order_drift, sizeof(h.order_drift), "not first");
	CHECK(!plan_source_of(&w[0], &h, caps(HOOK_TCX), &src));
	h.order_drift[0] = '\0';
	h.alive = false;
	CHECK(!plan_source_of(&w[0], &h, caps(HOOK_TCX), &src));
	h.alive = true;
	CHECK(!plan_source_of(&w[0], &h, caps(HOOK_FENTRY), &src));
	CHECK(plan_source_of(&w[0], &h, caps(HOOK_TCX), &src));
}

/* Interfaces as the planner's callback sees them: index 5 is zz31 now. */
static const char *ifname_of(void *ctx, uint64_t netns_ino, uint32_t ifindex)
{
	(void)ctx;
	return netns_ino == 4026 && ifindex == 5 ? "zz31" : NULL;
}

static int plan_with_ifnames(struct cnf_instance *w, size_t nw, struct cnf_observed *h, size_t nh,
			     struct cnf_plan *p)
{
	struct plan_input in = {
		.want = w, .want_count = nw, .have = h, .have_count = nh,
		.scope = scope_edge, .scope_count = 1, .caps = caps, .ifname_of = ifname_of,
	};
	return plan_build(&in, p);
}

TEST(test_link_on_another_interface_replaces)
{
	struct cnf_instance w[2];
	struct cnf_observed h[2];
	struct cnf_plan p;

	/* a31 was renamed zz31 (index 5), a40 (index 7) renamed a31. */
	want_init(&w[0], 0, HOOK_TCX, "count", "a31", 1, 1);
	snprintf(w[0].t.ifname, sizeof(w[0].t.ifname), "a31");
	w[0].t.ifindex = 7;
	w[0].t.netns_ino = 4026;
	want_init(&w[1], 1, HOOK_XDP, "fw", "a31", 1, 2);
	w[1].t = w[0].t;
	w[1].t.kind = HOOK_XDP;
	have_init(&h[0], "edge", "count/a31", HOOK_TCX, 1, 1);
	have_init(&h[1], "edge", "fw/a31", HOOK_XDP, 1, 2);
	for (int i = 0; i < 2; i++) {
		h[i].rec.netns_ino = 4026;
		h[i].rec.ifindex = 5;
		h[i].live_known = true;
		h[i].live_ifindex = 5;
		h[i].live_netns_ino = i ? 0 : 4026; /* unknown for XDP (NEXT_ID) */
	}
	CHECK_INT(plan_with_ifnames(w, 2, h, 2, &p), 0);
	CHECK_INT(p.changes, 2);
	CHECK_INT(p.actions[0].kind, ACT_REPLACE);
	CHECK_INT(p.actions[0].strategy, STRAT_MAKE_BEFORE_BREAK);
	CHECK_STR(p.actions[0].reason, "drift: interface a31 is now ifindex 7, the link is on "
		  "ifindex 5 (renamed to zz31?)");
	CHECK_INT(p.actions[1].kind, ACT_REPLACE);
	CHECK_INT(p.actions[1].strategy, STRAT_BREAK_BEFORE_MAKE);
	plan_free(&p);

	/* Same index, nothing moved: in sync. */
	h[0].live_ifindex = h[1].live_ifindex = 7;
	CHECK_INT(plan_with_ifnames(w, 2, h, 2, &p), 0);
	CHECK_INT(p.changes, 0);
	plan_free(&p);

	/* The link sits in another namespace than the interface's. */
	h[0].live_netns_ino = 999;
	CHECK_INT(plan_with_ifnames(w, 1, h, 1, &p), 0);
	CHECK_INT(p.actions[0].kind, ACT_REPLACE);
	CHECK(strstr(p.actions[0].reason, "network namespace inode 999") != NULL);
	plan_free(&p);
}

/* A netkit link of the peer side holds the peer device: another ifindex,
 * maybe in another namespace. That is where it belongs, not drift. */
TEST(test_netkit_peer_link_is_on_the_peer)
{
	struct cnf_instance w;
	struct cnf_observed h;
	struct cnf_plan p;

	want_init(&w, 0, HOOK_NETKIT, "nk", "nk0", 1, 1);
	w.t.ifindex = 4;
	w.t.netns_ino = 4026;
	w.t.side = BPF_NETKIT_PEER;
	have_init(&h, "edge", "nk/nk0", HOOK_NETKIT, 1, 1);
	h.rec.netns_ino = 4026;
	h.rec.ifindex = 4;
	h.live_known = true;
	h.live_ifindex = 2;
	h.live_netns_ino = 5000;
	CHECK_INT(plan(&w, 1, &h, 1, false, &p), 0);
	CHECK_INT(p.changes, 0);
	plan_free(&p);
	/* The primary side's link holds the primary: there it is drift. */
	w.t.side = BPF_NETKIT_PRIMARY;
	CHECK_INT(plan(&w, 1, &h, 1, false, &p), 0);
	CHECK_INT(p.actions[0].kind, ACT_REPLACE);
	plan_free(&p);
}

/* A link out of its declared order is attached again where it belongs,
 * beside the old one when it runs a program loaded for it. When it runs
 * the attachment's one running program (shared with an in-sync instance),
 * that program cannot sit on the hook twice: the old link goes first. */
TEST(test_order_drift_replaces)
{
	struct cnf_instance w[2];
	struct cnf_observed h[2];
	struct cnf_plan p;

	want_init(&w[0], 0, HOOK_TCX, "count", "eth0", 1, 1);
	w[0].t.ifindex = 2;
	want_init(&w[1], 0, HOOK_TCX, "count", "eth1", 1, 1);
	w[1].t.ifindex = 3;
	have_init(&h[0], "edge", "count/eth0", HOOK_TCX, 1, 1);
	h[0].rec.ifindex = 2;
	snprintf(h[0].order_drift, sizeof(h[0].order_drift), "not last");
	CHECK_INT(plan(w, 1, h, 1, false, &p), 0);
	CHECK_INT(p.actions[0].kind, ACT_REPLACE);
	CHECK_INT(p.actions[0].strategy, STRAT_MAKE_BEFORE_BREAK);
	CHECK_STR(p.actions[0].reason, "drift: not last");
	plan_free(&p);

	/* eth1 in sync runs program 20, which the replacement shares. */
	have_init(&h[1], "edge", "count/eth1", HOOK_TCX, 1, 1);
	h[1].rec.ifindex = 3;
	CHECK_INT(plan(w, 2, h, 2, false, &p), 0);
	CHECK_INT(p.actions[0].kind, ACT_REPLACE);
	CHECK_INT(p.actions[0].reuse_prog_id, 20);
	CHECK_INT(p.actions[0].strategy, STRAT_BREAK_BEFORE_MAKE);
	plan_free(&p);
}

/* An interface renamed to another name the glob matches: the instance of
 * the old name goes, one of the new name comes, on the same device. The
 * create shares the running program, which the old link runs on that very
 * hook: the delete goes first (break-before-make), listed first. */
TEST(test_renamed_within_glob_deletes_first)
{
	struct cnf_instance w[2];
	struct cnf_observed h[2];
	struct cnf_plan p;

	want_init(&w[0], 0, HOOK_TCX, "count", "p1", 1, 1);
	w[0].t.ifindex = 3;
	want_init(&w[1], 0, HOOK_TCX, "count", "q9", 1, 1);
	w[1].t.ifindex = 5;
	have_init(&h[0], "edge", "count/p1", HOOK_TCX, 1, 1);
	h[0].rec.ifindex = 3;
	have_init(&h[1], "edge", "count/q0", HOOK_TCX, 1, 1);
	h[1].rec.ifindex = 5;
	CHECK_INT(plan(w, 2, h, 2, false, &p), 0);
	CHECK_INT(p.count, 3);
	CHECK_INT(p.actions[0].kind, ACT_DELETE);
	CHECK_STR(p.actions[0].have->key, "count/q0");
	CHECK_INT(p.actions[0].strategy, STRAT_BREAK_BEFORE_MAKE);
	CHECK_INT(p.actions[2].kind, ACT_CREATE);
	CHECK_INT(p.actions[2].reuse_prog_id, 20);
	plan_free(&p);

	/* On another device the create comes in beside: no hurry to delete. */
	h[1].rec.ifindex = 6;
	CHECK_INT(plan(w, 2, h, 2, false, &p), 0);
	CHECK_INT(p.actions[p.count - 1].kind, ACT_DELETE);
	CHECK_INT(p.actions[p.count - 1].strategy, STRAT_NONE);
	plan_free(&p);
}

TEST(test_cgroup_made_again_replaces)
{
	struct cnf_instance w;
	struct cnf_observed h;
	struct cnf_plan p;

	want_init(&w, 0, HOOK_CGROUP, "c", "cgroup", 1, 1);
	w.t.cgroup_id = 42;
	have_init(&h, "edge", "c/cgroup", HOOK_CGROUP, 1, 1);
	h.live_known = true;
	h.live_cgroup_id = 41;
	CHECK_INT(plan(&w, 1, &h, 1, false, &p), 0);
	CHECK_INT(p.actions[0].kind, ACT_REPLACE);
	CHECK(strstr(p.actions[0].reason, "is now id 42, the link is on cgroup id 41") != NULL);
	plan_free(&p);
}

TEST(test_other_namespace_left_alone)
{
	struct cnf_instance w;
	struct cnf_observed h[2];
	struct cnf_plan p;

	/* Recorded in namespace 100; this run is in 200 (no netns:). */
	want_init(&w, 0, HOOK_TCX, "count", "d0", 1, 1);
	w.t.ifindex = 3;
	w.t.netns_ino = 200;
	have_init(&h[0], "edge", "count/d0", HOOK_TCX, 1, 1);
	have_init(&h[1], "edge", "count/d1", HOOK_TCX, 1, 1);
	for (int i = 0; i < 2; i++) {
		h[i].rec.netns_ino = 100;
		h[i].elsewhere = true;
		h[i].self_netns_ino = 200;
	}
	CHECK_INT(plan(&w, 1, h, 2, true, &p), 0);
	CHECK_INT(p.count, 2);
	CHECK_INT(p.changes, 1);
	CHECK_INT(p.actions[0].kind, ACT_NOOP);
	CHECK(p.actions[0].refused);
	CHECK(strstr(p.actions[0].reason, "another namespace's") != NULL);
	/* d1 is not desired here, and never deleted. */
	CHECK_INT(p.actions[1].kind, ACT_NOOP);
	CHECK(p.actions[1].have == &h[1]);
	CHECK_STR(p.actions[1].left_alone, "elsewhere");
	plan_free(&p);

	/* A dead link of the other namespace is made again here. */
	h[0].alive = false;
	CHECK_INT(plan(&w, 1, h, 1, false, &p), 0);
	CHECK_INT(p.actions[0].kind, ACT_CREATE);
	CHECK(!p.actions[0].refused);
	plan_free(&p);
}

TEST(test_foreign_pins)
{
	struct cnf_instance w;
	struct cnf_observed h[3];
	struct cnf_plan p;

	want_init(&w, 0, HOOK_TCX, "count", "d0", 1, 1);
	/* The instance's pin holds another tool's link. */
	have_init(&h[0], "edge", "count/d0", HOOK_TCX, 1, 1);
	h[0].foreign_pin = true;
	h[0].alive = false;
	h[0].link_id = h[0].prog_id = 0;
	snprintf(h[0].foreign_kind, sizeof(h[0].foreign_kind), "link");
	h[0].foreign_link_id = 90;
	h[0].foreign_link_type = BPF_LINK_TYPE_TCX;
	h[0].foreign_prog_id = 91;
	snprintf(h[0].foreign_prog_name, sizeof(h[0].foreign_prog_name), "theirs");
	/* A pin without a record: another tool's, never deleted. */
	h[1] = h[0];
	snprintf(h[1].key, sizeof(h[1].key), "extra/f0");
	h[1].has_record = false;
	memset(&h[1].rec, 0, sizeof(h[1].rec));
	/* A record of the tool's whose pin another tool took. */
	h[2] = h[0];
	snprintf(h[2].key, sizeof(h[2].key), "gone/d0");
	CHECK_INT(plan(&w, 1, h, 3, false, &p), 0);
	CHECK_INT(p.count, 3);
	CHECK_INT(p.actions[0].kind, ACT_CREATE);
	CHECK(p.actions[0].quarantine);
	CHECK_STR(p.actions[0].reason, "foreign pin: it holds tcx link 90 running program 91 "
		  "'theirs', not the recorded link 10; it moves to the quarantine and the "
		  "attachment is made anew");
	CHECK_INT(p.actions[1].kind, ACT_DELETE);
	CHECK(p.actions[1].have == &h[2]);
	CHECK(p.actions[1].quarantine);
	CHECK(strstr(p.actions[1].reason, "nothing is detached") != NULL);
	CHECK_INT(p.actions[2].kind, ACT_NOOP);
	CHECK(p.actions[2].have == &h[1]);
	CHECK_STR(p.actions[2].left_alone, "foreign");
	CHECK_INT(p.changes, 2);
	plan_free(&p);
}

TEST(test_foreign_tc_filter_refused)
{
	struct cnf_instance w;
	struct cnf_observed h;
	struct cnf_plan p;

	want_init(&w, 0, HOOK_TC, "in", "d0", 1, 1);
	have_init(&h, "edge", "in/d0", HOOK_TC, 1, 1);
	h.rec.tc_parent = 1;
	h.rec.tc_priority = 10;
	h.rec.tc_handle = 1;
	h.foreign_filter = true;
	h.foreign_prog_id = 66;
	h.prog_id = 0;
	snprintf(h.foreign_prog_name, sizeof(h.foreign_prog_name), "tc_foreign");
	CHECK_INT(plan(&w, 1, &h, 1, false, &p), 0);
	CHECK_INT(p.changes, 1);
	CHECK_INT(p.actions[0].kind, ACT_NOOP);
	CHECK(p.actions[0].refused);
	CHECK(strstr(p.actions[0].reason, "prio 10 handle 0x1 runs program 66 'tc_foreign'") != NULL);
	CHECK(strstr(p.actions[0].reason, "refuses to replace") != NULL);
	plan_free(&p);
}

TEST(test_program_copies_join)
{
	struct cnf_instance w[4];
	struct cnf_observed h[4];
	struct cnf_plan p;

	/* Three instances run program 77, one runs its own copy 88. */
	for (int i = 0; i < 4; i++) {
		char t[8], k[32];

		snprintf(t, sizeof(t), "d%d", i);
		snprintf(k, sizeof(k), "count/d%d", i);
		want_init(&w[i], 0, HOOK_TCX, "count", t, 1, 1);
		have_init(&h[i], "edge", k, HOOK_TCX, 1, 1);
		h[i].prog_id = h[i].rec.prog_id = i == 2 ? 88 : 77;
	}
	CHECK_INT(plan(w, 4, h, 4, false, &p), 0);
	CHECK_INT(p.changes, 1);
	CHECK_INT(p.actions[2].kind, ACT_UPDATE);
	CHECK_INT(p.actions[2].strategy, STRAT_IN_PLACE);
	CHECK_INT(p.actions[2].reuse_prog_id, 77);
	CHECK_STR(p.actions[2].reason, "one program per attachment program: it runs program id 88, "
		  "a copy of program id 77, which 3 other instances run");
	for (int i = 0; i < 4; i++)
		if (i != 2)
			CHECK_INT(p.actions[i].kind, ACT_NOOP);
	plan_free(&p);

	/* Two and two: the newest (highest id) wins. */
	h[3].prog_id = h[3].rec.prog_id = 88;
	CHECK_INT(plan(w, 4, h, 4, false, &p), 0);
	CHECK_INT(p.changes, 2);
	CHECK_INT(p.actions[0].kind, ACT_UPDATE);
	CHECK_INT(p.actions[0].reuse_prog_id, 88);
	CHECK_INT(p.actions[2].kind, ACT_NOOP);
	plan_free(&p);

	/* A drifted link is repaired onto the running program, not a copy. */
	h[3].prog_id = h[3].rec.prog_id = 77;
	h[2].prog_id = h[2].rec.prog_id = 77;
	h[1].prog_id = 99;
	h[1].prog_replaced = true;
	CHECK_INT(plan(w, 4, h, 4, false, &p), 0);
	CHECK_INT(p.changes, 1);
	CHECK_INT(p.actions[1].kind, ACT_UPDATE);
	CHECK_INT(p.actions[1].reuse_prog_id, 77);
	plan_free(&p);
}

TEST(test_names)
{
	CHECK_STR(action_kind_name(ACT_REPLACE), "replace");
	CHECK_STR(strategy_name(STRAT_IN_PLACE), "in-place");
	CHECK_INT(hook_kind_from_name("tcx"), HOOK_TCX);
	CHECK_INT(hook_kind_from_name("nope"), HOOK_INVALID);
	CHECK_STR(hook_kind_name(HOOK_CGROUP), "cgroup");
}

UNIT_MAIN(test_fresh_creates, test_in_sync_is_noop, test_prog_change_updates_in_place,
	  test_prog_that_does_not_fit_the_link_replaces,
	  test_prog_change_without_link_update_replaces, test_hook_change_replaces,
	  test_hook_kind_change_replaces, test_missing_pin_or_dead_link_recreates,
	  test_detached_link_is_not_a_gone_target, test_delete_reasons,
	  test_drift_prog_replaced_updates, test_pin_without_record_replaces,
	  test_removed_attachment_deletes_in_scope_only, test_pruned_manifest_deletes_only_it,
	  test_prunes_within_source, test_targets, test_single_prog_hook_deleted_before_create,
	  test_anchor_created_first, test_anchor_per_target, test_duplicate_keys_rejected,
	  test_scales_linearly_enough, test_create_shares_running_program,
	  test_create_shares_only_what_fits,
	  test_create_shares_source_outside_plan, test_link_on_another_interface_replaces,
	  test_cgroup_made_again_replaces, test_order_drift_replaces,
	  test_renamed_within_glob_deletes_first,
	  test_netkit_peer_link_is_on_the_peer,
	  test_other_namespace_left_alone, test_foreign_pins,
	  test_foreign_tc_filter_refused, test_program_copies_join, test_names)
