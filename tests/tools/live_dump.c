// SPDX-License-Identifier: GPL-2.0-only
/* Test driver for the live-state reader: prints every link it reads as one
 * JSON object per line, so tests can compare the iterator and NEXT_ID
 * sources with each other and with `bpftool -j link show`.
 *
 *   live_dump [--bpffs DIR] [-v] --pinned|--load|--next-id [--repeat N]
 *   live_dump [--bpffs DIR] --unpin
 *   live_dump --probe [--json]        (runs the `probe` verb)
 *   live_dump --attach KIND PROG_PIN TARGET LINK_PIN
 *   live_dump --iter-links N DIR
 *
 * --attach creates one bpf_link and pins it (bpftool attaches xdp and tcx
 * without links). KIND: xdp (TARGET = device name), tcx-ingress,
 * tcx-egress, netkit-primary (device), cgroup-ingress (cgroup v2 directory), sk-lookup
 * (netns file, e.g. /proc/self/ns/net).
 * --iter-links pins N bpf_link iterator links under DIR (a cheap way to
 * put many links on the host for timing).
 *
 * --pinned: read-only (may_pin off): the pinned iterator if there is one,
 *           else BPF_LINK_GET_NEXT_ID.
 * --load:   may_pin on: the pinned iterator, else load and pin it.
 * --next-id: BPF_LINK_GET_NEXT_ID only.
 * --repeat N reads N times and prints the mean time per read on stderr. */
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "cnf/cli.h"
#include "cnf/live.h"
#include "cnf/log.h"
#include "cnf/util.h"
#include "link_iter.skel.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void print_link(const struct live_link *l, enum live_source src)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(l->id));
	json_object_object_add(o, "type", json_object_new_int64(l->type));
	json_object_object_add(o, "prog_id", json_object_new_int64(l->prog_id));
	json_object_object_add(o, "prog_type", json_object_new_int64(l->prog_type));
	json_object_object_add(o, "attach_type", json_object_new_int64(l->attach_type));
	json_object_object_add(o, "ifindex", json_object_new_int64(l->ifindex));
	json_object_object_add(o, "netns_ino", json_object_new_int64((int64_t)l->netns_ino));
	json_object_object_add(o, "cgroup_id", json_object_new_int64((int64_t)l->cgroup_id));
	json_object_object_add(o, "prog_name", json_object_new_string(l->prog_name));
	json_object_object_add(o, "source", json_object_new_string(live_source_name(src)));
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

static int attach(char **args, int nargs)
{
	const char *kind, *prog_pin, *target, *link_pin;
	_cleanup_close_ int prog = -1, tfd = -1, link = -1;
	enum bpf_attach_type at;
	int target_id;

	if (nargs != 4) {
		fputs("live_dump: --attach KIND PROG_PIN TARGET LINK_PIN\n", stderr);
		return 2;
	}
	kind = args[0], prog_pin = args[1], target = args[2], link_pin = args[3];
	prog = bpf_obj_get(prog_pin);
	if (prog < 0) {
		log_error("%s: %m", prog_pin);
		return 1;
	}
	if (streq(kind, "xdp") || streq(kind, "tcx-ingress") || streq(kind, "tcx-egress") ||
	    streq(kind, "netkit-primary")) {
		target_id = (int)if_nametoindex(target);
		if (!target_id) {
			log_error("%s: %m", target);
			return 1;
		}
		at = streq(kind, "xdp") ? BPF_XDP :
		     streq(kind, "tcx-ingress") ? BPF_TCX_INGRESS :
		     streq(kind, "tcx-egress") ? BPF_TCX_EGRESS : BPF_NETKIT_PRIMARY;
	} else if (streq(kind, "cgroup-ingress") || streq(kind, "sk-lookup")) {
		tfd = open(target, O_RDONLY | O_CLOEXEC);
		if (tfd < 0) {
			log_error("%s: %m", target);
			return 1;
		}
		target_id = tfd;
		at = streq(kind, "sk-lookup") ? BPF_SK_LOOKUP : BPF_CGROUP_INET_INGRESS;
	} else {
		log_error("unknown attach kind '%s'", kind);
		return 2;
	}
	link = bpf_link_create(prog, target_id, at, NULL);
	if (link < 0) {
		log_error("%s on %s: %m", kind, target);
		return 1;
	}
	if (bpf_obj_pin(link, link_pin) < 0) {
		log_error("pin %s: %m", link_pin);
		return 1;
	}
	return 0;
}

static int iter_links(int n, const char *dir)
{
	struct link_iter *skel = link_iter__open_and_load();
	int r = 0;

	if (!skel) {
		log_error("loading the link iterator: %m");
		return 1;
	}
	for (int i = 0; i < n && !r; i++) {
		char path[4096];
		int fd = bpf_link_create(bpf_program__fd(skel->progs.cnf_link_iter), 0,
					 BPF_TRACE_ITER, NULL);

		if (fd < 0) {
			log_error("iter link %d: %m", i);
			r = 1;
			break;
		}
		snprintf(path, sizeof(path), "%s/l%d", dir, i);
		if (bpf_obj_pin(fd, path) < 0) {
			log_error("pin %s: %m", path);
			r = 1;
		}
		close(fd);
	}
	link_iter__destroy(skel);
	return r;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "bpffs", required_argument, NULL, 'b' },
		{ "pinned", no_argument, NULL, 'p' },
		{ "load", no_argument, NULL, 'l' },
		{ "next-id", no_argument, NULL, 'n' },
		{ "unpin", no_argument, NULL, 'u' },
		{ "probe", no_argument, NULL, 'P' },
		{ "json", no_argument, NULL, 'j' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "attach", no_argument, NULL, 'a' },
		{ "iter-links", required_argument, NULL, 'i' },
		{}
	};
	struct live_opts opts = { .bpffs = CNF_DEFAULT_BPFFS };
	struct cli cli = { .verb = "probe", .bpffs = CNF_DEFAULT_BPFFS };
	char mode = 0;
	int repeat = 1, nlinks = 0, c;
	double t0, t1;

	while ((c = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			opts.bpffs = cli.bpffs = optarg;
			break;
		case 'p': case 'l': case 'n': case 'u': case 'P': case 'a':
			mode = (char)c;
			break;
		case 'i':
			mode = (char)c;
			nlinks = atoi(optarg);
			break;
		case 'j':
			cli.json = true;
			break;
		case 'r':
			repeat = atoi(optarg);
			if (repeat < 1)
				repeat = 1;
			break;
		case 'v':
			log_verbosity++;
			break;
		default:
			return 2;
		}
	}
	log_setup_libbpf();

	switch (mode) {
	case 'a':
		return attach(argv + optind, argc - optind);
	case 'i':
		if (optind != argc - 1) {
			fputs("live_dump: --iter-links N DIR\n", stderr);
			return 2;
		}
		return iter_links(nlinks, argv[optind]);
	case 'P':
		return cmd_probe(&cli);
	case 'u': {
		int r = live_iter_unpin(opts.bpffs);

		if (r < 0) {
			log_error("unpin %s: %s", opts.bpffs, strerror(-r));
			return 1;
		}
		return 0;
	}
	case 'p':
		break;
	case 'l':
		opts.may_pin = true;
		break;
	case 'n':
		opts.force_next_id = true;
		break;
	default:
		fputs("live_dump: need one of --pinned --load --next-id --unpin --probe\n", stderr);
		return 2;
	}

	struct live_links links = { 0 };
	double first = 0;

	t0 = now_ms();
	for (int i = 0; i < repeat; i++) {
		double s = now_ms();
		int r;

		live_links_free(&links);
		r = live_links_read(&opts, &links);
		if (r < 0) {
			log_error("reading links: %s", strerror(-r));
			return 1;
		}
		if (i == 0)
			first = now_ms() - s;
	}
	t1 = now_ms();

	for (size_t i = 0; i < links.count; i++) {
		if (live_links_find(&links, links.links[i].id) != &links.links[i]) {
			log_error("live_links_find(%u) failed", links.links[i].id);
			return 1;
		}
		print_link(&links.links[i], links.source);
	}
	fprintf(stderr, "live_dump: %zu links via %s; first read %.3f ms, mean %.3f ms over %d\n",
		links.count, live_source_name(links.source), first, (t1 - t0) / repeat, repeat);
	live_links_free(&links);
	return 0;
}
