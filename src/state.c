// SPDX-License-Identifier: GPL-2.0-only
/* The state root: pins and records under bpffs. */
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>

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
};
static struct map_fd *map_fds;
static size_t map_fds_count, map_fds_cap;

/* The directory of the pins state_pin_open() opened last,
 * <root>/<manifest>/links/<attachment>: a run goes through the targets of
 * one attachment after another. */
static struct {
	char path[PATH_MAX];
	int fd;
} pin_dir = { .fd = -1 };
static bool no_path_fd;          /* the kernel has no BPF_F_PATH_FD (before 6.5) */

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

int state_pin_open(const char *root, const char *manifest, const char *key)
{
	char path[PATH_MAX];
	char *slash;
	int fd, r = state_pin_path(path, sizeof(path), root, manifest, key);

	if (r < 0)
		return r;
	slash = strrchr(path, '/');
	if (!no_path_fd) {
		LIBBPF_OPTS(bpf_obj_get_opts, o, .file_flags = BPF_F_PATH_FD);

		/* BPF_OBJ_GET walks every component of an absolute path; from
		 * the directory's fd, one. */
		*slash = '\0';
		if (pin_dir.fd < 0 || !streq(pin_dir.path, path)) {
			pin_dir_close();
			pin_dir.fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (pin_dir.fd >= 0)
				snprintf(pin_dir.path, sizeof(pin_dir.path), "%s", path);
		}
		*slash = '/';
		if (pin_dir.fd >= 0) {
			o.path_fd = pin_dir.fd;
			fd = bpf_obj_get_opts(slash + 1, &o);
			if (fd >= 0)
				return fd;
			if (errno == EINVAL)
				no_path_fd = true;
			/* ENOENT: perhaps the directory was removed and made
			 * again since it was opened; the full path tells. */
			pin_dir_close();
		}
	}
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
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

static int state_map_open(const char *root, const char *manifest, bool create)
{
	char path[PATH_MAX];
	int fd;

	for (size_t i = 0; i < map_fds_count; i++)
		if (streq(map_fds[i].manifest, manifest))
			return map_fds[i].fd;
	if (snprintf(path, sizeof(path), "%s/%s/state", root, manifest) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0 && errno == ENOENT && create) {
		LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
		char dir[PATH_MAX];
		int r;

		snprintf(dir, sizeof(dir), "%s/%s", root, manifest);
		r = mkdir_p(dir, 0700);
		if (r < 0)
			return r;
		fd = bpf_map_create(BPF_MAP_TYPE_HASH, STATE_MAP_NAME, CNF_KEY_MAX,
				    sizeof(struct cnf_record), STATE_MAX_ENTRIES, &o);
		if (fd < 0)
			return -errno;
		if (bpf_obj_pin(fd, path) < 0) {
			r = -errno;
			close(fd);
			return r;
		}
	}
	if (fd < 0)
		return -errno;
	if (grow_array((void **)&map_fds, &map_fds_cap, map_fds_count + 1, sizeof(*map_fds)) < 0) {
		close(fd);
		return -ENOMEM;
	}
	snprintf(map_fds[map_fds_count].manifest, sizeof(map_fds[0].manifest), "%s", manifest);
	map_fds[map_fds_count++].fd = fd;
	return fd;
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
	char path[PATH_MAX], tmp[PATH_MAX];
	char *slash;
	int r = state_pin_path(path, sizeof(path), root, manifest, key);

	if (r < 0)
		return r;
	/* Nothing at the path yet (a new instance): pin there, in one call.
	 * Renaming a pin into place drops dentries, whose RCU callbacks
	 * start a grace period just before the next tcx attach waits for
	 * one of its own: that wait grows by half, 1.4x the floor's per
	 * link at 1,000 interfaces. */
	if (bpf_obj_pin(fd, path) == 0)
		return 0;
	if (errno == ENOENT) {
		slash = strrchr(path, '/');
		*slash = '\0';
		r = mkdir_p(path, 0700);
		if (r < 0)
			return r;
		*slash = '/';
		if (bpf_obj_pin(fd, path) == 0)
			return 0;
	}
	if (errno != EEXIST)
		return -errno;
	/* Something sits at the path (a stale pin, the previous program):
	 * pin under a temporary name, then rename over it, never a moment
	 * without a pin. A killed run leaves the temporary pin, which the
	 * next run removes as a leftover. */
	if (snprintf(tmp, sizeof(tmp), "%s%s", path, PIN_TMP_SUFFIX) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if (unlink(tmp) < 0 && errno != ENOENT)
		return -errno;
	if (bpf_obj_pin(fd, tmp) < 0)
		return -errno;
	if (rename(tmp, path) < 0) {
		r = -errno;
		unlink(tmp);
		return r;
	}
	return 0;
}

int state_unpin(const char *root, const char *manifest, const char *key)
{
	char path[PATH_MAX];
	int r = state_pin_path(path, sizeof(path), root, manifest, key);

	if (r < 0)
		return r;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

void state_tidy(const char *root, const char *manifest)
{
	char path[PATH_MAX];
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	char k[CNF_KEY_MAX], next[CNF_KEY_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s/links", root, manifest);
	d = opendir(path);
	if (d) {
		while ((de = readdir(d))) {
			char sub[PATH_MAX];

			if (de->d_name[0] == '.')
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			rmdir(sub); /* fails while pins remain: fine */
		}
	}
	rmdir(path);
	/* Drop the state map once no record is left. */
	fd = state_map_open(root, manifest, false);
	if (fd == -ENOENT || (fd >= 0 && bpf_map_get_next_key(fd, NULL, next) < 0 && errno == ENOENT)) {
		(void)k;
		snprintf(path, sizeof(path), "%s/%s/state", root, manifest);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s/" SOURCE_PIN, root, manifest);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s", root, manifest);
		rmdir(path);
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
	return 0;
}

/* One key at a time: kernels without batch operations on hash maps. */
static int read_records_one_by_one(struct state *s, const char *manifest, int fd)
{
	char k[CNF_KEY_MAX], next[CNF_KEY_MAX];
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		struct cnf_record rec;
		int r;

		memcpy(k, next, sizeof(k));
		prev = k;
		if (bpf_map_lookup_elem(fd, k, &rec) < 0)
			continue; /* deleted meanwhile */
		r = add_record(s, manifest, k, &rec);
		if (r < 0)
			return r;
	}
	return 0;
}

#define BATCH 256

static int read_records(struct state *s, const char *manifest)
{
	int fd = state_map_open(s->root, manifest, false);
	_cleanup_free_ char *keys = NULL;
	_cleanup_free_ struct cnf_record *vals = NULL;
	__u32 in_batch = 0, out_batch = 0;
	bool first = true;

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	/* Read the records in a few batch calls, not two calls each. */
	keys = malloc((size_t)BATCH * CNF_KEY_MAX);
	vals = malloc(BATCH * sizeof(*vals));
	if (!keys || !vals)
		return -ENOMEM;
	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, o);
		__u32 count = BATCH;
		int err = bpf_map_lookup_batch(fd, first ? NULL : &in_batch, &out_batch, keys, vals,
					       &count, &o);
		int e = errno;

		if (err < 0 && e != ENOENT) {
			if (first && (e == EINVAL || e == 524 /* ENOTSUPP */ || e == EOPNOTSUPP))
				return read_records_one_by_one(s, manifest, fd);
			return -e;
		}
		if (obs_reserve(s, count) < 0)
			return -ENOMEM;
		for (__u32 i = 0; i < count; i++) {
			int r = add_record(s, manifest, keys + (size_t)i * CNF_KEY_MAX, &vals[i]);

			if (r < 0)
				return r;
		}
		if (err < 0) /* ENOENT: that was the last batch */
			return 0;
		in_batch = out_batch;
		first = false;
	}
}

/* The manifest's records are s->obs[first..]: a pin with a record marks it,
 * one without gets an entry of its own. */
static int read_pins(struct state *s, const char *manifest, size_t first)
{
	char path[PATH_MAX];
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_(hashidx_free) struct hashidx ix = {};
	struct dirent *de;

	snprintf(path, sizeof(path), "%s/%s/links", s->root, manifest);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	obs_index_build(&ix, s, first, s->count - first);
	while ((de = readdir(d))) {
		_cleanup_closedir_ DIR *sd = NULL;
		struct dirent *se;
		char key[CNF_KEY_MAX];
		size_t dlen;

		if (de->d_name[0] == '.' || !cnf_entry_name_valid(de->d_name))
			continue;
		dlen = strlen(de->d_name);
		if (dlen + 2 > sizeof(key))
			continue;
		memcpy(key, de->d_name, dlen);
		key[dlen] = '/';
		{
			int dfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			if (dfd < 0)
				continue;
			sd = fdopendir(dfd);
			if (!sd) {
				close(dfd);
				continue;
			}
		}
		while ((se = readdir(sd))) {
			size_t elen;
			struct cnf_observed *o;

			if (se->d_name[0] == '.' && (!se->d_name[1] ||
						     (se->d_name[1] == '.' && !se->d_name[2])))
				continue;
			elen = strlen(se->d_name);
			if (dlen + 1 + elen >= sizeof(key))
				continue;
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

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- sources ---- */

int state_source_get(const char *root, const char *manifest, struct cnf_source *ret)
{
	char path[PATH_MAX];
	_cleanup_close_ int fd = -1;
	uint32_t key = 0;

	memset(ret, 0, sizeof(*ret));
	if (snprintf(path, sizeof(path), "%s/%s/" SOURCE_PIN, root, manifest) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
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
	char path[PATH_MAX], dir[PATH_MAX];
	_cleanup_close_ int fd = -1;
	uint32_t key = 0;
	int r;

	if (snprintf(dir, sizeof(dir), "%s/%s", root, manifest) >= (int)sizeof(dir) ||
	    snprintf(path, sizeof(path), "%s/" SOURCE_PIN, dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0 && errno == ENOENT) {
		r = mkdir_p(dir, 0700);
		if (r < 0)
			return r;
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, SOURCE_MAP_NAME, sizeof(key), sizeof(*src), 1,
				    NULL);
		if (fd < 0)
			return -errno;
		if (bpf_obj_pin(fd, path) < 0)
			return -errno;
	}
	if (fd < 0)
		return -errno;
	return bpf_map_update_elem(fd, &key, src, BPF_ANY) < 0 ? -errno : 0;
}

int state_manifests_list(const char *root, char ***ret, size_t *ret_count)
{
	_cleanup_closedir_ DIR *d = opendir(root);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;

	*ret = NULL;
	*ret_count = 0;
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (!cnf_name_valid(de->d_name))
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

int state_read(const char *root, char *const *only, size_t only_count, struct state *ret)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	size_t mcap = 0;
	int r;

	memset(ret, 0, sizeof(*ret));
	ret->root = root;
	d = opendir(root);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		r = -errno;
		log_error("state root '%s': %s", root, strerror(-r));
		return r;
	}
	ret->root_exists = true;
	while ((de = readdir(d))) {
		bool want = !only;

		if (!cnf_name_valid(de->d_name))
			continue;
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
		size_t first = ret->count;

		r = read_records(ret, ret->manifests[i]);
		if (r >= 0)
			r = read_pins(ret, ret->manifests[i], first);
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
	hashidx_free(&s->index);
	if (s->obs)
		munmap(s->obs, s->obs_cap * sizeof(*s->obs));
	memset(s, 0, sizeof(*s));
}
