/* SPDX-License-Identifier: GPL-2.0-only */
/* Between the parts of the reconcile run: reconcile.c (prepare, focus,
 * targets, sources, free), resolve.c (desired instances) and observe.c
 * (observed instances, order). */
#pragma once

#include "cnf/reconcile.h"

/* The inode of a network namespace file (NULL: the calling thread's), 0
 * when it cannot be read. */
uint64_t run_netns_ino_of(const char *path);
/* Desired instances of every manifest of the set into r->want. */
int run_resolve_all(struct run *r);
/* Observed instances: r->st checked against the kernel. */
int run_observe_all(struct run *r);
/* The declared order of ordered links, and the revisions read. */
void run_check_order(struct run *r);
/* Families whose instances belong to a network namespace. */
bool run_hook_per_netns(enum hook_kind k);
