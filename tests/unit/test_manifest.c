// SPDX-License-Identifier: GPL-2.0-only
/* The manifest loader: schema, positions, checks and directory loading. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cnf/log.h"
#include "cnf/manifest.h"
#include "cnf/util.h"
#include "testlib.h"

/* Buffers are loaded under this name; its directory does not exist, so
 * relative object files resolve against "m" as written. */
#define P "m/edge.yaml"

static struct cnf_manifest *load(const char *yaml, int *ret)
{
	struct cnf_manifest *m = NULL;
	int r;

	log_reset();
	log_set_quiet(true);
	r = manifest_load_buffer(P, yaml, strlen(yaml), &m);
	if (ret)
		*ret = r;
	return m;
}

static bool has_error(const char *msg)
{
	for (unsigned i = 0; i < log_error_count(); i++)
		if (streq(log_error_at(i), msg))
			return true;
	return false;
}

static void dump_errors(void)
{
	for (unsigned i = 0; i < log_error_count(); i++)
		fprintf(stderr, "    got: %s\n", log_error_at(i));
}

/* Loading must fail with exactly this one message. */
#define CHECK_ONE_ERROR(yaml, msg)                                             \
	do {                                                                   \
		int _r;                                                        \
		struct cnf_manifest *_m = load((yaml), &_r);                   \
		CHECK(_m == NULL);                                             \
		CHECK_INT(_r, -EINVAL);                                        \
		CHECK_INT(log_error_count(), 1);                               \
		CHECK_STR(log_error_at(0), (msg));                             \
		if (log_error_count() != 1)                                    \
			dump_errors();                                         \
		manifest_free(_m);                                             \
	} while (0)

/* Loading must fail and report this message among others. */
#define CHECK_HAS_ERROR(msg)                                                   \
	do {                                                                   \
		if (!has_error(msg)) {                                         \
			fprintf(stderr, "  %s:%d: missing error: %s\n",        \
				__FILE__, __LINE__, (msg));                    \
			dump_errors();                                         \
			unit_failed_checks++;                                  \
		}                                                              \
	} while (0)

#define HEAD "apiVersion: cnf-apply/v1\nname: edge\n"
/* Lines 3-5: one object "fw". Attachments start on line 6. */
#define OBJ "objects:\n  - name: fw\n    file: fw.o\n"

static const char valid_yaml[] =
	"apiVersion: cnf-apply/v1\n"                    /* 1 */
	"name: edge\n"                                  /* 2 */
	"objects:\n"                                    /* 3 */
	"  - name: fw\n"                                /* 4 */
	"    file: objs/xdp_fw.bpf.o\n"                 /* 5 */
	"    config:\n"                                 /* 6 */
	"      sample_rate: 100\n"                      /* 7 */
	"      verbose: true\n"                         /* 8 */
	"      label: \"100\"\n"                        /* 9 */
	"      tag: 'edge'\n"                           /* 10 */
	"      ports: [80, \"443\"]\n"                  /* 11 */
	"    maps:\n"                                   /* 12 */
	"      - name: blocklist\n"                     /* 13 */
	"        pin: shared/blocklist\n"               /* 14 */
	"      - name: stats\n"                         /* 15 */
	"    programs:\n"                               /* 16 */
	"      - name: xdp_fw\n"                        /* 17 */
	"        type: xdp\n"                           /* 18 */
	"  - name: tc\n"                                /* 19 */
	"    file: /opt/bpf/tc.o\n"                     /* 20 */
	"attachments:\n"                                /* 21 */
	"  - name: fw-eth0\n"                           /* 22 */
	"    program: fw/xdp_fw\n"                      /* 23 */
	"    hook: xdp\n"                               /* 24 */
	"    interface: eth0\n"                         /* 25 */
	"    mode: native\n"                            /* 26 */
	"  - name: count-in\n"                          /* 27 */
	"    program: tc/tc_count\n"                    /* 28 */
	"    hook: tcx\n"                               /* 29 */
	"    interfaces: [veth*, eth1]\n"               /* 30 */
	"    netns: /run/netns/blue\n"                  /* 31 */
	"    direction: ingress\n"                      /* 32 */
	"    before: count-late\n"                      /* 33 */
	"  - name: count-late\n"                        /* 34 */
	"    program: tc/tc_count\n"                    /* 35 */
	"    hook: tcx\n"                               /* 36 */
	"    interface: eth1\n"                         /* 37 */
	"    direction: egress\n"                       /* 38 */
	"    order: last\n"                             /* 39 */
	"  - name: legacy\n"                            /* 40 */
	"    program: tc/tc_count\n"                    /* 41 */
	"    hook: tc\n"                                /* 42 */
	"    interface: eth2\n"                         /* 43 */
	"    direction: egress\n"                       /* 44 */
	"    priority: 7\n"                             /* 45 */
	"    handle: 0x10\n"                            /* 46 */
	"  - name: up\n"                                /* 47 */
	"    program: fw/up\n"                          /* 48 */
	"    hook: uprobe\n"                            /* 49 */
	"    binary: /usr/bin/true\n"                   /* 50 */
	"    symbol: main\n"                            /* 51 */
	"    offset: 4\n"                               /* 52 */
	"    pid: 1\n"                                  /* 53 */
	"  - name: nf\n"                                /* 54 */
	"    program: fw/nf\n"                          /* 55 */
	"    hook: netfilter\n"                         /* 56 */
	"    family: ipv4\n"                            /* 57 */
	"    netfilter_hook: local_in\n"                /* 58 */
	"    priority: -100\n"                          /* 59 */
	"  - name: multi\n"                             /* 60 */
	"    program: fw/km\n"                          /* 61 */
	"    hook: kprobe_multi\n"                      /* 62 */
	"    functions: [vfs_read, \"tcp_*\"]\n"        /* 63 */
	"  - name: cg\n"                                /* 64 */
	"    program: fw/cg\n"                          /* 65 */
	"    hook: cgroup\n"                            /* 66 */
	"    cgroup: system.slice/app\n"                /* 67 */
	"    attach_type: ingress\n"                    /* 68 */
	"  - name: tp\n"                                /* 69 */
	"    program: fw/tp\n"                          /* 70 */
	"    hook: tracepoint\n"                        /* 71 */
	"    tracepoint: syscalls/sys_enter_openat\n"   /* 72 */
	"  - name: ops\n"                               /* 73 */
	"    map: tc/tcp_ops\n"                         /* 74 */
	"    hook: struct_ops\n";                       /* 75 */

TEST(test_valid_manifest)
{
	int r;
	struct cnf_manifest *m = load(valid_yaml, &r);
	struct cnf_object *fw, *tc;
	struct cnf_attachment *a;

	CHECK_INT(r, 0);
	CHECK_INT(log_error_count(), 0);
	dump_errors();
	CHECK(m != NULL);
	if (!m)
		return;
	CHECK_STR(m->path, P);
	CHECK_STR(m->dir, "m");
	CHECK_STR(m->api_version, "cnf-apply/v1");
	CHECK_STR(m->name, "edge");
	CHECK_INT(m->objects_count, 2);
	CHECK_INT(m->attachments_count, 10);

	fw = &m->objects[0];
	tc = &m->objects[1];
	CHECK_STR(fw->name, "fw");
	CHECK_STR(fw->file, "objs/xdp_fw.bpf.o");
	CHECK_STR(fw->path, "m/objs/xdp_fw.bpf.o");
	CHECK_INT(fw->line, 4);
	CHECK_STR(tc->path, "/opt/bpf/tc.o");
	CHECK_INT(tc->line, 19);
	CHECK_INT(tc->config_count, 0);
	CHECK_INT(tc->maps_count, 0);

	CHECK_INT(fw->config_count, 5);
	CHECK_STR(fw->config[0].name, "sample_rate");
	CHECK_STR(fw->config[0].value, "100");
	CHECK(!fw->config[0].quoted);
	CHECK_INT(fw->config[0].line, 7);
	CHECK_STR(fw->config[1].value, "true");
	CHECK(!fw->config[1].quoted);
	CHECK_STR(fw->config[2].name, "label");
	CHECK_STR(fw->config[2].value, "100");
	CHECK(fw->config[2].quoted);
	CHECK_STR(fw->config[3].value, "edge");
	CHECK(fw->config[3].quoted);
	CHECK_STR(fw->config[4].name, "ports");
	CHECK(fw->config[4].value == NULL);
	CHECK_INT(fw->config[4].items_count, 2);
	CHECK_STR(fw->config[4].items[0], "80");
	CHECK_STR(fw->config[4].items[1], "443");
	CHECK_INT(fw->config[4].line, 11);

	CHECK_INT(fw->maps_count, 2);
	CHECK_STR(fw->maps[0].name, "blocklist");
	CHECK_STR(fw->maps[0].pin, "shared/blocklist");
	CHECK_INT(fw->maps[0].line, 13);
	CHECK_STR(fw->maps[1].name, "stats");
	CHECK(fw->maps[1].pin == NULL);
	CHECK_INT(fw->maps[1].line, 15);
	CHECK_INT(fw->programs_count, 1);
	CHECK_STR(fw->programs[0].name, "xdp_fw");
	CHECK_STR(fw->programs[0].type, "xdp");
	CHECK_INT(fw->programs[0].line, 17);

	a = &m->attachments[0];
	CHECK_STR(a->name, "fw-eth0");
	CHECK_STR(a->hook, "xdp");
	CHECK_STR(a->interface, "eth0");
	CHECK_STR(a->mode, "native");
	CHECK(a->object == fw);
	CHECK_STR(a->prog_name, "xdp_fw");
	CHECK(a->prog_name == a->program + 3);
	CHECK_INT(a->line, 22);
	CHECK(a->priority == NULL && a->handle == NULL && a->netns == NULL);
	CHECK(a->interfaces == NULL && a->interfaces_count == 0);

	a = &m->attachments[1];
	CHECK_STR(a->name, "count-in");
	CHECK(a->object == tc);
	CHECK_STR(a->prog_name, "tc_count");
	CHECK(a->interface == NULL);
	CHECK_INT(a->interfaces_count, 2);
	CHECK_STR(a->interfaces[0], "veth*");
	CHECK_STR(a->interfaces[1], "eth1");
	CHECK_STR(a->netns, "/run/netns/blue");
	CHECK_STR(a->direction, "ingress");
	CHECK_STR(a->before, "count-late");
	CHECK(a->after == NULL && a->order == NULL);
	CHECK_INT(a->line, 27);

	a = &m->attachments[2];
	CHECK_STR(a->order, "last");
	CHECK_STR(a->direction, "egress");

	a = &m->attachments[3];
	CHECK(a->priority && *a->priority == 7);
	CHECK(a->handle && *a->handle == 16);

	a = &m->attachments[4];
	CHECK_STR(a->binary, "/usr/bin/true");
	CHECK_STR(a->symbol, "main");
	CHECK(a->offset && *a->offset == 4);
	CHECK(a->pid && *a->pid == 1);

	a = &m->attachments[5];
	CHECK_STR(a->family, "ipv4");
	CHECK_STR(a->netfilter_hook, "local_in");
	CHECK(a->priority && *a->priority == -100);

	a = &m->attachments[6];
	CHECK_INT(a->functions_count, 2);
	CHECK_STR(a->functions[0], "vfs_read");
	CHECK_STR(a->functions[1], "tcp_*");

	a = &m->attachments[7];
	CHECK_STR(a->cgroup, "system.slice/app");
	CHECK_STR(a->attach_type, "ingress");

	a = &m->attachments[8];
	CHECK_STR(a->tracepoint, "syscalls/sys_enter_openat");

	a = &m->attachments[9];
	CHECK(a->program == NULL);
	CHECK_STR(a->map, "tc/tcp_ops");
	CHECK(a->object == tc);
	CHECK(a->prog_name == NULL);
	CHECK_INT(a->line, 73);

	/* Key positions, and the entry's line for absent keys. */
	CHECK_INT(manifest_attachment_line(m, 0, "mode"), 26);
	CHECK_INT(manifest_attachment_line(m, 0, "hook"), 24);
	CHECK_INT(manifest_attachment_line(m, 0, "direction"), 22);
	CHECK_INT(manifest_attachment_line(m, 0, NULL), 22);
	CHECK_INT(manifest_attachment_line(m, 3, "handle"), 46);
	CHECK_INT(manifest_attachment_line(m, 10, "hook"), 0);
	CHECK_INT(manifest_object_line(m, 0, "config"), 6);
	CHECK_INT(manifest_object_line(m, 1, "file"), 20);
	CHECK_INT(manifest_object_line(m, 1, "maps"), 19);
	CHECK_INT(manifest_object_line(m, 2, "file"), 0);
	CHECK_INT(manifest_object_line(NULL, 0, "file"), 0);

	manifest_free(m);
	manifest_free(NULL);
}

TEST(test_object_path_from_real_dir)
{
	char tmpl[] = "/tmp/cnf-manifest-XXXXXX";
	char *dir = mkdtemp(tmpl);
	_cleanup_free_ char *path = NULL, *rel = NULL, *expect = NULL;
	struct cnf_manifest *m = NULL;
	const char *yaml = HEAD OBJ "attachments: []\n";

	CHECK(dir != NULL);
	if (!dir)
		return;
	path = strprintf("%s/edge.yaml", dir);
	log_reset();
	CHECK_INT(manifest_load_buffer(path, yaml, strlen(yaml), &m), 0);
	CHECK(m != NULL);
	if (m) {
		expect = strprintf("%s/fw.o", dir);
		CHECK_STR(m->dir, dir);
		CHECK_STR(m->objects[0].path, expect);
		CHECK_INT(m->attachments_count, 0);
		manifest_free(m);
	}
	/* Through a relative path with "..": the directory is made absolute. */
	rel = strprintf("%s/../%s/edge.yaml", dir, strrchr(dir, '/') + 1);
	CHECK_INT(manifest_load_buffer(rel, yaml, strlen(yaml), &m), 0);
	if (m) {
		CHECK_STR(m->dir, dir);
		CHECK_STR(m->path, rel);
		manifest_free(m);
	}
	rmdir(dir);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	_cleanup_free_ char *p = strprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "w");

	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
}

static void remove_tree(const char *dir)
{
	_cleanup_free_ char *cmd = strprintf("rm -rf '%s'", dir);

	CHECK_INT(system(cmd), 0);
}

#define MANIFEST_NAMED(n) "apiVersion: cnf-apply/v1\nname: " n "\n" OBJ "attachments: []\n"

TEST(test_directory_loading)
{
	char tmpl[] = "/tmp/cnf-manifest-XXXXXX";
	char *dir = mkdtemp(tmpl);
	_cleanup_free_ char *sub = NULL, *empty = NULL, *file_b = NULL, *missing = NULL;
	_cleanup_free_ char *msg = NULL;
	struct cnf_manifest_set *set = NULL;

	CHECK(dir != NULL);
	if (!dir)
		return;
	write_file(dir, "b.yaml", MANIFEST_NAMED("bravo"));
	write_file(dir, "a.yml", MANIFEST_NAMED("alpha"));
	write_file(dir, "c.yaml", MANIFEST_NAMED("charlie"));
	write_file(dir, ".hidden.yaml", "this: [is not loaded\n");
	write_file(dir, "notes.txt", "not yaml\n");
	write_file(dir, "d.yaml.bak", "not: loaded\n");
	sub = strprintf("%s/sub.yaml", dir);
	CHECK_INT(mkdir(sub, 0700), 0);       /* a directory is not a manifest */
	write_file(sub, "z.yaml", MANIFEST_NAMED("zulu"));

	log_reset();
	log_set_quiet(true);
	{
		char *paths[] = { dir };

		CHECK_INT(manifest_set_load(paths, 1, &set), 0);
	}
	CHECK(set != NULL);
	if (set) {
		CHECK_INT(set->count, 3);
		CHECK(set->from_dirs);
		if (set->count == 3) {
			CHECK_STR(set->manifests[0]->name, "alpha");
			CHECK_STR(set->manifests[1]->name, "bravo");
			CHECK_STR(set->manifests[2]->name, "charlie");
			msg = strprintf("%s/a.yml", dir);
			CHECK_STR(set->manifests[0]->path, msg);
			CHECK_STR(set->manifests[0]->dir, dir);
		}
		manifest_set_free(set);
		set = NULL;
	}

	/* A file among the paths: the set is not known to be complete. */
	file_b = strprintf("%s/b.yaml", dir);
	{
		char *paths[] = { sub, file_b };

		CHECK_INT(manifest_set_load(paths, 2, &set), 0);
		if (set) {
			CHECK_INT(set->count, 2);
			CHECK(!set->from_dirs);
			CHECK_STR(set->manifests[0]->name, "zulu");
			CHECK_STR(set->manifests[1]->name, "bravo");
			manifest_set_free(set);
			set = NULL;
		}
	}

	/* A missing path is named. */
	missing = strprintf("%s/nope", dir);
	log_reset();
	{
		char *paths[] = { dir, missing };

		CHECK_INT(manifest_set_load(paths, 2, &set), -EINVAL);
		CHECK(set == NULL);
		CHECK_INT(log_error_count(), 1);
		free(msg);
		msg = strprintf("%s: No such file or directory", missing);
		CHECK_STR(log_error_at(0), msg);
	}

	/* A directory without manifests. */
	empty = strprintf("%s/empty", dir);
	CHECK_INT(mkdir(empty, 0700), 0);
	write_file(empty, "README", "nothing here\n");
	log_reset();
	{
		char *paths[] = { empty };

		CHECK_INT(manifest_set_load(paths, 1, &set), -EINVAL);
		CHECK(set == NULL);
		free(msg);
		msg = strprintf("no manifests in %s", empty);
		CHECK_INT(log_error_count(), 1);
		CHECK_STR(log_error_at(0), msg);
	}

	/* An error in one file is reported; the other files still load and
	 * are checked, but nothing is returned. */
	write_file(dir, "b.yaml", HEAD OBJ);
	log_reset();
	{
		char *paths[] = { dir };

		CHECK_INT(manifest_set_load(paths, 1, &set), -EINVAL);
		CHECK(set == NULL);
		free(msg);
		msg = strprintf("manifest (%s/b.yaml:1): missing required key 'attachments' "
				"(an empty list 'attachments: []' removes everything this manifest owns)",
				dir);
		CHECK_INT(log_error_count(), 1);
		CHECK_STR(log_error_at(0), msg);
	}
	remove_tree(dir);
}

TEST(test_duplicate_manifest_names)
{
	char tmpl[] = "/tmp/cnf-manifest-XXXXXX";
	char *dir = mkdtemp(tmpl);
	_cleanup_free_ char *msg = NULL;
	struct cnf_manifest_set *set = NULL;
	char *paths[1];

	CHECK(dir != NULL);
	if (!dir)
		return;
	paths[0] = dir;
	write_file(dir, "10-edge.yaml", MANIFEST_NAMED("edge"));
	write_file(dir, "20-more.yaml", "# the same name again\n" MANIFEST_NAMED("edge"));
	log_reset();
	log_set_quiet(true);
	CHECK_INT(manifest_set_load(paths, 1, &set), -EINVAL);
	CHECK(set == NULL);
	msg = strprintf("manifest 'edge' (%s/20-more.yaml:3): name already used by "
			"%s/10-edge.yaml:2", dir, dir);
	CHECK_INT(log_error_count(), 1);
	CHECK_STR(log_error_at(0), msg);
	remove_tree(dir);
}

TEST(test_file_size_limit)
{
	char tmpl[] = "/tmp/cnf-manifest-XXXXXX";
	char *dir = mkdtemp(tmpl);
	_cleanup_free_ char *path = NULL, *msg = NULL, *big = NULL;
	struct cnf_manifest_set *set = NULL;
	size_t n = (1u << 20) + 1;
	int fd;

	CHECK(dir != NULL);
	if (!dir)
		return;
	path = strprintf("%s/big.yaml", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK_INT(ftruncate(fd, (off_t)n), 0);
	close(fd);
	log_reset();
	log_set_quiet(true);
	{
		char *paths[] = { path };

		CHECK_INT(manifest_set_load(paths, 1, &set), -EINVAL);
	}
	msg = strprintf("%s: file is larger than 1 MiB (1048577 bytes)", path);
	CHECK_INT(log_error_count(), 1);
	CHECK_STR(log_error_at(0), msg);

	/* The same limit for buffers. */
	big = xcalloc(1, n + 1);
	memset(big, '#', n);
	log_reset();
	{
		struct cnf_manifest *m = NULL;

		CHECK_INT(manifest_load_buffer(P, big, n, &m), -EINVAL);
		CHECK(m == NULL);
		CHECK_STR(log_error_at(0), P ": file is larger than 1 MiB (1048577 bytes)");
	}
	remove_tree(dir);
}

TEST(test_syntax_errors)
{
	CHECK_ONE_ERROR(HEAD "objects:\n  - name: fw\n   file: x\n",
			P ":5:4: YAML syntax error: did not find expected '-' indicator "
			"(while parsing a block collection started at line 4)");
	CHECK_ONE_ERROR(HEAD "objects: [a, b\nattachments: []\n",
			P ":4:12: YAML syntax error: did not find expected ',' or ']' "
			"(while parsing a flow sequence started at line 3)");
	CHECK_ONE_ERROR(HEAD "objects: *nothing\n",
			P ":3:10: YAML syntax error: found undefined alias; a value starting with '*' "
			"is a YAML alias: write a glob in quotes: \"*nothing\"");
	CHECK_ONE_ERROR(HEAD "objects: [*.o]\n",
			P ":3:12: YAML syntax error: did not find expected alphabetic or numeric "
			"character (while scanning an alias started at line 3); a value starting "
			"with '*' is a YAML alias: write a glob in quotes: \"*.o\"");
	CHECK_ONE_ERROR(HEAD "\tobjects: []\n",
			P ":3:1: YAML syntax error: found a tab character that violates indentation "
			"(while scanning a plain scalar started at line 2)");
	CHECK_ONE_ERROR("", P ":1: manifest is empty");
	CHECK_ONE_ERROR("# only a comment\n", P ":1: manifest is empty");
	CHECK_ONE_ERROR(HEAD "---\nname: other\n", P ":3: more than one YAML document in one file");
	CHECK_ONE_ERROR(HEAD OBJ "attachments: []\n---\n",
			P ":7: more than one YAML document in one file");
}

TEST(test_unknown_keys)
{
	CHECK_ONE_ERROR(HEAD "colour: blue\n" OBJ "attachments: []\n",
			"manifest (" P ":3): unknown key 'colour'");
	CHECK_ONE_ERROR(HEAD "objects:\n  - name: fw\n    file: fw.o\n    flie: x\nattachments: []\n",
			"object 'fw' (" P ":6): unknown key 'flie'; did you mean 'file'?");
	CHECK_ONE_ERROR(HEAD OBJ
			"attachments:\n"
			"  - name: a\n"
			"    program: fw/p\n"
			"    hook: xdp\n"
			"    interface: eth0\n"
			"  - hook: xdp\n"
			"    program: fw/p\n"
			"    foo: 1\n"
			"    name: count-in\n",
			"attachment 'count-in' (" P ":13): unknown key 'foo'");
	/* No name yet: the entry is numbered. */
	CHECK_ONE_ERROR(HEAD OBJ "attachments:\n  - hook: xdp\n    bar: 1\n",
			"attachment #1 (" P ":8): unknown key 'bar'");
	CHECK_ONE_ERROR(HEAD "objects:\n  - name: fw\n    file: fw.o\n    maps:\n"
			"      - name: m1\n        pinned: true\nattachments: []\n",
			"object 'fw': map 'm1' (" P ":8): unknown key 'pinned'");
	CHECK_ONE_ERROR(HEAD "objects:\n  - name: fw\n    file: fw.o\n    programs:\n"
			"      - name: p\n      - name: q\n        typ: xdp\nattachments: []\n",
			"object 'fw': program 'q' (" P ":9): unknown key 'typ'; did you mean 'type'?");
}

TEST(test_duplicate_keys)
{
	CHECK_ONE_ERROR(HEAD OBJ
			"attachments:\n"
			"  - name: count-in\n"
			"    hook: tcx\n"
			"    program: fw/p\n"
			"    hook: xdp\n",
			"attachment 'count-in' (" P ":10): duplicate key 'hook' (first at line 8)");
	CHECK_ONE_ERROR(HEAD "name: again\n" OBJ "attachments: []\n",
			"manifest (" P ":3): duplicate key 'name' (first at line 2)");
	/* `config` is read apart from the typed schema; still one per object. */
	CHECK_ONE_ERROR(HEAD "objects:\n  - name: fw\n    file: fw.o\n"
			"    config: {a: 1}\n    config: {b: 2}\nattachments: []\n",
			"object 'fw' (" P ":7): duplicate key 'config' (first at line 6)");
}

TEST(test_wrong_types)
{
	CHECK_ONE_ERROR(HEAD OBJ
			"attachments:\n"
			"  - name: legacy\n"
			"    program: fw/p\n"
			"    hook: tc\n"
			"    direction: ingress\n"
			"    priority: high\n",
			"attachment 'legacy' (" P ":11): key 'priority': expected an integer, got 'high'");
	CHECK_ONE_ERROR(HEAD OBJ
			"attachments:\n"
			"  - name: fw-eth0\n"
			"    program: fw/p\n"
			"    hook: xdp\n"
			"    interface: [eth0, eth1]\n",
			"attachment 'fw-eth0' (" P ":10): key 'interface': expected a string, got a list");
	CHECK_ONE_ERROR(HEAD OBJ "attachments: none\n",
			"manifest (" P ":6): key 'attachments': expected a list, got 'none'");
	CHECK_ONE_ERROR(HEAD OBJ "attachments:\n",
			"manifest (" P ":6): key 'attachments': expected a list, got nothing");
	CHECK_ONE_ERROR(HEAD OBJ "attachments:\n  - just-a-name\n",
			"attachment #1 (" P ":7): expected a mapping, got 'just-a-name'");
	CHECK_ONE_ERROR(HEAD OBJ
			"attachments:\n"
			"  - name: a\n"
			"    program: fw/p\n"
			"    hook: xdp\n"
			"    interfaces:\n"
			"      - eth0\n"
			"      - {name: eth1}\n",
			"attachment 'a' (" P ":12): key 'interfaces': entry 2: expected a string, got a mapping");
	CHECK_ONE_ERROR("- apiVersion: cnf-apply/v1\n",
			"manifest (" P ":1): expected a mapping, got a list");
	CHECK_ONE_ERROR(HEAD "objects:\n  - name: fw\n    file: fw.o\n    config: [1, 2]\n"
			"attachments: []\n",
			"object 'fw' (" P ":6): key 'config': expected a mapping of variable names to "
			"values, got a list");
}

TEST(test_missing_required)
{
	int r;
	struct cnf_manifest *m = load("objects: []\n", &r);

	CHECK(m == NULL);
	CHECK_INT(r, -EINVAL);
	CHECK_INT(log_error_count(), 4);
	CHECK_HAS_ERROR("manifest (" P ":1): missing required key 'apiVersion' (use 'cnf-apply/v1')");
	CHECK_HAS_ERROR("manifest (" P ":1): missing required key 'name'");
	CHECK_HAS_ERROR("manifest (" P ":1): key 'objects' must list at least one object");
	CHECK_HAS_ERROR("manifest (" P ":1): missing required key 'attachments' (an empty list "
			"'attachments: []' removes everything this manifest owns)");

	CHECK_ONE_ERROR(HEAD "attachments: []\n", "manifest (" P ":1): missing required key 'objects'");
	CHECK_ONE_ERROR("apiVersion: cnf-apply/v2\nname: edge\n" OBJ "attachments: []\n",
			"manifest (" P ":1): unsupported apiVersion 'cnf-apply/v2' (expected 'cnf-apply/v1')");

	m = load(HEAD "objects:\n  - file: a.o\n  - name: b\n  - name: c\n    file: ''\n"
		 "attachments: []\n", &r);
	CHECK(m == NULL);
	CHECK_INT(log_error_count(), 3);
	CHECK_HAS_ERROR("object #1 (" P ":4): missing required key 'name'");
	CHECK_HAS_ERROR("object 'b' (" P ":5): missing required key 'file'");
	CHECK_HAS_ERROR("object 'c' (" P ":7): key 'file' must not be empty");

	m = load(HEAD OBJ
		 "attachments:\n"                  /* 6 */
		 "  - program: fw/p\n"             /* 7 */
		 "    hook: xdp\n"                 /* 8 */
		 "    interface: eth0\n"           /* 9 */
		 "  - name: b\n"                   /* 10 */
		 "    program: fw/p\n"             /* 11 */
		 "  - name: c\n"                   /* 12 */
		 "    hook: xdp\n"                 /* 13 */
		 "    interface: eth0\n"           /* 14 */
		 "  - name: d\n"                   /* 15 */
		 "    program: fw/p\n"             /* 16 */
		 "    hook: tcx\n"                 /* 17 */
		 "    interface: eth0\n"           /* 18 */
		 "  - name: e\n"                   /* 19 */
		 "    program: fw/p\n"             /* 20 */
		 "    hook: xdp\n"                 /* 21 */
		 "  - name: f\n"                   /* 22 */
		 "    program: fw/p\n"             /* 23 */
		 "    hook: cgroup\n"              /* 24 */
		 "  - name: g\n"                   /* 25 */
		 "    program: fw/p\n"             /* 26 */
		 "    hook: uprobe\n"              /* 27 */
		 "    symbol: main\n"              /* 28 */
		 "  - name: h\n"                   /* 29 */
		 "    program: fw/p\n"             /* 30 */
		 "    hook: netfilter\n"           /* 31 */
		 "    family: ipv6\n"              /* 32 */
		 "  - name: i\n"                   /* 33 */
		 "    hook: struct_ops\n",         /* 34 */
		 &r);
	CHECK(m == NULL);
	CHECK_HAS_ERROR("attachment #1 (" P ":7): missing required key 'name'");
	CHECK_HAS_ERROR("attachment 'b' (" P ":10): missing required key 'hook'");
	CHECK_HAS_ERROR("attachment 'c' (" P ":12): missing required key 'program'");
	CHECK_HAS_ERROR("attachment 'd' (" P ":15): missing required key 'direction' for hook 'tcx'");
	CHECK_HAS_ERROR("attachment 'e' (" P ":19): missing required key 'interface' (or 'interfaces') "
			"for hook 'xdp'");
	CHECK_HAS_ERROR("attachment 'f' (" P ":22): missing required key 'cgroup' for hook 'cgroup'");
	CHECK_HAS_ERROR("attachment 'g' (" P ":25): missing required key 'binary' for hook 'uprobe'");
	CHECK_HAS_ERROR("attachment 'h' (" P ":29): missing required key 'netfilter_hook' for hook "
			"'netfilter'");
	CHECK_HAS_ERROR("attachment 'h' (" P ":29): missing required key 'priority' for hook "
			"'netfilter'");
	CHECK_HAS_ERROR("attachment 'i' (" P ":33): missing required key 'map' for hook 'struct_ops'");
	CHECK_INT(log_error_count(), 10);
	if (log_error_count() != 10)
		dump_errors();
}

TEST(test_name_validators)
{
	char n63[64], n64[65];

	memset(n63, 'a', 63);
	n63[63] = '\0';
	memset(n64, 'a', 64);
	n64[64] = '\0';

	CHECK(cnf_name_valid("edge"));
	CHECK(cnf_name_valid("0edge_1-x"));
	CHECK(cnf_name_valid(n63));
	CHECK(!cnf_name_valid(n64));
	CHECK(!cnf_name_valid("Edge"));
	CHECK(!cnf_name_valid("-edge"));
	CHECK(!cnf_name_valid("_edge"));
	CHECK(!cnf_name_valid("ed.ge"));
	CHECK(!cnf_name_valid("ed/ge"));
	CHECK(!cnf_name_valid(""));
	CHECK(!cnf_name_valid(NULL));

	CHECK(cnf_entry_name_valid("fw-eth0"));
	CHECK(cnf_entry_name_valid("Fw-v2_x"));
	CHECK(!cnf_entry_name_valid("Fw.v2_x")); /* bpffs refuses dots */
	CHECK(cnf_entry_name_valid(n63));
	CHECK(!cnf_entry_name_valid(n64));
	CHECK(!cnf_entry_name_valid("../x"));
	CHECK(!cnf_entry_name_valid(".."));
	CHECK(!cnf_entry_name_valid("."));
	CHECK(!cnf_entry_name_valid(".hidden"));
	CHECK(!cnf_entry_name_valid("a/b"));
	CHECK(!cnf_entry_name_valid("a b"));
	CHECK(!cnf_entry_name_valid("-a"));
	CHECK(!cnf_entry_name_valid(""));
	CHECK(!cnf_entry_name_valid(NULL));
}

TEST(test_bad_names)
{
	char yaml[1024];
	int r;
	struct cnf_manifest *m;

	CHECK_ONE_ERROR("apiVersion: cnf-apply/v1\nname: Edge\n" OBJ "attachments: []\n",
			"manifest (" P ":2): invalid name 'Edge': use lowercase letters, digits, '-' and "
			"'_', starting with a letter or digit, at most 63 characters");
	snprintf(yaml, sizeof(yaml), "apiVersion: cnf-apply/v1\nname: %064d\n" OBJ
		 "attachments: []\n", 0);
	m = load(yaml, &r);
	CHECK(m == NULL);
	CHECK_INT(log_error_count(), 1);
	CHECK(log_error_count() && strstr(log_error_at(0), ":2): invalid name '0000"));

	m = load(HEAD
		 "objects:\n"                      /* 3 */
		 "  - name: ../x\n"                /* 4 */
		 "    file: a.o\n"                 /* 5 */
		 "  - name: a/b\n"                 /* 6 */
		 "    file: a.o\n"                 /* 7 */
		 "  - name: .hidden\n"             /* 8 */
		 "    file: a.o\n"                 /* 9 */
		 "  - name: fw\n"                  /* 10 */
		 "    file: a.o\n"                 /* 11 */
		 "attachments:\n"                  /* 12 */
		 "  - name: a/b\n"                 /* 13 */
		 "    program: fw/p\n"             /* 14 */
		 "    hook: xdp\n"                 /* 15 */
		 "    interface: eth0\n",          /* 16 */
		 &r);
	CHECK(m == NULL);
	CHECK_INT(log_error_count(), 4);
	CHECK_HAS_ERROR("object '../x' (" P ":4): invalid name: use letters, digits, '-' and '_' "
			"(bpffs refuses '.'), starting with a letter or digit, at most 63 characters");
	CHECK_HAS_ERROR("object 'a/b' (" P ":6): invalid name: use letters, digits, '-' and '_' "
			"(bpffs refuses '.'), starting with a letter or digit, at most 63 characters");
	CHECK_HAS_ERROR("object '.hidden' (" P ":8): invalid name: use letters, digits, '-' and '_' "
			"(bpffs refuses '.'), starting with a letter or digit, at most 63 characters");
	CHECK_HAS_ERROR("attachment 'a/b' (" P ":13): invalid name: use letters, digits, '-' and '_' "
			"(bpffs refuses '.'), starting with a letter or digit, at most 63 characters");

	snprintf(yaml, sizeof(yaml), HEAD "objects:\n  - name: %064d\n    file: a.o\n"
		 "attachments: []\n", 0);
	m = load(yaml, &r);
	CHECK(m == NULL);
	CHECK_INT(log_error_count(), 1);
	CHECK(log_error_count() && strstr(log_error_at(0), "object '0000"));
}

TEST(test_duplicate_entry_names)
{
	int r;
	struct cnf_manifest *m = load(HEAD
		"objects:\n"                       /* 3 */
		"  - name: fw\n"                   /* 4 */
		"    file: a.o\n"                  /* 5 */
		"    maps:\n"                      /* 6 */
		"      - name: m\n"                /* 7 */
		"      - name: m\n"                /* 8 */
		"    programs:\n"                  /* 9 */
		"      - name: p\n"                /* 10 */
		"      - name: p\n"                /* 11 */
		"    config:\n"                    /* 12 */
		"      x: 1\n"                     /* 13 */
		"      x: 2\n"                     /* 14 */
		"  - name: fw\n"                   /* 15 */
		"    file: b.o\n"                  /* 16 */
		"attachments:\n"                   /* 17 */
		"  - name: a\n"                    /* 18 */
		"    program: fw/p\n"              /* 19 */
		"    hook: xdp\n"                  /* 20 */
		"    interface: eth0\n"            /* 21 */
		"  - name: a\n"                    /* 22 */
		"    program: fw/p\n"              /* 23 */
		"    hook: xdp\n"                  /* 24 */
		"    interface: eth1\n",           /* 25 */
		&r);

	CHECK(m == NULL);
	CHECK_INT(log_error_count(), 5);
	CHECK_HAS_ERROR("object 'fw': map 'm' (" P ":8): duplicate name: also listed at line 7");
	CHECK_HAS_ERROR("object 'fw': program 'p' (" P ":11): duplicate name: also listed at line 10");
	CHECK_HAS_ERROR("object 'fw' (" P ":14): config 'x' is set twice (first at line 13)");
	CHECK_HAS_ERROR("object 'fw' (" P ":15): duplicate name: also used by the object at line 4");
	CHECK_HAS_ERROR("attachment 'a' (" P ":22): duplicate name: also used by the attachment at "
			"line 18");
}

TEST(test_pin_paths)
{
	int r;
	struct cnf_manifest *m = load(HEAD
		"objects:\n"                       /* 3 */
		"  - name: fw\n"                   /* 4 */
		"    file: a.o\n"                  /* 5 */
		"    maps:\n"                      /* 6 */
		"      - name: m1\n"               /* 7 */
		"        pin: ../x\n"              /* 8 */
		"      - name: m2\n"               /* 9 */
		"        pin: /abs\n"              /* 10 */
		"      - name: m3\n"               /* 11 */
		"        pin: a//b\n"              /* 12 */
		"      - name: m4\n"               /* 13 */
		"        pin: a/./b\n"             /* 14 */
		"      - name: m5\n"               /* 15 */
		"        pin: 'a b'\n"             /* 16 */
		"      - name: m6\n"               /* 17 */
		"        pin: ok/fine.v1\n"        /* 18: bpffs refuses '.' */
		"      - name: m7\n"               /* 19 */
		"        pin: ''\n"                /* 20 */
		"      - name: m8\n"               /* 21 */
		"        pin: a/..\n"              /* 22 */
		"attachments: []\n", &r);

	CHECK(m == NULL);
	CHECK_INT(log_error_count(), 8);
	CHECK_HAS_ERROR("object 'fw': map 'm6' (" P ":18): pin path 'ok/fine.v1' is invalid: path "
			"components may only contain letters, digits, '-' and '_' (bpffs refuses '.')");
	CHECK_HAS_ERROR("object 'fw': map 'm1' (" P ":8): pin path '../x' escapes the bpffs root: "
			"use a relative path such as 'shared/m1', without '.', '..' or empty "
			"components");
	CHECK_HAS_ERROR("object 'fw': map 'm2' (" P ":10): pin path '/abs' escapes the bpffs root: "
			"use a relative path such as 'shared/m2', without '.', '..' or empty "
			"components");
	CHECK_HAS_ERROR("object 'fw': map 'm3' (" P ":12): pin path 'a//b' escapes the bpffs root: "
			"use a relative path such as 'shared/m3', without '.', '..' or empty "
			"components");
	CHECK(log_error_count() > 3 && strstr(log_error_at(3), "object 'fw': map 'm4' (" P ":14): "
					      "pin path 'a/./b' escapes"));
	CHECK_HAS_ERROR("object 'fw': map 'm5' (" P ":16): pin path 'a b' is invalid: path components "
			"may only contain letters, digits, '-' and '_' (bpffs refuses '.')");
	CHECK(log_error_count() > 6 && strstr(log_error_at(6), "object 'fw': map 'm7' (" P ":20): "
					      "pin path '' escapes"));
	CHECK(log_error_count() > 7 && strstr(log_error_at(7), "object 'fw': map 'm8' (" P ":22): "
					      "pin path 'a/..' escapes"));
}

#define ANCHOR_ATT(name, extra)                                                \
	"  - name: " name "\n    program: fw/p\n    hook: tcx\n"                  \
	"    interface: eth0\n    direction: ingress\n" extra

TEST(test_anchors)
{
	int r;
	struct cnf_manifest *m;

	CHECK_ONE_ERROR(HEAD OBJ "attachments:\n" ANCHOR_ATT("a", "    before: ghost\n"),
			"attachment 'a' (" P ":12): before 'ghost' names no attachment in this manifest");
	CHECK_ONE_ERROR(HEAD OBJ "attachments:\n" ANCHOR_ATT("a", "    after: a\n"),
			"attachment 'a' (" P ":12): 'after' names the attachment itself");
	CHECK_ONE_ERROR(HEAD OBJ "attachments:\n"
			ANCHOR_ATT("a", "    before: b\n")                     /* 7-12 */
			ANCHOR_ATT("b", "    after: a\n"),                     /* 13-18 */
			"attachment 'a' (" P ":12): ordering anchors form a cycle: a -> b -> a");
	CHECK_ONE_ERROR(HEAD OBJ "attachments:\n"
			ANCHOR_ATT("a", "    before: b\n")                     /* 7-12 */
			ANCHOR_ATT("b", "    before: c\n")                     /* 13-18 */
			ANCHOR_ATT("c", "    after: a\n")                      /* 19-24 */
			ANCHOR_ATT("d", "    after: c\n"),                     /* 25-30 */
			"attachment 'a' (" P ":12): ordering anchors form a cycle: a -> b -> c -> a");
	/* A chain without a loop is fine, in any order. */
	m = load(HEAD OBJ "attachments:\n"
		 ANCHOR_ATT("a", "    before: b\n")
		 ANCHOR_ATT("b", "    before: c\n")
		 ANCHOR_ATT("c", "    order: first\n")
		 ANCHOR_ATT("d", "    after: c\n"), &r);
	CHECK_INT(r, 0);
	dump_errors();
	manifest_free(m);

	CHECK_ONE_ERROR(HEAD OBJ "attachments:\n"
			ANCHOR_ATT("a", "    after: x\n")
			"  - name: x\n    program: fw/p\n    hook: xdp\n    interface: eth0\n",
			"attachment 'a' (" P ":12): after 'x' is not a 'tcx' attachment: anchors must have "
			"the same hook");
	CHECK_ONE_ERROR(HEAD OBJ "attachments:\n"
			ANCHOR_ATT("a", "    order: first\n    before: b\n")
			ANCHOR_ATT("b", ""),
			"attachment 'a' (" P ":13): only one of 'order', 'before' and 'after' may be set");
}

TEST(test_hook_keys)
{
	int r;
	struct cnf_manifest *m;

	CHECK_ONE_ERROR(HEAD OBJ
			"attachments:\n"                          /* 6 */
			"  - name: count-in\n"                    /* 7 */
			"    program: fw/p\n"                     /* 8 */
			"    hook: tcx\n"                         /* 9 */
			"    interface: eth0\n"                   /* 10 */
			"    direction: ingress\n"                /* 11 */
			"    mode: native\n",                     /* 12 */
			"attachment 'count-in' (" P ":12): key 'mode' does not apply to hook 'tcx'");
	CHECK_ONE_ERROR(HEAD OBJ
			"attachments:\n"
			"  - name: x\n"
			"    program: fw/p\n"
			"    hook: xdp\n"
			"    interface: eth0\n"
			"    map: fw/ops\n",
			"attachment 'x' (" P ":11): key 'map' does not apply to hook 'xdp'");
	CHECK_ONE_ERROR(HEAD OBJ
			"attachments:\n"
			"  - name: ops\n"
			"    hook: struct_ops\n"
			"    map: fw/ops\n"
			"    program: fw/p\n",
			"attachment 'ops' (" P ":10): key 'program' does not apply to hook 'struct_ops'");
	CHECK_ONE_ERROR(HEAD OBJ
			"attachments:\n"
			"  - name: x\n"
			"    program: fw/p\n"
			"    hook: xpd\n",
			"attachment 'x' (" P ":9): unknown hook 'xpd'; did you mean 'xdp'? (hooks: xdp, tcx, "
			"tc, netkit, cgroup, tracepoint, raw_tracepoint, kprobe, kretprobe, kprobe_multi, "
			"fentry, fexit, uprobe, uretprobe, lsm, netfilter, sk_lookup, flow_dissector, "
			"struct_ops)");
	/* A parameter written into the hook's name. */
	CHECK_ONE_ERROR(HEAD OBJ
			"attachments:\n"
			"  - name: x\n"
			"    program: fw/p\n"
			"    hook: xdp-generic\n",
			"attachment 'x' (" P ":9): unknown hook 'xdp-generic'; use hook 'xdp' with "
			"'mode: generic' (hooks: xdp, tcx, tc, netkit, cgroup, tracepoint, raw_tracepoint, "
			"kprobe, kretprobe, kprobe_multi, fentry, fexit, uprobe, uretprobe, lsm, netfilter, "
			"sk_lookup, flow_dissector, struct_ops)");

	m = load(HEAD OBJ
		 "attachments:\n"                       /* 6 */
		 "  - name: a\n"                        /* 7 */
		 "    program: fw/p\n"                  /* 8 */
		 "    hook: xdp\n"                      /* 9 */
		 "    interface: averyveryverylongname\n" /* 10 */
		 "    mode: fast\n"                     /* 11 */
		 "    netns: run/netns/x\n"             /* 12 */
		 "  - name: b\n"                        /* 13 */
		 "    program: fw/p\n"                  /* 14 */
		 "    hook: tc\n"                       /* 15 */
		 "    interface: eth0\n"                /* 16 */
		 "    interfaces: [eth1]\n"             /* 17 */
		 "    direction: sideways\n"            /* 18 */
		 "    priority: 0\n"                    /* 19 */
		 "    handle: 0x100000000\n"            /* 20 */
		 "  - name: c\n"                        /* 21 */
		 "    program: fw/p\n"                  /* 22 */
		 "    hook: netkit\n"                   /* 23 */
		 "    interfaces: []\n"                 /* 24 */
		 "    side: left\n"                     /* 25 */
		 "    order: middle\n"                  /* 26 */
		 "  - name: d\n"                        /* 27 */
		 "    program: fw/p\n"                  /* 28 */
		 "    hook: tcx\n"                      /* 29 */
		 "    direction: egress\n"              /* 30 */
		 "    interfaces:\n"                    /* 31 */
		 "      - eth0\n"                       /* 32 */
		 "      - ''\n"                         /* 33 */
		 "      - 'a/b'\n",                     /* 34 */
		 &r);
	CHECK(m == NULL);
	CHECK_HAS_ERROR("attachment 'a' (" P ":10): interface name 'averyveryverylongname' is longer "
			"than 15 characters");
	CHECK_HAS_ERROR("attachment 'a' (" P ":11): mode 'fast' is not one of: auto, native, generic, "
			"offload");
	CHECK_HAS_ERROR("attachment 'a' (" P ":12): netns 'run/netns/x' must be an absolute path, "
			"e.g. /run/netns/NAME");
	CHECK_HAS_ERROR("attachment 'b' (" P ":17): keys 'interface' and 'interfaces' are mutually "
			"exclusive");
	CHECK_HAS_ERROR("attachment 'b' (" P ":18): direction 'sideways' is not one of: ingress, egress");
	CHECK_HAS_ERROR("attachment 'b' (" P ":19): priority 0 is out of range (1..65535)");
	CHECK_HAS_ERROR("attachment 'b' (" P ":20): handle 4294967296 is out of range (1..0xffffffff)");
	CHECK_HAS_ERROR("attachment 'c' (" P ":24): key 'interfaces' must list at least one interface");
	CHECK_HAS_ERROR("attachment 'c' (" P ":25): side 'left' is not one of: primary, peer");
	CHECK_HAS_ERROR("attachment 'c' (" P ":26): order 'middle' is not one of: first, last");
	CHECK_HAS_ERROR("attachment 'd' (" P ":33): interface name '' is empty");
	CHECK_HAS_ERROR("attachment 'd' (" P ":34): interface name 'a/b' contains '/', ':' or white space");
	CHECK_INT(log_error_count(), 12);
	if (log_error_count() != 12)
		dump_errors();

	m = load(HEAD OBJ
		 "attachments:\n"                       /* 6 */
		 "  - name: a\n"                        /* 7 */
		 "    program: fw/p\n"                  /* 8 */
		 "    hook: cgroup\n"                   /* 9 */
		 "    cgroup: /sys/fs/cgroup/../x\n"    /* 10 */
		 "  - name: b\n"                        /* 11 */
		 "    program: fw/p\n"                  /* 12 */
		 "    hook: tracepoint\n"               /* 13 */
		 "    tracepoint: sys_enter_openat\n"   /* 14 */
		 "  - name: c\n"                        /* 15 */
		 "    program: fw/p\n"                  /* 16 */
		 "    hook: raw_tracepoint\n"           /* 17 */
		 "    tracepoint: sched/sched_switch\n" /* 18 */
		 "  - name: d\n"                        /* 19 */
		 "    program: fw/p\n"                  /* 20 */
		 "    hook: kprobe_multi\n"             /* 21 */
		 "    functions: []\n"                  /* 22 */
		 "  - name: e\n"                        /* 23 */
		 "    program: fw/p\n"                  /* 24 */
		 "    hook: uretprobe\n"                /* 25 */
		 "    binary: /bin/sh\n"                /* 26 */
		 "    pid: 0\n"                         /* 27 */
		 "  - name: f\n"                        /* 28 */
		 "    program: fw/p\n"                  /* 29 */
		 "    hook: kretprobe\n"                /* 30 */
		 "    function: do_exit\n"              /* 31 */
		 "    offset: 8\n"                      /* 32 */
		 "  - name: g\n"                        /* 33 */
		 "    program: fw/p\n"                  /* 34 */
		 "    hook: netfilter\n"                /* 35 */
		 "    family: inet\n"                   /* 36 */
		 "    netfilter_hook: input\n"          /* 37 */
		 "    priority: -2147483648\n"          /* 38 */
		 "  - name: h\n"                        /* 39 */
		 "    program: fw/p\n"                  /* 40 */
		 "    hook: fentry\n"                   /* 41 */
		 "    function: ''\n"                   /* 42 */
		 "    interface: eth0\n",               /* 43 */
		 &r);
	CHECK(m == NULL);
	CHECK_HAS_ERROR("attachment 'a' (" P ":10): cgroup path '/sys/fs/cgroup/../x' must not "
			"contain '..'");
	CHECK_HAS_ERROR("attachment 'b' (" P ":14): tracepoint 'sys_enter_openat' must be written "
			"GROUP/NAME");
	CHECK_HAS_ERROR("attachment 'c' (" P ":18): raw tracepoint 'sched/sched_switch' must be a "
			"plain name (no GROUP/ part)");
	CHECK_HAS_ERROR("attachment 'd' (" P ":22): key 'functions' must list at least one function");
	CHECK_HAS_ERROR("attachment 'e' (" P ":23): hook 'uretprobe' needs 'symbol' or 'offset' "
			"(both: an offset from the symbol)");
	CHECK_HAS_ERROR("attachment 'e' (" P ":27): pid 0 is not a process id (must be > 0)");
	CHECK_HAS_ERROR("attachment 'f' (" P ":32): offset must be 0 for hook 'kretprobe' (return "
			"probes sit at the function entry)");
	CHECK_HAS_ERROR("attachment 'g' (" P ":36): family 'inet' is not one of: ipv4, ipv6");
	CHECK_HAS_ERROR("attachment 'g' (" P ":37): netfilter_hook 'input' is not one of: "
			"pre_routing, local_in, forward, local_out, post_routing");
	CHECK_HAS_ERROR("attachment 'g' (" P ":38): priority -2147483648 is out of range "
			"(-2147483647..2147483646)");
	CHECK_HAS_ERROR("attachment 'h' (" P ":42): key 'function' must not be empty");
	CHECK_HAS_ERROR("attachment 'h' (" P ":43): key 'interface' does not apply to hook 'fentry'");
	CHECK_INT(log_error_count(), 12);
	if (log_error_count() != 12)
		dump_errors();

	/* Relative cgroup paths are fine (under the cgroup2 mount). */
	m = load(HEAD OBJ "attachments:\n  - name: a\n    program: fw/p\n    hook: cgroup\n"
		 "    cgroup: app.slice\n  - name: b\n    program: fw/p\n    hook: sk_lookup\n"
		 "    netns: /run/netns/x\n  - name: c\n    program: fw/p\n    hook: lsm\n", &r);
	CHECK_INT(r, 0);
	dump_errors();
	manifest_free(m);
}

TEST(test_program_refs)
{
	int r;
	struct cnf_manifest *m = load(HEAD
		"objects:\n"                       /* 3 */
		"  - name: fw\n"                   /* 4 */
		"    file: a.o\n"                  /* 5 */
		"  - name: tc\n"                   /* 6 */
		"    file: b.o\n"                  /* 7 */
		"attachments:\n"                   /* 8 */
		"  - name: a\n"                    /* 9 */
		"    program: fw\n"                /* 10 */
		"    hook: xdp\n"                  /* 11 */
		"    interface: eth0\n"            /* 12 */
		"  - name: b\n"                    /* 13 */
		"    program: nope/p\n"            /* 14 */
		"    hook: xdp\n"                  /* 15 */
		"    interface: eth0\n"            /* 16 */
		"  - name: c\n"                    /* 17 */
		"    program: fw/\n"               /* 18 */
		"    hook: xdp\n"                  /* 19 */
		"    interface: eth0\n"            /* 20 */
		"  - name: d\n"                    /* 21 */
		"    program: fw/a/b\n"            /* 22 */
		"    hook: xdp\n"                  /* 23 */
		"    interface: eth0\n"            /* 24 */
		"  - name: e\n"                    /* 25 */
		"    map: ops\n"                   /* 26 */
		"    hook: struct_ops\n",          /* 27 */
		&r);

	CHECK(m == NULL);
	CHECK_INT(log_error_count(), 5);
	CHECK_HAS_ERROR("attachment 'a' (" P ":10): program 'fw' must be written OBJECT/PROGRAM");
	CHECK_HAS_ERROR("attachment 'b' (" P ":14): program 'nope/p' names object 'nope', which this "
			"manifest does not define (objects: fw, tc)");
	CHECK_HAS_ERROR("attachment 'c' (" P ":18): program 'fw/' must be written OBJECT/PROGRAM");
	CHECK_HAS_ERROR("attachment 'd' (" P ":22): program 'fw/a/b' must be written OBJECT/PROGRAM");
	CHECK_HAS_ERROR("attachment 'e' (" P ":26): map 'ops' must be written OBJECT/MAP");
}

TEST(test_collects_all_errors)
{
	int r;
	struct cnf_manifest *m = load(
		"apiVersion: cnf-apply/v1\n"       /* 1 */
		"name: Edge\n"                     /* 2 */
		"objects:\n"                       /* 3 */
		"  - name: fw\n"                   /* 4 */
		"    file: fw.o\n"                 /* 5 */
		"attachments:\n"                   /* 6 */
		"  - name: count-in\n"             /* 7 */
		"    program: fw/p\n"              /* 8 */
		"    hook: tcx\n"                  /* 9 */
		"    interface: eth0\n"            /* 10 */
		"    direction: ingress\n"         /* 11 */
		"    mode: native\n"               /* 12 */
		"  - name: x\n"                    /* 13 */
		"    program: other/p\n"           /* 14 */
		"    hook: xdp\n"                  /* 15 */
		"    interface: eth0\n",           /* 16 */
		&r);

	CHECK(m == NULL);
	CHECK_INT(r, -EINVAL);
	CHECK_INT(log_error_count(), 3);
	/* In file order. */
	CHECK(log_error_count() == 3 && strstr(log_error_at(0), "manifest (" P ":2): invalid name"));
	CHECK_STR(log_error_at(1), "attachment 'count-in' (" P ":12): key 'mode' does not apply to "
		  "hook 'tcx'");
	CHECK_STR(log_error_at(2), "attachment 'x' (" P ":14): program 'other/p' names object 'other', "
		  "which this manifest does not define (objects: fw)");
}

TEST(test_alias_bomb)
{
	char yaml[4096];
	size_t o = 0;
	struct timespec t0, t1;
	int r;
	struct cnf_manifest *m;

	o += (size_t)snprintf(yaml + o, sizeof(yaml) - o, HEAD OBJ "attachments: []\n");
	o += (size_t)snprintf(yaml + o, sizeof(yaml) - o,
			      "x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
	for (int i = 1; i < 10; i++) {
		o += (size_t)snprintf(yaml + o, sizeof(yaml) - o, "x%d: &x%d [", i, i);
		for (int k = 0; k < 10; k++)
			o += (size_t)snprintf(yaml + o, sizeof(yaml) - o, "%s*x%d", k ? ", " : "", i - 1);
		o += (size_t)snprintf(yaml + o, sizeof(yaml) - o, "]\n");
	}
	CHECK(o < sizeof(yaml) - 1);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	m = load(yaml, &r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(m == NULL);
	CHECK_INT(r, -EINVAL);
	CHECK_INT(log_error_count(), 1);
	CHECK_STR(log_error_at(0), P ":11: document expands to more than 100000 nodes through "
		  "aliases");
	CHECK((t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) < 1000000000L);

	/* An alias that contains itself. */
	CHECK_ONE_ERROR(HEAD "x: &x [a, *x]\n", P ":3: an alias refers to a node that contains it");
}

TEST(test_aliases_allowed)
{
	int r;
	struct cnf_manifest *m = load(HEAD OBJ
		"attachments:\n"                   /* 6 */
		"  - name: a\n"                    /* 7 */
		"    program: &prog fw/p\n"        /* 8 */
		"    hook: xdp\n"                  /* 9 */
		"    interfaces: &ifs [eth0, eth1]\n" /* 10 */
		"  - name: b\n"                    /* 11 */
		"    program: *prog\n"             /* 12 */
		"    hook: tcx\n"                  /* 13 */
		"    direction: ingress\n"         /* 14 */
		"    interfaces: *ifs\n",          /* 15 */
		&r);

	CHECK_INT(r, 0);
	dump_errors();
	if (!m)
		return;
	CHECK_STR(m->attachments[1].program, "fw/p");
	CHECK_INT(m->attachments[1].interfaces_count, 2);
	CHECK_STR(m->attachments[1].interfaces[1], "eth1");
	CHECK(m->attachments[1].object == &m->objects[0]);
	CHECK_INT(manifest_attachment_line(m, 1, "interfaces"), 15);
	manifest_free(m);
}

TEST(test_deep_nesting)
{
	char yaml[8192];
	size_t o;
	struct timespec t0, t1;
	int r;
	struct cnf_manifest *m;
	char *big;
	size_t n = 200000;

	/* Block style: 70 nested lists. */
	o = (size_t)snprintf(yaml, sizeof(yaml), HEAD "x:\n");
	for (int i = 0; i < 70; i++)
		o += (size_t)snprintf(yaml + o, sizeof(yaml) - o, "%*s-\n", 2 * i, "");
	m = load(yaml, &r);
	CHECK(m == NULL);
	CHECK_INT(log_error_count(), 1);
	CHECK_STR(log_error_at(0), P ":67: document is nested more than 64 levels deep");

	/* 64 levels are fine as far as nesting goes. */
	o = (size_t)snprintf(yaml, sizeof(yaml), HEAD OBJ "attachments: []\nx: ");
	for (int i = 0; i < 63; i++)
		yaml[o++] = '[';
	for (int i = 0; i < 63; i++)
		yaml[o++] = ']';
	snprintf(yaml + o, sizeof(yaml) - o, "\n");
	m = load(yaml, &r);
	CHECK(m == NULL);
	CHECK_INT(log_error_count(), 1);
	CHECK_STR(log_error_at(0), "manifest (" P ":7): unknown key 'x'");

	/* Flow style, very deep: refused quickly. */
	big = xcalloc(1, 2 * n + 2);
	memset(big, '[', n);
	memset(big + n, ']', n);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	m = load(big, &r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(m == NULL);
	CHECK_STR(log_error_at(0), P ":1: document is nested more than 64 levels deep");
	CHECK((t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) < 1000000000L);
	free(big);
}

TEST(test_config)
{
	int r;
	struct cnf_manifest *m = load(HEAD
		"objects:\n"                       /* 3 */
		"  - name: fw\n"                   /* 4 */
		"    file: a.o\n"                  /* 5 */
		"    config:\n"                    /* 6 */
		"      rate: 0x10\n"               /* 7 */
		"      neg: -5\n"                  /* 8 */
		"      on: true\n"                 /* 9 */
		"      off: no\n"                  /* 10 */
		"      s1: \"with space\"\n"       /* 11 */
		"      s2: '42'\n"                 /* 12 */
		"      s3: plain text\n"           /* 13 */
		"      block: |\n"                 /* 14 */
		"        7\n"                      /* 15 */
		"      list:\n"                    /* 16 */
		"        - 1\n"                    /* 17 */
		"        - 'two'\n"                /* 18 */
		"      empty_list: []\n"           /* 19 */
		"  - name: tc\n"                   /* 20 */
		"    file: b.o\n"                  /* 21 */
		"    config: {}\n"                 /* 22 */
		"  - name: null-config\n"          /* 23 */
		"    file: c.o\n"                  /* 24 */
		"    config:\n"                    /* 25 */
		"attachments: []\n", &r);
	struct cnf_config_var *v;

	CHECK_INT(r, 0);
	dump_errors();
	if (!m)
		return;
	CHECK_INT(m->objects[0].config_count, 10);
	v = m->objects[0].config;
	CHECK_STR(v[0].name, "rate");
	CHECK_STR(v[0].value, "0x10");
	CHECK(!v[0].quoted);
	CHECK_INT(v[0].line, 7);
	CHECK_STR(v[1].value, "-5");
	CHECK_STR(v[2].name, "on");
	CHECK_STR(v[2].value, "true");
	CHECK(!v[2].quoted);
	CHECK_STR(v[3].value, "no");
	CHECK_STR(v[4].value, "with space");
	CHECK(v[4].quoted);
	CHECK_STR(v[5].value, "42");
	CHECK(v[5].quoted);
	CHECK_STR(v[6].value, "plain text");
	CHECK(!v[6].quoted);
	CHECK_STR(v[7].value, "7\n");
	CHECK(v[7].quoted);
	CHECK_STR(v[8].name, "list");
	CHECK(v[8].value == NULL);
	CHECK_INT(v[8].items_count, 2);
	CHECK_STR(v[8].items[0], "1");
	CHECK_STR(v[8].items[1], "two");
	CHECK_INT(v[8].line, 16);
	CHECK_STR(v[9].name, "empty_list");
	CHECK(v[9].value == NULL);
	CHECK_INT(v[9].items_count, 0);
	CHECK_INT(m->objects[1].config_count, 0);
	CHECK_INT(m->objects[2].config_count, 0);
	manifest_free(m);

	m = load(HEAD
		 "objects:\n"                      /* 3 */
		 "  - name: fw\n"                  /* 4 */
		 "    file: a.o\n"                 /* 5 */
		 "    config:\n"                   /* 6 */
		 "      nested: {a: 1}\n"          /* 7 */
		 "      nothing:\n"                /* 8 */
		 "      bad_list: [1, [2]]\n"      /* 9 */
		 "      ok: 1\n"                   /* 10 */
		 "attachments: []\n", &r);
	CHECK(m == NULL);
	CHECK_INT(log_error_count(), 3);
	CHECK_HAS_ERROR("object 'fw' (" P ":7): config 'nested': expected a value or a list of values, "
			"got a mapping");
	CHECK_HAS_ERROR("object 'fw' (" P ":8): config 'nothing' has no value");
	CHECK_HAS_ERROR("object 'fw' (" P ":9): config 'bad_list': entry 2: expected a value, got a list");
}

/* libcyaml must not write to stderr on its own. */
TEST(test_quiet_stderr)
{
	char tmpl[] = "/tmp/cnf-stderr-XXXXXX";
	int fd = mkstemp(tmpl), saved = dup(2);
	struct stat st;
	int r;

	CHECK(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	manifest_free(load(HEAD OBJ "attachments:\n  - name: a\n    foo: 1\n", &r));
	manifest_free(load(HEAD OBJ "attachments:\n  - name: a\n    priority: x\n", &r));
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	CHECK_INT(fstat(fd, &st), 0);
	CHECK_INT(st.st_size, 0);
	CHECK_INT(log_error_count(), 1);
	close(fd);
	unlink(tmpl);
}

TEST(test_cleanup)
{
	log_reset();
	log_set_quiet(false);
}

TEST(test_integer_literals)
{
	/* libcyaml alone would read these as 1 and 0x10. */
	CHECK_ONE_ERROR(HEAD "objects:\n  - name: fw\n    file: a.o\n"
			"attachments:\n  - name: a\n    program: fw/p\n    hook: tc\n"
			"    interface: eth0\n    direction: ingress\n    priority: 1.5\n",
			"attachment 'a' (" P ":12): key 'priority': expected an integer, got '1.5'");
	log_reset();
	CHECK_ONE_ERROR(HEAD "objects:\n  - name: fw\n    file: a.o\n"
			"attachments:\n  - name: a\n    program: fw/p\n    hook: tc\n"
			"    interface: eth0\n    direction: ingress\n    handle: 16k\n",
			"attachment 'a' (" P ":12): key 'handle': expected an integer, got '16k'");
	log_reset();
}

TEST(test_map_entries)
{
	static const char yaml[] =
		HEAD                                            /* 1-2 */
		"objects:\n"                                   /* 3 */
		"  - name: fw\n"                               /* 4 */
		"    file: fw.o\n"                             /* 5 */
		"    maps:\n"                                  /* 6 */
		"      - name: counts\n"                       /* 7 */
		"        pin: shared/counts\n"                 /* 8 */
		"        on_incompatible: recreate\n"          /* 9 */
		"        entries:\n"                           /* 10 */
		"          - {key: 1, value: 0x2a}\n"          /* 11 */
		"          - key: \"0x0a000001\"\n"          /* 12 */
		"            value: [1, 2, 3]\n"               /* 13 */
		"      - name: plain\n"                        /* 14 */
		"        entries: []\n"                        /* 15 */
		"attachments: []\n";
	struct cnf_manifest *m = load(yaml, NULL);
	const struct cnf_map_opt *mo;

	CHECK(m != NULL);
	if (!m) {
		dump_errors();
		return;
	}
	CHECK_INT(m->objects[0].maps_count, 2);
	mo = &m->objects[0].maps[0];
	CHECK_STR(mo->on_incompatible, "recreate");
	CHECK_INT(mo->entries_count, 2);
	CHECK_INT(mo->entries[0].line, 11);
	CHECK_STR(mo->entries[0].key.value, "1");
	CHECK(!mo->entries[0].key.quoted);
	CHECK_STR(mo->entries[0].value.value, "0x2a");
	CHECK_INT(mo->entries[1].line, 12);
	CHECK_INT(mo->entries[1].key.line, 12);
	CHECK_STR(mo->entries[1].key.value, "0x0a000001");
	CHECK(mo->entries[1].key.quoted);
	CHECK(mo->entries[1].value.value == NULL);
	CHECK_INT(mo->entries[1].value.items_count, 3);
	CHECK_INT(mo->entries[1].value.line, 13);
	if (mo->entries[1].value.items_count == 3)
		CHECK_STR(mo->entries[1].value.items[2], "3");
	mo = &m->objects[0].maps[1];
	CHECK(mo->on_incompatible == NULL);
	CHECK_INT(mo->entries_count, 0);
	manifest_free(m);

#define MAPS HEAD "objects:\n  - name: fw\n    file: fw.o\n    maps:\n      - name: m\n"
	/* Lines: the map entry is line 7, its keys follow. */
	CHECK_ONE_ERROR(MAPS "        on_incompatible: drop\nattachments: []\n",
			"object 'fw': map 'm' (" P ":8): on_incompatible 'drop' is not one of: "
			"refuse, recreate");
	log_reset();
	CHECK_ONE_ERROR(MAPS "        entries: {key: 1, value: 2}\nattachments: []\n",
			"object 'fw': map 'm' (" P ":8): key 'entries': expected a list of "
			"{key: ..., value: ...}, got a mapping");
	log_reset();
	CHECK_ONE_ERROR(MAPS "        entries:\nattachments: []\n",
			"object 'fw': map 'm' (" P ":8): key 'entries': expected a list of "
			"{key: ..., value: ...}, got nothing");
	log_reset();
	CHECK_ONE_ERROR(MAPS "        entries:\n          - 5\nattachments: []\n",
			"object 'fw': map 'm' (" P ":9): entry 1: expected a mapping "
			"{key: ..., value: ...}, got a value");
	log_reset();
	CHECK_ONE_ERROR(MAPS "        entries:\n          - {key: 1, value: 2}\n"
			"          - {key: 2, val: 3, value: 3}\nattachments: []\n",
			"object 'fw': map 'm' (" P ":10): entry 2: unknown key 'val' "
			"(an entry has 'key' and 'value')");
	log_reset();
	CHECK_ONE_ERROR(MAPS "        entries:\n          - value: 3\nattachments: []\n",
			"object 'fw': map 'm' (" P ":9): entry 1: missing required key 'key'");
	log_reset();
	CHECK_ONE_ERROR(MAPS "        entries:\n          - {key: {a: 1}, value: 3}\n"
			"attachments: []\n",
			"object 'fw': map 'm' (" P ":9): entry 1: key: expected a value or a list "
			"of values, got a mapping");
	log_reset();
	CHECK_ONE_ERROR(MAPS "        entries:\n          - {key: 1, value: }\nattachments: []\n",
			"object 'fw': map 'm' (" P ":9): entry 1: value: expected a value or a list "
			"of values, got nothing");
	log_reset();
	CHECK_ONE_ERROR(MAPS "        entries:\n          - {key: [1, [2]], value: 1}\n"
			"attachments: []\n",
			"object 'fw': map 'm' (" P ":9): entry 1: key: item 2: expected a value, "
			"got a list");
	log_reset();
	CHECK_ONE_ERROR(MAPS "        entries:\n          - key: 1\n            key: 2\n"
			"            value: 3\nattachments: []\n",
			"object 'fw': map 'm' (" P ":10): entry 1: duplicate key 'key' "
			"(first at line 9)");
	log_reset();
	CHECK_ONE_ERROR(MAPS "        entries: []\n        entries: []\nattachments: []\n",
			"object 'fw': map 'm' (" P ":9): duplicate key 'entries' (first at line 8)");
	log_reset();
#undef MAPS
}

UNIT_MAIN(test_valid_manifest, test_object_path_from_real_dir, test_directory_loading,
	  test_duplicate_manifest_names, test_file_size_limit, test_syntax_errors,
	  test_unknown_keys, test_duplicate_keys, test_wrong_types, test_missing_required,
	  test_name_validators, test_bad_names, test_duplicate_entry_names, test_pin_paths,
	  test_anchors, test_hook_keys, test_program_refs, test_collects_all_errors,
	  test_alias_bomb, test_aliases_allowed, test_deep_nesting, test_config,
	  test_quiet_stderr, test_cleanup, test_integer_literals, test_map_entries)
