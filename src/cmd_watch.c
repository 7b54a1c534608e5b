// SPDX-License-Identifier: GPL-2.0-only
/* watch: converge continuously.
 *
 * Sources of events, all in one epoll loop:
 *   - inotify on the directories of the manifests, of the objects they
 *     name and of the network namespaces they name (/run/netns/...): a
 *     manifest or object change is a full reconcile, a namespace that
 *     appears or goes is a reconcile of that namespace's attachments;
 *   - rtnetlink link events (RTMGRP_LINK) in the tool's own namespace and
 *     in every namespace a manifest names: an interface that appears, goes
 *     or is renamed is a reconcile of the attachments on that interface;
 *   - a periodic timer: a full reconcile, which corrects drift;
 *   - signals: SIGTERM/SIGINT stop (pinned state stays), SIGHUP reconciles.
 * Events are coalesced: a reconcile starts once no event came for
 * settle_ms, or 10 * settle_ms after the first one of a burst. Each
 * reconcile is an apply (same lock, planner, transaction), limited to the
 * targets the events touched. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <stddef.h>
#include <linux/magic.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "cnf/cli.h"
#include "cnf/iflist.h"
#include "cnf/log.h"
#include "cnf/output.h"
#include "cnf/reconcile.h"
#include "cnf/util.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

#define INOTIFY_MASK (IN_CREATE | IN_DELETE | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | \
		      IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define NS_RETRIES 50          /* a new /run/netns file gets its nsfs mount shortly after */

enum src { SRC_INOTIFY = 1, SRC_SIGNAL, SRC_TICK, SRC_SETTLE, SRC_NETLINK };

enum wpath_kind { WP_MANIFEST, WP_OBJECT, WP_NETNS };

/* A file watched through its directory. */
struct wpath {
	char *dir;
	char *name;                /* NULL: any *.yaml / *.yml (a manifest directory) */
	enum wpath_kind kind;
};

struct wdir {
	int wd;
	char *path;
	dev_t dev;
	ino_t ino;
};

struct ifent {
	unsigned idx;
	char name[IF_NAMESIZE];
};

/* Link events of one network namespace. */
struct nsw {
	char *path;                /* NULL: the tool's own */
	struct mnl_socket *nl;
	ino_t ino;
	struct ifent *ifs;
	size_t ifs_count, ifs_cap;
	bool named;                /* a manifest still names it */
};

struct watch {
	const struct cli *cli;
	int ep, ino, sig, tick, settle;
	struct wpath *paths;
	size_t paths_count, paths_cap;
	struct wdir *dirs;
	size_t dirs_count, dirs_cap;
	struct nsw *ns;
	size_t ns_count, ns_cap;
	int ns_retries;
	int retry_ms;              /* after a failed reconcile that may pass later */
	/* what the next reconcile covers */
	bool pending, full;
	struct run_focus focus;
	size_t focus_ifs_cap, focus_ns_cap;
	char trigger[256];
	unsigned more;             /* events after the first of a burst */
	struct timespec since;
	bool stop;
	int stop_sig;
};

/* ---- output ---- */

static void say(const struct watch *w, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(const struct watch *w, const char *event, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = output_vformat(fmt, ap);
	va_end(ap);
	if (!s)
		return;
	if (w->cli->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "message", json_object_new_string(s));
		output_json_line(event, o);
	} else {
		printf("%s\n", s);
		fflush(stdout);
	}
	free(s);
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

static void report_run(const struct watch *w, const struct run *r, int err, double ms)
{
	const struct cnf_plan *p = &r->plan;
	size_t counts[ACT_DELETE + 1] = {};

	for (size_t i = 0; err >= 0 && i < p->count; i++) {
		const struct cnf_action *a = &p->actions[i];
		json_object *o;

		counts[a->kind]++;
		if (a->kind == ACT_NOOP)
			continue;
		o = output_action_json(a, true);
		json_object_object_add(o, "trigger", json_object_new_string(w->trigger));
		if (w->cli->json) {
			output_json_line("action", o);
			continue;
		}
		printf("%s %s/%s %s %s: %s", jstr(o, "action"), jstr(o, "manifest"),
		       jstr(o, "attachment"), jstr(o, "hook"), jstr(o, "target"), jstr(o, "reason"));
		if (a->link_id)
			printf("; link %u", a->link_id);
		if (a->prog_id)
			printf(", prog %u", a->prog_id);
		printf(" (%s)\n", w->trigger);
		json_object_put(o);
	}
	if (err < 0) {
		if (w->cli->json) {
			for (unsigned i = 0; i < log_error_count(); i++) {
				json_object *o = json_object_new_object();

				json_object_object_add(o, "message",
						       json_object_new_string(log_error_at(i)));
				json_object_object_add(o, "trigger",
						       json_object_new_string(w->trigger));
				output_json_line("error", o);
			}
		} else {
			printf("reconcile failed (%s): nothing changed but what the errors above "
			       "say\n", w->trigger);
		}
	} else if (r->applied || log_verbosity > 0) {
		if (w->cli->json) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "trigger", json_object_new_string(w->trigger));
			json_object_object_add(o, "scope", json_object_new_string(
				w->full ? "all" : "focus"));
			json_object_object_add(o, "changed", json_object_new_boolean(r->applied > 0));
			for (int k = 0; k <= ACT_DELETE; k++)
				json_object_object_add(o, action_kind_name((enum action_kind)k),
						       json_object_new_int64((int64_t)counts[k]));
			char num[32];

			snprintf(num, sizeof(num), "%.1f", ms);
			json_object_object_add(o, "ms", json_object_new_double_s(ms, num));
			output_json_line("reconcile", o);
		} else {
			printf("reconciled (%s): %zu created, %zu updated, %zu replaced, %zu deleted, "
			       "%zu unchanged in %.1f ms\n", w->trigger, counts[ACT_CREATE],
			       counts[ACT_UPDATE], counts[ACT_REPLACE], counts[ACT_DELETE],
			       counts[ACT_NOOP], ms);
		}
	}
	if (w->cli->json)
		for (unsigned i = 0; i < log_warn_count(); i++) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "message", json_object_new_string(log_warn_at(i)));
			output_json_line("warning", o);
		}
	fflush(stdout);
}

/* ---- pending work ---- */

static void focus_clear(struct watch *w)
{
	for (size_t i = 0; i < w->focus.ifs_count; i++)
		free((char *)w->focus.ifs[i].netns);
	for (size_t i = 0; i < w->focus.netns_count; i++)
		free((char *)w->focus.netns[i]);
	w->focus.ifs_count = 0;
	w->focus.netns_count = 0;
	w->focus.own_netns = false;
	w->pending = false;
	w->full = false;
	w->more = 0;
	w->trigger[0] = '\0';
}

static void arm_settle(struct watch *w)
{
	struct itimerspec its = {};
	struct timespec now, at, cap;
	long ms = w->cli->settle_ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	at = now;
	at.tv_nsec += (ms % 1000) * 1000000L;
	at.tv_sec += ms / 1000 + at.tv_nsec / 1000000000L;
	at.tv_nsec %= 1000000000L;
	/* A steady stream of events must not postpone the reconcile for ever. */
	cap = w->since;
	cap.tv_nsec += (10 * ms % 1000) * 1000000L;
	cap.tv_sec += 10 * ms / 1000 + cap.tv_nsec / 1000000000L;
	cap.tv_nsec %= 1000000000L;
	if (cap.tv_sec < at.tv_sec || (cap.tv_sec == at.tv_sec && cap.tv_nsec < at.tv_nsec))
		at = cap;
	if (at.tv_sec == 0 && at.tv_nsec == 0)
		at.tv_nsec = 1;
	its.it_value = at;
	timerfd_settime(w->settle, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Records an event; `why` says what happened, for the log lines. */
static void note(struct watch *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct watch *w, const char *fmt, ...)
{
	va_list ap;

	if (!w->pending) {
		w->pending = true;
		clock_gettime(CLOCK_MONOTONIC, &w->since);
		va_start(ap, fmt);
		vsnprintf(w->trigger, sizeof(w->trigger), fmt, ap);
		va_end(ap);
	} else {
		w->more++;
	}
	arm_settle(w);
}

static void want_full(struct watch *w)
{
	w->full = true;
}

static void want_netns(struct watch *w, const char *path)
{
	if (!path) {
		w->focus.own_netns = true;
		return;
	}
	for (size_t i = 0; i < w->focus.netns_count; i++)
		if (streq(w->focus.netns[i], path))
			return;
	if (grow_array((void **)&w->focus.netns, &w->focus_ns_cap, w->focus.netns_count + 1,
		       sizeof(*w->focus.netns)) < 0) {
		w->full = true;
		return;
	}
	w->focus.netns[w->focus.netns_count++] = xstrdup(path);
}

static void want_if(struct watch *w, const char *netns, const char *ifname)
{
	struct focus_if *f;

	for (size_t i = 0; i < w->focus.ifs_count; i++)
		if (streq_ptr(w->focus.ifs[i].netns, netns) && streq(w->focus.ifs[i].ifname, ifname))
			return;
	if (grow_array((void **)&w->focus.ifs, &w->focus_ifs_cap, w->focus.ifs_count + 1,
		       sizeof(*w->focus.ifs)) < 0) {
		w->full = true;
		return;
	}
	f = &w->focus.ifs[w->focus.ifs_count++];
	f->netns = netns ? xstrdup(netns) : NULL;
	snprintf(f->ifname, sizeof(f->ifname), "%s", ifname);
}

/* ---- inotify: manifests, objects, namespace files ---- */

static void paths_clear(struct watch *w)
{
	for (size_t i = 0; i < w->paths_count; i++) {
		free(w->paths[i].dir);
		free(w->paths[i].name);
	}
	w->paths_count = 0;
}

static void path_add(struct watch *w, const char *file, bool is_dir, enum wpath_kind kind)
{
	_cleanup_free_ char *copy = xstrdup(file);
	char *slash, *dir, *name;
	size_t len = strlen(copy);

	while (len > 1 && copy[len - 1] == '/')
		copy[--len] = '\0';
	if (is_dir) {
		dir = xstrdup(copy);
		name = NULL;
	} else {
		slash = strrchr(copy, '/');
		if (!slash) {
			dir = xstrdup(".");
			name = xstrdup(copy);
		} else {
			name = xstrdup(slash + 1);
			*slash = '\0';
			dir = xstrdup(copy[0] ? copy : "/");
		}
	}
	for (size_t i = 0; i < w->paths_count; i++)
		if (w->paths[i].kind == kind && streq(w->paths[i].dir, dir) &&
		    streq_ptr(w->paths[i].name, name)) {
			free(dir);
			free(name);
			return;
		}
	if (grow_array((void **)&w->paths, &w->paths_cap, w->paths_count + 1,
		       sizeof(*w->paths)) < 0) {
		free(dir);
		free(name);
		return;
	}
	w->paths[w->paths_count++] = (struct wpath){ .dir = dir, .name = name, .kind = kind };
}

/* What to watch: the command line's paths always; the objects and
 * namespaces of the manifests last loaded. */
static void paths_build(struct watch *w, const struct cnf_manifest_set *set)
{
	paths_clear(w);
	for (size_t i = 0; i < w->cli->paths_count; i++) {
		const char *p = w->cli->paths[i];
		struct stat st;

		if (stat(p, &st) == 0) {
			path_add(w, p, S_ISDIR(st.st_mode), WP_MANIFEST);
		} else {
			/* Not there yet: it may come as a file or a directory. */
			path_add(w, p, false, WP_MANIFEST);
		}
	}
	for (size_t i = 0; set && i < set->count; i++) {
		const struct cnf_manifest *m = set->manifests[i];

		for (size_t j = 0; j < m->objects_count; j++)
			if (m->objects[j].path)
				path_add(w, m->objects[j].path, false, WP_OBJECT);
		for (size_t j = 0; j < m->attachments_count; j++)
			if (m->attachments[j].netns)
				path_add(w, m->attachments[j].netns, false, WP_NETNS);
	}
}

static struct wdir *dir_by_wd(struct watch *w, int wd)
{
	for (size_t i = 0; i < w->dirs_count; i++)
		if (w->dirs[i].wd == wd)
			return &w->dirs[i];
	return NULL;
}

static void dir_forget(struct watch *w, struct wdir *d)
{
	free(d->path);
	*d = w->dirs[--w->dirs_count];
}

/* Watches `path`, or its nearest existing ancestor while it does not
 * exist (an event there re-evaluates the watches). */
static void dir_watch(struct watch *w, const char *path)
{
	_cleanup_free_ char *p = xstrdup(path);
	struct stat st;

	for (;;) {
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
			break;
		char *slash = strrchr(p, '/');

		if (!slash || slash == p) {
			snprintf(p, 2, "/");
			if (stat(p, &st) < 0)
				return;
			break;
		}
		*slash = '\0';
	}
	for (size_t i = 0; i < w->dirs_count; i++) {
		struct wdir *d = &w->dirs[i];

		if (!streq(d->path, p))
			continue;
		if (d->dev == st.st_dev && d->ino == st.st_ino)
			return;
		/* Something was mounted over it, or it was recreated. */
		inotify_rm_watch(w->ino, d->wd);
		dir_forget(w, d);
		break;
	}
	int wd = inotify_add_watch(w->ino, p, INOTIFY_MASK);

	if (wd < 0) {
		log_warn("watch: cannot watch %s: %s", p, strerror(errno));
		return;
	}
	if (dir_by_wd(w, wd))
		return; /* the same directory under another name */
	if (grow_array((void **)&w->dirs, &w->dirs_cap, w->dirs_count + 1, sizeof(*w->dirs)) < 0)
		return;
	w->dirs[w->dirs_count++] = (struct wdir){ .wd = wd, .path = TAKE_PTR(p),
						  .dev = st.st_dev, .ino = st.st_ino };
}

static void dirs_refresh(struct watch *w)
{
	for (size_t i = 0; i < w->paths_count; i++)
		dir_watch(w, w->paths[i].dir);
}

static bool dir_watched(const struct watch *w, const char *path)
{
	for (size_t i = 0; i < w->dirs_count; i++)
		if (streq(w->dirs[i].path, path))
			return true;
	return false;
}

/* Whether `dir`/`name` is `target` or one of its ancestors. */
static bool leads_to(const char *dir, const char *name, const char *target)
{
	size_t d = streq(dir, "/") ? 0 : strlen(dir), n = strlen(name);

	return n && strncmp(target, dir, d) == 0 && target[d] == '/' &&
	       strncmp(target + d + 1, name, n) == 0 &&
	       (target[d + 1 + n] == '/' || target[d + 1 + n] == '\0');
}

static bool is_manifest_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && ((n > 5 && streq(name + n - 5, ".yaml")) ||
				  (n > 4 && streq(name + n - 4, ".yml")));
}

static void on_inotify_event(struct watch *w, const struct inotify_event *ev)
{
	struct wdir *d = dir_by_wd(w, ev->wd);
	const char *name = ev->len ? ev->name : "";
	bool matched = false;

	if (!d)
		return;
	if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
		char *path = xstrdup(d->path);

		if (ev->mask & IN_IGNORED)
			dir_forget(w, d);
		want_full(w);
		note(w, "directory %s changed", path);
		free(path);
		dirs_refresh(w);
		return;
	}
	for (size_t i = 0; i < w->paths_count; i++) {
		const struct wpath *p = &w->paths[i];
		_cleanup_free_ char *full = NULL;

		if (!streq(p->dir, d->path)) {
			/* The watched ancestor of a directory that does not exist
			 * (yet): an event on the next component on the way. */
			if (!dir_watched(w, p->dir) && leads_to(d->path, name, p->dir)) {
				dirs_refresh(w);
				want_full(w);
				note(w, "%s/%s appeared", streq(d->path, "/") ? "" : d->path, name);
				return;
			}
			continue;
		}
		if (p->name ? !streq(p->name, name) : !is_manifest_name(name))
			continue;
		matched = true;
		full = strprintf("%s/%s", d->path, name);
		switch (p->kind) {
		case WP_MANIFEST:
			want_full(w);
			note(w, "manifest %s changed", full);
			break;
		case WP_OBJECT:
			want_full(w);
			note(w, "object %s changed", full);
			break;
		case WP_NETNS:
			want_netns(w, full);
			note(w, "network namespace %s %s", full,
			     ev->mask & (IN_DELETE | IN_MOVED_FROM) ? "went away" : "appeared");
			break;
		}
		if (p->kind != WP_NETNS)
			break;
	}
	(void)matched;
}

static void on_inotify(struct watch *w)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t n = read(w->ino, buf, sizeof(buf));

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return;
		}
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->mask & IN_Q_OVERFLOW) {
				want_full(w);
				note(w, "file events overflowed");
			} else {
				on_inotify_event(w, ev);
			}
			p += sizeof(*ev) + ev->len;
		}
	}
}

/* ---- rtnetlink: interfaces ---- */

static struct ifent *ns_if(struct nsw *ns, unsigned idx)
{
	for (size_t i = 0; i < ns->ifs_count; i++)
		if (ns->ifs[i].idx == idx)
			return &ns->ifs[i];
	return NULL;
}

static void ns_if_set(struct nsw *ns, unsigned idx, const char *name)
{
	struct ifent *e = ns_if(ns, idx);

	if (!e) {
		if (grow_array((void **)&ns->ifs, &ns->ifs_cap, ns->ifs_count + 1,
			       sizeof(*ns->ifs)) < 0)
			return;
		e = &ns->ifs[ns->ifs_count++];
		e->idx = idx;
	}
	snprintf(e->name, sizeof(e->name), "%s", name);
}

static const char *ns_text(const struct nsw *ns)
{
	return ns->path ? ns->path : "this namespace";
}

/* A link message: react to interfaces that are new, renamed or gone, not
 * to the flag and state changes (an XDP attach among them) of known ones. */
static void on_link(struct watch *w, struct nsw *ns, const struct nlmsghdr *nlh)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;
	const char *name = NULL;
	struct ifent *e;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifi)))
		return;
	mnl_attr_for_each(attr, nlh, sizeof(*ifi))
		if (mnl_attr_get_type(attr) == IFLA_IFNAME &&
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
			name = mnl_attr_get_str(attr);
	e = ns_if(ns, (unsigned)ifi->ifi_index);
	if (nlh->nlmsg_type == RTM_DELLINK) {
		if (!e)
			return;
		want_if(w, ns->path, e->name);
		note(w, "interface %s went away in %s", e->name, ns_text(ns));
		*e = ns->ifs[--ns->ifs_count];
		return;
	}
	if (nlh->nlmsg_type != RTM_NEWLINK || !name)
		return;
	if (e && streq(e->name, name))
		return;
	if (e) {
		want_if(w, ns->path, e->name);
		want_if(w, ns->path, name);
		note(w, "interface %s renamed %s in %s", e->name, name, ns_text(ns));
	} else {
		want_if(w, ns->path, name);
		note(w, "interface %s appeared in %s", name, ns_text(ns));
	}
	ns_if_set(ns, (unsigned)ifi->ifi_index, name);
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	void **ctx = data;

	on_link(ctx[0], ctx[1], nlh);
	return MNL_CB_OK;
}

/* Lists the namespace's interfaces again and turns differences into
 * events (after lost messages, or when starting to watch it). The caller
 * is in the namespace. */
static void ns_resync(struct watch *w, struct nsw *ns, bool quiet)
{
	struct iface_list ifs = {};
	struct ifent *old = ns->ifs;
	size_t old_count = ns->ifs_count;

	if (iface_list_read(&ifs) < 0) {
		want_netns(w, ns->path);
		note(w, "cannot list the interfaces of %s", ns_text(ns));
		return;
	}
	ns->ifs = NULL;
	ns->ifs_count = ns->ifs_cap = 0;
	for (size_t k = 0; k < ifs.count; k++) {
		const struct iface *it = &ifs.v[k];
		bool known = false;

		ns_if_set(ns, (unsigned)it->ifindex, it->name);
		for (size_t i = 0; i < old_count && !known; i++)
			known = old[i].idx == (unsigned)it->ifindex && streq(old[i].name, it->name);
		if (!known && !quiet) {
			want_if(w, ns->path, it->name);
			note(w, "interface %s appeared in %s", it->name, ns_text(ns));
		}
	}
	for (size_t i = 0; i < old_count && !quiet; i++) {
		struct ifent *e = ns_if(ns, old[i].idx);

		if (!e || !streq(e->name, old[i].name)) {
			want_if(w, ns->path, old[i].name);
			note(w, "interface %s went away in %s", old[i].name, ns_text(ns));
		}
	}
	free(old);
	iface_list_free(&ifs);
}

static void on_netlink(struct watch *w, size_t idx)
{
	struct nsw *ns = &w->ns[idx];
	char buf[MNL_SOCKET_BUFFER_SIZE];
	void *ctx[2] = { w, ns };

	if (!ns->nl)
		return;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(ns->nl, buf, sizeof(buf));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				/* Messages were lost: compare with a fresh list. */
				int orig;

				if (netns_enter(ns->path, &orig) == 0) {
					ns_resync(w, ns, false);
					netns_leave(orig);
				}
				continue;
			}
			return; /* EAGAIN */
		}
		mnl_cb_run(buf, (size_t)n, 0, 0, link_cb, ctx);
	}
}

static void ns_close(struct watch *w, struct nsw *ns)
{
	if (ns->nl) {
		epoll_ctl(w->ep, EPOLL_CTL_DEL, mnl_socket_get_fd(ns->nl), NULL);
		mnl_socket_close(ns->nl);
		ns->nl = NULL;
	}
	free(ns->ifs);
	ns->ifs = NULL;
	ns->ifs_count = ns->ifs_cap = 0;
	ns->ino = 0;
}

/* Opens a link-event socket inside the namespace (a netlink socket stays
 * bound to the namespace it was created in). */
static int ns_open(struct watch *w, size_t idx)
{
	struct nsw *ns = &w->ns[idx];
	struct epoll_event ev = { .events = EPOLLIN };
	int orig, err, size = 4 << 20;
	struct stat st;

	err = netns_enter(ns->path, &orig);
	if (err < 0)
		return err;
	if (stat(ns->path ? ns->path : "/proc/self/ns/net", &st) < 0) {
		err = -errno;
		netns_leave(orig);
		return err;
	}
	ns->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!ns->nl || mnl_socket_bind(ns->nl, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		if (ns->nl)
			mnl_socket_close(ns->nl);
		ns->nl = NULL;
		netns_leave(orig);
		return err;
	}
	/* Bursts of hundreds of interfaces: a large buffer, then ENOBUFS
	 * triggers a resync rather than a silent loss. */
	if (setsockopt(mnl_socket_get_fd(ns->nl), SOL_SOCKET, SO_RCVBUFFORCE, &size,
		       sizeof(size)) < 0)
		setsockopt(mnl_socket_get_fd(ns->nl), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	ns->ino = st.st_ino;
	ns_resync(w, ns, true);
	netns_leave(orig);
	ev.data.u64 = (uint64_t)SRC_NETLINK << 32 | idx;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, mnl_socket_get_fd(ns->nl), &ev) < 0) {
		err = -errno;
		ns_close(w, ns);
		return err;
	}
	return 0;
}

static struct nsw *ns_find(struct watch *w, const char *path, size_t *idx)
{
	for (size_t i = 0; i < w->ns_count; i++)
		if (streq_ptr(w->ns[i].path, path)) {
			*idx = i;
			return &w->ns[i];
		}
	if (grow_array((void **)&w->ns, &w->ns_cap, w->ns_count + 1, sizeof(*w->ns)) < 0)
		return NULL;
	*idx = w->ns_count;
	w->ns[w->ns_count] = (struct nsw){ .path = path ? xstrdup(path) : NULL };
	return &w->ns[w->ns_count++];
}

/* Subscribes to the namespaces the manifests name as they appear,
 * unsubscribes as they go. A namespace that is newly watched is
 * reconciled as a whole (its interfaces may predate the socket). */
static void ns_refresh(struct watch *w)
{
	bool retry = false;

	for (size_t i = 0; i < w->ns_count; i++) {
		struct nsw *ns = &w->ns[i];
		struct statfs sf;
		struct stat st;
		bool present;

		if (!ns->path || !ns->named)
			continue;
		present = stat(ns->path, &st) == 0 && statfs(ns->path, &sf) == 0 &&
			  (unsigned long)sf.f_type == NSFS_MAGIC;
		if (ns->nl && (!present || st.st_ino != ns->ino)) {
			ns_close(w, ns);
			want_netns(w, ns->path);
			note(w, "network namespace %s went away", ns->path);
		}
		if (!present && stat(ns->path, &st) == 0)
			retry = true; /* created, not mounted yet */
		if (present && !ns->nl) {
			if (ns_open(w, i) == 0) {
				want_netns(w, ns->path);
				note(w, "network namespace %s appeared", ns->path);
			} else {
				retry = true;
			}
		}
	}
	if (retry && w->ns_retries++ < NS_RETRIES) {
		if (!w->pending) {
			w->pending = true;
			clock_gettime(CLOCK_MONOTONIC, &w->since);
			snprintf(w->trigger, sizeof(w->trigger), "waiting for a network namespace");
		}
		arm_settle(w);
	} else if (!retry) {
		w->ns_retries = 0;
	}
}

static void ns_track(struct watch *w)
{
	size_t idx;

	for (size_t i = 0; i < w->paths_count; i++)
		if (w->paths[i].kind == WP_NETNS) {
			_cleanup_free_ char *p = strprintf("%s/%s", w->paths[i].dir, w->paths[i].name);

			ns_find(w, p, &idx);
		}
	/* Stop listening where no manifest looks any more. */
	for (size_t i = 0; i < w->ns_count; i++) {
		struct nsw *ns = &w->ns[i];
		bool named = !ns->path;

		for (size_t k = 0; k < w->paths_count && !named; k++) {
			const struct wpath *p = &w->paths[k];
			size_t n = strlen(p->dir);

			named = p->kind == WP_NETNS && strncmp(ns->path, p->dir, n) == 0 &&
				ns->path[n] == '/' && streq(ns->path + n + 1, p->name);
		}
		ns->named = named;
		if (!named && ns->nl)
			ns_close(w, ns);
	}
	ns_refresh(w);
}

/* ---- reconcile ---- */

static void retry_in(struct watch *w, int ms)
{
	struct itimerspec its = { .it_value = { .tv_sec = ms / 1000,
						.tv_nsec = (long)(ms % 1000) * 1000000L } };

	w->pending = true;
	w->full = true;
	clock_gettime(CLOCK_MONOTONIC, &w->since);
	snprintf(w->trigger, sizeof(w->trigger), "retry after a failure (%d ms)", ms);
	timerfd_settime(w->settle, 0, &its, NULL);
}

static void reconcile(struct watch *w)
{
	struct cli c = *w->cli;
	struct timespec t0, t1;
	struct run r;
	bool transient;
	int err;

	if (w->more) {
		size_t n = strlen(w->trigger);

		snprintf(w->trigger + n, sizeof(w->trigger) - n, " and %u more event%s", w->more,
			 w->more == 1 ? "" : "s");
	}
	c.verb = "apply";
	c.pending_ok = true;
	c.focus = w->full ? NULL : &w->focus;
	log_reset();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = run_prepare(&r, &c, RUN_APPLY);
	transient = err == -EWOULDBLOCK; /* another run held the lock too long */
	if (r.set) {
		paths_build(w, r.set);
		dirs_refresh(w);
	}
	if (err >= 0)
		err = run_plan(&r);
	if (err >= 0) {
		err = run_execute(&r);
		transient = err < 0; /* a kernel operation failed, rolled back */
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	report_run(w, &r, err, (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		   (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	run_free(&r);
	log_reset();
	focus_clear(w);
	/* Namespaces the manifests now name: a new one is reconciled next. */
	ns_track(w);
	/* What failed for a reason that may pass is tried again, as a whole,
	 * backing off up to the periodic interval. A manifest or object that
	 * fails its checks waits for the next edit instead. */
	if (transient) {
		int cap = w->cli->interval_sec > 0 ? w->cli->interval_sec * 1000 : 300000;

		w->retry_ms = w->retry_ms ? w->retry_ms * 2 : 1000;
		if (w->retry_ms > cap)
			w->retry_ms = cap;
		retry_in(w, w->retry_ms);
	} else if (err >= 0) {
		w->retry_ms = 0;
	}
}

/* ---- setup and loop ---- */

/* Tells systemd (Type=notify) how things stand, if it asked. */
static void sd_notify_state(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	_cleanup_close_ int fd = -1;

	if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, strlen(path));
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0)
		log_debug("watch: sd_notify: %s", strerror(errno));
}

static int add_fd(struct watch *w, int fd, enum src src)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)src << 32 };

	return epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void drain(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) > 0)
		;
}

static void on_signal(struct watch *w)
{
	struct signalfd_siginfo si;

	while (read(w->sig, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			want_full(w);
			note(w, "SIGHUP");
		} else {
			w->stop = true;
			w->stop_sig = (int)si.ssi_signo;
		}
	}
}

static void watch_free(struct watch *w)
{
	for (size_t i = 0; i < w->ns_count; i++) {
		ns_close(w, &w->ns[i]);
		free(w->ns[i].path);
	}
	free(w->ns);
	for (size_t i = 0; i < w->dirs_count; i++)
		free(w->dirs[i].path);
	free(w->dirs);
	paths_clear(w);
	free(w->paths);
	focus_clear(w);
	free(w->focus.ifs);
	free(w->focus.netns);
	for (int *fd = &w->ep; fd <= &w->settle; fd++)
		if (*fd >= 0)
			close(*fd);
}

int cmd_watch(const struct cli *cli)
{
	struct watch w = { .cli = cli, .ep = -1, .ino = -1, .sig = -1, .tick = -1, .settle = -1 };
	struct itimerspec its = {};
	sigset_t mask;
	size_t idx;
	int err;

	/* Removing the last manifest from a directory removes what it owned. */
	manifest_set_allow_empty_dirs(true);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	w.ep = epoll_create1(EPOLL_CLOEXEC);
	w.ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	w.sig = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	w.tick = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	w.settle = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (w.ep < 0 || w.ino < 0 || w.sig < 0 || w.tick < 0 || w.settle < 0) {
		err = -errno;
		watch_free(&w);
		return output_fail(cli, "watch: cannot set up its event sources: %s",
				   strerror(-err));
	}
	if ((err = add_fd(&w, w.ino, SRC_INOTIFY)) < 0 || (err = add_fd(&w, w.sig, SRC_SIGNAL)) < 0 ||
	    (err = add_fd(&w, w.tick, SRC_TICK)) < 0 || (err = add_fd(&w, w.settle, SRC_SETTLE)) < 0) {
		watch_free(&w);
		return output_fail(cli, "watch: epoll: %s", strerror(-err));
	}
	if (cli->interval_sec > 0) {
		its.it_value.tv_sec = cli->interval_sec;
		its.it_interval.tv_sec = cli->interval_sec;
		timerfd_settime(w.tick, 0, &its, NULL);
	}
	/* The tool's own namespace, before the first reconcile, so that no
	 * interface falls between that run's listing and the socket. */
	if (!ns_find(&w, NULL, &idx) || (err = ns_open(&w, idx)) < 0) {
		watch_free(&w);
		return output_fail(cli, "watch: cannot listen to link events: %s",
				   strerror(err < 0 ? -err : ENOMEM));
	}
	paths_build(&w, NULL);
	dirs_refresh(&w);
	{
		_cleanup_free_ char *list = NULL;

		for (size_t i = 0; i < cli->paths_count; i++) {
			char *n = strprintf("%s%s%s", list ? list : "", i ? " " : "", cli->paths[i]);

			free(list);
			list = n;
		}
		say(&w, "start", "watching %s (state root %s, full reconcile every %d s)",
		    list ? list : "", cli->bpffs, cli->interval_sec);
	}
	w.full = true;
	w.pending = true;
	snprintf(w.trigger, sizeof(w.trigger), "start");
	reconcile(&w);
	say(&w, "ready", "first reconcile done; waiting for changes");
	sd_notify_state("READY=1\nSTATUS=watching");

	while (!w.stop) {
		struct epoll_event evs[16];
		int n = epoll_wait(w.ep, evs, ARRAY_SIZE(evs), -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			watch_free(&w);
			return output_fail(cli, "watch: epoll_wait: %s", strerror(-err));
		}
		for (int i = 0; i < n; i++) {
			enum src src = (enum src)(evs[i].data.u64 >> 32);

			switch (src) {
			case SRC_INOTIFY:
				on_inotify(&w);
				break;
			case SRC_SIGNAL:
				on_signal(&w);
				break;
			case SRC_TICK:
				drain(w.tick);
				want_full(&w);
				note(&w, "periodic check");
				break;
			case SRC_SETTLE:
				drain(w.settle);
				if (w.pending) {
					ns_refresh(&w);
					reconcile(&w);
				}
				break;
			case SRC_NETLINK:
				on_netlink(&w, (size_t)(evs[i].data.u64 & 0xffffffffu));
				break;
			}
		}
	}
	sd_notify_state("STOPPING=1");
	say(&w, "stop", "stopping on SIG%s; pinned state stays as it is",
	    sigabbrev_np(w.stop_sig) ? sigabbrev_np(w.stop_sig) : "?");
	watch_free(&w);
	return EXIT_OK;
}
