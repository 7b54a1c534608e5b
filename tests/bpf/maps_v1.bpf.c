// SPDX-License-Identifier: GPL-2.0-only
/* Version 1 of the maps test object (maps_common.h). */
#define VERSION 1
#include "maps_common.h"
