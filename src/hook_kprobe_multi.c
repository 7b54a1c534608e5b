// SPDX-License-Identifier: GPL-2.0-only
/* kprobe_multi: one program on many kernel functions (names or globs,
 * matched against what ftrace can attach to), through one fprobe-based
 * link; SEC("kretprobe.multi/...") makes it a return probe. The link
 * cannot swap its program. */
#include <bpf/bpf.h>
#include <bpf/btf.h>

#include "cnf/hooks.h"
#include "cnf/live.h"
#include "cnf/util.h"

static const char *const km_sections[] = { "kprobe.multi", "kretprobe.multi", NULL };

static int km_prepare(const struct cnf_attachment *a, struct bpf_program *prog,
		      struct cnf_target *t, char *why, size_t whylen)
{
	const char *prefix;
	int err = hook_check_prog_type(a, prog, BPF_PROG_TYPE_KPROBE,
				       "kprobe (SEC(\"kprobe.multi/PATTERN\"))", why, whylen);
	enum bpf_attach_type eat = bpf_program__expected_attach_type(prog);

	if (err < 0)
		return err;
	/* A plain kprobe program becomes a multi one: the kernel checks the
	 * expected attach type at load. */
	if (eat == 0)
		bpf_program__set_expected_attach_type(prog, BPF_TRACE_KPROBE_MULTI);
	else if (eat != BPF_TRACE_KPROBE_MULTI) {
		snprintf(why, whylen, "program '%s' (section '%s') is a %s program, hook kprobe_multi "
			 "needs SEC(\"kprobe.multi/...\")", bpf_program__name(prog),
			 bpf_program__section_name(prog), libbpf_bpf_attach_type_str(eat) ?: "?");
		return -EINVAL;
	}
	hook_section_target(prog, km_sections, &prefix);
	t->retprobe = prefix && streq(prefix, "kretprobe.multi");
	return 0;
}

static char *join(char *const *v, size_t n, char sep)
{
	size_t len = 1, o = 0;
	char *s;

	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	s = xcalloc(1, len);
	for (size_t i = 0; i < n; i++) {
		if (i)
			s[o++] = sep;
		memcpy(s + o, v[i], strlen(v[i]));
		o += strlen(v[i]);
	}
	return s;
}

static int km_resolve(const struct cnf_attachment *a, struct bpf_program *prog,
		      struct cnf_target *t, char *text, size_t textlen, char *why, size_t whylen)
{
	char *sec_pat = (char *)hook_section_target(prog, km_sections, NULL);
	char *const *pats = a->functions_count ? a->functions : &sec_pat;
	size_t npats = a->functions_count ? a->functions_count : 1, n;
	const char *unmatched;
	char **funcs;
	int err;

	if (!a->functions_count && !sec_pat) {
		snprintf(why, whylen, "program '%s' (section '%s') names no kernel functions: set "
			 "'functions'", bpf_program__name(prog), bpf_program__section_name(prog));
		return -EINVAL;
	}
	t->name = join(pats, npats, ',');
	snprintf(text, textlen, "%s", t->name);
	/* The program type needs kprobe events, the link fprobe: facts of
	 * sysfs and the kernel's BTF, not a test load (without fprobe the
	 * link's entry point exists but refuses; fprobe's own does not). */
	if (!hook_pmu_exists("kprobe") ||
	    hook_kernel_has(BTF_KIND_FUNC, "register_fprobe_ips") == 0) {
		snprintf(why, whylen, "kprobe_multi is not available on this kernel (no kprobes, or no "
			 "fprobe: CONFIG_KPROBES, CONFIG_FPROBE, Linux 5.18+)");
		return -EOPNOTSUPP;
	}
	err = hook_filter_functions(pats, npats, &funcs, &n, &unmatched);
	if (err == -ENOENT) {
		snprintf(why, whylen, "no kernel function matches '%s' (in %s/available_filter_functions)",
			 unmatched, hook_tracefs());
		return -ENOENT;
	}
	if (err < 0) {
		snprintf(why, whylen, "cannot list the kernel's traceable functions: %s%s",
			 strerror(-err), err == -ENOTSUP ? " (tracefs is not mounted: mount -t "
			 "tracefs tracefs /sys/kernel/tracing)" : "");
		return err;
	}
	/* What the attach will use, one function per line. */
	t->path = join(funcs, n, '\n');
	t->offset = n;          /* how many lines `path` holds */
	hook_strv_free(funcs, n);
	return 0;
}

static void km_describe(const struct cnf_target *t, char *buf, size_t len)
{
	snprintf(buf, len, "functions=%s return=%d", t->name, t->retprobe);
}

static int km_attach(const struct cnf_instance *w, int prog_fd, const struct attach_args *args,
		     struct attach_result *res)
{
	LIBBPF_OPTS(bpf_link_create_opts, o);
	_cleanup_free_ const char **syms = NULL;
	_cleanup_free_ char *list = xstrdup(w->t.path ? w->t.path : "");
	char *save = NULL;
	size_t n = 0;
	int fd;

	syms = xcalloc(w->t.offset + 1, sizeof(*syms));
	for (char *s = strtok_r(list, "\n", &save); s && n < w->t.offset; s = strtok_r(NULL, "\n", &save))
		syms[n++] = s;
	if (!n)
		return -ENOENT;
	o.kprobe_multi.syms = syms;
	o.kprobe_multi.cnt = (__u32)n;
	o.kprobe_multi.flags = w->t.retprobe ? BPF_F_KPROBE_MULTI_RETURN : 0;
	fd = bpf_link_create(prog_fd, 0, BPF_TRACE_KPROBE_MULTI, &o);
	return fd < 0 ? -errno : fd;
}

static const char *kprobe_multi_probed(const struct probe_result *p)
{
	return p->kprobe_multi ? "link" : NULL;
}

const struct hook_ops hook_kprobe_multi_ops = {
	.kind = HOOK_KPROBE_MULTI,
	.name = "kprobe_multi",
	.probed = kprobe_multi_probed,
	.keys = {
		.keys = AK_BIT(AK_PROGRAM) | AK_BIT(AK_FUNCTIONS),
		.required = AK_BIT(AK_PROGRAM),
	},
	.caps = { .link_update = false, .multi_prog = true, .shared_prog = true },
	.prepare = km_prepare,
	.resolve = km_resolve,
	.describe = km_describe,
	.attach = km_attach,
	.detach = hook_link_detach,
};
