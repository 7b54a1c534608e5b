// SPDX-License-Identifier: GPL-2.0-only
/* LSM programs that test_hook_lsm.sh attaches with bpftool (prog loadall
 * ... autoattach) next to the tool's program on file_open: the file_open
 * one is on the same hook and must be listed as foreign by status; the
 * file_permission one is another hook. Both allow everything. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("lsm/file_open")
int lsm_foreign(void *ctx)
{
	return 0;
}

SEC("lsm/file_permission")
int lsm_other(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
