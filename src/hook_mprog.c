// SPDX-License-Identifier: GPL-2.0-only
/* What tcx and netkit share: both are hooks of the kernel's
 * multi-program API (several programs per hook, in an order set at
 * attach time relative to the first, the last or another link, and a
 * revision that changes with every attach and detach). */
#include <bpf/bpf.h>

#include "cnf/hooks.h"
#include "cnf/util.h"

const char *const mprog_order_names[] = { "first", "last", NULL };

void mprog_order_prepare(const struct cnf_attachment *a, struct cnf_target *t)
{
	t->order = ORDER_NONE;
	if (a->order) {
		t->order = streq(a->order, "first") ? ORDER_FIRST : ORDER_LAST;
	} else if (a->before) {
		t->order = ORDER_BEFORE;
		t->anchor = a->before;
	} else if (a->after) {
		t->order = ORDER_AFTER;
		t->anchor = a->after;
	}
}

void mprog_order_describe(const struct cnf_target *t, const char *where, char *buf, size_t len)
{
	switch (t->order) {
	case ORDER_NONE:
		snprintf(buf, len, "%s", where);
		break;
	case ORDER_FIRST:
	case ORDER_LAST:
		snprintf(buf, len, "%s order=%s", where, t->order == ORDER_FIRST ? "first" : "last");
		break;
	case ORDER_BEFORE:
	case ORDER_AFTER:
		snprintf(buf, len, "%s %s=%s", where, t->order == ORDER_BEFORE ? "before" : "after",
			 t->anchor);
		break;
	}
}

int mprog_query(const struct cnf_instance *w, uint32_t *prog_ids, uint32_t *link_ids,
		uint32_t *count, uint64_t *revision)
{
	LIBBPF_OPTS(bpf_prog_query_opts, q);

	q.prog_ids = prog_ids;
	q.link_ids = link_ids;
	q.count = *count;
	if (bpf_prog_query_opts(w->t.ifindex, w->t.attach_type, &q) < 0)
		return -errno;
	*count = q.count < *count ? q.count : *count;
	if (revision)
		*revision = q.revision;
	return 0;
}

int mprog_attach(const struct cnf_instance *w, int prog_fd, const struct attach_args *args)
{
	LIBBPF_OPTS(bpf_link_create_opts, o);
	uint32_t link_ids[64], prog_ids[64], n = ARRAY_SIZE(prog_ids), relative_id = 0;
	uint64_t revision;
	int fd, err;

	/* The hook's revision, read here, makes the attach fail with ESTALE
	 * if anything changes the hook in between. */
	err = mprog_query(w, prog_ids, link_ids, &n, &revision);
	if (err < 0)
		return err;
	{
		char point[128];

		snprintf(point, sizeof(point), "attach=%s", w->att->name);
		test_pause(point);
	}
	/* The plan read the hook's order at a revision: if the hook changed
	 * since (other than by this run), what the plan decided may not hold. */
	if (args->expected_revision && revision != args->expected_revision)
		return -ESTALE;
	switch (w->t.order) {
	case ORDER_NONE:
		/* Appended, unless that would push the program the run wants
		 * last out of its place: then just before it. */
		for (uint32_t i = 0; i < n && args->last_link_id; i++)
			if (link_ids[i] == args->last_link_id) {
				o.flags = BPF_F_BEFORE | BPF_F_LINK;
				relative_id = args->last_link_id;
			}
		break;
	case ORDER_FIRST:
		o.flags = BPF_F_BEFORE;
		break;
	case ORDER_LAST:
		o.flags = BPF_F_AFTER;
		break;
	case ORDER_BEFORE:
	case ORDER_AFTER: {
		bool present = false;

		for (uint32_t i = 0; i < n; i++)
			present |= link_ids[i] == args->anchor_link_id;
		if (!args->anchor_link_id || !present)
			return -ENOENT;
		o.flags = (w->t.order == ORDER_BEFORE ? BPF_F_BEFORE : BPF_F_AFTER) | BPF_F_LINK;
		relative_id = args->anchor_link_id;
		break;
	}
	}
	if (w->t.kind == HOOK_NETKIT) {
		o.netkit.relative_id = relative_id;
		o.netkit.expected_revision = revision;
	} else {
		o.tcx.relative_id = relative_id;
		o.tcx.expected_revision = revision;
	}
	fd = bpf_link_create(prog_fd, w->t.ifindex, w->t.attach_type, &o);
	return fd < 0 ? -errno : fd;
}

int mprog_restore(const struct cnf_record *rec, int prog_fd)
{
	int fd = bpf_link_create(prog_fd, rec->ifindex, rec->attach_type, NULL);

	return fd < 0 ? -errno : fd;
}

int mprog_foreign(const struct cnf_instance *w, const uint32_t *own, size_t n_own,
		  struct foreign_prog **ret, size_t *ret_count)
{
	uint32_t link_ids[256], prog_ids[256], n = ARRAY_SIZE(prog_ids);
	int err = mprog_query(w, prog_ids, link_ids, &n, NULL);

	if (err < 0)
		return err;
	for (uint32_t i = 0; i < n; i++)
		if (!own_has(own, n_own, prog_ids[i]))
			foreign_add(ret, ret_count, prog_ids[i], link_ids[i]);
	return 0;
}

const char *mprog_where(const struct cnf_target *t)
{
	if (t->kind == HOOK_NETKIT)
		return t->side == BPF_NETKIT_PEER ? "(side peer)" : "(side primary)";
	return t->dir == TC_DIR_EGRESS ? "egress" : "ingress";
}

enum hook_slot_kind mprog_slot(const struct cnf_target *t, char *buf, size_t len)
{
	char where[CNF_DESC_MAX];

	hook_net_where(t, where, sizeof(where));
	snprintf(buf, len, "%s %s", libbpf_bpf_attach_type_str(t->attach_type) ?: "?", where);
	return HOOK_SLOT_MANY;
}

int mprog_preflight(const struct cnf_instance *w, const struct preflight_ctx *ctx, char *why,
		    size_t whylen)
{
	const char *claim = w->t.order == ORDER_FIRST ? " order=first" : " order=last";
	uint32_t ids[64], n = ARRAY_SIZE(ids);
	int err;

	if (w->t.order != ORDER_FIRST && w->t.order != ORDER_LAST)
		return 0;
	err = mprog_query(w, ids, NULL, &n, NULL);
	if (err < 0) {
		snprintf(why, whylen, "cannot query the programs on %s: %s", w->target_text,
			 strerror(-err));
		return err;
	}
	/* Another manifest's link that claims the same end of the hook:
	 * each apply would take the place from the other, for ever. */
	for (uint32_t i = 0; i < n; i++) {
		size_t k;
		const struct hook_holder *hs = preflight_holders(ctx, ids[i], &k);

		for (size_t j = 0; j < k; j++) {
			const struct hook_holder *h = &hs[j];
			char who[320];

			/* Desired instances were compared already (plan_conflicts). */
			if (h->want || h->leaving || !h->have || !h->have->has_record ||
			    !preflight_on_hook(h, w) || !strstr(h->have->rec.hook_desc, claim))
				continue;
			preflight_describe_holder(h, ids[i], who, sizeof(who));
			snprintf(why, whylen, "hook %s of %s has one %s place (order: %s), and %s "
				 "already claims it", libbpf_bpf_attach_type_str(w->t.attach_type) ?: "?",
				 w->target_text, claim + 7, claim + 7, who);
			return -EBUSY;
		}
	}
	return 0;
}
