// SPDX-License-Identifier: GPL-2.0-only
/* traffic_v1.bpf.c with a larger counter map: a version whose pinned map
 * cannot carry over the old contents.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} pkt_counts SEC(".maps");

/* Set from the manifest's `config:`; changing it is a program change. */
const volatile __u32 variant = 0;

static __always_inline int is_probe(void *data, void *end)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);

	if ((void *)(udp + 1) > end)
		return 0;
	if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != IPPROTO_UDP || ip->ihl != 5)
		return 0;
	return udp->dest == bpf_htons(9999);
}

static __always_inline void count(__u32 key)
{
	__u64 *v = bpf_map_lookup_elem(&pkt_counts, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	if (is_probe((void *)(long)ctx->data, (void *)(long)ctx->data_end))
		count(0);
	return XDP_PASS;
}

SEC("tc")
int tc_count(struct __sk_buff *skb)
{
	if (is_probe((void *)(long)skb->data, (void *)(long)skb->data_end))
		count(1);
	return 0; /* TC_ACT_OK */
}

char LICENSE[] SEC("license") = "GPL";
