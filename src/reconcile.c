// SPDX-License-Identifier: GPL-2.0-only
/* The reconcile run: everything is checked and resolved before the first
 * change; then the plan's actions are carried out in order. */
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

#define ATT_LOC(m, idx, key) (m)->path, manifest_attachment_line((m), (idx), (key))

int netns_enter(const char *path, int *ret_orig)
{
	_cleanup_close_ int fd = -1, orig = -1;

	*ret_orig = -1;
	if (!path)
		return 0;
	orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (orig < 0)
		return -errno;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET) < 0)
		return -errno;
	*ret_orig = TAKE_FD(orig);
	return 0;
}

void netns_leave(int orig)
{
	if (orig < 0)
		return;
	if (setns(orig, CLONE_NEWNET) < 0) {
		log_error("cannot return to the original network namespace: %s", strerror(errno));
		abort(); /* acting in the wrong namespace is never acceptable */
	}
	close(orig);
}

static uint64_t netns_ino_of(const char *path)
{
	struct stat st;

	if (stat(path ? path : "/proc/self/ns/net", &st) < 0)
		return 0;
	return st.st_ino;
}

const struct hook_ops *ops_for_record(const struct cnf_record *rec)
{
	/* Records of tcx instances that fell back to tc carry a tc parent. */
	if (rec->tc_parent)
		return &hook_tc_ops;
	return hook_ops_get((enum hook_kind)rec->hook);
}

const struct hook_ops *ops_for_target(const struct cnf_target *t)
{
	return t->tc_fallback ? &hook_tc_ops : hook_ops_get(t->kind);
}

/* ---- targets ---- */

static bool is_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* The program identity: object content, config, program, its type. The
 * same for every target of an attachment: computed once per attachment. */
static void prog_identity(const struct cnf_attachment *a, const struct obj_entry *e,
			  struct bpf_program *prog, uint8_t out[CNF_HASH_LEN])
{
	uint8_t buf[3 * CNF_HASH_LEN + 256];
	size_t n;

	memcpy(buf, e->hash, CNF_HASH_LEN);
	memcpy(buf + CNF_HASH_LEN, e->cfg_hash, CNF_HASH_LEN);
	n = 2 * CNF_HASH_LEN;
	if (prog)
		n += (size_t)snprintf((char *)buf + n, sizeof(buf) - n, "%s|%d|%d", a->prog_name,
				      (int)bpf_program__type(prog),
				      (int)bpf_program__expected_attach_type(prog));
	else
		n += (size_t)snprintf((char *)buf + n, sizeof(buf) - n, "map|%s",
				      a->map ? a->map : "");
	sha256_buf(buf, n, out);
}

static int add_instance(struct run *r, size_t *cap, const struct cnf_manifest *m, size_t idx,
			const struct cnf_target *t, const char *tkey, const char *ttext,
			struct bpf_program *prog, const uint8_t prog_hash[CNF_HASH_LEN])
{
	const struct cnf_attachment *a = &m->attachments[idx];
	const struct hook_ops *ops = ops_for_target(t);
	struct cnf_instance *w;
	char params[CNF_DESC_MAX] = "";

	if (grow_array((void **)&r->want, cap, r->want_count + 1, sizeof(*r->want)) < 0)
		return -ENOMEM;
	w = &r->want[r->want_count++];
	memset(w, 0, sizeof(*w));
	w->manifest = m;
	w->att = a;
	w->att_idx = idx;
	w->t = *t;
	/* Plain copies: a glob over a thousand interfaces makes a thousand
	 * instances, and formatted printing was half of a no-op run's
	 * instructions. */
	{
		size_t an = strlen(a->name), tn = strlen(tkey), xn = strnlen(ttext, sizeof(w->target_text) - 1);

		if (an + 1 + tn >= sizeof(w->key)) {
			log_error("attachment '%s' (%s:%d): target name too long", a->name,
				  ATT_LOC(m, idx, NULL));
			return -ENAMETOOLONG;
		}
		memcpy(w->key, a->name, an);
		w->key[an] = '/';
		memcpy(w->key + an + 1, tkey, tn + 1);
		memcpy(w->target_text, ttext, xn);
		w->target_text[xn] = '\0';
	}
	if (ops == &hook_tc_ops && !w->t.tc_priority) {
		/* No priority given: a fixed one derived from the instance key,
		 * below the range the kernel hands out (0xc000 down), so that the
		 * record can say where the filter is before it exists. */
		uint8_t h[CNF_HASH_LEN];

		sha256_buf(w->key, strlen(w->key), h);
		w->t.tc_priority = 0x8000 + ((uint32_t)h[0] << 8 | h[1]) % 0x4000;
	}
	ops->describe(&w->t, params, sizeof(params));
	/* The hook identity: family, target and parameters, hashed whole
	 * (a long cgroup path does not fit the buffer: then on the heap). */
	{
		char buf[2 * CNF_DESC_MAX + 32];
		_cleanup_free_ char *heap = NULL;
		const char *desc = buf;
		int n = snprintf(buf, sizeof(buf), "%s %s %s%s", hook_kind_name(t->kind), ttext, params,
				 t->tc_fallback ? " via=tc" : "");

		if (n < 0)
			return -EINVAL;
		if ((size_t)n >= sizeof(buf)) {
			desc = heap = strprintf("%s %s %s%s", hook_kind_name(t->kind), ttext, params,
						t->tc_fallback ? " via=tc" : "");
			if (!heap)
				return -ENOMEM;
		}
		/* w is zeroed: the copy, cut to fit, stays terminated. */
		memcpy(w->hook_desc, desc, (size_t)n < sizeof(w->hook_desc) ? (size_t)n
									   : sizeof(w->hook_desc) - 1);
		sha256_buf(desc, (size_t)n, w->hook_hash);
	}
	memcpy(w->prog_hash, prog_hash, CNF_HASH_LEN);
	if (prog) {
		w->prog_type = bpf_program__type(prog);
		w->prog_flags = bpf_program__flags(prog);
		w->expected_attach_type = bpf_program__expected_attach_type(prog);
	}
	return 0;
}

/* The interfaces of a namespace, with their XDP programs, listed once per
 * run however many attachments look at them. The caller has entered the
 * namespace. NULL (errno set) when they cannot be listed. */
static const struct iface_list *run_interfaces(struct run *r, const char *netns,
						uint64_t netns_ino)
{
	struct if_cache *c = NULL;

	for (size_t i = 0; i < r->ifcache_count && !c; i++)
		if (streq_ptr(r->ifcache[i].netns, netns))
			c = &r->ifcache[i];
	if (!c) {
		if (grow_array((void **)&r->ifcache, &r->ifcache_cap, r->ifcache_count + 1,
			       sizeof(*r->ifcache)) < 0) {
			errno = ENOMEM;
			return NULL;
		}
		c = &r->ifcache[r->ifcache_count++];
		c->netns = netns;
		c->netns_ino = netns_ino;
		c->err = iface_list_read(&c->ifs);
	}
	errno = -c->err;
	return c->err ? NULL : &c->ifs;
}

/* The planner's view of the interfaces listed this run: which one has
 * `ifindex` in the namespace `netns_ino` now (NULL: none, or not listed). */
const char *run_ifname_of(void *ctx, uint64_t netns_ino, uint32_t ifindex)
{
	const struct run *r = ctx;

	for (size_t i = 0; i < r->ifcache_count; i++) {
		const struct if_cache *c = &r->ifcache[i];

		if (c->err || c->netns_ino != netns_ino)
			continue;
		for (size_t k = 0; k < c->ifs.count; k++)
			if (c->ifs.v[k].ifindex == (int)ifindex)
				return c->ifs.v[k].name;
	}
	return NULL;
}

/* Absent targets are reported (status) or waited for (watch) rather than
 * refused. */
static bool pending_ok(const struct run *r)
{
	return r->mode == RUN_STATUS || r->cli->pending_ok;
}

/* Expands one attachment over its targets. */
/* validate: the targets an attachment names literally (interfaces by
 * name, a cgroup), without the kernel, so that the conflicts visible in
 * the manifests alone (one interface twice) are found there too. */
static int add_literal_targets(struct run *r, size_t *cap, const struct cnf_manifest *m,
			       size_t idx, struct cnf_target *t, struct bpf_program *prog)
{
	static const uint8_t no_hash[CNF_HASH_LEN];
	const struct cnf_attachment *a = &m->attachments[idx];
	const struct hook_ops *ops = ops_for_target(t);
	size_t npat = a->interface ? 1 : a->interfaces_count, first = r->want_count;
	int err = 0;

	if (!ops->network) {
		char text[CNF_DESC_MAX] = "", why[256];

		/* A target that is missing still has its name (a cgroup's path). */
		if (!ops->slot || !ops->resolve)
			return 0;
		err = ops->resolve(a, prog, t, text, sizeof(text), why, sizeof(why));
		if ((err < 0 && err != -ENOENT) || !text[0]) {
			free(t->cgroup_path);
			free(t->name);
			free(t->path);
			return 0;
		}
		return add_instance(r, cap, m, idx, t, text, text, prog, no_hash);
	}
	t->netns = a->netns;
	for (size_t p = 0; p < npat && err >= 0; p++) {
		const char *pat = a->interface ? a->interface : a->interfaces[p];
		char text[CNF_DESC_MAX];
		bool dup = false;

		if (is_glob(pat) || strlen(pat) >= sizeof(t->ifname))
			continue;
		snprintf(t->ifname, sizeof(t->ifname), "%s", pat);
		snprintf(text, sizeof(text), "%s%s%s", pat, a->netns ? "@" : "", a->netns ? a->netns : "");
		for (size_t k = first; k < r->want_count; k++)
			dup |= streq(r->want[k].target_text, text);
		if (!dup)
			err = add_instance(r, cap, m, idx, t, text, text, prog, no_hash);
	}
	return err;
}

/* Families with one target (a tracepoint, a function, a binary, a
 * cgroup, a network namespace): the family's resolve() finds it. */
static int resolve_one_target(struct run *r, size_t *cap, const struct cnf_manifest *m,
			      size_t idx, struct cnf_target *t, struct bpf_program *prog,
			      const uint8_t prog_hash[CNF_HASH_LEN])
{
	const struct cnf_attachment *a = &m->attachments[idx];
	const struct hook_ops *ops = ops_for_target(t);
	char text[CNF_DESC_MAX] = "", key[CNF_KEY_MAX], why[512];
	bool missing;
	int err;

	err = ops->resolve ? ops->resolve(a, prog, t, text, sizeof(text), why, sizeof(why))
			   : -EOPNOTSUPP;
	if (err == -EOPNOTSUPP && !ops->resolve)
		snprintf(why, sizeof(why), "hook '%s' has no target resolver", a->hook);
	if (err < 0 && !(err == -ENOENT && pending_ok(r))) {
		log_error("attachment '%s' (%s:%d): %s", a->name, ATT_LOC(m, idx, ops->target_key),
			  why);
		free(t->cgroup_path);
		free(t->name);
		free(t->path);
		return err;
	}
	if (!text[0])
		snprintf(text, sizeof(text), "%s", a->hook);
	/* The pin's name: the family's, or the text escaped; a hash if it
	 * is too long. */
	if (ops->pin_name) {
		snprintf(key, sizeof(key), "%s", ops->pin_name);
	} else if (path_component_escape(text, key, sizeof(key)) < 0 || strlen(key) > 128) {
		uint8_t h[CNF_HASH_LEN];
		char hex[2 * CNF_HASH_LEN + 1];

		sha256_buf(text, strlen(text), h);
		hash_hex(h, hex);
		snprintf(key, sizeof(key), "h-%.32s", hex);
	}
	t->ifindex = 0;
	missing = err == -ENOENT;
	err = add_instance(r, cap, m, idx, t, key, text, prog, prog_hash);
	if (err >= 0 && missing)
		r->want[r->want_count - 1].target_missing = true; /* status only */
	return err;
}

/* Network hooks: names, lists and globs, in a namespace. */
static int resolve_interfaces(struct run *r, size_t *cap, const struct cnf_manifest *m,
			      size_t idx, struct cnf_target *tp, struct bpf_program *prog,
			      const uint8_t prog_hash[CNF_HASH_LEN])
{
	const struct cnf_attachment *a = &m->attachments[idx];
	struct cnf_target t = *tp;

	const struct iface_list *ifs = NULL;
	char nskey[CNF_KEY_MAX] = "";
	size_t npat = a->interface ? 1 : a->interfaces_count;
	size_t first = r->want_count; /* this attachment's instances follow */
	int orig, ret = 0;

	if (a->netns) {
		int er = netns_enter(a->netns, &orig);

		if (er < 0 && r->cli->pending_ok && (er == -ENOENT || er == -EINVAL)) {
			/* Not there (yet): nothing of it is desired now. */
			log_debug("attachment '%s': waiting for network namespace '%s'",
				  a->name, a->netns);
			return 0;
		}
		if (er < 0) {
			log_error("attachment '%s' (%s:%d): network namespace '%s': %s", a->name,
				  ATT_LOC(m, idx, "netns"), a->netns, strerror(-er));
			return er;
		}
		if (path_component_escape(a->netns, nskey, sizeof(nskey)) < 0) {
			netns_leave(orig);
			log_error("attachment '%s' (%s:%d): netns path too long", a->name,
				  ATT_LOC(m, idx, "netns"));
			return -ENAMETOOLONG;
		}
	} else {
		orig = -1;
	}
	t.netns = a->netns;
	t.netns_ino = netns_ino_of(NULL);
	ifs = run_interfaces(r, a->netns, t.netns_ino);
	if (!ifs) {
		ret = -errno;
		log_error("attachment '%s' (%s:%d): listing the interfaces%s%s: %s", a->name,
			  ATT_LOC(m, idx, a->interface ? "interface" : "interfaces"),
			  a->netns ? " of network namespace " : "", a->netns ? a->netns : "",
			  strerror(-ret));
	}
	for (size_t p = 0; ifs && p < npat && ret == 0; p++) {
		const char *pat = a->interface ? a->interface : a->interfaces[p];
		bool found = false;

		for (size_t i = 0; i < ifs->count && ret == 0; i++) {
			const struct iface *it = &ifs->v[i];
			char tkey[CNF_KEY_MAX], ttext[CNF_DESC_MAX];
			bool dup = false;

			if (is_glob(pat) ? fnmatch(pat, it->name, 0) != 0
					 : !streq(pat, it->name))
				continue;
			found = true;
			snprintf(t.ifname, sizeof(t.ifname), "%s", it->name);
			t.ifindex = it->ifindex;
			memcpy(t.xdp_prog_id, it->xdp_prog_id, sizeof(t.xdp_prog_id));
			t.xdp_known = true;
			if (path_component_escape(it->name, tkey, sizeof(tkey)) < 0)
				continue; /* cannot happen: IFNAMSIZ */
			snprintf(tkey + strlen(tkey), sizeof(tkey) - strlen(tkey), "%s%s",
				 nskey[0] ? "@" : "", nskey);
			snprintf(ttext, sizeof(ttext), "%s%s%s", it->name, a->netns ? "@" : "",
				 a->netns ? a->netns : "");
			/* A list may name an interface twice (a name and a glob);
			 * one pattern matches each interface once. */
			for (size_t k = first; npat > 1 && k < r->want_count; k++)
				dup |= streq(r->want[k].target_text, ttext);
			if (!dup)
				ret = add_instance(r, cap, m, idx, &t, tkey, ttext, prog, prog_hash);
		}
		if (!found && !is_glob(pat) && pending_ok(r)) {
			char tkey[CNF_KEY_MAX], ttext[CNF_DESC_MAX];

			/* status reports it; plan and apply refuse. */
			snprintf(t.ifname, sizeof(t.ifname), "%s", pat);
			t.ifindex = 0;
			t.xdp_known = false;
			if (path_component_escape(pat, tkey, sizeof(tkey)) < 0)
				tkey[0] = '\0';
			snprintf(tkey + strlen(tkey), sizeof(tkey) - strlen(tkey), "%s%s",
				 nskey[0] ? "@" : "", nskey);
			snprintf(ttext, sizeof(ttext), "%s%s%s", pat, a->netns ? "@" : "",
				 a->netns ? a->netns : "");
			ret = add_instance(r, cap, m, idx, &t, tkey, ttext, prog, prog_hash);
			if (ret >= 0)
				r->want[r->want_count - 1].target_missing = true;
		} else if (!found && !is_glob(pat)) {
			log_error("attachment '%s' (%s:%d): interface '%s' not found%s%s", a->name,
				  ATT_LOC(m, idx, a->interface ? "interface" : "interfaces"), pat,
				  a->netns ? " in network namespace " : "",
				  a->netns ? a->netns : "");
			ret = -ENOENT;
		}
	}
	netns_leave(orig);
	return ret;
}

static int program_missing(const struct cnf_manifest *m, size_t idx, const struct obj_entry *e)
{
	const struct cnf_attachment *a = &m->attachments[idx];
	struct bpf_program *p;
	char have[256] = "";
	size_t n = 0;

	bpf_object__for_each_program(p, e->bo)
		n += (size_t)snprintf(have + n, n < sizeof(have) ? sizeof(have) - n : 0, "%s%s",
				      n ? ", " : "", bpf_program__name(p));
	log_error("attachment '%s' (%s:%d): program '%s' is not in object '%s' (%s); it has: %s",
		  a->name, ATT_LOC(m, idx, "program"), a->prog_name, a->object->name,
		  a->object->file, have[0] ? have : "no programs");
	return -EINVAL;
}

/* One program, one expected attach type: the kernel checks it at load,
 * so two attachments of one program cannot need two. `before` is the
 * program's expected attach type before this attachment's prepare(). */
static int one_attach_type(const struct cnf_manifest *m, size_t idx, struct bpf_program *prog,
			   enum bpf_attach_type before)
{
	const struct cnf_attachment *a = &m->attachments[idx];

	if (!prog || bpf_program__expected_attach_type(prog) == before)
		return 0;
	for (size_t i = 0; i < idx; i++) {
		const struct cnf_attachment *o = &m->attachments[i];

		if (o->object != a->object || !streq_ptr(o->prog_name, a->prog_name))
			continue;
		log_error("attachment '%s' (%s:%d): program '%s' is already used with attach type "
			  "'%s' by attachment '%s'; one program has one attach type", a->name,
			  ATT_LOC(m, idx, "attach_type"), a->program,
			  libbpf_bpf_attach_type_str(before) ?: "?", o->name);
		return -EINVAL;
	}
	return 0;
}

static int resolve_attachment(struct run *r, size_t *cap, const struct cnf_manifest *m, size_t idx)
{
	enum bpf_attach_type eat;
	const struct cnf_attachment *a = &m->attachments[idx];
	const struct hook_ops *ops;
	struct obj_entry *e;
	struct bpf_program *prog;
	struct cnf_target t = {};
	uint8_t prog_hash[CNF_HASH_LEN];
	char why[512];
	enum hook_kind kind = hook_kind_from_name(a->hook);

	ops = hook_ops_get(kind);
	if (!ops) {
		log_error("attachment '%s' (%s:%d): hook '%s' is not available in this build of "
			  "cnf-apply", a->name,
			  ATT_LOC(m, idx, "hook"), a->hook);
		return -EOPNOTSUPP;
	}
	e = objects_for(&r->objs, a);
	if (!e || !e->bo)
		return -EINVAL; /* the object's own error was reported */
	/* struct_ops registers a map, not a program: `map:` names it and
	 * its hook finds it in the object (prog stays NULL). */
	prog = a->prog_name ? objects_program(e, a->prog_name) : NULL;
	if (!prog && !(ops->keys.required & AK_BIT(AK_MAP)))
		return program_missing(m, idx, e);
	t.kind = kind;
	eat = prog ? bpf_program__expected_attach_type(prog) : 0;
	if (ops->prepare(a, prog, &t, why, sizeof(why)) < 0) {
		log_error("attachment '%s' (%s:%d): %s", a->name, ATT_LOC(m, idx, "program"), why);
		return -EINVAL;
	}
	if (one_attach_type(m, idx, prog, eat) < 0)
		return -EINVAL;
	if (r->mode == RUN_VALIDATE)
		return add_literal_targets(r, cap, m, idx, &t, prog);
	prog_identity(a, e, prog, prog_hash);
	if (ops->adapt)
		ops->adapt(&t);

	if (!ops->network)
		return resolve_one_target(r, cap, m, idx, &t, prog, prog_hash);
	return resolve_interfaces(r, cap, m, idx, &t, prog, prog_hash);
}

static int resolve_all(struct run *r)
{
	size_t cap = 0;
	int ret = 0;

	for (size_t i = 0; i < r->set->count; i++) {
		const struct cnf_manifest *m = r->set->manifests[i];

		for (size_t j = 0; j < m->attachments_count; j++)
			if (resolve_attachment(r, &cap, m, j) < 0)
				ret = -EINVAL;
	}
	if (r->mode == RUN_VALIDATE)
		return ret < 0 ? ret : run_conflicts(r->want, r->want_count);
	if (ret < 0)
		return ret;
	/* Anchors must be attached to the same hook: the same target, and
	 * there the same hook (tcx direction, netkit side). */
	for (size_t i = 0; i < r->want_count; i++) {
		const struct cnf_instance *w = &r->want[i];
		const char *tk = strchr(w->key, '/') + 1;
		bool found = false;

		if (!w->t.anchor)
			continue;
		for (size_t j = 0; j < r->want_count && !found; j++) {
			const struct cnf_instance *o = &r->want[j];

			found = o->manifest == w->manifest && streq(o->att->name, w->t.anchor) &&
				streq(strchr(o->key, '/') + 1, tk) && o->t.kind == w->t.kind &&
				o->t.dir == w->t.dir && o->t.side == w->t.side;
		}
		if (!found) {
			log_error("attachment '%s' (%s:%d): anchor '%s' is not attached to %s %s",
				  w->att->name, ATT_LOC(w->manifest, w->att_idx,
							w->t.order == ORDER_BEFORE ? "before" : "after"),
				  w->t.anchor, w->target_text, mprog_where(&w->t));
			ret = -EINVAL;
		}
	}
	return ret;
}

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
	switch (li.type) {
	case BPF_LINK_TYPE_XDP:
		o->live_ifindex = li.xdp.ifindex;
		break;
	case BPF_LINK_TYPE_TCX:
		o->live_ifindex = li.tcx.ifindex;
		o->live_attach_type = li.tcx.attach_type;
		break;
	case BPF_LINK_TYPE_CGROUP:
		o->live_cgroup_id = li.cgroup.cgroup_id;
		o->live_attach_type = li.cgroup.attach_type;
		break;
	case BPF_LINK_TYPE_NETNS:
		o->live_netns_ino = li.netns.netns_ino;
		o->live_attach_type = li.netns.attach_type;
		break;
	case BPF_LINK_TYPE_NETKIT:
		o->live_ifindex = li.netkit.ifindex;
		o->live_attach_type = li.netkit.attach_type;
		break;
	default:
		break;
	}
	o->defunct = link_is_defunct(li.type, o->live_ifindex, o->live_cgroup_id, o->live_netns_ino);
	o->alive = !o->defunct;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
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
	qsort(ids, *n, sizeof(*ids), u32_cmp);
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
static bool hook_per_netns(enum hook_kind k);

static int observe_all(struct run *r)
{
	/* Reading never pins: a run that changes nothing leaves nothing
	 * behind. The iterator is pinned after apply changed something. */
	struct live_opts lo = {
		.bpffs = r->cli->bpffs,
		.force_next_id = r->cli->no_iter,
	};
	uint64_t self_ino = netns_ino_of(NULL);
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
		    rec->netns_ino != self_ino && hook_per_netns((enum hook_kind)rec->hook)) {
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

static void check_order(struct run *r)
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

/* ---- focus (watch) ---- */

static bool focus_netns(const struct run_focus *f, const char *netns)
{
	if (!netns)
		return f->own_netns;
	for (size_t i = 0; i < f->netns_count; i++)
		if (streq(f->netns[i], netns))
			return true;
	return false;
}

static bool focus_match(const struct run_focus *f, const char *netns, const char *ifname)
{
	if (focus_netns(f, netns))
		return true;
	if (!ifname || !ifname[0])
		return false;
	for (size_t i = 0; i < f->ifs_count; i++)
		if (streq_ptr(f->ifs[i].netns, netns) && streq(f->ifs[i].ifname, ifname))
			return true;
	return false;
}

static bool hook_per_netns(enum hook_kind k)
{
	const struct hook_ops *ops = hook_ops_get(k);

	return ops && (ops->network || ops->netns_wide);
}

static bool want_in_focus(const struct cnf_instance *w, const void *ctx)
{
	const struct run_focus *f = ctx;

	if (!hook_per_netns(w->t.kind))
		return false;
	return focus_match(f, w->t.netns, hook_ops_get(w->t.kind)->network ? w->t.ifname : NULL);
}

static bool have_in_focus(const struct cnf_observed *o, const void *ctx)
{
	const struct run_focus *f = ctx;
	const char *netns;
	char ifname[IF_NAMESIZE] = "";

	/* Without a record nothing says where it is: full runs handle it. */
	if (!o->has_record || !hook_per_netns((enum hook_kind)o->rec.hook))
		return false;
	netns = o->rec.netns[0] ? o->rec.netns : NULL;
	if (o->rec.ifindex) {
		/* The target text is "IFNAME" or "IFNAME@NETNS". */
		size_t n = strlen(o->rec.target), sfx = netns ? strlen(netns) + 1 : 0;

		if (n > sfx && n - sfx < sizeof(ifname)) {
			memcpy(ifname, o->rec.target, n - sfx);
			ifname[n - sfx] = '\0';
		}
	}
	return focus_match(f, netns, ifname);
}

/* Keeps only the desired and observed instances `keep_want` and
 * `keep_have` accept: the planner then neither creates nor deletes
 * anything elsewhere. The in-sync instances left out still offer their
 * running programs to the creates kept (one program per attachment
 * program). */
static void run_keep(struct run *r, bool (*keep_want)(const struct cnf_instance *, const void *),
		     bool (*keep_have)(const struct cnf_observed *, const void *), const void *ctx)
{
	size_t n = 0;

	r->share = xcalloc(r->want_count + 1, sizeof(*r->share));
	r->share_count = 0;
	for (size_t i = 0; i < r->want_count; i++) {
		struct cnf_instance *w = &r->want[i];

		if (keep_want(w, ctx)) {
			if (n != i)
				r->want[n] = *w;
			n++;
		} else {
			struct cnf_observed *h = state_lookup(&r->st, w->manifest->name, w->key);

			if (h && plan_source_of(w, h, hook_caps_get(w->t.kind),
						&r->share[r->share_count]))
				r->share_count++;
			free(w->t.cgroup_path);
			free(w->t.name);
			free(w->t.path);
		}
	}
	r->want_count = n;
	n = 0;
	for (size_t i = 0; i < r->st.count; i++) {
		const struct cnf_observed *o = &r->st.obs[i];

		if (keep_have(o, ctx)) {
			r->st.obs[n++] = *o;
			continue;
		}
		/* Left out, still the tool's own (not foreign to what is kept). */
		if (grow_array((void **)&r->others, &r->others_cap, r->others_count + 2,
			       sizeof(*r->others)) < 0)
			continue;
		if (o->prog_id)
			r->others[r->others_count++] = o->prog_id;
		if (o->has_record && o->rec.prog_id)
			r->others[r->others_count++] = o->rec.prog_id;
	}
	r->st.count = n;
	log_debug("kept: %zu desired and %zu observed instances", r->want_count, r->st.count);
}

size_t run_own_progs(const struct run *r, uint32_t **ret)
{
	uint32_t *own = xcalloc(2 * r->st.count + r->others_count + 1, sizeof(*own));
	size_t n = 0;

	for (size_t i = 0; i < r->st.count; i++) {
		if (r->st.obs[i].prog_id)
			own[n++] = r->st.obs[i].prog_id;
		if (r->st.obs[i].has_record && r->st.obs[i].rec.prog_id)
			own[n++] = r->st.obs[i].rec.prog_id;
	}
	for (size_t i = 0; i < r->others_count; i++)
		own[n++] = r->others[i];
	qsort(own, n, sizeof(*own), u32_cmp);
	*ret = own;
	return n;
}

/* ---- targets (--target MANIFEST[/ATTACHMENT]) ---- */

bool run_targeted(const struct cli *cli, const char *manifest, const char *att)
{
	if (!cli->targets_count)
		return true;
	for (size_t i = 0; i < cli->targets_count; i++)
		if (att ? plan_target_names(cli->targets[i], manifest, att)
			: plan_target_within(cli->targets[i], manifest))
			return true;
	return false;
}

/* The attachment of an observed instance: its record's, or its key's
 * first part ("<attachment>/<target>"). */
static const char *have_attachment(const struct cnf_observed *o, char *buf, size_t len)
{
	if (o->has_record && o->rec.attachment[0])
		return o->rec.attachment;
	snprintf(buf, len, "%.*s", (int)strcspn(o->key, "/"), o->key);
	return buf;
}

static bool want_targeted(const struct cnf_instance *w, const void *ctx)
{
	return run_targeted(ctx, w->manifest->name, w->att->name);
}

static bool have_targeted(const struct cnf_observed *o, const void *ctx)
{
	char att[CNF_KEY_MAX];

	return run_targeted(ctx, o->manifest, have_attachment(o, att, sizeof(att)));
}

bool run_in_scope(const struct run *r, const char *manifest)
{
	if (r->mode == RUN_DESTROY && r->cli->all)
		return true;
	for (size_t i = 0; i < r->scope_count; i++)
		if (streq(r->scope[i], manifest))
			return true;
	for (size_t i = 0; i < r->prune_count; i++)
		if (streq(r->prune[i], manifest))
			return true;
	return false;
}

/* Every target names a manifest of the run, or an attachment one of
 * them declares or one the run found applied. */
static int targets_check(struct run *r)
{
	int ret = 0;

	for (size_t i = 0; i < r->cli->targets_count; i++) {
		const char *t = r->cli->targets[i];
		bool known = false;

		for (size_t j = 0; j < r->set->count && !known; j++) {
			const struct cnf_manifest *m = r->set->manifests[j];

			known = plan_target_names(t, m->name, NULL);
			for (size_t k = 0; k < m->attachments_count && !known; k++)
				known = plan_target_names(t, m->name, m->attachments[k].name);
		}
		for (size_t j = 0; j < r->st.count && !known; j++) {
			const struct cnf_observed *o = &r->st.obs[j];
			char att[CNF_KEY_MAX];

			known = run_in_scope(r, o->manifest) &&
				plan_target_names(t, o->manifest, have_attachment(o, att, sizeof(att)));
		}
		if (!known) {
			size_t mlen = strcspn(t, "/");
			bool have_m = false;

			for (size_t j = 0; j < r->set->count && !have_m; j++)
				have_m = strlen(r->set->manifests[j]->name) == mlen &&
					 !strncmp(r->set->manifests[j]->name, t, mlen);
			if (have_m)
				log_error("--target '%s': manifest '%.*s' declares no attachment '%s', "
					  "and none of that name is applied", t, (int)mlen, t, t + mlen + 1);
			else
				log_error("--target '%s': no manifest '%.*s' among those of this run%s", t,
					  (int)mlen, t, r->mode == RUN_DESTROY && r->cli->all ?
					  " (none of that name is applied)" : " (see PATH)");
			ret = -EINVAL;
		}
	}
	return ret;
}

static int apply_targets(struct run *r)
{
	int err;

	if (!r->cli->targets_count)
		return 0;
	err = targets_check(r);
	if (err < 0)
		return err;
	run_keep(r, want_targeted, have_targeted, r->cli);
	return 0;
}

/* ---- prepare ---- */

/* Runs serialise on a lock of the state root directory: exclusive for
 * apply and destroy, shared for plan and status. */
static int lock_root(struct run *r, bool exclusive)
{
	struct timespec start, now;
	int op = (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB;
	long long waited_ms;

	if (exclusive) {
		/* The root must exist to be locked; an empty directory is all
		 * that a failed run may leave behind. */
		int err = state_root_check(r->cli->bpffs, true);

		if (err < 0)
			return err;
	}
	r->lock_fd = open(r->cli->bpffs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->lock_fd < 0)
		return errno == ENOENT ? 0 : -errno;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (flock(r->lock_fd, op) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		/* Whole seconds alone would give up up to a second early. */
		clock_gettime(CLOCK_MONOTONIC, &now);
		waited_ms = (now.tv_sec - start.tv_sec) * 1000LL + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (waited_ms >= r->cli->wait_sec * 1000LL) {
			log_error("another cnf-apply run holds the lock on %s%s; %s", r->cli->bpffs,
				  r->cli->wait_sec ? " (waited)" : "",
				  r->cli->wait_sec ? "try again later or raise --wait"
						   : "try again, or use --wait SECONDS");
			return -EWOULDBLOCK;
		}
		usleep(50 * 1000);
	}
	return 0;
}

/* Object identification needs one record per object file as recorded
 * (manifest, object, file identity and hash), not one per instance: with
 * a glob over a thousand interfaces, all but a few are the same. */
static bool rec_file_seen(const struct cnf_record *recs, const char *const *manifests, size_t n,
			  const struct cnf_observed *o)
{
	const struct cnf_record *x = &o->rec;
	size_t objlen = strcspn(x->program, "/");

	for (size_t j = n; j > 0; j--) {
		const struct cnf_record *y = &recs[j - 1];

		if (y->obj_ino == x->obj_ino && y->obj_dev == x->obj_dev &&
		    y->obj_size == x->obj_size && y->obj_mtime_ns == x->obj_mtime_ns &&
		    y->obj_ctime_ns == x->obj_ctime_ns &&
		    !memcmp(y->obj_hash, x->obj_hash, CNF_HASH_LEN) &&
		    !strncmp(y->program, x->program, objlen) && y->program[objlen] == x->program[objlen] &&
		    streq(manifests[j - 1], o->manifest))
			return true;
	}
	return false;
}

/* ---- sources ---- */

static void paths_resolve(struct run *r)
{
	r->paths = xcalloc(r->cli->paths_count + 1, sizeof(*r->paths));
	for (size_t i = 0; i < r->cli->paths_count; i++) {
		struct stat st;
		struct plan_path *p = &r->paths[r->paths_count];

		if (stat(r->cli->paths[i], &st) < 0)
			continue;
		p->is_dir = S_ISDIR(st.st_mode);
		p->path = path_absolute(r->cli->paths[i], p->is_dir);
		if (p->path)
			r->paths_count++;
	}
}

static bool set_has(const struct cnf_manifest_set *set, const char *name)
{
	for (size_t i = 0; i < set->count; i++)
		if (streq(set->manifests[i]->name, name))
			return true;
	return false;
}

/* The manifests under the root that are no longer among the desired
 * ones, and were last applied from within the run's PATHs. */
static int select_prune(struct run *r)
{
	char **names = NULL;
	size_t n = 0;
	int err = state_manifests_list(r->cli->bpffs, &names, &n);

	if (err < 0) {
		log_error("state root '%s': %s", r->cli->bpffs, strerror(-err));
		return err;
	}
	r->prune = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		struct cnf_source src;
		bool known;

		if (set_has(r->set, names[i]))
			continue;
		known = state_source_get(r->cli->bpffs, names[i], &src) == 0;
		if (plan_prunes(r->paths, r->paths_count, known ? src.file : NULL)) {
			log_debug("manifest '%s' (last applied from %s) is pruned", names[i],
				  known ? src.file : "an unrecorded place");
			r->prune[r->prune_count++] = TAKE_PTR(names[i]);
		}
	}
	strv_free(names, n);
	return 0;
}

static bool manifest_has_state(const struct run *r, const struct cnf_manifest *m)
{
	for (size_t i = 0; i < r->st.manifests_count; i++)
		if (streq(r->st.manifests[i], m->name))
			return true;
	for (size_t i = 0; i < r->plan.count; i++) {
		const struct cnf_action *a = &r->plan.actions[i];

		if (a->want && a->want->manifest == m && a->kind != ACT_NOOP)
			return true;
	}
	return false;
}

/* A vanished manifest with nothing applied any more (a directory with
 * its source alone: an earlier version's destroy left it) goes. */
static void tidy_pruned(struct run *r)
{
	for (size_t i = 0; i < r->prune_count; i++) {
		bool any = false;

		for (size_t j = 0; j < r->st.count && !any; j++)
			any = streq(r->st.obs[j].manifest, r->prune[i]);
		if (!any && run_targeted(r->cli, r->prune[i], NULL))
			state_tidy(r->cli->bpffs, r->prune[i]);
	}
}

int run_record_sources(struct run *r)
{
	tidy_pruned(r);
	for (size_t i = 0; i < r->set->count; i++) {
		const struct cnf_manifest *m = r->set->manifests[i];
		struct cnf_source old, src = { .version = CNF_SOURCE_VERSION };
		int err;

		if (!m->source || !m->source_file || !run_targeted(r->cli, m->name, NULL) ||
		    !manifest_has_state(r, m))
			continue;
		if (state_source_get(r->cli->bpffs, m->name, &old) == 0 && streq(old.path, m->source) &&
		    streq(old.file, m->source_file))
			continue;
		snprintf(src.path, sizeof(src.path), "%s", m->source);
		snprintf(src.file, sizeof(src.file), "%s", m->source_file);
		err = state_source_put(r->cli->bpffs, m->name, &src);
		if (err < 0) {
			log_error("manifest '%s': cannot record where it was applied from under %s: %s",
				  m->name, r->cli->bpffs, strerror(-err));
			return err;
		}
	}
	return 0;
}

int run_prepare(struct run *r, const struct cli *cli, enum run_mode mode)
{
	const char **rec_manifests = NULL;
	struct cnf_record *recs = NULL;
	size_t nrecs = 0;
	int err;

	memset(r, 0, sizeof(*r));
	r->cli = cli;
	r->mode = mode;
	r->lock_fd = -1;
	if (mode == RUN_VALIDATE)
		probe_without_kernel();

	if (!(mode == RUN_DESTROY && cli->all)) {
		err = manifest_set_load(cli->paths, cli->paths_count, &r->set);
		if (err < 0)
			return err;
	} else {
		r->set = xcalloc(1, sizeof(*r->set));
	}
	r->scope = xcalloc(r->set->count + 1, sizeof(char *));
	for (size_t i = 0; i < r->set->count; i++)
		r->scope[r->scope_count++] = r->set->manifests[i]->name;

	if (mode != RUN_VALIDATE) {
		bool mutate = mode == RUN_APPLY || (mode == RUN_DESTROY && !cli->plan_destroy);

		if (geteuid() != 0)
			log_warn("not running as root: reading BPF state will likely fail");
		err = state_root_check(cli->bpffs, false);
		if (err < 0)
			return err;
		err = lock_root(r, mutate);
		if (err < 0) {
			if (err != -EWOULDBLOCK)
				log_error("state root '%s': cannot lock it: %s", cli->bpffs,
					  strerror(-err));
			return err;
		}
		/* Without directories the set is not the whole desired state:
		 * read only the named manifests. */
		bool all = (mode == RUN_DESTROY && cli->all) || r->set->from_dirs ||
			   mode == RUN_STATUS;
		const char **only = NULL;

		r->state_partial = !all;

		paths_resolve(r);
		if (mode != RUN_DESTROY) {
			err = select_prune(r);
			if (err < 0)
				return err;
		}
		if (!all) {
			only = xcalloc(r->scope_count + r->prune_count + 1, sizeof(char *));
			for (size_t i = 0; i < r->scope_count; i++)
				only[i] = r->scope[i];
			for (size_t i = 0; i < r->prune_count; i++)
				only[r->scope_count + i] = r->prune[i];
		}
		err = state_read(cli->bpffs, (char *const *)only, r->scope_count + r->prune_count,
				 &r->st);
		free(only);
		if (err < 0)
			return err;
		err = observe_all(r);
		if (err < 0)
			return err;
		recs = xcalloc(r->st.count, sizeof(*recs));
		rec_manifests = xcalloc(r->st.count, sizeof(char *));
		for (size_t i = 0; i < r->st.count; i++)
			if (r->st.obs[i].has_record &&
			    !rec_file_seen(recs, rec_manifests, nrecs, &r->st.obs[i])) {
				recs[nrecs] = r->st.obs[i].rec;
				rec_manifests[nrecs++] = r->st.obs[i].manifest;
			}
	}
	if (mode == RUN_DESTROY) {
		free(recs);
		free(rec_manifests);
		return apply_targets(r);
	}

	objects_init(&r->objs, r->set, cli->bpffs);
	err = objects_identify(&r->objs, recs, nrecs, rec_manifests);
	free(recs);
	free(rec_manifests);
	if (objects_open(&r->objs) < 0)
		err = -EINVAL;
	if (err >= 0)
		err = map_pins_observe(r);
	if (err < 0)
		return err;
	err = resolve_all(r);
	if (err < 0)
		return err;
	check_order(r);
	if (cli->focus)
		run_keep(r, want_in_focus, have_in_focus, cli->focus);
	return apply_targets(r);
}

void run_free(struct run *r)
{
	for (size_t i = 0; r->pin_fds && i < r->st.count; i++)
		if (r->pin_fds[i] >= 0)
			close(r->pin_fds[i]);
	free(r->pin_fds);
	for (size_t i = 0; i < r->ifcache_count; i++)
		iface_list_free(&r->ifcache[i].ifs);
	free(r->ifcache);
	for (size_t i = 0; i < r->want_count; i++) {
		free(r->want[i].t.cgroup_path);
		free(r->want[i].t.name);
		free(r->want[i].t.path);
	}
	free(r->want);
	free(r->share);
	free(r->others);
	free(r->revs);
	config_diff_free(r);
	map_pins_free(r);
	plan_free(&r->plan);
	objects_free(&r->objs);
	if (r->have_live)
		live_links_free(&r->live);
	state_free(&r->st);
	state_close_maps();
	free(r->scope);
	for (size_t i = 0; i < r->paths_count; i++)
		free((char *)r->paths[i].path);
	free(r->paths);
	strv_free(r->prune, r->prune_count);
	if (r->set)
		manifest_set_free(r->set);
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	memset(r, 0, sizeof(*r));
}

