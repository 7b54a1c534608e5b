// SPDX-License-Identifier: GPL-2.0-only
/* kprobe, kretprobe: a kernel function (plus an offset for kprobes),
 * through the kprobe PMU's perf event and a BPF_PERF_EVENT link. Such
 * links cannot swap their program: a new version is attached beside the
 * old one, then the old one goes. */
#include <inttypes.h>
#include <bpf/bpf.h>

#include "cnf/hooks.h"
#include "cnf/util.h"

static bool is_ret(const struct cnf_attachment *a)
{
	return streq(a->hook, "kretprobe");
}

static int kprobe_prepare(const struct cnf_attachment *a, struct bpf_program *prog,
			  struct cnf_target *t, char *why, size_t whylen)
{
	static const char *const other[] = { "kprobe", "kretprobe", NULL };
	const char *sec = bpf_program__section_name(prog), *prefix;
	int err = hook_check_prog_type(a, prog, BPF_PROG_TYPE_KPROBE, is_ret(a) ?
				       "kprobe (SEC(\"kretprobe/FUNCTION\"))" :
				       "kprobe (SEC(\"kprobe/FUNCTION\"))", why, whylen);

	if (err < 0)
		return err;
	if (bpf_program__expected_attach_type(prog) != 0) {
		snprintf(why, whylen, "program '%s' (section '%s') is a %s program, hook %s needs a "
			 "plain kprobe program (SEC(\"%s/FUNCTION\"))", bpf_program__name(prog), sec,
			 libbpf_bpf_attach_type_str(bpf_program__expected_attach_type(prog)) ?: "?",
			 a->hook, a->hook);
		return -EINVAL;
	}
	/* The entry and the return of a function give a program different
	 * contexts: a kretprobe program on a kprobe hook is a mistake. */
	hook_section_target(prog, other, &prefix);
	if (prefix && !streq(prefix, a->hook)) {
		snprintf(why, whylen, "program '%s' is a %s program (section '%s'), the hook is %s",
			 bpf_program__name(prog), prefix, sec, a->hook);
		return -EINVAL;
	}
	t->retprobe = is_ret(a);
	return 0;
}

static int kprobe_resolve(const struct cnf_attachment *a, struct bpf_program *prog,
			  struct cnf_target *t, char *text, size_t textlen, char *why, size_t whylen)
{
	static const char *const kp[] = { "kprobe", NULL }, *const krp[] = { "kretprobe", NULL };
	const char *sec = hook_section_target(prog, is_ret(a) ? krp : kp, NULL);
	uint64_t off = 0;
	int r;

	if (a->function) {
		t->name = xstrdup(a->function);
	} else if (sec) {
		/* libbpf's form: FUNCTION[+OFFSET] */
		const char *plus = strchr(sec, '+');
		char fn[256];

		snprintf(fn, sizeof(fn), "%.*s", plus ? (int)(plus - sec) : (int)strlen(sec), sec);
		t->name = xstrdup(fn);
		if (plus)
			off = strtoull(plus + 1, NULL, 0);
	} else {
		snprintf(why, whylen, "program '%s' (section '%s') names no kernel function: set "
			 "'function'", bpf_program__name(prog), bpf_program__section_name(prog));
		return -EINVAL;
	}
	if (a->offset)
		off = (uint64_t)*a->offset;
	t->offset = off;
	if (off)
		snprintf(text, textlen, "%s+0x%" PRIx64, t->name, off);
	else
		snprintf(text, textlen, "%s", t->name);
	if (!hook_pmu_exists("kprobe")) {
		snprintf(why, whylen, "kprobes are not available on this kernel (no kprobe PMU in "
			 "/sys/bus/event_source/devices: CONFIG_KPROBES, CONFIG_KPROBE_EVENTS)");
		return -EOPNOTSUPP;
	}
	r = hook_kallsyms_has(t->name);
	if (r < 0) {
		snprintf(why, whylen, "cannot read /proc/kallsyms: %s", strerror(-r));
		return r;
	}
	if (r == 0) {
		snprintf(why, whylen, "no kernel function '%s' in /proc/kallsyms", t->name);
		return -ENOENT;
	}
	return 0;
}

static void kprobe_describe(const struct cnf_target *t, char *buf, size_t len)
{
	snprintf(buf, len, "function=%s offset=%" PRIu64, t->name, t->offset);
}

static int kprobe_attach(const struct cnf_instance *w, int prog_fd, const struct attach_args *args,
			 struct attach_result *res)
{
	struct hook_perf_event ev = {
		.pmu = "kprobe",
		.retprobe = w->t.retprobe,
		.name = w->t.name,
		.offset = w->t.offset,
	};

	return hook_perf_link(prog_fd, &ev);
}

const struct hook_ops hook_kprobe_ops = {
	.kind = HOOK_KPROBE,
	.caps = { .link_update = false, .multi_prog = true },
	.prepare = kprobe_prepare,
	.resolve = kprobe_resolve,
	.describe = kprobe_describe,
	.attach = kprobe_attach,
	.detach = hook_link_detach,
};

const struct hook_ops hook_kretprobe_ops = {
	.kind = HOOK_KRETPROBE,
	.caps = { .link_update = false, .multi_prog = true },
	.prepare = kprobe_prepare,
	.resolve = kprobe_resolve,
	.describe = kprobe_describe,
	.attach = kprobe_attach,
	.detach = hook_link_detach,
};
