// SPDX-License-Identifier: GPL-2.0-only
/* kprobe programs that test_hook_kretprobe.sh attaches with bpftool (prog
 * loadall ... autoattach) next to the tool's kretprobe on do_unlinkat:
 * the return probe is on the same hook and must be listed as foreign by
 * status, the entry probe is not. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("kretprobe/do_unlinkat")
int krp_foreign(void *ctx)
{
	return 0;
}

SEC("kprobe/do_unlinkat")
int kp_foreign(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
