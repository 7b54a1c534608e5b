// SPDX-License-Identifier: GPL-2.0-only
/* Version 2 of trace_v1.bpf.c: the same programs, adding 2 per event. */
#define VERSION 2
#include "trace_v1.bpf.c"
