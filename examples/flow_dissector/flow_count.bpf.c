// SPDX-License-Identifier: GPL-2.0-only
/* flow_dissector example: count dissected packets per EtherType in a
 * network namespace, then hand each one to the kernel's own dissector
 * (BPF_FLOW_DISSECTOR_CONTINUE, Linux 6.1+). */
#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);            /* EtherType, host order */
	__type(value, __u64);
} protos SEC(".maps");

SEC("flow_dissector")
int count_flows(struct __sk_buff *skb)
{
	struct bpf_flow_keys *keys = skb->flow_keys;
	__u32 proto = bpf_ntohs(keys->n_proto);
	__u64 one = 1, *n = bpf_map_lookup_elem(&protos, &proto);

	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&protos, &proto, &one, BPF_NOEXIST);
	return BPF_FLOW_DISSECTOR_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
