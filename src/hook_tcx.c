// SPDX-License-Identifier: GPL-2.0-only
/* tcx: several programs per interface and direction, ordered, attached
 * through bpf_links. Without tcx in the kernel, tc (clsact + cls_bpf)
 * stands in; the planner sees that in the hook description. */
#include <bpf/bpf.h>

#include "cnf/hooks.h"
#include "cnf/util.h"

static int tcx_prepare(const struct cnf_attachment *a, struct bpf_program *prog,
		       struct cnf_target *t, char *why, size_t whylen)
{
	if (bpf_program__type(prog) != BPF_PROG_TYPE_SCHED_CLS) {
		snprintf(why, whylen, "program '%s' is of type %s, hook %s needs sched_cls (SEC(\"tc\") or SEC(\"tcx/...\"))",
			 bpf_program__name(prog), libbpf_bpf_prog_type_str(bpf_program__type(prog)),
			 a->hook);
		return -EINVAL;
	}
	t->dir = a->direction && streq(a->direction, "egress") ? TC_DIR_EGRESS : TC_DIR_INGRESS;
	t->attach_type = t->dir == TC_DIR_EGRESS ? BPF_TCX_EGRESS : BPF_TCX_INGRESS;
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

static void tcx_describe(const struct cnf_target *t, char *buf, size_t len)
{
	const char *dir = t->dir == TC_DIR_EGRESS ? "egress" : "ingress";

	switch (t->order) {
	case ORDER_NONE:
		snprintf(buf, len, "dir=%s", dir);
		break;
	case ORDER_FIRST:
		snprintf(buf, len, "dir=%s order=first", dir);
		break;
	case ORDER_LAST:
		snprintf(buf, len, "dir=%s order=last", dir);
		break;
	case ORDER_BEFORE:
	case ORDER_AFTER:
		snprintf(buf, len, "dir=%s %s=%s", dir, t->order == ORDER_BEFORE ? "before" : "after",
			 t->anchor);
		break;
	}
}

static int tcx_attach(const struct cnf_instance *w, int prog_fd, const struct attach_args *args,
		      struct attach_result *res)
{
	LIBBPF_OPTS(bpf_prog_query_opts, q);
	LIBBPF_OPTS(bpf_link_create_opts, o);
	uint32_t link_ids[64], prog_ids[64];
	int fd;

	/* Read the hook's revision; the attach fails with ESTALE if anything
	 * changes the hook between this read and the attach. */
	q.prog_ids = prog_ids;
	q.link_ids = link_ids;
	q.count = ARRAY_SIZE(prog_ids);
	if (bpf_prog_query_opts(w->t.ifindex, w->t.attach_type, &q) < 0)
		return -errno;
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

		for (__u32 i = 0; i < q.count && i < ARRAY_SIZE(link_ids); i++)
			present |= link_ids[i] == args->anchor_link_id;
		if (!args->anchor_link_id || !present)
			return -ENOENT;
		o.flags = (w->t.order == ORDER_BEFORE ? BPF_F_BEFORE : BPF_F_AFTER) | BPF_F_LINK;
		o.tcx.relative_id = args->anchor_link_id;
		break;
	}
	}
	o.tcx.expected_revision = q.revision;
	fd = bpf_link_create(prog_fd, w->t.ifindex, w->t.attach_type, &o);
	if (fd < 0)
		return -errno;
	return fd;
}

static int tcx_update(const struct cnf_instance *w, const struct cnf_record *rec, int pin_fd,
		      int prog_fd, uint32_t old_prog_id,
		      const struct attach_args *args, struct attach_result *res)
{
	return link_update_common(pin_fd, prog_fd, old_prog_id);
}

static int tcx_detach(const struct cnf_record *rec, int pin_fd)
{
	return pin_fd >= 0 ? link_detach_common(pin_fd) : 0;
}

static int tcx_foreign(const struct cnf_instance *w, const uint32_t *own, size_t n_own,
		       struct foreign_prog **ret, size_t *ret_count)
{
	LIBBPF_OPTS(bpf_prog_query_opts, q);
	uint32_t link_ids[256], prog_ids[256];

	q.prog_ids = prog_ids;
	q.link_ids = link_ids;
	q.count = ARRAY_SIZE(prog_ids);
	if (bpf_prog_query_opts(w->t.ifindex, w->t.attach_type, &q) < 0)
		return -errno;
	for (__u32 i = 0; i < q.count && i < ARRAY_SIZE(prog_ids); i++)
		if (!own_has(own, n_own, prog_ids[i]))
			foreign_add(ret, ret_count, prog_ids[i], link_ids[i]);
	return 0;
}

const struct hook_ops hook_tcx_ops = {
	.kind = HOOK_TCX,
	.caps = { .link_update = true, .multi_prog = true },
	.network = true,
	.prepare = tcx_prepare,
	.describe = tcx_describe,
	.attach = tcx_attach,
	.update = tcx_update,
	.detach = tcx_detach,
	.foreign = tcx_foreign,
};
