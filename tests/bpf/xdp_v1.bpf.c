// SPDX-License-Identifier: GPL-2.0-only
/* Test program, version 1 of `xdp_main`: counts every packet in slot 0 of
 * `counters` and passes it. xdp_v2.bpf.c has the same program and map
 * names with different code, so a test can overwrite the object file to
 * simulate a new release of the same program. */
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
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
