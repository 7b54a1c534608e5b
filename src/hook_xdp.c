// SPDX-License-Identifier: GPL-2.0-only
/* xdp: one program per interface and mode, attached through a bpf_link. */
#include <net/if.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/netdev.h>

#include "cnf/hooks.h"
#include "cnf/live.h"
#include "cnf/util.h"

/* `mode:`'s words, by enum xdp_mode: one table to parse and to print. */
static const char *const xdp_mode_names[] = {
	[XDP_MODE_AUTO] = "auto",
	[XDP_MODE_NATIVE] = "native",
	[XDP_MODE_GENERIC] = "generic",
	[XDP_MODE_OFFLOAD] = "offload",
	NULL,
};

static const struct hook_key_rule xdp_rules[] = {
	{ AK_MODE, xdp_mode_names, 0, 0 },
	{ AK__COUNT, NULL, 0, 0 },
};

static const char *mode_name(enum xdp_mode m)
{
	return m <= XDP_MODE_OFFLOAD ? xdp_mode_names[m] : "?";
}

static int xdp_prepare(const struct cnf_attachment *a, struct bpf_program *prog,
		       struct cnf_target *t, char *why, size_t whylen)
{
	if (bpf_program__type(prog) != BPF_PROG_TYPE_XDP) {
		snprintf(why, whylen, "program '%s' is of type %s, hook xdp needs xdp",
			 bpf_program__name(prog), libbpf_bpf_prog_type_str(bpf_program__type(prog)));
		return -EINVAL;
	}
	t->attach_type = BPF_XDP;
	t->xdp_mode = XDP_MODE_AUTO;
	for (int m = XDP_MODE_AUTO; a->mode && m <= XDP_MODE_OFFLOAD; m++)
		if (streq(a->mode, xdp_mode_names[m]))
			t->xdp_mode = (enum xdp_mode)m;
	t->prog_bound = t->xdp_mode == XDP_MODE_OFFLOAD;
	/* Frags-aware programs are loaded as such by their section (xdp.frags). */
	bpf_program__set_expected_attach_type(prog, BPF_XDP);
	return 0;
}

static void xdp_describe(const struct cnf_target *t, char *buf, size_t len)
{
	snprintf(buf, len, "mode=%s", mode_name(t->xdp_mode));
}

/* The XDP programs on the target's interface: native, generic, offload.
 * The run lists every interface of a namespace once, with their XDP
 * programs (one netlink dump), before it changes anything; a target
 * resolved that way needs no query. libbpf's bpf_xdp_query() dumps every
 * interface of the namespace to answer for one: asked per target, N
 * dumps of N interfaces. */
static int xdp_prog_ids(const struct cnf_instance *w, uint32_t ids[3])
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (w->t.xdp_known) {
		memcpy(ids, w->t.xdp_prog_id, sizeof(w->t.xdp_prog_id));
		return 0;
	}
	if (bpf_xdp_query(w->t.ifindex, 0, &q) < 0)
		return -errno;
	ids[0] = q.drv_prog_id;
	ids[1] = q.skb_prog_id;
	ids[2] = q.hw_prog_id;
	return 0;
}

static enum hook_slot_kind xdp_slot(const struct cnf_target *t, char *buf, size_t len)
{
	char where[CNF_DESC_MAX];

	/* Native and generic exclude each other; offload is a place of its own. */
	hook_net_where(t, where, sizeof(where));
	snprintf(buf, len, "xdp%s %s", t->xdp_mode == XDP_MODE_OFFLOAD ? "-offload" : "", where);
	return HOOK_SLOT_ONE;
}

/* The kernel's word on what the device can do (netdev xdp-features,
 * Linux 6.3+): -EOPNOTSUPP with a reason when the mode cannot work.
 * Kernels without the features say nothing: the attach decides. */
static int xdp_mode_check(const struct cnf_instance *w, char *why, size_t whylen)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	uint64_t need;

	if (w->t.xdp_mode != XDP_MODE_NATIVE && w->t.xdp_mode != XDP_MODE_OFFLOAD)
		return 0;
	if (hook_kernel_has(BTF_KIND_ENUM, "netdev_xdp_act") != 1)
		return 0;
	if (bpf_xdp_query(w->t.ifindex, 0, &q) < 0) {
		snprintf(why, whylen, "cannot query XDP on %s: %s", w->target_text, strerror(errno));
		return -errno;
	}
	need = w->t.xdp_mode == XDP_MODE_NATIVE ? NETDEV_XDP_ACT_BASIC : NETDEV_XDP_ACT_HW_OFFLOAD;
	if (q.feature_flags & need)
		return 0;
	snprintf(why, whylen, "interface %s cannot run XDP in %s mode (its driver does not offer "
		 "it: xdp-features 0x%llx); use mode: %s", w->target_text, mode_name(w->t.xdp_mode),
		 (unsigned long long)q.feature_flags,
		 w->t.xdp_mode == XDP_MODE_NATIVE ? "generic (or auto)" : "native, generic or auto");
	return -EOPNOTSUPP;
}

static int xdp_preflight(const struct cnf_instance *w, const struct preflight_ctx *ctx,
			 char *why, size_t whylen)
{
	static const char *const modes[] = { "native", "generic", "offload" };
	uint32_t ids[3];
	int err = xdp_prog_ids(w, ids);

	if (err < 0) {
		snprintf(why, whylen, "cannot query XDP on %s: %s", w->target_text, strerror(-err));
		return err;
	}
	for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
		char hook[IF_NAMESIZE + CNF_DESC_MAX + 64];
		uint32_t id = ids[i];

		/* Offload sits beside native or generic, not in their place. */
		if ((i == 2) != (w->t.xdp_mode == XDP_MODE_OFFLOAD))
			continue;
		snprintf(hook, sizeof(hook), "XDP on interface %s (%s mode)", w->target_text, modes[i]);
		err = preflight_exclusive(w, ctx, &id, 1, hook, why, whylen);
		if (err < 0)
			return err;
	}
	return xdp_mode_check(w, why, whylen);
}

static int xdp_attach(const struct cnf_instance *w, int prog_fd, const struct attach_args *args,
		      struct attach_result *res)
{
	static const struct {
		enum xdp_mode mode;
		uint32_t flags;
		const char *name;
	} tries[] = {
		{ XDP_MODE_NATIVE, XDP_FLAGS_DRV_MODE, "native" },
		{ XDP_MODE_GENERIC, XDP_FLAGS_SKB_MODE, "generic" },
		{ XDP_MODE_OFFLOAD, XDP_FLAGS_HW_MODE, "offload" },
	};
	int err = -EINVAL;

	for (size_t i = 0; i < ARRAY_SIZE(tries); i++) {
		LIBBPF_OPTS(bpf_link_create_opts, o, .flags = tries[i].flags);
		int fd;

		if (w->t.xdp_mode == XDP_MODE_AUTO ? tries[i].mode == XDP_MODE_OFFLOAD
						   : tries[i].mode != w->t.xdp_mode)
			continue;
		fd = bpf_link_create(prog_fd, w->t.ifindex, BPF_XDP, &o);
		if (fd >= 0) {
			res->xdp_flags = tries[i].flags;
			res->note = tries[i].name;
			return fd;
		}
		err = -errno;
		/* auto: a driver without native XDP falls back to generic. */
		if (w->t.xdp_mode != XDP_MODE_AUTO || (err != -EOPNOTSUPP && err != -EINVAL))
			break;
	}
	return err;
}

static const char *xdp_record_note(const struct cnf_record *rec)
{
	return rec->xdp_flags == XDP_FLAGS_SKB_MODE ? "generic" :
	       rec->xdp_flags == XDP_FLAGS_HW_MODE ? "offload" : "native";
}

static int xdp_update(const struct cnf_instance *w, const struct cnf_record *rec, int pin_fd,
		      int prog_fd, uint32_t old_prog_id,
		      const struct attach_args *args, struct attach_result *res)
{
	res->xdp_flags = rec->xdp_flags;
	res->note = xdp_record_note(rec);
	return link_update_common(pin_fd, prog_fd, old_prog_id);
}

static int xdp_restore(const struct cnf_record *rec, int prog_fd)
{
	LIBBPF_OPTS(bpf_link_create_opts, o, .flags = rec->xdp_flags);
	char name[IF_NAMESIZE];
	size_t n = strcspn(rec->target, "@");
	int ifindex, fd;

	if (n >= sizeof(name))
		return -EINVAL;
	memcpy(name, rec->target, n);
	name[n] = '\0';
	ifindex = (int)if_nametoindex(name);
	if (!ifindex)
		return -ENODEV;
	fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &o);
	return fd < 0 ? -errno : fd;
}

static int xdp_detach(const struct cnf_record *rec, int pin_fd)
{
	return pin_fd >= 0 ? link_detach_common(pin_fd) : 0;
}

static int xdp_foreign(const struct cnf_instance *w, const uint32_t *own, size_t n_own,
		       struct foreign_prog **ret, size_t *ret_count)
{
	uint32_t ids[3];
	int err = xdp_prog_ids(w, ids);

	if (err < 0)
		return err;
	for (size_t i = 0; i < ARRAY_SIZE(ids); i++)
		if (ids[i] && !own_has(own, n_own, ids[i]))
			foreign_add(ret, ret_count, ids[i], 0);
	return 0;
}

static const char *xdp_probed(const struct probe_result *p)
{
	return p->xdp_link ? "link" : NULL;
}

const struct hook_ops hook_xdp_ops = {
	.kind = HOOK_XDP,
	.name = "xdp",
	.probed = xdp_probed,
	.note_key = "xdp_mode",
	.record_note = xdp_record_note,
	.keys = {
		.keys = AK_BIT(AK_PROGRAM) | AK_NETDEV | AK_BIT(AK_MODE),
		.required = AK_BIT(AK_PROGRAM),
		.rules = xdp_rules,
	},
	.caps = { .link_update = true, .multi_prog = false, .shared_prog = true },
	.link_type = BPF_LINK_TYPE_XDP,
	.network = true,
	.prepare = xdp_prepare,
	.describe = xdp_describe,
	.slot = xdp_slot,
	.preflight = xdp_preflight,
	.attach = xdp_attach,
	.update = xdp_update,
	.restore = xdp_restore,
	.detach = xdp_detach,
	.foreign = xdp_foreign,
};
