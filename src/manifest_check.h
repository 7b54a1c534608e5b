/* SPDX-License-Identifier: GPL-2.0-only */
/* Between the manifest loader (manifest.c) and its checks
 * (manifest_check.c). */
#pragma once

#include <stddef.h>

#include "cnf/manifest.h"

/* How to fix a file that others than root can change. */
#define TRUST_HINT "make the file and the directories above it owned by root and not " \
		   "writable by group or others"

/* Every check of one loaded manifest; -EINVAL after logging its problems. */
int manifest_check(const char *path, struct cnf_manifest *m);
/* "attachment" for the list "attachments" (objects, maps, programs), NULL
 * for another list. */
const char *manifest_entry_kind(const char *list);
/* "attachment 'fw-eth0'", or "attachment #3" while it has no usable name. */
char *manifest_entry_label(const char *kind, const char *name, size_t idx);
