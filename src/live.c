// SPDX-License-Identifier: GPL-2.0-only
/* Every bpf_link on the host, three ways:
 *
 *  1. <bpffs>/_cnf/iter-<ver>: the tool's iter/bpf_link program, attached
 *     and pinned by an earlier run. One bpf_iter_create() and a few read()s:
 *     about 0.3 ms for 500 links.
 *  2. No pin yet and the caller may write (apply): load the skeleton
 *     (17-20 ms, mostly libbpf parsing vmlinux BTF), pin it for the next
 *     runs, read it.
 *  3. Otherwise, or when the iterator cannot be loaded (no BTF, old
 *     kernel): BPF_LINK_GET_NEXT_ID and per-link BPF_OBJ_GET_INFO_BY_FD.
 *
 * <ver> is a hash of the embedded BPF object, so a newer tool never reads
 * an iterator that writes an older record layout; a writer removes the
 * pins of other versions.
 *
 * The NEXT_ID path cannot tell the netns of an xdp link: link info has the
 * ifindex only. For tcx and netkit links it asks BPF_PROG_QUERY on that
 * ifindex in the caller's netns and fills netns_ino for the links found
 * there; links in other namespaces keep netns_ino 0 ("unknown"). */
#include <fcntl.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "cnf/cli.h"
#include "cnf/link_iter.h"
#include "cnf/live.h"
#include "cnf/log.h"
#include "cnf/util.h"
#include "link_iter.skel.h"

#define ITER_PREFIX "iter-"

static void link_iter_destroyp(struct link_iter **s)
{
	if (*s)
		link_iter__destroy(*s);
}

static void bpf_link_destroyp(struct bpf_link **l)
{
	if (*l)
		bpf_link__destroy(*l);
}

const char *live_source_name(enum live_source s)
{
	switch (s) {
	case LIVE_SRC_ITER_PINNED:
		return "iter-pinned";
	case LIVE_SRC_ITER_LOADED:
		return "iter-loaded";
	case LIVE_SRC_NEXT_ID:
		return "next-id";
	}
	return "unknown";
}

/* 64-bit FNV-1a of the embedded object, as 16 hex digits. */
const char *live_iter_version(void)
{
	static char ver[17];
	const unsigned char *p;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t sz;

	if (ver[0])
		return ver;
	p = link_iter__elf_bytes(&sz);
	for (size_t i = 0; i < sz; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	snprintf(ver, sizeof(ver), "%016llx", (unsigned long long)h);
	return ver;
}

static int cmp_link_id(const void *a, const void *b)
{
	const struct live_link *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Sorts by id, which both sources deliver in order already: checking is
 * one pass, sorting a few thousand links anyway is not. */
static void sort_by_id(struct live_link *links, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (links[i - 1].id > links[i].id) {
			qsort(links, n, sizeof(*links), cmp_link_id);
			return;
		}
}

void live_links_free(struct live_links *l)
{
	if (!l)
		return;
	free(l->links);
	l->links = NULL;
	l->count = 0;
}

const struct live_link *live_links_find(const struct live_links *l, uint32_t id)
{
	struct live_link key = { .id = id };

	if (!l || !l->count)
		return NULL;
	return bsearch(&key, l->links, l->count, sizeof(*l->links), cmp_link_id);
}

/* Runs the iterator behind link_fd once and decodes its records. */
static int iter_read(int link_fd, struct live_links *ret)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0, n;
	struct live_link *links;

	fd = bpf_iter_create(link_fd);
	if (fd < 0)
		return -errno;

	for (;;) {
		ssize_t r;

		if (cap - len < 16384) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *p = realloc(buf, ncap);

			if (!p)
				return -ENOMEM;
			buf = p;
			cap = ncap;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len % sizeof(struct cnf_link_rec))
		return -EPROTO;

	n = len / sizeof(struct cnf_link_rec);
	links = xcalloc(n, sizeof(*links));
	for (size_t i = 0; i < n; i++) {
		struct cnf_link_rec rec;
		struct live_link *l = &links[i];

		memcpy(&rec, buf + i * sizeof(rec), sizeof(rec));
		l->id = rec.link_id;
		l->type = rec.link_type;
		l->prog_id = rec.prog_id;
		l->prog_type = rec.prog_type;
		l->attach_type = rec.attach_type;
		l->ifindex = rec.ifindex;
		l->netns_ino = rec.netns_ino;
		l->cgroup_id = rec.cgroup_id;
		memcpy(l->prog_name, rec.prog_name, sizeof(l->prog_name));
		l->prog_name[sizeof(l->prog_name) - 1] = '\0';
	}
	/* The kernel walks its link idr in id order. */
	sort_by_id(links, n);
	ret->links = links;
	ret->count = n;
	return 0;
}

/* Is fd an iter/bpf_link link? Guards against something else pinned at
 * our path. */
static bool is_link_iter(int fd)
{
	struct bpf_link_info info = {};
	char target[32] = "";
	__u32 len = sizeof(info);

	info.iter.target_name = (__u64)(uintptr_t)target;
	info.iter.target_name_len = sizeof(target);
	if (bpf_info_get(fd, &info, &len) < 0)
		return false;
	return info.type == BPF_LINK_TYPE_ITER && streq(target, "bpf_link");
}

/* Removes <dir>/iter-* except `keep` (NULL: all of them). */
static int unpin_iters(const char *dir, const char *keep)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r = 0;

	int fd;

	/* <root>/_cnf itself, never what a link there points to. */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, ITER_PREFIX, strlen(ITER_PREFIX)) != 0)
			continue;
		if (keep && streq(de->d_name, keep))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0) {
			if (errno != ENOENT && !r)
				r = -errno;
			continue;
		}
		log_debug("live: removed stale iterator pin %s/%s", dir, de->d_name);
	}
	return r;
}

int live_iter_unpin(const char *bpffs)
{
	_cleanup_free_ char *dir = NULL;

	dir = strprintf("%s/" LIVE_STATE_DIR, bpffs ? bpffs : CNF_DEFAULT_BPFFS);
	if (!dir)
		return -ENOMEM;
	return unpin_iters(dir, NULL);
}

/* <root>/_cnf (made if `create`), never through a symbolic link: O_PATH. */
static int iter_dir_open(const char *dir, bool create)
{
	int fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT && create && mkdir(dir, 0700) == 0)
		fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* BPF_OBJ_GET of the pin `name` in <root>/_cnf, no symbolic link followed
 * (bpf(2) is given /proc/self/fd/N of the pin opened with O_NOFOLLOW). */
static int iter_pin_get(const char *dir, const char *name)
{
	_cleanup_close_ int dfd = iter_dir_open(dir, false), pfd = -1;
	char path[64];
	struct stat st;
	int fd;

	if (dfd < 0)
		return dfd;
	pfd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	if (fstat(pfd, &st) < 0 || !S_ISREG(st.st_mode))
		return -ELOOP;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", pfd);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

/* Loads and attaches the iterator, pins it at `path` (a failed pin is not
 * fatal: the links are still read, and the next writer run tries again),
 * reads it. */
static int iter_load_read(const char *dir, const char *path, struct live_links *ret)
{
	struct link_iter *skel _cleanup_(link_iter_destroyp) = NULL;
	struct bpf_link *link _cleanup_(bpf_link_destroyp) = NULL;
	int r;

	skel = link_iter__open_and_load();
	if (!skel)
		return -errno;
	link = bpf_program__attach_iter(skel->progs.cnf_link_iter, NULL);
	if (!link)
		return -errno;

	{
		_cleanup_close_ int dfd = iter_dir_open(dir, true);
		char at[PATH_MAX];

		/* Pinned from the directory's descriptor, not through a link. */
		r = dfd;
		if (dfd >= 0) {
			snprintf(at, sizeof(at), "/proc/self/fd/%d/%s", dfd, strrchr(path, '/') + 1);
			r = bpf_link__pin(link, at);
		}
	}
	/* EEXIST: a concurrent run pinned the same version first. */
	if (r < 0 && r != -EEXIST)
		log_debug("live: cannot pin link iterator at %s: %s", path, strerror(-r));
	else if (r == 0)
		log_debug("live: pinned link iterator at %s", path);
	return iter_read(bpf_link__fd(link), ret);
}

/* BPF_PROG_QUERY lists the links of a tcx/netkit hook in the caller's
 * netns; links found that way are in our netns. */
static void next_id_fill_netns(struct live_links *res)
{
	struct stat st;
	uint64_t self_ino;

	if (stat("/proc/self/ns/net", &st) < 0)
		return;
	self_ino = st.st_ino;

	for (size_t i = 0; i < res->count; i++) {
		struct live_link *l = &res->links[i];
		LIBBPF_OPTS(bpf_prog_query_opts, q);
		_cleanup_free_ __u32 *ids = NULL, *prog_ids = NULL;
		bool seen = false;

		if ((l->type != BPF_LINK_TYPE_TCX && l->type != BPF_LINK_TYPE_NETKIT) ||
		    !l->ifindex || l->netns_ino)
			continue;
		/* One query per (ifindex, attach type): skip hooks done already. */
		for (size_t j = 0; j < i && !seen; j++)
			seen = res->links[j].type == l->type &&
			       res->links[j].ifindex == l->ifindex &&
			       res->links[j].attach_type == l->attach_type;
		if (seen)
			continue;

		if (bpf_prog_query_opts(l->ifindex, l->attach_type, &q) < 0 || !q.count)
			continue;
		/* The kernel fills link_ids only together with prog_ids. */
		ids = xcalloc(q.count, sizeof(*ids));
		prog_ids = xcalloc(q.count, sizeof(*prog_ids));
		q.link_ids = ids;
		q.prog_ids = prog_ids;
		if (bpf_prog_query_opts(l->ifindex, l->attach_type, &q) < 0)
			continue;
		for (__u32 k = 0; k < q.count; k++) {
			struct live_link *m = (struct live_link *)live_links_find(res, ids[k]);

			if (m && m->type == l->type && m->ifindex == l->ifindex)
				m->netns_ino = self_ino;
		}
	}
}

static void next_id_prog(struct live_link *l)
{
	_cleanup_close_ int fd = -1;
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (!l->prog_id)
		return;
	fd = bpf_prog_get_fd_by_id(l->prog_id);
	if (fd < 0 || bpf_info_get(fd, &info, &len) < 0)
		return; /* program gone meanwhile: leave type/name empty */
	l->prog_type = info.type;
	memcpy(l->prog_name, info.name, sizeof(l->prog_name));
	l->prog_name[sizeof(l->prog_name) - 1] = '\0';
}

static int next_id_read(struct live_links *ret)
{
	_cleanup_free_ struct live_link *links = NULL;
	size_t n = 0, cap = 0;
	__u32 id = 0;
	int r;

	for (;;) {
		_cleanup_close_ int fd = -1;
		struct bpf_link_info info = {};
		__u32 len = sizeof(info);
		struct live_link *l;

		r = bpf_link_get_next_id(id, &id);
		if (r < 0) {
			if (r == -ENOENT)
				break;
			return r;
		}
		fd = bpf_link_get_fd_by_id(id);
		if (fd < 0) {
			if (errno == ENOENT)
				continue; /* released since GET_NEXT_ID */
			return -errno;
		}
		r = bpf_info_get(fd, &info, &len);
		if (r < 0)
			return r;

		r = grow_array((void **)&links, &cap, n + 1, sizeof(*links));
		if (r < 0)
			return r;
		l = &links[n++];
		memset(l, 0, sizeof(*l));
		live_link_fill(l, &info);
		next_id_prog(l);
	}

	ret->links = TAKE_PTR(links);
	ret->count = n;
	/* GET_NEXT_ID walks in id order already. */
	sort_by_id(ret->links, ret->count);
	next_id_fill_netns(ret);
	return 0;
}

void live_link_fill(struct live_link *l, const struct bpf_link_info *info)
{
	l->id = info->id;
	l->type = info->type;
	l->prog_id = info->prog_id;
	switch (info->type) {
	case BPF_LINK_TYPE_XDP:
		l->ifindex = info->xdp.ifindex;
		l->attach_type = BPF_XDP;
		break;
	case BPF_LINK_TYPE_TCX:
		l->ifindex = info->tcx.ifindex;
		l->attach_type = info->tcx.attach_type;
		break;
	case BPF_LINK_TYPE_NETKIT:
		l->ifindex = info->netkit.ifindex;
		l->attach_type = info->netkit.attach_type;
		break;
	case BPF_LINK_TYPE_CGROUP:
		l->cgroup_id = info->cgroup.cgroup_id;
		l->attach_type = info->cgroup.attach_type;
		break;
	case BPF_LINK_TYPE_NETNS:
		l->netns_ino = info->netns.netns_ino;
		l->attach_type = info->netns.attach_type;
		break;
	default:
		break;
	}
}

int live_links_read(const struct live_opts *opts, struct live_links *ret)
{
	_cleanup_free_ char *dir = NULL, *path = NULL, *name = NULL;
	const char *bpffs = opts->bpffs ? opts->bpffs : CNF_DEFAULT_BPFFS;
	int r;

	*ret = (struct live_links){ 0 };

	if (opts->force_next_id)
		goto next_id;

	name = strprintf(ITER_PREFIX "%s", live_iter_version());
	dir = strprintf("%s/" LIVE_STATE_DIR, bpffs);
	path = strprintf("%s/" LIVE_STATE_DIR "/" ITER_PREFIX "%s", bpffs, live_iter_version());
	if (!name || !dir || !path)
		return -ENOMEM;

	{
		_cleanup_close_ int fd = iter_pin_get(dir, name);

		if (fd >= 0 && is_link_iter(fd)) {
			r = iter_read(fd, ret);
			if (r >= 0) {
				ret->source = LIVE_SRC_ITER_PINNED;
				goto done;
			}
			log_debug("live: reading pinned iterator %s: %s", path, strerror(-r));
		} else if (fd >= 0) {
			log_debug("live: %s is not a bpf_link iterator", path);
			if (opts->may_pin && unlink(path) < 0)
				log_debug("live: cannot remove %s: %m", path);
		}
	}

	if (opts->may_pin) {
		r = iter_load_read(dir, path, ret);
		if (r >= 0) {
			ret->source = LIVE_SRC_ITER_LOADED;
			goto done;
		}
		log_debug("live: link iterator unavailable (%s), using BPF_LINK_GET_NEXT_ID",
			  strerror(-r));
	} else {
		log_debug("live: no usable link iterator pinned at %s, using BPF_LINK_GET_NEXT_ID",
			  path);
	}

next_id:
	r = next_id_read(ret);
	if (r < 0) {
		live_links_free(ret);
		return r;
	}
	ret->source = LIVE_SRC_NEXT_ID;
	return 0;

done:
	if (opts->may_pin)
		(void)unpin_iters(dir, name);
	return 0;
}
