// SPDX-License-Identifier: GPL-2.0-only
/* Tracing programs that tests attach with bpftool (prog loadall ...
 * autoattach) onto hooks cnf-apply manages, to check that status lists
 * them as foreign and that apply and destroy leave them running. One of
 * them sits on another tracepoint: it must not be listed. Each counts in
 * its own slot of `foreign_trace_hits`. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} foreign_trace_hits SEC(".maps");

static __always_inline void hit(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&foreign_trace_hits, &slot);

	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("tracepoint/sched/sched_process_exec")
int tp_foreign_exec(void *ctx)
{
	hit(0);
	return 0;
}

SEC("tracepoint/sched/sched_process_fork")
int tp_foreign_fork(void *ctx)
{
	hit(1);
	return 0;
}

SEC("raw_tp/sched_process_exec")
int raw_foreign(void *ctx)
{
	hit(2);
	return 0;
}

SEC("uprobe/libc.so.6:uname")
int up_foreign(void *ctx)
{
	hit(3);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
