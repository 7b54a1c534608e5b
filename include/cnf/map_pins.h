/* SPDX-License-Identifier: GPL-2.0-only */
/* The identity of the maps pinned under <bpffs>/_maps/, and their drift.
 *
 * apply records the id of the map behind each pin it makes or reuses, and
 * which manifests' objects pin it, in <bpffs>/_cnf/maps (map_ids_*). With
 * that record a run tells:
 *
 *   - an impostor: a pin that holds another map than the one the running
 *     programs use (recorded, or found among their maps by name): drift,
 *     reported, and re-pinned like a missing pin (below);
 *   - a missing pin whose recorded map programs still hold, though none
 *     of the manifests of this run (a shared pin of other manifests):
 *     pinned again, never made anew, empty;
 *   - a stale pin: one a manifest's objects made that none of them
 *     declares any more: unpinned once no program uses the map, and by
 *     destroy, whatever the object files say now.
 *
 * A state root without the record (older versions) is checked against
 * the running programs' maps only.
 *
 * A pin removed while the programs using the map are still attached:
 * left alone, the next load of the object would create a new, empty map
 * at the pin (its contents lost) while the running programs keep the old
 * one. So every run that plans stats the declared pin paths of the
 * objects it has deployed (one stat each; a run that changes nothing does
 * nothing more). For a missing pin, the live map is looked up among the
 * maps of the managed programs of that object, by name:
 *
 *   - found: status reports the attachments whose programs hold it as
 *     drifted, plan lists a "repin" (a change: plan exits 2), and apply
 *     pins the live map again before any object is loaded, so that an
 *     upgrade in the same run reuses it and keeps its contents;
 *   - not found (no managed program holds the map): the map is created
 *     afresh, empty, the next time the object is loaded; plan and status
 *     say so, and it is not a change by itself. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cnf/manifest.h"

struct run;
struct map_pin_hint;

#define MAP_PIN_REASON_MAX 1024

struct map_pin_drift {
	const struct cnf_manifest *manifest;  /* the first deployed object declaring the pin */
	const struct cnf_object *obj;
	const struct cnf_map_opt *opt;
	char path[PATH_MAX];
	uint32_t map_id;              /* the live map, 0: no managed program holds it */
	uint32_t recorded_id;         /* the map recorded when the tool pinned it (0: none) */
	uint32_t impostor_id;         /* the pin holds this other map: an impostor (0: missing) */
	int impostor_fd;              /* apply: the impostor, to pin back on undo */
	uint32_t *prog_ids;           /* managed programs that hold it */
	size_t prog_count, prog_cap;
	bool done;                    /* apply pinned it again */
	char reason[MAP_PIN_REASON_MAX];
};

/* The map id behind each pin, recorded in <bpffs>/_cnf/maps when apply
 * pins or reuses a map: lookup (-ENOENT: none recorded), record, forget. */
int map_ids_lookup(const char *bpffs, const char *path, uint32_t *ret_id);
int map_ids_record(const char *bpffs, const char *path, uint32_t id);
void map_ids_forget(const char *bpffs, const char *path);
/* destroy: the record map goes when it is empty (`all`: in any case). */
void map_ids_tidy(const char *bpffs, bool all);
/* apply, once the run succeeded: records the maps now behind the pins
 * it made, moved or reused, and which manifests' objects pin them. */
void map_pins_record(struct run *r);
/* The paths of the pins manifest `manifest` owns ("@<manifest>/<pin>"
 * records), malloc'd; their number. */
size_t map_ids_owned(const char *bpffs, const char *manifest, char ***ret);
void map_ids_disown(const char *bpffs, const char *manifest, const char *path);

/* A pin a manifest's objects made that none of them declares any more
 * (a `pin:` removed from the manifest, a map pinned by name by an older
 * version): stale. apply unpins it once no program uses the map. */
struct map_pin_stale {
	const struct cnf_manifest *manifest;
	char path[PATH_MAX];
	uint32_t map_id;              /* pinned there when planned, 0: the pin is gone */
	uint32_t used_by;             /* a program the run keeps still uses it: it stays */
	bool done;
	char reason[512];
};
/* After planning (plan, apply, status): finds the stale pins of the
 * manifests of the run; each that goes is a change. */
int map_pins_stale(struct run *r);
/* apply, at the end: unpins them. */
void map_pins_collect(struct run *r);
/* destroy: unpins every pin the manifest owns that no program uses, and
 * drops its records. Returns how many pins went. */
size_t map_pins_destroy_owned(const struct cnf_manifest *m, const char *bpffs,
			      const uint32_t *gone, size_t n_gone);

/* After objects_open(): finds the missing pins of deployed objects and
 * their live maps. A live map the object's definition no longer fits is
 * an error, as objects_plan_maps() makes it for a pinned one. */
int map_pins_observe(struct run *r);
/* apply, before any object is loaded: pins each live map again. */
int map_pins_repair(struct run *r);
/* A run that fails before its first change, or rolls back, changes
 * nothing: the pins made again are removed (the programs keep the map). */
void map_pins_undo(struct run *r);
/* The pins apply puts back first, as objects_plan_maps() takes them
 * (the array is the caller's to free). */
size_t map_pins_hints(const struct run *r, struct map_pin_hint **ret);
/* How many re-pins the plan holds (each is a change). */
size_t map_pins_changes(const struct run *r);
/* The drift whose live map program `prog_id` holds, or NULL. */
const struct map_pin_drift *map_pins_drift_of_prog(const struct run *r, uint32_t prog_id);
void map_pins_free(struct run *r);
