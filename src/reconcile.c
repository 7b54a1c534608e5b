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

#include "cnf/hooks.h"
#include "cnf/log.h"
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

static const struct hook_ops *ops_for_record(const struct cnf_record *rec)
{
	/* Records of tcx instances that fell back to tc carry a tc parent. */
	if (rec->tc_parent)
		return &hook_tc_ops;
	return hook_ops_get((enum hook_kind)rec->hook);
}

static const struct hook_ops *ops_for_target(const struct cnf_target *t)
{
	return t->tc_fallback ? &hook_tc_ops : hook_ops_get(t->kind);
}

/* ---- targets ---- */

static const char *cgroup2_root(void)
{
	static char root[PATH_MAX];
	_cleanup_fclose_ FILE *f = NULL;
	char line[1024];

	if (root[0])
		return root;
	f = fopen("/proc/self/mounts", "re");
	while (f && fgets(line, sizeof(line), f)) {
		char dev[256], dir[PATH_MAX], type[64];

		if (sscanf(line, "%255s %4095s %63s", dev, dir, type) == 3 && streq(type, "cgroup2")) {
			snprintf(root, sizeof(root), "%s", dir);
			break;
		}
	}
	if (!root[0])
		snprintf(root, sizeof(root), "/sys/fs/cgroup");
	return root;
}

static bool is_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

static int add_instance(struct run *r, size_t *cap, const struct cnf_manifest *m, size_t idx,
			const struct cnf_target *t, const char *tkey, const char *ttext,
			const struct obj_entry *e, struct bpf_program *prog)
{
	const struct cnf_attachment *a = &m->attachments[idx];
	const struct hook_ops *ops = ops_for_target(t);
	struct cnf_instance *w;
	char params[CNF_DESC_MAX] = "";
	uint8_t buf[3 * CNF_HASH_LEN + 256];
	size_t n;

	if (grow_array((void **)&r->want, cap, r->want_count + 1, sizeof(*r->want)) < 0)
		return -ENOMEM;
	w = &r->want[r->want_count++];
	memset(w, 0, sizeof(*w));
	w->manifest = m;
	w->att = a;
	w->att_idx = idx;
	w->t = *t;
	if (snprintf(w->key, sizeof(w->key), "%s/%s", a->name, tkey) >= (int)sizeof(w->key)) {
		log_error("attachment '%s' (%s:%d): target name too long", a->name, ATT_LOC(m, idx, NULL));
		return -ENAMETOOLONG;
	}
	snprintf(w->target_text, sizeof(w->target_text), "%s", ttext);
	ops->describe(t, params, sizeof(params));
	/* The hook identity: family, target and parameters. */
	{
		_cleanup_free_ char *desc = strprintf("%s %s %s%s", hook_kind_name(t->kind), ttext, params,
						      t->tc_fallback ? " via=tc" : "");
		if (!desc)
			return -ENOMEM;
		snprintf(w->hook_desc, sizeof(w->hook_desc), "%s", desc);
		sha256_buf(desc, strlen(desc), w->hook_hash);
	}
	/* The program identity: object content, config, program, its type. */
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
	sha256_buf(buf, n, w->prog_hash);
	return 0;
}

/* The interfaces of a namespace, listed once per run however many
 * attachments look at them. The caller has entered the namespace. */
static const struct if_nameindex *run_interfaces(struct run *r, const char *netns)
{
	struct if_cache *c;

	for (size_t i = 0; i < r->ifcache_count; i++)
		if (streq_ptr(r->ifcache[i].netns, netns))
			return r->ifcache[i].ifs;
	if (grow_array((void **)&r->ifcache, &r->ifcache_cap, r->ifcache_count + 1,
		       sizeof(*r->ifcache)) < 0)
		return NULL;
	c = &r->ifcache[r->ifcache_count++];
	c->netns = netns;
	c->ifs = if_nameindex();
	return c->ifs;
}

/* Expands one attachment over its targets. */
static int resolve_attachment(struct run *r, size_t *cap, const struct cnf_manifest *m, size_t idx)
{
	const struct cnf_attachment *a = &m->attachments[idx];
	const struct hook_ops *ops;
	struct obj_entry *e;
	struct bpf_program *prog;
	struct cnf_target t = {};
	char why[512];
	enum hook_kind kind = hook_kind_from_name(a->hook);
	int err;

	ops = hook_ops_get(kind);
	if (!ops) {
		log_error("attachment '%s' (%s:%d): hook '%s' is not available in this build of "
			  "cnf-apply (supported: xdp, tcx, tc, cgroup)", a->name,
			  ATT_LOC(m, idx, "hook"), a->hook);
		return -EOPNOTSUPP;
	}
	e = objects_for(&r->objs, a);
	if (!e || !e->bo)
		return -EINVAL; /* the object's own error was reported */
	/* struct_ops registers a map, not a program: `map:` names it and
	 * its hook finds it in the object (prog stays NULL). */
	prog = a->prog_name ? objects_program(e, a->prog_name) : NULL;
	if (!prog && kind != HOOK_STRUCT_OPS) {
		struct bpf_program *p;
		char have[256] = "";
		size_t n = 0;

		bpf_object__for_each_program(p, e->bo)
			n += (size_t)snprintf(have + n, n < sizeof(have) ? sizeof(have) - n : 0,
					      "%s%s", n ? ", " : "", bpf_program__name(p));
		log_error("attachment '%s' (%s:%d): program '%s' is not in object '%s' (%s); it has: %s",
			  a->name, ATT_LOC(m, idx, "program"), a->prog_name, a->object->name,
			  a->object->file, have[0] ? have : "no programs");
		return -EINVAL;
	}
	t.kind = kind;
	if (ops->prepare(a, prog, &t, why, sizeof(why)) < 0) {
		log_error("attachment '%s' (%s:%d): %s", a->name, ATT_LOC(m, idx, "program"), why);
		return -EINVAL;
	}
	if (kind == HOOK_CGROUP) {
		/* The kernel checks a cgroup program's expected attach type. */
		enum bpf_attach_type cur = bpf_program__expected_attach_type(prog);

		for (size_t i = 0; i < idx; i++) {
			const struct cnf_attachment *o = &m->attachments[i];

			if (o->object == a->object && streq_ptr(o->prog_name, a->prog_name) &&
			    streq_ptr(o->hook, "cgroup") && cur != t.attach_type) {
				log_error("attachment '%s' (%s:%d): program '%s' is already used with "
					  "cgroup attach type '%s' by attachment '%s'; one program "
					  "has one attach type", a->name, ATT_LOC(m, idx, "attach_type"),
					  a->program, cgroup_attach_type_name(cur), o->name);
				return -EINVAL;
			}
		}
		bpf_program__set_expected_attach_type(prog, t.attach_type);
	}
	if (r->mode == RUN_VALIDATE)
		return 0;
	if (kind == HOOK_TCX && !probe_tcx()) {
		t.tc_fallback = true;
		t.tc_handle = 1;
		t.tc_priority = 0;
	}

	if (kind == HOOK_CGROUP) {
		_cleanup_free_ char *path = a->cgroup[0] == '/' ? xstrdup(a->cgroup) :
					    strprintf("%s/%s", cgroup2_root(), a->cgroup);
		struct statfs sf;
		struct stat st;

		if (!path)
			return -ENOMEM;
		if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
			if (r->mode == RUN_STATUS) {
				/* status reports it; plan and apply refuse. */
				t.cgroup_path = TAKE_PTR(path);
				err = add_instance(r, cap, m, idx, &t, "cgroup", t.cgroup_path, e, prog);
				if (err >= 0)
					r->want[r->want_count - 1].target_missing = true;
				return err;
			}
			log_error("attachment '%s' (%s:%d): cgroup '%s' not found", a->name,
				  ATT_LOC(m, idx, "cgroup"), path);
			return -ENOENT;
		}
		if (statfs(path, &sf) < 0 || sf.f_type != CGROUP2_SUPER_MAGIC) {
			log_error("attachment '%s' (%s:%d): '%s' is not a cgroup v2 directory", a->name,
				  ATT_LOC(m, idx, "cgroup"), path);
			return -EINVAL;
		}
		t.cgroup_path = TAKE_PTR(path);
		t.cgroup_id = st.st_ino;
		return add_instance(r, cap, m, idx, &t, "cgroup", t.cgroup_path, e, prog);
	}

	if (!ops->network) {
		char text[CNF_DESC_MAX] = "", key[CNF_KEY_MAX];
		bool missing;

		err = ops->resolve ? ops->resolve(a, prog, &t, text, sizeof(text), why, sizeof(why))
				   : -EOPNOTSUPP;
		if (err == -EOPNOTSUPP && !ops->resolve)
			snprintf(why, sizeof(why), "hook '%s' has no target resolver", a->hook);
		if (err < 0 && !(err == -ENOENT && r->mode == RUN_STATUS)) {
			log_error("attachment '%s' (%s:%d): %s", a->name, ATT_LOC(m, idx, NULL), why);
			free(t.name);
			free(t.path);
			return err;
		}
		if (!text[0])
			snprintf(text, sizeof(text), "%s", a->hook);
		/* The pin's name: the text, escaped; a hash if it is too long. */
		if (path_component_escape(text, key, sizeof(key)) < 0 || strlen(key) > 128) {
			uint8_t h[CNF_HASH_LEN];
			char hex[2 * CNF_HASH_LEN + 1];

			sha256_buf(text, strlen(text), h);
			hash_hex(h, hex);
			snprintf(key, sizeof(key), "h-%.32s", hex);
		}
		t.ifindex = 0;
		missing = err == -ENOENT;
		err = add_instance(r, cap, m, idx, &t, key, text, e, prog);
		if (err >= 0 && missing)
			r->want[r->want_count - 1].target_missing = true; /* status only */
		return err;
	}

	/* Network hooks: names, lists and globs, in a namespace. */
	{
		const struct if_nameindex *ifs = NULL;
		char nskey[CNF_KEY_MAX] = "";
		size_t npat = a->interface ? 1 : a->interfaces_count;
		int orig, ret = 0;

		if (a->netns) {
			int er = netns_enter(a->netns, &orig);

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
		ifs = run_interfaces(r, a->netns);
		for (size_t p = 0; p < npat && ret == 0; p++) {
			const char *pat = a->interface ? a->interface : a->interfaces[p];
			bool found = false;

			for (const struct if_nameindex *it = ifs; it && it->if_index && ret == 0; it++) {
				char tkey[CNF_KEY_MAX], ttext[CNF_DESC_MAX];
				bool dup = false;

				if (is_glob(pat) ? fnmatch(pat, it->if_name, 0) != 0
						 : !streq(pat, it->if_name))
					continue;
				found = true;
				snprintf(t.ifname, sizeof(t.ifname), "%s", it->if_name);
				t.ifindex = (int)it->if_index;
				if (path_component_escape(it->if_name, tkey, sizeof(tkey)) < 0)
					continue; /* cannot happen: IFNAMSIZ */
				snprintf(tkey + strlen(tkey), sizeof(tkey) - strlen(tkey), "%s%s",
					 nskey[0] ? "@" : "", nskey);
				snprintf(ttext, sizeof(ttext), "%s%s%s", it->if_name, a->netns ? "@" : "",
					 a->netns ? a->netns : "");
				/* A list may name an interface twice (a name and a glob). */
				for (size_t k = 0; k < r->want_count; k++)
					dup |= r->want[k].manifest == m && r->want[k].att_idx == idx &&
					       streq(r->want[k].target_text, ttext);
				if (!dup)
					ret = add_instance(r, cap, m, idx, &t, tkey, ttext, e, prog);
			}
			if (!found && !is_glob(pat) && r->mode == RUN_STATUS) {
				char tkey[CNF_KEY_MAX], ttext[CNF_DESC_MAX];

				/* status reports it; plan and apply refuse. */
				snprintf(t.ifname, sizeof(t.ifname), "%s", pat);
				t.ifindex = 0;
				if (path_component_escape(pat, tkey, sizeof(tkey)) < 0)
					tkey[0] = '\0';
				snprintf(tkey + strlen(tkey), sizeof(tkey) - strlen(tkey), "%s%s",
					 nskey[0] ? "@" : "", nskey);
				snprintf(ttext, sizeof(ttext), "%s%s%s", pat, a->netns ? "@" : "",
					 a->netns ? a->netns : "");
				ret = add_instance(r, cap, m, idx, &t, tkey, ttext, e, prog);
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
	if (ret < 0 || r->mode == RUN_VALIDATE)
		return ret;
	/* Anchors must be attached to the same target. */
	for (size_t i = 0; i < r->want_count; i++) {
		const struct cnf_instance *w = &r->want[i];
		const char *tk = strchr(w->key, '/') + 1;
		bool found = false;

		if (!w->t.anchor)
			continue;
		for (size_t j = 0; j < r->want_count && !found; j++)
			found = r->want[j].manifest == w->manifest &&
				streq(r->want[j].att->name, w->t.anchor) &&
				streq(strchr(r->want[j].key, '/') + 1, tk);
		if (!found) {
			log_error("attachment '%s' (%s:%d): anchor '%s' is not attached to %s",
				  w->att->name, ATT_LOC(w->manifest, w->att_idx,
							w->t.order == ORDER_BEFORE ? "before" : "after"),
				  w->t.anchor, w->target_text);
			ret = -EINVAL;
		}
	}
	return ret;
}

/* ---- observe ---- */

static bool fd_is_bpf_link(int fd)
{
	char path[64], target[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return streq(target, "anon_inode:bpf_link");
}

static void observe_pin(struct run *r, struct cnf_observed *o)
{
	char path[PATH_MAX];
	struct bpf_link_info li = {};
	struct bpf_prog_info pi = {};
	__u32 len;
	_cleanup_close_ int fd = -1;

	if (state_pin_path(path, sizeof(path), r->st.root, o->manifest, o->key) < 0)
		return;
	fd = bpf_obj_get(path);
	if (fd < 0) {
		o->has_pin = false;
		return;
	}
	len = sizeof(pi);
	/* The info call fills whichever kind of object the fd is: tell a
	 * pinned program (legacy tc) from a link first. */
	if (!fd_is_bpf_link(fd)) {
		if (bpf_prog_get_info_by_fd(fd, &pi, &len) < 0)
			return;
		o->prog_id = pi.id; /* a pinned program (legacy tc); attachment checked by observe() */
		return;
	}
	len = sizeof(li);
	if (bpf_link_get_info_by_fd(fd, &li, &len) == 0) {
		o->link_id = li.id;
		o->prog_id = li.prog_id;
		o->alive = true;
		switch (li.type) {
		case BPF_LINK_TYPE_XDP:
			o->defunct = li.xdp.ifindex == 0;
			break;
		case BPF_LINK_TYPE_TCX:
			o->defunct = li.tcx.ifindex == 0;
			break;
		case BPF_LINK_TYPE_CGROUP:
			o->defunct = li.cgroup.cgroup_id == 0;
			break;
		case BPF_LINK_TYPE_NETNS:
			o->defunct = li.netns.netns_ino == 0;
			break;
		case BPF_LINK_TYPE_NETKIT:
			o->defunct = li.netkit.ifindex == 0;
			break;
		default:
			break;
		}
		o->alive = !o->defunct;
	}
}

static int observe_all(struct run *r)
{
	/* Reading never pins: a run that changes nothing leaves nothing
	 * behind. The iterator is pinned after apply changed something. */
	struct live_opts lo = {
		.bpffs = r->cli->bpffs,
		.force_next_id = r->cli->no_iter,
	};
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
			continue;
		}
		if (o->has_record && rec->link_id) {
			const struct live_link *l = live_links_find(&r->live, rec->link_id);

			if (l) {
				o->link_id = l->id;
				o->prog_id = l->prog_id;
				switch (l->type) {
				case BPF_LINK_TYPE_XDP:
				case BPF_LINK_TYPE_TCX:
				case BPF_LINK_TYPE_NETKIT:
					o->defunct = l->ifindex == 0;
					break;
				case BPF_LINK_TYPE_CGROUP:
					o->defunct = l->cgroup_id == 0;
					break;
				case BPF_LINK_TYPE_NETNS:
					o->defunct = l->netns_ino == 0;
					break;
				default:
					break;
				}
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
	return 0;
}

/* ---- prepare ---- */

static int lock_root(struct run *r, bool exclusive)
{
	r->lock_fd = open(r->cli->bpffs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->lock_fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (flock(r->lock_fd, exclusive ? LOCK_EX : LOCK_SH) < 0)
		return -errno;
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
		bool mutate = mode == RUN_APPLY || mode == RUN_DESTROY;

		if (geteuid() != 0)
			log_warn("not running as root: reading BPF state will likely fail");
		err = state_root_check(cli->bpffs, false);
		if (err < 0)
			return err;
		err = lock_root(r, mutate);
		if (err < 0) {
			log_error("state root '%s': cannot lock it: %s", cli->bpffs, strerror(-err));
			return err;
		}
		/* Without directories the set is not the whole desired state:
		 * read only the named manifests. */
		bool all = (mode == RUN_DESTROY && cli->all) || r->set->from_dirs ||
			   mode == RUN_STATUS;
		err = state_read(cli->bpffs, all ? NULL : (char *const *)r->scope,
				 r->scope_count, &r->st);
		if (err < 0)
			return err;
		err = observe_all(r);
		if (err < 0)
			return err;
		recs = xcalloc(r->st.count, sizeof(*recs));
		rec_manifests = xcalloc(r->st.count, sizeof(char *));
		for (size_t i = 0; i < r->st.count; i++)
			if (r->st.obs[i].has_record) {
				recs[nrecs] = r->st.obs[i].rec;
				rec_manifests[nrecs++] = r->st.obs[i].manifest;
			}
	}
	if (mode == RUN_DESTROY) {
		free(recs);
		free(rec_manifests);
		return 0;
	}

	objects_init(&r->objs, r->set, cli->bpffs);
	err = objects_identify(&r->objs, recs, nrecs, rec_manifests);
	free(recs);
	free(rec_manifests);
	if (objects_open(&r->objs) < 0)
		err = -EINVAL;
	if (err < 0)
		return err;
	return resolve_all(r);
}

void run_free(struct run *r)
{
	for (size_t i = 0; i < r->ifcache_count; i++)
		if (r->ifcache[i].ifs)
			if_freenameindex(r->ifcache[i].ifs);
	free(r->ifcache);
	for (size_t i = 0; i < r->want_count; i++) {
		free(r->want[i].t.cgroup_path);
		free(r->want[i].t.name);
		free(r->want[i].t.path);
	}
	free(r->want);
	plan_free(&r->plan);
	objects_free(&r->objs);
	if (r->have_live)
		live_links_free(&r->live);
	state_free(&r->st);
	state_close_maps();
	free(r->scope);
	if (r->set)
		manifest_set_free(r->set);
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	memset(r, 0, sizeof(*r));
}

/* ---- execute ---- */

static void record_fill(struct run *r, const struct cnf_instance *w, const struct attach_result *res,
			uint32_t link_id, uint32_t prog_id, const struct cnf_record *prev,
			struct cnf_record *rec)
{
	const struct obj_entry *e = objects_for(&r->objs, w->att);

	memset(rec, 0, sizeof(*rec));
	rec->version = CNF_RECORD_VERSION;
	rec->hook = (uint32_t)w->t.kind;
	rec->link_id = link_id;
	rec->prog_id = prog_id;
	memcpy(rec->prog_hash, w->prog_hash, CNF_HASH_LEN);
	memcpy(rec->hook_hash, w->hook_hash, CNF_HASH_LEN);
	rec->obj_dev = e->st.st_dev;
	rec->obj_ino = e->st.st_ino;
	rec->obj_size = (uint64_t)e->st.st_size;
	rec->obj_mtime_ns = (uint64_t)e->st.st_mtim.tv_sec * 1000000000ull +
			    (uint64_t)e->st.st_mtim.tv_nsec;
	memcpy(rec->obj_hash, e->hash, CNF_HASH_LEN);
	rec->netns_ino = w->t.netns_ino;
	rec->cgroup_id = w->t.cgroup_id;
	rec->ifindex = w->t.ifindex;
	rec->xdp_flags = res->xdp_flags;
	rec->tc_priority = res->tc_priority;
	rec->tc_handle = res->tc_handle;
	rec->tc_parent = res->tc_parent;
	rec->created_sec = prev ? prev->created_sec : (uint64_t)time(NULL);
	snprintf(rec->attachment, sizeof(rec->attachment), "%s", w->att->name);
	snprintf(rec->program, sizeof(rec->program), "%s", w->att->program);
	snprintf(rec->target, sizeof(rec->target), "%s", w->target_text);
	snprintf(rec->hook_desc, sizeof(rec->hook_desc), "%s", w->hook_desc);
	snprintf(rec->netns, sizeof(rec->netns), "%s", w->t.netns ? w->t.netns : "");
	{
		struct bpf_program *p = w->att->prog_name ?
			objects_program((struct obj_entry *)e, w->att->prog_name) : NULL;

		rec->prog_type = p ? bpf_program__type(p) : 0;
	}
	rec->attach_type = w->t.attach_type;
}

static int prog_fd_of(struct run *r, const struct cnf_instance *w)
{
	struct obj_entry *e = objects_for(&r->objs, w->att);

	struct bpf_program *p = w->att->prog_name ? objects_program(e, w->att->prog_name) : NULL;

	return p ? bpf_program__fd(p) : -1;
}

/* What attach and update get besides the program's fd. */
static void args_init(struct run *r, const struct cnf_instance *w, struct attach_args *args)
{
	struct obj_entry *e = objects_for(&r->objs, w->att);

	memset(args, 0, sizeof(*args));
	args->obj = e ? e->bo : NULL;
	args->prog = w->att->prog_name && e ? objects_program(e, w->att->prog_name) : NULL;
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
		if (a->done && a->link_id)
			return a->link_id;
		if (a->have)
			return a->have->link_id;
	}
	return 0;
}

static const char *action_what(const struct cnf_action *a)
{
	static char buf[CNF_KEY_MAX + 2 * CNF_NAME_MAX + 16];

	snprintf(buf, sizeof(buf), "attachment '%s' of manifest '%s' on %s",
		 a->want ? a->want->att->name : a->have->rec.attachment,
		 a->want ? a->want->manifest->name : a->have->manifest,
		 a->want ? a->want->target_text : a->have->rec.target);
	return buf;
}

static int do_attach(struct run *r, struct cnf_action *a, bool pin_now, int *ret_fd,
		     struct attach_result *res)
{
	const struct cnf_instance *w = a->want;
	const struct hook_ops *ops = ops_for_target(&w->t);
	struct attach_args args;
	int orig, fd, err;

	args_init(r, w, &args);
	if (w->t.anchor)
		args.anchor_link_id = anchor_link_id(r, w);
	err = netns_enter(w->t.netns, &orig);
	if (err < 0)
		return err;
	fd = ops->attach(w, prog_fd_of(r, w), &args, res);
	netns_leave(orig);
	if (fd < 0) {
		if (fd == -ESTALE)
			log_error("%s: the hook changed while attaching (concurrent change); "
				  "run apply again", action_what(a));
		else if (fd == -ENOENT && w->t.anchor)
			log_error("%s: anchor '%s' is not attached", action_what(a), w->t.anchor);
		else
			log_error("%s: attach failed: %s", action_what(a), strerror(-fd));
		return fd;
	}
	if (ops == &hook_tc_ops) {
		/* No link: what we hold is the program itself. */
		struct bpf_prog_info pi = {};
		__u32 len = sizeof(pi);

		if (bpf_prog_get_info_by_fd(fd, &pi, &len) == 0)
			res->prog_id = pi.id;
	} else {
		struct bpf_link_info li = {};
		__u32 len = sizeof(li);

		if (bpf_link_get_info_by_fd(fd, &li, &len) == 0) {
			res->link_id = li.id;
			res->prog_id = li.prog_id;
		}
	}
	if (pin_now) {
		err = state_pin(r->cli->bpffs, w->manifest->name, w->key, fd);
		if (err < 0) {
			log_error("%s: pinning under %s failed: %s", action_what(a), r->cli->bpffs,
				  strerror(-err));
			if (!w->t.tc_fallback && w->t.kind != HOOK_TC)
				link_detach_common(fd);
			close(fd);
			return err;
		}
	}
	*ret_fd = fd;
	return 0;
}

static int do_detach(struct run *r, const struct cnf_observed *h)
{
	char path[PATH_MAX];
	_cleanup_close_ int fd = -1;
	const struct hook_ops *ops;
	int orig, err = 0;

	if (state_pin_path(path, sizeof(path), r->cli->bpffs, h->manifest, h->key) < 0)
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (h->has_record) {
		ops = ops_for_record(&h->rec);
		if (ops && netns_enter(h->rec.netns[0] ? h->rec.netns : NULL, &orig) == 0) {
			err = ops->detach(&h->rec, fd);
			netns_leave(orig);
		}
	} else if (fd >= 0) {
		err = link_detach_common(fd);
	}
	if (err < 0)
		return err;
	err = state_unpin(r->cli->bpffs, h->manifest, h->key);
	if (err < 0)
		return err;
	return state_record_del(r->cli->bpffs, h->manifest, h->key);
}

static int exec_action(struct run *r, struct cnf_action *a)
{
	const struct cnf_instance *w = a->want;
	const struct cnf_observed *h = a->have;
	struct attach_result res = {};
	struct cnf_record rec;
	int fd = -1, err;

	switch (a->kind) {
	case ACT_NOOP:
		if (h) {
			a->link_id = h->link_id;
			a->prog_id = h->prog_id;
		}
		return 0;
	case ACT_DELETE:
		err = do_detach(r, h);
		if (err < 0) {
			log_error("%s: detach failed: %s", action_what(a), strerror(-err));
			return err;
		}
		break;
	case ACT_CREATE:
		if (h && (h->has_pin || h->has_record)) {
			err = do_detach(r, h); /* a defunct or stale leftover */
			if (err < 0) {
				log_error("%s: removing the stale pin failed: %s", action_what(a),
					  strerror(-err));
				return err;
			}
		}
		err = do_attach(r, a, true, &fd, &res);
		if (err < 0)
			return err;
		break;
	case ACT_UPDATE: {
		char path[PATH_MAX];
		_cleanup_close_ int pin = -1;
		const struct hook_ops *ops = ops_for_target(&w->t);
		struct attach_args args;
		int orig;

		state_pin_path(path, sizeof(path), r->cli->bpffs, h->manifest, h->key);
		pin = bpf_obj_get(path);
		if (pin < 0) {
			err = -errno;
			log_error("%s: opening pin %s: %s", action_what(a), path, strerror(-err));
			return err;
		}
		res.link_id = h->link_id;
		args_init(r, w, &args);
		err = netns_enter(w->t.netns, &orig);
		if (err < 0)
			return err;
		err = ops->update(w, &h->rec, pin, prog_fd_of(r, w), h->prog_id, &args, &res);
		netns_leave(orig);
		if (err < 0) {
			log_error("%s: in-place update failed: %s", action_what(a), strerror(-err));
			return err;
		}
		if (!res.prog_id) {
			struct bpf_prog_info pi = {};
			__u32 len = sizeof(pi);

			if (bpf_prog_get_info_by_fd(prog_fd_of(r, w), &pi, &len) == 0)
				res.prog_id = pi.id;
		}
		if (w->t.tc_fallback || w->t.kind == HOOK_TC) {
			/* The pin holds the program: repin the new one. */
			err = state_pin(r->cli->bpffs, w->manifest->name, w->key, prog_fd_of(r, w));
			if (err < 0) {
				log_error("%s: pinning failed: %s", action_what(a), strerror(-err));
				return err;
			}
			res.tc_parent = h->rec.tc_parent;
			res.link_id = 0;
		}
		break;
	}
	case ACT_REPLACE:
		if (a->strategy == STRAT_MAKE_BEFORE_BREAK) {
			err = do_attach(r, a, false, &fd, &res);
			if (err < 0)
				return err;
			err = do_detach(r, h);
			if (err >= 0)
				err = state_pin(r->cli->bpffs, w->manifest->name, w->key, fd);
		} else {
			err = do_detach(r, h);
			if (err >= 0)
				err = do_attach(r, a, true, &fd, &res);
		}
		if (err < 0) {
			if (fd >= 0)
				close(fd);
			log_error("%s: replace failed: %s", action_what(a), strerror(-err));
			return err;
		}
		break;
	}
	if (w) {
		uint32_t link_id = res.tc_parent ? 0 : res.link_id;

		record_fill(r, w, &res, link_id, res.prog_id, h && h->has_record ? &h->rec : NULL, &rec);
		if (a->kind == ACT_UPDATE && h->has_record) {
			/* Same attachment point: keep what the attach recorded. */
			rec.xdp_flags = h->rec.xdp_flags;
			rec.tc_priority = h->rec.tc_priority;
			rec.tc_handle = h->rec.tc_handle;
			rec.tc_parent = h->rec.tc_parent;
		}
		err = state_record_put(r->cli->bpffs, w->manifest->name, w->key, &rec);
		if (fd >= 0)
			close(fd);
		if (err < 0) {
			log_error("%s: writing its state record failed: %s", action_what(a), strerror(-err));
			return err;
		}
		a->link_id = link_id;
		a->prog_id = res.prog_id;
		a->result_note = res.note;
		if (!a->result_note && h && h->has_record && w->t.kind == HOOK_XDP)
			a->result_note = NULL;
	} else {
		state_tidy(r->cli->bpffs, h->manifest);
	}
	a->done = true;
	r->applied++;
	return 0;
}

/* Everything that can fail without touching a hook, for every action. */
static int preflight(struct run *r)
{
	int ret = 0;

	for (size_t i = 0; i < r->plan.count; i++) {
		struct cnf_action *a = &r->plan.actions[i];
		const struct cnf_instance *w = a->want;
		const struct hook_ops *ops;
		char why[512];
		int orig;

		if (!w || a->kind == ACT_NOOP || a->kind == ACT_DELETE)
			continue;
		if (objects_load(objects_for(&r->objs, w->att), w->att->name,
				 manifest_attachment_line(w->manifest, w->att_idx, "program")) < 0) {
			ret = -EINVAL;
			continue;
		}
		ops = ops_for_target(&w->t);
		if (a->kind == ACT_UPDATE || !ops->preflight)
			continue;
		if (netns_enter(w->t.netns, &orig) < 0)
			continue;
		if (ops->preflight(w, a->have ? a->have->prog_id : 0, why, sizeof(why)) < 0) {
			log_error("attachment '%s' (%s:%d): %s", w->att->name,
				  ATT_LOC(w->manifest, w->att_idx, NULL), why);
			ret = -EBUSY;
		}
		netns_leave(orig);
	}
	return ret;
}

int run_execute(struct run *r)
{
	int err;

	if (r->plan.changes == 0)
		return 0;
	err = preflight(r);
	if (err < 0)
		return err;
	if (r->mode == RUN_APPLY) {
		err = state_root_check(r->cli->bpffs, true);
		if (err < 0)
			return err;
	}
	for (size_t i = 0; i < r->plan.count; i++) {
		err = exec_action(r, &r->plan.actions[i]);
		if (err < 0) {
			log_error("stopped after %zu of %zu changes; the changes made so far are in "
				  "place and recorded, run apply again once the cause is fixed",
				  r->applied, r->plan.changes);
			return err;
		}
	}
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
