// SPDX-License-Identifier: GPL-2.0-only
/* Demo: a two-stage tcx ingress chain. The manifest places `tcx_classify`
 * first and `tcx_account` right after it; both hand every packet on to the
 * next program (TCX_NEXT), so the chain only observes traffic.
 *   bpftool map dump name tcx_proto    packets by EtherType class
 *   bpftool map dump name tcx_bytes    bytes by ifindex */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

enum proto_class { PROTO_IPV4, PROTO_IPV6, PROTO_ARP, PROTO_OTHER, PROTO__COUNT };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PROTO__COUNT);
	__type(key, __u32);                 /* enum proto_class */
	__type(value, __u64);
} tcx_proto SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);                 /* ifindex */
	__type(value, __u64);
} tcx_bytes SEC(".maps");

/* Stage 1: count the packet under its EtherType class. */
SEC("tc")
int tcx_classify(struct __sk_buff *skb)
{
	__u32 class;
	__u64 *n;

	switch (bpf_ntohs(skb->protocol)) {
	case ETH_P_IP:
		class = PROTO_IPV4;
		break;
	case ETH_P_IPV6:
		class = PROTO_IPV6;
		break;
	case ETH_P_ARP:
		class = PROTO_ARP;
		break;
	default:
		class = PROTO_OTHER;
	}
	n = bpf_map_lookup_elem(&tcx_proto, &class);
	if (n)
		__sync_fetch_and_add(n, 1);
	return TCX_NEXT;
}

/* Stage 2: add the packet's length to its interface's byte count. */
SEC("tc")
int tcx_account(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	__u64 len = skb->len;
	__u64 *n = bpf_map_lookup_elem(&tcx_bytes, &ifindex);

	if (n)
		__sync_fetch_and_add(n, len);
	else
		bpf_map_update_elem(&tcx_bytes, &ifindex, &len, BPF_NOEXIST);
	return TCX_NEXT;
}

char LICENSE[] SEC("license") = "GPL";
