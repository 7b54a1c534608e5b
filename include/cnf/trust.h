/* SPDX-License-Identifier: GPL-2.0-only */
/* Who can change a file or a directory, as root sees it: the checks that
 * keep anyone but root from choosing what cnf-apply loads (manifests,
 * objects) or what it believes it owns (the state root). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/* Why someone but root could change the file or directory `st` describes
 * ("it is writable by others (mode 0666)"), or false. `what` names it.
 * `sticky_ok`: a sticky directory anyone can write to passes (like /tmp,
 * where no one can rename or remove another user's entry). */
bool trust_problem(const struct stat *st, const char *what, bool sticky_ok, char *why,
		   size_t whylen);

/* Resolves `path` the way the kernel does, one name at a time, checking
 * every directory a name is looked up in (sticky ones pass) and every
 * symbolic link followed; *ret_st gets the lstat() of what the path names
 * in the end. Returns 0, -EPERM when someone but root could change the way
 * (reason in `why`), or another -errno (`why` says where). */
int trust_walk(const char *path, struct stat *ret_st, char *why, size_t whylen);
