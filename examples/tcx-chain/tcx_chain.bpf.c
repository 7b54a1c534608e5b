// SPDX-License-Identifier: GPL-2.0-only
/* Example: a two-stage tcx ingress chain whose order matters.
 *
 * Stage 1, `chain_mark`, runs first: it marks IPv4 packets of one IP
 * protocol (`match_proto`, from the manifest's `config:`; ICMP by default)
 * with `mark` in skb->mark, counts them, and hands every packet on
 * (TCX_NEXT). Stage 2, `chain_enforce`, runs right after it: it drops the
 * packets stage 1 marked and passes the rest. Swap the two and nothing is
 * dropped, because stage 2 would look for marks before they are set.
 *
 *   bpftool map dump name chain_stats
 *     [0] seen by stage 1   [1] marked by stage 1
 *     [2] seen by stage 2   [3] dropped by stage 2
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

const volatile __u8 match_proto = 1;       /* IPPROTO_ICMP */
const volatile __u32 mark = 0x2a;

enum chain_stat { MARK_SEEN, MARK_MARKED, ENFORCE_SEEN, ENFORCE_DROPPED, CHAIN__COUNT };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CHAIN__COUNT);
	__type(key, __u32);                 /* enum chain_stat */
	__type(value, __u64);
} chain_stats SEC(".maps");

static __always_inline void count(__u32 stat)
{
	__u64 *n = bpf_map_lookup_elem(&chain_stats, &stat);

	if (n)
		__sync_fetch_and_add(n, 1);
}

/* Stage 1: mark the packets of `match_proto`. */
SEC("tc")
int chain_mark(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	count(MARK_SEEN);
	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TCX_NEXT;
	if (ip->protocol == match_proto) {
		skb->mark = mark;
		count(MARK_MARKED);
	}
	return TCX_NEXT;
}

/* Stage 2: drop what stage 1 marked. */
SEC("tc")
int chain_enforce(struct __sk_buff *skb)
{
	count(ENFORCE_SEEN);
	if (skb->mark == mark) {
		count(ENFORCE_DROPPED);
		return TCX_DROP;
	}
	return TCX_NEXT;
}

char LICENSE[] SEC("license") = "GPL";
