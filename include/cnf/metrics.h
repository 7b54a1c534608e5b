/* SPDX-License-Identifier: GPL-2.0-only */
/* status --metrics: the Prometheus text exposition format (version 0.0.4)
 * of what status found, for node_exporter's textfile collector.
 *
 *   cnf_apply_attachment{manifest,attachment,hook,target,state} 1
 *       one sample per attachment instance
 *   cnf_apply_attachment_created_timestamp_seconds{manifest,attachment,hook,target}
 *       when apply created it (kept by updates in place); instances with a record only
 *   cnf_apply_attachments{state}   instances per state, every state listed (0 too)
 *   cnf_apply_foreign_programs     programs of other tools on the managed hooks
 *   cnf_apply_in_sync              1 when status would exit 0
 *   cnf_apply_last_change_timestamp_seconds   the newest creation time, 0 if none
 *   cnf_apply_up                   1; 0 (and nothing else) when status failed
 *
 * Pure formatting: no syscalls but writing to the stream. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct metrics_row {
	const char *manifest, *attachment, *hook, *target;
	const char *state;            /* in-sync, missing, drifted, defunct, orphaned */
	uint64_t created_sec;         /* 0: no record */
	size_t foreign;               /* foreign programs on its hook */
};

/* A label value with \, " and newline escaped, into buf (truncated). */
const char *metrics_label_escape(const char *s, char *buf, size_t len);
void metrics_print(FILE *f, const struct metrics_row *rows, size_t n, bool in_sync);
/* What status prints when it fails: cnf_apply_up 0. */
void metrics_print_down(FILE *f);
