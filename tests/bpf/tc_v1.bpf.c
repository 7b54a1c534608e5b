// SPDX-License-Identifier: GPL-2.0-only
/* Test programs for the tcx and legacy tc hooks, version 1. `tc_main` is
 * the program tests update (tc_v2.bpf.c holds its version 2); `tc_second`
 * and `tc_third` exist so ordering tests have several programs to place
 * on one hook. Each counts packets in its own slot of `counters` and lets
 * the packet through (TC_ACT_OK, which is also TCX_PASS). */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&counters, &slot);

	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("tc")
int tc_main(struct __sk_buff *skb)
{
	count(0);
	return TC_ACT_OK;
}

SEC("tc")
int tc_second(struct __sk_buff *skb)
{
	count(1);
	return TC_ACT_OK;
}

SEC("tc")
int tc_third(struct __sk_buff *skb)
{
	count(2);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
