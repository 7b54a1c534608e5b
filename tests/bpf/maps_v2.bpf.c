// SPDX-License-Identifier: GPL-2.0-only
/* Version 2 of the maps test object: other code, the same maps, so the
 * pinned ones carry over. */
#define VERSION 2
#include "maps_common.h"
