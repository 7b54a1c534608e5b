// SPDX-License-Identifier: GPL-2.0-only
/* Watch the IPv6 traffic a netkit device sends (its primary side: from
 * the host towards the peer, e.g. a container): count packets and bytes,
 * and report each packet's addresses into a ring buffer that reader.c
 * prints. Every packet goes on (NETKIT_NEXT: the next program, or the
 * device's default policy). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "ipv6_monitor.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* [0] packets, [1] bytes, [2] events dropped (ring buffer full). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void add(__u32 slot, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &slot);

	if (v)
		*v += n;
}

/* Where the IPv6 header starts: the packet may carry an Ethernet header
 * (netkit in `mode l2`, and what the kernel puts in front of L3 mode's
 * packets on transmit) or not. */
static __always_inline __u32 ip6_offset(struct __sk_buff *skb)
{
	__u8 b[15];

	if (bpf_skb_load_bytes(skb, 0, b, sizeof(b)) == 0 && b[12] == 0x86 && b[13] == 0xdd &&
	    b[14] >> 4 == 6)
		return ETH_HLEN;
	return 0;
}

SEC("netkit/primary")
int ipv6_monitor(struct __sk_buff *skb)
{
	struct ipv6hdr ip6;
	struct ipv6_event *e;

	__u32 off;

	if (skb->protocol != bpf_htons(ETH_P_IPV6))
		return NETKIT_NEXT;
	off = ip6_offset(skb);
	if (bpf_skb_load_bytes(skb, off, &ip6, sizeof(ip6)) < 0 || ip6.version != 6)
		return NETKIT_NEXT;
	add(0, 1);
	add(1, skb->len);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		add(2, 1);
		return NETKIT_NEXT;
	}
	__builtin_memcpy(e->src, &ip6.saddr, sizeof(e->src));
	__builtin_memcpy(e->dst, &ip6.daddr, sizeof(e->dst));
	e->next_header = ip6.nexthdr;
	e->len = skb->len;
	bpf_ringbuf_submit(e, 0);
	return NETKIT_NEXT;
}

char LICENSE[] SEC("license") = "GPL";
