// SPDX-License-Identifier: GPL-2.0-only
/* The index of entries by the hash of their key (cnf/hashidx.h). */
#include "cnf/hashidx.h"
#include "cnf/util.h"

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

void hashidx_init(struct hashidx *ix, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap <<= 1;
	ix->slot = xcalloc(cap, sizeof(*ix->slot));
	ix->mask = cap - 1;
	ix->empty = cap;
}

void hashidx_add(struct hashidx *ix, uint64_t hash, size_t pos)
{
	size_t i = hash & ix->mask;

	/* A lookup stops at an empty slot: one must always remain. */
	if (ix->empty <= 1) {
		fputs("cnf-apply: hash index full\n", stderr);
		abort();
	}
	while (ix->slot[i])
		i = (i + 1) & ix->mask;
	ix->slot[i] = pos + 1;
	ix->empty--;
}

void hashidx_free(struct hashidx *ix)
{
	free(ix->slot);
	ix->slot = NULL;
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (const char *p = s; *p; p++)
		h = (h ^ (unsigned char)*p) * FNV_PRIME;
	return h;
}

uint64_t hashidx_hash(const char *s)
{
	return fnv1a(FNV_OFFSET, s);
}

uint64_t hashidx_hash2(const char *a, const char *b)
{
	/* The '\0' between them: "ab" + "" and "a" + "b" differ. */
	return fnv1a(fnv1a(FNV_OFFSET, a) * FNV_PRIME, b);
}
