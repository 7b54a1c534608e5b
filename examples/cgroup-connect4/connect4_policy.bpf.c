// SPDX-License-Identifier: GPL-2.0-only
/* Example: an outbound connection policy for the processes of one cgroup
 * (a systemd service's, say). connect() to `blocked_port` over TCP, and
 * over UDP too when `block_udp` is set, fails with EPERM; every other
 * connect() is allowed. Both knobs come from the manifest's `config:`,
 * which cnf-apply writes into these `const volatile` globals before the
 * object is loaded: a changed value is a new program, swapped in place.
 *
 *   bpftool map dump name connect4_stats  [0] allowed, [1] refused
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

const volatile __u16 blocked_port = 0;     /* 0: block nothing */
const volatile bool block_udp = false;

enum verdict { ALLOWED, REFUSED, VERDICT__COUNT };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VERDICT__COUNT);
	__type(key, __u32);                 /* enum verdict */
	__type(value, __u64);
} connect4_stats SEC(".maps");

SEC("cgroup/connect4")
int connect4_policy(struct bpf_sock_addr *ctx)
{
	__u16 port = bpf_ntohs((__u16)ctx->user_port);
	bool proto = ctx->protocol == IPPROTO_TCP ||
		     (block_udp && ctx->protocol == IPPROTO_UDP);
	__u32 v = blocked_port && proto && port == blocked_port ? REFUSED : ALLOWED;
	__u64 *n = bpf_map_lookup_elem(&connect4_stats, &v);

	if (n)
		__sync_fetch_and_add(n, 1);
	return v == ALLOWED;                /* 0 makes connect() fail with EPERM */
}

char LICENSE[] SEC("license") = "GPL";
