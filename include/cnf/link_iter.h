/* SPDX-License-Identifier: GPL-2.0-only */
/* The record bpf/link_iter.bpf.c writes for every bpf_link, read back by
 * src/live.c. Shared by the BPF program and user space, so it uses only
 * the UAPI integer types. The layout is versioned by the hash of the
 * embedded BPF object (the pin name), not by a field. */
#pragma once

#include <linux/types.h>

struct cnf_link_rec {
	__u32 link_id;
	__u32 link_type;        /* enum bpf_link_type */
	__u32 prog_id;          /* 0 for links without a program (struct_ops) */
	__u32 prog_type;        /* enum bpf_prog_type */
	__u32 attach_type;      /* xdp, tcx, netkit, cgroup and netns links; else 0 */
	__u32 ifindex;          /* xdp, tcx, netkit; 0 once the device is gone */
	__u64 netns_ino;        /* device's netns (xdp, tcx, netkit) or the netns link's */
	__u64 cgroup_id;        /* cgroup links: kernfs id of the cgroup */
	char prog_name[16];     /* prog->aux->name, NUL-padded */
};

#define CNF_LINK_REC_SIZE 56

_Static_assert(sizeof(struct cnf_link_rec) == CNF_LINK_REC_SIZE,
	       "struct cnf_link_rec layout changed");
