// SPDX-License-Identifier: GPL-2.0-only
/* What the tracing, LSM and namespace families share: program type
 * checks, targets named by ELF sections, kernel symbol and tracepoint
 * lookups, perf event links. */
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>

#include "cnf/hooks.h"
#include "cnf/live.h"
#include "cnf/log.h"
#include "cnf/util.h"

int hook_check_prog_type(const struct cnf_attachment *a, struct bpf_program *prog,
			 enum bpf_prog_type type, const char *needs, char *why, size_t whylen)
{
	enum bpf_prog_type pt = bpf_program__type(prog);

	if (pt == type)
		return 0;
	snprintf(why, whylen, "program '%s' is of type %s, hook %s needs %s",
		 bpf_program__name(prog), libbpf_bpf_prog_type_str(pt) ?: "unknown", a->hook, needs);
	return -EINVAL;
}

const char *hook_section_target(struct bpf_program *prog, const char *const *prefixes,
				const char **ret_prefix)
{
	const char *sec = prog ? bpf_program__section_name(prog) : NULL;

	if (ret_prefix)
		*ret_prefix = NULL;
	if (!sec)
		return NULL;
	for (size_t i = 0; prefixes[i]; i++) {
		size_t n = strlen(prefixes[i]);

		if (strncmp(sec, prefixes[i], n) != 0 || (sec[n] != '/' && sec[n] != '\0'))
			continue;
		if (ret_prefix)
			*ret_prefix = prefixes[i];
		return sec[n] == '/' && sec[n + 1] ? sec + n + 1 : NULL;
	}
	return NULL;
}

const char *hook_tracefs(void)
{
	static const char *const dirs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		char p[64];

		snprintf(p, sizeof(p), "%s/events", dirs[i]);
		if (access(p, F_OK) == 0)
			return dirs[i];
	}
	return NULL;
}

int hook_kallsyms_has(const char *name)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/kallsyms", "re");
	const char *colon = strchr(name, ':');
	char line[512];
	size_t n;

	if (!f)
		return -errno;
	/* "MODULE:FUNCTION" names a module's function. */
	if (colon)
		name = colon + 1;
	n = strlen(name);
	while (fgets(line, sizeof(line), f)) {
		/* "ffffffff81234560 T name\t[module]" */
		char *t = strchr(line, ' '), *s;

		if (!t || !t[1] || t[2] != ' ')
			continue;
		if (t[1] != 't' && t[1] != 'T' && t[1] != 'w' && t[1] != 'W')
			continue;
		s = t + 3;
		if (strncmp(s, name, n) == 0 && (s[n] == '\n' || s[n] == '\t' || s[n] == '\0'))
			return 1;
	}
	return 0;
}

void hook_strv_free(char **v, size_t n)
{
	strv_free(v, n);
}

static int strv_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int hook_filter_functions(char *const *pats, size_t npats, char ***ret, size_t *ret_count,
			  const char **ret_unmatched)
{
	const char *tfs = hook_tracefs();
	_cleanup_free_ bool *hit = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	char **v = NULL, path[128], line[512];
	size_t n = 0, cap = 0, k = 0;

	*ret = NULL;
	*ret_count = 0;
	*ret_unmatched = NULL;
	if (!tfs)
		return -ENOTSUP;
	snprintf(path, sizeof(path), "%s/available_filter_functions", tfs);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	hit = xcalloc(npats ? npats : 1, sizeof(*hit));
	while (fgets(line, sizeof(line), f)) {
		/* "name" or "name [module]" */
		line[strcspn(line, " \t\n")] = '\0';
		for (size_t p = 0; p < npats; p++) {
			if (fnmatch(pats[p], line, 0) != 0)
				continue;
			hit[p] = true;
			if (grow_array((void **)&v, &cap, n + 1, sizeof(*v)) < 0) {
				hook_strv_free(v, n);
				return -ENOMEM;
			}
			v[n++] = xstrdup(line);
			break;
		}
	}
	for (size_t p = 0; p < npats; p++) {
		if (!hit[p]) {
			hook_strv_free(v, n);
			*ret_unmatched = pats[p];
			return -ENOENT;
		}
	}
	/* Static functions of the same name appear more than once. */
	if (n)
		qsort(v, n, sizeof(*v), strv_cmp);
	for (size_t i = 0; i < n; i++) {
		if (k && streq(v[k - 1], v[i])) {
			free(v[i]);
			continue;
		}
		v[k++] = v[i];
	}
	*ret = v;
	*ret_count = k;
	return 0;
}

int hook_kernel_has(int kind, const char *name)
{
	const struct btf *vmlinux = probe_vmlinux_btf();

	if (!vmlinux)
		return -ENOENT;
	return btf__find_by_name_kind(vmlinux, name, kind) > 0;
}

int hook_btf_func_exists(const char *name)
{
	const struct btf *vmlinux = probe_vmlinux_btf();
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	if (!vmlinux)
		return -ENOENT;
	if (btf__find_by_name_kind(vmlinux, name, BTF_KIND_FUNC) > 0)
		return 1;
	/* Not in vmlinux: the loaded modules' BTF. */
	d = opendir("/sys/kernel/btf");
	while (d && (de = readdir(d))) {
		struct btf *mod;
		int found;

		if (de->d_name[0] == '.' || streq(de->d_name, "vmlinux"))
			continue;
		mod = btf__load_module_btf(de->d_name, (struct btf *)vmlinux);
		if (!mod)
			continue;
		found = btf__find_by_name_kind(mod, name, BTF_KIND_FUNC) > 0;
		btf__free(mod);
		if (found)
			return 1;
	}
	return 0;
}

bool hook_pmu_exists(const char *pmu)
{
	char p[128];

	snprintf(p, sizeof(p), "/sys/bus/event_source/devices/%s/type", pmu);
	return access(p, F_OK) == 0;
}

static int read_uint_file(const char *path, unsigned long *ret)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	if (fscanf(f, "%lu", ret) != 1)
		return -EINVAL;
	return 0;
}

/* The bit of `config` that makes a kprobe/uprobe PMU event a return probe
 * ("config:0" in .../format/retprobe). */
static int pmu_retprobe_bit(const char *pmu, int *ret)
{
	char p[128], buf[32];
	_cleanup_fclose_ FILE *f = NULL;

	snprintf(p, sizeof(p), "/sys/bus/event_source/devices/%s/format/retprobe", pmu);
	f = fopen(p, "re");
	if (!f)
		return -errno;
	if (!fgets(buf, sizeof(buf), f) || sscanf(buf, "config:%d", ret) != 1)
		return -EINVAL;
	return 0;
}

int hook_perf_link(int prog_fd, const struct hook_perf_event *ev)
{
	struct perf_event_attr attr = { .size = sizeof(attr) };
	_cleanup_close_ int pfd = -1;
	int fd, pid = -1, cpu = 0, err;

	if (streq(ev->pmu, "tracepoint")) {
		attr.type = PERF_TYPE_TRACEPOINT;
		attr.config = ev->config;
		attr.sample_period = 1;
		attr.wakeup_events = 1;
	} else {
		char p[128];
		unsigned long type;

		snprintf(p, sizeof(p), "/sys/bus/event_source/devices/%s/type", ev->pmu);
		err = read_uint_file(p, &type);
		if (err < 0)
			return err;
		attr.type = (__u32)type;
		if (ev->retprobe) {
			int bit;

			err = pmu_retprobe_bit(ev->pmu, &bit);
			if (err < 0)
				return err;
			attr.config |= 1ULL << bit;
		}
		attr.config1 = (uint64_t)(uintptr_t)ev->name;   /* kprobe_func / uprobe_path */
		attr.config2 = ev->offset;                      /* probe_offset */
		if (ev->pid > 0) {
			pid = ev->pid;
			cpu = -1;
		}
	}
	pfd = (int)syscall(__NR_perf_event_open, &attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
	if (pfd < 0)
		return -errno;
	/* The link holds the perf event: our fd to it can go. */
	fd = bpf_link_create(prog_fd, pfd, BPF_PERF_EVENT, NULL);
	return fd < 0 ? -errno : fd;
}

int hook_link_detach(const struct cnf_record *rec, int pin_fd)
{
	return pin_fd >= 0 ? link_detach_common(pin_fd) : 0;
}

int hook_netns_fd(void)
{
	int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int hook_netns_target(const struct cnf_attachment *a, struct cnf_target *t, char *text,
		      size_t textlen, char *why, size_t whylen)
{
	struct statfs sf;
	struct stat st;

	snprintf(text, textlen, "%s", a->netns ? a->netns : "netns");
	t->path = xstrdup(a->netns ? a->netns : "netns");
	if (!a->netns) {
		if (stat("/proc/self/ns/net", &st) == 0)
			t->netns_ino = st.st_ino;
		return 0;
	}
	if (stat(a->netns, &st) < 0) {
		snprintf(why, whylen, "network namespace '%s' not found", a->netns);
		return -ENOENT;
	}
	if (statfs(a->netns, &sf) < 0 || sf.f_type != NSFS_MAGIC) {
		snprintf(why, whylen, "'%s' is not a network namespace (an nsfs file such as "
			 "/run/netns/NAME)", a->netns);
		return -EINVAL;
	}
	t->netns = a->netns;
	t->netns_ino = st.st_ino;
	return 0;
}

int hook_netns_foreign(enum bpf_attach_type type, const uint32_t *own, size_t n_own,
		       struct foreign_prog **ret, size_t *ret_count)
{
	LIBBPF_OPTS(bpf_prog_query_opts, q);
	_cleanup_close_ int ns = hook_netns_fd();
	uint32_t prog_ids[64];

	if (ns < 0)
		return ns;
	q.prog_ids = prog_ids;
	q.count = ARRAY_SIZE(prog_ids);
	if (bpf_prog_query_opts(ns, type, &q) < 0)
		return -errno;
	for (__u32 i = 0; i < q.count && i < ARRAY_SIZE(prog_ids); i++)
		if (!own_has(own, n_own, prog_ids[i]))
			foreign_add(ret, ret_count, prog_ids[i], 0);
	return 0;
}

int hook_fit_single_probe(const struct cnf_instance *w, struct bpf_program *prog, char *why,
			  size_t whylen)
{
	enum bpf_attach_type eat = bpf_program__expected_attach_type(prog);

	if (eat == 0)
		return 0;
	snprintf(why, whylen, "program '%s' (section '%s') was loaded as a %s program (libbpf "
		 "chooses that for its section), hook %s attaches it through a perf event and "
		 "needs a plain %s program", bpf_program__name(prog),
		 bpf_program__section_name(prog), libbpf_bpf_attach_type_str(eat) ?: "?",
		 w->att->hook, w->att->hook);
	return -EINVAL;
}

int hook_support_reason(int err, const char *family, const char *what, char *why, size_t whylen)
{
	if (!err)
		return 0;
	if (geteuid() != 0 && err == -EPERM)
		snprintf(why, whylen, "%s programs need root (a test %s program does not load: %s)",
			 family, what, strerror(-err));
	else if (err == -ENOENT)
		snprintf(why, whylen, "this kernel cannot run %s programs: it has no BTF for them "
			 "(/sys/kernel/btf/vmlinux)", family);
	else
		snprintf(why, whylen, "this kernel cannot run %s programs: a test %s program does "
			 "not load (%s): see `cnf-apply probe`", family, what, strerror(-err));
	return -EOPNOTSUPP;
}
