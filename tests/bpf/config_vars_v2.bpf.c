// SPDX-License-Identifier: GPL-2.0-only
/* config_vars.bpf.c as a new release: another default for `version`. */
#define CONFIG_VARS_V2 1
#include "config_vars.bpf.c"
