// SPDX-License-Identifier: GPL-2.0-only
/* A struct_ops test object: a do-nothing TCP congestion control named
 * "cnf_test_cc", registered through a link (SEC(".struct_ops.link")).
 * sto_v2.bpf.c is the same with VERSION 2. Only the members it sets are
 * declared; libbpf matches them with the kernel's type by name. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#ifndef VERSION
#define VERSION 1
#endif

struct sock;

struct tcp_congestion_ops {
	__u32 (*ssthresh)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, __u32 ack, __u32 acked);
	__u32 (*undo_cwnd)(struct sock *sk);
	char name[16];
};

__u64 calls;

SEC("struct_ops")
__u32 BPF_PROG(cnf_ssthresh, struct sock *sk)
{
	__sync_fetch_and_add(&calls, VERSION);
	return 10;
}

SEC("struct_ops")
void BPF_PROG(cnf_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	__sync_fetch_and_add(&calls, VERSION);
}

SEC("struct_ops")
__u32 BPF_PROG(cnf_undo_cwnd, struct sock *sk)
{
	return 10;
}

SEC(".struct_ops.link")
struct tcp_congestion_ops cnf_cc = {
	.ssthresh = (void *)cnf_ssthresh,
	.cong_avoid = (void *)cnf_cong_avoid,
	.undo_cwnd = (void *)cnf_undo_cwnd,
	.name = "cnf_test_cc",
};

char LICENSE[] SEC("license") = "GPL";
