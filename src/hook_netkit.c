// SPDX-License-Identifier: GPL-2.0-only
/* netkit: BPF programs of a netkit pair, attached through its primary
 * device to the primary or the peer side, several per side and ordered
 * like tcx, through bpf_links. */
#include <bpf/bpf.h>

#include "cnf/hooks.h"
#include "cnf/live.h"
#include "cnf/util.h"

static const char *const netkit_side_names[] = { "primary", "peer", NULL };

static const struct hook_key_rule netkit_rules[] = {
	{ AK_SIDE, netkit_side_names, 0, 0 },
	{ AK_ORDER, mprog_order_names, 0, 0 },
	{ AK__COUNT, NULL, 0, 0 },
};

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
	mprog_order_prepare(a, t);
	return 0;
}

static void netkit_describe(const struct cnf_target *t, char *buf, size_t len)
{
	mprog_order_describe(t, t->side == BPF_NETKIT_PEER ? "side=peer" : "side=primary", buf, len);
}

static int netkit_preflight(const struct cnf_instance *w, const struct preflight_ctx *ctx,
			    char *why, size_t whylen)
{
	uint32_t ids[64], n = ARRAY_SIZE(ids);
	int err = mprog_query(w, ids, NULL, &n, NULL);

	switch (err) {
	case 0:
		return mprog_preflight(w, ctx, why, whylen);
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
	int fd = mprog_attach(w, prog_fd, args);

	if (fd >= 0)
		res->note = w->t.side == BPF_NETKIT_PEER ? "peer" : "primary";
	return fd;
}

static int netkit_update(const struct cnf_instance *w, const struct cnf_record *rec, int pin_fd,
			 int prog_fd, uint32_t old_prog_id, const struct attach_args *args,
			 struct attach_result *res)
{
	return link_update_common(pin_fd, prog_fd, old_prog_id);
}

static const char *netkit_probed(const struct probe_result *p)
{
	return p->netkit ? "link" : NULL;
}

const struct hook_ops hook_netkit_ops = {
	.kind = HOOK_NETKIT,
	.name = "netkit",
	.probed = netkit_probed,
	.keys = {
		.keys = AK_BIT(AK_PROGRAM) | AK_NETDEV | AK_BIT(AK_SIDE) | AK_ORDERING,
		.required = AK_BIT(AK_PROGRAM),
		.rules = netkit_rules,
	},
	.caps = { .link_update = true, .multi_prog = true, .shared_prog = true, .mprog = true },
	.link_type = BPF_LINK_TYPE_NETKIT,
	.network = true,
	.prepare = netkit_prepare,
	.describe = netkit_describe,
	.slot = mprog_slot,
	.preflight = netkit_preflight,
	.attach = netkit_attach,
	.update = netkit_update,
	.restore = mprog_restore,
	.detach = hook_link_detach,
	.foreign = mprog_foreign,
};
