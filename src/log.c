// SPDX-License-Identifier: GPL-2.0-only
#include <stdarg.h>
#include <bpf/libbpf.h>

#include "cnf/log.h"
#include "cnf/util.h"

int log_verbosity;

static bool quiet;
static char **errors, **warnings;
static size_t n_errors, cap_errors, n_warnings, cap_warnings;
static bool capture;
static char *captured;
static size_t captured_len;

#define CAPTURE_MAX (1u << 20)

static void keep(char ***arr, size_t *n, size_t *cap, const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0)
		return;
	/* Messages are one line each; drop a trailing newline. */
	size_t len = strlen(s);
	if (len && s[len - 1] == '\n')
		s[len - 1] = '\0';
	if (grow_array((void **)arr, cap, *n + 1, sizeof(char *)) < 0) {
		free(s);
		return;
	}
	(*arr)[(*n)++] = s;
}

static void emit(const char *prefix, const char *fmt, va_list ap)
{
	if (quiet)
		return;
	fputs("cnf-apply: ", stderr);
	if (prefix)
		fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	if (!*fmt || fmt[strlen(fmt) - 1] != '\n')
		fputc('\n', stderr);
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	keep(&errors, &n_errors, &cap_errors, fmt, ap);
	va_end(ap);
	va_start(ap, fmt);
	emit("error: ", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	keep(&warnings, &n_warnings, &cap_warnings, fmt, ap);
	va_end(ap);
	va_start(ap, fmt);
	emit("warning: ", fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	if (log_verbosity < 1)
		return;
	va_start(ap, fmt);
	emit(NULL, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_verbosity < 2)
		return;
	va_start(ap, fmt);
	emit("debug: ", fmt, ap);
	va_end(ap);
}

unsigned log_error_count(void) { return n_errors; }
const char *log_error_at(unsigned idx) { return idx < n_errors ? errors[idx] : NULL; }
unsigned log_warn_count(void) { return n_warnings; }
const char *log_warn_at(unsigned idx) { return idx < n_warnings ? warnings[idx] : NULL; }
void log_set_quiet(bool q) { quiet = q; }

void log_reset(void)
{
	for (size_t i = 0; i < n_errors; i++)
		free(errors[i]);
	for (size_t i = 0; i < n_warnings; i++)
		free(warnings[i]);
	free(errors);
	free(warnings);
	errors = warnings = NULL;
	n_errors = cap_errors = n_warnings = cap_warnings = 0;
	free(captured);
	captured = NULL;
	captured_len = 0;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (capture) {
		va_list aq;
		char *s;

		va_copy(aq, ap);
		if (vasprintf(&s, fmt, aq) >= 0) {
			size_t len = strlen(s);

			if (captured_len + len < CAPTURE_MAX) {
				char *n = realloc(captured, captured_len + len + 1);

				if (n) {
					memcpy(n + captured_len, s, len + 1);
					captured = n;
					captured_len += len;
				}
			}
			free(s);
		}
		va_end(aq);
	}
	if (quiet)
		return 0;
	if (level == LIBBPF_WARN && !capture && log_verbosity < 1)
		return 0;
	if (level == LIBBPF_INFO && log_verbosity < 1)
		return 0;
	if (level == LIBBPF_DEBUG && log_verbosity < 2)
		return 0;
	if (level == LIBBPF_WARN && capture && log_verbosity < 1)
		return 0; /* shown trimmed by the caller instead */
	return vfprintf(stderr, fmt, ap);
}

void log_setup_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}

void log_libbpf_capture(bool on)
{
	capture = on;
	if (on) {
		free(captured);
		captured = NULL;
		captured_len = 0;
	}
}

const char *log_libbpf_captured(void)
{
	return captured ? captured : "";
}
