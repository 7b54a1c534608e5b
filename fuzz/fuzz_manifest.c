// SPDX-License-Identifier: GPL-2.0-only
/* libFuzzer target for the manifest loader.
 *
 * manifest_load_buffer() is everything cnf-apply does with a manifest's
 * bytes before it looks at objects or the kernel: the libyaml pre-pass
 * (size, nesting, alias expansion and anchor limits, one document), the
 * typed libcyaml load with its error translation, and every semantic check
 * (names, references, hook keys, anchors, config). Beyond the sanitizers,
 * the target checks what the loader promises its callers:
 *
 *   - the result is 0 with a manifest, or -EINVAL with none;
 *   - a refused input logs at least one error, an accepted one none;
 *   - every error names the file, and a line when it has one (never
 *     only line 0, which would mean the loader lost track of the entry);
 *   - an accepted manifest has a valid name, a line for every entry and
 *     a resolved object for every program reference.
 *
 * Build and run with `make fuzz` / `make fuzz-run FUZZ_SECONDS=60`;
 * tests/fuzz-replay.sh replays the committed corpus (fuzz/corpus/). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnf/log.h"
#include "cnf/manifest.h"

/* Relative and in a directory that does not exist: nothing is read from
 * the file system but the failed realpath() of "fuzz". */
#define FUZZ_PATH "fuzz/edge.yaml"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void broken(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_manifest: broken promise: %s%s%s\n", what,
		detail ? ": " : "", detail ? detail : "");
	for (unsigned i = 0; i < log_error_count(); i++)
		fprintf(stderr, "  error %u: %s\n", i, log_error_at(i));
	abort();
}

/* Every message names the file and, but for file-level problems
 * ("FILE: file is larger than 1 MiB"), a line: "FILE:LINE" with LINE >= 1.
 * "FILE:0" means the loader lost track of the entry. Values and names are
 * printed too and may contain anything, the file's name included: what
 * counts is that some place is named right. */
static void check_message(const char *msg)
{
	size_t n = strlen(FUZZ_PATH);

	if (!strncmp(msg, FUZZ_PATH ": ", n + 2))
		return;
	for (const char *p = strstr(msg, FUZZ_PATH ":"); p; p = strstr(p + 1, FUZZ_PATH ":"))
		if (p[n + 1] >= '1' && p[n + 1] <= '9')
			return;
	broken("an error names no line of the file", msg);
}

static void check_manifest(const struct cnf_manifest *m)
{
	if (!m->name || !cnf_name_valid(m->name))
		broken("accepted a manifest without a valid name", m->name);
	if (!m->api_version || strcmp(m->api_version, CNF_API_VERSION))
		broken("accepted a manifest with another apiVersion", m->api_version);
	if (!m->objects_count)
		broken("accepted a manifest without objects", NULL);
	for (size_t i = 0; i < m->objects_count; i++) {
		const struct cnf_object *o = &m->objects[i];

		if (!o->name || !cnf_entry_name_valid(o->name) || !o->path || o->line <= 0)
			broken("accepted an incomplete object", o->name);
	}
	for (size_t i = 0; i < m->attachments_count; i++) {
		const struct cnf_attachment *a = &m->attachments[i];

		if (!a->name || !cnf_entry_name_valid(a->name) || !a->hook || a->line <= 0)
			broken("accepted an incomplete attachment", a->name);
		if ((a->program || a->map) && !a->object)
			broken("accepted a reference to no object", a->name);
		if (a->program && (!a->prog_name || !*a->prog_name))
			broken("accepted a program reference without a program", a->name);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_quiet(!getenv("FUZZ_VERBOSE"));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cnf_manifest *m = NULL;
	int r;

	log_reset();
	r = manifest_load_buffer(FUZZ_PATH, (const char *)data, size, &m);
	if (r == 0) {
		if (!m)
			broken("success without a manifest", NULL);
		if (log_error_count())
			broken("success with errors", log_error_at(0));
		check_manifest(m);
	} else {
		if (r != -EINVAL)
			broken("unexpected result", strerror(-r));
		if (m)
			broken("failure with a manifest", NULL);
		if (!log_error_count())
			broken("failure without a message", NULL);
		for (unsigned i = 0; i < log_error_count(); i++)
			check_message(log_error_at(i));
	}
	manifest_free(m);
	log_reset();
	return 0;
}
