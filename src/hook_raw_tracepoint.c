// SPDX-License-Identifier: GPL-2.0-only
/* raw_tracepoint: a kernel tracepoint by its bare name, for raw
 * tracepoint programs (SEC("raw_tp/NAME"), also writable ones) and BTF
 * typed ones (SEC("tp_btf/NAME")). The link cannot swap its program. */
#include <bpf/bpf.h>
#include <bpf/btf.h>

#include "cnf/hooks.h"
#include "cnf/live.h"
#include "cnf/util.h"

static const char *const raw_sections[] = {
	"raw_tracepoint", "raw_tp", "raw_tracepoint.w", "raw_tp.w", "tp_btf", NULL,
};

static bool is_btf_tp(struct bpf_program *prog)
{
	return bpf_program__type(prog) == BPF_PROG_TYPE_TRACING &&
	       bpf_program__expected_attach_type(prog) == BPF_TRACE_RAW_TP;
}

static int raw_prepare(const struct cnf_attachment *a, struct bpf_program *prog,
		       struct cnf_target *t, char *why, size_t whylen)
{
	enum bpf_prog_type pt = bpf_program__type(prog);

	if (pt != BPF_PROG_TYPE_RAW_TRACEPOINT && pt != BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE &&
	    !is_btf_tp(prog))
		return hook_check_prog_type(a, prog, BPF_PROG_TYPE_RAW_TRACEPOINT,
					    "raw_tracepoint (SEC(\"raw_tp/NAME\")) or tracing "
					    "(SEC(\"tp_btf/NAME\"))", why, whylen);
	/* A BTF-typed program is verified against its tracepoint: name it
	 * before the load. A missing one is reported by resolve(). */
	if (is_btf_tp(prog) && a->tracepoint)
		(void)bpf_program__set_attach_target(prog, 0, a->tracepoint);
	return 0;
}

/* Is NAME a tracepoint of any group in tracefs events/? */
static bool tracefs_has(const char *name)
{
	const char *tracefs = hook_tracefs();
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	char p[512];

	if (!tracefs)
		return false;
	snprintf(p, sizeof(p), "%s/events", tracefs);
	d = opendir(p);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/events/%s/%s", tracefs, de->d_name, name);
		if (access(p, F_OK) == 0)
			return true;
	}
	return false;
}

static int raw_resolve(const struct cnf_attachment *a, struct bpf_program *prog,
		       struct cnf_target *t, char *text, size_t textlen, char *why, size_t whylen)
{
	const char *name = a->tracepoint ? a->tracepoint : hook_section_target(prog, raw_sections, NULL);
	const struct btf *btf;
	char tname[256];

	if (!name) {
		snprintf(why, whylen, "program '%s' (section '%s') names no tracepoint: set "
			 "'tracepoint: NAME'", bpf_program__name(prog), bpf_program__section_name(prog));
		return -EINVAL;
	}
	if (strchr(name, '/')) {
		snprintf(why, whylen, "raw tracepoint '%s' must be a plain name", name);
		return -EINVAL;
	}
	snprintf(text, textlen, "%s", name);
	t->name = xstrdup(name);
	if (tracefs_has(name))
		return 0;
	/* Tracepoints without a trace event (DECLARE_TRACE) only show in BTF. */
	btf = probe_vmlinux_btf();
	snprintf(tname, sizeof(tname), "btf_trace_%s", name);
	if (btf && btf__find_by_name_kind(btf, tname, BTF_KIND_TYPEDEF) > 0)
		return 0;
	snprintf(why, whylen, "no tracepoint '%s' in this kernel (neither in tracefs events/ nor "
		 "as %s in its BTF)", name, tname);
	return -ENOENT;
}

static void raw_describe(const struct cnf_target *t, char *buf, size_t len)
{
	snprintf(buf, len, "tracepoint=%s", t->name);
}

static int raw_attach(const struct cnf_instance *w, int prog_fd, const struct attach_args *args,
		      struct attach_result *res)
{
	/* A BTF-typed program carries its tracepoint from the load. */
	int fd = bpf_raw_tracepoint_open(args->prog && is_btf_tp(args->prog) ? NULL : w->t.name,
					 prog_fd);

	return fd < 0 ? -errno : fd;
}

/* Raw tracepoint links, tp_btf ones included, name their tracepoint. */
static bool raw_match(const struct bpf_link_info *info, const char *name, const void *ctx)
{
	return streq(name, (const char *)ctx);
}

static int raw_foreign(const struct cnf_instance *w, const uint32_t *own, size_t n_own,
		       struct foreign_prog **ret, size_t *ret_count)
{
	return hook_links_foreign(BPF_LINK_TYPE_RAW_TRACEPOINT, raw_match, w->t.name, own, n_own,
				  ret, ret_count);
}

static void rtp_check_keys(const struct cnf_attachment *a, uint32_t present,
			   hook_key_err_fn err, void *ctx)
{
	if (a->tracepoint && strchr(a->tracepoint, '/'))
		err(ctx, "tracepoint", "raw tracepoint '%s' must be a plain name (no GROUP/ part)",
		    a->tracepoint);
}

static const char *raw_tracepoint_probed(const struct probe_result *p)
{
	return p->raw_tracepoint ? "raw_tracepoint" : NULL;
}

const struct hook_ops hook_raw_tracepoint_ops = {
	.kind = HOOK_RAW_TRACEPOINT,
	.name = "raw_tracepoint",
	.probed = raw_tracepoint_probed,
	.keys = {
		.keys = AK_BIT(AK_PROGRAM) | AK_BIT(AK_TRACEPOINT),
		.required = AK_BIT(AK_PROGRAM),
		.check = rtp_check_keys,
	},
	.caps = { .link_update = false, .multi_prog = true, .shared_prog = true },
	.prepare = raw_prepare,
	.resolve = raw_resolve,
	.describe = raw_describe,
	.attach = raw_attach,
	.detach = hook_link_detach,
	.foreign = raw_foreign,
};
