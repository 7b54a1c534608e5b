// SPDX-License-Identifier: GPL-2.0-only
/* netfilter: a BPF program as a netfilter hook function (family, hook,
 * priority) of the tool's network namespace, through a netfilter link.
 * The link cannot swap its program, and the kernel refuses two BPF
 * programs at the same family, hook and priority (EBUSY): a new version
 * replaces the old one break-before-make. */
#include <linux/netfilter.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>

#include "cnf/hooks.h"
#include "cnf/live.h"
#include "cnf/util.h"

static const char *const nf_hook_names[] = {
	[NF_INET_PRE_ROUTING] = "pre_routing",
	[NF_INET_LOCAL_IN] = "local_in",
	[NF_INET_FORWARD] = "forward",
	[NF_INET_LOCAL_OUT] = "local_out",
	[NF_INET_POST_ROUTING] = "post_routing",
	[NF_INET_NUMHOOKS] = NULL,
};

static const char *const nf_family_names[] = { "ipv4", "ipv6", NULL };

static const struct hook_key_rule nf_rules[] = {
	{ AK_FAMILY, nf_family_names, 0, 0 },
	{ AK_NETFILTER_HOOK, nf_hook_names, 0, 0 },
	{ AK_PRIORITY, NULL, INT32_MIN + 1LL, INT32_MAX - 1LL },
	{ AK__COUNT, NULL, 0, 0 },
};

static int nf_prepare(const struct cnf_attachment *a, struct bpf_program *prog,
		      struct cnf_target *t, char *why, size_t whylen)
{
	int err = hook_check_prog_type(a, prog, BPF_PROG_TYPE_NETFILTER,
				       "netfilter (SEC(\"netfilter\"))", why, whylen);

	if (err < 0)
		return err;
	/* The manifest loader checked the names and the priority's range. */
	t->nf_family = a->family && streq(a->family, "ipv6") ? NFPROTO_IPV6 : NFPROTO_IPV4;
	t->nf_hooknum = NF_INET_LOCAL_IN;
	for (uint32_t i = 0; nf_hook_names[i]; i++)
		if (a->netfilter_hook && streq(a->netfilter_hook, nf_hook_names[i]))
			t->nf_hooknum = i;
	t->nf_priority = a->priority ? (int32_t)*a->priority : 0;
	t->attach_type = BPF_NETFILTER;
	return 0;
}

static int nf_resolve(const struct cnf_attachment *a, struct bpf_program *prog,
		      struct cnf_target *t, char *text, size_t textlen, char *why, size_t whylen)
{
	snprintf(text, textlen, "%s:%s:%d", t->nf_family == NFPROTO_IPV6 ? "ipv6" : "ipv4",
		 nf_hook_names[t->nf_hooknum], t->nf_priority);
	/* A fact of the kernel's BTF, not a test load: a run that changes
	 * nothing loads no program. */
	if (hook_kernel_has(BTF_KIND_FUNC, "bpf_nf_link_attach") == 0) {
		snprintf(why, whylen, "this kernel has no netfilter BPF programs (Linux 6.4+, "
			 "CONFIG_NETFILTER_BPF_LINK)");
		return -EOPNOTSUPP;
	}
	return 0;
}

static void nf_describe(const struct cnf_target *t, char *buf, size_t len)
{
	snprintf(buf, len, "family=%s hook=%s priority=%d flags=0x%x",
		 t->nf_family == NFPROTO_IPV6 ? "ipv6" : "ipv4", nf_hook_names[t->nf_hooknum],
		 t->nf_priority, t->nf_flags);
}

/* The kernel holds one BPF program per family, hook and priority of a
 * namespace. Only the desired instances are compared: netfilter links do
 * not say their namespace, so a live one at the same place may belong to
 * another namespace, where it is no conflict. */
static enum hook_slot_kind nf_slot(const struct cnf_target *t, char *buf, size_t len)
{
	snprintf(buf, len, "netfilter family=%s hook=%s priority=%d",
		 t->nf_family == NFPROTO_IPV6 ? "ipv6" : "ipv4", nf_hook_names[t->nf_hooknum],
		 t->nf_priority);
	return HOOK_SLOT_ONE;
}

static int nf_attach(const struct cnf_instance *w, int prog_fd, const struct attach_args *args,
		     struct attach_result *res)
{
	LIBBPF_OPTS(bpf_link_create_opts, o);
	int fd;

	o.netfilter.pf = w->t.nf_family;
	o.netfilter.hooknum = w->t.nf_hooknum;
	o.netfilter.priority = w->t.nf_priority;
	o.netfilter.flags = w->t.nf_flags;
	fd = bpf_link_create(prog_fd, 0, BPF_NETFILTER, &o);
	return fd < 0 ? -errno : fd;
}

/* Netfilter links say their family, hook and priority, but not their
 * network namespace: BPF programs at the same family and hook of other
 * namespaces are listed too. */
static bool nf_match(const struct bpf_link_info *info, const char *name, const void *ctx)
{
	const struct cnf_target *t = ctx;

	return info->netfilter.pf == t->nf_family && info->netfilter.hooknum == t->nf_hooknum;
}

static int nf_foreign(const struct cnf_instance *w, const uint32_t *own, size_t n_own,
		      struct foreign_prog **ret, size_t *ret_count)
{
	return hook_links_foreign(BPF_LINK_TYPE_NETFILTER, nf_match, &w->t, own, n_own, ret,
				  ret_count);
}

static const char *netfilter_probed(const struct probe_result *p)
{
	return p->netfilter_link ? "link" : NULL;
}

const struct hook_ops hook_netfilter_ops = {
	.kind = HOOK_NETFILTER,
	.name = "netfilter",
	.probed = netfilter_probed,
	.keys = {
		.keys = AK_BIT(AK_PROGRAM) | AK_BIT(AK_FAMILY) | AK_BIT(AK_NETFILTER_HOOK) | AK_BIT(AK_PRIORITY),
		.required = AK_BIT(AK_PROGRAM) | AK_BIT(AK_FAMILY) | AK_BIT(AK_NETFILTER_HOOK) | AK_BIT(AK_PRIORITY),
		.rules = nf_rules,
	},
	.caps = { .link_update = false, .multi_prog = false, .shared_prog = true },
	.prepare = nf_prepare,
	.resolve = nf_resolve,
	.describe = nf_describe,
	.slot = nf_slot,
	.attach = nf_attach,
	.detach = hook_link_detach,
	.foreign = nf_foreign,
};
