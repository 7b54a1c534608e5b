// SPDX-License-Identifier: GPL-2.0-only
/* Tracing programs that test_hook_fentry.sh attaches with bpftool (prog
 * loadall ... autoattach) next to the tool's fentry program on
 * do_unlinkat: the fentry one is on the same hook and must be listed as
 * foreign by status; the fexit one on the same function is another hook. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("fentry/do_unlinkat")
int fe_foreign(void *ctx)
{
	return 0;
}

SEC("fexit/do_unlinkat")
int fx_foreign(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
