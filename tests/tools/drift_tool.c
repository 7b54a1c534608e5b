// SPDX-License-Identifier: GPL-2.0-only
/* Plays "someone else" for the drift tests: changes managed state behind
 * the tool's back the way another program with root could.
 *
 *   drift_tool link-update LINK_PIN OBJECT PROGRAM  run another program on a pinned link
 *   drift_tool tcx-first DEV OBJECT PROGRAM PIN     attach first on DEV's tcx ingress, pin the link
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static int load(const char *path, const char *prog, struct bpf_object **ret)
{
	struct bpf_object *o = bpf_object__open_file(path, NULL);
	struct bpf_program *p;

	if (!o || bpf_object__load(o)) {
		fprintf(stderr, "drift_tool: loading %s failed\n", path);
		return -1;
	}
	p = bpf_object__find_program_by_name(o, prog);
	if (!p) {
		fprintf(stderr, "drift_tool: no program %s in %s\n", prog, path);
		return -1;
	}
	*ret = o;
	return bpf_program__fd(p);
}

int main(int argc, char **argv)
{
	struct bpf_object *o;
	int prog_fd;

	if (argc == 5 && !strcmp(argv[1], "link-update")) {
		int link = bpf_obj_get(argv[2]);

		if (link < 0 || (prog_fd = load(argv[3], argv[4], &o)) < 0)
			return 1;
		if (bpf_link_update(link, prog_fd, NULL)) {
			fprintf(stderr, "drift_tool: link update: %s\n", strerror(errno));
			return 1;
		}
		/* The link holds the program now. */
		bpf_object__close(o);
		return 0;
	}
	if (argc == 6 && !strcmp(argv[1], "tcx-first")) {
		LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = BPF_F_BEFORE);
		int ifindex = (int)if_nametoindex(argv[2]), link;

		if (!ifindex || (prog_fd = load(argv[3], argv[4], &o)) < 0)
			return 1;
		link = bpf_link_create(prog_fd, ifindex, BPF_TCX_INGRESS, &opts);
		if (link < 0 || bpf_obj_pin(link, argv[5])) {
			fprintf(stderr, "drift_tool: tcx attach: %s\n", strerror(errno));
			return 1;
		}
		bpf_object__close(o);
		return 0;
	}
	if (argc == 7 && !strcmp(argv[1], "tcx-after")) {
		/* Right after the tcx ingress link with id ANCHOR_LINK_ID. */
		LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = BPF_F_AFTER | BPF_F_ID,
			    .tcx.relative_id = (__u32)strtoul(argv[6], NULL, 10));
		int ifindex = (int)if_nametoindex(argv[2]), link;

		opts.flags |= BPF_F_LINK;
		if (!ifindex || (prog_fd = load(argv[3], argv[4], &o)) < 0)
			return 1;
		link = bpf_link_create(prog_fd, ifindex, BPF_TCX_INGRESS, &opts);
		if (link < 0 || bpf_obj_pin(link, argv[5])) {
			fprintf(stderr, "drift_tool: tcx attach: %s\n", strerror(errno));
			return 1;
		}
		bpf_object__close(o);
		return 0;
	}
	fprintf(stderr, "usage: drift_tool link-update LINK_PIN OBJECT PROGRAM\n"
			"       drift_tool tcx-first DEV OBJECT PROGRAM PIN\n"
			"       drift_tool tcx-after DEV OBJECT PROGRAM PIN ANCHOR_LINK_ID\n");
	return 2;
}
