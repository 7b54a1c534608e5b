/* SPDX-License-Identifier: GPL-2.0-only */
/* The interfaces of the current network namespace, with their XDP
 * programs, from one RTM_GETLINK dump. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <net/if.h>

struct iface {
	char name[IF_NAMESIZE];
	int ifindex;
	uint32_t xdp_prog_id[3];      /* native, generic, offload; 0: none */
};

struct iface_list {
	struct iface *v;              /* in the kernel's order (by ifindex) */
	size_t count;
};

/* One dump, read with a 32 KiB buffer (many interfaces per recvmsg) and
 * without statistics (RTEXT_FILTER_SKIP_STATS: the kernel skips reading
 * every device's counters). Returns 0 or a negative errno. */
int iface_list_read(struct iface_list *ret);
void iface_list_free(struct iface_list *l);
