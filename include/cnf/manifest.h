/* SPDX-License-Identifier: GPL-2.0-only */
/* The manifest model: what a YAML manifest declares, as loaded and checked. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CNF_API_VERSION "cnf-apply/v1"
#define CNF_NAME_MAX 63
#define CNF_MAXACTIVE_MAX 4096  /* kretprobe maxactive: the kernel's KRETPROBE_MAXACTIVE_MAX */

/* One `config:` entry of an object. Scalars keep their YAML text; a
 * sequence keeps its items' texts. The value is typed against the
 * object's BTF when the object is opened, not here. */
struct cnf_config_var {
	char *name;
	char *value;       /* scalar text, NULL for a sequence */
	bool quoted;       /* scalar was quoted (or a | > block) in YAML: a string, never a number */
	char **items;      /* sequence items' texts */
	size_t items_count;
	int line;
};

/* One item of a map's `entries:`: key and value as written (their
 * `name` is "key" and "value", their `line` where each is written), typed
 * against the map's BTF and sizes when the object is opened. */
struct cnf_map_entry {
	struct cnf_config_var key;
	struct cnf_config_var value;
	int line;
};

struct cnf_map_opt {
	char *name;
	char *pin;         /* path under the bpffs root, NULL if not pinned */
	char *on_incompatible; /* "refuse" (NULL: the default) or "recreate" */
	/* `entries:`, read from the libyaml document (not libcyaml) */
	struct cnf_map_entry *entries;
	size_t entries_count;
	int line;
};

struct cnf_prog_opt {
	char *name;
	char *type;        /* libbpf section-style type, e.g. "xdp", "tc" */
	int line;
};

struct cnf_object {
	char *name;
	char *file;        /* as written in the manifest */
	char *path;        /* resolved against the manifest's directory */
	struct cnf_config_var *config;
	size_t config_count;
	struct cnf_map_opt *maps;
	size_t maps_count;
	struct cnf_prog_opt *programs;
	size_t programs_count;
	int line;          /* line of the sequence entry */
};

/* Every key any hook family accepts. Pointers are NULL when absent. */
struct cnf_attachment {
	char *name;
	char *program;     /* "<object>/<program>" */
	char *hook;
	/* network hooks */
	char *interface;   /* name or glob */
	char **interfaces;
	size_t interfaces_count;
	char *netns;       /* /run/netns/NAME or any nsfs path */
	char *mode;        /* xdp */
	char *direction;   /* tcx, tc */
	char *order;       /* tcx, netkit: first | last */
	char *before;      /* tcx, netkit: attachment name */
	char *after;
	int64_t *priority; /* tc, netfilter */
	int64_t *handle;   /* tc */
	char *side;        /* netkit */
	/* cgroup */
	char *cgroup;
	char *attach_type;
	/* tracing */
	char *tracepoint;
	char *function;
	char **functions;
	size_t functions_count;
	char *binary;
	char *symbol;
	int64_t *offset;
	int64_t *pid;
	int64_t *maxactive; /* kretprobe: return probe instances (tracefs kprobe event) */
	/* netfilter */
	char *family;
	char *netfilter_hook;
	/* struct_ops */
	char *map;

	/* Filled by the loader. */
	int line;                     /* line of the sequence entry */
	struct cnf_object *object;    /* the object `program` (struct_ops: `map`) names */
	const char *prog_name;        /* the part after '/', inside `program`; NULL for struct_ops */
};

/* ---- what a hook family's row says about its manifest keys ----
 * Each row of the hook table (hooks.h) carries a struct hook_keys: the
 * attachment keys the family takes and needs, the values they take, and
 * what else it checks. The manifest loader checks attachments by it. */
enum akey {
	AK_PROGRAM, AK_MAP, AK_INTERFACE, AK_INTERFACES, AK_NETNS, AK_MODE,
	AK_DIRECTION, AK_ORDER, AK_BEFORE, AK_AFTER, AK_PRIORITY, AK_HANDLE,
	AK_SIDE, AK_CGROUP, AK_ATTACH_TYPE, AK_TRACEPOINT, AK_FUNCTION,
	AK_FUNCTIONS, AK_BINARY, AK_SYMBOL, AK_OFFSET, AK_PID, AK_FAMILY,
	AK_NETFILTER_HOOK, AK_MAXACTIVE,
	AK__COUNT
};
#define AK_BIT(k) (1u << (k))
#define AK_NETDEV (AK_BIT(AK_INTERFACE) | AK_BIT(AK_INTERFACES) | AK_BIT(AK_NETNS))
#define AK_ORDERING (AK_BIT(AK_ORDER) | AK_BIT(AK_BEFORE) | AK_BIT(AK_AFTER))

/* The key's name in a manifest ("interface"). */
const char *akey_name(enum akey k);

/* One key's values: a word of `words` (NULL-terminated), or, without
 * words, an integer in [min, max]. */
struct hook_key_rule {
	enum akey key;
	const char *const *words;
	int64_t min, max;
};

/* Reports a problem of an attachment at `key` (NULL: the entry). */
typedef void (*hook_key_err_fn)(void *ctx, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct hook_keys {
	uint32_t keys;                       /* AK_BIT()s the family takes */
	uint32_t required;                   /* and those it needs */
	const struct hook_key_rule *rules;   /* ended by { AK__COUNT } */
	/* What the table cannot say (a format, keys that need each other);
	 * `present` are the keys the entry has. */
	void (*check)(const struct cnf_attachment *a, uint32_t present, hook_key_err_fn err,
		      void *ctx);
};

/* The keys of the hook family `name`, NULL when there is none (hooks.c). */
const struct hook_keys *hook_keys_of(const char *name);
/* The families' names, table order, NULL-terminated (static storage). */
const char *const *hook_family_names(void);

struct cnf_manifest {
	char *path;        /* file as given/found */
	char *dir;         /* its directory, for relative object paths */
	char *api_version;
	char *name;
	struct cnf_object *objects;
	size_t objects_count;
	struct cnf_attachment *attachments;
	size_t attachments_count;
	void *pos;         /* private: key positions for diagnostics */
	/* Where it was loaded from, for pruning (set by manifest_set_load):
	 * the PATH argument, absolute (a directory canonical, a file's
	 * directory canonical and its name as given), and the file so. */
	char *source;
	char *source_file;
};

struct cnf_manifest_set {
	struct cnf_manifest **manifests;
	size_t count;
	bool from_dirs;    /* every PATH was a directory: the set is complete */
};

/* Load and check manifests from files or directories (`*.yaml`, `*.yml`,
 * sorted by name). Every problem is logged as
 * "FILE:LINE: <entry kind> '<name>': message" through log_error(); on any
 * problem nothing is returned and the result is -EINVAL (or -ENOMEM).
 * Checks done here are those that need neither objects nor the kernel:
 * schema, names, references between entries, hook keys, anchors. */
int manifest_set_load(char *const *paths, size_t paths_count,
		      struct cnf_manifest_set **ret);
void manifest_set_free(struct cnf_manifest_set *set);
/* A directory without manifests is an error (a wrong path, most likely),
 * unless allowed: watch takes it as "nothing is desired any more". */
void manifest_set_allow_empty_dirs(bool allow);

/* Line of `key` inside attachment/object `idx` of `m`, or the entry's line
 * when the key is absent; 0 when unknown. */
int manifest_attachment_line(const struct cnf_manifest *m, size_t idx, const char *key);
int manifest_object_line(const struct cnf_manifest *m, size_t idx, const char *key);

/* Loads a single buffer (used by unit tests and the fuzzer); `path` is only
 * used in messages and to resolve relative object paths. */
int manifest_load_buffer(const char *path, const char *buf, size_t len,
			 struct cnf_manifest **ret);
void manifest_free(struct cnf_manifest *m);

bool cnf_name_valid(const char *name);          /* manifest names */
bool cnf_entry_name_valid(const char *name);    /* object/attachment names */
