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
