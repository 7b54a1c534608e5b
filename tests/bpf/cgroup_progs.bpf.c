// SPDX-License-Identifier: GPL-2.0-only
/* One minimal program per cgroup attach type the tests exercise. Each
 * counts its calls in its own slot of `counters` and allows the operation
 * (returns 1). cgroup_progs_v2.bpf.c builds the same programs with
 * CGROUP_PROGS_V2 defined, which changes their code but not their names:
 * tests overwrite one object with the other to update programs in place. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifdef CGROUP_PROGS_V2
#define STEP 2
#else
#define STEP 1
#endif

enum slot {
	SLOT_SKB_INGRESS,
	SLOT_SKB_EGRESS,
	SLOT_SOCK_CREATE,
	SLOT_CONNECT4,
	SLOT_CONNECT6,
	SLOT_BIND4,
	SLOT_SENDMSG4,
	SLOT_RECVMSG4,
	SLOT_SOCK_OPS,
	SLOT_GETSOCKOPT,
	SLOT_SETSOCKOPT,
	SLOT_SYSCTL,
	SLOT_DEV,
	SLOT__COUNT,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLOT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline int allow(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&counters, &slot);

	if (n)
		__sync_fetch_and_add(n, STEP);
	return 1;
}

SEC("cgroup_skb/ingress")
int skb_ingress(struct __sk_buff *skb)
{
	return allow(SLOT_SKB_INGRESS);
}

SEC("cgroup_skb/egress")
int skb_egress(struct __sk_buff *skb)
{
	return allow(SLOT_SKB_EGRESS);
}

SEC("cgroup/sock_create")
int sock_create(struct bpf_sock *sk)
{
	return allow(SLOT_SOCK_CREATE);
}

SEC("cgroup/connect4")
int connect4(struct bpf_sock_addr *ctx)
{
	return allow(SLOT_CONNECT4);
}

SEC("cgroup/connect6")
int connect6(struct bpf_sock_addr *ctx)
{
	return allow(SLOT_CONNECT6);
}

SEC("cgroup/bind4")
int bind4(struct bpf_sock_addr *ctx)
{
	return allow(SLOT_BIND4);
}

SEC("cgroup/sendmsg4")
int sendmsg4(struct bpf_sock_addr *ctx)
{
	return allow(SLOT_SENDMSG4);
}

SEC("cgroup/recvmsg4")
int recvmsg4(struct bpf_sock_addr *ctx)
{
	return allow(SLOT_RECVMSG4);
}

SEC("sockops")
int sock_ops(struct bpf_sock_ops *ctx)
{
	return allow(SLOT_SOCK_OPS);
}

SEC("cgroup/getsockopt")
int getsockopt(struct bpf_sockopt *ctx)
{
	return allow(SLOT_GETSOCKOPT);
}

SEC("cgroup/setsockopt")
int setsockopt(struct bpf_sockopt *ctx)
{
	return allow(SLOT_SETSOCKOPT);
}

SEC("cgroup/sysctl")
int sysctl(struct bpf_sysctl *ctx)
{
	return allow(SLOT_SYSCTL);
}

SEC("cgroup/dev")
int dev(struct bpf_cgroup_dev_ctx *ctx)
{
	return allow(SLOT_DEV);
}

char LICENSE[] SEC("license") = "GPL";
