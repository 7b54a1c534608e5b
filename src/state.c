// SPDX-License-Identifier: GPL-2.0-only
/* The state root: pins and records under bpffs. */
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <linux/openat2.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cnf/hashidx.h"
#include "cnf/log.h"
#include "cnf/manifest.h"
#include "cnf/state.h"
#include "cnf/trust.h"
#include "cnf/util.h"

#define STATE_MAP_NAME "cnf_state"
#define STATE_MAX_ENTRIES 65536
#define SOURCE_MAP_NAME "cnf_source"
#define SOURCE_PIN "source"

struct map_fd {
	char manifest[CNF_NAME_MAX + 1];
	int fd;
	uint32_t value_size;          /* sizeof(struct cnf_record), or CNF_RECORD_V1_SIZE */
};
static struct map_fd *map_fds;
static size_t map_fds_count, map_fds_cap;

/* ---- names beneath the root ---- */

/* Nothing under the root is reached through a symbolic link: the root is
 * opened once (the way to it was checked, state_root_check()), and every
 * name under it is opened from there with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS), or where the kernel has no openat2 (before 5.6)
 * one name at a time with O_NOFOLLOW. bpf(2) takes paths, not directory
 * descriptors: it is given /proc/self/fd/N of what was opened so. */
static struct {
	char path[PATH_MAX];
	int fd;
} root_dir = { .fd = -1 };
static bool no_openat2;

/* The directory of the pins opened last, <root>/<manifest>/links/<attachment>:
 * a run goes through the targets of one attachment after another. */
static struct {
	char path[PATH_MAX];
	int fd;
} pin_dir = { .fd = -1 };

static void pin_dir_close(void)
{
	if (pin_dir.fd >= 0)
		close(pin_dir.fd);
	pin_dir.fd = -1;
	pin_dir.path[0] = '\0';
}

void state_close_maps(void)
{
	for (size_t i = 0; i < map_fds_count; i++)
		close(map_fds[i].fd);
	free(map_fds);
	map_fds = NULL;
	map_fds_count = map_fds_cap = 0;
	pin_dir_close();
	if (root_dir.fd >= 0)
		close(root_dir.fd);
	root_dir.fd = -1;
	root_dir.path[0] = '\0';
}

static int root_fd(const char *root)
{
	int fd;

	if (root_dir.fd >= 0 && streq(root_dir.path, root))
		return root_dir.fd;
	if (strlen(root) >= sizeof(root_dir.path))
		return -ENAMETOOLONG;
	fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (root_dir.fd >= 0)
		close(root_dir.fd);
	pin_dir_close();
	root_dir.fd = fd;
	snprintf(root_dir.path, sizeof(root_dir.path), "%s", root);
	return fd;
}

/* openat2's guarantees, one name at a time: no "..", no symbolic link
 * (O_NOFOLLOW opens a link itself with O_PATH: refused after the fact). */
static int walk_beneath(int dfd, const char *rel, int flags)
{
	char buf[PATH_MAX];
	char *p = buf;
	int cur = -1;

	if (snprintf(buf, sizeof(buf), "%s", rel) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (;;) {
		char *slash = strchr(p, '/');
		int fd, f = slash ? O_PATH | O_DIRECTORY : flags;
		struct stat st;

		if (slash)
			*slash = '\0';
		if (!*p || streq(p, "..") || (streq(p, ".") && (slash || p != buf)))
			fd = -EXDEV;
		else if ((fd = openat(cur >= 0 ? cur : dfd, p, f | O_NOFOLLOW | O_CLOEXEC)) < 0)
			fd = -errno;
		else if (fstat(fd, &st) < 0 || S_ISLNK(st.st_mode)) {
			close(fd);
			fd = -ELOOP;
		}
		if (cur >= 0)
			close(cur);
		if (fd < 0 || !slash)
			return fd;
		cur = fd;
		p = slash + 1;
	}
}

/* Opens `rel` under the directory `dfd`, following no symbolic link and
 * never leaving it. A negative errno: -ELOOP for a link on the way. */
static int open_beneath(int dfd, const char *rel, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
			   RESOLVE_NO_XDEV,
	};

	for (int tries = 0; !no_openat2; tries++) {
		int fd = (int)syscall(SYS_openat2, dfd, rel, &how, sizeof(how));

		if (fd >= 0)
			return fd;
		/* EAGAIN: a rename elsewhere in the file system meanwhile. */
		if (errno == EAGAIN && tries < 16)
			continue;
		if (errno != ENOSYS)
			return -errno;
		no_openat2 = true;
	}
	return walk_beneath(dfd, rel, flags);
}

int state_open(const char *root, const char *rel, int flags)
{
	int dfd = root_fd(root);

	return dfd < 0 ? dfd : open_beneath(dfd, rel, flags);
}

/* The path bpf(2) is given for `name` in the directory `dfd` (or for what
 * `dfd` is, name NULL): /proc/self/fd/N, which names it without a lookup
 * from the root. */
static void fd_path(char *buf, size_t len, int dfd, const char *name)
{
	snprintf(buf, len, "/proc/self/fd/%d%s%s", dfd, name ? "/" : "", name ? name : "");
}

/* BPF_OBJ_GET of `rel` under `dfd`, no symbolic link followed. */
static int obj_get_beneath(int dfd, const char *rel)
{
	_cleanup_close_ int fd = open_beneath(dfd, rel, O_PATH);
	char path[64];
	int r;

	if (fd < 0)
		return fd;
	fd_path(path, sizeof(path), fd, NULL);
	r = bpf_obj_get(path);
	return r < 0 ? -errno : r;
}

int state_obj_get(const char *root, const char *rel)
{
	int dfd = root_fd(root);

	return dfd < 0 ? dfd : obj_get_beneath(dfd, rel);
}

/* The directory `rel` under `dfd` (O_PATH), made with mode 0700 where
 * missing, one name at a time. */
static int mkdir_beneath(int dfd, const char *rel)
{
	char buf[PATH_MAX];
	char *p = buf;
	int cur = -1, fd = open_beneath(dfd, rel, O_PATH | O_DIRECTORY);

	if (fd != -ENOENT)
		return fd;
	if (snprintf(buf, sizeof(buf), "%s", rel) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (;;) {
		char *slash = strchr(p, '/');
		int at = cur >= 0 ? cur : dfd;

		if (slash)
			*slash = '\0';
		fd = mkdirat(at, p, 0700) < 0 && errno != EEXIST ? -errno
								 : open_beneath(at, p, O_PATH | O_DIRECTORY);
		if (cur >= 0)
			close(cur);
		if (fd < 0 || !slash)
			return fd;
		cur = fd;
		p = slash + 1;
	}
}

bool state_key_is_leftover(const char *key)
{
	size_t n = strlen(key);

	return (n > 4 && streq(key + n - 4, TMP_SUFFIX)) ||
	       (n > 4 && streq(key + n - 4, PIN_TMP_SUFFIX));
}

int state_pin_path(char *buf, size_t len, const char *root, const char *manifest, const char *key)
{
	int n = key ? snprintf(buf, len, "%s/%s/links/%s", root, manifest, key)
		    : snprintf(buf, len, "%s/%s", root, manifest);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The directory of a pin, <manifest>/links/<attachment> (made if
 * `create`), and in *ret_name the pin's name in it. */
static int pin_dir_open(const char *root, const char *manifest, const char *key, bool create,
			const char **ret_name)
{
	const char *slash = strchr(key, '/');
	char rel[PATH_MAX], full[PATH_MAX];
	int dfd = root_fd(root), fd;

	if (dfd < 0)
		return dfd;
	if (!slash || strchr(slash + 1, '/') || !slash[1])
		return -EINVAL;
	*ret_name = slash + 1;
	if (snprintf(rel, sizeof(rel), "%s/links/%.*s", manifest, (int)(slash - key), key) >=
	    (int)sizeof(rel) || snprintf(full, sizeof(full), "%s/%s", root, rel) >= (int)sizeof(full))
		return -ENAMETOOLONG;
	if (pin_dir.fd >= 0 && streq(pin_dir.path, full))
		return pin_dir.fd;
	pin_dir_close();
	fd = create ? mkdir_beneath(dfd, rel) : open_beneath(dfd, rel, O_PATH | O_DIRECTORY);
	if (fd < 0)
		return fd;
	pin_dir.fd = fd;
	snprintf(pin_dir.path, sizeof(pin_dir.path), "%s", full);
	return fd;
}

int state_map_path(char *buf, size_t len, const char *root, const char *pin)
{
	int n = pin ? snprintf(buf, len, "%s/" CNF_MAPS_DIR "/%s", root, pin)
		    : snprintf(buf, len, "%s/" CNF_MAPS_DIR, root);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

const char *state_map_rel(const char *root, const char *path)
{
	size_t n = strlen(root), m = strlen(CNF_MAPS_DIR);

	if (!path || strncmp(path, root, n) || path[n] != '/' ||
	    strncmp(path + n + 1, CNF_MAPS_DIR, m) || path[n + 1 + m] != '/')
		return NULL;
	return path + n + m + 2;
}

int state_pin_open(const char *root, const char *manifest, const char *key)
{
	for (int again = 0;; again++) {
		const char *name;
		int dfd = pin_dir_open(root, manifest, key, false, &name), fd;

		if (dfd < 0)
			return dfd;
		fd = obj_get_beneath(dfd, name);
		/* ENOENT: perhaps the directory was removed and made again
		 * since it was opened; opening it again tells. */
		if (fd != -ENOENT || again)
			return fd;
		pin_dir_close();
	}
}

#define ROOT_HINT "only root may be able to change the state root and the directories " \
		  "above it (chmod 0700 DIR; a new bpffs: mount -t bpf -o mode=0700 bpf DIR)"

/* As root: can anyone but root change the state root, or the way to it?
 * `existing` is the root, or the nearest directory above it that exists.
 * Above the bpffs mount, the manifests' rules hold (a sticky directory
 * like /tmp passes); on the bpffs, the mount itself included, no one but
 * root may create an entry at all: whoever can could make a manifest's
 * directory, a pin or a link before the tool does. */
static int root_trusted(const char *root, const char *existing)
{
	char why[PATH_MAX + 160], real[PATH_MAX], what[PATH_MAX + 32];
	struct statfs sf;
	struct stat st;
	int r;

	if (geteuid() != 0)
		return 0;
	r = trust_walk(existing, &st, why, sizeof(why));
	if (r == 0 && !realpath(existing, real)) {
		r = -errno;
		snprintf(why, sizeof(why), "'%s': %s", existing, strerror(-r));
	}
	while (r == 0 && statfs(real, &sf) == 0 && sf.f_type == BPF_FS_MAGIC) {
		char *slash = strrchr(real, '/');

		if (stat(real, &st) < 0) {
			r = -errno;
			snprintf(why, sizeof(why), "'%s': %s", real, strerror(-r));
			break;
		}
		snprintf(what, sizeof(what), "directory '%s'", real);
		if (trust_problem(&st, what, false, why, sizeof(why)))
			r = -EPERM;
		if (!slash || slash == real)
			break;
		*slash = '\0';
	}
	if (r == -EPERM)
		log_error("state root '%s': refusing it as root: %s; whoever can write there can "
			  "make cnf-apply detach or replace what it finds: " ROOT_HINT, root, why);
	else if (r < 0)
		log_error("state root '%s': %s", root, why);
	return r;
}

int state_root_check(const char *root, bool create)
{
	char buf[PATH_MAX];
	struct statfs sf;
	int r;

	if (create) {
		r = mkdir_p(root, 0700);
		if (r < 0) {
			log_error("state root '%s': cannot create it: %s%s", root, strerror(-r),
				  r == -ENOENT || r == -EPERM ?
				  " (is bpffs mounted? mount -t bpf -o mode=0700 bpf /sys/fs/bpf)" : "");
			return r;
		}
	}
	snprintf(buf, sizeof(buf), "%s", root);
	/* The root may not exist yet (read-only verbs): check its parent. */
	while (statfs(buf, &sf) < 0) {
		char *slash = strrchr(buf, '/');

		if (errno != ENOENT || !slash || slash == buf)
			return -errno;
		*slash = '\0';
	}
	if (sf.f_type != BPF_FS_MAGIC) {
		log_error("state root '%s' is not on a bpf filesystem (mount -t bpf -o mode=0700 bpf DIR)",
			  root);
		return -ENOTDIR;
	}
	return root_trusted(root, buf);
}

static const char *map_type_name(uint32_t type)
{
	const char *n = libbpf_bpf_map_type_str((enum bpf_map_type)type);

	return n ? n : "unknown";
}

/* Is the map pinned at <manifest>/state the tool's? Its type, key and
 * value sizes decide how it is read: another map's lookups would write
 * more than the tool's buffers hold. Returns its value size (the record
 * layout it holds) or a negative errno. */
static int state_map_check(int fd, const char *root, const char *manifest)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	int r = bpf_info_get(fd, &info, &len);

	if (r < 0) {
		log_error("state map '%s/%s/state': cannot read what it is: %s", root, manifest,
			  strerror(-r));
		return r;
	}
	if (info.type == BPF_MAP_TYPE_HASH && info.key_size == CNF_KEY_MAX &&
	    (info.value_size == sizeof(struct cnf_record) || info.value_size == CNF_RECORD_V1_SIZE))
		return (int)info.value_size;
	log_error("state map '%s/%s/state' is not cnf-apply's: a %s map with %u-byte keys and "
		  "%u-byte values, where cnf-apply keeps a hash map with %u-byte keys and %zu-byte "
		  "records (version %u; %zu bytes in version 1); move it away if another tool made it",
		  root, manifest, map_type_name(info.type), info.key_size, info.value_size,
		  CNF_KEY_MAX, sizeof(struct cnf_record), CNF_RECORD_VERSION, CNF_RECORD_V1_SIZE);
	return -EPROTO;
}

/* A record as the map holds it (`vsize` bytes) in the current layout:
 * a version 1 record gets ctime 0, which makes the object hashed again. */
static void record_from(struct cnf_record *rec, const void *val, uint32_t vsize)
{
	memset(rec, 0, sizeof(*rec));
	memcpy(rec, val, vsize < sizeof(*rec) ? vsize : sizeof(*rec));
	if (vsize == CNF_RECORD_V1_SIZE && rec->version == 1)
		rec->version = CNF_RECORD_VERSION;
	else if (vsize != sizeof(*rec) && rec->version == CNF_RECORD_VERSION)
		rec->version = 0; /* a version its map's layout cannot hold */
}

/* A new state map. */
static int state_map_new(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, STATE_MAP_NAME, CNF_KEY_MAX,
				sizeof(struct cnf_record), STATE_MAX_ENTRIES, &o);

	return fd < 0 ? -errno : fd;
}

/* A new state map pinned at <manifest>/state. */
static int state_map_create(int rfd, const char *manifest)
{
	_cleanup_close_ int mfd = mkdir_beneath(rfd, manifest);
	char path[64];
	int fd;

	if (mfd < 0)
		return mfd;
	fd = state_map_new();
	if (fd < 0)
		return fd;
	fd_path(path, sizeof(path), mfd, "state");
	if (bpf_obj_pin(fd, path) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* Rewrites a state map of an older layout in the current one, before a
 * record is written in it: the records are copied into a new map, pinned
 * beside it and renamed over it (the run holds the root's lock). */
static int state_map_upgrade(int rfd, struct map_fd *m)
{
	_cleanup_close_ int mfd = open_beneath(rfd, m->manifest, O_PATH | O_DIRECTORY);
	_cleanup_close_ int fd = -1;
	_cleanup_free_ void *val = malloc(m->value_size);
	char k[CNF_KEY_MAX], next[CNF_KEY_MAX], path[64];
	void *prev = NULL;

	if (mfd < 0)
		return mfd;
	if (!val)
		return -ENOMEM;
	fd = state_map_new();
	if (fd < 0)
		return fd;
	while (bpf_map_get_next_key(m->fd, prev, next) == 0) {
		struct cnf_record rec;

		memcpy(k, next, sizeof(k));
		prev = k;
		if (bpf_map_lookup_elem(m->fd, k, val) < 0)
			continue;
		record_from(&rec, val, m->value_size);
		if (rec.version == CNF_RECORD_VERSION && bpf_map_update_elem(fd, k, &rec, BPF_ANY) < 0)
			return -errno;
	}
	if (unlinkat(mfd, "state" TMP_SUFFIX, 0) < 0 && errno != ENOENT)
		return -errno;
	fd_path(path, sizeof(path), mfd, "state" TMP_SUFFIX);
	if (bpf_obj_pin(fd, path) < 0)
		return -errno;
	if (renameat(mfd, "state" TMP_SUFFIX, mfd, "state") < 0) {
		int r = -errno;

		unlinkat(mfd, "state" TMP_SUFFIX, 0);
		return r;
	}
	log_debug("state map of manifest '%s': records rewritten in layout version %u",
		  m->manifest, CNF_RECORD_VERSION);
	close(m->fd);
	m->fd = TAKE_FD(fd);
	m->value_size = sizeof(struct cnf_record);
	return 0;
}

static struct map_fd *state_map_get(const char *root, const char *manifest, bool create)
{
	char rel[PATH_MAX];
	int rfd, fd, r;

	errno = 0;
	for (size_t i = 0; i < map_fds_count; i++)
		if (streq(map_fds[i].manifest, manifest))
			return &map_fds[i];
	if (snprintf(rel, sizeof(rel), "%s/state", manifest) >= (int)sizeof(rel)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	rfd = root_fd(root);
	if (rfd < 0) {
		errno = -rfd;
		return NULL;
	}
	fd = obj_get_beneath(rfd, rel);
	if (fd == -ENOENT && create)
		fd = state_map_create(rfd, manifest);
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	r = state_map_check(fd, root, manifest);
	if (r >= 0 && grow_array((void **)&map_fds, &map_fds_cap, map_fds_count + 1,
				 sizeof(*map_fds)) < 0)
		r = -ENOMEM;
	if (r < 0) {
		close(fd);
		errno = -r;
		return NULL;
	}
	snprintf(map_fds[map_fds_count].manifest, sizeof(map_fds[0].manifest), "%s", manifest);
	map_fds[map_fds_count].fd = fd;
	map_fds[map_fds_count].value_size = (uint32_t)r;
	return &map_fds[map_fds_count++];
}

/* The manifest's state map; `create`: made if missing, and rewritten in
 * the current layout if older (a record is about to be written). */
static int state_map_open(const char *root, const char *manifest, bool create)
{
	struct map_fd *m = state_map_get(root, manifest, create);
	int r;

	if (!m)
		return -errno;
	if (create && m->value_size != sizeof(struct cnf_record)) {
		r = state_map_upgrade(root_fd(root), m);
		if (r < 0) {
			log_error("state map '%s/%s/state': rewriting it in the current layout: %s",
				  root, manifest, strerror(-r));
			return r;
		}
	}
	return m->fd;
}

/* Forgets the state map of a manifest (unpinned). */
static void state_map_forget(const char *manifest)
{
	for (size_t i = 0; i < map_fds_count; i++)
		if (streq(map_fds[i].manifest, manifest)) {
			close(map_fds[i].fd);
			map_fds[i] = map_fds[--map_fds_count];
			return;
		}
}

static void key_init(char k[CNF_KEY_MAX], const char *key)
{
	memset(k, 0, CNF_KEY_MAX);
	snprintf(k, CNF_KEY_MAX, "%s", key);
}

int state_record_put(const char *root, const char *manifest, const char *key,
		     const struct cnf_record *rec)
{
	char k[CNF_KEY_MAX];
	int fd = state_map_open(root, manifest, true);

	if (fd < 0)
		return fd;
	key_init(k, key);
	return bpf_map_update_elem(fd, k, rec, BPF_ANY) < 0 ? -errno : 0;
}

int state_record_prepare(const char *root, const char *manifest)
{
	int fd = state_map_open(root, manifest, true);

	if (fd < 0) {
		errno = -fd;
		return fd;
	}
	return 0;
}

int state_record_del(const char *root, const char *manifest, const char *key)
{
	char k[CNF_KEY_MAX];
	int fd = state_map_open(root, manifest, false);

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	key_init(k, key);
	if (bpf_map_delete_elem(fd, k) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int state_pin(const char *root, const char *manifest, const char *key, int fd)
{
	char path[PATH_MAX], tmp[CNF_KEY_MAX + 8];
	const char *name;
	int dfd, r;

	/* Nothing at the path yet (a new instance): pin there, in one call.
	 * Renaming a pin into place drops dentries, whose RCU callbacks
	 * start a grace period just before the next tcx attach waits for
	 * one of its own: that wait grows by half, 1.4x the floor's per
	 * link at 1,000 interfaces. */
	for (int again = 0;; again++) {
		dfd = pin_dir_open(root, manifest, key, true, &name);
		if (dfd < 0)
			return dfd;
		fd_path(path, sizeof(path), dfd, name);
		if (bpf_obj_pin(fd, path) == 0)
			return 0;
		/* ENOENT: the directory opened earlier is gone. */
		if (errno != ENOENT || again)
			break;
		pin_dir_close();
	}
	if (errno != EEXIST)
		return -errno;
	/* Something sits at the path (a stale pin, the previous program):
	 * pin under a temporary name, then rename over it, never a moment
	 * without a pin. A killed run leaves the temporary pin, which the
	 * next run removes as a leftover. */
	if (snprintf(tmp, sizeof(tmp), "%s%s", name, PIN_TMP_SUFFIX) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if (unlinkat(dfd, tmp, 0) < 0 && errno != ENOENT)
		return -errno;
	fd_path(path, sizeof(path), dfd, tmp);
	if (bpf_obj_pin(fd, path) < 0)
		return -errno;
	if (renameat(dfd, tmp, dfd, name) < 0) {
		r = -errno;
		unlinkat(dfd, tmp, 0);
		return r;
	}
	return 0;
}

int state_pin_rename(const char *root, const char *manifest, const char *from, const char *to)
{
	const char *from_name, *to_name;
	size_t n = strcspn(from, "/");
	int dfd;

	/* A replacement's temporary pin and its instance's: one directory. */
	if (strncmp(from, to, n + 1) != 0)
		return -EINVAL;
	dfd = pin_dir_open(root, manifest, from, false, &from_name);
	if (dfd < 0)
		return dfd;
	to_name = to + n + 1;
	return renameat(dfd, from_name, dfd, to_name) < 0 ? -errno : 0;
}

int state_pin_quarantine(const char *root, const char *manifest, const char *key,
			 const char *suffix, bool back)
{
	const char *slash = strchr(key, '/'), *name;
	char rel[PATH_MAX], qname[NAME_MAX + 1];
	_cleanup_close_ int qfd = -1;
	int rfd = root_fd(root), dfd;

	if (rfd < 0)
		return rfd;
	if (!slash || snprintf(rel, sizeof(rel), CNF_QUARANTINE_DIR "/%s/%.*s", manifest,
			       (int)(slash - key), key) >= (int)sizeof(rel) ||
	    snprintf(qname, sizeof(qname), "%s-%s", slash + 1, suffix) >= (int)sizeof(qname))
		return -ENAMETOOLONG;
	qfd = back ? open_beneath(rfd, rel, O_PATH | O_DIRECTORY) : mkdir_beneath(rfd, rel);
	if (qfd < 0)
		return qfd;
	dfd = pin_dir_open(root, manifest, key, back, &name);
	if (dfd < 0)
		return dfd;
	if (back)
		return renameat(qfd, qname, dfd, name) < 0 ? -errno : 0;
	return renameat(dfd, name, qfd, qname) < 0 ? -errno : 0;
}

int state_unpin(const char *root, const char *manifest, const char *key)
{
	const char *name;
	int dfd = pin_dir_open(root, manifest, key, false, &name);

	if (dfd == -ENOENT)
		return 0;
	if (dfd < 0)
		return dfd;
	/* A directory where a pin belongs is a stray entry: left alone. */
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT && errno != EISDIR)
		return -errno;
	return 0;
}

void state_tidy(const char *root, const char *manifest)
{
	_cleanup_close_ int mfd = -1;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	char next[CNF_KEY_MAX];
	int rfd = root_fd(root), lfd, fd;

	pin_dir_close();
	if (rfd < 0 || (mfd = open_beneath(rfd, manifest, O_PATH | O_DIRECTORY)) < 0)
		return;
	lfd = open_beneath(mfd, "links", O_RDONLY | O_DIRECTORY);
	if (lfd >= 0 && !(d = fdopendir(lfd)))
		close(lfd);
	while (d && (de = readdir(d))) {
		if (de->d_type == DT_DIR && de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR); /* fails while pins remain: fine */
	}
	unlinkat(mfd, "links", AT_REMOVEDIR);
	/* Drop the state map once no record is left. */
	fd = state_map_open(root, manifest, false);
	if (fd == -ENOENT || (fd >= 0 && bpf_map_get_next_key(fd, NULL, next) < 0 && errno == ENOENT)) {
		unlinkat(mfd, "state", 0);
		state_map_forget(manifest);
		unlinkat(mfd, SOURCE_PIN, 0);
		unlinkat(rfd, manifest, AT_REMOVEDIR);
	}
}

/* Room for `more` entries after s->count. The entries live in a mapping of
 * their own, grown with mremap(): a few thousand entries of 1.6 KiB are
 * megabytes, which a realloc() may copy at every doubling and which a
 * zeroed array would fault in ahead of use. Entries are filled when
 * appended. */
static int obs_reserve(struct state *s, size_t more)
{
	size_t need = s->count + more, ncap = s->obs_cap ? s->obs_cap : 64;
	void *p;

	if (need <= s->obs_cap)
		return 0;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / sizeof(*s->obs))
			return -ENOMEM;
		ncap *= 2;
	}
	if (s->obs)
		p = mremap(s->obs, s->obs_cap * sizeof(*s->obs), ncap * sizeof(*s->obs),
			   MREMAP_MAYMOVE);
	else
		p = mmap(NULL, ncap * sizeof(*s->obs), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	s->obs = p;
	s->obs_cap = ncap;
	return 0;
}

/* Copies a string, cut to fit. */
static void copy_str(char *dst, size_t len, const char *src)
{
	size_t n = strnlen(src, len - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Appends an entry, all zero but `rec`, which the caller fills. Each key
 * is seen once per source: the state map's keys are unique, and so are the
 * pins' paths. */
static struct cnf_observed *obs_append(struct state *s, const char *manifest, const char *key)
{
	struct cnf_observed *o;

	if (obs_reserve(s, 1) < 0)
		return NULL;
	o = &s->obs[s->count++];
	memset(o, 0, offsetof(struct cnf_observed, rec));
	memset(&o->rec + 1, 0, sizeof(*o) - offsetof(struct cnf_observed, rec) - sizeof(o->rec));
	copy_str(o->manifest, sizeof(o->manifest), manifest);
	copy_str(o->key, sizeof(o->key), key);
	return o;
}

/* The entries s->obs[first..first+n] by key. Looking a pin up is a probe
 * or two, not a search through sorted keys. */
static void obs_index_build(struct hashidx *ix, const struct state *s, size_t first, size_t n)
{
	hashidx_init(ix, n);
	for (size_t i = first; i < first + n; i++)
		hashidx_add(ix, hashidx_hash(s->obs[i].key), i);
}

static struct cnf_observed *obs_find(struct state *s, const struct hashidx *ix, const char *key)
{
	size_t e;

	hashidx_for_each_possible(ix, hashidx_hash(key), e)
		if (streq(s->obs[e].key, key))
			return &s->obs[e];
	return NULL;
}

struct cnf_observed *state_lookup(struct state *s, const char *manifest, const char *key)
{
	size_t e;

	if (!s->count)
		return NULL;
	/* Entries dropped since (a watch run's focus): index them again. */
	if (s->index.slot && s->index_count != s->count)
		hashidx_free(&s->index);
	if (!s->index.slot) {
		hashidx_init(&s->index, s->count);
		for (size_t i = 0; i < s->count; i++)
			hashidx_add(&s->index, hashidx_hash2(s->obs[i].manifest, s->obs[i].key), i);
		s->index_count = s->count;
	}
	hashidx_for_each_possible(&s->index, hashidx_hash2(manifest, key), e)
		if (streq(s->obs[e].key, key) && streq(s->obs[e].manifest, manifest))
			return &s->obs[e];
	return NULL;
}

static int add_record(struct state *s, const char *manifest, char *k,
		      const struct cnf_record *rec)
{
	struct cnf_observed *o;

	k[CNF_KEY_MAX - 1] = '\0';
	if (rec->version != CNF_RECORD_VERSION) {
		log_warn("state of manifest '%s': record '%s' has unknown version %u; "
			 "treating it as absent", manifest, k, rec->version);
		return 0;
	}
	o = obs_append(s, manifest, k);
	if (!o)
		return -ENOMEM;
	o->has_record = true;
	o->rec = *rec;
	/* Whoever wrote it, its strings end within their fields. */
	o->rec.attachment[sizeof(o->rec.attachment) - 1] = '\0';
	o->rec.program[sizeof(o->rec.program) - 1] = '\0';
	o->rec.target[sizeof(o->rec.target) - 1] = '\0';
	o->rec.hook_desc[sizeof(o->rec.hook_desc) - 1] = '\0';
	o->rec.netns[sizeof(o->rec.netns) - 1] = '\0';
	return 0;
}

/* One key at a time: kernels without batch operations on hash maps. */
static int read_records_one_by_one(struct state *s, const char *manifest, const struct map_fd *m,
				   char *val)
{
	char k[CNF_KEY_MAX], next[CNF_KEY_MAX];
	void *prev = NULL;

	while (bpf_map_get_next_key(m->fd, prev, next) == 0) {
		struct cnf_record rec;
		int r;

		memcpy(k, next, sizeof(k));
		prev = k;
		if (bpf_map_lookup_elem(m->fd, k, val) < 0)
			continue; /* deleted meanwhile */
		record_from(&rec, val, m->value_size);
		r = add_record(s, manifest, k, &rec);
		if (r < 0)
			return r;
	}
	return 0;
}

#define BATCH 256

static int read_records(struct state *s, const char *manifest)
{
	const struct map_fd *m = state_map_get(s->root, manifest, false);
	_cleanup_free_ char *keys = NULL, *vals = NULL;
	__u32 in_batch = 0, out_batch = 0;
	bool first = true;

	if (!m)
		return errno == ENOENT ? 0 : -errno;
	/* Read the records in a few batch calls, not two calls each. The
	 * buffers fit the map's value size, checked above. */
	keys = malloc((size_t)BATCH * CNF_KEY_MAX);
	vals = malloc((size_t)BATCH * m->value_size);
	if (!keys || !vals)
		return -ENOMEM;
	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, o);
		__u32 count = BATCH;
		int err = bpf_map_lookup_batch(m->fd, first ? NULL : &in_batch, &out_batch, keys,
					       vals, &count, &o);
		int e = errno;

		if (err < 0 && e != ENOENT) {
			if (first && (e == EINVAL || e == 524 /* ENOTSUPP */ || e == EOPNOTSUPP))
				return read_records_one_by_one(s, manifest, m, vals);
			return -e;
		}
		if (obs_reserve(s, count) < 0)
			return -ENOMEM;
		for (__u32 i = 0; i < count && i < BATCH; i++) {
			struct cnf_record rec;
			int r;

			record_from(&rec, vals + (size_t)i * m->value_size, m->value_size);
			r = add_record(s, manifest, keys + (size_t)i * CNF_KEY_MAX, &rec);
			if (r < 0)
				return r;
		}
		if (err < 0) /* ENOENT: that was the last batch */
			return 0;
		in_batch = out_batch;
		first = false;
	}
}

/* ---- entries the tool did not make ---- */

static unsigned char entry_type(int dfd, const struct dirent *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type;
	if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return DT_UNKNOWN;
	return S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK :
	       S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
}

static bool is_dot(const char *name)
{
	return name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2]));
}

/* What a pinned object is, from the name of its file's inode. */
static const char *pinned_kind(int dfd, const char *name)
{
	_cleanup_close_ int fd = obj_get_beneath(dfd, name);
	char path[64], target[64];
	ssize_t n;

	if (fd < 0)
		return "a file BPF_OBJ_GET cannot open";
	fd_path(path, sizeof(path), fd, NULL);
	n = readlink(path, target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = '\0';
	return strstr(target, "bpf-map") || strstr(target, "bpf_map") ? "a pinned map" :
	       strstr(target, "bpf-prog") || strstr(target, "bpf_prog") ? "a pinned program" :
	       strstr(target, "bpf-link") || strstr(target, "bpf_link") ? "a pinned link" :
	       "a pinned BPF object";
}

/* Notes the entry `name` of the directory `dfd` (`rel` under the root)
 * as stray: reported by status, otherwise left alone. */
static int stray_add(struct state *s, const char *manifest, int dfd, const char *rel,
		     const char *name, unsigned char type)
{
	struct state_stray *x;
	char target[PATH_MAX], what[PATH_MAX + 64];
	struct stat st;
	ssize_t n;

	switch (type) {
	case DT_DIR:
		snprintf(what, sizeof(what), "a directory");
		break;
	case DT_LNK:
		n = readlinkat(dfd, name, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		/* Described, never followed: stat() only says whether it
		 * leads anywhere. */
		snprintf(what, sizeof(what), "a symbolic link%s to '%s'",
			 fstatat(dfd, name, &st, 0) < 0 && errno == ELOOP ? " loop" : "", target);
		break;
	case DT_REG:
		snprintf(what, sizeof(what), "%s", pinned_kind(dfd, name));
		break;
	default:
		snprintf(what, sizeof(what), "an entry of another type");
		break;
	}
	if (grow_array((void **)&s->strays, &s->strays_cap, s->strays_count + 1, sizeof(*s->strays)) < 0)
		return -ENOMEM;
	x = &s->strays[s->strays_count];
	x->path = strprintf("%s/%s%s%s", s->root, rel, *rel ? "/" : "", name);
	x->what = xstrdup(what);
	if (!x->path)
		return -ENOMEM;
	copy_str(x->manifest, sizeof(x->manifest), manifest ? manifest : "");
	s->strays_count++;
	log_debug("state root: stray entry %s: %s", x->path, x->what);
	return 0;
}

/* The manifest's records are s->obs[first..]: a pin with a record marks it,
 * one without gets an entry of its own. What is not an attachment's
 * directory in links/, or not a pin in one, is stray. */
static int read_pins(struct state *s, int mfd, const char *manifest, size_t first)
{
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_(hashidx_free) struct hashidx ix = {};
	struct dirent *de;
	char rel[PATH_MAX];
	int lfd = open_beneath(mfd, "links", O_RDONLY | O_DIRECTORY);

	if (lfd < 0)
		return lfd == -ENOENT ? 0 : lfd;
	d = fdopendir(lfd);
	if (!d) {
		close(lfd);
		return -errno;
	}
	obs_index_build(&ix, s, first, s->count - first);
	while ((de = readdir(d))) {
		_cleanup_closedir_ DIR *sd = NULL;
		struct dirent *se;
		char key[CNF_KEY_MAX];
		size_t dlen = strlen(de->d_name);
		unsigned char t;
		int sfd, r = 0;

		if (is_dot(de->d_name))
			continue;
		snprintf(rel, sizeof(rel), "%s/links", manifest);
		t = entry_type(dirfd(d), de);
		if (t != DT_DIR || !cnf_entry_name_valid(de->d_name) || dlen + 2 > sizeof(key)) {
			r = stray_add(s, manifest, dirfd(d), rel, de->d_name, t);
			if (r < 0)
				return r;
			continue;
		}
		memcpy(key, de->d_name, dlen);
		key[dlen] = '/';
		sfd = open_beneath(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY);
		if (sfd < 0)
			continue;
		sd = fdopendir(sfd);
		if (!sd) {
			close(sfd);
			continue;
		}
		snprintf(rel, sizeof(rel), "%s/links/%s", manifest, de->d_name);
		while ((se = readdir(sd))) {
			size_t elen = strlen(se->d_name);
			struct cnf_observed *o;

			if (is_dot(se->d_name))
				continue;
			t = entry_type(dirfd(sd), se);
			if (t != DT_REG || dlen + 1 + elen >= sizeof(key)) {
				r = stray_add(s, manifest, dirfd(sd), rel, se->d_name, t);
				if (r < 0)
					return r;
				continue;
			}
			memcpy(key + dlen + 1, se->d_name, elen + 1);
			/* Entries appended below are pins without records: no
			 * record has their key, so the index need not know them. */
			o = obs_find(s, &ix, key);
			if (!o) {
				o = obs_append(s, manifest, key);
				if (!o)
					return -ENOMEM;
				memset(&o->rec, 0, sizeof(o->rec));
			}
			o->has_pin = true;
		}
	}
	return 0;
}

/* A manifest's directory holds its state map and links/; anything else
 * is stray, those two included when they are not what their names say. */
static int read_manifest(struct state *s, int rfd, const char *manifest)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	bool has_state = false, has_links = false;
	size_t first = s->count;
	int fd = open_beneath(rfd, manifest, O_RDONLY | O_DIRECTORY), r = 0;

	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while (r >= 0 && (de = readdir(d))) {
		unsigned char t;

		if (is_dot(de->d_name))
			continue;
		t = entry_type(dirfd(d), de);
		if (t == DT_REG && streq(de->d_name, "state"))
			has_state = true;
		else if (t == DT_DIR && streq(de->d_name, "links"))
			has_links = true;
		else if (t == DT_REG && streq(de->d_name, SOURCE_PIN))
			continue;
		else
			r = stray_add(s, manifest, dirfd(d), manifest, de->d_name, t);
	}
	if (r >= 0 && has_state)
		r = read_records(s, manifest);
	if (r >= 0 && has_links)
		r = read_pins(s, dirfd(d), manifest, first);
	return r;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- sources ---- */

/* The manifest's source map, if it is one the tool made: an array of one
 * struct cnf_source (another map's lookup would write past `ret`). */
static int source_map_open(int rfd, const char *manifest)
{
	char rel[PATH_MAX];
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	int fd, r;

	if (snprintf(rel, sizeof(rel), "%s/" SOURCE_PIN, manifest) >= (int)sizeof(rel))
		return -ENAMETOOLONG;
	fd = obj_get_beneath(rfd, rel);
	if (fd < 0)
		return fd;
	r = bpf_info_get(fd, &info, &len);
	if (r >= 0 && (info.type != BPF_MAP_TYPE_ARRAY || info.key_size != sizeof(uint32_t) ||
		       info.value_size != sizeof(struct cnf_source))) {
		log_warn("manifest '%s': '%s' is not the map where cnf-apply records where the "
			 "manifest came from (a %s map with %u-byte values); ignoring it", manifest,
			 rel, map_type_name(info.type), info.value_size);
		r = -EPROTO;
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int state_source_get(const char *root, const char *manifest, struct cnf_source *ret)
{
	_cleanup_close_ int fd = -1;
	uint32_t key = 0;
	int rfd = root_fd(root);

	memset(ret, 0, sizeof(*ret));
	if (rfd < 0)
		return rfd;
	fd = source_map_open(rfd, manifest);
	if (fd < 0)
		return fd == -EPROTO ? -ENOENT : fd;
	if (bpf_map_lookup_elem(fd, &key, ret) < 0)
		return -errno;
	ret->path[sizeof(ret->path) - 1] = ret->file[sizeof(ret->file) - 1] = '\0';
	if (ret->version != CNF_SOURCE_VERSION || !ret->file[0]) {
		memset(ret, 0, sizeof(*ret));
		return -ENOENT;
	}
	return 0;
}

int state_source_put(const char *root, const char *manifest, const struct cnf_source *src)
{
	_cleanup_close_ int fd = -1;
	uint32_t key = 0;
	int rfd = root_fd(root);

	if (rfd < 0)
		return rfd;
	fd = source_map_open(rfd, manifest);
	if (fd == -ENOENT) {
		_cleanup_close_ int mfd = mkdir_beneath(rfd, manifest);
		char path[64];

		if (mfd < 0)
			return mfd;
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, SOURCE_MAP_NAME, sizeof(key), sizeof(*src), 1,
				    NULL);
		if (fd < 0)
			return -errno;
		fd_path(path, sizeof(path), mfd, SOURCE_PIN);
		if (bpf_obj_pin(fd, path) < 0)
			return -errno;
	}
	if (fd < 0)
		return fd;
	return bpf_map_update_elem(fd, &key, src, BPF_ANY) < 0 ? -errno : 0;
}

/* The root's entries, read without following a link. */
static DIR *root_opendir(const char *root, int *ret_err)
{
	int rfd = root_fd(root), fd;
	DIR *d;

	fd = rfd < 0 ? rfd : openat(rfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd >= 0 && fd < 0)
		fd = -errno;
	if (fd < 0) {
		*ret_err = fd;
		return NULL;
	}
	d = fdopendir(fd);
	if (!d) {
		*ret_err = -errno;
		close(fd);
	}
	return d;
}

int state_manifests_list(const char *root, char ***ret, size_t *ret_count)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int err = 0;

	*ret = NULL;
	*ret_count = 0;
	d = root_opendir(root, &err);
	if (!d)
		return err == -ENOENT ? 0 : err;
	while ((de = readdir(d))) {
		if (!cnf_name_valid(de->d_name) || entry_type(dirfd(d), de) != DT_DIR)
			continue;
		if (grow_array((void **)&names, &cap, n + 1, sizeof(char *)) < 0) {
			strv_free(names, n);
			return -ENOMEM;
		}
		names[n++] = xstrdup(de->d_name);
	}
	if (n > 1)
		qsort(names, n, sizeof(char *), name_cmp);
	*ret = names;
	*ret_count = n;
	return 0;
}

/* Entries at the top of the root that are neither a manifest's directory
 * nor stray: the tool's own, and the files the kernel puts in a new
 * bpffs. */
static bool top_entry_known(const char *name, unsigned char type)
{
	if (type == DT_DIR)
		return streq(name, CNF_MAPS_DIR) || streq(name, "_cnf") ||
		       streq(name, CNF_QUARANTINE_DIR);
	return type == DT_REG && (streq(name, "maps.debug") || streq(name, "progs.debug"));
}

int state_read(const char *root, char *const *only, size_t only_count, struct state *ret)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	size_t mcap = 0;
	int rfd, r = 0;

	memset(ret, 0, sizeof(*ret));
	ret->root = root;
	d = root_opendir(root, &r);
	if (!d) {
		if (r == -ENOENT)
			return 0;
		log_error("state root '%s': %s", root, strerror(-r));
		return r;
	}
	rfd = root_fd(root);
	ret->root_exists = true;
	while ((de = readdir(d))) {
		unsigned char t;
		bool want = !only;

		if (is_dot(de->d_name))
			continue;
		t = entry_type(dirfd(d), de);
		if (top_entry_known(de->d_name, t))
			continue;
		if (t != DT_DIR || !cnf_name_valid(de->d_name)) {
			if (stray_add(ret, NULL, dirfd(d), "", de->d_name, t) < 0)
				return -ENOMEM;
			continue;
		}
		for (size_t i = 0; i < only_count && !want; i++)
			want = streq(only[i], de->d_name);
		if (!want)
			continue;
		if (grow_array((void **)&ret->manifests, &mcap, ret->manifests_count + 1,
			       sizeof(char *)) < 0)
			return -ENOMEM;
		ret->manifests[ret->manifests_count++] = xstrdup(de->d_name);
	}
	if (ret->manifests_count > 1)
		qsort(ret->manifests, ret->manifests_count, sizeof(char *), name_cmp);
	for (size_t i = 0; i < ret->manifests_count; i++) {
		r = read_manifest(ret, rfd, ret->manifests[i]);
		if (r == -EPROTO)
			return r; /* a state map not the tool's: said by name */
		if (r < 0) {
			log_error("state of manifest '%s' under '%s': %s", ret->manifests[i], root,
				  strerror(-r));
			return r;
		}
	}
	return 0;
}

void state_free(struct state *s)
{
	for (size_t i = 0; i < s->manifests_count; i++)
		free(s->manifests[i]);
	free(s->manifests);
	for (size_t i = 0; i < s->strays_count; i++) {
		free(s->strays[i].path);
		free(s->strays[i].what);
	}
	free(s->strays);
	hashidx_free(&s->index);
	if (s->obs)
		munmap(s->obs, s->obs_cap * sizeof(*s->obs));
	memset(s, 0, sizeof(*s));
}
