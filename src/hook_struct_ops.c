// SPDX-License-Identifier: GPL-2.0-only
/* struct_ops: a struct_ops map (a kernel ops table filled with the
 * object's programs, e.g. a TCP congestion control) registered through a
 * bpf_link. The attachment names the map (`map: OBJECT/MAP`), not a
 * program. The link swaps its map in place (BPF_LINK_UPDATE). */
#include <bpf/bpf.h>
#include <bpf/btf.h>

#include "cnf/hooks.h"
#include "cnf/objects.h"
#include "cnf/live.h"
#include "cnf/log.h"
#include "cnf/util.h"

static int sto_prepare(const struct cnf_attachment *a, struct bpf_program *prog,
		       struct cnf_target *t, char *why, size_t whylen)
{
	t->attach_type = BPF_STRUCT_OPS;
	return 0;
}

static void obj_closep(struct bpf_object **o)
{
	bpf_object__close(*o);
}

static int sto_resolve(const struct cnf_attachment *a, struct bpf_program *prog,
		       struct cnf_target *t, char *text, size_t textlen, char *why, size_t whylen)
{
	const char *map_name = strchr(a->map, '/') + 1;
	_cleanup_(obj_closep) struct bpf_object *obj = NULL;
	const struct btf *vmlinux, *btf;
	const struct btf_type *vt;
	const char *tname;
	struct bpf_map *map;
	char kname[256], fd_path[32];
	_cleanup_close_ int fd = -1;
	struct stat st;

	snprintf(text, textlen, "%s", map_name);
	t->name = xstrdup(map_name);
	/* The engine's opened object is not handed to resolve(): read the
	 * ELF again (no kernel involved) to check the map. */
	fd = objects_file_open(a->object->path, &st);
	if (fd < 0) {
		snprintf(why, whylen, "cannot open '%s': %s", a->object->path,
			 fd == -EFTYPE_OBJ ? "not a regular file" : strerror(-fd));
		return -EINVAL;
	}
	objects_file_path(fd_path, sizeof(fd_path), fd);
	log_libbpf_capture(true);
	obj = bpf_object__open_file(fd_path, NULL);
	log_libbpf_capture(false);
	if (!obj) {
		snprintf(why, whylen, "cannot open '%s'", a->object->path);
		return -EINVAL;
	}
	map = bpf_object__find_map_by_name(obj, map_name);
	if (!map) {
		snprintf(why, whylen, "map '%s' is not in object '%s' (%s)", map_name, a->object->name,
			 a->object->file);
		return -EINVAL;
	}
	if (bpf_map__type(map) != BPF_MAP_TYPE_STRUCT_OPS) {
		snprintf(why, whylen, "map '%s' is a %s map, hook struct_ops needs a struct_ops map "
			 "(SEC(\".struct_ops.link\"))", map_name,
			 libbpf_bpf_map_type_str(bpf_map__type(map)) ?: "?");
		return -EINVAL;
	}
	if (!(bpf_map__map_flags(map) & BPF_F_LINK)) {
		snprintf(why, whylen, "struct_ops map '%s' is declared in SEC(\".struct_ops\"); "
			 "cnf-apply registers struct_ops through links it can pin: declare it in "
			 "SEC(\".struct_ops.link\")", map_name);
		return -EINVAL;
	}
	btf = bpf_object__btf(obj);
	vt = btf ? btf__type_by_id(btf, bpf_map__btf_value_type_id(map)) : NULL;
	tname = vt ? btf__name_by_offset(btf, vt->name_off) : NULL;
	if (!tname || !*tname) {
		snprintf(why, whylen, "struct_ops map '%s' has no type information", map_name);
		return -EINVAL;
	}
	t->path = xstrdup(tname);
	/* Facts of the kernel's BTF, not a test load (see fentry). */
	if (hook_kernel_has(BTF_KIND_STRUCT, "bpf_struct_ops_link") != 1) {
		snprintf(why, whylen, "this kernel cannot register struct_ops through links "
			 "(BPF_F_LINK maps, Linux 6.4+)");
		return -EOPNOTSUPP;
	}
	vmlinux = probe_vmlinux_btf();
	snprintf(kname, sizeof(kname), "bpf_struct_ops_%s", tname);
	if (!vmlinux || btf__find_by_name_kind(vmlinux, kname, BTF_KIND_STRUCT) <= 0) {
		snprintf(why, whylen, "this kernel has no struct_ops type '%s'", tname);
		return -ENOENT;
	}
	return 0;
}

static void sto_describe(const struct cnf_target *t, char *buf, size_t len)
{
	snprintf(buf, len, "map=%s type=%s", t->name, t->path ? t->path : "?");
}

static struct bpf_map *sto_map(const struct cnf_instance *w, const struct attach_args *args)
{
	return args->obj ? bpf_object__find_map_by_name(args->obj, w->t.name) : NULL;
}

static int sto_attach(const struct cnf_instance *w, int prog_fd, const struct attach_args *args,
		      struct attach_result *res)
{
	struct bpf_map *map = sto_map(w, args);
	struct bpf_link *l;
	int fd;

	if (!map)
		return -ENOENT;
	l = bpf_map__attach_struct_ops(map);
	if (!l)
		return -errno;
	/* The link outlives this process through its pin: keep the fd,
	 * let libbpf forget the link. */
	fd = bpf_link__fd(l);
	bpf_link__disconnect(l);
	bpf_link__destroy(l);
	return fd;
}

static int sto_update(const struct cnf_instance *w, const struct cnf_record *rec, int pin_fd,
		      int prog_fd, uint32_t old_prog_id, const struct attach_args *args,
		      struct attach_result *res)
{
	struct bpf_map *map = sto_map(w, args);
	struct bpf_link *l;

	if (!map)
		return -ENOENT;
	/* The new map must hold its ops table (the kernel calls that state
	 * "ready") before a link can switch to it, and only libbpf knows how
	 * to fill it: bpf_map__attach_struct_ops() fills it, then registers a
	 * second instance, which the kernel refuses for most types (a TCP
	 * congestion control of the same name: EEXIST) and which is removed
	 * at once where it is not. The pinned link then swaps maps in place. */
	log_libbpf_capture(true);
	l = bpf_map__attach_struct_ops(map);
	log_libbpf_capture(false);
	if (l)
		bpf_link__destroy(l);
	if (bpf_link_update(pin_fd, bpf_map__fd(map), NULL) < 0)
		return -errno;
	return 0;
}

static const char *struct_ops_probed(const struct probe_result *p)
{
	return p->struct_ops && p->struct_ops_link ? "link" : NULL;
}

const struct hook_ops hook_struct_ops_ops = {
	.kind = HOOK_STRUCT_OPS,
	.name = "struct_ops",
	.probed = struct_ops_probed,
	.keys = {
		.keys = AK_BIT(AK_MAP),
		.required = AK_BIT(AK_MAP),
	},
	.caps = { .link_update = true, .multi_prog = false },
	.prepare = sto_prepare,
	.resolve = sto_resolve,
	.describe = sto_describe,
	.attach = sto_attach,
	.update = sto_update,
	.detach = hook_link_detach,
};
