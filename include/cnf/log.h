/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

#include <stdarg.h>
#include <stdbool.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern int log_verbosity;       /* 0 normal, 1 -v (libbpf info), 2 -vv (debug) */

/* Errors are printed to stderr once, where the user-facing context is
 * known, and kept so --json can report them as {"error": ...}. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Collected error messages, oldest first. */
unsigned log_error_count(void);
const char *log_error_at(unsigned idx);
/* Collected warnings, for JSON output. */
unsigned log_warn_count(void);
const char *log_warn_at(unsigned idx);
void log_reset(void);
/* Don't echo to stderr (unit tests). */
void log_set_quiet(bool quiet);

/* Routes libbpf's messages: warnings always, info/debug when verbose.
 * While capture is on, libbpf's messages are also kept (verifier logs). */
void log_setup_libbpf(void);
void log_libbpf_capture(bool on);
const char *log_libbpf_captured(void);
