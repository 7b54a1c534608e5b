// SPDX-License-Identifier: GPL-2.0-only
/* A version whose `rules` values have their fields swapped: the same
 * sizes, another BTF layout, so the pinned map cannot carry over. */
#define VERSION 4
#define STATS_SWAPPED
#include "maps_common.h"
