// SPDX-License-Identifier: GPL-2.0-only
/* cnf-apply: options and the verb table. */
#include <errno.h>
#include <getopt.h>
#include <sys/resource.h>
#include <stdio.h>
#include <ctype.h>

#include "cnf/cli.h"
#include "cnf/log.h"
#include "cnf/output.h"
#include "cnf/suggest.h"
#include "cnf/util.h"

#ifndef CNF_VERSION
#define CNF_VERSION "0.1.0"
#endif

struct verb {
	const char *name;
	int (*run)(const struct cli *cli);
	const char *help;
	const char *args;   /* what follows the verb in its usage line */
	const char *opts;   /* the options it takes, besides those of every verb */
};

static const struct verb verbs[] = {
	{ "plan",     cmd_plan,     "show what apply would do; change nothing", "[PATH...]",
	  "--dry-run --out --destroy --all --target --wait --no-wait" },
	{ "apply",    cmd_apply,    "converge live state to the manifests (default)", "[PATH...]",
	  "--dry-run --detailed-exitcode --plan --target --wait --no-wait" },
	{ "status",   cmd_status,   "desired vs live for every attachment", "[PATH...]",
	  "--metrics --target --wait --no-wait" },
	{ "destroy",  cmd_destroy,  "remove everything the named manifests own", "[PATH...]",
	  "--detailed-exitcode --all --target --wait --no-wait" },
	{ "validate", cmd_validate, "check manifests and objects; no kernel changes", "[PATH...]",
	  "" },
	{ "probe",    cmd_probe,    "report what this kernel supports", "", "" },
	{ "watch",    cmd_watch,    "apply, then keep converging as things change", "[PATH...]",
	  "--wait --no-wait --interval --settle" },
};

/* Every option, as the help shows it; the first word is its name. */
static const char *const option_help[] = {
	"--bpffs DIR            state root (default " CNF_DEFAULT_BPFFS ")",
	"--json                 one JSON document on stdout (watch: JSON lines); messages on stderr",
	"--dry-run              same as the plan verb",
	"--detailed-exitcode    apply/destroy: exit 2 when something changed",
	"--all                  destroy, plan --destroy: everything under the state root",
	"--target M[/A]         plan, apply, status, destroy: only manifest M's attachment A\n"
	"                         (or all of M's); repeatable",
	"--out FILE             plan: also save the plan to FILE",
	"--plan FILE            apply: carry out the plan saved in FILE, or change nothing\n"
	"                         if what it was computed from changed",
	"--destroy              plan: what destroy would do",
	"--metrics              status: Prometheus text exposition instead of the table",
	"--no-iter              read links with BPF_LINK_GET_NEXT_ID, not the iterator",
	"--wait SECONDS         wait that long for another run's lock (default 60)",
	"--no-wait              fail at once if another run holds the lock",
	"--interval SECONDS     watch: full reconcile this often (default 30; 0: never)",
	"--settle MS            watch: quiet time that ends a burst of events (default 100)",
	"-v, --verbose          more messages (libbpf's log; twice: debug)",
	"-h, --help             this help",
	"-V, --version          print the version",
};

/* The options every verb takes. */
#define COMMON_OPTS "--bpffs --json --no-iter -v, -h, -V,"

/* Whether the option of help line `line` (its first word) is in the
 * space-separated list `opts`. */
static bool option_in(const char *line, const char *opts)
{
	size_t len = strcspn(line, " ");

	for (const char *p = opts; *p; p += strspn(p, " ")) {
		size_t n = strcspn(p, " ");

		if (n == len && !strncmp(p, line, len))
			return true;
		p += n;
	}
	return false;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: cnf-apply [OPTIONS] [VERB] [PATH...]\n"
		"\n"
		"Converge the eBPF attachments of this host to YAML manifests.\n"
		"\n"
		"Verbs (cnf-apply VERB --help: its own options):\n");
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
		fprintf(f, "  %-9s %s\n", verbs[i].name, verbs[i].help);
	fprintf(f,
		"\n"
		"PATH: manifest files or directories (default " CNF_DEFAULT_PATH ")\n"
		"\n"
		"Options:\n");
	for (size_t i = 0; i < ARRAY_SIZE(option_help); i++)
		fprintf(f, "  %s\n", option_help[i]);
	fprintf(f,
		"\n"
		"Exit status: 0 success and nothing to change; 2 plan/status found\n"
		"differences, or apply --detailed-exitcode changed something; 1 error.\n");
}

/* VERB --help: its usage line and the options it takes. */
static void verb_usage(const struct verb *v)
{
	printf("Usage: cnf-apply [OPTIONS] %s%s%s\n\n%c%s.\n\n", v->name, *v->args ? " " : "",
	       v->args, toupper((unsigned char)v->help[0]), v->help + 1);
	if (*v->args)
		printf("PATH: manifest files or directories (default " CNF_DEFAULT_PATH ")\n\n");
	printf("Options:\n");
	for (size_t i = 0; i < ARRAY_SIZE(option_help); i++)
		if (option_in(option_help[i], COMMON_OPTS) || option_in(option_help[i], v->opts))
			printf("  %s\n", option_help[i]);
	printf("\nSee cnf-apply(8).\n");
}

/* Whether `arg`, which names no verb, may be a manifest PATH: it exists,
 * or it looks like a path (a '/', a .yaml/.yml suffix). Otherwise it is a
 * mistyped verb. */
static bool may_be_path(const char *arg)
{
	size_t len = strlen(arg);

	return access(arg, F_OK) == 0 || strchr(arg, '/') ||
	       (len > 5 && streq(arg + len - 5, ".yaml")) || (len > 4 && streq(arg + len - 4, ".yml"));
}

/* The verb argv[*ind] names (then consumed), else apply. NULL, after an
 * error naming the verbs, when argv[*ind] is no verb and cannot be a PATH. */
static const struct verb *find_verb(const struct cli *cli, int argc, char **argv, int *ind)
{
	const char *names[ARRAY_SIZE(verbs) + 1] = { 0 };
	const char *arg = *ind < argc ? argv[*ind] : NULL, *close;

	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
		names[i] = verbs[i].name;
		if (arg && streq(arg, verbs[i].name)) {
			(*ind)++;
			return &verbs[i];
		}
	}
	if (!arg || may_be_path(arg))
		return &verbs[1]; /* apply */
	close = suggest_word(arg, names);
	output_fail(cli, "unknown verb '%s'%s%s%s (verbs: plan, apply, status, destroy, validate, "
		    "probe, watch; a PATH must exist)", arg, close ? "; did you mean '" : "",
		    close ? close : "", close ? "'?" : "");
	return NULL;
}

/* The options of the plan file, --target and plan --destroy go with
 * their verbs only. */
static int verb_options_check(const struct cli *cli, bool paths)
{
	const char *v = cli->verb;

	if (cli->targets_count && !streq(v, "plan") && !streq(v, "apply") && !streq(v, "status") &&
	    !streq(v, "destroy"))
		output_fail(cli, "--target goes with plan, apply, status or destroy, not %s", v);
	else if (cli->plan_destroy && !streq(v, "plan"))
		output_fail(cli, "--destroy goes with plan only (the destroy verb destroys)");
	else if (cli->metrics && !streq(v, "status"))
		output_fail(cli, "--metrics goes with status only");
	else if (cli->metrics && cli->json)
		output_fail(cli, "--metrics and --json are two output formats: choose one");
	else if (cli->out_file && !streq(v, "plan"))
		output_fail(cli, "--out goes with plan only");
	else if (cli->plan_file && !streq(v, "apply"))
		output_fail(cli, "--plan goes with apply only");
	else if (cli->plan_file && (paths || cli->targets_count))
		output_fail(cli, "apply --plan takes its PATHs and targets from the plan file '%s'; "
			    "give none", cli->plan_file);
	else
		return 0;
	return -EINVAL;
}

enum {
	OPT_BPFFS = 0x100,
	OPT_JSON,
	OPT_DRY_RUN,
	OPT_DETAILED,
	OPT_ALL,
	OPT_NO_ITER,
	OPT_WAIT,
	OPT_NO_WAIT,
	OPT_INTERVAL,
	OPT_SETTLE,
	OPT_TARGET,
	OPT_OUT,
	OPT_PLAN,
	OPT_DESTROY,
	OPT_METRICS,
};

/* A whole number in [min, max], or -1. */
static long parse_num(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end || errno || v < min || v > max)
		return -1;
	return v;
}

/* Every link and program is a descriptor while it is made or kept for
 * rollback: thousands of attachments need more than 1024. */
static void raise_nofile_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* The options, into `cli`: 0, 1 when the run is over (--version), -1
 * after an error was reported. */
static int parse_options(int argc, char **argv, struct cli *cli, char **targets,
			 bool *ret_dry_run, bool *ret_help)
{
	static const struct option options[] = {
		{ "bpffs",             required_argument, NULL, OPT_BPFFS },
		{ "json",              no_argument,       NULL, OPT_JSON },
		{ "dry-run",           no_argument,       NULL, OPT_DRY_RUN },
		{ "detailed-exitcode", no_argument,       NULL, OPT_DETAILED },
		{ "all",               no_argument,       NULL, OPT_ALL },
		{ "no-iter",           no_argument,       NULL, OPT_NO_ITER },
		{ "wait",              required_argument, NULL, OPT_WAIT },
		{ "no-wait",           no_argument,       NULL, OPT_NO_WAIT },
		{ "interval",          required_argument, NULL, OPT_INTERVAL },
		{ "settle",            required_argument, NULL, OPT_SETTLE },
		{ "target",            required_argument, NULL, OPT_TARGET },
		{ "out",               required_argument, NULL, OPT_OUT },
		{ "plan",              required_argument, NULL, OPT_PLAN },
		{ "destroy",           no_argument,       NULL, OPT_DESTROY },
		{ "metrics",           no_argument,       NULL, OPT_METRICS },
		{ "verbose",           no_argument,       NULL, 'v' },
		{ "help",              no_argument,       NULL, 'h' },
		{ "version",           no_argument,       NULL, 'V' },
		{}
	};
	long num;
	int c;

	/* Options may come before or after the verb (getopt permutes). */
	while ((c = getopt_long(argc, argv, "vhV", options, NULL)) >= 0) {
		switch (c) {
		case OPT_BPFFS:
			cli->bpffs = optarg;
			cli->bpffs_given = true;
			break;
		case OPT_TARGET:
			cli->targets = targets; /* at most one per argument */
			cli->targets[cli->targets_count++] = optarg;
			break;
		case OPT_OUT:
			cli->out_file = optarg;
			break;
		case OPT_PLAN:
			cli->plan_file = optarg;
			break;
		case OPT_DESTROY:
			cli->plan_destroy = true;
			break;
		case OPT_METRICS:
			cli->metrics = true;
			break;
		case OPT_JSON:
			cli->json = true;
			break;
		case OPT_DRY_RUN:
			*ret_dry_run = true;
			break;
		case OPT_DETAILED:
			cli->detailed_exitcode = true;
			break;
		case OPT_ALL:
			cli->all = true;
			break;
		case OPT_NO_ITER:
			cli->no_iter = true;
			break;
		case OPT_WAIT: {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (end == optarg || *end || v < 0 || v > 86400) {
				output_fail(cli, "--wait '%s': seconds from 0 to 86400", optarg);
				return -1;
			}
			cli->wait_sec = (int)v;
			break;
		}
		case OPT_NO_WAIT:
			cli->wait_sec = 0;
			break;
		case OPT_INTERVAL:
			if ((num = parse_num(optarg, 0, 86400)) < 0) {
				output_fail(cli, "--interval '%s': seconds from 0 to 86400", optarg);
				return -1;
			}
			cli->interval_sec = (int)num;
			break;
		case OPT_SETTLE:
			if ((num = parse_num(optarg, 1, 60000)) < 0) {
				output_fail(cli, "--settle '%s': milliseconds from 1 to 60000", optarg);
				return -1;
			}
			cli->settle_ms = (int)num;
			break;
		case 'v':
			cli->verbose++;
			break;
		case 'h':
			*ret_help = true;
			break;
		case 'V':
			printf("cnf-apply %s\n", CNF_VERSION);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static char *default_paths[] = { (char *)CNF_DEFAULT_PATH };
	struct cli cli = { .bpffs = CNF_DEFAULT_BPFFS, .wait_sec = CNF_DEFAULT_WAIT,
			   .interval_sec = CNF_DEFAULT_INTERVAL, .settle_ms = CNF_DEFAULT_SETTLE_MS };
	const struct verb *verb = NULL;
	bool dry_run = false, help = false;
	char *targets[argc];
	int c, r;

	c = parse_options(argc, argv, &cli, targets, &dry_run, &help);
	if (c)
		return c > 0 ? EXIT_OK : EXIT_FAIL;
	raise_nofile_limit();
	log_verbosity = cli.verbose;
	log_setup_libbpf();

	if (help && optind < argc && !may_be_path(argv[optind])) {
		if (!(verb = find_verb(&cli, argc, argv, &optind)))
			return EXIT_FAIL;
		verb_usage(verb);
		return EXIT_OK;
	}
	if (help) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!(verb = find_verb(&cli, argc, argv, &optind)))
		return EXIT_FAIL;
	if (dry_run) {
		if (!streq(verb->name, "apply") && !streq(verb->name, "plan")) {
			output_fail(&cli, "--dry-run goes with plan or apply, not %s", verb->name);
			return EXIT_FAIL;
		}
		verb = &verbs[0];
	}
	cli.verb = verb->name;
	if (cli.all && !streq(verb->name, "destroy") && !cli.plan_destroy) {
		output_fail(&cli, "--all goes with destroy or plan --destroy only");
		return EXIT_FAIL;
	}
	if (verb_options_check(&cli, optind < argc) < 0)
		return EXIT_FAIL;
	if (!cli.bpffs[0] || cli.bpffs[0] != '/') {
		output_fail(&cli, "--bpffs '%s': must be an absolute path", cli.bpffs);
		return EXIT_FAIL;
	}

	if (optind < argc) {
		cli.paths = argv + optind;
		cli.paths_count = (size_t)(argc - optind);
	} else {
		cli.paths = default_paths;
		cli.paths_count = 1;
	}

	r = verb->run(&cli);
	if (r < 0 || r > EXIT_CHANGES)
		r = EXIT_FAIL; /* never a raw errno */
	return r;
}
