// SPDX-License-Identifier: GPL-2.0-only
/* status --metrics: Prometheus text exposition (see cnf/metrics.h). */
#include <string.h>

#include "cnf/metrics.h"

static const char *const states[] = { "in-sync", "missing", "drifted", "defunct", "orphaned",
					"foreign", "elsewhere" };

const char *metrics_label_escape(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	for (; s && *s && o + 3 < len; s++) {
		if (*s == '\\' || *s == '"') {
			buf[o++] = '\\';
			buf[o++] = *s;
		} else if (*s == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else {
			buf[o++] = *s;
		}
	}
	buf[o] = '\0';
	return buf;
}

static void family(FILE *f, const char *name, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/* manifest="...",attachment="...",hook="...",target="..." */
static void instance_labels(FILE *f, const struct metrics_row *r)
{
	char m[256], a[256], h[64], t[1024];

	fprintf(f, "manifest=\"%s\",attachment=\"%s\",hook=\"%s\",target=\"%s\"",
		metrics_label_escape(r->manifest, m, sizeof(m)),
		metrics_label_escape(r->attachment, a, sizeof(a)),
		metrics_label_escape(r->hook, h, sizeof(h)),
		metrics_label_escape(r->target, t, sizeof(t)));
}

static void up(FILE *f, int v)
{
	family(f, "cnf_apply_up", "1 when status could read the manifests and the live state.");
	fprintf(f, "cnf_apply_up %d\n", v);
}

void metrics_print_down(FILE *f)
{
	up(f, 0);
}

void metrics_print(FILE *f, const struct metrics_row *rows, size_t n, bool in_sync)
{
	size_t foreign = 0;
	uint64_t newest = 0;

	up(f, 1);

	family(f, "cnf_apply_attachment",
	       "One sample per attachment instance, labelled with its status state.");
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "cnf_apply_attachment{");
		instance_labels(f, &rows[i]);
		fprintf(f, ",state=\"%s\"} 1\n", rows[i].state);
		foreign += rows[i].foreign;
		if (rows[i].created_sec > newest)
			newest = rows[i].created_sec;
	}
	family(f, "cnf_apply_attachment_created_timestamp_seconds",
	       "When apply created the attachment instance (updates in place keep it).");
	for (size_t i = 0; i < n; i++) {
		if (!rows[i].created_sec)
			continue;
		fprintf(f, "cnf_apply_attachment_created_timestamp_seconds{");
		instance_labels(f, &rows[i]);
		fprintf(f, "} %llu\n", (unsigned long long)rows[i].created_sec);
	}
	family(f, "cnf_apply_attachments", "Attachment instances in each status state.");
	for (size_t s = 0; s < sizeof(states) / sizeof(states[0]); s++) {
		size_t c = 0;

		for (size_t i = 0; i < n; i++)
			c += strcmp(rows[i].state, states[s]) == 0;
		fprintf(f, "cnf_apply_attachments{state=\"%s\"} %zu\n", states[s], c);
	}
	family(f, "cnf_apply_foreign_programs",
	       "Programs of other tools on the hooks of managed attachments.");
	fprintf(f, "cnf_apply_foreign_programs %zu\n", foreign);
	family(f, "cnf_apply_in_sync",
	       "1 when every attachment is in sync and no map needs attention (status exits 0).");
	fprintf(f, "cnf_apply_in_sync %d\n", in_sync ? 1 : 0);
	family(f, "cnf_apply_last_change_timestamp_seconds",
	       "The newest creation time of an attachment instance; 0 when there is none.");
	fprintf(f, "cnf_apply_last_change_timestamp_seconds %llu\n", (unsigned long long)newest);
}
