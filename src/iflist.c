// SPDX-License-Identifier: GPL-2.0-only
/* Interfaces and their XDP programs: one RTM_GETLINK dump.
 *
 * glibc's if_nameindex() reads the same dump with a 4 KiB buffer, so one
 * recvmsg() per interface or two, and asks for every counter of every
 * device; libbpf's bpf_xdp_query() dumps every interface of the namespace
 * to answer for one (plus two generic-netlink round trips): per-interface
 * queries made the XDP preflight quadratic in the number of interfaces. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "cnf/iflist.h"
#include "cnf/util.h"

#define DUMP_BUF 32768

static void parse_xdp(struct rtattr *xdp, struct iface *it)
{
	int len = (int)RTA_PAYLOAD(xdp);
	uint8_t mode = 0;
	uint32_t one = 0;

	for (struct rtattr *a = RTA_DATA(xdp); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		switch (a->rta_type) {
		case IFLA_XDP_ATTACHED:
			mode = *(uint8_t *)RTA_DATA(a);
			break;
		case IFLA_XDP_PROG_ID:
			one = *(uint32_t *)RTA_DATA(a);
			break;
		case IFLA_XDP_DRV_PROG_ID:
			it->xdp_prog_id[0] = *(uint32_t *)RTA_DATA(a);
			break;
		case IFLA_XDP_SKB_PROG_ID:
			it->xdp_prog_id[1] = *(uint32_t *)RTA_DATA(a);
			break;
		case IFLA_XDP_HW_PROG_ID:
			it->xdp_prog_id[2] = *(uint32_t *)RTA_DATA(a);
			break;
		}
	}
	/* One program: only IFLA_XDP_PROG_ID, with the mode beside it. */
	if (mode == XDP_ATTACHED_DRV)
		it->xdp_prog_id[0] = one;
	else if (mode == XDP_ATTACHED_SKB)
		it->xdp_prog_id[1] = one;
	else if (mode == XDP_ATTACHED_HW)
		it->xdp_prog_id[2] = one;
}

static int parse_link(struct nlmsghdr *nh, struct iface_list *l, size_t *cap)
{
	struct ifinfomsg *ifm = NLMSG_DATA(nh);
	int len = (int)IFLA_PAYLOAD(nh);
	struct iface *it;

	if (grow_array((void **)&l->v, cap, l->count + 1, sizeof(*l->v)) < 0)
		return -ENOMEM;
	it = &l->v[l->count];
	memset(it, 0, sizeof(*it));
	it->ifindex = ifm->ifi_index;
	for (struct rtattr *a = IFLA_RTA(ifm); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_IFNAME)
			snprintf(it->name, sizeof(it->name), "%s", (char *)RTA_DATA(a));
		else if (a->rta_type == IFLA_XDP)
			parse_xdp(a, it);
	}
	if (it->name[0])
		l->count++;
	return 0;
}

int iface_list_read(struct iface_list *ret)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifm;
		struct rtattr ext;
		uint32_t ext_mask;
	} req = {
		.nh = {
			.nlmsg_len = sizeof(req),
			.nlmsg_type = RTM_GETLINK,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			.nlmsg_seq = 1,
		},
		.ifm = { .ifi_family = AF_UNSPEC },
		.ext = { .rta_len = RTA_LENGTH(sizeof(uint32_t)), .rta_type = IFLA_EXT_MASK },
		.ext_mask = RTEXT_FILTER_SKIP_STATS,
	};
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	struct iface_list l = {};
	size_t cap = 0;
	int err = 0;

	*ret = (struct iface_list){};
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	buf = malloc(DUMP_BUF);
	if (!buf)
		return -ENOMEM;
	for (bool done = false; !done && !err;) {
		ssize_t n = recv(fd, buf, DUMP_BUF, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (n == 0)
			break;
		for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n);
		     nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (nh->nlmsg_type == NLMSG_ERROR) {
				err = ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
				err = err ? err : -EIO;
				break;
			}
			if (nh->nlmsg_type == RTM_NEWLINK && (err = parse_link(nh, &l, &cap)) < 0)
				break;
		}
	}
	if (err < 0) {
		iface_list_free(&l);
		return err;
	}
	*ret = l;
	return 0;
}

void iface_list_free(struct iface_list *l)
{
	free(l->v);
	*l = (struct iface_list){};
}
