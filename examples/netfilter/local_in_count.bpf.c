// SPDX-License-Identifier: GPL-2.0-only
/* netfilter example: count the IPv4 packets delivered locally, as a
 * netfilter hook function; every packet is accepted. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define NF_ACCEPT 1

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} packets SEC(".maps");

SEC("netfilter")
int count_local_in(void *ctx)
{
	__u32 k = 0;
	__u64 *n = bpf_map_lookup_elem(&packets, &k);

	if (n)
		*n += 1;
	return NF_ACCEPT;
}

char LICENSE[] SEC("license") = "GPL";
