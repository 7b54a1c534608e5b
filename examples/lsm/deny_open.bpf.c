// SPDX-License-Identifier: GPL-2.0-only
/* lsm example: refuse opening one file (by inode number and device, set
 * with config:), count the refusals. Needs "bpf" among the active LSMs. */
#include <linux/bpf.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define EPERM 1

/* The fields read from the kernel's structs, relocated at load (CO-RE). */
struct super_block { __u32 s_dev; } __attribute__((preserve_access_index));
struct inode { unsigned long i_ino; struct super_block *i_sb; } __attribute__((preserve_access_index));
struct file { struct inode *f_inode; } __attribute__((preserve_access_index));

const volatile __u64 deny_ino = 0;   /* 0: deny nothing */
const volatile __u32 deny_dev = 0;   /* the kernel's dev_t: major << 20 | minor */

__u64 denied;

SEC("lsm/file_open")
int BPF_PROG(deny_open, struct file *file)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);

	if (!deny_ino || BPF_CORE_READ(inode, i_ino) != deny_ino ||
	    BPF_CORE_READ(inode, i_sb, s_dev) != deny_dev)
		return 0;
	__sync_fetch_and_add(&denied, 1);
	return -EPERM;
}

char LICENSE[] SEC("license") = "GPL";
