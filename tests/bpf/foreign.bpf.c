// SPDX-License-Identifier: GPL-2.0-only
/* Programs that tests attach with other tools (ip, tc, bpftool) onto hooks
 * cnf-apply manages, to check that such "foreign" programs are reported and
 * never detached or replaced. Their names differ from every program the
 * manifests use, so messages and listings can be checked by name. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} foreign_hits SEC(".maps");

static __always_inline void hit(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&foreign_hits, &slot);

	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("xdp")
int xdp_foreign(struct xdp_md *ctx)
{
	hit(0);
	return XDP_PASS;
}

SEC("tc")
int tc_foreign(struct __sk_buff *skb)
{
	hit(1);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
