/* SPDX-License-Identifier: GPL-2.0-only */
/* The state root (a bpffs directory, default /sys/fs/bpf/cnf):
 *
 *   <root>/<manifest>/links/<attachment>/<target>  pinned bpf_link (legacy tc: the program)
 *   <root>/<manifest>/state                        pinned hash map: key "<attachment>/<target>"
 *                                                  -> struct cnf_record
 *   <root>/<manifest>/source                       pinned array map, one struct cnf_source:
 *                                                  where the manifest was last applied from
 *                                                  (absent in state roots of older versions)
 *   <root>/_maps/<pin>                             maps pinned with `pin:` (shared), and
 *                                                  those the object pins by name
 *   <root>/_cnf/                                   the tool's own pins (link iterator)
 *
 * Manifest names begin with a lowercase letter or digit, so the tool's own
 * entries never clash with a manifest's directory (bpffs refuses '.' in
 * names, so they cannot be hidden dot-directories). */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cnf/engine.h"
#include "cnf/hashidx.h"

#define CNF_MAPS_DIR "_maps"
/* Where a foreign pin found at an instance's path goes, so that the
 * foreign object stays alive and the tool can pin its own:
 * <root>/_quarantine/<manifest>/<attachment>/<target>-<kind><id>
 * (kind: link, prog, map or obj; the id the kernel gave it). */
#define CNF_QUARANTINE_DIR "_quarantine"
/* Suffix of the temporary pin of a replacement's new link, renamed over
 * the old pin once the old link is detached. Escaped keys never contain
 * '%' followed by anything but two hex digits. */
#define TMP_SUFFIX "%new"
/* Suffix of a pin being written (renamed into place at once). */
#define PIN_TMP_SUFFIX "%pin"
/* Pins with either suffix are leftovers of a killed run. */
bool state_key_is_leftover(const char *key);

/* An entry under the root that the tool did not make, or not where it
 * is: status reports it as `stray`; nothing else minds it. */
struct state_stray {
	char *path;                   /* absolute */
	char *what;                   /* "a directory", "a symbolic link to '...'", ... */
	char manifest[CNF_NAME_MAX + 1]; /* "" at the top of the root */
};

struct state {
	const char *root;
	struct cnf_observed *obs;
	size_t count;
	size_t obs_cap;               /* entries the mapping of obs holds */
	struct hashidx index;         /* state_lookup()'s, built on first use */
	size_t index_count;
	char **manifests;             /* manifest directories under the root */
	size_t manifests_count;
	bool root_exists;
	struct state_stray *strays;
	size_t strays_count, strays_cap;
};

/* Reads pins and records (no kernel queries besides opening the state
 * maps). `only`: manifest names to read, NULL for all. */
int state_read(const char *root, char *const *only, size_t only_count, struct state *ret);
void state_free(struct state *s);
/* The entry of an instance, NULL if there is none. The entries are
 * indexed at the first call, and again when their number changed (entries
 * dropped); reordering them in place after a call is not allowed. */
struct cnf_observed *state_lookup(struct state *s, const char *manifest, const char *key);

/* Nothing under the root is reached through a symbolic link, nor outside
 * it: these open `rel` (a path under the root, no "..") with openat2
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS (an O_NOFOLLOW walk before 5.6).
 * A negative errno, -ELOOP for a link on the way. */
int state_open(const char *root, const char *rel, int flags);
/* BPF_OBJ_GET of a pin under the root, the same way. */
int state_obj_get(const char *root, const char *rel);

int state_pin_path(char *buf, size_t len, const char *root, const char *manifest, const char *key);
/* <root>/_maps/<pin> (pin NULL: the directory itself): -ENAMETOOLONG when
 * it does not fit, 0 otherwise. The one place that path is made. */
int state_map_path(char *buf, size_t len, const char *root, const char *pin);
/* The pin of a path under <root>/_maps/ (what follows it), NULL when the
 * path is not under it. */
const char *state_map_rel(const char *root, const char *path);
/* Opens an instance's pin (BPF_OBJ_GET); a negative errno if it cannot. */
int state_pin_open(const char *root, const char *manifest, const char *key);
/* Writes or deletes one record; creates the manifest's state map on demand. */
int state_record_put(const char *root, const char *manifest, const char *key,
		     const struct cnf_record *rec);
int state_record_del(const char *root, const char *manifest, const char *key);
/* Creates the manifest's state map if missing (before the first change). */
int state_record_prepare(const char *root, const char *manifest);
/* Pins `fd` at the instance's path (creating directories). */
int state_pin(const char *root, const char *manifest, const char *key, int fd);
int state_unpin(const char *root, const char *manifest, const char *key);
/* Renames the pin `from` to `to` (keys of one attachment). */
int state_pin_rename(const char *root, const char *manifest, const char *from, const char *to);
/* Moves an instance's pin to <root>/_quarantine/<manifest>/<attachment>/
 * <target>-<suffix> (back: from there to the instance's path again). */
int state_pin_quarantine(const char *root, const char *manifest, const char *key,
			 const char *suffix, bool back);
/* Removes empty directories and an empty state map of a manifest. */
void state_tidy(const char *root, const char *manifest);
/* Checks that root is on a bpffs mount (or can be: a directory inside one). */
int state_root_check(const char *root, bool create);
void state_close_maps(void);

/* Where a manifest was last applied from: the PATH argument that held it
 * and its file, both absolute (manifest.h's source, source_file). A run
 * over PATHs prunes only the vanished manifests whose file it reads. */
#define CNF_SOURCE_VERSION 1
struct cnf_source {
	uint32_t version;
	uint32_t flags;               /* none yet */
	char path[PATH_MAX];
	char file[PATH_MAX];
};
/* 0, or -ENOENT when none is recorded (or of an unknown version). */
int state_source_get(const char *root, const char *manifest, struct cnf_source *ret);
/* Records it (creating the manifest's directory and the map). */
int state_source_put(const char *root, const char *manifest, const struct cnf_source *src);
/* The manifests that have a directory under the root, sorted. */
int state_manifests_list(const char *root, char ***ret, size_t *ret_count);
