// SPDX-License-Identifier: GPL-2.0-only
/* kprobe, kretprobe: a kernel function (plus an offset for kprobes),
 * through the kprobe PMU's perf event and a BPF_PERF_EVENT link. Such
 * links cannot swap their program: a new version is attached beside the
 * old one, then the old one goes.
 *
 * A kretprobe with `maxactive` goes through tracefs instead: the kprobe
 * PMU has no way to say how many return probe instances to keep, the
 * kprobe_events file has ("r<N>:GROUP/EVENT FUNCTION"). Such an event is
 * created in the tool's own group, opened as a tracepoint perf event and
 * linked like any other; the event outlives the link and is removed once
 * the link has gone. Its name carries the id of the program it was made
 * for, so an event left behind (a run killed between creating it and
 * pinning the link, a link whose release the kernel had not finished when
 * the run ended) is recognised later: its program no longer exists, and
 * the kernel refuses to remove an event a perf event still uses. */
#include <fcntl.h>
#include <inttypes.h>
#include <time.h>
#include <sys/stat.h>
#include <bpf/bpf.h>

#include "cnf/hooks.h"
#include "cnf/live.h"
#include "cnf/log.h"
#include "cnf/objects.h"
#include "cnf/util.h"

/* The tracefs group of the tool's kretprobe events. */
#define KP_GROUP "cnf_apply"
/* tracefs event names: [A-Za-z_][A-Za-z0-9_]*, fewer than 64 characters. */
#define KP_EVENT_MAX 64
/* How long the end of a run waits for the kernel to release the perf
 * events of links it removed, before leaving their events to a later run. */
#define KP_RELEASE_WAIT_MS 5000

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
	/* The manifest loader allows it on kretprobes only, in range. */
	t->maxactive = a->maxactive ? (uint32_t)*a->maxactive : 0;
	return 0;
}

static int kprobe_events_path(char *buf, size_t len)
{
	const char *tracefs = hook_tracefs();

	if (!tracefs)
		return -ENOENT;
	snprintf(buf, len, "%s/kprobe_events", tracefs);
	return access(buf, W_OK) == 0 ? 0 : -errno;
}

static int kprobe_resolve(const struct cnf_attachment *a, struct bpf_program *prog,
			  struct cnf_target *t, char *text, size_t textlen, char *why, size_t whylen)
{
	static const char *const kp[] = { "kprobe", NULL }, *const krp[] = { "kretprobe", NULL };
	const char *sec = hook_section_target(prog, is_ret(a) ? krp : kp, NULL);
	uint64_t off = 0;
	char path[256];
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
	if (t->maxactive && kprobe_events_path(path, sizeof(path)) < 0) {
		snprintf(why, whylen, "maxactive needs tracefs's kprobe_events, which is not there: "
			 "mount -t tracefs tracefs /sys/kernel/tracing");
		return -EOPNOTSUPP;
	}
	if (t->retprobe && off) {
		/* A section's "+OFFSET" (the manifest loader refuses the key). */
		snprintf(why, whylen, "a kretprobe sits at the function entry: offset 0x%" PRIx64
			 " of section '%s' cannot be used", off, bpf_program__section_name(prog));
		return -EINVAL;
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
	int n = snprintf(buf, len, "function=%s offset=%" PRIu64, t->name, t->offset);

	/* Only when set: attachments without it keep their identity. */
	if (t->maxactive && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, " maxactive=%u", t->maxactive);
}

/* ---- kretprobe events in tracefs (maxactive) ---- */

/* Writes one command to kprobe_events. Never opened for writing without
 * O_APPEND: a truncating open removes every kprobe event of the host. */
static int kp_command(const char *cmd)
{
	_cleanup_close_ int fd = -1;
	char path[256];
	size_t n = strlen(cmd);
	ssize_t w;
	int err = kprobe_events_path(path, sizeof(path));

	if (err < 0)
		return err;
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	w = write(fd, cmd, n);
	if (w < 0)
		return -errno;
	return (size_t)w == n ? 0 : -EIO;
}

static int kp_event_remove(const char *event)
{
	char cmd[KP_EVENT_MAX + 32];
	int err;

	snprintf(cmd, sizeof(cmd), "-:%s/%s\n", KP_GROUP, event);
	err = kp_command(cmd);
	return err == -ENOENT ? 0 : err;
}

/* "<function>_<program id>_<hash>": the function for people, the
 * program for recognising leftovers, a hash of the attachment and its
 * hook identity so that one program on several attachments gets one
 * event each. The same from the instance (attach) and from its record
 * (detach). */
static void kp_event_name(char out[KP_EVENT_MAX], const char *attachment, const char *hook_desc,
			  const char *target, uint32_t prog_id)
{
	_cleanup_free_ char *id = strprintf("%s\n%s", attachment, hook_desc);
	uint8_t h[CNF_HASH_LEN] = { 0 };
	char fn[25];
	size_t i;

	if (id)
		sha256_buf(id, strlen(id), h);
	for (i = 0; i < sizeof(fn) - 1 && target[i] && target[i] != '+'; i++) {
		char c = target[i];

		fn[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ?
			c : '_';
	}
	fn[i] = '\0';
	snprintf(out, KP_EVENT_MAX, "%s%s_%u_%02x%02x%02x%02x", fn[0] >= '0' && fn[0] <= '9' ?
		 "_" : "", fn, prog_id, h[0], h[1], h[2], h[3]);
}

/* The program id in an event name, 0 if it is not one of ours. */
static uint32_t kp_event_prog_id(const char *event)
{
	const char *hash = strrchr(event, '_'), *id;
	unsigned long v;
	char *end;

	if (!hash || hash == event || strlen(hash + 1) != 8)
		return 0;
	for (id = hash - 1; id > event && id[-1] != '_'; id--)
		;
	if (id == event)
		return 0;
	v = strtoul(id, &end, 10);
	return end == hash && v > 0 && v <= UINT32_MAX ? (uint32_t)v : 0;
}

/* Events of the tool's group, from kprobe_events
 * ("r16:cnf_apply/do_unlinkat_42_0a1b2c3d do_unlinkat"). */
static int kp_events_list(char ***ret, size_t *ret_count)
{
	_cleanup_fclose_ FILE *f = NULL;
	char path[256], line[1024], **v = NULL;
	size_t n = 0, cap = 0;
	int err = kprobe_events_path(path, sizeof(path));

	*ret = NULL;
	*ret_count = 0;
	if (err < 0)
		return err;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':'), *ev;

		if (!colon || strncmp(colon + 1, KP_GROUP "/", strlen(KP_GROUP) + 1) != 0)
			continue;
		ev = colon + 1 + strlen(KP_GROUP) + 1;
		ev[strcspn(ev, " \t\n")] = '\0';
		if (!*ev || strlen(ev) >= KP_EVENT_MAX)
			continue;
		if (grow_array((void **)&v, &cap, n + 1, sizeof(*v)) < 0) {
			hook_strv_free(v, n);
			return -ENOMEM;
		}
		v[n++] = xstrdup(ev);
	}
	*ret = v;
	*ret_count = n;
	return 0;
}

/* Removes the group's events whose program is gone: no link can use
 * them, and no run can be about to (a run makes the event for a program
 * it holds). One the kernel still finds in use (EBUSY) is kept. */
static void kp_sweep(void)
{
	char **ev;
	size_t n;

	if (kp_events_list(&ev, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		uint32_t id = kp_event_prog_id(ev[i]);
		int fd, err;

		if (!id)
			continue;
		fd = bpf_prog_get_fd_by_id(id);
		if (fd >= 0 || errno != ENOENT) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		err = kp_event_remove(ev[i]);
		if (err < 0)
			log_debug("kretprobe event %s/%s left by an earlier run: %s", KP_GROUP, ev[i],
				  strerror(-err));
		else
			log_debug("removed kretprobe event %s/%s left by an earlier run", KP_GROUP, ev[i]);
	}
	hook_strv_free(ev, n);
}

/* Events of links this process removed: the kernel lets go of a link's
 * perf event a moment after its last reference (the pin) is gone, so
 * they are removed later in the run, or at its end. */
static char (*kp_pending)[KP_EVENT_MAX];
static size_t kp_pending_count, kp_pending_cap;

/* One pass over the pending events; returns how many are still busy. */
static size_t kp_pending_try(void)
{
	size_t k = 0;

	for (size_t i = 0; i < kp_pending_count; i++) {
		int err = kp_event_remove(kp_pending[i]);

		if (err == -EBUSY) {
			memmove(kp_pending[k++], kp_pending[i], KP_EVENT_MAX);
			continue;
		}
		if (err < 0)
			log_warn("cannot remove kretprobe event %s/%s: %s", KP_GROUP, kp_pending[i],
				 strerror(-err));
	}
	kp_pending_count = k;
	return k;
}

static void kp_at_exit(void)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (kp_pending_try() > 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >=
		    KP_RELEASE_WAIT_MS)
			break;
		usleep(10 * 1000);
	}
	for (size_t i = 0; i < kp_pending_count; i++)
		log_warn("kretprobe event %s/%s is still in use; a later run that attaches or "
			 "removes a kprobe removes it", KP_GROUP, kp_pending[i]);
	free(kp_pending);
	kp_pending = NULL;
	kp_pending_count = kp_pending_cap = 0;
	kp_sweep();
}

/* Before the first change to kprobe events in this process: tidy what
 * earlier runs left, and make sure the end of the process tidies too. */
static void kp_begin(void)
{
	static bool begun;

	if (!begun) {
		begun = true;
		atexit(kp_at_exit);
		kp_sweep();
	} else {
		kp_pending_try();
	}
}

static uint32_t prog_id_of(int prog_fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return bpf_info_get(prog_fd, &info, &len) == 0 ? info.id : 0;
}

static int kp_event_id(const char *event, uint64_t *ret)
{
	_cleanup_fclose_ FILE *f = NULL;
	unsigned long long id;
	char path[512];

	snprintf(path, sizeof(path), "%s/events/%s/%s/id", hook_tracefs() ?: "", KP_GROUP, event);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (fscanf(f, "%llu", &id) != 1)
		return -EINVAL;
	*ret = id;
	return 0;
}

static int kretprobe_event_attach(const struct cnf_instance *w, int prog_fd)
{
	struct hook_perf_event ev = { .pmu = "tracepoint" };
	char event[KP_EVENT_MAX], cmd[KP_EVENT_MAX + 512];
	uint32_t prog_id = prog_id_of(prog_fd);
	int fd, err;

	if (!prog_id)
		return -EINVAL;
	kp_begin();
	kp_event_name(event, w->att->name, w->hook_desc, w->target_text, prog_id);
	/* Only a run killed before pinning leaves an event of a live
	 * program behind: its own, from an earlier attempt in this run. */
	err = kp_event_remove(event);
	if (err < 0)
		return err;
	if (snprintf(cmd, sizeof(cmd), "r%u:%s/%s %s\n", w->t.maxactive, KP_GROUP, event,
		     w->t.name) >= (int)sizeof(cmd))
		return -ENAMETOOLONG;
	err = kp_command(cmd);
	if (err < 0) {
		log_debug("kprobe_events: '%.*s': %s", (int)strlen(cmd) - 1, cmd, strerror(-err));
		return err;
	}
	err = kp_event_id(event, &ev.config);
	fd = err < 0 ? err : hook_perf_link(prog_fd, &ev);
	if (fd < 0) {
		/* Nothing uses the event: it goes at once. */
		kp_event_remove(event);
		return fd;
	}
	log_debug("kretprobe event %s/%s: maxactive %u on %s", KP_GROUP, event, w->t.maxactive,
		  w->t.name);
	return fd;
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

	if (w->t.retprobe && w->t.maxactive)
		return kretprobe_event_attach(w, prog_fd);
	return hook_perf_link(prog_fd, &ev);
}

static int kprobe_detach(const struct cnf_record *rec, int pin_fd)
{
	char event[KP_EVENT_MAX];
	int err = hook_link_detach(rec, pin_fd);

	if (err < 0 || rec->hook != HOOK_KRETPROBE || !strstr(rec->hook_desc, " maxactive="))
		return err;
	/* The pin still holds the link: its event goes once the kernel has
	 * released the link. */
	kp_begin();
	kp_event_name(event, rec->attachment, rec->hook_desc, rec->target, rec->prog_id);
	if (grow_array((void **)&kp_pending, &kp_pending_cap, kp_pending_count + 1,
		       sizeof(*kp_pending)) < 0)
		return 0; /* a later run removes it */
	memcpy(kp_pending[kp_pending_count++], event, KP_EVENT_MAX);
	return 0;
}

/* Perf event links of kprobes name the function (maybe "MODULE:FUNCTION")
 * and the offset; return probes made through tracefs (maxactive, by this
 * tool or another) report the same. */
static bool kprobe_match(const struct bpf_link_info *info, const char *name, const void *ctx)
{
	const struct cnf_target *t = ctx;
	const char *colon = strchr(name, ':');

	if (info->perf_event.type != (t->retprobe ? BPF_PERF_EVENT_KRETPROBE : BPF_PERF_EVENT_KPROBE) ||
	    info->perf_event.kprobe.offset != t->offset)
		return false;
	return streq(name, t->name) || (colon && streq(colon + 1, t->name));
}

static int kprobe_foreign(const struct cnf_instance *w, const uint32_t *own, size_t n_own,
			  struct foreign_prog **ret, size_t *ret_count)
{
	return hook_links_foreign(BPF_LINK_TYPE_PERF_EVENT, kprobe_match, &w->t, own, n_own, ret,
				  ret_count);
}

static const struct hook_key_rule kretprobe_rules[] = {
	{ AK_MAXACTIVE, NULL, 1, CNF_MAXACTIVE_MAX },
	{ AK__COUNT, NULL, 0, 0 },
};

static void kretprobe_check_keys(const struct cnf_attachment *a, uint32_t present,
				 hook_key_err_fn err, void *ctx)
{
	if (a->offset && *a->offset > 0)
		err(ctx, "offset", "offset must be 0 for hook 'kretprobe' (return probes sit at "
		    "the function entry)");
}

static const char *kprobe_probed(const struct probe_result *p)
{
	return p->kprobe ? "perf_event" : NULL;
}

const struct hook_ops hook_kprobe_ops = {
	.kind = HOOK_KPROBE,
	.name = "kprobe",
	.probed = kprobe_probed,
	.keys = {
		.keys = AK_BIT(AK_PROGRAM) | AK_BIT(AK_FUNCTION) | AK_BIT(AK_OFFSET),
		.required = AK_BIT(AK_PROGRAM),
	},
	.caps = { .link_update = false, .multi_prog = true, .shared_prog = true },
	.prepare = kprobe_prepare,
	.fit = hook_fit_single_probe,
	.resolve = kprobe_resolve,
	.describe = kprobe_describe,
	.attach = kprobe_attach,
	.detach = kprobe_detach,
	.foreign = kprobe_foreign,
};

const struct hook_ops hook_kretprobe_ops = {
	.kind = HOOK_KRETPROBE,
	.name = "kretprobe",
	.probed = kprobe_probed,
	.keys = {
		.keys = AK_BIT(AK_PROGRAM) | AK_BIT(AK_FUNCTION) | AK_BIT(AK_OFFSET) | AK_BIT(AK_MAXACTIVE),
		.required = AK_BIT(AK_PROGRAM),
		.rules = kretprobe_rules,
		.check = kretprobe_check_keys,
	},
	.caps = { .link_update = false, .multi_prog = true, .shared_prog = true },
	.prepare = kprobe_prepare,
	.fit = hook_fit_single_probe,
	.resolve = kprobe_resolve,
	.describe = kprobe_describe,
	.attach = kprobe_attach,
	.detach = kprobe_detach,
	.foreign = kprobe_foreign,
};
