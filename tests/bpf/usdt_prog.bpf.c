// SPDX-License-Identifier: GPL-2.0-only
/* A USDT program: libbpf loads it for uprobe_multi links where the kernel
 * has them, so it does not fit a single-probe `uprobe` hook. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("usdt")
int usdt_hit(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
