// SPDX-License-Identifier: GPL-2.0-only
/* The desired instances: every attachment of every manifest expanded over
 * its targets (interfaces by name, list or glob in a namespace; the one
 * target its family's resolve() finds), with its program and hook
 * identity. Validate keeps the targets named literally. */
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

#define ATT_LOC(m, idx, key) (m)->path, manifest_attachment_line((m), (idx), (key))

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
	t.netns_ino = run_netns_ino_of(NULL);
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

int run_resolve_all(struct run *r)
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

