// SPDX-License-Identifier: GPL-2.0-only
/* uprobe, uretprobe: a function of an executable or shared library
 * (binary + symbol and/or offset, optionally one process), through the
 * uprobe PMU's perf event and a BPF_PERF_EVENT link. The symbol is
 * looked up in the file's ELF symbol tables here, so a missing binary or
 * symbol fails validation. Such links cannot swap their program. */
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <libelf.h>
#include <sys/stat.h>
#include <bpf/bpf.h>

#include "cnf/hooks.h"
#include "cnf/live.h"
#include "cnf/util.h"

static bool is_ret(const struct cnf_attachment *a)
{
	return streq(a->hook, "uretprobe");
}

static int uprobe_prepare(const struct cnf_attachment *a, struct bpf_program *prog,
			  struct cnf_target *t, char *why, size_t whylen)
{
	static const char *const kinds[] = { "uprobe", "uretprobe", "uprobe.s", "uretprobe.s", NULL };
	const char *prefix;
	int err = hook_check_prog_type(a, prog, BPF_PROG_TYPE_KPROBE, is_ret(a) ?
				       "kprobe (SEC(\"uretprobe\"))" : "kprobe (SEC(\"uprobe\"))",
				       why, whylen);

	if (err < 0)
		return err;
	if (bpf_program__expected_attach_type(prog) != 0) {
		snprintf(why, whylen, "program '%s' (section '%s') is a %s program, hook %s needs "
			 "SEC(\"%s\")", bpf_program__name(prog), bpf_program__section_name(prog),
			 libbpf_bpf_attach_type_str(bpf_program__expected_attach_type(prog)) ?: "?",
			 a->hook, a->hook);
		return -EINVAL;
	}
	hook_section_target(prog, kinds, &prefix);
	if (prefix && (strncmp(prefix, "uretprobe", 9) == 0) != is_ret(a)) {
		snprintf(why, whylen, "program '%s' is a %s program (section '%s'), the hook is %s",
			 bpf_program__name(prog), prefix, bpf_program__section_name(prog), a->hook);
		return -EINVAL;
	}
	t->retprobe = is_ret(a);
	return 0;
}

/* A bare name is looked up like the dynamic linker (libraries) or the
 * shell (programs) would. */
static int find_binary(const char *name, char *out, size_t outlen)
{
	static const char *const libdirs = "/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:"
					   "/lib64:/usr/lib64:/lib:/usr/lib";
	char dirs[PATH_MAX * 2];
	const char *env;
	char *save = NULL;

	if (strchr(name, '/')) {
		if (!realpath(name, out))
			return -errno;
		return 0;
	}
	if (strstr(name, ".so")) {
		env = getenv("LD_LIBRARY_PATH");
		snprintf(dirs, sizeof(dirs), "%s%s%s", env ? env : "", env ? ":" : "", libdirs);
	} else {
		env = getenv("PATH");
		snprintf(dirs, sizeof(dirs), "%s", env ? env : "/usr/local/sbin:/usr/local/bin:"
			 "/usr/sbin:/usr/bin:/sbin:/bin");
	}
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char p[PATH_MAX];

		if (!*d || snprintf(p, sizeof(p), "%s/%s", d, name) >= (int)sizeof(p))
			continue;
		if (access(p, F_OK) == 0 && realpath(p, out))
			return 0;
	}
	(void)outlen;
	return -ENOENT;
}

enum sym_result { SYM_FOUND, SYM_MISSING, SYM_IMPORTED };

/* File offset of function `sym` in the ELF file `fd`. Versioned names
 * ("malloc@@GLIBC_2.2.5") match their bare name. */
static int elf_func_offset(int fd, const char *sym, uint64_t *ret, enum sym_result *res,
			   char *why, size_t whylen)
{
	Elf *e;
	Elf_Scn *scn = NULL;
	size_t n = strlen(sym);
	bool imported = false, found = false;

	*res = SYM_MISSING;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF) {
		snprintf(why, whylen, "not an ELF file");
		if (e)
			elf_end(e);
		return -EINVAL;
	}
	while (!found && (scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && sh.sh_entsize && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym s;
			const char *name;
			int type;

			if (!gelf_getsym(data, (int)i, &s))
				continue;
			name = elf_strptr(e, sh.sh_link, s.st_name);
			if (!name || strncmp(name, sym, n) != 0 || (name[n] && name[n] != '@'))
				continue;
			type = GELF_ST_TYPE(s.st_info);
			if (type != STT_FUNC && type != STT_GNU_IFUNC)
				continue;
			if (s.st_shndx == SHN_UNDEF) {
				imported = true;
				continue;
			}
			/* Address -> file offset, through its section. */
			{
				Elf_Scn *ts = elf_getscn(e, s.st_shndx);
				GElf_Shdr tsh;

				if (!ts || !gelf_getshdr(ts, &tsh))
					continue;
				*ret = s.st_value - tsh.sh_addr + tsh.sh_offset;
				found = true;
				break;
			}
		}
	}
	elf_end(e);
	*res = found ? SYM_FOUND : imported ? SYM_IMPORTED : SYM_MISSING;
	return 0;
}

static int uprobe_resolve(const struct cnf_attachment *a, struct bpf_program *prog,
			  struct cnf_target *t, char *text, size_t textlen, char *why, size_t whylen)
{
	char path[PATH_MAX], where[PATH_MAX + 128];
	uint64_t off = a->offset ? (uint64_t)*a->offset : 0, sym_off = 0;
	_cleanup_close_ int fd = -1;
	struct stat st;
	int err;

	/* For people and the pin: what the manifest says. */
	snprintf(where, sizeof(where), "%s:%s%s", a->binary, a->symbol ? a->symbol : "",
		 a->symbol && off ? "+" : "");
	if (off || !a->symbol)
		snprintf(where + strlen(where), sizeof(where) - strlen(where), "0x%" PRIx64, off);
	if (a->pid)
		snprintf(where + strlen(where), sizeof(where) - strlen(where), "@pid%" PRId64, *a->pid);
	snprintf(text, textlen, "%s", where);
	t->name = a->symbol ? xstrdup(a->symbol) : NULL;
	t->pid = a->pid ? (int32_t)*a->pid : 0;

	if (!hook_pmu_exists("uprobe")) {
		snprintf(why, whylen, "uprobes are not available on this kernel (no uprobe PMU in "
			 "/sys/bus/event_source/devices: CONFIG_UPROBE_EVENTS)");
		return -EOPNOTSUPP;
	}
	err = find_binary(a->binary, path, sizeof(path));
	if (err < 0) {
		snprintf(why, whylen, "binary '%s' not found%s", a->binary,
			 strchr(a->binary, '/') ? "" : strstr(a->binary, ".so") ?
			 " in the library directories" : " in PATH");
		return -ENOENT;
	}
	t->path = xstrdup(path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "binary '%s' (%s) cannot be read as a regular file", a->binary, path);
		return fd < 0 ? -errno : -EINVAL;
	}
	if (a->symbol) {
		enum sym_result res;
		char ewhy[64] = "";

		err = elf_func_offset(fd, a->symbol, &sym_off, &res, ewhy, sizeof(ewhy));
		if (err < 0) {
			snprintf(why, whylen, "binary '%s' (%s): %s", a->binary, path,
				 ewhy[0] ? ewhy : strerror(-err));
			return err;
		}
		if (res == SYM_IMPORTED) {
			snprintf(why, whylen, "symbol '%s' is not defined in %s: it comes from a shared "
				 "library; name that library as 'binary' (e.g. libc.so.6)", a->symbol, path);
			return -ENOENT;
		}
		if (res == SYM_MISSING) {
			snprintf(why, whylen, "no function '%s' in %s", a->symbol, path);
			return -ENOENT;
		}
	}
	t->offset = sym_off + off;
	if (t->offset >= (uint64_t)st.st_size) {
		snprintf(why, whylen, "offset 0x%" PRIx64 " is past the end of %s", t->offset, path);
		return -EINVAL;
	}
	if (t->pid) {
		char proc[32];

		snprintf(proc, sizeof(proc), "/proc/%d", t->pid);
		if (access(proc, F_OK) < 0) {
			snprintf(why, whylen, "no process with pid %d", t->pid);
			return -ENOENT;
		}
	}
	return 0;
}

static void uprobe_describe(const struct cnf_target *t, char *buf, size_t len)
{
	/* The file offset too: a rebuilt binary moves the symbol. */
	snprintf(buf, len, "binary=%s symbol=%s file_offset=0x%" PRIx64 " pid=%d",
		 t->path ? t->path : "?", t->name ? t->name : "-", t->offset, t->pid);
}

static int uprobe_attach(const struct cnf_instance *w, int prog_fd, const struct attach_args *args,
			 struct attach_result *res)
{
	struct hook_perf_event ev = {
		.pmu = "uprobe",
		.retprobe = w->t.retprobe,
		.name = w->t.path,
		.offset = w->t.offset,
		.pid = w->t.pid,
	};

	return hook_perf_link(prog_fd, &ev);
}

/* Perf event links of uprobes name the file as it was given and the
 * file offset. A `pid` is not reported: probes of any process at the
 * same place are listed. */
static bool uprobe_match(const struct bpf_link_info *info, const char *name, const void *ctx)
{
	const struct cnf_target *t = ctx;
	char real[PATH_MAX];

	if (info->perf_event.type != (t->retprobe ? BPF_PERF_EVENT_URETPROBE : BPF_PERF_EVENT_UPROBE) ||
	    info->perf_event.uprobe.offset != t->offset || !t->path)
		return false;
	return streq(name, t->path) || (realpath(name, real) && streq(real, t->path));
}

static int uprobe_foreign(const struct cnf_instance *w, const uint32_t *own, size_t n_own,
			  struct foreign_prog **ret, size_t *ret_count)
{
	return hook_links_foreign(BPF_LINK_TYPE_PERF_EVENT, uprobe_match, &w->t, own, n_own, ret,
				  ret_count);
}

#define UPROBE_KEYS (AK_BIT(AK_PROGRAM) | AK_BIT(AK_BINARY) | AK_BIT(AK_SYMBOL) | \
		     AK_BIT(AK_OFFSET) | AK_BIT(AK_PID))

static void uprobe_check_keys(const struct cnf_attachment *a, uint32_t present,
			      hook_key_err_fn err, void *ctx)
{
	if (!(present & (AK_BIT(AK_SYMBOL) | AK_BIT(AK_OFFSET))))
		err(ctx, NULL, "hook '%s' needs 'symbol' or 'offset' (both: an offset from the "
		    "symbol)", a->hook);
}

static const char *uprobe_probed(const struct probe_result *p)
{
	return p->uprobe ? "perf_event" : NULL;
}

const struct hook_ops hook_uprobe_ops = {
	.kind = HOOK_UPROBE,
	.name = "uprobe",
	.probed = uprobe_probed,
	.keys = {
		.keys = UPROBE_KEYS,
		.required = AK_BIT(AK_PROGRAM) | AK_BIT(AK_BINARY),
		.check = uprobe_check_keys,
	},
	.caps = { .link_update = false, .multi_prog = true, .shared_prog = true },
	.prepare = uprobe_prepare,
	.fit = hook_fit_single_probe,
	.resolve = uprobe_resolve,
	.describe = uprobe_describe,
	.attach = uprobe_attach,
	.detach = hook_link_detach,
	.foreign = uprobe_foreign,
};

const struct hook_ops hook_uretprobe_ops = {
	.kind = HOOK_URETPROBE,
	.name = "uretprobe",
	.probed = uprobe_probed,
	.keys = {
		.keys = UPROBE_KEYS,
		.required = AK_BIT(AK_PROGRAM) | AK_BIT(AK_BINARY),
		.check = uprobe_check_keys,
	},
	.caps = { .link_update = false, .multi_prog = true, .shared_prog = true },
	.prepare = uprobe_prepare,
	.fit = hook_fit_single_probe,
	.resolve = uprobe_resolve,
	.describe = uprobe_describe,
	.attach = uprobe_attach,
	.detach = hook_link_detach,
	.foreign = uprobe_foreign,
};
