// SPDX-License-Identifier: GPL-2.0-only
/* iter/bpf_link: one struct cnf_link_rec per link on the host.
 *
 * No vmlinux.h: the few kernel structs read here are declared below with
 * preserve_access_index, so libbpf relocates every field against the
 * running kernel's BTF (CO-RE). Types and fields that only some kernels
 * have are read behind bpf_core_type_exists()/bpf_core_field_exists(), so
 * the program also loads where they are missing:
 *  - tcx_link (6.6+) and netkit_link (6.7+, and only with CONFIG_NETKIT);
 *  - bpf_link.attach_type (6.17+), which replaced tcx_link.location,
 *    netkit_link.location, bpf_cgroup_link.type and bpf_netns_link.type.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "cnf/link_iter.h"

#define __core __attribute__((preserve_access_index))

struct bpf_iter_meta {
	struct seq_file *seq;
} __core;

struct bpf_iter__bpf_link {
	struct bpf_iter_meta *meta;
	struct bpf_link *link;
} __core;

struct bpf_prog_aux {
	__u32 id;
	char name[16];
} __core;

struct bpf_prog {
	enum bpf_prog_type type;
	struct bpf_prog_aux *aux;
} __core;

struct bpf_link {
	__u32 id;
	enum bpf_link_type type;
	struct bpf_prog *prog;
	enum bpf_attach_type attach_type;
} __core;

struct ns_common {
	unsigned int inum;
} __core;

struct net {
	struct ns_common ns;
} __core;

typedef struct {
	struct net *net;
} __core possible_net_t;

struct net_device {
	int ifindex;
	possible_net_t nd_net;
} __core;

struct kernfs_node {
	__u64 id;
} __core;

struct cgroup {
	struct kernfs_node *kn;
} __core;

struct bpf_xdp_link {
	struct bpf_link link;
	struct net_device *dev;
} __core;

struct tcx_link {
	struct bpf_link link;
	struct net_device *dev;
	__u32 location;
} __core;

struct netkit_link {
	struct bpf_link link;
	struct net_device *dev;
	__u32 location;
} __core;

struct bpf_cgroup_link {
	struct bpf_link link;
	struct cgroup *cgroup;
	enum bpf_attach_type type;
} __core;

struct bpf_netns_link {
	struct bpf_link link;
	enum bpf_attach_type type;
	struct net *net;
} __core;

char LICENSE[] SEC("license") = "GPL";

static __always_inline __u64 net_ino(const struct net *net)
{
	if (!net)
		return 0;
	return BPF_CORE_READ(net, ns.inum);
}

static __always_inline void fill_dev(struct cnf_link_rec *rec, const struct net_device *dev)
{
	if (!dev)
		return;
	rec->ifindex = BPF_CORE_READ(dev, ifindex);
	if (bpf_core_field_exists(dev->nd_net.net))
		rec->netns_ino = net_ino(BPF_CORE_READ(dev, nd_net.net));
}

SEC("iter/bpf_link")
int cnf_link_iter(struct bpf_iter__bpf_link *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct bpf_link *link = ctx->link;
	struct cnf_link_rec rec = {};
	struct bpf_prog *prog;
	int have_at;

	if (!link)
		return 0;

	rec.link_id = BPF_CORE_READ(link, id);
	rec.link_type = BPF_CORE_READ(link, type);
	prog = BPF_CORE_READ(link, prog);
	if (prog) {
		rec.prog_type = BPF_CORE_READ(prog, type);
		rec.prog_id = BPF_CORE_READ(prog, aux, id);
		BPF_CORE_READ_INTO(&rec.prog_name, prog, aux, name);
	}

	have_at = bpf_core_field_exists(link->attach_type);

	switch (rec.link_type) {
	case BPF_LINK_TYPE_XDP: {
		struct bpf_xdp_link *l = (void *)link;

		rec.attach_type = BPF_XDP;
		fill_dev(&rec, BPF_CORE_READ(l, dev));
		break;
	}
	case BPF_LINK_TYPE_TCX:
		if (bpf_core_type_exists(struct tcx_link)) {
			struct tcx_link *l = (void *)link;

			fill_dev(&rec, BPF_CORE_READ(l, dev));
			if (have_at)
				rec.attach_type = BPF_CORE_READ(link, attach_type);
			else if (bpf_core_field_exists(l->location))
				rec.attach_type = BPF_CORE_READ(l, location);
		}
		break;
	case BPF_LINK_TYPE_NETKIT:
		if (bpf_core_type_exists(struct netkit_link)) {
			struct netkit_link *l = (void *)link;

			fill_dev(&rec, BPF_CORE_READ(l, dev));
			if (have_at)
				rec.attach_type = BPF_CORE_READ(link, attach_type);
			else if (bpf_core_field_exists(l->location))
				rec.attach_type = BPF_CORE_READ(l, location);
		}
		break;
	case BPF_LINK_TYPE_CGROUP: {
		struct bpf_cgroup_link *l = (void *)link;
		struct cgroup *cg = BPF_CORE_READ(l, cgroup);

		if (cg)
			rec.cgroup_id = BPF_CORE_READ(cg, kn, id);
		if (have_at)
			rec.attach_type = BPF_CORE_READ(link, attach_type);
		else if (bpf_core_field_exists(l->type))
			rec.attach_type = BPF_CORE_READ(l, type);
		break;
	}
	case BPF_LINK_TYPE_NETNS: {
		struct bpf_netns_link *l = (void *)link;

		rec.netns_ino = net_ino(BPF_CORE_READ(l, net));
		if (have_at)
			rec.attach_type = BPF_CORE_READ(link, attach_type);
		else if (bpf_core_field_exists(l->type))
			rec.attach_type = BPF_CORE_READ(l, type);
		break;
	}
	default:
		break;
	}

	bpf_seq_write(seq, &rec, sizeof(rec));
	return 0;
}
