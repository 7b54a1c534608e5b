// SPDX-License-Identifier: GPL-2.0-only
/* Test program, version 2 of `xdp_main`: like version 1, and also adds the
 * packet's length to slot 1 of `counters`. Same program and map names as
 * xdp_v1.bpf.c, different instructions (hence a different program tag). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

SEC("xdp")
int xdp_main(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&counters, &key);

	if (n)
		__sync_fetch_and_add(n, 1);
	key = 1;
	n = bpf_map_lookup_elem(&counters, &key);
	if (n)
		__sync_fetch_and_add(n, ctx->data_end - ctx->data);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
