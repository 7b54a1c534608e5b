// SPDX-License-Identifier: GPL-2.0-only
/* fentry, fexit: a kernel function by its BTF, through a BPF trampoline
 * and a tracing link. The function is part of the program's load (its
 * BTF id), so it is set before the load; the link cannot swap its
 * program. */
#include <bpf/bpf.h>
#include <bpf/btf.h>

#include "cnf/hooks.h"
#include "cnf/live.h"
#include "cnf/util.h"

static enum bpf_attach_type want_type(const struct cnf_attachment *a)
{
	return streq(a->hook, "fexit") ? BPF_TRACE_FEXIT : BPF_TRACE_FENTRY;
}

static int fentry_prepare(const struct cnf_attachment *a, struct bpf_program *prog,
			  struct cnf_target *t, char *why, size_t whylen)
{
	enum bpf_attach_type want = want_type(a), eat = bpf_program__expected_attach_type(prog);
	int err = hook_check_prog_type(a, prog, BPF_PROG_TYPE_TRACING, want == BPF_TRACE_FEXIT ?
				       "tracing (SEC(\"fexit/FUNCTION\"))" :
				       "tracing (SEC(\"fentry/FUNCTION\"))", why, whylen);

	if (err < 0)
		return err;
	if (eat != want) {
		snprintf(why, whylen, "program '%s' (section '%s') is a %s program, hook %s needs "
			 "SEC(\"%s/FUNCTION\")", bpf_program__name(prog), bpf_program__section_name(prog),
			 libbpf_bpf_attach_type_str(eat) ?: "?", a->hook, a->hook);
		return -EINVAL;
	}
	t->attach_type = want;
	/* A missing function is reported by resolve(), where a status run
	 * can still show the attachment. */
	if (a->function)
		(void)bpf_program__set_attach_target(prog, 0, a->function);
	return 0;
}

static int fentry_resolve(const struct cnf_attachment *a, struct bpf_program *prog,
			  struct cnf_target *t, char *text, size_t textlen, char *why, size_t whylen)
{
	static const char *const secs[] = { "fentry", "fexit", "fentry.s", "fexit.s", NULL };
	const char *fn = a->function ? a->function : hook_section_target(prog, secs, NULL);
	int r;

	if (!fn) {
		snprintf(why, whylen, "program '%s' (section '%s') names no kernel function: set "
			 "'function'", bpf_program__name(prog), bpf_program__section_name(prog));
		return -EINVAL;
	}
	t->name = xstrdup(fn);
	snprintf(text, textlen, "%s", fn);
	/* Facts of the kernel's BTF, not a test load: a run that changes
	 * nothing loads no program (`cnf-apply probe` does test loads). */
	if (!probe_vmlinux_btf()) {
		snprintf(why, whylen, "this kernel cannot run %s programs: it has no BTF "
			 "(/sys/kernel/btf/vmlinux)", a->hook);
		return -EOPNOTSUPP;
	}
	if (hook_kernel_has(BTF_KIND_FUNC, "bpf_trampoline_link_prog") == 0) {
		snprintf(why, whylen, "this kernel cannot run %s programs (no BPF trampoline)", a->hook);
		return -EOPNOTSUPP;
	}
	r = hook_btf_func_exists(fn);
	if (r <= 0) {
		snprintf(why, whylen, "no kernel function '%s' in the kernel's BTF (/sys/kernel/btf)", fn);
		return -ENOENT;
	}
	return 0;
}

static int fentry_supported(char *why, size_t whylen)
{
	return hook_support_reason(probe_trampoline_errno(), "fentry/fexit", "fentry", why, whylen);
}

static void fentry_describe(const struct cnf_target *t, char *buf, size_t len)
{
	snprintf(buf, len, "function=%s", t->name);
}

static int fentry_attach(const struct cnf_instance *w, int prog_fd, const struct attach_args *args,
			 struct attach_result *res)
{
	int fd = bpf_link_create(prog_fd, 0, w->t.attach_type, NULL);

	/* Kernels before tracing links in LINK_CREATE take the raw
	 * tracepoint command. */
	if (fd < 0 && errno == EINVAL)
		fd = bpf_raw_tracepoint_open(NULL, prog_fd);
	return fd < 0 ? -errno : fd;
}

/* Tracing links name their target by BTF object and type id. */
static int fentry_foreign(const struct cnf_instance *w, const uint32_t *own, size_t n_own,
			  struct foreign_prog **ret, size_t *ret_count)
{
	return hook_tracing_foreign(w->t.attach_type, w->t.name, own, n_own, ret, ret_count);
}

static const char *fentry_probed(const struct probe_result *p)
{
	return p->trampoline ? "trampoline" : NULL;
}

const struct hook_ops hook_fentry_ops = {
	.kind = HOOK_FENTRY,
	.name = "fentry",
	.probed = fentry_probed,
	.keys = {
		.keys = AK_BIT(AK_PROGRAM) | AK_BIT(AK_FUNCTION),
		.required = AK_BIT(AK_PROGRAM),
	},
	.caps = { .link_update = false, .multi_prog = true },
	.prepare = fentry_prepare,
	.supported = fentry_supported,
	.resolve = fentry_resolve,
	.describe = fentry_describe,
	.attach = fentry_attach,
	.detach = hook_link_detach,
	.foreign = fentry_foreign,
};

const struct hook_ops hook_fexit_ops = {
	.kind = HOOK_FEXIT,
	.name = "fexit",
	.probed = fentry_probed,
	.keys = {
		.keys = AK_BIT(AK_PROGRAM) | AK_BIT(AK_FUNCTION),
		.required = AK_BIT(AK_PROGRAM),
	},
	.caps = { .link_update = false, .multi_prog = true },
	.prepare = fentry_prepare,
	.supported = fentry_supported,
	.resolve = fentry_resolve,
	.describe = fentry_describe,
	.attach = fentry_attach,
	.detach = hook_link_detach,
	.foreign = fentry_foreign,
};
