// SPDX-License-Identifier: GPL-2.0-only
/* Pins a map where cnf-apply keeps a manifest's state, the way a broken
 * or hostile tool with root could:
 *
 *   forge_state PIN TYPE KEY_SIZE VALUE_SIZE ENTRIES [BYTE]
 *
 * TYPE is libbpf's name of a map type (hash, array, percpu_hash, ...).
 * ENTRIES entries are written, keys "k<i>" (zero-padded), values filled
 * with BYTE (default 0x41). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static int map_type(const char *name)
{
	for (int t = 1; t < 64; t++) {
		const char *n = libbpf_bpf_map_type_str((enum bpf_map_type)t);

		if (n && !strcmp(n, name))
			return t;
	}
	return -1;
}

int main(int argc, char **argv)
{
	unsigned key_size, value_size, entries, byte = 0x41;
	char *key, *value;
	int type, fd;

	if (argc < 6 || (type = map_type(argv[2])) < 0) {
		fprintf(stderr, "usage: forge_state PIN TYPE KEY_SIZE VALUE_SIZE ENTRIES [BYTE]\n");
		return 2;
	}
	key_size = (unsigned)strtoul(argv[3], NULL, 0);
	value_size = (unsigned)strtoul(argv[4], NULL, 0);
	entries = (unsigned)strtoul(argv[5], NULL, 0);
	if (argc > 6)
		byte = (unsigned)strtoul(argv[6], NULL, 0);
	fd = bpf_map_create((enum bpf_map_type)type, "cnf_state", key_size, value_size,
			    entries ? entries : 1, NULL);
	if (fd < 0) {
		fprintf(stderr, "forge_state: creating the map: %s\n", strerror(errno));
		return 1;
	}
	key = calloc(1, key_size + 16);
	value = malloc(value_size);
	if (!key || !value)
		return 1;
	memset(value, (int)byte, value_size);
	for (unsigned i = 0; i < entries; i++) {
		if (type == BPF_MAP_TYPE_ARRAY)
			memcpy(key, &i, sizeof(i));
		else
			snprintf(key, key_size + 1, "k%u", i);
		if (bpf_map_update_elem(fd, key, value, BPF_ANY) < 0) {
			fprintf(stderr, "forge_state: entry %u: %s\n", i, strerror(errno));
			return 1;
		}
	}
	free(key);
	free(value);
	if (bpf_obj_pin(fd, argv[1]) < 0) {
		fprintf(stderr, "forge_state: pinning at %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	return 0;
}
