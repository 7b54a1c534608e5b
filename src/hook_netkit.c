// SPDX-License-Identifier: GPL-2.0-only
/* netkit: BPF programs of a netkit pair, attached through its primary
 * device to the primary or the peer side, several per side and ordered
 * like tcx, through bpf_links. */
#include <bpf/bpf.h>

#include "cnf/hooks.h"
#include "cnf/live.h"
#include "cnf/util.h"

static int netkit_prepare(const struct cnf_attachment *a, struct bpf_program *prog,
			  struct cnf_target *t, char *why, size_t whylen)
{
	int err = hook_check_prog_type(a, prog, BPF_PROG_TYPE_SCHED_CLS,
				       "sched_cls (SEC(\"netkit/primary\"), SEC(\"netkit/peer\") or SEC(\"tc\"))",
				       why, whylen);

	if (err < 0)
		return err;
	if (probe_netkit_support() == 0) {
		snprintf(why, whylen, "this kernel has no netkit devices (CONFIG_NETKIT, Linux 6.7+): "
			 "netkit attachments cannot be made here");
		return -EOPNOTSUPP;
	}
	t->side = a->side && streq(a->side, "peer") ? BPF_NETKIT_PEER : BPF_NETKIT_PRIMARY;
	t->attach_type = t->side;
	t->order = ORDER_NONE;
	if (a->order)
		t->order = streq(a->order, "first") ? ORDER_FIRST : ORDER_LAST;
	else if (a->before) {
		t->order = ORDER_BEFORE;
		t->anchor = a->before;
	} else if (a->after) {
		t->order = ORDER_AFTER;
		t->anchor = a->after;
	}
	return 0;
}

static void netkit_describe(const struct cnf_target *t, char *buf, size_t len)
{
	const char *side = t->side == BPF_NETKIT_PEER ? "peer" : "primary";

	switch (t->order) {
	case ORDER_NONE:
		snprintf(buf, len, "side=%s", side);
		break;
	case ORDER_FIRST:
	case ORDER_LAST:
		snprintf(buf, len, "side=%s order=%s", side, t->order == ORDER_FIRST ? "first" : "last");
		break;
	case ORDER_BEFORE:
	case ORDER_AFTER:
		snprintf(buf, len, "side=%s %s=%s", side, t->order == ORDER_BEFORE ? "before" : "after",
			 t->anchor);
		break;
	}
}

static int netkit_query(const struct cnf_instance *w, uint32_t *prog_ids, uint32_t *link_ids,
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

static int netkit_preflight(const struct cnf_instance *w, const uint32_t *own, size_t n_own,
			    char *why, size_t whylen)
{
	uint32_t ids[64], n = ARRAY_SIZE(ids);
	int err = netkit_query(w, ids, NULL, &n, NULL);

	switch (err) {
	case 0:
		return 0;
	case -ENXIO:
		snprintf(why, whylen, "interface %s is not a netkit device", w->target_text);
		return -EINVAL;
	case -EACCES:
		snprintf(why, whylen, "interface %s is the peer of a netkit pair: name its primary "
			 "device and set 'side: peer'", w->target_text);
		return -EINVAL;
	case -ENODEV:
		snprintf(why, whylen, "netkit device %s has no peer", w->target_text);
		return -EINVAL;
	default:
		snprintf(why, whylen, "cannot query netkit programs on %s: %s", w->target_text,
			 strerror(-err));
		return err;
	}
}

static int netkit_attach(const struct cnf_instance *w, int prog_fd, const struct attach_args *args,
			 struct attach_result *res)
{
	LIBBPF_OPTS(bpf_link_create_opts, o);
	uint32_t link_ids[64], prog_ids[64], n = ARRAY_SIZE(prog_ids);
	uint64_t revision;
	int fd, err;

	/* As tcx: the revision read here makes the attach fail with ESTALE
	 * if the hook changes in between. */
	err = netkit_query(w, prog_ids, link_ids, &n, &revision);
	if (err < 0)
		return err;
	switch (w->t.order) {
	case ORDER_NONE:
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
		o.netkit.relative_id = args->anchor_link_id;
		break;
	}
	}
	o.netkit.expected_revision = revision;
	fd = bpf_link_create(prog_fd, w->t.ifindex, w->t.attach_type, &o);
	if (fd < 0)
		return -errno;
	res->note = w->t.side == BPF_NETKIT_PEER ? "peer" : "primary";
	return fd;
}

static int netkit_update(const struct cnf_instance *w, const struct cnf_record *rec, int pin_fd,
			 int prog_fd, uint32_t old_prog_id, const struct attach_args *args,
			 struct attach_result *res)
{
	return link_update_common(pin_fd, prog_fd, old_prog_id);
}

static int netkit_foreign(const struct cnf_instance *w, const uint32_t *own, size_t n_own,
			  struct foreign_prog **ret, size_t *ret_count)
{
	uint32_t link_ids[256], prog_ids[256], n = ARRAY_SIZE(prog_ids);
	int err = netkit_query(w, prog_ids, link_ids, &n, NULL);

	if (err < 0)
		return err;
	for (uint32_t i = 0; i < n; i++)
		if (!own_has(own, n_own, prog_ids[i]))
			foreign_add(ret, ret_count, prog_ids[i], link_ids[i]);
	return 0;
}

const struct hook_ops hook_netkit_ops = {
	.kind = HOOK_NETKIT,
	.caps = { .link_update = true, .multi_prog = true },
	.network = true,
	.prepare = netkit_prepare,
	.describe = netkit_describe,
	.preflight = netkit_preflight,
	.attach = netkit_attach,
	.update = netkit_update,
	.detach = hook_link_detach,
	.foreign = netkit_foreign,
};
