// SPDX-License-Identifier: GPL-2.0-only
/* uprobe/uretprobe example: count name lookups through the C library
 * (getaddrinfo) and the failed ones, in every process. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);        /* [0] calls, [1] failures */
	__type(key, __u32);
	__type(value, __u64);
} lookups SEC(".maps");

static __always_inline void add(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&lookups, &slot);

	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("uprobe")
int gai_enter(void *ctx)
{
	add(0);
	return 0;
}

SEC("uretprobe")
int gai_exit(struct pt_regs *regs)
{
	/* x86-64: the return value is in rax; 0 is success. */
	if ((int)((unsigned long *)regs)[10] != 0)
		add(1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
