// SPDX-License-Identifier: GPL-2.0-only
/* Test programs for the tracing, LSM and namespace hook families, version
 * 1 (trace_v2.bpf.c is the same with VERSION 2). Every counting program adds
 * VERSION to its own slot of `counters` when it runs, so a test can see
 * which version fires, and lets the event through. */
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#ifndef VERSION
#define VERSION 1
#endif

enum slot {
	S_TP, S_RAW_TP, S_KPROBE, S_KRETPROBE, S_KMULTI, S_FENTRY, S_FEXIT, S_UPROBE,
	S_URETPROBE, S_LSM, S_NETFILTER, S_SK_LOOKUP, S_FLOW_DISSECTOR, S_TP_BTF, S_NETKIT,
	S__COUNT
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, S__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&counters, &slot);

	if (n)
		__sync_fetch_and_add(n, VERSION);
}

SEC("tracepoint/sched/sched_process_exec")
int tp_exec(void *ctx)
{
	count(S_TP);
	return 0;
}

SEC("raw_tp/sched_process_exec")
int raw_exec(void *ctx)
{
	count(S_RAW_TP);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int btf_exec(void *ctx)
{
	count(S_TP_BTF);
	return 0;
}

SEC("kprobe/do_unlinkat")
int kp_unlink(void *ctx)
{
	count(S_KPROBE);
	return 0;
}

SEC("kretprobe/do_unlinkat")
int krp_unlink(void *ctx)
{
	count(S_KRETPROBE);
	return 0;
}

SEC("kprobe.multi/do_unlinkat")
int km_unlink(void *ctx)
{
	count(S_KMULTI);
	return 0;
}

SEC("fentry/do_unlinkat")
int fe_unlink(void *ctx)
{
	count(S_FENTRY);
	return 0;
}

SEC("fexit/do_unlinkat")
int fx_unlink(void *ctx)
{
	count(S_FEXIT);
	return 0;
}

SEC("uprobe")
int up_func(void *ctx)
{
	count(S_UPROBE);
	return 0;
}

SEC("uretprobe")
int urp_func(void *ctx)
{
	count(S_URETPROBE);
	return 0;
}

SEC("lsm/file_open")
int lsm_open(void *ctx)
{
	count(S_LSM);
	return 0;
}

SEC("netfilter")
int nf_count(void *ctx)
{
	count(S_NETFILTER);
	return 1; /* NF_ACCEPT */
}

SEC("sk_lookup")
int skl_count(struct bpf_sk_lookup *ctx)
{
	count(S_SK_LOOKUP);
	return SK_PASS;
}

SEC("flow_dissector")
int fd_count(struct __sk_buff *skb)
{
	count(S_FLOW_DISSECTOR);
	return BPF_FLOW_DISSECTOR_CONTINUE;
}

/* netkit: the main program counts; two more to order around it. */
SEC("netkit/primary")
int nk_main(struct __sk_buff *skb)
{
	count(S_NETKIT);
	return NETKIT_NEXT;
}

SEC("netkit/primary")
int nk_second(struct __sk_buff *skb)
{
	return NETKIT_NEXT;
}

SEC("netkit/primary")
int nk_third(struct __sk_buff *skb)
{
	return NETKIT_NEXT;
}

char LICENSE[] SEC("license") = "GPL";
