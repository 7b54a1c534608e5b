// SPDX-License-Identifier: GPL-2.0-only
/* struct_ops example: "cnf_fixed", a TCP congestion control that keeps a
 * fixed window (for lab links where the window is known), registered
 * through a struct_ops link. Select it per socket (TCP_CONGESTION) or
 * with sysctl net.ipv4.tcp_congestion_control. Only the members set here
 * are declared; libbpf matches them with the kernel's type by name. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct sock;

struct tcp_congestion_ops {
	__u32 (*ssthresh)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, __u32 ack, __u32 acked);
	__u32 (*undo_cwnd)(struct sock *sk);
	char name[16];
};

const volatile __u32 window = 64;      /* segments */

SEC("struct_ops")
__u32 BPF_PROG(fixed_ssthresh, struct sock *sk)
{
	return window;
}

SEC("struct_ops")
void BPF_PROG(fixed_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
}

SEC("struct_ops")
__u32 BPF_PROG(fixed_undo_cwnd, struct sock *sk)
{
	return window;
}

SEC(".struct_ops.link")
struct tcp_congestion_ops fixed_cc = {
	.ssthresh = (void *)fixed_ssthresh,
	.cong_avoid = (void *)fixed_cong_avoid,
	.undo_cwnd = (void *)fixed_undo_cwnd,
	.name = "cnf_fixed",
};

char LICENSE[] SEC("license") = "GPL";
