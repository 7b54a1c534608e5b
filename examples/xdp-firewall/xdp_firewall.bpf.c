// SPDX-License-Identifier: GPL-2.0-only
/* Example: an XDP firewall that drops IPv4 packets whose source address is
 * in `blocklist`. The manifest pins `blocklist` at
 * <bpffs>/_maps/shared/blocklist, so another tool (bpftool, a control
 * plane) fills it while the program runs, and the entries survive program
 * upgrades. Everything else passes.
 *
 *   key:   the IPv4 source address, 4 bytes in network order
 *   value: packets dropped from that source (u64, counted here)
 *
 *   bpftool map update pinned /sys/fs/bpf/cnf/_maps/shared/blocklist \
 *           key 192 0 2 1 value 0 0 0 0 0 0 0 0
 *   bpftool map dump name fw_stats        [0] passed, [1] dropped (per CPU)
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

enum fw_stat { FW_PASSED, FW_DROPPED, FW__COUNT };

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);                 /* IPv4 source address, network order */
	__type(value, __u64);               /* packets dropped */
} blocklist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FW__COUNT);
	__type(key, __u32);                 /* enum fw_stat */
	__type(value, __u64);
} fw_stats SEC(".maps");

static __always_inline int verdict(__u32 stat, int action)
{
	__u64 *n = bpf_map_lookup_elem(&fw_stats, &stat);

	if (n)
		*n += 1;                    /* per CPU: no atomic needed */
	return action;
}

SEC("xdp")
int xdp_firewall(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	__u64 *drops;
	__u32 saddr;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return verdict(FW_PASSED, XDP_PASS);
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return verdict(FW_PASSED, XDP_PASS);

	saddr = ip->saddr;
	drops = bpf_map_lookup_elem(&blocklist, &saddr);
	if (!drops)
		return verdict(FW_PASSED, XDP_PASS);
	__sync_fetch_and_add(drops, 1);
	return verdict(FW_DROPPED, XDP_DROP);
}

char LICENSE[] SEC("license") = "GPL";
