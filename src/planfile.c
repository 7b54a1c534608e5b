// SPDX-License-Identifier: GPL-2.0-only
/* Saved plans (plan --out, apply --plan): what a plan was computed from,
 * written down so that apply can tell whether it still holds. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <time.h>
#include <sys/stat.h>

#include "cnf/log.h"
#include "cnf/objects.h"
#include "cnf/output.h"
#include "cnf/planfile.h"
#include "cnf/util.h"

#ifndef CNF_VERSION
#define CNF_VERSION "0.1.0"
#endif

/* ---- building ---- */

static json_object *hex_json(const uint8_t h[CNF_HASH_LEN])
{
	char hex[2 * CNF_HASH_LEN + 1];

	hash_hex(h, hex);
	return json_object_new_string(hex);
}

static void add_str(json_object *o, const char *key, const char *val)
{
	json_object_object_add(o, key, json_object_new_string(val ? val : ""));
}

static void add_int(json_object *o, const char *key, int64_t val)
{
	json_object_object_add(o, key, json_object_new_int64(val));
}

static void add_bool(json_object *o, const char *key, bool val)
{
	json_object_object_add(o, key, json_object_new_boolean(val));
}

static json_object *manifests_json(const struct run *r)
{
	json_object *o = json_object_new_object();

	for (size_t i = 0; i < r->set->count; i++) {
		const struct cnf_manifest *m = r->set->manifests[i];
		uint8_t h[CNF_HASH_LEN] = {};
		_cleanup_close_ int fd = -1;
		json_object *e;

		if (!run_targeted(r->cli, m->name, NULL))
			continue;
		e = json_object_new_object();
		fd = open(m->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || sha256_file(fd, h) < 0)
			memset(h, 0, sizeof(h)); /* unreadable now: differs anyway */
		add_str(e, "file", m->source_file ? m->source_file : m->path);
		json_object_object_add(e, "sha256", hex_json(h));
		json_object_object_add(o, m->name, e);
	}
	return o;
}

static json_object *objects_json(const struct run *r)
{
	json_object *o = json_object_new_object();

	for (size_t i = 0; i < r->objs.count; i++) {
		const struct obj_entry *e = &r->objs.entries[i];
		char key[2 * CNF_KEY_MAX];
		json_object *x;

		if (!run_targeted(r->cli, e->manifest->name, NULL))
			continue;
		x = json_object_new_object();
		snprintf(key, sizeof(key), "%s/%s", e->manifest->name, e->obj->name);
		add_str(x, "file", e->obj->path);
		json_object_object_add(x, "sha256", hex_json(e->hash));
		json_object_object_add(x, "config", hex_json(e->cfg_hash));
		json_object_object_add(o, key, x);
	}
	return o;
}

static json_object *instances_json(const struct run *r)
{
	json_object *o = json_object_new_object();

	for (size_t i = 0; i < r->want_count; i++) {
		const struct cnf_instance *w = &r->want[i];
		json_object *x = json_object_new_object(), *xdp = json_object_new_array();
		char key[2 * CNF_KEY_MAX];

		snprintf(key, sizeof(key), "%s/%s", w->manifest->name, w->key);
		add_str(x, "hook", w->hook_desc);
		json_object_object_add(x, "program", hex_json(w->prog_hash));
		add_bool(x, "missing", w->target_missing);
		add_int(x, "ifindex", w->t.ifindex);
		add_int(x, "netns_ino", (int64_t)w->t.netns_ino);
		add_int(x, "cgroup_id", (int64_t)w->t.cgroup_id);
		/* The programs on the interface's XDP hook when it was listed. */
		for (size_t k = 0; k < ARRAY_SIZE(w->t.xdp_prog_id); k++)
			json_object_array_add(xdp, json_object_new_int64(w->t.xdp_prog_id[k]));
		json_object_object_add(x, "xdp_progs", xdp);
		json_object_object_add(o, key, x);
	}
	return o;
}

static json_object *observed_json(const struct run *r)
{
	json_object *o = json_object_new_object();

	for (size_t i = 0; i < r->st.count; i++) {
		const struct cnf_observed *h = &r->st.obs[i];
		char key[2 * CNF_KEY_MAX];
		json_object *x;

		/* Other manifests' instances (read to know the tool's own
		 * programs) are not the plan's to change. */
		if (!run_in_scope(r, h->manifest))
			continue;
		x = json_object_new_object();

		snprintf(key, sizeof(key), "%s/%s", h->manifest, h->key);
		if (h->has_record) {
			uint8_t d[CNF_HASH_LEN];

			sha256_buf(&h->rec, sizeof(h->rec), d);
			json_object_object_add(x, "record", hex_json(d));
		} else {
			json_object_object_add(x, "record", NULL);
		}
		add_bool(x, "pin", h->has_pin);
		add_bool(x, "alive", h->alive);
		add_bool(x, "defunct", h->defunct);
		add_int(x, "link_id", h->link_id);
		add_int(x, "prog_id", h->prog_id);
		add_bool(x, "prog_replaced", h->prog_replaced);
		add_str(x, "order_drift", h->order_drift);
		json_object_object_add(o, key, x);
	}
	return o;
}

static json_object *hooks_json(const struct run *r)
{
	json_object *o = json_object_new_object();

	/* The first read of a hook is the one the run is held to. */
	for (size_t i = 0; i < r->revs_count; i++) {
		const struct hook_rev *h = &r->revs[i];
		char key[96];

		snprintf(key, sizeof(key), "tcx %" PRIu64 ":%d:%u", h->netns_ino, h->ifindex,
			 h->attach_type);
		if (!json_object_object_get_ex(o, key, NULL)) {
			json_object *x = json_object_new_object();

			add_int(x, "revision", (int64_t)h->revision);
			json_object_object_add(o, key, x);
		}
	}
	return o;
}

static json_object *strv_json(char *const *v, size_t n)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

json_object *planfile_build(const struct run *r)
{
	json_object *doc = json_object_new_object(), *in = json_object_new_object();
	json_object *paths = json_object_new_array(), *pruned = json_object_new_object();
	json_object *plan = output_plan_json(r, false);
	bool destroy = r->mode == RUN_DESTROY;
	char when[64] = "";
	time_t now = time(NULL);
	struct tm tm;

	if (gmtime_r(&now, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	add_str(doc, "format", PLANFILE_FORMAT);
	add_str(doc, "version", CNF_VERSION);
	add_str(doc, "created", when);
	add_str(doc, "verb", destroy ? "destroy" : "apply");
	add_bool(doc, "all", destroy && r->cli->all);
	add_str(doc, "bpffs", r->cli->bpffs);
	for (size_t i = 0; i < r->paths_count; i++)
		json_object_array_add(paths, json_object_new_string(r->paths[i].path));
	json_object_object_add(doc, "paths", paths);
	json_object_object_add(doc, "targets", strv_json(r->cli->targets, r->cli->targets_count));

	json_object_object_add(in, "manifests", manifests_json(r));
	json_object_object_add(in, "objects", objects_json(r));
	json_object_object_add(in, "instances", instances_json(r));
	json_object_object_add(in, "observed", observed_json(r));
	json_object_object_add(in, "hooks", hooks_json(r));
	for (size_t i = 0; i < r->prune_count; i++)
		add_bool(pruned, r->prune[i], true);
	json_object_object_add(in, "pruned", pruned);
	json_object_object_add(doc, "inputs", in);

	json_object_object_del(plan, "verb");
	json_object_object_add(doc, "plan", plan);
	return doc;
}

/* ---- saving and loading ---- */

int planfile_save(const char *path, json_object *doc)
{
	_cleanup_free_ char *tmp = strprintf("%s.XXXXXX", path);
	const char *text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
							  JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t len = strlen(text), off = 0;
	int fd, err = 0;

	if (!tmp)
		return -ENOMEM;
	fd = mkstemp(tmp); /* mode 0600 */
	if (fd < 0) {
		err = -errno;
		log_error("plan file '%s': cannot create it: %s", path, strerror(-err));
		return err;
	}
	while (off < len && err == 0) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno != EINTR)
			err = -errno;
		else if (n > 0)
			off += (size_t)n;
	}
	if (err == 0 && (write(fd, "\n", 1) != 1 || fsync(fd) < 0))
		err = -errno;
	if (close(fd) < 0 && err == 0)
		err = -errno;
	if (err == 0 && rename(tmp, path) < 0)
		err = -errno;
	if (err < 0) {
		unlink(tmp);
		log_error("plan file '%s': cannot write it: %s", path, strerror(-err ? -err : EIO));
	}
	return err;
}

/* The strings of a JSON array, or NULL (with *ret_n 0) when it is not one
 * of strings. */
static char **strv_of(json_object *a, size_t *ret_n, bool *ok)
{
	size_t n = json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
	char **v = xcalloc(n + 1, sizeof(char *));

	*ok = json_object_is_type(a, json_type_array);
	for (size_t i = 0; i < n && *ok; i++) {
		json_object *s = json_object_array_get_idx(a, i);

		*ok = json_object_is_type(s, json_type_string);
		v[i] = (char *)json_object_get_string(s);
	}
	*ret_n = n;
	return v;
}

static json_object *member(json_object *o, const char *key, json_type type)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type))
		return NULL;
	return v;
}

int planfile_load(const char *path, struct cli *cli, bool *ret_destroy, json_object **ret)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	json_object *doc, *fmt, *verb, *bpffs, *all, *paths, *targets;
	size_t npaths = 0, ntargets = 0;
	bool ok_paths, ok_targets;
	char **pv, **tv;

	*ret = NULL;
	if (fd < 0) {
		log_error("plan file '%s': %s", path, strerror(errno));
		return -errno;
	}
	doc = json_object_from_fd(fd);
	if (!doc) {
		const char *why = json_util_get_last_err();

		/* json-c's message ends with a newline. */
		log_error("plan file '%s': not a plan file (not JSON: %.*s)", path,
			  why ? (int)strcspn(why, "\n") : 10, why ? why : "unreadable");
		return -EINVAL;
	}
	fmt = member(doc, "format", json_type_string);
	if (!fmt || strncmp(json_object_get_string(fmt), "cnf-apply-plan/", 15) != 0) {
		log_error("plan file '%s': not a cnf-apply plan file (no \"format\": \"%s\")", path,
			  PLANFILE_FORMAT);
		json_object_put(doc);
		return -EINVAL;
	}
	if (!streq(json_object_get_string(fmt), PLANFILE_FORMAT)) {
		log_error("plan file '%s': format '%s', this version of cnf-apply reads '%s'; "
			  "plan again with this version", path, json_object_get_string(fmt),
			  PLANFILE_FORMAT);
		json_object_put(doc);
		return -EINVAL;
	}
	verb = member(doc, "verb", json_type_string);
	bpffs = member(doc, "bpffs", json_type_string);
	all = member(doc, "all", json_type_boolean);
	paths = member(doc, "paths", json_type_array);
	targets = member(doc, "targets", json_type_array);
	pv = strv_of(paths, &npaths, &ok_paths);
	tv = strv_of(targets, &ntargets, &ok_targets);
	if (!verb || !(streq(json_object_get_string(verb), "apply") ||
		       streq(json_object_get_string(verb), "destroy")) ||
	    !bpffs || json_object_get_string(bpffs)[0] != '/' || !all || !ok_paths || !ok_targets ||
	    !member(doc, "inputs", json_type_object) || !member(doc, "plan", json_type_object) ||
	    (!npaths && !json_object_get_boolean(all))) {
		log_error("plan file '%s': malformed (a member is missing or of the wrong type)", path);
		free(pv);
		free(tv);
		json_object_put(doc);
		return -EINVAL;
	}
	if (cli->bpffs_given && !streq(cli->bpffs, json_object_get_string(bpffs))) {
		log_error("plan file '%s' was made for the state root %s, not %s", path,
			  json_object_get_string(bpffs), cli->bpffs);
		free(pv);
		free(tv);
		json_object_put(doc);
		return -EINVAL;
	}
	cli->bpffs = json_object_get_string(bpffs);
	cli->paths = pv;
	cli->paths_count = npaths;
	cli->targets = tv;
	cli->targets_count = ntargets;
	cli->all = json_object_get_boolean(all);
	*ret_destroy = streq(json_object_get_string(verb), "destroy");
	*ret = doc;
	return 0;
}

/* ---- comparing ---- */

/* A value for a message: strings as they are (long digests cut). */
static void value_text(json_object *v, char *buf, size_t len)
{
	const char *s;

	if (!v) {
		snprintf(buf, len, "none");
		return;
	}
	if (json_object_is_type(v, json_type_string)) {
		s = json_object_get_string(v);
		snprintf(buf, len, strlen(s) > 40 ? "%.12s..." : "%s", s);
		return;
	}
	snprintf(buf, len, "%s", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
}

static bool same(json_object *a, json_object *b)
{
	return json_object_equal(a, b) != 0;
}

/* "field old -> new, ..." for the members of two entries that differ. */
static void fields_diff(json_object *old, json_object *now, char *buf, size_t len)
{
	size_t pos = 0;
	char a[64], b[64];

	buf[0] = '\0';
	if (!json_object_is_type(old, json_type_object) || !json_object_is_type(now, json_type_object)) {
		value_text(old, a, sizeof(a));
		value_text(now, b, sizeof(b));
		snprintf(buf, len, "%s -> %s", a, b);
		return;
	}
	json_object_object_foreach(old, key, val) {
		json_object *nv = NULL;

		json_object_object_get_ex(now, key, &nv);
		if (same(val, nv) || pos >= len)
			continue;
		value_text(val, a, sizeof(a));
		value_text(nv, b, sizeof(b));
		pos += (size_t)snprintf(buf + pos, len - pos, "%s%s %s -> %s", pos ? ", " : "", key,
					a, b);
	}
}

struct section {
	const char *name;        /* in "inputs" */
	const char *what;        /* for messages, with %s the key */
	bool show_file;          /* name the entry's "file" */
};

static const struct section sections[] = {
	{ "manifests", "manifest '%s'", true },
	{ "objects", "object '%s'", true },
	{ "instances", "attachment instance '%s'", false },
	{ "observed", "live state of '%s'", false },
	{ "hooks", "hook '%s'", false },
	{ "pruned", "manifest '%s' (to prune)", false },
};

static void msg_add(char ***v, size_t *n, size_t *cap, char *msg)
{
	if (!msg || grow_array((void **)v, cap, *n + 1, sizeof(char *)) < 0) {
		free(msg);
		return;
	}
	(*v)[(*n)++] = msg;
}

static char *label(const struct section *s, const char *key, json_object *entry)
{
	json_object *file = s->show_file ? member(entry, "file", json_type_string) : NULL;
	_cleanup_free_ char *what = NULL;

	/* The formats are the table's own. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	what = strprintf(s->what, key);
#pragma GCC diagnostic pop
	if (!what)
		return NULL;
	return file ? strprintf("%s (%s)", what, json_object_get_string(file)) : TAKE_PTR(what);
}

static void section_diff(const struct section *s, json_object *old, json_object *now,
			 char ***v, size_t *n, size_t *cap)
{
	char fields[512];

	json_object_object_foreach(old, key, val) {
		json_object *nv = NULL;
		_cleanup_free_ char *l = label(s, key, val);

		if (!json_object_object_get_ex(now, key, &nv)) {
			msg_add(v, n, cap, strprintf("%s is gone since the plan", l));
			continue;
		}
		if (same(val, nv))
			continue;
		fields_diff(val, nv, fields, sizeof(fields));
		msg_add(v, n, cap, strprintf("%s changed since the plan: %s", l, fields));
	}
	json_object_object_foreach(now, nkey, nval) {
		_cleanup_free_ char *l = NULL;

		if (json_object_object_get_ex(old, nkey, NULL))
			continue;
		l = label(s, nkey, nval);
		msg_add(v, n, cap, strprintf("%s is new since the plan", l));
	}
}

/* An action for messages: "create edge/fw p0". */
static void action_text(json_object *a, char *buf, size_t len)
{
	json_object *k = member(a, "action", json_type_string), *m = member(a, "manifest", json_type_string),
		    *t = member(a, "attachment", json_type_string), *x = member(a, "target", json_type_string);

	snprintf(buf, len, "%s %s/%s %s", k ? json_object_get_string(k) : "?",
		 m ? json_object_get_string(m) : "?", t ? json_object_get_string(t) : "?",
		 x ? json_object_get_string(x) : "?");
}

/* Actions compared without what they read from running programs' data
 * (a writable variable's live value moves on its own). */
static bool action_same(json_object *a, json_object *b)
{
	json_object *ca = NULL, *cb = NULL;
	bool eq;

	json_object_object_get_ex(a, "config_changes", &ca);
	json_object_object_get_ex(b, "config_changes", &cb);
	if (ca)
		json_object_get(ca);
	if (cb)
		json_object_get(cb);
	json_object_object_del(a, "config_changes");
	json_object_object_del(b, "config_changes");
	eq = same(a, b);
	if (ca)
		json_object_object_add(a, "config_changes", ca);
	if (cb)
		json_object_object_add(b, "config_changes", cb);
	return eq;
}

static void actions_diff(json_object *old, json_object *now, char ***v, size_t *n, size_t *cap)
{
	json_object *oa = member(member(old, "plan", json_type_object), "actions", json_type_array);
	json_object *na = member(member(now, "plan", json_type_object), "actions", json_type_array);
	json_object *om = member(member(old, "plan", json_type_object), "maps", json_type_array);
	json_object *nm = member(member(now, "plan", json_type_object), "maps", json_type_array);
	size_t no = oa ? json_object_array_length(oa) : 0, nn = na ? json_object_array_length(na) : 0;
	char a[256], b[256];

	for (size_t i = 0; i < no || i < nn; i++) {
		json_object *x = i < no ? json_object_array_get_idx(oa, i) : NULL;
		json_object *y = i < nn ? json_object_array_get_idx(na, i) : NULL;

		if (x && y && action_same(x, y))
			continue;
		if (x)
			action_text(x, a, sizeof(a));
		if (y)
			action_text(y, b, sizeof(b));
		msg_add(v, n, cap, strprintf("action %zu of the plan is %s%s%s, now it would be %s%s%s",
					     i + 1, x ? "'" : "", x ? a : "none", x ? "'" : "",
					     y ? "'" : "", y ? b : "none", y ? "'" : ""));
		return; /* the first one says enough */
	}
	if (!same(om, nm))
		msg_add(v, n, cap, strprintf("the plan of the maps differs"));
}

size_t planfile_diff(json_object *saved, json_object *now, char ***ret)
{
	json_object *si = member(saved, "inputs", json_type_object);
	json_object *ni = member(now, "inputs", json_type_object);
	char **v = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < ARRAY_SIZE(sections); i++) {
		json_object *a = member(si, sections[i].name, json_type_object);
		json_object *b = member(ni, sections[i].name, json_type_object);

		if (!a || !b) {
			if (a != b)
				msg_add(&v, &n, &cap, strprintf("the plan file has no '%s'",
								sections[i].name));
			continue;
		}
		section_diff(&sections[i], a, b, &v, &n, &cap);
	}
	/* The same inputs make the same actions; if not, say where. */
	if (!n)
		actions_diff(saved, now, &v, &n, &cap);
	*ret = v;
	return n;
}

int planfile_check(const struct run *r, json_object *saved, const char *path)
{
	json_object *now = planfile_build(r);
	char **msgs = NULL;
	size_t n = planfile_diff(saved, now, &msgs);

	json_object_put(now);
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		log_error("plan file '%s' no longer holds: %s", path, msgs[i]);
	log_error("plan file '%s': nothing was changed; make a new plan and review it", path);
	strv_free(msgs, n);
	return -ESTALE;
}

void planfile_failed(const struct cli *cli)
{
	if (cli->plan_doc)
		log_error("plan file '%s' cannot be carried out: planning again from its PATHs fails "
			  "now (see above); nothing was changed", cli->plan_file);
}
