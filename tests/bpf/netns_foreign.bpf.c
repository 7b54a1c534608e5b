// SPDX-License-Identifier: GPL-2.0-only
/* A flow dissector "another tool" attaches (bpftool), to check that
 * cnf-apply does not replace what it does not own. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("flow_dissector")
int fd_foreign(struct __sk_buff *skb)
{
	return BPF_FLOW_DISSECTOR_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
