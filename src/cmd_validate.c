// SPDX-License-Identifier: GPL-2.0-only
/* validate: manifests and objects, without the kernel and without root. */
#include "cnf/cli.h"
#include "cnf/log.h"
#include "cnf/output.h"
#include "cnf/reconcile.h"

int cmd_validate(const struct cli *cli)
{
	struct run r;
	int err = run_prepare(&r, cli, RUN_VALIDATE);
	size_t natt = 0;

	if (err < 0) {
		run_free(&r);
		return output_errors(cli);
	}
	for (size_t i = 0; i < r.set->count; i++)
		natt += r.set->manifests[i]->attachments_count;
	if (cli->json) {
		json_object *doc = json_object_new_object();
		json_object *arr = json_object_new_array();

		for (size_t i = 0; i < r.set->count; i++) {
			const struct cnf_manifest *m = r.set->manifests[i];
			json_object *o = json_object_new_object();

			json_object_object_add(o, "name", json_object_new_string(m->name));
			json_object_object_add(o, "file", json_object_new_string(m->path));
			json_object_object_add(o, "objects", json_object_new_int64((int64_t)m->objects_count));
			json_object_object_add(o, "attachments",
					       json_object_new_int64((int64_t)m->attachments_count));
			json_object_array_add(arr, o);
		}
		json_object_object_add(doc, "valid", json_object_new_boolean(true));
		json_object_object_add(doc, "manifests", arr);
		output_json(doc);
		json_object_put(doc);
	} else {
		printf("%zu manifest%s valid: %zu object%s, %zu attachment%s.\n", r.set->count,
		       r.set->count == 1 ? "" : "s", r.objs.count, r.objs.count == 1 ? "" : "s",
		       natt, natt == 1 ? "" : "s");
	}
	run_free(&r);
	return EXIT_OK;
}
