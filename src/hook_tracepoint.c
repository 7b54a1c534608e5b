// SPDX-License-Identifier: GPL-2.0-only
/* tracepoint: a static kernel tracepoint (GROUP/NAME in tracefs events/),
 * through a perf event and a BPF_PERF_EVENT link. Such links cannot swap
 * their program: a new version is attached beside the old one, then the
 * old one goes (several programs may share a tracepoint). */
#include <bpf/bpf.h>

#include "cnf/hooks.h"
#include "cnf/live.h"
#include "cnf/util.h"

static const char *const tp_sections[] = { "tracepoint", "tp", NULL };

static int tp_prepare(const struct cnf_attachment *a, struct bpf_program *prog,
		      struct cnf_target *t, char *why, size_t whylen)
{
	return hook_check_prog_type(a, prog, BPF_PROG_TYPE_TRACEPOINT,
				    "tracepoint (SEC(\"tracepoint/GROUP/NAME\"))", why, whylen);
}

static int tp_id_path(char *buf, size_t len, const char *tracefs, const char *name)
{
	return snprintf(buf, len, "%s/events/%s/id", tracefs, name) >= (int)len ? -ENAMETOOLONG : 0;
}

static int tp_resolve(const struct cnf_attachment *a, struct bpf_program *prog,
		      struct cnf_target *t, char *text, size_t textlen, char *why, size_t whylen)
{
	const char *name = a->tracepoint ? a->tracepoint : hook_section_target(prog, tp_sections, NULL);
	const char *tracefs = hook_tracefs();
	const char *slash = name ? strchr(name, '/') : NULL;
	char path[512];

	if (!name) {
		snprintf(why, whylen, "program '%s' (section '%s') names no tracepoint: set "
			 "'tracepoint: GROUP/NAME'", bpf_program__name(prog),
			 bpf_program__section_name(prog));
		return -EINVAL;
	}
	if (!slash || slash == name || !slash[1] || strchr(slash + 1, '/') || strstr(name, "..")) {
		snprintf(why, whylen, "tracepoint '%s' must be written GROUP/NAME", name);
		return -EINVAL;
	}
	snprintf(text, textlen, "%s", name);
	t->name = xstrdup(name);
	if (!tracefs) {
		snprintf(why, whylen, "tracepoints need tracefs, which is not mounted: "
			 "mount -t tracefs tracefs /sys/kernel/tracing");
		return -EOPNOTSUPP;
	}
	if (tp_id_path(path, sizeof(path), tracefs, name) < 0 || access(path, R_OK) < 0) {
		snprintf(why, whylen, "no tracepoint '%s' in this kernel (no %s/events/%s)", name,
			 tracefs, name);
		return -ENOENT;
	}
	return 0;
}

static void tp_describe(const struct cnf_target *t, char *buf, size_t len)
{
	snprintf(buf, len, "tracepoint=%s", t->name);
}

static int tp_attach(const struct cnf_instance *w, int prog_fd, const struct attach_args *args,
		     struct attach_result *res)
{
	struct hook_perf_event ev = { .pmu = "tracepoint" };
	const char *tracefs = hook_tracefs();
	_cleanup_fclose_ FILE *f = NULL;
	unsigned long long id;
	char path[512];

	if (!tracefs)
		return -ENOENT;
	if (tp_id_path(path, sizeof(path), tracefs, w->t.name) < 0)
		return -ENAMETOOLONG;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (fscanf(f, "%llu", &id) != 1)
		return -EINVAL;
	ev.config = id;
	return hook_perf_link(prog_fd, &ev);
}

/* Perf event links name a tracepoint without its group. */
static bool tp_match(const struct bpf_link_info *info, const char *name, const void *ctx)
{
	return info->perf_event.type == BPF_PERF_EVENT_TRACEPOINT && streq(name, (const char *)ctx);
}

static int tp_foreign(const struct cnf_instance *w, const uint32_t *own, size_t n_own,
		      struct foreign_prog **ret, size_t *ret_count)
{
	const char *slash = strchr(w->t.name, '/');

	return hook_links_foreign(BPF_LINK_TYPE_PERF_EVENT, tp_match, slash ? slash + 1 : w->t.name,
				  own, n_own, ret, ret_count);
}

static void tp_check_keys(const struct cnf_attachment *a, uint32_t present, hook_key_err_fn err,
			  void *ctx)
{
	const char *tp = a->tracepoint, *slash = tp ? strchr(tp, '/') : NULL;

	if (tp && *tp && (!slash || slash == tp || !slash[1] || strchr(slash + 1, '/')))
		err(ctx, "tracepoint", "tracepoint '%s' must be written GROUP/NAME", tp);
}

static const char *tracepoint_probed(const struct probe_result *p)
{
	return p->tracepoint ? "perf_event" : NULL;
}

const struct hook_ops hook_tracepoint_ops = {
	.kind = HOOK_TRACEPOINT,
	.name = "tracepoint",
	.probed = tracepoint_probed,
	.keys = {
		.keys = AK_BIT(AK_PROGRAM) | AK_BIT(AK_TRACEPOINT),
		.required = AK_BIT(AK_PROGRAM),
		.check = tp_check_keys,
	},
	.caps = { .link_update = false, .multi_prog = true, .shared_prog = true },
	.prepare = tp_prepare,
	.resolve = tp_resolve,
	.describe = tp_describe,
	.attach = tp_attach,
	.detach = hook_link_detach,
	.foreign = tp_foreign,
};
