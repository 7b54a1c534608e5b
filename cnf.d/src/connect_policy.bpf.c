// SPDX-License-Identifier: GPL-2.0-only
/* Demo: an outbound connection policy for one cgroup. TCP connect() to
 * `blocked_port` fails with EPERM for every process in the cgroup; all
 * other connects are allowed. The port is set from the manifest's
 * `config:` (0, the default, blocks nothing). Decisions are counted.
 *   bpftool map dump name connect_stats   [0] allowed, [1] denied */
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

const volatile __u16 blocked_port = 0;

enum verdict { VERDICT_ALLOWED, VERDICT_DENIED, VERDICT__COUNT };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VERDICT__COUNT);
	__type(key, __u32);                 /* enum verdict */
	__type(value, __u64);
} connect_stats SEC(".maps");

SEC("cgroup/connect4")
int connect4_policy(struct bpf_sock_addr *ctx)
{
	__u16 port = bpf_ntohs((__u16)ctx->user_port);
	__u32 verdict = VERDICT_ALLOWED;
	__u64 *n;

	if (blocked_port && ctx->protocol == IPPROTO_TCP && port == blocked_port)
		verdict = VERDICT_DENIED;
	n = bpf_map_lookup_elem(&connect_stats, &verdict);
	if (n)
		__sync_fetch_and_add(n, 1);
	return verdict == VERDICT_ALLOWED;  /* 1 allows, 0 refuses (EPERM) */
}

char LICENSE[] SEC("license") = "GPL";
