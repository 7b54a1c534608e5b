// SPDX-License-Identifier: GPL-2.0-only
/* sk_lookup example: count socket lookups per local port in a network
 * namespace; the kernel's own lookup then proceeds (SK_PASS without a
 * socket selected). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);            /* local port */
	__type(value, __u64);
} lookups SEC(".maps");

SEC("sk_lookup")
int count_lookups(struct bpf_sk_lookup *ctx)
{
	__u32 port = ctx->local_port;
	__u64 one = 1, *n = bpf_map_lookup_elem(&lookups, &port);

	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&lookups, &port, &one, BPF_NOEXIST);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
