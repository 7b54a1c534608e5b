// SPDX-License-Identifier: GPL-2.0-only
/* Version 2 of sto_v1.bpf.c. */
#define VERSION 2
#include "sto_v1.bpf.c"
