/* SPDX-License-Identifier: GPL-2.0-only */
/* An index of an array's entries by a hash of their key, for the planner
 * and the state reader: open addressing with linear probing, sized once
 * for the entries it will hold and at most half full, so a lookup is a
 * probe or two. A slot holds an entry's position + 1 (0: empty). The
 * index does not know the keys: a lookup visits the entries that may
 * match and the caller compares their keys. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct hashidx {
	size_t *slot;
	size_t mask;
	size_t empty;                 /* slots still empty */
};

/* Room for n entries, none yet. */
void hashidx_init(struct hashidx *ix, size_t n);
/* Adds the entry at position `pos` of the caller's array under `hash`.
 * At most the n of hashidx_init(): the index does not grow. */
void hashidx_add(struct hashidx *ix, uint64_t hash, size_t pos);
void hashidx_free(struct hashidx *ix);

/* FNV-1a of a string, and of "<a>\0<b>" (a manifest and a key). */
uint64_t hashidx_hash(const char *s);
uint64_t hashidx_hash2(const char *a, const char *b);

/* Sets `e` (a size_t) to the position of each entry added under `hash`,
 * and of others whose probes crossed its slots: compare their keys. */
#define hashidx_for_each_possible(ix, hash, e)					\
	for (size_t _hi_pos = (size_t)(hash) & (ix)->mask;			\
	     ((e) = (ix)->slot[_hi_pos]) != 0 && ((e)--, 1);			\
	     _hi_pos = (_hi_pos + 1) & (ix)->mask)
