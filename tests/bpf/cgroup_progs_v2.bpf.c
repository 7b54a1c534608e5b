// SPDX-License-Identifier: GPL-2.0-only
/* Version 2 of the cgroup test programs: same names, different code. */
#define CGROUP_PROGS_V2
#include "cgroup_progs.bpf.c"
