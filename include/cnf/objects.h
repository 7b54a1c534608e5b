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

struct obj_entry {
	const struct cnf_manifest *manifest;
	struct cnf_object *obj;
	size_t idx;                   /* index in manifest->objects */
	struct bpf_object *bo;        /* opened (ELF parsed), NULL before */
	bool loaded;
	bool load_failed;
	bool needed;                  /* some action needs its programs */
	bool identified;              /* opened, a regular file root may load */
	struct stat st;
	uint8_t hash[CNF_HASH_LEN];   /* sha256 of the file */
	bool hash_from_record;        /* unchanged file: hash reused, not reread */
	uint8_t cfg_hash[CNF_HASH_LEN]; /* config, map pins and program types */
};

struct obj_cache {
	struct obj_entry *entries;
	size_t count;
	const char *bpffs;            /* for map pins */
};

/* One entry per manifest object; nothing opened yet. */
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

/* Maps shared through `pin:` keep their contents across program versions:
 * an already pinned map must match the object's definition (type, key and
 * value size, max entries, flags), else the error names what differs. */
int objects_check_pinned_maps(struct obj_cache *c);
/* destroy: unpins the `pin:` maps of a manifest's objects that no loaded
 * program uses any more. Returns how many were removed. */
int objects_unpin_unused_maps(const struct cnf_manifest *m, const char *bpffs);

struct bpf_program *objects_program(struct obj_entry *e, const char *prog_name);

/* sha256 helpers */
void sha256_buf(const void *buf, size_t len, uint8_t out[CNF_HASH_LEN]);
int sha256_file(int fd, uint8_t out[CNF_HASH_LEN]);
void hash_hex(const uint8_t h[CNF_HASH_LEN], char out[2 * CNF_HASH_LEN + 1]);
