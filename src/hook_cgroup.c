// SPDX-License-Identifier: GPL-2.0-only
/* cgroup: cgroup v2 directories, every attach type, through bpf_links
 * (which attach with BPF_F_ALLOW_MULTI semantics). */
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>

#include "cnf/hooks.h"
#include "cnf/live.h"
#include "cnf/util.h"

static const struct {
	const char *name;
	enum bpf_attach_type type;
	enum bpf_prog_type prog_type;
} cgroup_types[] = {
	{ "ingress",          BPF_CGROUP_INET_INGRESS,      BPF_PROG_TYPE_CGROUP_SKB },
	{ "egress",           BPF_CGROUP_INET_EGRESS,       BPF_PROG_TYPE_CGROUP_SKB },
	{ "sock_create",      BPF_CGROUP_INET_SOCK_CREATE,  BPF_PROG_TYPE_CGROUP_SOCK },
	{ "sock_release",     BPF_CGROUP_INET_SOCK_RELEASE, BPF_PROG_TYPE_CGROUP_SOCK },
	{ "post_bind4",       BPF_CGROUP_INET4_POST_BIND,   BPF_PROG_TYPE_CGROUP_SOCK },
	{ "post_bind6",       BPF_CGROUP_INET6_POST_BIND,   BPF_PROG_TYPE_CGROUP_SOCK },
	{ "sock_ops",         BPF_CGROUP_SOCK_OPS,          BPF_PROG_TYPE_SOCK_OPS },
	{ "sockops",          BPF_CGROUP_SOCK_OPS,          BPF_PROG_TYPE_SOCK_OPS },
	{ "device",           BPF_CGROUP_DEVICE,            BPF_PROG_TYPE_CGROUP_DEVICE },
	{ "dev",              BPF_CGROUP_DEVICE,            BPF_PROG_TYPE_CGROUP_DEVICE }, /* libbpf's section name */
	{ "bind4",            BPF_CGROUP_INET4_BIND,        BPF_PROG_TYPE_CGROUP_SOCK_ADDR },
	{ "bind6",            BPF_CGROUP_INET6_BIND,        BPF_PROG_TYPE_CGROUP_SOCK_ADDR },
	{ "connect4",         BPF_CGROUP_INET4_CONNECT,     BPF_PROG_TYPE_CGROUP_SOCK_ADDR },
	{ "connect6",         BPF_CGROUP_INET6_CONNECT,     BPF_PROG_TYPE_CGROUP_SOCK_ADDR },
	{ "connect_unix",     BPF_CGROUP_UNIX_CONNECT,      BPF_PROG_TYPE_CGROUP_SOCK_ADDR },
	{ "sendmsg4",         BPF_CGROUP_UDP4_SENDMSG,      BPF_PROG_TYPE_CGROUP_SOCK_ADDR },
	{ "sendmsg6",         BPF_CGROUP_UDP6_SENDMSG,      BPF_PROG_TYPE_CGROUP_SOCK_ADDR },
	{ "sendmsg_unix",     BPF_CGROUP_UNIX_SENDMSG,      BPF_PROG_TYPE_CGROUP_SOCK_ADDR },
	{ "recvmsg4",         BPF_CGROUP_UDP4_RECVMSG,      BPF_PROG_TYPE_CGROUP_SOCK_ADDR },
	{ "recvmsg6",         BPF_CGROUP_UDP6_RECVMSG,      BPF_PROG_TYPE_CGROUP_SOCK_ADDR },
	{ "recvmsg_unix",     BPF_CGROUP_UNIX_RECVMSG,      BPF_PROG_TYPE_CGROUP_SOCK_ADDR },
	{ "getpeername4",     BPF_CGROUP_INET4_GETPEERNAME, BPF_PROG_TYPE_CGROUP_SOCK_ADDR },
	{ "getpeername6",     BPF_CGROUP_INET6_GETPEERNAME, BPF_PROG_TYPE_CGROUP_SOCK_ADDR },
	{ "getpeername_unix", BPF_CGROUP_UNIX_GETPEERNAME,  BPF_PROG_TYPE_CGROUP_SOCK_ADDR },
	{ "getsockname4",     BPF_CGROUP_INET4_GETSOCKNAME, BPF_PROG_TYPE_CGROUP_SOCK_ADDR },
	{ "getsockname6",     BPF_CGROUP_INET6_GETSOCKNAME, BPF_PROG_TYPE_CGROUP_SOCK_ADDR },
	{ "getsockname_unix", BPF_CGROUP_UNIX_GETSOCKNAME,  BPF_PROG_TYPE_CGROUP_SOCK_ADDR },
	{ "sysctl",           BPF_CGROUP_SYSCTL,            BPF_PROG_TYPE_CGROUP_SYSCTL },
	{ "getsockopt",       BPF_CGROUP_GETSOCKOPT,        BPF_PROG_TYPE_CGROUP_SOCKOPT },
	{ "setsockopt",       BPF_CGROUP_SETSOCKOPT,        BPF_PROG_TYPE_CGROUP_SOCKOPT },
};

int cgroup_attach_type_by_name(const char *name, enum bpf_attach_type *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(cgroup_types); i++) {
		const char *long_name = libbpf_bpf_attach_type_str(cgroup_types[i].type);

		/* The short names, or libbpf's full ones ("cgroup_inet4_connect"). */
		if (streq(name, cgroup_types[i].name) || (long_name && streq(name, long_name))) {
			*ret = cgroup_types[i].type;
			return 0;
		}
	}
	return -ENOENT;
}

const char *cgroup_attach_type_name(enum bpf_attach_type t)
{
	for (size_t i = 0; i < ARRAY_SIZE(cgroup_types); i++)
		if (cgroup_types[i].type == t)
			return cgroup_types[i].name;
	return NULL;
}

static int find_type(enum bpf_attach_type t)
{
	for (size_t i = 0; i < ARRAY_SIZE(cgroup_types); i++)
		if (cgroup_types[i].type == t)
			return (int)i;
	return -1;
}

static int cgroup_prepare(const struct cnf_attachment *a, struct bpf_program *prog,
			  struct cnf_target *t, char *why, size_t whylen)
{
	enum bpf_prog_type pt = bpf_program__type(prog);
	const char *sec = bpf_program__section_name(prog);
	enum bpf_attach_type at;
	int idx;

	if (a->attach_type) {
		if (cgroup_attach_type_by_name(a->attach_type, &at) < 0) {
			snprintf(why, whylen, "unknown cgroup attach_type '%s'", a->attach_type);
			return -EINVAL;
		}
	} else {
		/* Only a section that names the attach point says it
		 * ("cgroup/connect4", "cgroup_skb/egress"); "sockops" and
		 * "cgroup/dev" have one attach point anyway. */
		at = bpf_program__expected_attach_type(prog);
		if (pt == BPF_PROG_TYPE_SOCK_OPS)
			at = BPF_CGROUP_SOCK_OPS;
		else if (pt == BPF_PROG_TYPE_CGROUP_DEVICE)
			at = BPF_CGROUP_DEVICE;
		else if (pt == BPF_PROG_TYPE_CGROUP_SYSCTL)
			at = BPF_CGROUP_SYSCTL;
		else if (!sec || !strchr(sec, '/') || find_type(at) < 0) {
			snprintf(why, whylen,
				 "program '%s' (section '%s') does not say its cgroup attach point; "
				 "set attach_type", bpf_program__name(prog), sec ? sec : "?");
			return -EINVAL;
		}
	}
	idx = find_type(at);
	if (idx < 0 || cgroup_types[idx].prog_type != pt) {
		snprintf(why, whylen, "program '%s' is of type %s, cgroup attach_type '%s' needs %s",
			 bpf_program__name(prog), libbpf_bpf_prog_type_str(pt),
			 idx < 0 ? "?" : cgroup_types[idx].name,
			 idx < 0 ? "?" : libbpf_bpf_prog_type_str(cgroup_types[idx].prog_type));
		return -EINVAL;
	}
	t->attach_type = at;
	/* The kernel checks a cgroup program's expected attach type. */
	bpf_program__set_expected_attach_type(prog, at);
	return 0;
}

/* The cgroup2 mount, for relative `cgroup:` paths. */
static const char *cgroup2_root(void)
{
	static char root[PATH_MAX];
	_cleanup_fclose_ FILE *f = NULL;
	char line[1024];

	if (root[0])
		return root;
	f = fopen("/proc/self/mounts", "re");
	while (f && fgets(line, sizeof(line), f)) {
		char dev[256], dir[PATH_MAX], type[64];

		if (sscanf(line, "%255s %4095s %63s", dev, dir, type) == 3 && streq(type, "cgroup2")) {
			snprintf(root, sizeof(root), "%s", dir);
			break;
		}
	}
	if (!root[0])
		snprintf(root, sizeof(root), "/sys/fs/cgroup");
	return root;
}

/* The cgroup directory: its path (kept when it is missing: status shows
 * it, watch waits for it) and its id. */
static int cgroup_resolve(const struct cnf_attachment *a, struct bpf_program *prog,
			  struct cnf_target *t, char *text, size_t textlen, char *why, size_t whylen)
{
	struct statfs sf;
	struct stat st;

	t->cgroup_path = a->cgroup[0] == '/' ? xstrdup(a->cgroup) :
			 strprintf("%s/%s", cgroup2_root(), a->cgroup);
	if (!t->cgroup_path)
		return -ENOMEM;
	snprintf(text, textlen, "%s", t->cgroup_path);
	if (stat(t->cgroup_path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "cgroup '%s' not found", t->cgroup_path);
		return -ENOENT;
	}
	if (statfs(t->cgroup_path, &sf) < 0 || sf.f_type != CGROUP2_SUPER_MAGIC) {
		snprintf(why, whylen, "'%s' is not a cgroup v2 directory", t->cgroup_path);
		return -EINVAL;
	}
	t->cgroup_id = st.st_ino;
	return 0;
}

static void cgroup_describe(const struct cnf_target *t, char *buf, size_t len)
{
	snprintf(buf, len, "attach_type=%s", cgroup_attach_type_name(t->attach_type));
}

static int cgroup_attach(const struct cnf_instance *w, int prog_fd, const struct attach_args *args,
			 struct attach_result *res)
{
	_cleanup_close_ int cg = open(w->t.cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int fd;

	if (cg < 0)
		return -errno;
	fd = bpf_link_create(prog_fd, cg, w->t.attach_type, NULL);
	return fd < 0 ? -errno : fd;
}

static int cgroup_update(const struct cnf_instance *w, const struct cnf_record *rec, int pin_fd,
			 int prog_fd, uint32_t old_prog_id,
		      const struct attach_args *args, struct attach_result *res)
{
	return link_update_common(pin_fd, prog_fd, old_prog_id);
}

static int cgroup_detach(const struct cnf_record *rec, int pin_fd)
{
	return pin_fd >= 0 ? link_detach_common(pin_fd) : 0;
}

static int cgroup_foreign(const struct cnf_instance *w, const uint32_t *own, size_t n_own,
			  struct foreign_prog **ret, size_t *ret_count)
{
	LIBBPF_OPTS(bpf_prog_query_opts, q);
	_cleanup_close_ int cg = open(w->t.cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	uint32_t prog_ids[256], link_ids[256];

	if (cg < 0)
		return -errno;
	q.prog_ids = prog_ids;
	q.link_ids = link_ids;
	q.count = ARRAY_SIZE(prog_ids);
	memset(link_ids, 0, sizeof(link_ids));
	if (bpf_prog_query_opts(cg, w->t.attach_type, &q) < 0)
		return -errno;
	for (__u32 i = 0; i < q.count && i < ARRAY_SIZE(prog_ids); i++)
		if (!own_has(own, n_own, prog_ids[i]))
			foreign_add(ret, ret_count, prog_ids[i], link_ids[i]);
	return 0;
}

static const char *cgroup_probed(const struct probe_result *p)
{
	return p->cgroup_link ? "link" : NULL;
}

/* No slot: cgroup links may run one program several times on a cgroup
 * (the kernel refuses a duplicate only for programs attached without a
 * link), and nothing is ordered. */
const struct hook_ops hook_cgroup_ops = {
	.kind = HOOK_CGROUP,
	.name = "cgroup",
	.probed = cgroup_probed,
	.keys = {
		.keys = AK_BIT(AK_PROGRAM) | AK_BIT(AK_CGROUP) | AK_BIT(AK_ATTACH_TYPE),
		.required = AK_BIT(AK_PROGRAM) | AK_BIT(AK_CGROUP),
	},
	.caps = { .link_update = true, .multi_prog = true, .shared_prog = true },
	.link_type = BPF_LINK_TYPE_CGROUP,
	.target_key = "cgroup",
	.pin_name = "cgroup",
	.prepare = cgroup_prepare,
	.resolve = cgroup_resolve,
	.describe = cgroup_describe,
	.attach = cgroup_attach,
	.update = cgroup_update,
	.detach = cgroup_detach,
	.foreign = cgroup_foreign,
};
