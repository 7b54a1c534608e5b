// SPDX-License-Identifier: GPL-2.0-only
/* The hook table and what link-based hooks share. */
#include <bpf/bpf.h>

#include "cnf/hooks.h"
#include "cnf/util.h"

static const struct hook_ops *const table[HOOK__COUNT] = {
	[HOOK_XDP] = &hook_xdp_ops,
	[HOOK_TCX] = &hook_tcx_ops,
	[HOOK_TC] = &hook_tc_ops,
	[HOOK_CGROUP] = &hook_cgroup_ops,
	[HOOK_NETKIT] = &hook_netkit_ops,
	[HOOK_TRACEPOINT] = &hook_tracepoint_ops,
	[HOOK_RAW_TRACEPOINT] = &hook_raw_tracepoint_ops,
	[HOOK_KPROBE] = &hook_kprobe_ops,
	[HOOK_KRETPROBE] = &hook_kretprobe_ops,
	[HOOK_KPROBE_MULTI] = &hook_kprobe_multi_ops,
	[HOOK_FENTRY] = &hook_fentry_ops,
	[HOOK_FEXIT] = &hook_fexit_ops,
	[HOOK_UPROBE] = &hook_uprobe_ops,
	[HOOK_URETPROBE] = &hook_uretprobe_ops,
	[HOOK_LSM] = &hook_lsm_ops,
	[HOOK_NETFILTER] = &hook_netfilter_ops,
	[HOOK_SK_LOOKUP] = &hook_sk_lookup_ops,
	[HOOK_FLOW_DISSECTOR] = &hook_flow_dissector_ops,
	[HOOK_STRUCT_OPS] = &hook_struct_ops_ops,
};

const struct hook_ops *hook_ops_get(enum hook_kind kind)
{
	if (kind < 0 || kind >= HOOK__COUNT)
		return NULL;
	return table[kind];
}

const char *hook_kind_name(enum hook_kind k)
{
	const struct hook_ops *ops = hook_ops_get(k);

	return ops ? ops->name : "?";
}

enum hook_kind hook_kind_from_name(const char *name)
{
	for (int i = 0; name && i < HOOK__COUNT; i++)
		if (table[i] && streq(table[i]->name, name))
			return (enum hook_kind)i;
	return HOOK_INVALID;
}

const struct hook_keys *hook_keys_of(const char *name)
{
	const struct hook_ops *ops = hook_ops_get(hook_kind_from_name(name));

	return ops ? &ops->keys : NULL;
}

const char *const *hook_family_names(void)
{
	static const char *names[HOOK__COUNT + 1];

	if (!names[0])
		for (int i = 0; i < HOOK__COUNT; i++)
			names[i] = table[i]->name;
	return names;
}

const struct hook_caps *hook_caps_get(enum hook_kind kind)
{
	const struct hook_ops *ops = hook_ops_get(kind);

	return ops ? &ops->caps : NULL;
}

/* The programs hook_prog_fd() opened, newest last. A rollout names one
 * old program per attachment (the same for all its targets), so the
 * search from the end finds it at once. */
static struct prog_fd {
	uint32_t id;
	int fd;
} *prog_fds;
static size_t prog_fds_count, prog_fds_cap;

int hook_prog_fd(uint32_t prog_id)
{
	int fd;

	for (size_t i = prog_fds_count; i > 0; i--)
		if (prog_fds[i - 1].id == prog_id)
			return prog_fds[i - 1].fd;
	fd = bpf_prog_get_fd_by_id(prog_id);
	if (fd < 0)
		return -errno;
	if (grow_array((void **)&prog_fds, &prog_fds_cap, prog_fds_count + 1,
		       sizeof(*prog_fds)) < 0) {
		close(fd);
		return -ENOMEM;
	}
	prog_fds[prog_fds_count++] = (struct prog_fd){ .id = prog_id, .fd = fd };
	return fd;
}

void hook_prog_fds_close(void)
{
	for (size_t i = 0; i < prog_fds_count; i++)
		close(prog_fds[i].fd);
	free(prog_fds);
	prog_fds = NULL;
	prog_fds_count = prog_fds_cap = 0;
}

int link_update_common(int link_fd, int prog_fd, uint32_t old_prog_id)
{
	LIBBPF_OPTS(bpf_link_update_opts, o);
	int old_fd;

	/* Replace only the program we expect: a concurrent change fails the
	 * update instead of being overwritten. */
	if (old_prog_id) {
		old_fd = hook_prog_fd(old_prog_id);
		if (old_fd >= 0) {
			o.flags = BPF_F_REPLACE;
			o.old_prog_fd = old_fd;
		}
	}
	if (bpf_link_update(link_fd, prog_fd, &o) < 0)
		return -errno;
	return 0;
}

int link_detach_common(int link_fd)
{
	/* Force the detach even if another process holds the link open. */
	if (bpf_link_detach(link_fd) < 0 && errno != EINVAL && errno != EOPNOTSUPP &&
	    errno != ENOLINK)
		return -errno;
	return 0;
}

bool own_has(const uint32_t *own, size_t n, uint32_t id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (own[mid] == id)
			return true;
		if (own[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

int foreign_add(struct foreign_prog **arr, size_t *n, uint32_t prog_id, uint32_t link_id)
{
	struct foreign_prog *p = realloc(*arr, (*n + 1) * sizeof(**arr));
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	_cleanup_close_ int fd = -1;

	if (!p)
		return -ENOMEM;
	*arr = p;
	p = &p[(*n)++];
	memset(p, 0, sizeof(*p));
	p->prog_id = prog_id;
	p->link_id = link_id;
	fd = bpf_prog_get_fd_by_id(prog_id);
	if (fd >= 0 && bpf_info_get(fd, &info, &len) == 0)
		memcpy(p->prog_name, info.name, sizeof(p->prog_name) - 1);
	return 0;
}

enum hook_slot_kind hook_slot(const struct cnf_target *t, char *buf, size_t len)
{
	const struct hook_ops *ops = t->tc_fallback ? &hook_tc_ops : hook_ops_get(t->kind);

	if (!ops || !ops->slot)
		return HOOK_SLOT_NONE;
	return ops->slot(t, buf, len);
}

/* ---- preflight: who holds a hook ---- */

const struct hook_holder *preflight_holders(const struct preflight_ctx *ctx, uint32_t prog_id,
					   size_t *ret_n)
{
	size_t lo = 0, hi = ctx->count, n = 0;

	/* The first holder of prog_id: one program may run for several
	 * instances (they share it), on several hooks. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ctx->holders[mid].prog_id < prog_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo + n < ctx->count && ctx->holders[lo + n].prog_id == prog_id)
		n++;
	*ret_n = n;
	return n ? &ctx->holders[lo] : NULL;
}

bool preflight_on_hook(const struct hook_holder *h, const struct cnf_instance *w)
{
	const struct cnf_record *rec;

	if (h->want) {
		char a[CNF_DESC_MAX], b[CNF_DESC_MAX];

		hook_slot(&h->want->t, a, sizeof(a));
		hook_slot(&w->t, b, sizeof(b));
		return streq(a, b);
	}
	if (!h->have || !h->have->has_record)
		return false;
	rec = &h->have->rec;
	return rec->hook == (uint32_t)w->t.kind && rec->ifindex == w->t.ifindex &&
	       rec->attach_type == w->t.attach_type &&
	       (!rec->netns_ino || !w->t.netns_ino || rec->netns_ino == w->t.netns_ino) &&
	       (w->t.kind != HOOK_TC || (rec->tc_priority == w->t.tc_priority &&
					 rec->tc_handle == w->t.tc_handle));
}

static bool holder_is(const struct hook_holder *h, const struct cnf_instance *w)
{
	return h->have && streq(h->manifest, w->manifest->name) && streq(h->have->key, w->key);
}

static void prog_name_of(uint32_t prog_id, char name[BPF_OBJ_NAME_LEN])
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	_cleanup_close_ int fd = bpf_prog_get_fd_by_id(prog_id);

	name[0] = '\0';
	if (fd >= 0 && bpf_prog_get_info_by_fd(fd, &info, &len) == 0)
		memcpy(name, info.name, BPF_OBJ_NAME_LEN - 1);
	name[BPF_OBJ_NAME_LEN - 1] = '\0';
}

void preflight_describe_holder(const struct hook_holder *h, uint32_t prog_id, char *buf,
			       size_t len)
{
	char name[BPF_OBJ_NAME_LEN];

	if (h && h->want) {
		snprintf(buf, len, "attachment '%s' of manifest '%s' (%s:%d, program id %u)",
			 h->want->att->name, h->manifest, h->want->manifest->path,
			 manifest_attachment_line(h->want->manifest, h->want->att_idx, NULL), prog_id);
		return;
	}
	if (h && h->have) {
		snprintf(buf, len, "attachment '%.*s' of manifest '%s' (program id %u)",
			 (int)strcspn(h->have->key, "/"), h->have->key, h->manifest, prog_id);
		return;
	}
	prog_name_of(prog_id, name);
	snprintf(buf, len, "program id %u (%s) of another tool, which cnf-apply does not own",
		 prog_id, name[0] ? name : "no name");
}

/* Who keeps `id` on w's hook: NULL when the hook is free for w (the
 * program is w's own, or an instance this run removes first). *ret_who
 * describes the holder. */
static bool held_by_other(const struct cnf_instance *w, const struct preflight_ctx *ctx,
			  uint32_t id, char *who, size_t wholen)
{
	size_t k;
	const struct hook_holder *hs = preflight_holders(ctx, id, &k);
	bool free_here = false, left_out = false;

	for (size_t j = 0; j < k; j++) {
		const struct hook_holder *h = &hs[j];

		if (!h->have && !h->want) {
			left_out = true; /* where it is, the run does not know */
			continue;
		}
		if (!holder_is(h, w) && !preflight_on_hook(h, w))
			continue;
		if (holder_is(h, w) || h->leaving) {
			free_here = true;
			continue;
		}
		preflight_describe_holder(h, id, who, wholen);
		return true;
	}
	if (free_here)
		return false;
	if (left_out) {
		snprintf(who, wholen, "program id %u, which cnf-apply runs for an attachment this "
			 "run leaves out (--target)", id);
		return true;
	}
	if (!k) {
		preflight_describe_holder(NULL, id, who, wholen);
		return true;
	}
	/* The tool runs this program elsewhere, but no record puts it here. */
	snprintf(who, wholen, "program id %u, which cnf-apply runs for attachment '%.*s' of "
		 "manifest '%s' but did not attach here", id,
		 (int)strcspn(hs[0].have ? hs[0].have->key : "?", "/"),
		 hs[0].have ? hs[0].have->key : "?", hs[0].manifest);
	return true;
}

int preflight_exclusive(const struct cnf_instance *w, const struct preflight_ctx *ctx,
			const uint32_t *ids, size_t n, const char *hook, char *why, size_t whylen)
{
	for (size_t i = 0; i < n; i++) {
		char who[320];

		if (!ids[i] || !held_by_other(w, ctx, ids[i], who, sizeof(who)))
			continue;
		snprintf(why, whylen, "%s holds one program and already runs %s; refusing to "
			 "replace it", hook, who);
		return -EBUSY;
	}
	return 0;
}

int hook_net_where(const struct cnf_target *t, char *buf, size_t len)
{
	if (t->netns_ino)
		return snprintf(buf, len, "netns=%llu if=%s", (unsigned long long)t->netns_ino,
				t->ifname);
	return snprintf(buf, len, "netns=%s if=%s", t->netns ? t->netns : "-", t->ifname);
}
