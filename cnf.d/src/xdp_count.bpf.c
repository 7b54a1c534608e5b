// SPDX-License-Identifier: GPL-2.0-only
/* Demo: per-interface receive counters at the XDP hook. Every packet that
 * reaches an interface this program is attached to is counted (packets and
 * bytes, keyed by ifindex) and passed on unchanged.
 *   bpftool map dump name xdp_stats */
#include <linux/bpf.h>
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
} xdp_stats SEC(".maps");

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	__u32 ifindex = ctx->ingress_ifindex;
	__u64 len = ctx->data_end - ctx->data;
	struct if_counters *c = bpf_map_lookup_elem(&xdp_stats, &ifindex);

	if (!c) {
		struct if_counters zero = {};

		bpf_map_update_elem(&xdp_stats, &ifindex, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&xdp_stats, &ifindex);
		if (!c)
			return XDP_PASS;
	}
	__sync_fetch_and_add(&c->packets, 1);
	__sync_fetch_and_add(&c->bytes, len);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
