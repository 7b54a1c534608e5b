/* SPDX-License-Identifier: GPL-2.0-only */
/* BPF objects named by manifests: identity (content hash), opening (ELF
 * only), configuration, and loading -- once per run, only when needed. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <bpf/libbpf.h>

#include "cnf/engine.h"
#include "cnf/manifest.h"

struct obj_cache;
struct map_init;

struct obj_entry {
	const struct cnf_manifest *manifest;
	struct cnf_object *obj;
	size_t idx;                   /* index in manifest->objects */
	struct bpf_object *bo;        /* opened (ELF parsed), NULL before */
	bool loaded;
	bool load_failed;
	bool needed;                  /* some action needs its programs */
	bool identified;              /* opened, a regular file root may load */
	int fd;                       /* that file, opened once: libbpf reads it too */
	struct stat st;
	uint8_t hash[CNF_HASH_LEN];   /* sha256 of the file */
	bool hash_from_record;        /* unchanged file: hash reused, not reread */
	uint8_t cfg_hash[CNF_HASH_LEN]; /* config, map pins and program types */
	struct obj_cache *cache;      /* the cache it belongs to */
	struct map_init *inits;       /* `entries:` of its maps, typed at open */
	size_t inits_count;
};

/* The initial entries of one map, encoded for the kernel. */
struct map_init {
	struct obj_entry *e;          /* the object whose `maps:` entry it is */
	const struct cnf_map_opt *mo;
	const char *map_name;
	uint32_t key_size, value_size;
	uint8_t *keys, *values;       /* count * key_size, count * value_size bytes */
	size_t count;
};

/* What a run does with each map of the objects it loads or keeps. A
 * map that holds state carries over to a new version that fits it: a
 * pinned one through its pin, an unpinned one from the running program
 * of the same object (by name). The object's own data sections
 * (.rodata, .data, .bss, .kconfig), program arrays and struct_ops maps
 * are the new version's own: created with it. */
enum map_action {
	MAP_REUSE,                    /* "keep": the map there is reused, contents carried over */
	MAP_CREATE,                   /* a new map: none there yet, or the version's own */
	MAP_RECREATE,                 /* the pinned map does not fit: replaced, contents lost */
	MAP_KEEP,                     /* "keep": no object of the run loads it: left as it is */
	MAP_UNPIN,                    /* pinned by name by the running version only: unpinned
				       * once the programs using it are replaced */
	MAP_RESET,                    /* the running program's unpinned map does not fit: the
				       * new version starts with a new one, contents lost */
};

#define MAP_DIFF_MAX 8

struct map_diff {
	const char *property;         /* "type", "key_size", ..., "btf_value" */
	char old_val[96], new_val[96];
};

struct map_user {
	struct obj_entry *e;
	struct bpf_map *map;
	const struct cnf_map_opt *mo; /* its `maps:` entry, NULL when none */
	const struct map_init *init;  /* its `entries:`, NULL when none */
};

struct map_plan {
	char *path;                   /* pin path, NULL for an unpinned map */
	char *name;                   /* the map's name in the first user */
	enum map_action action;
	struct map_user *users;       /* objects loaded in this run that use it */
	size_t users_count;
	struct map_diff diffs[MAP_DIFF_MAX]; /* recreate: what differs, pinned vs new */
	size_t diffs_count;
	const struct map_init *init;  /* entries written once the map is created */
	const char *own;              /* create: why the new version defines it ("the
				       * object's global variables", ...), NULL otherwise */
	bool loaded;                  /* an object of this run loads it */
	bool resume;                  /* an interrupted recreate's map (<pin>%new) is taken over */
	bool finish_only;             /* resume with no object to load: only the pin moves */
	bool stale;                   /* a <pin>%new this run neither makes nor takes over */
	uint32_t stale_id;            /* the map pinned there, 0 when not a map */
	bool report;                  /* objects_check_maps(): problems are kept, not logged */
	char *problem;                /* status: why plan and apply would fail on this map */
	/* apply */
	int old_fd, new_fd;
	uint32_t old_id, new_id;
	bool tmp_pinned, pinned, swapped, done;
	bool stale_removed;
};

/* A pin path that apply puts back before loading (map_pins.h): the map
 * to take as pinned there. */
struct map_pin_hint {
	const char *path;
	uint32_t map_id;
};

struct obj_cache {
	struct obj_entry *entries;
	size_t count;
	const char *bpffs;            /* for map pins */
	struct map_plan *maps;        /* objects_plan_maps() */
	size_t maps_count;
	bool maps_report;             /* objects_check_maps(): problems kept, not errors */
};

/* One entry per manifest object; nothing opened yet. */
/* Opens an object file for reading without blocking on what is not a
 * regular file (a FIFO would hang the run, the state lock held): the fd,
 * or a negative errno, -EFTYPE_OBJ when it is not a regular file. Symbolic
 * links are followed: the manifest loader checked them (trust.h). */
#define EFTYPE_OBJ EMEDIUMTYPE
int objects_file_open(const char *path, struct stat *ret_st);
/* "/proc/self/fd/N": the path libbpf is given for a file opened so. */
void objects_file_path(char *buf, size_t len, int fd);

int objects_init(struct obj_cache *c, const struct cnf_manifest_set *set, const char *bpffs);
void objects_free(struct obj_cache *c);
struct obj_entry *objects_for(struct obj_cache *c, const struct cnf_attachment *att);

/* Identity of the file. `recs` may offer a remembered (stat, hash) pair
 * for the same path, which avoids rereading an unchanged file. */
int objects_identify(struct obj_cache *c, const struct cnf_record *recs, size_t nrecs,
		     const char *const *rec_manifests);
/* Open every object (ELF parse, no kernel), check its programs against the
 * attachments that use them, apply config. Errors name file, line, entry. */
int objects_open(struct obj_cache *c);
/* Load one object into the kernel (verifier), with autoload limited to the
 * programs some attachment uses. Errors show the verifier log's tail. */
/* `dry`: for plan, loads without pinning maps (the verifier's verdict only). */
int objects_load(struct obj_entry *e, const char *for_attachment, int for_line, bool dry);

/* Pinned maps (`pin:`, or LIBBPF_PIN_BY_NAME, under <bpffs>/_maps/) keep
 * their contents across program versions. After planning, for the
 * objects the plan loads: a pinned map that matches their definition
 * (type, key and value size, max entries, flags, map_extra, the BTF
 * layout of key and value) is reused; one that does not is an error
 * naming what differs, unless every `maps:` entry of it in the run says
 * `on_incompatible: recreate` and no program this run keeps uses the old
 * map. `plan` lists the decisions for plan/apply output. */
int objects_plan_maps(struct obj_cache *c, const struct cnf_plan *plan,
		      const struct map_pin_hint *hints, size_t hints_count);
/* status: the same decisions, read-only, but what would make plan and
 * apply fail is kept with the map (`problem`) instead of being
 * an error. Returns a negative errno only when it cannot look. */
int objects_check_maps(struct obj_cache *c, const struct cnf_plan *plan,
		       const struct map_pin_hint *hints, size_t hints_count);
/* Does the map need attention in status: a difference of its own
 * (does not fit, a recreate or its move pending, a stale <pin>%new)? */
bool objects_map_differs(const struct map_plan *g);
/* apply, once every object is loaded: pins the maps this run created
 * (a recreated one under <pin>%new, next to the old). */
int objects_maps_pin(struct obj_cache *c);
/* apply, once the new programs are attached: the recreated maps take
 * over their pins, and stale <pin>%new files left by killed runs are
 * unpinned. Returns how many pins moved or went without any load. */
int objects_maps_swap(struct obj_cache *c);
/* apply failed: the old pins are back, the new maps unpinned. */
void objects_maps_rollback(struct obj_cache *c);
/* Pins that move or go without any object load (an interrupted
 * recreate, a stale <pin>%new). */
size_t objects_maps_changes(const struct obj_cache *c);
/* destroy: unpins the maps a manifest's objects pin (`pin:` and
 * LIBBPF_PIN_BY_NAME) that no loaded program uses any more. Returns how
 * many were removed. */
/* `gone`: the programs the run detached (sorted), which may linger. */
int objects_unpin_unused_maps(const struct cnf_manifest *m, const char *bpffs,
			      const uint32_t *gone, size_t n_gone);

const char *map_action_name(enum map_action a);
/* The maps a loaded program uses (BPF_PROG_GET_INFO map_ids, then
 * each map's info): appended to `out`, each id once. */
struct live_map {
	uint32_t id, prog_id;
	char name[16];                /* the kernel's: the first 15 characters */
};
struct live_maps {
	struct live_map *v;
	size_t count, cap;
};
int map_ids_of_prog(uint32_t prog_id, struct live_maps *out);
/* Is the kernel's name of a map (15 characters at most) that of `name`? */
bool map_name_is(const char *kname, const char *name);
/* Does a record's "object/program" name object `obj`? */
bool map_record_of_object(const struct cnf_record *rec, const char *obj);
/* The id of the map pinned at `path`, 0 when none (or not a map). */
uint32_t map_pinned_id(const char *path);
/* Why a map is each version's own, never carried over ("the object's
 * global variables", a program array, ...); NULL for a map of state. */
const char *map_own_reason(const struct bpf_map *map);
/* The plan of map `map` of `e`, NULL when none. */
struct map_plan *map_plan_of(struct obj_entry *e, const struct bpf_map *map);
void map_plans_free(struct obj_cache *c);

/* Does the map behind `fd` (pinned, or live) fit map `map` of the opened
 * object `bo`, so that a load can reuse it? The properties libbpf's reuse
 * check compares (type, key and value size, max entries, flags,
 * map_extra), and the BTF layout of key and value where both sides have
 * BTF. Returns how many differ, written to `out` (old: the map behind
 * `fd`, new: the object's), or a negative errno (-ENOTTY: not a map). */
int objects_map_diff(const struct bpf_object *bo, const struct bpf_map *map, int fd,
		     struct map_diff out[MAP_DIFF_MAX], uint32_t *ret_id);
/* "max_entries 4, WANT 8; flags 0x0, WANT 0x1". */
void map_diffs_text(const struct map_diff *d, size_t n, const char *want, char *buf, size_t len);

struct bpf_program *objects_program(struct obj_entry *e, const char *prog_name);

/* sha256 helpers */
void sha256_buf(const void *buf, size_t len, uint8_t out[CNF_HASH_LEN]);
int sha256_file(int fd, uint8_t out[CNF_HASH_LEN]);
void hash_hex(const uint8_t h[CNF_HASH_LEN], char out[2 * CNF_HASH_LEN + 1]);
