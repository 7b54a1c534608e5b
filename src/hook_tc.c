// SPDX-License-Identifier: GPL-2.0-only
/* tc: legacy clsact qdisc + cls_bpf filter (direct action). There is no
 * link: the program is pinned instead, and the filter is found again by
 * interface, parent, handle and priority. Also the stand-in for tcx on
 * kernels without it. */
#include <net/if.h>
#include <time.h>
#include <libmnl/libmnl.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf.h>

#include "cnf/hooks.h"
#include "cnf/live.h"
#include "cnf/util.h"

#define TC_DEFAULT_HANDLE 1

static int tc_prepare(const struct cnf_attachment *a, struct bpf_program *prog,
		      struct cnf_target *t, char *why, size_t whylen)
{
	if (bpf_program__type(prog) != BPF_PROG_TYPE_SCHED_CLS) {
		snprintf(why, whylen, "program '%s' is of type %s, hook tc needs sched_cls (SEC(\"tc\"))",
			 bpf_program__name(prog), libbpf_bpf_prog_type_str(bpf_program__type(prog)));
		return -EINVAL;
	}
	t->dir = a->direction && streq(a->direction, "egress") ? TC_DIR_EGRESS : TC_DIR_INGRESS;
	t->tc_priority = a->priority ? (uint32_t)*a->priority : 0;
	t->tc_handle = a->handle ? (uint32_t)*a->handle : TC_DEFAULT_HANDLE;
	return 0;
}

static void tc_describe(const struct cnf_target *t, char *buf, size_t len)
{
	char prio[16] = "auto";

	if (t->tc_priority)
		snprintf(prio, sizeof(prio), "%u", t->tc_priority);
	snprintf(buf, len, "dir=%s prio=%s handle=0x%x", t->dir == TC_DIR_EGRESS ? "egress" : "ingress",
		 prio, t->tc_handle);
}

static void hook_init(struct bpf_tc_hook *h, int ifindex, uint32_t parent)
{
	memset(h, 0, sizeof(*h));
	h->sz = sizeof(*h);
	h->ifindex = ifindex;
	h->attach_point = parent == BPF_TC_EGRESS ? BPF_TC_EGRESS : BPF_TC_INGRESS;
}

static int tc_query(int ifindex, uint32_t parent, uint32_t handle, uint32_t prio,
		    uint32_t *ret_prog_id)
{
	struct bpf_tc_hook h;
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = handle, .priority = prio);

	hook_init(&h, ifindex, parent);
	*ret_prog_id = 0;
	if (bpf_tc_query(&h, &o) < 0) {
		int err = errno;

		/* No clsact qdisc, no such filter or no such interface:
		 * nothing attached there. */
		if (err == ENOENT || err == EINVAL || err == ENODEV)
			return 0;
		return -err;
	}
	*ret_prog_id = o.prog_id;
	return 0;
}

const char *const tc_direction_names[] = { "ingress", "egress", NULL };

static const struct hook_key_rule tc_rules[] = {
	{ AK_DIRECTION, tc_direction_names, 0, 0 },
	{ AK_PRIORITY, NULL, 1, 65535 },
	{ AK_HANDLE, NULL, 1, 0xffffffffLL },
	{ AK__COUNT, NULL, 0, 0 },
};

static enum hook_slot_kind tc_slot(const struct cnf_target *t, char *buf, size_t len)
{
	char where[CNF_DESC_MAX];

	hook_net_where(t, where, sizeof(where));
	snprintf(buf, len, "tc %s dir=%s prio=%u handle=0x%x", where,
		 t->dir == TC_DIR_EGRESS ? "egress" : "ingress", t->tc_priority, t->tc_handle);
	return HOOK_SLOT_ONE;
}

static int tc_preflight(const struct cnf_instance *w, const struct preflight_ctx *ctx,
			char *why, size_t whylen)
{
	char hook[CNF_DESC_MAX + 96];
	uint32_t id;
	int r;

	if (!w->t.tc_priority)
		return 0; /* the kernel picks a free priority */
	r = tc_query(w->t.ifindex, w->t.dir == TC_DIR_EGRESS ? BPF_TC_EGRESS : BPF_TC_INGRESS,
		     w->t.tc_handle, w->t.tc_priority, &id);
	if (r < 0) {
		snprintf(why, whylen, "cannot query tc filters on %s: %s", w->target_text,
			 strerror(-r));
		return r;
	}
	snprintf(hook, sizeof(hook), "the tc filter place of %s %s (prio %u, handle 0x%x)",
		 w->target_text, w->t.dir == TC_DIR_EGRESS ? "egress" : "ingress",
		 w->t.tc_priority, w->t.tc_handle);
	return preflight_exclusive(w, ctx, &id, 1, hook, why, whylen);
}

static int tc_attach(const struct cnf_instance *w, int prog_fd, const struct attach_args *args,
		     struct attach_result *res)
{
	struct bpf_tc_hook h;
	uint32_t parent = w->t.dir == TC_DIR_EGRESS ? BPF_TC_EGRESS : BPF_TC_INGRESS;
	LIBBPF_OPTS(bpf_tc_opts, o, .prog_fd = prog_fd, .handle = w->t.tc_handle,
		    .priority = w->t.tc_priority);
	int fd;

	hook_init(&h, w->t.ifindex, parent);
	/* clsact may exist already (another filter, another tool): fine.
	 * One the run creates is its own, removed with its last filter. */
	if (bpf_tc_hook_create(&h) == 0)
		res->qdisc_created = true;
	else if (errno != EEXIST)
		return -errno;
	if (bpf_tc_attach(&h, &o) < 0) {
		int err = -errno;

		if (res->qdisc_created)
			tc_clsact_release(w->t.ifindex);
		res->qdisc_created = false;
		return err;
	}
	res->tc_priority = o.priority;
	res->tc_handle = o.handle;
	res->tc_parent = parent;
	res->note = "tc";
	/* The caller pins what we return: the program itself. */
	fd = dup(prog_fd);
	return fd < 0 ? -errno : fd;
}

static int tc_update(const struct cnf_instance *w, const struct cnf_record *rec, int pin_fd,
		     int prog_fd, uint32_t old_prog_id,
		      const struct attach_args *args, struct attach_result *res)
{
	struct bpf_tc_hook h;
	LIBBPF_OPTS(bpf_tc_opts, o, .prog_fd = prog_fd, .handle = rec->tc_handle,
		    .priority = rec->tc_priority, .flags = BPF_TC_F_REPLACE);

	hook_init(&h, w->t.ifindex, rec->tc_parent);
	/* cls_bpf swaps the program of the existing filter: no gap. */
	if (bpf_tc_attach(&h, &o) < 0)
		return -errno;
	res->tc_priority = o.priority;
	res->tc_handle = o.handle;
	res->tc_parent = rec->tc_parent;
	res->note = "tc";
	return 0;
}

static int tc_observe(const struct cnf_record *rec, uint32_t *ret_prog_id)
{
	/* Where the filter was made: the recorded interface index (the
	 * caller has entered the netns). The planner compares it with the
	 * interface the name resolves to now (renamed, recreated). */
	*ret_prog_id = 0;
	if (rec->ifindex <= 0)
		return 0;
	return tc_query(rec->ifindex, rec->tc_parent, rec->tc_handle, rec->tc_priority, ret_prog_id);
}

static int tc_detach(const struct cnf_record *rec, int pin_fd)
{
	struct bpf_tc_hook h;
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = rec->tc_handle, .priority = rec->tc_priority);
	uint32_t id;
	int r = tc_observe(rec, &id);

	if (r < 0)
		return r;
	/* Only our own filter: someone may have put theirs in its place. */
	if (!id || id != rec->prog_id)
		return 0;
	hook_init(&h, rec->ifindex, rec->tc_parent);
	if (bpf_tc_detach(&h, &o) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* ---- the clsact qdisc the tool created ---- */

static int count_filter_cb(const struct nlmsghdr *nlh, void *data)
{
	if (nlh->nlmsg_type == RTM_NEWTFILTER)
		(*(size_t *)data)++;
	return MNL_CB_OK;
}

/* How many filters of any kind the clsact qdisc of `ifindex` holds on
 * `parent` (one RTM_GETTFILTER dump); a negative errno. */
static int tc_filters_count(int ifindex, uint32_t parent, size_t *ret)
{
	_cleanup_free_ char *buf = malloc(MNL_SOCKET_BUFFER_SIZE);
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct tcmsg *tcm;
	unsigned int seq = (unsigned int)time(NULL), portid;
	int ret_cb = 0, err = 0;

	*ret = 0;
	if (!buf)
		return -ENOMEM;
	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETTFILTER;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = ifindex;
	tcm->tcm_parent = parent;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		err = -errno;
		goto out;
	}
	do {
		ssize_t n = mnl_socket_recvfrom(nl, buf, MNL_SOCKET_BUFFER_SIZE);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		ret_cb = mnl_cb_run(buf, (size_t)n, seq, portid, count_filter_cb, ret);
	} while (ret_cb > 0);
	if (ret_cb < 0)
		err = errno ? -errno : -EIO;
out:
	mnl_socket_close(nl);
	return err;
}

/* The mark of a clsact qdisc the tool created: an empty directory
 * <bpffs>/_cnf/clsact/<netns inode>-<ifindex>. */
static int clsact_mark_path(char *buf, size_t len, const char *bpffs, uint64_t netns_ino,
			    int ifindex)
{
	return snprintf(buf, len, "%s/_cnf/clsact/%llu-%d", bpffs, (unsigned long long)netns_ino,
			ifindex) >= (int)len ? -ENAMETOOLONG : 0;
}

int tc_clsact_mark(const char *bpffs, uint64_t netns_ino, int ifindex)
{
	char path[PATH_MAX];
	int err = clsact_mark_path(path, sizeof(path), bpffs, netns_ino, ifindex);

	if (err == 0)
		err = mkdir_p(path, 0700);
	return err;
}

bool tc_clsact_marked(const char *bpffs, uint64_t netns_ino, int ifindex)
{
	char path[PATH_MAX];

	return clsact_mark_path(path, sizeof(path), bpffs, netns_ino, ifindex) == 0 &&
	       access(path, F_OK) == 0;
}

void tc_clsact_unmark(const char *bpffs, uint64_t netns_ino, int ifindex)
{
	char path[PATH_MAX];

	if (clsact_mark_path(path, sizeof(path), bpffs, netns_ino, ifindex) < 0)
		return;
	rmdir(path);
	*strrchr(path, '/') = '\0';
	rmdir(path); /* once empty */
}

int tc_clsact_release(int ifindex)
{
	struct bpf_tc_hook h;
	size_t in = 0, eg = 0;
	int err;

	err = tc_filters_count(ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS), &in);
	if (err == 0)
		err = tc_filters_count(ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS), &eg);
	if (err == -ENODEV || err == -EINVAL || err == -ENOENT)
		return 1; /* the interface or its qdisc is gone already */
	if (err < 0)
		return err;
	if (in || eg)
		return 0; /* someone's filters are still there */
	hook_init(&h, ifindex, BPF_TC_INGRESS);
	h.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
	if (bpf_tc_hook_destroy(&h) < 0 && errno != ENOENT && errno != EINVAL)
		return -errno;
	return 1;
}

static const char *tc_probed(const struct probe_result *p)
{
	return p->tc_legacy ? "tc" : NULL;
}

const struct hook_ops hook_tc_ops = {
	.kind = HOOK_TC,
	.name = "tc",
	.probed = tc_probed,
	.keys = {
		.keys = AK_BIT(AK_PROGRAM) | AK_NETDEV | AK_BIT(AK_DIRECTION) | AK_BIT(AK_PRIORITY) | AK_BIT(AK_HANDLE),
		.required = AK_BIT(AK_PROGRAM) | AK_BIT(AK_DIRECTION),
		.rules = tc_rules,
	},
	.caps = { .link_update = true /* BPF_TC_F_REPLACE */, .multi_prog = true, .shared_prog = true,
		  .pin_is_prog = true },
	.network = true,
	.prepare = tc_prepare,
	.describe = tc_describe,
	.slot = tc_slot,
	.preflight = tc_preflight,
	.attach = tc_attach,
	.update = tc_update,
	.detach = tc_detach,
	.observe = tc_observe,
};
