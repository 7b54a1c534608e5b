/* SPDX-License-Identifier: GPL-2.0-only */
/* Saved plans: `plan --out FILE` writes one, `apply --plan FILE` carries it
 * out only if the run it makes again finds the same inputs and the same
 * actions. A plan file is one JSON document, mode 0600:
 *
 *   {"format": "cnf-apply-plan/1", "created": ..., "version": ...,
 *    "verb": "apply" | "destroy", "all": bool, "bpffs": ..., "paths": [...],
 *    "targets": [...],
 *    "inputs": {
 *      "manifests": {NAME: {"file", "sha256"}},              the manifest files
 *      "objects":   {"MANIFEST/OBJECT": {"file", "sha256", "config"}},
 *      "instances": {"MANIFEST/KEY": {"hook", "program", "ifindex", ...}},
 *                                                 the desired instances, resolved
 *      "observed":  {"MANIFEST/KEY": {"record", "pin", "alive", "link_id", ...}},
 *                                                 the live state read
 *      "hooks":     {"tcx NETNS:IFINDEX:TYPE": {"revision"}},  hooks whose order was read
 *      "pruned":    {NAME: true}},                vanished manifests it deletes
 *    "plan": {"changed", "summary", "actions": [...], "maps": [...]}}
 *
 * "inputs" sections are maps by key, so that a difference names what
 * changed: the manifest, the object, the instance. */
#pragma once

#include <json-c/json.h>

#include "cnf/cli.h"
#include "cnf/reconcile.h"

#define PLANFILE_FORMAT "cnf-apply-plan/1"

/* The plan file of a planned run (destroy: verb "destroy"). */
json_object *planfile_build(const struct run *r);
/* Writes it to `path`: a temporary file beside it, renamed over it. */
int planfile_save(const char *path, json_object *doc);
/* Reads and checks a plan file, and sets what the run takes from it in
 * `cli` (paths, targets, state root, verb): the strings stay owned by
 * *ret, which the caller puts. Errors are logged. */
int planfile_load(const char *path, struct cli *cli, bool *ret_destroy, json_object **ret);
/* The differences between a saved plan file and one built now, one
 * message each ("manifest 'edge' (/etc/cnf.d/edge.yaml) changed"):
 * inputs first, then the actions. Returns their number; *ret (free with
 * strv_free) holds them. Pure: no system calls. */
size_t planfile_diff(json_object *saved, json_object *now, char ***ret);
/* apply --plan: refuses (logs why, returns -ESTALE) when the run `r`,
 * planned again from the plan file's paths, differs from it. */
int planfile_check(const struct run *r, json_object *saved, const char *path);
/* apply --plan: after the run made again failed before planning, says
 * that the plan file cannot be carried out (nothing else without one). */
void planfile_failed(const struct cli *cli);
