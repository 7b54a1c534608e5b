// SPDX-License-Identifier: GPL-2.0-only
/* kprobe_multi example: one program on the VFS read and write paths,
 * counting calls by function address. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u64);            /* function address */
	__type(value, __u64);
} calls SEC(".maps");

SEC("kprobe.multi/vfs_read")
int vfs_calls(void *ctx)
{
	__u64 ip = bpf_get_func_ip(ctx), one = 1, *n;

	n = bpf_map_lookup_elem(&calls, &ip);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&calls, &ip, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
