// SPDX-License-Identifier: GPL-2.0-only
/* sk_lookup: socket lookup programs of a network namespace (`netns`, or
 * the tool's own), several per namespace, through netns links, which can
 * swap their program in place. */
#include <bpf/bpf.h>

#include "cnf/hooks.h"
#include "cnf/live.h"
#include "cnf/util.h"

static int skl_prepare(const struct cnf_attachment *a, struct bpf_program *prog,
		       struct cnf_target *t, char *why, size_t whylen)
{
	t->attach_type = BPF_SK_LOOKUP;
	return hook_check_prog_type(a, prog, BPF_PROG_TYPE_SK_LOOKUP, "sk_lookup (SEC(\"sk_lookup\"))",
				    why, whylen);
}

static int skl_resolve(const struct cnf_attachment *a, struct bpf_program *prog,
		       struct cnf_target *t, char *text, size_t textlen, char *why, size_t whylen)
{
	return hook_netns_target(a, t, text, textlen, why, whylen);
}

static void skl_describe(const struct cnf_target *t, char *buf, size_t len)
{
	snprintf(buf, len, "netns=%s", t->path);
}

static int skl_attach(const struct cnf_instance *w, int prog_fd, const struct attach_args *args,
		      struct attach_result *res)
{
	_cleanup_close_ int ns = hook_netns_fd();
	int fd;

	if (ns < 0)
		return ns;
	fd = bpf_link_create(prog_fd, ns, BPF_SK_LOOKUP, NULL);
	return fd < 0 ? -errno : fd;
}

static int skl_update(const struct cnf_instance *w, const struct cnf_record *rec, int pin_fd,
		      int prog_fd, uint32_t old_prog_id, const struct attach_args *args,
		      struct attach_result *res)
{
	return link_update_common(pin_fd, prog_fd, old_prog_id);
}

static int skl_foreign(const struct cnf_instance *w, const uint32_t *own, size_t n_own,
		       struct foreign_prog **ret, size_t *ret_count)
{
	return hook_netns_foreign(BPF_SK_LOOKUP, own, n_own, ret, ret_count);
}

static const char *sk_lookup_probed(const struct probe_result *p)
{
	return p->sk_lookup && p->link_create ? "link" : NULL;
}

/* No slot: a namespace runs its sk_lookup programs in order, the same
 * program as often as it is attached (the kernel allows it). */
const struct hook_ops hook_sk_lookup_ops = {
	.kind = HOOK_SK_LOOKUP,
	.name = "sk_lookup",
	.probed = sk_lookup_probed,
	.keys = {
		.keys = AK_BIT(AK_PROGRAM) | AK_BIT(AK_NETNS),
		.required = AK_BIT(AK_PROGRAM),
	},
	.caps = { .link_update = true, .multi_prog = true, .shared_prog = true },
	.link_type = BPF_LINK_TYPE_NETNS,
	.netns_wide = true,
	.prepare = skl_prepare,
	.resolve = skl_resolve,
	.describe = skl_describe,
	.attach = skl_attach,
	.update = skl_update,
	.detach = hook_link_detach,
	.foreign = skl_foreign,
};
