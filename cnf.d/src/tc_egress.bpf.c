// SPDX-License-Identifier: GPL-2.0-only
/* Demo: an egress counter as a classic cls_bpf filter (direct action) at a
 * fixed priority and handle, for hosts and tools that still expect legacy
 * tc filters. Counts packets and bytes leaving each interface.
 *   bpftool map dump name tc_egress_stats */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct if_counters {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);                 /* ifindex */
	__type(value, struct if_counters);
} tc_egress_stats SEC(".maps");

SEC("tc")
int tc_egress_count(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct if_counters *c = bpf_map_lookup_elem(&tc_egress_stats, &ifindex);

	if (!c) {
		struct if_counters zero = {};

		bpf_map_update_elem(&tc_egress_stats, &ifindex, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&tc_egress_stats, &ifindex);
		if (!c)
			return TC_ACT_OK;
	}
	__sync_fetch_and_add(&c->packets, 1);
	__sync_fetch_and_add(&c->bytes, skb->len);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
