// SPDX-License-Identifier: GPL-2.0-only
/* plan_bench: the planner alone, against a synthetic observed state.
 *
 *   plan_bench [--reps K] [--case noop|rollout|fresh|anchored] N...
 *
 * For each N builds N desired instances (half xdp, half tcx, on N/2
 * interfaces, as the benchmark's glob manifest does) and N observed ones,
 * the way the engine hands them to plan_build() (the shapes of
 * tests/unit/test_plan.c), in the shuffled order a hash map gives back, and
 * times plan_build() in three cases:
 *
 *   noop     observed == desired: every action is a noop (the no-op apply)
 *   rollout  every program hash differs: every action is an update
 *   fresh    nothing observed: every action is a create
 *   anchored the no-op with every tcx instance declared `after:` the xdp
 *            attachment on its interface: the planner orders each after
 *            its anchor's instance (a lookup per instance)
 *
 * Prints one line per (N, case):
 *   N case cold_us warm_median_us warm_min_us warm_max_us warm_ns_per_instance
 *     input_bytes plan_bytes peak_rss_delta_kib
 * cold: the first call, on memory the process never touched (page faults
 * included), which is what the tool pays: it plans once per run. warm: the
 * median of the --reps calls after it, on memory malloc hands back again
 * (the computation alone). input_bytes: the desired + observed arrays;
 * plan_bytes: what the plan keeps (malloc'd bytes still in use after
 * plan_build); peak_rss_delta_kib: growth of the peak RSS over the first
 * call (its temporaries included); run one N and one case per process
 * for that number to mean something. */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

#include "cnf/engine.h"
#include "cnf/hooks.h"

static struct cnf_manifest man = { .name = (char *)"bench" };
static struct cnf_attachment atts[2] = {
	{ .name = (char *)"fw", .program = (char *)"xdp/xdp_main", .hook = (char *)"xdp" },
	{ .name = (char *)"count", .program = (char *)"tc/tc_main", .hook = (char *)"tcx" },
};
static const char *scope[] = { "bench" };

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static long maxrss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* Bytes malloc has handed out and not had back, mmap'd chunks included. */
static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Deterministic xorshift, for a shuffle that is the same on every run. */
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void want_fill(struct cnf_instance *w, size_t i, bool anchored)
{
	int a = (int)(i % 2);
	enum hook_kind kind = a ? HOOK_TCX : HOOK_XDP;
	char ifname[IF_NAMESIZE];

	snprintf(ifname, sizeof(ifname), "bv%zu%c", i / 4, (i / 2) % 2 ? 'b' : 'a');
	memset(w, 0, sizeof(*w));
	w->manifest = &man;
	w->att = &atts[a];
	w->att_idx = (size_t)a;
	w->t.kind = kind;
	snprintf(w->t.ifname, sizeof(w->t.ifname), "%s", ifname);
	w->t.ifindex = (int)i / 2 + 2;
	if (anchored && kind == HOOK_TCX) {
		w->t.order = ORDER_AFTER;
		w->t.anchor = atts[0].name;
	}
	snprintf(w->key, sizeof(w->key), "%s/%s", atts[a].name, ifname);
	snprintf(w->target_text, sizeof(w->target_text), "%s", ifname);
	snprintf(w->hook_desc, sizeof(w->hook_desc), "%s %s %s", atts[a].hook, ifname,
		 a ? "dir=ingress" : "mode=auto");
	memset(w->prog_hash, 0x11 * (a + 1), CNF_HASH_LEN);
	memset(w->hook_hash, (int)(i & 0xff), CNF_HASH_LEN);
}

static void have_fill(struct cnf_observed *h, const struct cnf_instance *w, size_t i,
		      bool new_prog)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->manifest, sizeof(h->manifest), "%s", w->manifest->name);
	snprintf(h->key, sizeof(h->key), "%s", w->key);
	h->has_record = h->has_pin = h->alive = true;
	h->link_id = h->rec.link_id = 1000 + (uint32_t)i;
	h->prog_id = h->rec.prog_id = w->t.kind == HOOK_XDP ? 10 : 11;
	h->rec.version = CNF_RECORD_VERSION;
	h->rec.hook = (uint32_t)w->t.kind;
	memcpy(h->rec.prog_hash, w->prog_hash, CNF_HASH_LEN);
	if (new_prog)
		h->rec.prog_hash[0] ^= 0xff;
	memcpy(h->rec.hook_hash, w->hook_hash, CNF_HASH_LEN);
	snprintf(h->rec.program, sizeof(h->rec.program), "%s", w->att->program);
	snprintf(h->rec.attachment, sizeof(h->rec.attachment), "%s", w->att->name);
	snprintf(h->rec.target, sizeof(h->rec.target), "%s", w->target_text);
	snprintf(h->rec.hook_desc, sizeof(h->rec.hook_desc), "%s", w->hook_desc);
}

static int bench(size_t n, const char *kase, int reps)
{
	bool fresh = !strcmp(kase, "fresh"), rollout = !strcmp(kase, "rollout");
	bool anchored = !strcmp(kase, "anchored");
	struct cnf_instance *want = calloc(n, sizeof(*want));
	struct cnf_observed *have = calloc(n, sizeof(*have));
	double *t = calloc((size_t)reps + 1, sizeof(*t)), cold;
	size_t nh = fresh ? 0 : n, plan_bytes = 0;
	long rss0, rss1 = 0;
	enum action_kind expect = fresh ? ACT_CREATE : rollout ? ACT_UPDATE : ACT_NOOP;

	if (!want || !have || !t)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		want_fill(&want[i], i, anchored);
	for (size_t i = 0; i < nh; i++)
		have_fill(&have[i], &want[i], i, rollout);
	for (size_t i = nh; i > 1; i--) {
		size_t j = next_rand() % i;
		struct cnf_observed tmp = have[i - 1];

		have[i - 1] = have[j];
		have[j] = tmp;
	}

	rss0 = maxrss_kib();
	for (int r = 0; r <= reps; r++) {
		struct plan_input in = {
			.want = want, .want_count = n, .have = have, .have_count = nh,
			.scope = scope, .scope_count = 1, .caps = hook_caps_get,
		};
		struct cnf_plan p;
		size_t before = heap_in_use();
		double t0 = now_us();
		int err = plan_build(&in, &p);

		t[r] = now_us() - t0;
		if (err < 0) {
			fprintf(stderr, "plan_bench: plan_build: %s\n", strerror(-err));
			return err;
		}
		if (r == 0) {
			plan_bytes = heap_in_use() - before;
			rss1 = maxrss_kib();
			/* The plan must be what the case says, or the timing means nothing. */
			for (size_t i = 0; i < p.count; i++)
				if (p.actions[i].kind != expect) {
					fprintf(stderr, "plan_bench: %s: action %zu is %s\n", kase, i,
						action_kind_name(p.actions[i].kind));
					return -EINVAL;
				}
			if (p.count != n) {
				fprintf(stderr, "plan_bench: %s: %zu actions for %zu instances\n", kase,
					p.count, n);
				return -EINVAL;
			}
		}
		plan_free(&p);
	}
	cold = t[0];
	qsort(t + 1, (size_t)reps, sizeof(*t), cmp_double);
	printf("%zu\t%s\t%.1f\t%.1f\t%.1f\t%.1f\t%.0f\t%zu\t%zu\t%ld\n", n, kase, cold,
	       t[1 + reps / 2], t[1], t[reps], t[1 + reps / 2] * 1000.0 / (double)n,
	       n * sizeof(*want) + nh * sizeof(*have), plan_bytes, rss1 - rss0);
	free(want);
	free(have);
	free(t);
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const cases[] = { "noop", "rollout", "fresh", "anchored" };
	const char *only = NULL;
	int reps = 21, i = 1;

	while (i + 1 < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--reps"))
			reps = atoi(argv[i + 1]) > 0 ? atoi(argv[i + 1]) : 1;
		else if (!strcmp(argv[i], "--case"))
			only = argv[i + 1];
		else
			break;
		i += 2;
	}
	/* Freed memory is reused, never returned: warm calls fault nothing. */
	mallopt(M_MMAP_THRESHOLD, 1 << 30);
	mallopt(M_TRIM_THRESHOLD, INT_MAX);
	if (i >= argc) {
		fprintf(stderr, "usage: plan_bench [--reps K] [--case noop|rollout|fresh|anchored] N...\n");
		return 1;
	}
	for (; i < argc; i++) {
		size_t n = strtoul(argv[i], NULL, 10);

		if (!n)
			continue;
		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
			if ((!only || !strcmp(only, cases[c])) && bench(n, cases[c], reps) < 0)
				return 1;
	}
	return 0;
}
