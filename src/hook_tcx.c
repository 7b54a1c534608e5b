// SPDX-License-Identifier: GPL-2.0-only
/* tcx: several programs per interface and direction, ordered, attached
 * through bpf_links. Without tcx in the kernel, tc (clsact + cls_bpf)
 * stands in; the planner sees that in the hook description. */
#include <bpf/bpf.h>

#include "cnf/hooks.h"
#include "cnf/live.h"
#include "cnf/util.h"

static const struct hook_key_rule tcx_rules[] = {
	{ AK_DIRECTION, tc_direction_names, 0, 0 },
	{ AK_ORDER, mprog_order_names, 0, 0 },
	{ AK__COUNT, NULL, 0, 0 },
};

static const char *tcx_via(const struct cnf_target *t, const struct cnf_record *rec)
{
	if (t)
		return t->tc_fallback ? "tc" : "tcx";
	return rec->tc_parent ? "tc" : "tcx";
}

/* Without tcx in the kernel, legacy tc stands in (hook_tc.c handles the
 * instance: ops_for_target()). */
static void tcx_adapt(struct cnf_target *t)
{
	if (probe_tcx())
		return;
	t->tc_fallback = true;
	t->tc_handle = 1;
	t->tc_priority = 0;
}

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

static const char *tcx_probed(const struct probe_result *p)
{
	return p->tcx ? "tcx" : p->tc_legacy ? "tc-fallback" : NULL;
}

const struct hook_ops hook_tcx_ops = {
	.kind = HOOK_TCX,
	.name = "tcx",
	.probed = tcx_probed,
	.via = tcx_via,
	.adapt = tcx_adapt,
	.keys = {
		.keys = AK_BIT(AK_PROGRAM) | AK_NETDEV | AK_BIT(AK_DIRECTION) | AK_ORDERING,
		.required = AK_BIT(AK_PROGRAM) | AK_BIT(AK_DIRECTION),
		.rules = tcx_rules,
	},
	.caps = { .link_update = true, .multi_prog = true, .shared_prog = true, .ordered = true,
		  .mprog = true },
	.link_type = BPF_LINK_TYPE_TCX,
	.network = true,
	.prepare = tcx_prepare,
	.describe = tcx_describe,
	.slot = mprog_slot,
	.preflight = mprog_preflight,
	.attach = tcx_attach,
	.update = tcx_update,
	.restore = mprog_restore,
	.detach = tcx_detach,
	.foreign = mprog_foreign,
};
