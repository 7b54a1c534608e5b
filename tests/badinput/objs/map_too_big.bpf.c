// SPDX-License-Identifier: GPL-2.0-only
/* A program whose array map asks for more entries than the kernel will
 * create (4G entries of 8 bytes): the object opens and its program would
 * pass the verifier, but the map cannot be created. The bad-input
 * catalogue checks that the refusal names the map and the kernel's reason,
 * not a program load failure. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 0xffffffff);
	__type(key, __u32);
	__type(value, __u64);
} huge_counts SEC(".maps");

SEC("xdp")
int xdp_huge(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&huge_counts, &key);

	if (n)
		__sync_fetch_and_add(n, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
