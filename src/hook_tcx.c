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
	mprog_order_prepare(a, t);
	return 0;
}

static void tcx_describe(const struct cnf_target *t, char *buf, size_t len)
{
	mprog_order_describe(t, t->dir == TC_DIR_EGRESS ? "dir=egress" : "dir=ingress", buf, len);
}

static int tcx_attach(const struct cnf_instance *w, int prog_fd, const struct attach_args *args,
		      struct attach_result *res)
{
	return mprog_attach(w, prog_fd, args);
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

const struct hook_ops hook_tcx_ops = {
	.kind = HOOK_TCX,
	.caps = { .link_update = true, .multi_prog = true, .shared_prog = true },
	.network = true,
	.prepare = tcx_prepare,
	.describe = tcx_describe,
	.slot = mprog_slot,
	.preflight = mprog_preflight,
	.attach = tcx_attach,
	.update = tcx_update,
	.detach = tcx_detach,
	.foreign = mprog_foreign,
};
