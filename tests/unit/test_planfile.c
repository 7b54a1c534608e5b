// SPDX-License-Identifier: GPL-2.0-only
/* Saved plans compared with the run made again: what each difference says. */
#include <stdlib.h>

#include "cnf/planfile.h"
#include "cnf/util.h"
#include "testlib.h"

/* A plan file as planfile_build() writes it, cut to what the diff reads. */
static const char *base =
	"{\"format\": \"cnf-apply-plan/1\", \"inputs\": {"
	" \"manifests\": {\"edge\": {\"file\": \"/etc/cnf.d/edge.yaml\", \"sha256\": \"aa\"}},"
	" \"objects\": {\"edge/fw\": {\"file\": \"/etc/cnf.d/fw.o\", \"sha256\": \"bb\", \"config\": \"cc\"}},"
	" \"instances\": {\"edge/fw/eth0\": {\"hook\": \"xdp eth0\", \"ifindex\": 3}},"
	" \"observed\": {\"edge/fw/eth0\": {\"alive\": true, \"link_id\": 12}},"
	" \"hooks\": {\"tcx 1:3:46\": {\"revision\": 4}},"
	" \"pruned\": {}},"
	" \"plan\": {\"actions\": [{\"action\": \"update\", \"manifest\": \"edge\","
	" \"attachment\": \"fw\", \"target\": \"eth0\", \"config_changes\": [1]}], \"maps\": []}}";

/* The differences between `base` and base with `edit` (jq-like: the
 * path of an object member, then its new JSON value; NULL value: removed). */
static size_t diff_with(const char *const *path, const char *value, char ***msgs)
{
	json_object *saved = json_tokener_parse(base), *now = json_tokener_parse(base), *o = now;
	size_t n;

	for (; path[1]; path++)
		json_object_object_get_ex(o, path[0], &o);
	if (value)
		json_object_object_add(o, path[0], json_tokener_parse(value));
	else
		json_object_object_del(o, path[0]);
	n = planfile_diff(saved, now, msgs);
	json_object_put(saved);
	json_object_put(now);
	return n;
}

TEST(test_same_plan_holds)
{
	json_object *a = json_tokener_parse(base), *b = json_tokener_parse(base);
	char **msgs = NULL;

	CHECK_INT(planfile_diff(a, b, &msgs), 0);
	strv_free(msgs, 0);
	json_object_put(a);
	json_object_put(b);
}

TEST(test_each_input_is_named)
{
	static const char *const manifest[] = { "inputs", "manifests", "edge", "sha256", NULL };
	static const char *const object[] = { "inputs", "objects", "edge/fw", "sha256", NULL };
	static const char *const inst[] = { "inputs", "instances", "edge/fw/eth1", NULL };
	static const char *const gone[] = { "inputs", "instances", "edge/fw/eth0", NULL };
	static const char *const live[] = { "inputs", "observed", "edge/fw/eth0", NULL };
	static const char *const hook[] = { "inputs", "hooks", "tcx 1:3:46", "revision", NULL };
	static const char *const pruned[] = { "inputs", "pruned", "old", NULL };
	char **m = NULL;

	CHECK_INT(diff_with(manifest, "\"ab\"", &m), 1);
	CHECK_STR(m[0], "manifest 'edge' (/etc/cnf.d/edge.yaml) changed since the plan: sha256 aa -> ab");
	strv_free(m, 1);
	CHECK_INT(diff_with(object, "\"bc\"", &m), 1);
	CHECK_STR(m[0], "object 'edge/fw' (/etc/cnf.d/fw.o) changed since the plan: sha256 bb -> bc");
	strv_free(m, 1);
	CHECK_INT(diff_with(inst, "{}", &m), 1);
	CHECK_STR(m[0], "attachment instance 'edge/fw/eth1' is new since the plan");
	strv_free(m, 1);
	CHECK_INT(diff_with(gone, NULL, &m), 1);
	CHECK_STR(m[0], "attachment instance 'edge/fw/eth0' is gone since the plan");
	strv_free(m, 1);
	CHECK_INT(diff_with(live, "{\"alive\": false, \"link_id\": 0}", &m), 1);
	CHECK_STR(m[0], "live state of 'edge/fw/eth0' changed since the plan: alive true -> false, "
			"link_id 12 -> 0");
	strv_free(m, 1);
	CHECK_INT(diff_with(hook, "5", &m), 1);
	CHECK_STR(m[0], "hook 'tcx 1:3:46' changed since the plan: revision 4 -> 5");
	strv_free(m, 1);
	CHECK_INT(diff_with(pruned, "true", &m), 1);
	CHECK_STR(m[0], "manifest 'old' (to prune) is new since the plan");
	strv_free(m, 1);
}

TEST(test_actions_compared_without_live_values)
{
	static const char *const actions[] = { "plan", "actions", NULL };
	char **m = NULL;

	/* A writable variable's live value moves on its own. */
	CHECK_INT(diff_with(actions, "[{\"action\": \"update\", \"manifest\": \"edge\", \"attachment\": "
			    "\"fw\", \"target\": \"eth0\", \"config_changes\": [2]}]", &m), 0);
	strv_free(m, 0);
	CHECK_INT(diff_with(actions, "[{\"action\": \"replace\", \"manifest\": \"edge\", \"attachment\": "
			    "\"fw\", \"target\": \"eth0\"}]", &m), 1);
	CHECK_STR(m[0], "action 1 of the plan is 'update edge/fw eth0', now it would be "
			"'replace edge/fw eth0'");
	strv_free(m, 1);
	CHECK_INT(diff_with(actions, "[]", &m), 1);
	CHECK_STR(m[0], "action 1 of the plan is 'update edge/fw eth0', now it would be none");
	strv_free(m, 1);
}

UNIT_MAIN(test_same_plan_holds, test_each_input_is_named, test_actions_compared_without_live_values)
