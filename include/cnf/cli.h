/* SPDX-License-Identifier: GPL-2.0-only */
/* Parsed command line, shared by the verbs (systemd's arg_ habit, in one struct). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define CNF_DEFAULT_BPFFS "/sys/fs/bpf/cnf"
#define CNF_DEFAULT_PATH "/etc/cnf.d"
#define CNF_DEFAULT_WAIT 60       /* seconds, for the state root's lock */
#define CNF_DEFAULT_INTERVAL 30   /* watch: seconds between full reconciles */
#define CNF_DEFAULT_SETTLE_MS 100 /* watch: quiet time that ends a burst of events */

struct run_focus;

struct cli {
	const char *verb;
	char **paths;             /* manifest files/dirs; default /etc/cnf.d */
	size_t paths_count;
	const char *bpffs;        /* state root */
	bool json;
	bool detailed_exitcode;   /* apply: exit 2 when something changed */
	bool all;                 /* destroy --all */
	bool no_iter;             /* read links with GET_NEXT_ID only */
	int wait_sec;             /* for the state root's lock; 0: fail at once */
	int verbose;
	/* watch */
	int interval_sec;         /* full reconcile every so often; 0: never */
	int settle_ms;            /* a burst of events ends after this much quiet */
	bool pending_ok;          /* absent interfaces, namespaces, cgroups, binaries
	                           * are waited for, not errors */
	const struct run_focus *focus; /* limit one reconcile to these targets */
	/* --target MANIFEST[/ATTACHMENT]: plan, apply, status and destroy act
	 * on those only */
	char **targets;
	size_t targets_count;
	bool plan_destroy;        /* plan --destroy: what destroy would do */
	bool metrics;             /* status --metrics: Prometheus text exposition */
	const char *out_file;     /* plan --out: save the plan there */
	const char *plan_file;    /* apply --plan: carry out that saved plan */
	void *plan_doc;           /* its document, once read (json_object) */
	bool bpffs_given;         /* --bpffs was on the command line */
};

/* Exit codes (SPEC): set in one place. */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_CHANGES = 2,
};

int cmd_plan(const struct cli *cli);      /* plan and apply */
int cmd_apply(const struct cli *cli);
int cmd_status(const struct cli *cli);
int cmd_destroy(const struct cli *cli);
int cmd_validate(const struct cli *cli);
int cmd_probe(const struct cli *cli);
int cmd_watch(const struct cli *cli);
