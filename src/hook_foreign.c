// SPDX-License-Identifier: GPL-2.0-only
/* Foreign programs on the hooks whose links name their target: perf
 * event links (tracepoints, kprobes, uprobes), raw tracepoint links,
 * tracing links (fentry, fexit) and netfilter links. These hooks have no
 * query of their own; the kernel's link info says where each link is, so
 * every link of the host is read (BPF_LINK_GET_NEXT_ID, the info of each
 * link of the wanted type) and those on the hook whose program the tool
 * does not own are reported. */
#include <limits.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>

#include "cnf/hooks.h"
#include "cnf/live.h"
#include "cnf/util.h"

/* Fills the info of one link, with `name` as the buffer of the name its
 * type carries (perf event links: the function, file or tracepoint; raw
 * tracepoint links: the tracepoint). 0, or a negative errno. */
static int link_info_named(int fd, struct bpf_link_info *info, char *name, size_t namelen)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	name[0] = '\0';
	if (bpf_info_get(fd, info, &len) < 0)
		return -errno;
	switch (info->type) {
	case BPF_LINK_TYPE_RAW_TRACEPOINT:
		memset(info, 0, sizeof(*info));
		info->raw_tracepoint.tp_name = (__u64)(uintptr_t)name;
		info->raw_tracepoint.tp_name_len = (__u32)namelen;
		break;
	case BPF_LINK_TYPE_PERF_EVENT: {
		__u32 type = info->perf_event.type;

		memset(info, 0, sizeof(*info));
		switch (type) {
		case BPF_PERF_EVENT_UPROBE:
		case BPF_PERF_EVENT_URETPROBE:
			info->perf_event.uprobe.file_name = (__u64)(uintptr_t)name;
			info->perf_event.uprobe.name_len = (__u32)namelen;
			break;
		case BPF_PERF_EVENT_KPROBE:
		case BPF_PERF_EVENT_KRETPROBE:
			info->perf_event.kprobe.func_name = (__u64)(uintptr_t)name;
			info->perf_event.kprobe.name_len = (__u32)namelen;
			break;
		case BPF_PERF_EVENT_TRACEPOINT:
			info->perf_event.tracepoint.tp_name = (__u64)(uintptr_t)name;
			info->perf_event.tracepoint.name_len = (__u32)namelen;
			break;
		default:
			/* Kernels before perf event link info (6.6): no details. */
			return 0;
		}
		break;
	}
	default:
		return 0;
	}
	len = sizeof(*info);
	if (bpf_info_get(fd, info, &len) < 0)
		return -errno;
	name[namelen - 1] = '\0';
	return 0;
}

int hook_links_foreign(enum bpf_link_type type, hook_link_match_fn match, const void *ctx,
		       const uint32_t *own, size_t n_own, struct foreign_prog **ret, size_t *ret_count)
{
	__u32 id = 0;

	for (;;) {
		struct bpf_link_info info;
		char name[PATH_MAX];
		_cleanup_close_ int fd = -1;
		int err;

		if (bpf_link_get_next_id(id, &id) < 0)
			return errno == ENOENT ? 0 : -errno;
		fd = bpf_link_get_fd_by_id(id);
		if (fd < 0) {
			if (errno == ENOENT)
				continue; /* released since GET_NEXT_ID */
			return -errno;
		}
		err = link_info_named(fd, &info, name, sizeof(name));
		if (err < 0)
			continue;
		if (info.type != type || !info.prog_id || own_has(own, n_own, info.prog_id))
			continue;
		if (!match(&info, name, ctx))
			continue;
		err = foreign_add(ret, ret_count, info.prog_id, info.id);
		if (err < 0)
			return err;
	}
}

/* ---- tracing links: the target by BTF object and type id ---- */

int hook_btf_func_target(const char *name, uint32_t *ret_obj_id, uint32_t *ret_btf_id)
{
	const struct btf *vmlinux = probe_vmlinux_btf();
	__u32 id = 0;
	int vm_id = -1;

	if (!vmlinux)
		return -ENOENT;
	vm_id = btf__find_by_name_kind(vmlinux, name, BTF_KIND_FUNC);
	/* Kernel BTF objects: vmlinux, then one per module that has BTF. */
	while (bpf_btf_get_next_id(id, &id) == 0) {
		struct bpf_btf_info info = {};
		char bname[64] = "";
		__u32 len = sizeof(info);
		_cleanup_close_ int fd = bpf_btf_get_fd_by_id(id);
		struct btf *mod;
		int tid;

		if (fd < 0)
			continue;
		info.name = (__u64)(uintptr_t)bname;
		info.name_len = sizeof(bname);
		if (bpf_info_get(fd, &info, &len) < 0 || !info.kernel_btf)
			continue;
		if (streq(bname, "vmlinux")) {
			if (vm_id > 0) {
				*ret_obj_id = id;
				*ret_btf_id = (uint32_t)vm_id;
				return 0;
			}
			continue;
		}
		if (vm_id > 0)
			continue;
		mod = btf__load_from_kernel_by_id_split(id, (struct btf *)vmlinux);
		if (!mod)
			continue;
		tid = btf__find_by_name_kind(mod, name, BTF_KIND_FUNC);
		btf__free(mod);
		if (tid > 0) {
			*ret_obj_id = id;
			*ret_btf_id = (uint32_t)tid;
			return 0;
		}
	}
	return -ENOENT;
}

struct tracing_target {
	uint32_t attach_type, obj_id, btf_id;
};

static bool tracing_match(const struct bpf_link_info *info, const char *name, const void *ctx)
{
	const struct tracing_target *tt = ctx;

	return info->tracing.attach_type == tt->attach_type &&
	       info->tracing.target_obj_id == tt->obj_id && info->tracing.target_btf_id == tt->btf_id;
}

int hook_tracing_foreign(uint32_t attach_type, const char *func, const uint32_t *own,
			 size_t n_own, struct foreign_prog **ret, size_t *ret_count)
{
	struct tracing_target tt = { .attach_type = attach_type };

	if (hook_btf_func_target(func, &tt.obj_id, &tt.btf_id) < 0)
		return 0; /* no such function: nothing can be attached there */
	return hook_links_foreign(BPF_LINK_TYPE_TRACING, tracing_match, &tt, own, n_own, ret,
				  ret_count);
}
