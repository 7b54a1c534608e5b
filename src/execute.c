// SPDX-License-Identifier: GPL-2.0-only
/* Carrying out a plan as one transaction.
 *
 * Before the first change everything that can be checked is checked
 * (objects loaded, targets resolved, foreign programs in the way). Then
 * the plan runs in three phases:
 *
 *   A. removals that free a hook holding one program (XDP): the old
 *      program stays open so it can be put back;
 *   B. everything that adds: creates, in-place updates, and the new half
 *      of make-before-break replacements (pinned under a temporary name);
 *   C. what the new state no longer needs: the old half of replacements
 *      (the new pin takes the old one's name in one rename) and deletes.
 *
 * A failure in A or B undoes every change of the run, newest first, and
 * the error says whether that worked. C only removes; a failure there
 * leaves the new state in place plus leftovers that the next run removes.
 *
 * Every step keeps pins and records consistent, so a run killed at any
 * point leaves state the next run recognises: a link is pinned before its
 * record is written (a pin without a record is replaced), a legacy tc
 * filter's program is pinned and recorded before the filter exists (the
 * record says where to look), and a link that was never pinned dies with
 * the process. */
#include <fcntl.h>
#include <limits.h>
#include <time.h>
#include <bpf/bpf.h>

#include "cnf/hooks.h"
#include "cnf/log.h"
#include "cnf/map_pins.h"
#include "cnf/reconcile.h"
#include "cnf/util.h"


struct xstate {
	bool broke;                   /* A: the old instance was removed */
	bool made;                    /* B: the new instance exists */
	int old_prog_fd;              /* to put the old program back (hook_prog_fd(): borrowed) */
	int new_fd;                   /* the new link (or tc program) */
	struct cnf_record *new_rec;   /* what B recorded (creates, replacements) */
	uint32_t new_prog_id;         /* updates: the program B put in */
	bool tmp_pinned;              /* B pinned the new link under TMP_SUFFIX */
	bool quarantined;             /* B moved a foreign pin to the quarantine */
};

static const char *action_what(const struct cnf_action *a)
{
	static char buf[CNF_KEY_MAX + 2 * CNF_NAME_MAX + 64];

	snprintf(buf, sizeof(buf), "attachment '%s' of manifest '%s' on %s",
		 a->want ? a->want->att->name : a->have->rec.attachment,
		 a->want ? a->want->manifest->name : a->have->manifest,
		 a->want ? a->want->target_text : a->have->rec.target);
	return buf;
}

static bool single_prog(const struct cnf_observed *h)
{
	const struct hook_ops *ops = h->has_record ? ops_for_record(&h->rec) : NULL;

	return ops && !ops->caps.multi_prog;
}

/* The temporary pin of a replacement that a killed run left behind. */
static bool is_leftover(const struct cnf_observed *h)
{
	return state_key_is_leftover(h->key);
}

/* Hooks without links: the pin holds the program. */
static bool is_tc(const struct hook_ops *ops)
{
	return ops->caps.pin_is_prog;
}

/* Copies a string into a record field (zero-filled), cut to fit. */
static void rec_str(char *dst, size_t len, const char *src)
{
	size_t n = strnlen(src, len - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void record_fill(struct run *r, const struct cnf_instance *w, const struct attach_result *res,
			const struct cnf_record *prev, struct cnf_record *rec)
{
	const struct obj_entry *e = objects_for(&r->objs, w->att);
	struct bpf_program *p = w->att->prog_name ?
		objects_program((struct obj_entry *)e, w->att->prog_name) : NULL;

	memset(rec, 0, sizeof(*rec));
	rec->version = CNF_RECORD_VERSION;
	rec->hook = (uint32_t)w->t.kind;
	rec->link_id = res->tc_parent ? 0 : res->link_id;
	rec->prog_id = res->prog_id;
	memcpy(rec->prog_hash, w->prog_hash, CNF_HASH_LEN);
	memcpy(rec->hook_hash, w->hook_hash, CNF_HASH_LEN);
	rec->obj_dev = e->st.st_dev;
	rec->obj_ino = e->st.st_ino;
	rec->obj_size = (uint64_t)e->st.st_size;
	rec->obj_mtime_ns = (uint64_t)e->st.st_mtim.tv_sec * 1000000000ull +
			    (uint64_t)e->st.st_mtim.tv_nsec;
	rec->obj_ctime_ns = (uint64_t)e->st.st_ctim.tv_sec * 1000000000ull +
			    (uint64_t)e->st.st_ctim.tv_nsec;
	memcpy(rec->obj_hash, e->hash, CNF_HASH_LEN);
	rec->netns_ino = w->t.netns_ino;
	rec->cgroup_id = w->t.cgroup_id;
	rec->ifindex = w->t.ifindex;
	rec->xdp_flags = res->xdp_flags;
	rec->tc_priority = res->tc_priority;
	rec->tc_handle = res->tc_handle;
	rec->tc_parent = res->tc_parent;
	rec->created_sec = prev ? prev->created_sec : (uint64_t)time(NULL);
	rec_str(rec->attachment, sizeof(rec->attachment), w->att->name);
	rec_str(rec->program, sizeof(rec->program),
		w->att->program ? w->att->program : w->att->map ? w->att->map : "");
	rec_str(rec->target, sizeof(rec->target), w->target_text);
	rec_str(rec->hook_desc, sizeof(rec->hook_desc), w->hook_desc);
	rec_str(rec->netns, sizeof(rec->netns), w->t.netns ? w->t.netns : "");
	rec->prog_type = p ? bpf_program__type(p) : 0;
	rec->prog_flags = p ? bpf_program__flags(p) : 0;
	rec->expected_attach_type = p ? bpf_program__expected_attach_type(p) : 0;
	rec->attach_type = w->t.attach_type;
}

static struct bpf_program *prog_of(struct run *r, const struct cnf_instance *w)
{
	struct obj_entry *e = objects_for(&r->objs, w->att);

	return w->att->prog_name && e ? objects_program(e, w->att->prog_name) : NULL;
}

static int prog_fd_of(struct run *r, const struct cnf_instance *w)
{
	struct bpf_program *p = prog_of(r, w);

	return p ? bpf_program__fd(p) : -1;
}

/* The program a create or replace attaches: the running one the plan
 * chose to share (plan_share.c), else the one loaded for this run. */
static int action_prog_fd(struct run *r, const struct cnf_action *a)
{
	int fd = a->reuse_prog_id ? hook_prog_fd(a->reuse_prog_id) : -1;

	return fd >= 0 ? fd : prog_fd_of(r, a->want);
}

static uint32_t prog_id_of_fd(int fd)
{
	struct bpf_prog_info pi = {};
	__u32 len = sizeof(pi);

	if (fd < 0) {
		errno = EBADF;
		return 0;
	}
	if (bpf_info_get(fd, &pi, &len) < 0)
		return 0;
	return pi.id;
}

/* The id of a program loaded for this run, asked once per program however
 * many links get it. Loaded programs keep their fds until the objects are
 * closed, after the run: an fd names one program while the memo lives. */
static struct {
	int fd;
	uint32_t id;
} loaded_ids[16];
static size_t loaded_ids_count;

static uint32_t loaded_prog_id(int fd)
{
	uint32_t id;

	for (size_t i = 0; i < loaded_ids_count; i++)
		if (loaded_ids[i].fd == fd)
			return loaded_ids[i].id;
	id = prog_id_of_fd(fd);
	if (id && loaded_ids_count < ARRAY_SIZE(loaded_ids))
		loaded_ids[loaded_ids_count++] = (typeof(loaded_ids[0])){ .fd = fd, .id = id };
	return id;
}

static void args_init(struct run *r, const struct cnf_instance *w, struct attach_args *args)
{
	struct obj_entry *e = objects_for(&r->objs, w->att);

	memset(args, 0, sizeof(*args));
	args->obj = e ? e->bo : NULL;
	args->prog = prog_of(r, w);
}

/* Link id of the anchor's instance on the same target, as it is now. */
static uint32_t anchor_link_id(struct run *r, const struct cnf_instance *w)
{
	const char *tk = strchr(w->key, '/') + 1;

	for (size_t i = 0; i < r->plan.count; i++) {
		const struct cnf_action *a = &r->plan.actions[i];

		if (!a->want || a->want->manifest != w->manifest ||
		    !streq(a->want->att->name, w->t.anchor) || !streq(strchr(a->want->key, '/') + 1, tk))
			continue;
		/* Its new link once made (a replacement's is done only when
		 * the old one goes, in phase C), else the one it has. */
		if (a->link_id)
			return a->link_id;
		if (a->have)
			return a->have->link_id;
	}
	return 0;
}

/* Link id of the instance the run wants last on w's hook (tcx, netkit),
 * as it is now, or 0: an unordered attach goes before it, not after. */
static uint32_t last_link_id(struct run *r, const struct cnf_instance *w)
{
	for (size_t i = 0; i < r->plan.count; i++) {
		const struct cnf_action *a = &r->plan.actions[i];
		const struct cnf_instance *o = a->want;

		if (!o || o == w || o->t.order != ORDER_LAST || o->t.kind != w->t.kind ||
		    o->t.ifindex != w->t.ifindex || o->t.netns_ino != w->t.netns_ino ||
		    o->t.dir != w->t.dir || o->t.side != w->t.side)
			continue;
		if (a->done && a->link_id)
			return a->link_id;
		if (a->have)
			return a->have->link_id;
	}
	return 0;
}

static int tmp_key(char *buf, size_t len, const char *key)
{
	return snprintf(buf, len, "%s%s", key, TMP_SUFFIX) >= (int)len ? -ENAMETOOLONG : 0;
}

/* Detaches what an observed instance (or a record) describes and removes
 * its pin and record. `keep_record`: leave the record (a replacement
 * writes a new one right after). */
static int remove_instance(struct run *r, const char *manifest, const char *key,
			   const struct cnf_record *rec, bool keep_record)
{
	_cleanup_close_ int fd = -1;
	int orig, err = 0;

	fd = state_pin_open(r->cli->bpffs, manifest, key);
	if (fd == -ENAMETOOLONG)
		return fd;
	if (rec) {
		const struct hook_ops *ops = ops_for_record(rec);

		if (ops) {
			err = netns_enter(rec->netns[0] ? rec->netns : NULL, &orig);
			if (err == -ENOENT || err == -EINVAL) {
				/* The namespace's file is gone (ip netns del): so
				 * is what was attached in it, or it soon will be.
				 * A link is detached without entering it. */
				log_debug("%s/%s: network namespace %s is gone", manifest, key,
					  rec->netns);
				err = fd >= 0 && rec->link_id ? link_detach_common(fd) : 0;
			} else if (err >= 0) {
				err = ops->detach(rec, fd);
				/* A clsact qdisc the tool created goes with its last
				 * filter; one that existed before, or still holds
				 * filters, stays. */
				if (err >= 0 && rec->tc_parent &&
				    tc_clsact_marked(r->cli->bpffs, rec->netns_ino, rec->ifindex) &&
				    tc_clsact_release(rec->ifindex) > 0)
					tc_clsact_unmark(r->cli->bpffs, rec->netns_ino, rec->ifindex);
				netns_leave(orig);
			}
		}
	} else if (fd >= 0) {
		err = link_detach_common(fd);
	}
	if (err < 0)
		return err;
	err = state_unpin(r->cli->bpffs, manifest, key);
	if (err < 0 || keep_record)
		return err;
	return state_record_del(r->cli->bpffs, manifest, key);
}

/* The quarantine name's suffix of a foreign pin: "<kind><id>". */
static void quarantine_suffix(const struct cnf_observed *h, char *buf, size_t len)
{
	const char *kind = h->foreign_kind[0] && !streq(h->foreign_kind, "object") ?
			   h->foreign_kind : "obj";

	snprintf(buf, len, "%s%u", kind,
		 streq(kind, "link") ? h->foreign_link_id : h->foreign_prog_id);
}

/* Moves the foreign pin at an instance's path to the quarantine
 * (state.h): the object it holds stays alive and nothing is detached. */
static int quarantine_pin(struct run *r, const struct cnf_observed *h)
{
	char sfx[32];
	int err;

	quarantine_suffix(h, sfx, sizeof(sfx));
	err = state_pin_quarantine(r->cli->bpffs, h->manifest, h->key, sfx, false);
	if (err == -ENOENT)
		return 0; /* gone meanwhile */
	if (err >= 0)
		log_debug("%s/%s: moved the foreign pin to the quarantine (%s)", h->manifest,
			  h->key, sfx);
	return err;
}

static int unquarantine_pin(struct run *r, const struct cnf_observed *h)
{
	char sfx[32];

	quarantine_suffix(h, sfx, sizeof(sfx));
	return state_pin_quarantine(r->cli->bpffs, h->manifest, h->key, sfx, true);
}

/* A record whose pin another tool's object took: the pin goes to the
 * quarantine, the record away; nothing is detached. */
static int forget_foreign(struct run *r, const struct cnf_observed *h)
{
	int err = quarantine_pin(r, h);

	return err < 0 ? err : state_record_del(r->cli->bpffs, h->manifest, h->key);
}

/* Attaches the desired instance. The new link is pinned under `pin_key`
 * (the instance's key, or its temporary name); its record is written
 * when `record` is set. Legacy tc has no link: its program is pinned and
 * recorded first, so that a run killed right after the attach still finds
 * the filter. */
static int make_instance(struct run *r, struct cnf_action *a, const char *pin_key, bool record,
			 struct xstate *x)
{
	const struct cnf_instance *w = a->want;
	const struct hook_ops *ops = ops_for_target(&w->t);
	const char *m = w->manifest->name;
	const struct cnf_record *prev = a->have && a->have->has_record ? &a->have->rec : NULL;
	struct attach_result res = {};
	struct attach_args args;
	struct hook_rev *rev;
	int orig, fd, err;

	if (!x->new_rec)
		x->new_rec = xcalloc(1, sizeof(*x->new_rec));
	args_init(r, w, &args);
	if (w->t.anchor)
		args.anchor_link_id = anchor_link_id(r, w);
	else if (w->t.order == ORDER_NONE && ops_for_target(&w->t)->caps.mprog)
		args.last_link_id = last_link_id(r, w);
	rev = run_hook_rev(r, w);
	if (rev)
		args.expected_revision = rev->revision;

	if (is_tc(ops)) {
		res.tc_priority = w->t.tc_priority;
		res.tc_handle = w->t.tc_handle;
		res.tc_parent = w->t.dir == TC_DIR_EGRESS ? BPF_TC_EGRESS : BPF_TC_INGRESS;
		res.prog_id = prog_id_of_fd(action_prog_fd(r, a));
		if (!res.prog_id) {
			err = -errno;
			log_error("%s: reading the program's id failed: %s", action_what(a),
				  strerror(-err));
			return err;
		}
		/* The record first: a pin no record names is another tool's. */
		record_fill(r, w, &res, prev, x->new_rec);
		if (record) {
			err = state_record_put(r->cli->bpffs, m, w->key, x->new_rec);
			if (err < 0)
				goto record_failed;
		}
		err = state_pin(r->cli->bpffs, m, pin_key, action_prog_fd(r, a));
		if (err < 0) {
			if (record)
				state_record_del(r->cli->bpffs, m, w->key);
			goto pin_failed;
		}
	}

	err = netns_enter(w->t.netns, &orig);
	if (err < 0)
		return err;
	fd = ops->attach(w, action_prog_fd(r, a), &args, &res);
	netns_leave(orig);
	if (fd >= 0 && res.qdisc_created &&
	    tc_clsact_mark(r->cli->bpffs, w->t.netns_ino, w->t.ifindex) < 0)
		log_warn("%s: cannot record that the clsact qdisc was created here: destroy will "
			 "leave it", action_what(a));
	if (fd < 0) {
		if (is_tc(ops)) {
			state_unpin(r->cli->bpffs, m, pin_key);
			if (record)
				state_record_del(r->cli->bpffs, m, w->key);
		}
		if (fd == -ESTALE)
			log_error("%s: the hook changed since this run read it (a concurrent change); "
				  "nothing on it was overwritten",
				  action_what(a));
		else if (fd == -ENOENT && w->t.anchor)
			log_error("%s: anchor '%s' is not attached", action_what(a), w->t.anchor);
		else
			log_error("%s: attach failed: %s", action_what(a), strerror(-fd));
		return fd;
	}
	if (!is_tc(ops)) {
		struct bpf_link_info li = {};
		__u32 len = sizeof(li);

		/* No record without the link's and the program's ids: a record
		 * of id 0 would make the next run load a second copy. The
		 * link goes with its only descriptor. */
		err = bpf_info_get(fd, &li, &len);
		/* (A struct_ops link runs a map, no program.) */
		if (err < 0 || !li.id || (!li.prog_id && w->att->prog_name)) {
			err = err < 0 ? err : -EIO;
			close(fd);
			log_error("%s: reading the new link's ids failed: %s", action_what(a),
				  strerror(-err));
			return err;
		}
		res.link_id = li.id;
		res.prog_id = li.prog_id;
	}
	x->new_fd = fd;
	x->made = true;
	if (rev)
		rev->revision++; /* the run's own change */
	if (!is_tc(ops)) {
		/* The record before the pin: a pin no record names is another
		 * tool's, and a run killed in between leaves a record of a
		 * link that died with it, which the next run makes again. */
		record_fill(r, w, &res, prev, x->new_rec);
		if (record) {
			err = state_record_put(r->cli->bpffs, m, w->key, x->new_rec);
			if (err < 0)
				goto record_failed; /* the fd is closed at the end: the link goes */
		}
		err = state_pin(r->cli->bpffs, m, pin_key, fd);
		if (err < 0)
			goto pin_failed; /* the rollback puts the record back */
	}
	/* The pin holds it now; a run attaching thousands of links must not
	 * hold thousands of descriptors. */
	close(fd);
	x->new_fd = -1;
	if (is_tc(ops)) {
		/* What the attach obtained. */
		record_fill(r, w, &res, prev, x->new_rec);
		if (record) {
			err = state_record_put(r->cli->bpffs, m, w->key, x->new_rec);
			if (err < 0)
				goto record_failed;
		}
	}
	a->link_id = x->new_rec->link_id;
	a->prog_id = x->new_rec->prog_id;
	a->result_note = res.note;
	return 0;

pin_failed:
	log_error("%s: pinning under %s failed: %s", action_what(a), r->cli->bpffs, strerror(-err));
	return err;
record_failed:
	log_error("%s: writing its state record failed: %s", action_what(a), strerror(-err));
	return err;
}

static int update_instance(struct run *r, struct cnf_action *a, struct xstate *x)
{
	const struct cnf_instance *w = a->want;
	const struct cnf_observed *h = a->have;
	const struct hook_ops *ops = ops_for_target(&w->t);
	struct attach_result res = { .link_id = h->link_id };
	struct attach_args args;
	struct cnf_record rec;
	struct hook_rev *rev;
	_cleanup_close_ int pin = -1;
	uint32_t new_prog_id;
	int orig, err;

	pin = run_pin_take(r, h);
	if (pin < 0) {
		char path[PATH_MAX];

		state_pin_path(path, sizeof(path), r->cli->bpffs, h->manifest, h->key);
		log_error("%s: opening pin %s: %s", action_what(a), path, strerror(-pin));
		return pin;
	}
	/* Keep the running program: rollback swaps it back. One fd per
	 * program, shared by every link that runs it. */
	x->old_prog_fd = h->prog_id ? hook_prog_fd(h->prog_id) : -1;
	new_prog_id = a->reuse_prog_id ? a->reuse_prog_id : loaded_prog_id(prog_fd_of(r, w));
	if (!new_prog_id && w->att->prog_name) { /* struct_ops: a map, no program */
		err = -errno;
		log_error("%s: reading the new program's id failed: %s", action_what(a),
			  strerror(-err));
		return err;
	}
	args_init(r, w, &args);
	if (is_tc(ops)) {
		/* The pin holds the program: the new one is pinned before the
		 * filter runs it, so that a run killed before the record is
		 * written leaves a filter whose program is the pinned one (the
		 * tool's), never one nothing names. */
		err = state_pin(r->cli->bpffs, w->manifest->name, w->key, action_prog_fd(r, a));
		if (err < 0) {
			log_error("%s: pinning failed: %s", action_what(a), strerror(-err));
			return err;
		}
	}
	err = netns_enter(w->t.netns, &orig);
	if (err >= 0) {
		err = ops->update(w, &h->rec, pin, action_prog_fd(r, a), h->prog_id, &args, &res);
		netns_leave(orig);
	}
	if (err < 0) {
		if (is_tc(ops) && x->old_prog_fd >= 0)
			state_pin(r->cli->bpffs, w->manifest->name, w->key, x->old_prog_fd);
		log_error("%s: in-place update failed: %s", action_what(a), strerror(-err));
		return err;
	}
	x->made = true;
	/* BPF_LINK_UPDATE commits a new revision of the hook too. */
	if ((rev = run_hook_rev(r, w)))
		rev->revision++;
	res.prog_id = res.prog_id ? res.prog_id : new_prog_id;
	record_fill(r, w, &res, &h->rec, &rec);
	/* Same attachment point: what the first attach obtained stays. */
	rec.link_id = h->rec.link_id ? h->rec.link_id : h->link_id;
	rec.xdp_flags = h->rec.xdp_flags;
	rec.tc_priority = h->rec.tc_priority;
	rec.tc_handle = h->rec.tc_handle;
	rec.tc_parent = h->rec.tc_parent;
	x->new_prog_id = rec.prog_id;
	err = state_record_put(r->cli->bpffs, w->manifest->name, w->key, &rec);
	if (err < 0) {
		log_error("%s: writing its state record failed: %s", action_what(a), strerror(-err));
		return err;
	}
	a->link_id = rec.link_id;
	a->prog_id = rec.prog_id;
	a->result_note = res.note;
	return 0;
}

/* ---- undo ---- */

static int undo_make(struct run *r, struct cnf_action *a, struct xstate *x)
{
	const struct cnf_instance *w = a->want;
	char key[CNF_KEY_MAX];
	int err;

	if (x->tmp_pinned) {
		if (tmp_key(key, sizeof(key), w->key) < 0)
			return -ENAMETOOLONG;
	} else {
		snprintf(key, sizeof(key), "%s", w->key);
	}
	err = remove_instance(r, w->manifest->name, key, x->new_rec, true);
	if (err < 0)
		return err;
	if (x->tmp_pinned)
		return 0;
	/* A create's record goes; a replacement's old record comes back. */
	if (a->have && a->have->has_record && a->kind != ACT_CREATE)
		return state_record_put(r->cli->bpffs, w->manifest->name, w->key, &a->have->rec);
	return state_record_del(r->cli->bpffs, w->manifest->name, w->key);
}

static int undo_update(struct run *r, struct cnf_action *a, struct xstate *x)
{
	const struct cnf_instance *w = a->want;
	const struct cnf_observed *h = a->have;
	const struct hook_ops *ops = ops_for_target(&w->t);
	struct attach_result res = {};
	struct attach_args args;
	_cleanup_close_ int pin = -1;
	int orig, err;

	if (x->old_prog_fd < 0)
		return -ENOENT;
	pin = state_pin_open(r->cli->bpffs, h->manifest, h->key);
	if (pin < 0)
		return pin;
	args_init(r, w, &args);
	if (is_tc(ops)) {
		/* The program pinned before the filter runs it, as above. */
		err = state_pin(r->cli->bpffs, h->manifest, h->key, x->old_prog_fd);
		if (err < 0)
			return err;
	}
	err = netns_enter(w->t.netns, &orig);
	if (err < 0)
		return err;
	err = ops->update(w, &h->rec, pin, x->old_prog_fd, x->new_prog_id, &args, &res);
	netns_leave(orig);
	if (err < 0)
		return err;
	return state_record_put(r->cli->bpffs, h->manifest, h->key, &h->rec);
}

/* Puts back what phase A removed from a single-program hook. */
static int undo_break(struct run *r, struct cnf_action *a, struct xstate *x)
{
	const struct cnf_observed *h = a->have;
	const struct hook_ops *ops = ops_for_record(&h->rec);
	struct cnf_record rec = h->rec;
	_cleanup_close_ int fd = -1;
	struct bpf_link_info li = {};
	__u32 len = sizeof(li);
	int orig, err;

	if (!ops || !ops->restore || x->old_prog_fd < 0)
		return -EOPNOTSUPP;
	err = netns_enter(rec.netns[0] ? rec.netns : NULL, &orig);
	if (err < 0)
		return err;
	fd = ops->restore(&rec, x->old_prog_fd);
	netns_leave(orig);
	if (fd < 0)
		return fd;
	err = bpf_info_get(fd, &li, &len);
	if (err < 0) {
		link_detach_common(fd);
		return err;
	}
	rec.link_id = li.id;
	/* The record before the pin, as for every new link. */
	err = state_record_put(r->cli->bpffs, h->manifest, h->key, &rec);
	if (err >= 0)
		err = state_pin(r->cli->bpffs, h->manifest, h->key, fd);
	if (err < 0)
		link_detach_common(fd);
	return err;
}

static int rollback(struct run *r, struct xstate *xs)
{
	int failures = 0;

	for (size_t i = r->plan.count; i > 0; i--) {
		struct cnf_action *a = &r->plan.actions[i - 1];
		struct xstate *x = &xs[i - 1];
		int err = 0;

		if (x->made)
			err = a->kind == ACT_UPDATE ? undo_update(r, a, x) : undo_make(r, a, x);
		if (err >= 0 && x->quarantined)
			err = unquarantine_pin(r, a->have);
		if (err < 0) {
			log_error("rollback: %s: could not undo the %s: %s", action_what(a),
				  action_kind_name(a->kind), strerror(-err));
			failures++;
		}
		err = 0;
		if (x->broke)
			err = undo_break(r, a, x);
		if (err < 0) {
			log_error("rollback: %s: could not put the removed program back: %s",
				  action_what(a), strerror(-err));
			failures++;
		}
		a->done = false;
	}
	return failures;
}

/* ---- phases ---- */

static int phase_a(struct run *r, struct xstate *xs)
{
	for (size_t i = 0; i < r->plan.count; i++) {
		struct cnf_action *a = &r->plan.actions[i];
		struct xstate *x = &xs[i];
		struct hook_rev *rev;
		int err;

		/* Leftovers go first too: a replacement of this run may need
		 * their name. */
		if (!((a->kind == ACT_DELETE && (single_prog(a->have) || is_leftover(a->have) ||
						 a->strategy == STRAT_BREAK_BEFORE_MAKE)) ||
		      (a->kind == ACT_REPLACE && a->strategy == STRAT_BREAK_BEFORE_MAKE)))
			continue;
		x->old_prog_fd = a->have->alive && a->have->prog_id ?
				 hook_prog_fd(a->have->prog_id) : -1;
		if (a->quarantine)
			err = forget_foreign(r, a->have);
		else
			err = remove_instance(r, a->have->manifest, a->have->key,
					      a->have->has_record ? &a->have->rec : NULL,
					      a->kind == ACT_REPLACE);
		if (err < 0) {
			log_error("%s: detach failed: %s", action_what(a), strerror(-err));
			return err;
		}
		x->broke = true;
		/* The run's own change of an ordered hook (a replacement's
		 * old link gone first): the attach expects the next revision. */
		rev = a->want ? run_hook_rev(r, a->want) : run_hook_rev_of_record(r, &a->have->rec);
		if (rev)
			rev->revision++;
		if (a->kind == ACT_DELETE) {
			a->done = true;
			r->applied++;
		}
	}
	return 0;
}

static int phase_b(struct run *r, struct xstate *xs)
{
	for (size_t i = 0; i < r->plan.count; i++) {
		struct cnf_action *a = &r->plan.actions[i];
		struct xstate *x = &xs[i];
		const struct cnf_observed *h = a->have;
		char key[CNF_KEY_MAX];
		int err = 0;

		switch (a->kind) {
		case ACT_NOOP:
			if (h) {
				a->link_id = h->link_id;
				a->prog_id = h->prog_id;
			}
			continue;
		case ACT_DELETE:
			continue;
		case ACT_CREATE:
			if (a->quarantine) {
				/* Another tool's pin: it moves aside, alive. */
				err = quarantine_pin(r, h);
				if (err < 0) {
					log_error("%s: moving the foreign pin to the quarantine "
						  "failed: %s", action_what(a), strerror(-err));
					return err;
				}
				x->quarantined = true;
			} else if (h && (h->has_pin || h->has_record)) {
				/* A defunct or stale leftover: nothing runs there. */
				err = remove_instance(r, h->manifest, h->key,
						      h->has_record ? &h->rec : NULL, false);
				if (err < 0) {
					log_error("%s: removing the stale pin failed: %s",
						  action_what(a), strerror(-err));
					return err;
				}
			}
			err = make_instance(r, a, a->want->key, true, x);
			break;
		case ACT_UPDATE:
			err = update_instance(r, a, x);
			break;
		case ACT_REPLACE:
			if (a->strategy == STRAT_BREAK_BEFORE_MAKE) {
				err = make_instance(r, a, a->want->key, true, x);
				break;
			}
			err = tmp_key(key, sizeof(key), a->want->key);
			if (err >= 0)
				err = make_instance(r, a, key, false, x);
			x->tmp_pinned = err >= 0;
			break;
		}
		if (err < 0)
			return err;
		if (!(a->kind == ACT_REPLACE && a->strategy == STRAT_MAKE_BEFORE_BREAK)) {
			a->done = true;
			r->applied++;
		}
	}
	return 0;
}

static int phase_c(struct run *r, struct xstate *xs)
{
	int failures = 0;

	for (size_t i = 0; i < r->plan.count; i++) {
		struct cnf_action *a = &r->plan.actions[i];
		struct xstate *x = &xs[i];
		const struct cnf_observed *h = a->have;
		int err = 0;

		if (a->kind == ACT_DELETE && !x->broke) {
			err = a->quarantine ? forget_foreign(r, h) :
			      remove_instance(r, h->manifest, h->key, h->has_record ? &h->rec : NULL,
					      false);
			if (err < 0)
				log_error("%s: detach failed: %s", action_what(a), strerror(-err));
		} else if (a->kind == ACT_REPLACE && x->tmp_pinned) {
			char key[CNF_KEY_MAX];

			err = remove_instance(r, h->manifest, h->key, h->has_record ? &h->rec : NULL,
					      true);
			/* The new record before the new pin takes the name: the
			 * pin there is then always the link its record names. */
			if (err >= 0)
				err = state_record_put(r->cli->bpffs, h->manifest, h->key, x->new_rec);
			if (err >= 0 && (err = tmp_key(key, sizeof(key), a->want->key)) >= 0)
				err = state_pin_rename(r->cli->bpffs, h->manifest, key, h->key);
			if (err < 0)
				log_error("%s: finishing the replacement failed: %s", action_what(a),
					  strerror(-err));
		} else {
			continue;
		}
		if (err < 0) {
			failures++;
			continue;
		}
		a->done = true;
		r->applied++;
	}
	return failures ? -EIO : 0;
}

/* The preflight passed: create the manifests' state maps now rather than
 * half-way through. */
static int prepare_state(struct run *r)
{
	for (size_t i = 0; i < r->plan.count; i++) {
		const struct cnf_instance *w = r->plan.actions[i].want;

		if (!w || r->plan.actions[i].kind == ACT_NOOP)
			continue;
		if (state_record_prepare(r->cli->bpffs, w->manifest->name) < 0) {
			log_error("manifest '%s': cannot create its state under %s: %s",
				  w->manifest->name, r->cli->bpffs, strerror(errno));
			return -EIO;
		}
	}
	return 0;
}

/* After a failed run: what it made for the manifests it was to change and
 * that holds nothing now goes -- a state map without records, the
 * directories, the record of the manifest's source. */
static void tidy_changed(struct run *r)
{
	const char *tidied = NULL;

	for (size_t i = 0; i < r->plan.count; i++) {
		const struct cnf_instance *w = r->plan.actions[i].want;

		if (w && r->plan.actions[i].kind != ACT_NOOP && !streq_ptr(tidied, w->manifest->name)) {
			state_tidy(r->cli->bpffs, w->manifest->name);
			tidied = w->manifest->name;
		}
	}
}

int run_execute(struct run *r)
{
	_cleanup_free_ struct xstate *xs = NULL;
	const char *tidied = NULL;
	int err;

	if (r->plan.changes == 0)
		return r->mode == RUN_APPLY ? run_record_sources(r) : 0;
	/* What the plan refuses stops the run before any change. */
	err = 0;
	for (size_t i = 0; i < r->plan.count; i++) {
		const struct cnf_action *a = &r->plan.actions[i];

		if (a->refused) {
			log_error("%s: %s", action_what(a), a->reason);
			err = -EBUSY;
		}
	}
	if (err < 0)
		return err;
	if (r->mode == RUN_APPLY) {
		err = state_root_check(r->cli->bpffs, true);
		if (err < 0)
			return err;
	}
	/* Live maps whose pin went away are pinned again before any object
	 * is loaded, so that the loads reuse them (map_pins.h). */
	err = map_pins_repair(r);
	if (err >= 0)
		err = run_preflight(r, false);
	if (err >= 0)
		err = prepare_state(r);
	/* Where each manifest came from, before its first change. */
	if (err >= 0 && r->mode == RUN_APPLY)
		err = run_record_sources(r);
	if (err >= 0)
		test_pause("checked");
	/* Every object loaded: pin the maps this run created (a recreated
	 * one next to the old, which keeps its pin until phase B is done). */
	if (err >= 0)
		err = objects_maps_pin(&r->objs);
	if (err < 0) {
		map_pins_undo(r);
		tidy_changed(r);
		return err;
	}

	xs = xcalloc(r->plan.count, sizeof(*xs));
	for (size_t i = 0; i < r->plan.count; i++)
		xs[i].old_prog_fd = xs[i].new_fd = -1;

	err = phase_a(r, xs);
	if (err >= 0)
		err = phase_b(r, xs);
	if (err >= 0) {
		/* The new programs are attached: recreated maps take over
		 * their pins (part of the transaction, undone with it). */
		int moved = objects_maps_swap(&r->objs);

		if (moved < 0)
			err = moved;
		else
			r->applied += (size_t)moved;
	}
	if (err < 0) {
		size_t done = r->applied;
		int failures = rollback(r, xs);

		map_pins_undo(r);
		objects_maps_rollback(&r->objs);
		r->applied = 0;
		if (failures)
			log_error("%zu change%s had been made; rolling them back failed for %d "
				  "(see above): run apply again once the cause is fixed", done,
				  done == 1 ? "" : "s", failures);
		else
			log_error("nothing changed: the %zu change%s made before the failure %s "
				  "rolled back", done, done == 1 ? "" : "s", done == 1 ? "was" : "were");
		tidy_changed(r);
	} else {
		/* The pins now hold the run's maps: their ids are recorded. */
		map_pins_record(r);
		err = phase_c(r, xs);
		if (err < 0)
			log_error("the new state is in place, but removing what it replaced failed "
				  "(see above); the next apply removes the leftovers");
	}
	for (size_t i = 0; i < r->plan.count; i++) {
		if (xs[i].new_fd >= 0)
			close(xs[i].new_fd);
		free(xs[i].new_rec);
	}
	hook_prog_fds_close();
	loaded_ids_count = 0;
	/* Drop what deletes left empty: directories, an empty state map. */
	for (size_t i = 0; i < r->plan.count; i++) {
		const struct cnf_action *a = &r->plan.actions[i];

		/* Deletes come grouped by manifest: once per group, not per
		 * delete (each tidy reads the manifest's directories). */
		if (a->kind == ACT_DELETE && a->done && !streq_ptr(tidied, a->have->manifest)) {
			state_tidy(r->cli->bpffs, a->have->manifest);
			tidied = a->have->manifest;
		}
	}
	if (err < 0)
		return err;
	/* Pins no manifest declares any more, now that their programs are
	 * gone. */
	map_pins_collect(r);

	if (r->mode == RUN_APPLY && !r->cli->no_iter &&
	    !(r->have_live && r->live.source == LIVE_SRC_ITER_PINNED)) {
		/* Pin the link iterator now, so that later runs read every
		 * link with one read() instead of loading it (tens of ms). */
		struct live_opts lo = { .bpffs = r->cli->bpffs, .may_pin = true };
		struct live_links tmp = {};

		if (live_links_read(&lo, &tmp) == 0)
			live_links_free(&tmp);
	}
	return 0;
}
