// SPDX-License-Identifier: GPL-2.0-only
/* flow_dissector: the flow dissector program of a network namespace
 * (`netns`, or the tool's own): one per namespace, through a netns link,
 * which can swap its program in place. */
#include <bpf/bpf.h>

#include "cnf/hooks.h"
#include "cnf/live.h"
#include "cnf/util.h"

static int fd_prepare(const struct cnf_attachment *a, struct bpf_program *prog,
		      struct cnf_target *t, char *why, size_t whylen)
{
	t->attach_type = BPF_FLOW_DISSECTOR;
	return hook_check_prog_type(a, prog, BPF_PROG_TYPE_FLOW_DISSECTOR,
				    "flow_dissector (SEC(\"flow_dissector\"))", why, whylen);
}

static int fd_resolve(const struct cnf_attachment *a, struct bpf_program *prog,
		      struct cnf_target *t, char *text, size_t textlen, char *why, size_t whylen)
{
	return hook_netns_target(a, t, text, textlen, why, whylen);
}

static void fd_describe(const struct cnf_target *t, char *buf, size_t len)
{
	snprintf(buf, len, "netns=%s", t->path);
}

static enum hook_slot_kind fd_slot(const struct cnf_target *t, char *buf, size_t len)
{
	snprintf(buf, len, "flow_dissector netns=%llu", (unsigned long long)t->netns_ino);
	return t->netns_ino ? HOOK_SLOT_ONE : HOOK_SLOT_NONE;
}

static int fd_preflight(const struct cnf_instance *w, const struct preflight_ctx *ctx,
			char *why, size_t whylen)
{
	LIBBPF_OPTS(bpf_prog_query_opts, q);
	uint32_t ids[8];
	char hook[CNF_DESC_MAX + 64];
	_cleanup_close_ int ns = hook_netns_fd();

	if (ns < 0) {
		snprintf(why, whylen, "cannot open network namespace %s: %s", w->target_text,
			 strerror(-ns));
		return ns;
	}
	q.prog_ids = ids;
	q.count = ARRAY_SIZE(ids);
	if (bpf_prog_query_opts(ns, BPF_FLOW_DISSECTOR, &q) < 0) {
		snprintf(why, whylen, "cannot query the flow dissector of %s: %s", w->target_text,
			 strerror(errno));
		return -errno;
	}
	snprintf(hook, sizeof(hook), "the flow dissector of network namespace %s", w->target_text);
	return preflight_exclusive(w, ctx, ids, q.count < ARRAY_SIZE(ids) ? q.count : ARRAY_SIZE(ids),
				   hook, why, whylen);
}

static int fd_attach(const struct cnf_instance *w, int prog_fd, const struct attach_args *args,
		     struct attach_result *res)
{
	_cleanup_close_ int ns = hook_netns_fd();
	int fd;

	if (ns < 0)
		return ns;
	fd = bpf_link_create(prog_fd, ns, BPF_FLOW_DISSECTOR, NULL);
	return fd < 0 ? -errno : fd;
}

static int fd_update(const struct cnf_instance *w, const struct cnf_record *rec, int pin_fd,
		     int prog_fd, uint32_t old_prog_id, const struct attach_args *args,
		     struct attach_result *res)
{
	return link_update_common(pin_fd, prog_fd, old_prog_id);
}

static int fd_foreign(const struct cnf_instance *w, const uint32_t *own, size_t n_own,
		      struct foreign_prog **ret, size_t *ret_count)
{
	return hook_netns_foreign(BPF_FLOW_DISSECTOR, own, n_own, ret, ret_count);
}

static const char *flow_dissector_probed(const struct probe_result *p)
{
	return p->flow_dissector && p->link_create ? "link" : NULL;
}

const struct hook_ops hook_flow_dissector_ops = {
	.kind = HOOK_FLOW_DISSECTOR,
	.name = "flow_dissector",
	.probed = flow_dissector_probed,
	.keys = {
		.keys = AK_BIT(AK_PROGRAM) | AK_BIT(AK_NETNS),
		.required = AK_BIT(AK_PROGRAM),
	},
	.caps = { .link_update = true, .multi_prog = false, .shared_prog = true },
	.link_type = BPF_LINK_TYPE_NETNS,
	.netns_wide = true,
	.prepare = fd_prepare,
	.resolve = fd_resolve,
	.describe = fd_describe,
	.slot = fd_slot,
	.preflight = fd_preflight,
	.attach = fd_attach,
	.update = fd_update,
	.detach = hook_link_detach,
	.foreign = fd_foreign,
};
