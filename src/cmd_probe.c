// SPDX-License-Identifier: GPL-2.0-only
/* `probe`: what this kernel supports. One model (struct probe_result plus
 * the tables below), two renderers: a table for people, --json. */
#include <json-c/json.h>

#include "cnf/cli.h"
#include "cnf/hooks.h"
#include "cnf/live.h"
#include "cnf/log.h"
#include "cnf/util.h"

struct feature_row {
	const char *name;
	bool value;
	const char *note;       /* NULL: nothing to say */
};

struct hook_row {
	const char *name;
	bool supported;
	const char *via;
};

#define MAX_ROWS 32

static size_t feature_rows(const struct probe_result *p, struct feature_row *rows,
			   char *bpf_note, size_t bpf_note_sz)
{
	size_t n = 0;

#define ROW(field, why_not) \
	rows[n++] = (struct feature_row){ #field, p->field, p->field ? NULL : (why_not) }

	snprintf(bpf_note, bpf_note_sz, "bpf() not usable (%s): the other features were not probed; run as root",
		 strerror(p->bpf_errno ? p->bpf_errno : EPERM));
	ROW(bpf, bpf_note);
	ROW(btf_vmlinux, "no /sys/kernel/btf/vmlinux: CO-RE programs and the link iterator cannot load");
	ROW(link_create, "no BPF_LINK_CREATE: no bpf_link based hooks");
	ROW(link_update, "no BPF_LINK_UPDATE: a new program version replaces the link");
	ROW(link_iter, "live state is read with BPF_LINK_GET_NEXT_ID (slower)");
	ROW(xdp_link, "no XDP links");
	ROW(tcx, p->tc_legacy ? "tcx attachments fall back to legacy tc (clsact + cls_bpf)"
			      : "no tcx and no legacy tc: tcx attachments cannot be made");
	ROW(tc_legacy, "no clsact qdisc or cls_bpf classifier");
	ROW(netkit, "no netkit in this kernel (CONFIG_NETKIT)");
	ROW(cgroup_link, "no cgroup links");
	ROW(netfilter_link, "no netfilter links (CONFIG_NETFILTER_BPF_LINK)");
	ROW(tracepoint, !p->tracefs ? "tracefs not mounted: mount -t tracefs tracefs /sys/kernel/tracing"
				    : "tracepoint programs do not load");
	ROW(raw_tracepoint, "raw tracepoint programs do not load");
	ROW(kprobe, !p->kprobe_pmu ? "no kprobe PMU (kernel without CONFIG_KPROBES / CONFIG_KPROBE_EVENTS)"
				   : "kprobe programs do not load");
	ROW(kprobe_multi, "no kprobe_multi links (kernel without CONFIG_FPROBE)");
	ROW(uprobe, !p->uprobe_pmu ? "no uprobe PMU (kernel without CONFIG_UPROBE_EVENTS)"
				   : "kprobe/uprobe programs do not load");
	ROW(trampoline, "fentry/fexit programs do not load (no BPF trampoline here)");
	ROW(bpf_lsm, !p->lsm_active ? "bpf is not an active LSM (boot with lsm=...,bpf)"
				    : "BPF LSM programs do not load");
	ROW(sk_lookup, "sk_lookup programs do not load");
	ROW(flow_dissector, "flow_dissector programs do not load");
	ROW(struct_ops, "struct_ops programs do not load");
	ROW(struct_ops_link, "no struct_ops links (BPF_F_LINK maps): struct_ops attachments cannot be made");
	/* Without bpf(), every probe above is "no" for that reason alone. */
	if (!p->bpf)
		for (size_t i = 1; i < n; i++)
			if (!rows[i].value && !streq(rows[i].name, "btf_vmlinux"))
				rows[i].note = "not probed: bpf() not usable";
	/* Facts read from the filesystem, known without privileges. */
	ROW(tracefs, "no tracefs events/ at /sys/kernel/tracing or /sys/kernel/debug/tracing");
	ROW(kprobe_pmu, "no /sys/bus/event_source/devices/kprobe");
	ROW(uprobe_pmu, "no /sys/bus/event_source/devices/uprobe");
	ROW(lsm_active, "bpf is not in the active LSM list");
#undef ROW
	return n;
}

/* One row per hook family, in the hook table's order: how it attaches
 * here, by the family's own reading of the probes. */
static size_t hook_rows(const struct probe_result *p, struct hook_row *rows)
{
	size_t n = 0;

	for (int k = 0; k < HOOK__COUNT && n < MAX_ROWS; k++) {
		const struct hook_ops *ops = hook_ops_get((enum hook_kind)k);
		const char *via = p->bpf ? ops->probed(p) : NULL;

		rows[n++] = (struct hook_row){ ops->name, via != NULL, via };
	}
	return n;
}

static int print_json(const struct probe_result *p, const struct feature_row *f, size_t nf,
		      const struct hook_row *h, size_t nh)
{
	json_object *root = json_object_new_object();
	json_object *features = json_object_new_object();
	json_object *notes = json_object_new_object();
	json_object *hooks = json_object_new_object();
	const char *s;

	json_object_object_add(root, "kernel", json_object_new_string(p->kernel_release));
	for (size_t i = 0; i < nf; i++) {
		json_object_object_add(features, f[i].name, json_object_new_boolean(f[i].value));
		if (f[i].note)
			json_object_object_add(notes, f[i].name, json_object_new_string(f[i].note));
	}
	json_object_object_add(root, "features", features);
	for (size_t i = 0; i < nh; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "supported", json_object_new_boolean(h[i].supported));
		json_object_object_add(o, "via", h[i].supported ? json_object_new_string(h[i].via) : NULL);
		json_object_object_add(hooks, h[i].name, o);
	}
	json_object_object_add(root, "hooks", hooks);
	json_object_object_add(root, "link_iterator", json_object_new_boolean(p->bpf && p->link_iter));
	json_object_object_add(root, "notes", notes);

	s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						 JSON_C_TO_STRING_NOSLASHESCAPE);
	puts(s);
	json_object_put(root);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
}

static int print_text(const struct probe_result *p, const struct feature_row *f, size_t nf,
		      const struct hook_row *h, size_t nh)
{
	printf("kernel %s\n\n", p->kernel_release[0] ? p->kernel_release : "(unknown)");
	printf("%-16s %-4s %s\n", "FEATURE", "OK", "NOTE");
	for (size_t i = 0; i < nf; i++)
		printf("%-16s %-4s %s\n", f[i].name, f[i].value ? "yes" : "no",
		       f[i].note ? f[i].note : "");
	printf("\n%-16s %-4s %s\n", "HOOK", "OK", "VIA");
	for (size_t i = 0; i < nh; i++)
		printf("%-16s %-4s %s\n", h[i].name, h[i].supported ? "yes" : "no",
		       h[i].supported ? h[i].via : "-");
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
}

int cmd_probe(const struct cli *cli)
{
	const struct probe_result *p = probe_kernel();
	struct feature_row f[MAX_ROWS];
	struct hook_row h[MAX_ROWS];
	char bpf_note[160];
	size_t nf, nh;

	nf = feature_rows(p, f, bpf_note, sizeof(bpf_note));
	nh = hook_rows(p, h);
	if (!p->bpf)
		log_warn("bpf() is not usable (%s): kernel features were not probed",
			 strerror(p->bpf_errno ? p->bpf_errno : EPERM));
	if (cli->json)
		return print_json(p, f, nf, h, nh);
	return print_text(p, f, nf, h, nh);
}
