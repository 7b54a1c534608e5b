// SPDX-License-Identifier: GPL-2.0-only
/* raw_tracepoint example: count context switches per CPU
 * (sched_switch, without the tracepoint's record formatting). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} switches SEC(".maps");

SEC("raw_tp/sched_switch")
int count_switches(void *ctx)
{
	__u32 k = 0;
	__u64 *n = bpf_map_lookup_elem(&switches, &k);

	if (n)
		*n += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
