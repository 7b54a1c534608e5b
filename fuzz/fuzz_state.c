// SPDX-License-Identifier: GPL-2.0-only
/* libFuzzer target for the state reader: whatever map sits where a
 * manifest's state map belongs, state_read() neither crashes nor writes
 * past its buffers, and says what it found:
 *
 *   - a hash map with the tool's key and record sizes (the current
 *     layout's or version 1's) is read: 0, no error, every record that
 *     comes back of the current version (others are warned about and
 *     left out);
 *   - any other map is refused: a negative errno and an error naming the
 *     map's path.
 *
 * Each input makes one map: its type, key and value sizes, number of
 * entries and their bytes come from the input (layout below), and it is
 * pinned at <bpffs>/fz/state of a private bpffs, in a mount namespace of
 * the target's own. Needs root (CAP_SYS_ADMIN, CAP_BPF); without it the
 * target says so and exits 0.
 *
 *   byte 0       map type (an index into map_types[])
 *   byte 1       key size (an index into key_sizes[], else the byte itself)
 *   byte 2       value size (value_sizes[], else the byte itself)
 *   byte 3       entries (0..31), bit 5: stamp the current record
 *                version, bit 6: a pin named like the first key
 *   bytes 4..    keys and values, taken in turn (zero when used up)
 *
 * tests/fuzz-replay.sh replays fuzz/corpus-state/. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "cnf/log.h"
#include "cnf/state.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[64];

static const enum bpf_map_type map_types[] = {
	BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PERCPU_HASH,
	BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_LRU_HASH, BPF_MAP_TYPE_LRU_PERCPU_HASH,
	BPF_MAP_TYPE_LPM_TRIE, BPF_MAP_TYPE_QUEUE, BPF_MAP_TYPE_STACK,
	BPF_MAP_TYPE_BLOOM_FILTER, BPF_MAP_TYPE_RINGBUF, BPF_MAP_TYPE_HASH,
};
static const uint32_t key_sizes[] = { CNF_KEY_MAX, 0, 4, 8, CNF_KEY_MAX - 1, CNF_KEY_MAX + 1, 512 };
static const uint32_t value_sizes[] = {
	sizeof(struct cnf_record), sizeof(struct cnf_record) - 1, sizeof(struct cnf_record) + 1,
	sizeof(struct cnf_record) + 8, 4, 0, 65536, 1 << 20, CNF_RECORD_V1_SIZE,
};

static void broken(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_state: broken promise: %s%s%s\n", what, detail ? ": " : "",
		detail ? detail : "");
	for (unsigned i = 0; i < log_error_count(); i++)
		fprintf(stderr, "  error %u: %s\n", i, log_error_at(i));
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_quiet(!getenv("FUZZ_VERBOSE"));
	if (geteuid() != 0 || unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		fprintf(stderr, "fuzz_state: needs root (a mount namespace, a bpffs, BPF maps): "
			"nothing fuzzed\n");
		exit(0);
	}
	snprintf(root, sizeof(root), "/tmp/fuzz-state.XXXXXX");
	if (!mkdtemp(root) || mount("bpf", root, "bpf", 0, "mode=0700") < 0) {
		fprintf(stderr, "fuzz_state: cannot mount a bpffs at %s: %s\n", root, strerror(errno));
		exit(1);
	}
	return 0;
}

/* The input's next byte, 0 once used up. */
static uint8_t next_byte(const uint8_t *data, size_t size, size_t *pos)
{
	return *pos < size ? data[(*pos)++] : 0;
}

static void fill(void *buf, size_t len, const uint8_t *data, size_t size, size_t *pos)
{
	size_t n = *pos < size ? size - *pos : 0;

	n = n < len ? n : len;
	memset(buf, 0, len);
	if (n)
		memcpy(buf, data + *pos, n);
	*pos += n;
}

static int make_map(const uint8_t *data, size_t size, uint32_t *ret_vsize)
{
	LIBBPF_OPTS(bpf_map_create_opts, o);
	size_t pos = 0;
	uint8_t t = next_byte(data, size, &pos), k = next_byte(data, size, &pos);
	uint8_t v = next_byte(data, size, &pos), e = next_byte(data, size, &pos);
	enum bpf_map_type type = map_types[t % (sizeof(map_types) / sizeof(map_types[0]))];
	uint32_t ksize = k < sizeof(key_sizes) / sizeof(key_sizes[0]) ? key_sizes[k] : k;
	uint32_t vsize = v < sizeof(value_sizes) / sizeof(value_sizes[0]) ? value_sizes[v] : v;
	uint32_t entries = e & 31, max = entries ? entries : 1;
	char path[128], dir[96];
	void *key, *val;
	int fd;

	if (type == BPF_MAP_TYPE_LPM_TRIE)
		o.map_flags = BPF_F_NO_PREALLOC;
	if (type == BPF_MAP_TYPE_RINGBUF)
		max = 4096;
	fd = bpf_map_create(type, "cnf_state", ksize, vsize, max, &o);
	if (fd < 0)
		return -1; /* a combination the kernel refuses: nothing to read */
	key = calloc(1, ksize + 1);
	val = calloc(1, vsize + 1);
	for (uint32_t i = 0; i < entries && key && val; i++) {
		fill(key, ksize, data, size, &pos);
		fill(val, vsize, data, size, &pos);
		if ((e & 32) && vsize >= 4) {
			uint32_t version = vsize == CNF_RECORD_V1_SIZE ? 1 : CNF_RECORD_VERSION;

			memcpy(val, &version, sizeof(version));
		}
		if (type == BPF_MAP_TYPE_QUEUE || type == BPF_MAP_TYPE_STACK ||
		    type == BPF_MAP_TYPE_BLOOM_FILTER)
			bpf_map_update_elem(fd, NULL, val, 0);
		else
			bpf_map_update_elem(fd, key, val, 0);
		if (i == 0 && (e & 64) && ksize) {
			/* A pin named like the key, where links/ would hold it. */
			char name[64];

			snprintf(name, sizeof(name), "%.*s", (int)(ksize < 40 ? ksize : 40), (char *)key);
			snprintf(path, sizeof(path), "%s/fz/links/a/%s", root, name);
			snprintf(dir, sizeof(dir), "%s/fz/links/a", root);
			mkdir(dir, 0700);
			bpf_obj_pin(fd, path);
		}
	}
	free(key);
	free(val);
	snprintf(path, sizeof(path), "%s/fz/state", root);
	if (bpf_obj_pin(fd, path) < 0) {
		close(fd);
		return -1;
	}
	*ret_vsize = vsize;
	return type == BPF_MAP_TYPE_HASH && ksize == CNF_KEY_MAX &&
	       (vsize == sizeof(struct cnf_record) || vsize == CNF_RECORD_V1_SIZE) ? 1 : 0;
}

/* Everything under the manifest's directory goes, for the next input. */
static void clean(void)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf %s/fz", root);
	if (system(cmd) != 0)
		broken("cannot clean the bpffs", root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state st;
	char dir[96], path[128];
	uint32_t vsize = 0;
	int ours, r;

	log_reset();
	snprintf(dir, sizeof(dir), "%s/fz", root);
	mkdir(dir, 0700);
	ours = make_map(data, size, &vsize);
	if (ours < 0) {
		clean();
		return 0;
	}
	r = state_read(root, NULL, 0, &st);
	snprintf(path, sizeof(path), "state map '%s/fz/state'", root);
	if (ours) {
		if (r < 0)
			broken("the tool's own map refused", strerror(-r));
		if (log_error_count())
			broken("success with errors", log_error_at(0));
		for (size_t i = 0; i < st.count; i++)
			if (st.obs[i].has_record && st.obs[i].rec.version != CNF_RECORD_VERSION)
				broken("a record of another version read", st.obs[i].key);
	} else {
		if (r >= 0)
			broken("another map read as the tool's", NULL);
		if (!log_error_count() || !strstr(log_error_at(0), path))
			broken("the error does not name the map", path);
	}
	state_free(&st);
	if (ours)
		state_tidy(root, "fz");
	state_close_maps();
	clean();
	log_reset();
	return 0;
}
