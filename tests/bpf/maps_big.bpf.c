// SPDX-License-Identifier: GPL-2.0-only
/* A version whose `counts` map has more entries: its pinned map cannot
 * carry over. */
#define VERSION 3
#define COUNTS_MAX 8
#include "maps_common.h"
