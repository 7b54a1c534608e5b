// SPDX-License-Identifier: GPL-2.0-only
/* A tracepoint program. Tests use it where it does not belong (on an xdp
 * hook) to check that a program whose type does not fit the hook is
 * refused before anything is attached. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int tp_openat(void *ctx)
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&counters, &key);

	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
