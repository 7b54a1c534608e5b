// SPDX-License-Identifier: GPL-2.0-only
/* fentry/fexit example: time file deletions (do_unlinkat), a
 * log2 histogram of nanoseconds, through BPF trampolines. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);            /* pid/tid */
	__type(value, __u64);          /* entry time */
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} hist SEC(".maps");

SEC("fentry/do_unlinkat")
int BPF_PROG(unlink_start)
{
	__u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();

	bpf_map_update_elem(&start, &id, &now, BPF_ANY);
	return 0;
}

SEC("fexit/do_unlinkat")
int BPF_PROG(unlink_done)
{
	__u64 id = bpf_get_current_pid_tgid(), *t = bpf_map_lookup_elem(&start, &id), d, *n;
	__u32 slot = 0;

	if (!t)
		return 0;
	d = bpf_ktime_get_ns() - *t;
	bpf_map_delete_elem(&start, &id);
	while (d > 1 && slot < 63) {
		d >>= 1;
		slot++;
	}
	n = bpf_map_lookup_elem(&hist, &slot);
	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
