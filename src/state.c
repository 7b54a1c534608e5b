// SPDX-License-Identifier: GPL-2.0-only
/* The state root: pins and records under bpffs. */
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>

#include "cnf/log.h"
#include "cnf/manifest.h"
#include "cnf/state.h"
#include "cnf/util.h"

#define STATE_MAP_NAME "cnf_state"
#define STATE_MAX_ENTRIES 65536

struct map_fd {
	char manifest[CNF_NAME_MAX + 1];
	int fd;
};
static struct map_fd *map_fds;
static size_t map_fds_count, map_fds_cap;

void state_close_maps(void)
{
	for (size_t i = 0; i < map_fds_count; i++)
		close(map_fds[i].fd);
	free(map_fds);
	map_fds = NULL;
	map_fds_count = map_fds_cap = 0;
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
				  " (is bpffs mounted? mount -t bpf bpf /sys/fs/bpf)" : "");
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
		log_error("state root '%s' is not on a bpf filesystem (mount -t bpf bpf DIR)", root);
		return -ENOTDIR;
	}
	return 0;
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
	slash = strrchr(path, '/');
	*slash = '\0';
	r = mkdir_p(path, 0700);
	if (r < 0)
		return r;
	*slash = '/';
	/* Pin under a temporary name, then rename over whatever sits at the
	 * path (a stale pin, the previous program): never a moment without a
	 * pin. A killed run leaves the temporary pin, which the next run
	 * removes as a leftover. */
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
	if (fd >= 0 && bpf_map_get_next_key(fd, NULL, next) < 0 && errno == ENOENT) {
		(void)k;
		snprintf(path, sizeof(path), "%s/%s/state", root, manifest);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s", root, manifest);
		rmdir(path);
	}
}

/* Appends an entry. Each key is seen once per source: the state map's keys
 * are unique, and so are the pins' paths. */
static struct cnf_observed *obs_append(struct state *s, size_t *cap, const char *manifest,
				       const char *key)
{
	struct cnf_observed *o;

	if (grow_array((void **)&s->obs, cap, s->count + 1, sizeof(*s->obs)) < 0)
		return NULL;
	o = &s->obs[s->count++];
	memset(o, 0, sizeof(*o));
	snprintf(o->manifest, sizeof(o->manifest), "%s", manifest);
	snprintf(o->key, sizeof(o->key), "%s", key);
	return o;
}

static int obs_idx_cmp(const void *a, const void *b, void *arg)
{
	const struct cnf_observed *obs = arg;

	return strcmp(obs[*(const size_t *)a].key, obs[*(const size_t *)b].key);
}

/* Binary search in `idx`, indexes into s->obs sorted by key. */
static struct cnf_observed *obs_find(struct state *s, const size_t *idx, size_t n,
				     const char *key)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->obs[idx[mid]].key, key);

		if (!c)
			return &s->obs[idx[mid]];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int add_record(struct state *s, size_t *cap, const char *manifest, char *k,
		      const struct cnf_record *rec)
{
	struct cnf_observed *o;

	k[CNF_KEY_MAX - 1] = '\0';
	if (rec->version != CNF_RECORD_VERSION) {
		log_warn("state of manifest '%s': record '%s' has unknown version %u; "
			 "treating it as absent", manifest, k, rec->version);
		return 0;
	}
	o = obs_append(s, cap, manifest, k);
	if (!o)
		return -ENOMEM;
	o->has_record = true;
	o->rec = *rec;
	return 0;
}

/* One key at a time: kernels without batch operations on hash maps. */
static int read_records_one_by_one(struct state *s, size_t *cap, const char *manifest, int fd)
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
		r = add_record(s, cap, manifest, k, &rec);
		if (r < 0)
			return r;
	}
	return 0;
}

#define BATCH 256

static int read_records(struct state *s, size_t *cap, const char *manifest)
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
	keys = xcalloc(BATCH, CNF_KEY_MAX);
	vals = xcalloc(BATCH, sizeof(*vals));
	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, o);
		__u32 count = BATCH;
		int err = bpf_map_lookup_batch(fd, first ? NULL : &in_batch, &out_batch, keys, vals,
					       &count, &o);
		int e = errno;

		if (err < 0 && e != ENOENT) {
			if (first && (e == EINVAL || e == 524 /* ENOTSUPP */ || e == EOPNOTSUPP))
				return read_records_one_by_one(s, cap, manifest, fd);
			return -e;
		}
		for (__u32 i = 0; i < count; i++) {
			int r = add_record(s, cap, manifest, keys + (size_t)i * CNF_KEY_MAX, &vals[i]);

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
static int read_pins(struct state *s, size_t *cap, const char *manifest, size_t first)
{
	char path[PATH_MAX];
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_free_ size_t *idx = NULL;
	size_t nrec = s->count - first;
	struct dirent *de;

	snprintf(path, sizeof(path), "%s/%s/links", s->root, manifest);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	idx = xcalloc(nrec, sizeof(*idx));
	for (size_t i = 0; i < nrec; i++)
		idx[i] = first + i;
	qsort_r(idx, nrec, sizeof(*idx), obs_idx_cmp, s->obs);
	while ((de = readdir(d))) {
		_cleanup_closedir_ DIR *sd = NULL;
		struct dirent *se;
		char sub[PATH_MAX];

		if (de->d_name[0] == '.' || !cnf_entry_name_valid(de->d_name))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		sd = opendir(sub);
		if (!sd)
			continue;
		while ((se = readdir(sd))) {
			char key[CNF_KEY_MAX];
			struct cnf_observed *o;

			if (streq(se->d_name, ".") || streq(se->d_name, ".."))
				continue;
			if (snprintf(key, sizeof(key), "%s/%s", de->d_name, se->d_name) >=
			    (int)sizeof(key))
				continue;
			o = obs_find(s, idx, nrec, key);
			if (!o)
				o = obs_append(s, cap, manifest, key);
			if (!o)
				return -ENOMEM;
			o->has_pin = true;
		}
	}
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int state_read(const char *root, char *const *only, size_t only_count, struct state *ret)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	size_t cap = 0, mcap = 0;
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

		r = read_records(ret, &cap, ret->manifests[i]);
		if (r >= 0)
			r = read_pins(ret, &cap, ret->manifests[i], first);
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
	free(s->obs);
	memset(s, 0, sizeof(*s));
}
