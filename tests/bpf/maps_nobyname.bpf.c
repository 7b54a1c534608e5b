// SPDX-License-Identifier: GPL-2.0-only
/* A version without `tbyname`, the map the others pin by name: its pin
 * is the old version's leftover once the new one runs. */
#define VERSION 5
#define NO_TBYNAME
#include "maps_common.h"
