// SPDX-License-Identifier: GPL-2.0-only
/* The index of entries by hash (cnf/hashidx.h) that the planner and the
 * state reader use: hashes, sizing, collisions, absent keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnf/hashidx.h"
#include "cnf/util.h"
#include "testlib.h"

/* Position of `key` in keys[] through the index, -1 if absent; *visits
 * counts the entries the lookup compared. */
static long find(const struct hashidx *ix, char *const *keys, uint64_t hash, const char *key,
		 size_t *visits)
{
	size_t e;

	*visits = 0;
	hashidx_for_each_possible(ix, hash, e) {
		(*visits)++;
		if (streq(keys[e], key))
			return (long)e;
	}
	return -1;
}

/* The index's slots: how many hold an entry. */
static size_t used(const struct hashidx *ix)
{
	size_t n = 0;

	for (size_t i = 0; i <= ix->mask; i++)
		n += ix->slot[i] != 0;
	return n;
}

/* FNV-1a 64: the values the index was built with before it was shared. */
TEST(test_hash_values)
{
	CHECK(hashidx_hash("") == 0xcbf29ce484222325ull);
	CHECK(hashidx_hash("a") == 0xaf63dc4c8601ec8cull);
	CHECK(hashidx_hash("foobar") == 0x85944171f73967e8ull);
	/* "<a>\0<b>" */
	CHECK(hashidx_hash2("a", "b") == 0xe5d29919042666b2ull);
	CHECK(hashidx_hash2("edge", "fw/eth0") == 0x5a484a4b959b4455ull);
	CHECK(hashidx_hash2("ab", "") != hashidx_hash2("a", "b"));
	CHECK(hashidx_hash2("", "ab") != hashidx_hash2("a", "b"));
	CHECK(hashidx_hash2("a", "b") != hashidx_hash("ab"));
}

/* Sized once: at least 16 slots, a power of two, at most half full. */
TEST(test_sizing)
{
	static const struct { size_t n, slots; } cases[] = {
		{ 0, 16 }, { 1, 16 }, { 8, 16 }, { 9, 32 }, { 16, 32 }, { 17, 64 },
		{ 10000, 32768 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct hashidx ix;

		hashidx_init(&ix, cases[i].n);
		CHECK_INT(ix.mask + 1, cases[i].slots);
		CHECK_INT(ix.empty, cases[i].slots);
		CHECK_INT(used(&ix), 0);
		hashidx_free(&ix);
		CHECK(ix.slot == NULL);
	}
}

/* Nothing added: every lookup ends at once. */
TEST(test_empty)
{
	_cleanup_(hashidx_free) struct hashidx ix = {};
	char *keys[] = { NULL };
	size_t visits;

	hashidx_init(&ix, 0);
	CHECK_INT(find(&ix, keys, hashidx_hash("x"), "x", &visits), -1);
	CHECK_INT(visits, 0);
	CHECK_INT(find(&ix, keys, 0, "x", &visits), -1);
	CHECK_INT(find(&ix, keys, UINT64_MAX, "x", &visits), -1);
}

/* Entries under one hash are all visited, in the order they were added;
 * a key under that hash that was not added is compared with each and not
 * found; another hash whose slot is empty visits none. */
TEST(test_collisions)
{
	_cleanup_(hashidx_free) struct hashidx ix = {};
	char *keys[] = { "m/a", "m/b", "m/c", "m/d", "m/e" };
	size_t visits, e, seen = 0;

	hashidx_init(&ix, ARRAY_SIZE(keys));
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		hashidx_add(&ix, 3, i);
	CHECK_INT(used(&ix), ARRAY_SIZE(keys));
	CHECK_INT(ix.empty, 16 - ARRAY_SIZE(keys));
	hashidx_for_each_possible(&ix, 3, e) {
		CHECK_INT(e, seen);
		seen++;
	}
	CHECK_INT(seen, ARRAY_SIZE(keys));
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		CHECK_INT(find(&ix, keys, 3, keys[i], &visits), i);
		CHECK_INT(visits, i + 1);
	}
	CHECK_INT(find(&ix, keys, 3, "m/z", &visits), -1);
	CHECK_INT(visits, ARRAY_SIZE(keys));
	/* A hash starting inside the run of slots 3..7 sees its tail. */
	CHECK_INT(find(&ix, keys, 5, "m/z", &visits), -1);
	CHECK_INT(visits, 3);
	CHECK_INT(find(&ix, keys, 2, "m/a", &visits), -1);
	CHECK_INT(visits, 0);
	CHECK_INT(find(&ix, keys, 8, "m/e", &visits), -1);
	CHECK_INT(visits, 0);
	/* Only the bits under the mask pick the slot. */
	CHECK_INT(find(&ix, keys, 3 + 16 * 12345, "m/d", &visits), 3);
}

/* A run of collisions at the last slot goes on at the first. */
TEST(test_wraps_around)
{
	_cleanup_(hashidx_free) struct hashidx ix = {};
	char *keys[] = { "w/0", "w/1", "w/2", "w/3" };
	size_t visits;

	hashidx_init(&ix, ARRAY_SIZE(keys));
	hashidx_add(&ix, UINT64_MAX, 0);        /* slot 15 */
	hashidx_add(&ix, 15, 1);                /* slot 0 */
	hashidx_add(&ix, 31, 2);                /* slot 1 */
	hashidx_add(&ix, 0, 3);                 /* slot 0 is taken: slot 2 */
	CHECK_INT(ix.slot[15], 1);
	CHECK_INT(ix.slot[0], 2);
	CHECK_INT(ix.slot[1], 3);
	CHECK_INT(ix.slot[2], 4);
	for (size_t i = 0; i < 3; i++) {
		CHECK_INT(find(&ix, keys, 15, keys[i], &visits), i);
		CHECK_INT(visits, i + 1);
	}
	CHECK_INT(find(&ix, keys, 0, "w/3", &visits), 3);
	CHECK_INT(visits, 3);
	CHECK_INT(find(&ix, keys, 15, "w/9", &visits), -1);
	CHECK_INT(visits, 4);
}

/* As the planner uses it: 10,000 (manifest, key) pairs, each found at its
 * position; absent ones, near misses included, are not. */
TEST(test_many_keys)
{
	enum { N = 10000 };
	_cleanup_(hashidx_free) struct hashidx ix = {};
	char **mf = xcalloc(N, sizeof(*mf)), **keys = xcalloc(N, sizeof(*keys));
	size_t longest = 0;
	long bad = 0;

	hashidx_init(&ix, N);
	for (size_t i = 0; i < N; i++) {
		mf[i] = strprintf("m%zu", i % 7);
		keys[i] = strprintf("fw-%zu/eth%zu", i, i % 13);
		hashidx_add(&ix, hashidx_hash2(mf[i], keys[i]), i);
	}
	CHECK_INT(used(&ix), N);
	CHECK_INT(ix.empty, ix.mask + 1 - N);
	for (size_t i = 0; i < N; i++) {
		size_t visits;
		long pos = find(&ix, keys, hashidx_hash2(mf[i], keys[i]), keys[i], &visits);

		bad += pos != (long)i;
		if (visits > longest)
			longest = visits;
	}
	CHECK_INT(bad, 0);
	/* Half full at most: runs stay short (a loose bound, not a promise). */
	CHECK(longest < 64);
	for (size_t i = 0; i < N; i++) {
		_cleanup_free_ char *absent = strprintf("fw-%zu/eth%zu", i + N, i % 13);
		size_t visits;

		bad += find(&ix, keys, hashidx_hash2(mf[i], absent), absent, &visits) != -1;
	}
	CHECK_INT(bad, 0);
	/* The same key in another manifest hashes elsewhere. */
	CHECK(hashidx_hash2("m0", keys[0]) != hashidx_hash2("m1", keys[0]));
	for (size_t i = 0; i < N; i++) {
		free(mf[i]);
		free(keys[i]);
	}
	free(mf);
	free(keys);
}

UNIT_MAIN(test_hash_values, test_sizing, test_empty, test_collisions, test_wraps_around,
	  test_many_keys)
