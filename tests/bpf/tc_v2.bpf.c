// SPDX-License-Identifier: GPL-2.0-only
/* Test program for the tcx and legacy tc hooks, version 2 of `tc_main`:
 * counts packets in slot 0 and bytes in slot 3 of `counters`. Same program
 * and map names as tc_v1.bpf.c, different instructions. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

SEC("tc")
int tc_main(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&counters, &key);

	if (n)
		__sync_fetch_and_add(n, 1);
	key = 3;
	n = bpf_map_lookup_elem(&counters, &key);
	if (n)
		__sync_fetch_and_add(n, skb->len);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
