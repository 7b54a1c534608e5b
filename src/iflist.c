// SPDX-License-Identifier: GPL-2.0-only
/* Interfaces and their XDP programs: one RTM_GETLINK dump, read with
 * libmnl.
 *
 * The dump answers both questions a run asks about interfaces: which exist
 * (names and indexes, for `interface:` names and globs) and which XDP
 * programs run on each (the foreign-program check before an XDP attach,
 * `status`). libbpf's bpf_xdp_query() answers the second for one interface
 * by dumping every interface of the namespace, so asking it per interface
 * costs N dumps of N interfaces; glibc's if_nameindex() reads the same dump
 * with a 4 KiB buffer and has the kernel fill every device's counters. Here:
 * one dump, a 32 KiB buffer (the kernel then packs about 25 interfaces per
 * message), no statistics. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "cnf/iflist.h"
#include "cnf/util.h"

#define DUMP_BUF 32768
/* A dump the kernel marks interrupted (NLM_F_DUMP_INTR: interfaces came
 * or went meanwhile) is read again, this many times at most. */
#define DUMP_TRIES 5

struct dump {
	struct iface_list l;
	size_t cap;
};

static void mnl_socket_closep(struct mnl_socket **nl)
{
	if (*nl)
		mnl_socket_close(*nl);
}

/* IFLA_XDP's nested attributes: the mode summary and the program ids. */
static int xdp_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(a);

	switch (type) {
	case IFLA_XDP_ATTACHED:
		if (mnl_attr_validate(a, MNL_TYPE_U8) < 0)
			return MNL_CB_ERROR;
		break;
	case IFLA_XDP_PROG_ID:
	case IFLA_XDP_DRV_PROG_ID:
	case IFLA_XDP_SKB_PROG_ID:
	case IFLA_XDP_HW_PROG_ID:
		if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
			return MNL_CB_ERROR;
		break;
	default:
		return MNL_CB_OK; /* not needed, or newer than these headers */
	}
	tb[type] = a;
	return MNL_CB_OK;
}

static int link_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(a);

	switch (type) {
	case IFLA_IFNAME:
		if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
			return MNL_CB_ERROR;
		break;
	case IFLA_XDP:
		if (mnl_attr_validate(a, MNL_TYPE_NESTED) < 0)
			return MNL_CB_ERROR;
		break;
	default:
		return MNL_CB_OK;
	}
	tb[type] = a;
	return MNL_CB_OK;
}

static int xdp_parse(const struct nlattr *xdp, struct iface *it)
{
	const struct nlattr *tb[IFLA_XDP_MAX + 1] = {};
	static const struct {
		uint16_t attr;
		uint8_t mode;
	} modes[IFACE_XDP__COUNT] = {
		[IFACE_XDP_DRV] = { IFLA_XDP_DRV_PROG_ID, XDP_ATTACHED_DRV },
		[IFACE_XDP_SKB] = { IFLA_XDP_SKB_PROG_ID, XDP_ATTACHED_SKB },
		[IFACE_XDP_HW] = { IFLA_XDP_HW_PROG_ID, XDP_ATTACHED_HW },
	};
	uint8_t attached;

	if (mnl_attr_parse_nested(xdp, xdp_attr_cb, tb) < 0)
		return MNL_CB_ERROR;
	attached = tb[IFLA_XDP_ATTACHED] ? mnl_attr_get_u8(tb[IFLA_XDP_ATTACHED])
					 : XDP_ATTACHED_NONE;
	for (size_t i = 0; i < IFACE_XDP__COUNT; i++) {
		if (tb[modes[i].attr])
			it->xdp_prog_id[i] = mnl_attr_get_u32(tb[modes[i].attr]);
		/* Kernels that report one program only by IFLA_XDP_PROG_ID
		 * and the mode it runs in. */
		else if (tb[IFLA_XDP_PROG_ID] && attached == modes[i].mode)
			it->xdp_prog_id[i] = mnl_attr_get_u32(tb[IFLA_XDP_PROG_ID]);
	}
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[IFLA_MAX + 1] = {};
	struct dump *d = data;
	const struct ifinfomsg *ifm;
	struct iface *it;

	if (nlh->nlmsg_type != RTM_NEWLINK ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifm))
		return MNL_CB_OK;
	ifm = mnl_nlmsg_get_payload(nlh);
	if (mnl_attr_parse(nlh, sizeof(*ifm), link_attr_cb, tb) < 0)
		return MNL_CB_ERROR;
	if (!tb[IFLA_IFNAME] || ifm->ifi_index <= 0)
		return MNL_CB_OK;
	if (grow_array((void **)&d->l.v, &d->cap, d->l.count + 1, sizeof(*d->l.v)) < 0) {
		errno = ENOMEM;
		return MNL_CB_ERROR;
	}
	it = &d->l.v[d->l.count];
	memset(it, 0, sizeof(*it));
	snprintf(it->name, sizeof(it->name), "%s", mnl_attr_get_str(tb[IFLA_IFNAME]));
	it->ifindex = ifm->ifi_index;
	if (tb[IFLA_XDP] && xdp_parse(tb[IFLA_XDP], it) < 0)
		return MNL_CB_ERROR;
	d->l.count++;
	return MNL_CB_OK;
}

/* One dump on a fresh socket. Returns 0, -EINTR when the kernel marked
 * the dump interrupted, or another negative errno. */
static int dump_once(char *buf, struct dump *d)
{
	struct mnl_socket *nl _cleanup_(mnl_socket_closep) = NULL;
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;
	unsigned int seq = (unsigned int)time(NULL), portid;
	int ret;

	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	portid = mnl_socket_get_portid(nl);

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	/* Names and XDP programs only: the kernel need not read counters. */
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;

	do {
		ssize_t n = mnl_socket_recvfrom(nl, buf, DUMP_BUF);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		/* MNL_CB_STOP at NLMSG_DONE; errno EINTR when the dump was
		 * interrupted, the kernel's error for NLMSG_ERROR. */
		ret = mnl_cb_run(buf, (size_t)n, seq, portid, link_cb, d);
	} while (ret > 0);
	if (ret < 0)
		return errno ? -errno : -EIO;
	return 0;
}

int iface_list_read(struct iface_list *ret)
{
	_cleanup_free_ char *buf = malloc(DUMP_BUF);
	int err = -EINTR;

	*ret = (struct iface_list){};
	if (!buf)
		return -ENOMEM;
	for (int i = 0; i < DUMP_TRIES && err == -EINTR; i++) {
		struct dump d = {};

		err = dump_once(buf, &d);
		if (err < 0) {
			iface_list_free(&d.l);
			continue;
		}
		*ret = d.l;
	}
	return err;
}

void iface_list_free(struct iface_list *l)
{
	free(l->v);
	*l = (struct iface_list){};
}
