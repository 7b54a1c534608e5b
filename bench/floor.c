// SPDX-License-Identifier: GPL-2.0-only
/* The floor: the kernel operations the benchmark scenarios strictly need,
 * issued straight through libbpf, with nothing else around them. The
 * benchmark compares cnf-apply with this program.
 *
 *   floor apply   --bpffs DIR --glob PAT --xdp OBJ --tc OBJ
 *       One load per object (only the programs attached, as cnf-apply
 *       does), then per matching interface one XDP link (native mode) and
 *       one tcx ingress link, each pinned at
 *       DIR/floor/links/{xdp,tcx}/<ifname> -- the layout cnf-apply uses
 *       (<root>/<manifest>/links/<attachment>/<target>), so both pay the
 *       same BPF_OBJ_PIN and directory costs. No records, no queries, no
 *       iterator.
 *   floor verify  --bpffs DIR --glob PAT --xdp OBJ --tc OBJ
 *       The no-op: the least a tool must read to know that nothing needs
 *       doing without an iterator program or records: the interface list
 *       (one netlink dump), a stat of each object, and per pin one
 *       BPF_OBJ_GET + one BPF_OBJ_GET_INFO_BY_FD (link alive, on the right
 *       interface). Exit 2 when something is missing.
 *   floor rollout --bpffs DIR --xdp OBJ --tc OBJ
 *       One load per (new) object, then per pin BPF_OBJ_GET +
 *       BPF_LINK_UPDATE. The pins stay.
 *   floor destroy --bpffs DIR
 *       Per pin BPF_OBJ_GET + BPF_LINK_DETACH (synchronous, as cnf-apply
 *       does: unlinking a pin alone would defer the detach to a kernel
 *       worker) and unlink; then the directories.
 *   floor iflist  --glob PAT [--reps K]
 *       Not a scenario: times ways of listing interfaces (glibc
 *       if_nameindex(), a netlink dump with a 32 KiB buffer, the same
 *       without statistics) and prints the medians, for the report.
 *
 * Exit status: 0 done, 1 error, 2 (verify) not in the expected state. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define MANIFEST "floor"

struct ifent {
	char name[IF_NAMESIZE];
	int index;
};

static const char *arg_bpffs, *arg_glob = "*", *arg_xdp, *arg_tc;
static const char *arg_xdp_prog = "xdp_main", *arg_tc_prog = "tc_main";
static int arg_reps = 20;

static int fail(const char *what, int err)
{
	fprintf(stderr, "floor: %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

/* ---- interfaces: one RTM_GETLINK dump ---- */

static int if_dump(const char *glob, size_t bufsz, bool skip_stats, struct ifent **ret,
		   size_t *ret_n)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifm;
		struct rtattr rta;
		__u32 mask;
	} req = {};
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct ifent *v = NULL;
	size_t n = 0, cap = 0;
	char *buf;
	int fd, err = 0;
	bool done = false;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	buf = malloc(bufsz);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	req.nh.nlmsg_len = sizeof(req);
	req.nh.nlmsg_type = RTM_GETLINK;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nh.nlmsg_seq = 1;
	req.ifm.ifi_family = AF_UNSPEC;
	req.rta.rta_type = IFLA_EXT_MASK;
	req.rta.rta_len = RTA_LENGTH(sizeof(__u32));
	req.mask = skip_stats ? RTEXT_FILTER_SKIP_STATS : 0;
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		goto out;
	}
	while (!done) {
		ssize_t len = recv(fd, buf, bufsz, 0);
		struct nlmsghdr *nh;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)len); nh = NLMSG_NEXT(nh, len)) {
			struct ifinfomsg *ifm;
			struct rtattr *a;
			int alen;

			if (nh->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (nh->nlmsg_type == NLMSG_ERROR) {
				err = ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
				goto out;
			}
			if (nh->nlmsg_type != RTM_NEWLINK)
				continue;
			ifm = NLMSG_DATA(nh);
			alen = (int)IFLA_PAYLOAD(nh);
			for (a = IFLA_RTA(ifm); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
				const char *name = RTA_DATA(a);

				if (a->rta_type != IFLA_IFNAME)
					continue;
				if (fnmatch(glob, name, 0) != 0)
					break;
				if (n == cap) {
					struct ifent *p = realloc(v, (cap = cap ? 2 * cap : 64) * sizeof(*v));

					if (!p) {
						err = -ENOMEM;
						goto out;
					}
					v = p;
				}
				snprintf(v[n].name, sizeof(v[n].name), "%s", name);
				v[n++].index = ifm->ifi_index;
				break;
			}
		}
	}
out:
	free(buf);
	close(fd);
	if (err) {
		free(v);
		return err;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static int if_list(struct ifent **ret, size_t *ret_n)
{
	return if_dump(arg_glob, 32768, true, ret, ret_n);
}

/* ---- objects ---- */

static struct bpf_object *load(const char *path, const char *prog_name, int *ret_fd)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *p, *want = NULL;

	if (!obj)
		return NULL;
	/* Only the attached program, as cnf-apply does. */
	bpf_object__for_each_program(p, obj) {
		bool used = strcmp(bpf_program__name(p), prog_name) == 0;

		bpf_program__set_autoload(p, used);
		if (used)
			want = p;
	}
	if (!want) {
		errno = ENOENT;
		bpf_object__close(obj);
		return NULL;
	}
	if (bpf_object__load(obj)) {
		bpf_object__close(obj);
		return NULL;
	}
	*ret_fd = bpf_program__fd(want);
	return obj;
}

static void pin_dir(char *buf, size_t len, const char *hook)
{
	snprintf(buf, len, "%s/" MANIFEST "/links/%s", arg_bpffs, hook);
}

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(buf, 0700) < 0 && errno != EEXIST ? -errno : 0;
}

/* ---- scenarios ---- */

static int do_apply(void)
{
	struct bpf_object *xo, *to;
	struct ifent *ifs;
	size_t n;
	int xfd, tfd, err;
	char xdir[PATH_MAX], tdir[PATH_MAX], path[PATH_MAX + IF_NAMESIZE];

	err = if_list(&ifs, &n);
	if (err)
		return fail("listing interfaces", err);
	xo = load(arg_xdp, arg_xdp_prog, &xfd);
	if (!xo)
		return fail(arg_xdp, errno);
	to = load(arg_tc, arg_tc_prog, &tfd);
	if (!to)
		return fail(arg_tc, errno);
	pin_dir(xdir, sizeof(xdir), "xdp");
	pin_dir(tdir, sizeof(tdir), "tcx");
	if ((err = mkdir_p(xdir)) || (err = mkdir_p(tdir)))
		return fail("creating pin directories", err);
	for (size_t i = 0; i < n; i++) {
		LIBBPF_OPTS(bpf_link_create_opts, xo_opts, .flags = XDP_FLAGS_DRV_MODE);
		int fd;

		fd = bpf_link_create(xfd, ifs[i].index, BPF_XDP, &xo_opts);
		if (fd < 0)
			return fail(ifs[i].name, errno);
		snprintf(path, sizeof(path), "%s/%s", xdir, ifs[i].name);
		if (bpf_obj_pin(fd, path) < 0)
			return fail(path, errno);
		close(fd);
		fd = bpf_link_create(tfd, ifs[i].index, BPF_TCX_INGRESS, NULL);
		if (fd < 0)
			return fail(ifs[i].name, errno);
		snprintf(path, sizeof(path), "%s/%s", tdir, ifs[i].name);
		if (bpf_obj_pin(fd, path) < 0)
			return fail(path, errno);
		close(fd);
	}
	bpf_object__close(xo);
	bpf_object__close(to);
	free(ifs);
	return 0;
}

static int check_pin(const char *dir, const struct ifent *e, __u32 type)
{
	char path[PATH_MAX + IF_NAMESIZE];
	struct bpf_link_info li = {};
	__u32 len = sizeof(li);
	int fd, ok;

	snprintf(path, sizeof(path), "%s/%s", dir, e->name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	ok = bpf_link_get_info_by_fd(fd, &li, &len) == 0 && li.type == type &&
	     (type == BPF_LINK_TYPE_XDP ? li.xdp.ifindex : li.tcx.ifindex) == (__u32)e->index;
	close(fd);
	return ok;
}

static int do_verify(void)
{
	struct ifent *ifs;
	struct stat st;
	size_t n, bad = 0;
	char xdir[PATH_MAX], tdir[PATH_MAX];
	int err;

	err = if_list(&ifs, &n);
	if (err)
		return fail("listing interfaces", err);
	if (stat(arg_xdp, &st) < 0 || stat(arg_tc, &st) < 0)
		return fail("object", errno);
	pin_dir(xdir, sizeof(xdir), "xdp");
	pin_dir(tdir, sizeof(tdir), "tcx");
	for (size_t i = 0; i < n; i++) {
		bad += !check_pin(xdir, &ifs[i], BPF_LINK_TYPE_XDP);
		bad += !check_pin(tdir, &ifs[i], BPF_LINK_TYPE_TCX);
	}
	free(ifs);
	if (bad)
		fprintf(stderr, "floor: %zu of %zu attachments not in place\n", bad, 2 * n);
	return bad ? 2 : 0;
}

/* Calls fn(dirfd, name, fd) for every pin of a hook directory. */
static int for_each_pin(const char *hook, int (*fn)(int dfd, const char *name, int fd, int arg),
			int arg)
{
	char dir[PATH_MAX];
	DIR *d;
	struct dirent *de;
	int ret = 0;

	pin_dir(dir, sizeof(dir), hook);
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) && !ret) {
		char path[PATH_MAX + 256];
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			ret = -errno;
			break;
		}
		ret = fn(dirfd(d), de->d_name, fd, arg);
		close(fd);
	}
	closedir(d);
	return ret;
}

static int update_one(int dfd, const char *name, int fd, int prog_fd)
{
	return bpf_link_update(fd, prog_fd, NULL) < 0 ? -errno : 0;
}

static int do_rollout(void)
{
	struct bpf_object *xo, *to;
	int xfd, tfd, err;

	xo = load(arg_xdp, arg_xdp_prog, &xfd);
	if (!xo)
		return fail(arg_xdp, errno);
	to = load(arg_tc, arg_tc_prog, &tfd);
	if (!to)
		return fail(arg_tc, errno);
	err = for_each_pin("xdp", update_one, xfd);
	if (!err)
		err = for_each_pin("tcx", update_one, tfd);
	bpf_object__close(xo);
	bpf_object__close(to);
	return err ? fail("updating links", err) : 0;
}

static int detach_one(int dfd, const char *name, int fd, int unused)
{
	if (bpf_link_detach(fd) < 0)
		return -errno;
	return unlinkat(dfd, name, 0) < 0 ? -errno : 0;
}

static int do_destroy(void)
{
	char path[PATH_MAX];
	int err;

	err = for_each_pin("xdp", detach_one, 0);
	if (!err)
		err = for_each_pin("tcx", detach_one, 0);
	if (err)
		return fail("detaching links", err);
	pin_dir(path, sizeof(path), "xdp");
	rmdir(path);
	pin_dir(path, sizeof(path), "tcx");
	rmdir(path);
	snprintf(path, sizeof(path), "%s/" MANIFEST "/links", arg_bpffs);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/" MANIFEST, arg_bpffs);
	rmdir(path);
	return 0;
}

/* ---- iflist: how much listing interfaces costs, several ways ---- */

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int do_iflist(void)
{
	static const struct {
		const char *name;
		size_t bufsz;
		bool skip_stats;
	} ways[] = {
		{ "netlink dump, 4 KiB buffer (like glibc)", 4096, false },
		{ "netlink dump, 32 KiB buffer", 32768, false },
		{ "netlink dump, 32 KiB buffer, RTEXT_FILTER_SKIP_STATS", 32768, true },
	};
	double *t = calloc((size_t)arg_reps, sizeof(double));
	size_t count = 0;

	if (!t)
		return fail("iflist", ENOMEM);
	for (int r = 0; r < arg_reps; r++) {
		double t0 = now_us();
		struct if_nameindex *ni = if_nameindex();

		t[r] = now_us() - t0;
		count = 0;
		for (struct if_nameindex *p = ni; p && p->if_index; p++)
			count++;
		if_freenameindex(ni);
	}
	qsort(t, (size_t)arg_reps, sizeof(double), cmp_double);
	printf("glibc if_nameindex()\t%zu\t%.0f\t%.0f\t%.0f\n", count, t[arg_reps / 2], t[0],
	       t[arg_reps - 1]);
	for (size_t w = 0; w < sizeof(ways) / sizeof(ways[0]); w++) {
		for (int r = 0; r < arg_reps; r++) {
			struct ifent *v = NULL;
			size_t n = 0;
			double t0 = now_us();
			int err = if_dump("*", ways[w].bufsz, ways[w].skip_stats, &v, &n);

			t[r] = now_us() - t0;
			free(v);
			if (err)
				return fail("netlink dump", err);
			count = n;
		}
		qsort(t, (size_t)arg_reps, sizeof(double), cmp_double);
		printf("%s\t%zu\t%.0f\t%.0f\t%.0f\n", ways[w].name, count, t[arg_reps / 2], t[0],
		       t[arg_reps - 1]);
	}
	free(t);
	return 0;
}

static int silent(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bpffs", required_argument, NULL, 'b' },
		{ "glob", required_argument, NULL, 'g' },
		{ "xdp", required_argument, NULL, 'x' },
		{ "tc", required_argument, NULL, 't' },
		{ "xdp-prog", required_argument, NULL, 'X' },
		{ "tc-prog", required_argument, NULL, 'T' },
		{ "reps", required_argument, NULL, 'r' },
		{}
	};
	const char *verb;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		switch (c) {
		case 'b': arg_bpffs = optarg; break;
		case 'g': arg_glob = optarg; break;
		case 'x': arg_xdp = optarg; break;
		case 't': arg_tc = optarg; break;
		case 'X': arg_xdp_prog = optarg; break;
		case 'T': arg_tc_prog = optarg; break;
		case 'r': arg_reps = atoi(optarg) > 0 ? atoi(optarg) : 1; break;
		default: return 1;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: floor apply|verify|rollout|destroy|iflist [options]\n");
		return 1;
	}
	verb = argv[optind];
	libbpf_set_print(silent);
	if (!strcmp(verb, "iflist"))
		return do_iflist();
	if (!arg_bpffs)
		return fail("--bpffs is required", EINVAL);
	if (!strcmp(verb, "destroy"))
		return do_destroy();
	if (!arg_xdp || !arg_tc)
		return fail("--xdp and --tc are required", EINVAL);
	if (!strcmp(verb, "apply"))
		return do_apply();
	if (!strcmp(verb, "verify"))
		return do_verify();
	if (!strcmp(verb, "rollout"))
		return do_rollout();
	fprintf(stderr, "floor: unknown verb '%s'\n", verb);
	return 1;
}
