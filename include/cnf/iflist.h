/* SPDX-License-Identifier: GPL-2.0-only */
/* The interfaces of the current network namespace, with the XDP programs
 * attached to each, from one RTM_GETLINK dump. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <net/if.h>

enum { IFACE_XDP_DRV, IFACE_XDP_SKB, IFACE_XDP_HW, IFACE_XDP__COUNT };

struct iface {
	char name[IF_NAMESIZE];
	int ifindex;
	uint32_t xdp_prog_id[IFACE_XDP__COUNT]; /* native, generic, offload; 0: none */
};

struct iface_list {
	struct iface *v;              /* in the kernel's order (by ifindex) */
	size_t count;
};

/* Lists the interfaces of the calling thread's network namespace. Returns
 * 0 or a negative errno. */
int iface_list_read(struct iface_list *ret);
void iface_list_free(struct iface_list *l);
