// SPDX-License-Identifier: GPL-2.0-only
/* status --metrics (cnf/metrics.h): label escaping, one sample per
 * instance, every state counted, the summary gauges. */
#include <stdlib.h>

#include "cnf/metrics.h"
#include "testlib.h"

static char *render(const struct metrics_row *rows, size_t n, bool in_sync)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	metrics_print(f, rows, n, in_sync);
	fclose(f);
	return buf;
}

TEST(test_escape)
{
	char buf[64];

	CHECK_STR(metrics_label_escape("eth0", buf, sizeof(buf)), "eth0");
	CHECK_STR(metrics_label_escape("a\"b\\c\nd", buf, sizeof(buf)), "a\\\"b\\\\c\\nd");
	CHECK_STR(metrics_label_escape("", buf, sizeof(buf)), "");
	/* Truncated, never an escape cut in half. */
	CHECK_STR(metrics_label_escape("\"\"\"\"", buf, 5), "\\\"");
}

TEST(test_rows)
{
	const struct metrics_row rows[] = {
		{ "edge", "fw-eth0", "xdp", "eth0", "in-sync", 1700000000, 0 },
		{ "edge", "count", "tcx", "veth\"1 ingress", "drifted", 1700000100, 2 },
		{ "old", "gone", "cgroup", "/sys/fs/cgroup/x connect4", "orphaned", 0, 0 },
	};
	char *t = render(rows, 3, false);

	CHECK(strstr(t, "# TYPE cnf_apply_attachment gauge\n") != NULL);
	CHECK(strstr(t, "cnf_apply_attachment{manifest=\"edge\",attachment=\"fw-eth0\",hook=\"xdp\","
		      "target=\"eth0\",state=\"in-sync\"} 1\n") != NULL);
	CHECK(strstr(t, "target=\"veth\\\"1 ingress\",state=\"drifted\"} 1\n") != NULL);
	CHECK(strstr(t, "cnf_apply_attachment_created_timestamp_seconds{manifest=\"edge\","
		      "attachment=\"fw-eth0\",hook=\"xdp\",target=\"eth0\"} 1700000000\n") != NULL);
	/* No record, no creation time. */
	CHECK(strstr(t, "_created_timestamp_seconds{manifest=\"old\"") == NULL);
	CHECK(strstr(t, "cnf_apply_attachments{state=\"in-sync\"} 1\n") != NULL);
	CHECK(strstr(t, "cnf_apply_attachments{state=\"drifted\"} 1\n") != NULL);
	CHECK(strstr(t, "cnf_apply_attachments{state=\"orphaned\"} 1\n") != NULL);
	CHECK(strstr(t, "cnf_apply_attachments{state=\"missing\"} 0\n") != NULL);
	CHECK(strstr(t, "cnf_apply_foreign_programs 2\n") != NULL);
	CHECK(strstr(t, "cnf_apply_in_sync 0\n") != NULL);
	CHECK(strstr(t, "cnf_apply_up 1\n") != NULL);
	CHECK(strstr(t, "cnf_apply_last_change_timestamp_seconds 1700000100\n") != NULL);
	free(t);
}

TEST(test_empty)
{
	char *t = render(NULL, 0, true);

	CHECK(strstr(t, "cnf_apply_in_sync 1\n") != NULL);
	CHECK(strstr(t, "cnf_apply_attachments{state=\"defunct\"} 0\n") != NULL);
	CHECK(strstr(t, "cnf_apply_last_change_timestamp_seconds 0\n") != NULL);
	CHECK(strstr(t, "cnf_apply_attachment{") == NULL);
	free(t);
}

TEST(test_down)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	metrics_print_down(f);
	fclose(f);
	CHECK_STR(buf, "# HELP cnf_apply_up 1 when status could read the manifests and the live state.\n"
		       "# TYPE cnf_apply_up gauge\ncnf_apply_up 0\n");
	free(buf);
}

UNIT_MAIN(test_escape, test_rows, test_empty, test_down)
