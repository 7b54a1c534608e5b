// SPDX-License-Identifier: GPL-2.0-only
/* The observed instances: the state root's records and pins checked
 * against the kernel (links by id from the live list, pins where needed,
 * legacy tc filters), foreign pins, program copies, and the declared
 * order of tcx links with the hook revisions the plan read. */
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <sched.h>
#include <time.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>

#include "cnf/config_diff.h"
#include "cnf/hooks.h"
#include "cnf/log.h"
#include "cnf/map_pins.h"
#include "cnf/reconcile.h"
#include "cnf/util.h"

#include "run_internal.h"

/* ---- observe ---- */

/* What kind of BPF object an fd is, from its anonymous inode's name
 * ("bpf_link" when created, "bpf-link" when opened from a pin). */
static const char *fd_bpf_kind(int fd)
{
	char path[64], target[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return "object";
	target[n] = '\0';
	if (streq(target, "anon_inode:bpf_link") || streq(target, "anon_inode:bpf-link"))
		return "link";
	if (streq(target, "anon_inode:bpf-prog") || streq(target, "anon_inode:bpf_prog"))
		return "prog";
	if (streq(target, "anon_inode:bpf-map") || streq(target, "anon_inode:bpf_map"))
		return "map";
	return "object";
}

/* The link type a family's links have; 0 where it is not checked. */
static uint32_t family_link_type(uint32_t hook)
{
	const struct hook_ops *ops = hook_ops_get((enum hook_kind)hook);

	return ops ? ops->link_type : 0;
}

/* Does the live link fit what the record says it is (type, attach
 * type)? A link id the kernel reused for another link does not. */
static bool link_fits_record(const struct live_link *l, const struct cnf_record *rec)
{
	uint32_t type = family_link_type(rec->hook);

	if (type && l->type != type)
		return false;
	if (rec->attach_type && l->attach_type && type && type != BPF_LINK_TYPE_XDP &&
	    l->attach_type != rec->attach_type)
		return false;
	return true;
}

static bool link_is_defunct(uint32_t type, uint32_t ifindex, uint64_t cgroup_id, uint64_t netns_ino)
{
	switch (type) {
	case BPF_LINK_TYPE_XDP:
	case BPF_LINK_TYPE_TCX:
	case BPF_LINK_TYPE_NETKIT:
		return ifindex == 0;
	case BPF_LINK_TYPE_CGROUP:
		return cgroup_id == 0;
	case BPF_LINK_TYPE_NETNS:
		return netns_ino == 0;
	default:
		return false;
	}
}

/* The name of a program by id ("" when it is gone): for reports only. */
static void prog_name_of(uint32_t id, char name[16])
{
	_cleanup_close_ int fd = id ? bpf_prog_get_fd_by_id(id) : -1;
	struct bpf_prog_info pi = {};
	__u32 len = sizeof(pi);

	name[0] = '\0';
	if (fd >= 0 && bpf_prog_get_info_by_fd(fd, &pi, &len) == 0) {
		memcpy(name, pi.name, 16);
		name[15] = '\0';
	}
}

/* The pin holds something the tool did not make: what it is, for the
 * reports. Nothing of it counts as the tool's own. */
static void mark_foreign_pin(struct cnf_observed *o, const char *kind, uint32_t link_id,
			     uint32_t link_type, uint32_t prog_id)
{
	o->foreign_pin = true;
	o->alive = o->defunct = o->prog_replaced = false;
	o->link_id = o->prog_id = 0;
	snprintf(o->foreign_kind, sizeof(o->foreign_kind), "%s", kind);
	o->foreign_link_id = link_id;
	o->foreign_link_type = link_type;
	o->foreign_prog_id = prog_id;
	prog_name_of(prog_id, o->foreign_prog_name);
}

static void observe_pin(struct run *r, struct cnf_observed *o)
{
	struct bpf_link_info li = {};
	struct live_link l = {};
	struct bpf_prog_info pi = {};
	const char *kind;
	bool leftover = state_key_is_leftover(o->key);
	__u32 len;
	_cleanup_close_ int fd = -1;

	fd = state_pin_open(r->st.root, o->manifest, o->key);
	if (fd < 0) {
		o->has_pin = false;
		return;
	}
	/* The info call fills whichever kind of object the fd is: tell a
	 * pinned program (legacy tc) from a link first. */
	kind = fd_bpf_kind(fd);
	if (streq(kind, "prog")) {
		len = sizeof(pi);
		if (bpf_info_get(fd, &pi, &len) < 0)
			return;
		if (leftover || (o->has_record && o->rec.tc_parent)) {
			o->prog_id = pi.id; /* legacy tc: attachment checked by observe() */
			return;
		}
		mark_foreign_pin(o, kind, 0, 0, pi.id);
		return;
	}
	if (!streq(kind, "link")) {
		if (!leftover)
			mark_foreign_pin(o, kind, 0, 0, 0);
		return;
	}
	len = sizeof(li);
	if (bpf_info_get(fd, &li, &len) < 0)
		return;
	/* A link the tool made is the one its record names; a pin without
	 * a record is never the tool's but for a killed run's temporary
	 * pins (the record is written before the pin). */
	if (!leftover && (!o->has_record || o->rec.tc_parent || li.id != o->rec.link_id)) {
		mark_foreign_pin(o, kind, li.id, li.type, li.prog_id);
		return;
	}
	o->link_id = li.id;
	o->prog_id = li.prog_id;
	o->live_known = true;
	o->live_type = li.type;
	live_link_fill(&l, &li);
	o->live_ifindex = l.ifindex;
	o->live_attach_type = l.attach_type;
	o->live_cgroup_id = l.cgroup_id;
	o->live_netns_ino = l.netns_ino;
	o->defunct = link_is_defunct(li.type, o->live_ifindex, o->live_cgroup_id, o->live_netns_ino);
	o->alive = !o->defunct;
}

static void pin_keep(struct run *r, const struct cnf_observed *o, int fd)
{
	size_t i = (size_t)(o - r->st.obs);

	if (!r->pin_fds) {
		r->pin_fds = xcalloc(r->st.count + 1, sizeof(*r->pin_fds));
		for (size_t k = 0; k < r->st.count; k++)
			r->pin_fds[k] = -1;
	}
	if (r->pin_fds[i] >= 0)
		close(r->pin_fds[i]);
	r->pin_fds[i] = fd;
}

int run_pin_take(struct run *r, const struct cnf_observed *h)
{
	size_t i = (size_t)(h - r->st.obs);
	int fd;

	if (r->pin_fds && i < r->st.count && r->pin_fds[i] >= 0) {
		fd = r->pin_fds[i];
		r->pin_fds[i] = -1;
		return fd;
	}
	return state_pin_open(r->st.root, h->manifest, h->key);
}

size_t run_verify_pins(struct run *r)
{
	size_t marked = 0;

	for (size_t i = 0; i < r->plan.count; i++) {
		const struct cnf_action *a = &r->plan.actions[i];
		struct cnf_observed *o = (struct cnf_observed *)a->have;
		struct bpf_link_info li = {};
		__u32 len = sizeof(li);
		_cleanup_close_ int fd = -1;

		/* Those the fast path took from the live list by the recorded
		 * id: links of a record, not already found foreign. */
		if (!o || a->kind == ACT_NOOP || a->quarantine || !o->has_pin || !o->has_record ||
		    !o->rec.link_id || o->rec.tc_parent || o->link_id != o->rec.link_id ||
		    state_key_is_leftover(o->key))
			continue;
		fd = state_pin_open(r->st.root, o->manifest, o->key);
		if (fd < 0)
			continue;
		if (!streq(fd_bpf_kind(fd), "link")) {
			struct bpf_prog_info pi = {};

			len = sizeof(pi);
			mark_foreign_pin(o, fd_bpf_kind(fd), 0, 0,
					 streq(fd_bpf_kind(fd), "prog") && bpf_info_get(fd, &pi, &len) == 0 ?
					 pi.id : 0);
			marked++;
			continue;
		}
		if (bpf_info_get(fd, &li, &len) < 0)
			continue;
		if (li.id == o->rec.link_id) {
			/* Checked: the change acts through this descriptor. */
			pin_keep(r, o, fd);
			fd = -1;
			continue;
		}
		log_debug("%s/%s: the pin holds link %u, not the recorded link %u", o->manifest,
			  o->key, li.id, o->rec.link_id);
		mark_foreign_pin(o, "link", li.id, li.type, li.prog_id);
		marked++;
	}
	return marked;
}

/* Every program id a record names, sorted: what the tool owns. Only
 * drift needs it; the caller frees it. */
static uint32_t *recorded_progs(const struct run *r, size_t *n)
{
	uint32_t *ids = xcalloc(r->st.count + 1, sizeof(*ids));

	*n = 0;
	for (size_t i = 0; i < r->st.count; i++)
		if (r->st.obs[i].has_record && r->st.obs[i].rec.prog_id)
			ids[(*n)++] = r->st.obs[i].rec.prog_id;
	qsort(ids, *n, sizeof(*ids), cmp_u32);
	return ids;
}

/* Does the instance's pin hold program `id`? (legacy tc: a run killed
 * between swapping the filter's program and writing the record has
 * pinned the new program first.) */
static bool pinned_prog_is(const struct run *r, const struct cnf_observed *o, uint32_t id)
{
	_cleanup_close_ int fd = state_pin_open(r->st.root, o->manifest, o->key);
	struct bpf_prog_info pi = {};
	__u32 len = sizeof(pi);

	return fd >= 0 && streq(fd_bpf_kind(fd), "prog") &&
	       bpf_prog_get_info_by_fd(fd, &pi, &len) == 0 && pi.id == id;
}

/* Network hooks and those of a whole namespace record the namespace they
 * were made in. */

int run_observe_all(struct run *r)
{
	/* Reading never pins: a run that changes nothing leaves nothing
	 * behind. The iterator is pinned after apply changed something. */
	struct live_opts lo = {
		.bpffs = r->cli->bpffs,
		.force_next_id = r->cli->no_iter,
	};
	uint64_t self_ino = run_netns_ino_of(NULL);
	bool tc_drift = false;
	int err;

	if (r->st.count == 0)
		return 0; /* nothing pinned: nothing to look up */
	err = live_links_read(&lo, &r->live);
	if (err < 0) {
		log_error("reading the kernel's links: %s", strerror(-err));
		return err;
	}
	r->have_live = true;
	log_debug("links read via %s: %zu", live_source_name(r->live.source), r->live.count);

	for (size_t i = 0; i < r->st.count; i++) {
		struct cnf_observed *o = &r->st.obs[i];
		const struct cnf_record *rec = &o->rec;

		/* Made in the tool's own namespace, and this run is in
		 * another: that namespace's instance, not this one's. */
		if (o->has_record && !rec->netns[0] && rec->netns_ino && self_ino &&
		    rec->netns_ino != self_ino && run_hook_per_netns((enum hook_kind)rec->hook)) {
			o->elsewhere = true;
			o->self_netns_ino = self_ino;
		}
		if (!o->has_pin)
			continue;
		if (o->has_record && rec->tc_parent) {
			/* Legacy tc: the filter is looked up where the record says. */
			const struct hook_ops *ops = ops_for_record(rec);
			uint32_t id = 0;
			int orig;

			if (netns_enter(rec->netns[0] ? rec->netns : NULL, &orig) < 0) {
				o->defunct = true;
				continue;
			}
			if (ops->observe(rec, &id) < 0)
				id = 0;
			netns_leave(orig);
			o->prog_id = id;
			o->alive = id != 0;
			o->defunct = !id && !if_nametoindex(rec->target); /* best effort */
			o->prog_replaced = id && id != rec->prog_id;
			o->live_known = id != 0;
			o->live_ifindex = id ? (uint32_t)rec->ifindex : 0;
			tc_drift |= o->prog_replaced;
			continue;
		}
		if (o->has_record && rec->link_id) {
			const struct live_link *l = live_links_find(&r->live, rec->link_id);

			if (l && link_fits_record(l, rec)) {
				o->link_id = l->id;
				o->prog_id = l->prog_id;
				o->live_known = true;
				o->live_type = l->type;
				o->live_attach_type = l->attach_type;
				o->live_ifindex = l->ifindex;
				o->live_netns_ino = l->netns_ino;
				o->live_cgroup_id = l->cgroup_id;
				o->defunct = link_is_defunct(l->type, l->ifindex, l->cgroup_id,
							     l->netns_ino);
				o->alive = !o->defunct;
				o->prog_replaced = o->alive && o->prog_id != rec->prog_id;
				continue;
			}
		}
		/* Not where the record says: ask the pin itself. */
		observe_pin(r, o);
		if (o->has_record)
			o->prog_replaced = o->alive && o->prog_id != rec->prog_id;
	}
	if (tc_drift) {
		/* A tc filter at a recorded priority and handle that runs a
		 * program no record names took the place over: another tool's,
		 * never replaced blindly. */
		size_t n;
		_cleanup_free_ uint32_t *own = recorded_progs(r, &n);

		for (size_t i = 0; i < r->st.count; i++) {
			struct cnf_observed *o = &r->st.obs[i];

			if (!o->has_record || !o->rec.tc_parent || !o->prog_replaced ||
			    own_has(own, n, o->prog_id) || pinned_prog_is(r, o, o->prog_id))
				continue;
			o->foreign_filter = true;
			o->foreign_prog_id = o->prog_id;
			snprintf(o->foreign_kind, sizeof(o->foreign_kind), "prog");
			prog_name_of(o->prog_id, o->foreign_prog_name);
			o->prog_id = 0;
			o->prog_replaced = false;
		}
	}
	return 0;
}

/* Ordered tcx links: is each still where its manifest put it? A foreign
 * program inserted in front of an `order: first` link, say, is drift. */
struct hook_rev *run_hook_rev_of_record(struct run *r, const struct cnf_record *rec)
{
	for (size_t i = 0; i < r->revs_count; i++) {
		struct hook_rev *h = &r->revs[i];

		if (h->netns_ino == rec->netns_ino && h->ifindex == rec->ifindex &&
		    h->attach_type == rec->attach_type)
			return h;
	}
	return NULL;
}

struct hook_rev *run_hook_rev(struct run *r, const struct cnf_instance *w)
{
	if (!ops_for_target(&w->t)->caps.ordered)
		return NULL;
	for (size_t i = 0; i < r->revs_count; i++) {
		struct hook_rev *h = &r->revs[i];

		if (h->netns_ino == w->t.netns_ino && h->ifindex == w->t.ifindex &&
		    h->attach_type == (uint32_t)w->t.attach_type)
			return h;
	}
	return NULL;
}

/* Keeps the revision of a hook whose order the plan depends on. A hook
 * read again adds a later entry that run_hook_rev() never returns: the
 * first read is the one the run is held to, and a no-op run does no
 * search here. */
static void keep_revision(struct run *r, const struct cnf_instance *w, uint64_t revision)
{
	if (grow_array((void **)&r->revs, &r->revs_cap, r->revs_count + 1, sizeof(*r->revs)) < 0)
		return;
	r->revs[r->revs_count++] = (struct hook_rev){ .netns_ino = w->t.netns_ino,
						      .ifindex = w->t.ifindex,
						      .attach_type = (uint32_t)w->t.attach_type,
						      .revision = revision };
}

/* Foreign programs at positions [from, to) of a hook, between an
 * instance and its anchor: order drift that names them. */
static void between_drift(struct run *r, const struct cnf_instance *w, struct cnf_observed *h,
			  const uint32_t *progs, const uint32_t *links, int from, int to,
			  const uint32_t *own, size_t n_own)
{
	char names[96] = "";
	size_t len = 0;
	int count = 0;

	for (int k = from; k < to; k++) {
		const struct live_link *l = links[k] ? live_links_find(&r->live, links[k]) : NULL;
		char name[16];

		if (own_has(own, n_own, progs[k]))
			continue;
		if (l && l->prog_id == progs[k])
			snprintf(name, sizeof(name), "%s", l->prog_name);
		else
			prog_name_of(progs[k], name);
		if (len < sizeof(names))
			len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%u '%s'",
						count ? ", " : "", progs[k], name);
		count++;
	}
	if (count)
		snprintf(h->order_drift, sizeof(h->order_drift),
			 "declared %s '%s', but foreign program%s %s run%s between them",
			 w->t.order == ORDER_AFTER ? "after" : "before", w->t.anchor,
			 count == 1 ? "" : "s", names, count == 1 ? "s" : "");
}

void run_check_order(struct run *r)
{
	_cleanup_free_ uint32_t *own = NULL;
	size_t n_own = 0;

	for (size_t i = 0; i < r->want_count; i++) {
		const struct cnf_instance *w = &r->want[i];
		struct cnf_observed *h = NULL;
		LIBBPF_OPTS(bpf_prog_query_opts, q);
		uint32_t links[256], progs[256];
		int orig, pos = -1, anchor = -1;
		uint32_t anchor_id = 0;

		if (!ops_for_target(&w->t)->caps.ordered || w->t.order == ORDER_NONE ||
		    !w->t.ifindex)
			continue;
		h = state_lookup(&r->st, w->manifest->name, w->key);
		if (!h || !h->alive || !h->link_id)
			continue;
		if (w->t.anchor) {
			/* The anchor's link on the same interface: its key is
			 * "<anchor>/<target>". */
			char akey[2 * CNF_KEY_MAX];
			const struct cnf_observed *o;

			snprintf(akey, sizeof(akey), "%s/%s", w->t.anchor, strchr(w->key, '/') + 1);
			o = state_lookup(&r->st, w->manifest->name, akey);
			if (o && o->has_record && streq(o->rec.attachment, w->t.anchor))
				anchor_id = o->link_id;
			if (!anchor_id)
				continue; /* the anchor itself is being created */
		}
		/* The kernel fills link ids only along with program ids. */
		q.prog_ids = progs;
		q.link_ids = links;
		q.count = ARRAY_SIZE(links);
		if (netns_enter(w->t.netns, &orig) < 0)
			continue;
		if (bpf_prog_query_opts(w->t.ifindex, w->t.attach_type, &q) < 0) {
			netns_leave(orig);
			continue;
		}
		netns_leave(orig);
		keep_revision(r, w, q.revision);
		for (__u32 k = 0; k < q.count && k < ARRAY_SIZE(links); k++) {
			if (links[k] == h->link_id)
				pos = (int)k;
			if (anchor_id && links[k] == anchor_id)
				anchor = (int)k;
		}
		log_debug("order of %s on %s: link %u at %d of %u", w->att->name, w->target_text,
			  h->link_id, pos, q.count);
		if (pos < 0)
			continue;
		if (w->t.order == ORDER_FIRST && pos != 0)
			snprintf(h->order_drift, sizeof(h->order_drift),
				 "declared first, but %d program%s run before it", pos, pos == 1 ? "" : "s");
		else if (w->t.order == ORDER_LAST && pos != (int)q.count - 1)
			snprintf(h->order_drift, sizeof(h->order_drift),
				 "declared last, but %d program%s run after it", (int)q.count - 1 - pos,
				 (int)q.count - 1 - pos == 1 ? "" : "s");
		else if (w->t.order == ORDER_BEFORE && anchor >= 0 && pos > anchor)
			snprintf(h->order_drift, sizeof(h->order_drift),
				 "declared before '%s', but runs after it", w->t.anchor);
		else if (w->t.order == ORDER_AFTER && anchor >= 0 && pos < anchor)
			snprintf(h->order_drift, sizeof(h->order_drift),
				 "declared after '%s', but runs before it", w->t.anchor);
		else if (w->t.anchor && anchor >= 0 && (pos > anchor + 1 || anchor > pos + 1)) {
			/* Something between the pair: drift when it is not the
			 * tool's (another attachment may sit there too). */
			int from = pos < anchor ? pos + 1 : anchor + 1, to = pos < anchor ? anchor : pos;

			if (!own)
				own = recorded_progs(r, &n_own);
			between_drift(r, w, h, progs, links, from, to, own, n_own);
		}
	}
}

