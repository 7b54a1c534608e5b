// SPDX-License-Identifier: GPL-2.0-only
/* A lone tp_btf program: test_hook_raw_tracepoint.sh loads it with
 * bpftool to learn, independently of cnf-apply, whether this kernel loads
 * BTF-typed tracepoint programs at all. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tp_btf/sched_process_exec")
int tpbtf_probe(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
