/* SPDX-License-Identifier: GPL-2.0-only */
/* "Did you mean ...?": the one helper behind the hints for mistyped
 * verbs, manifest keys and hook names. */
#pragma once

#include <stddef.h>

/* The number of edits between a and b: letters inserted, deleted,
 * replaced, or two neighbours swapped (optimal string alignment).
 * Letters compare without case. Words longer than 63 bytes are far. */
size_t suggest_distance(const char *a, const char *b);

/* The word of `words` (NULL-terminated) closest to `word`, or NULL when
 * none is close enough to be a likely typo: at most 1 edit for a word of
 * up to 4 letters, 2 up to 8, 3 beyond (and never as many edits as the
 * word has letters). The first of equally close words wins. */
const char *suggest_word(const char *word, const char *const *words);
