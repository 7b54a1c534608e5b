// SPDX-License-Identifier: GPL-2.0-only
/* lsm: a BPF LSM hook (file_open, bprm_check_security, ...), through a
 * BPF trampoline and a tracing link. Needs "bpf" among the kernel's
 * active LSMs. The hook is part of the program's load, so it is set
 * before the load; the link cannot swap its program. */
#include <bpf/bpf.h>

#include "cnf/hooks.h"
#include "cnf/live.h"
#include "cnf/util.h"

static int lsm_prepare(const struct cnf_attachment *a, struct bpf_program *prog,
		       struct cnf_target *t, char *why, size_t whylen)
{
	enum bpf_attach_type eat = bpf_program__expected_attach_type(prog);
	int err = hook_check_prog_type(a, prog, BPF_PROG_TYPE_LSM, "lsm (SEC(\"lsm/HOOK\"))",
				       why, whylen);

	if (err < 0)
		return err;
	if (eat != BPF_LSM_MAC) {
		snprintf(why, whylen, "program '%s' (section '%s') is a %s program, hook lsm needs "
			 "SEC(\"lsm/HOOK\")", bpf_program__name(prog), bpf_program__section_name(prog),
			 libbpf_bpf_attach_type_str(eat) ?: "?");
		return -EINVAL;
	}
	t->attach_type = BPF_LSM_MAC;
	if (a->function)
		(void)bpf_program__set_attach_target(prog, 0, a->function);
	return 0;
}

static int lsm_resolve(const struct cnf_attachment *a, struct bpf_program *prog,
		       struct cnf_target *t, char *text, size_t textlen, char *why, size_t whylen)
{
	static const char *const secs[] = { "lsm", "lsm.s", NULL };
	const char *hook = a->function ? a->function : hook_section_target(prog, secs, NULL);
	char fn[256];

	if (!hook) {
		snprintf(why, whylen, "program '%s' (section '%s') names no LSM hook: set 'function'",
			 bpf_program__name(prog), bpf_program__section_name(prog));
		return -EINVAL;
	}
	t->name = xstrdup(hook);
	snprintf(text, textlen, "%s", hook);
	if (!probe_bpf_lsm_active()) {
		snprintf(why, whylen, "this kernel has no BPF LSM: \"bpf\" is not an active LSM "
			 "(boot with lsm=...,bpf)");
		return -EOPNOTSUPP;
	}
	snprintf(fn, sizeof(fn), "bpf_lsm_%s", hook);
	if (hook_btf_func_exists(fn) <= 0) {
		snprintf(why, whylen, "no LSM hook '%s' in this kernel (no %s in its BTF)", hook, fn);
		return -ENOENT;
	}
	return 0;
}

static void lsm_describe(const struct cnf_target *t, char *buf, size_t len)
{
	snprintf(buf, len, "lsm_hook=%s", t->name);
}

static int lsm_attach(const struct cnf_instance *w, int prog_fd, const struct attach_args *args,
		      struct attach_result *res)
{
	int fd = bpf_link_create(prog_fd, 0, BPF_LSM_MAC, NULL);

	if (fd < 0 && errno == EINVAL)
		fd = bpf_raw_tracepoint_open(NULL, prog_fd);
	return fd < 0 ? -errno : fd;
}

/* An LSM program runs from the trampoline of bpf_lsm_<hook>: other
 * tools' LSM links there are on the same hook. */
static int lsm_foreign(const struct cnf_instance *w, const uint32_t *own, size_t n_own,
		       struct foreign_prog **ret, size_t *ret_count)
{
	char fn[256];

	snprintf(fn, sizeof(fn), "bpf_lsm_%s", w->t.name);
	return hook_tracing_foreign(BPF_LSM_MAC, fn, own, n_own, ret, ret_count);
}

static int lsm_supported(char *why, size_t whylen)
{
	int err = probe_bpf_lsm_errno();

	if (err == -ENOPKG) {
		snprintf(why, whylen, "this kernel has no BPF LSM: \"bpf\" is not an active LSM "
			 "(boot with lsm=...,bpf)");
		return -EOPNOTSUPP;
	}
	return hook_support_reason(err, "LSM", "LSM", why, whylen);
}

static const char *lsm_probed(const struct probe_result *p)
{
	return p->bpf_lsm ? "trampoline" : NULL;
}

const struct hook_ops hook_lsm_ops = {
	.kind = HOOK_LSM,
	.name = "lsm",
	.probed = lsm_probed,
	.keys = {
		.keys = AK_BIT(AK_PROGRAM) | AK_BIT(AK_FUNCTION),
		.required = AK_BIT(AK_PROGRAM),
	},
	.caps = { .link_update = false, .multi_prog = true },
	.prepare = lsm_prepare,
	.supported = lsm_supported,
	.resolve = lsm_resolve,
	.describe = lsm_describe,
	.attach = lsm_attach,
	.detach = hook_link_detach,
	.foreign = lsm_foreign,
};
