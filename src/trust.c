// SPDX-License-Identifier: GPL-2.0-only
/* Who can change a file: the checks of manifests, objects and the state
 * root (trust.h). */
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sys/stat.h>

#include "cnf/trust.h"
#include "cnf/util.h"

#define TRUST_MAX_LINKS 40      /* the kernel's limit */

static void owner_desc(uid_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);

	if (pw)
		snprintf(buf, len, "uid %u (%s)", (unsigned)uid, pw->pw_name);
	else
		snprintf(buf, len, "uid %u", (unsigned)uid);
}

static void group_desc(gid_t gid, char *buf, size_t len)
{
	struct group *gr = getgrgid(gid);

	if (gr)
		snprintf(buf, len, "group '%s'", gr->gr_name);
	else
		snprintf(buf, len, "gid %u", (unsigned)gid);
}

bool trust_problem(const struct stat *st, const char *what, bool sticky_ok, char *why, size_t whylen)
{
	unsigned mode = (unsigned)(st->st_mode & 07777);
	bool shared = sticky_ok && S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX);
	char who[128];

	if (st->st_uid != 0) {
		owner_desc(st->st_uid, who, sizeof(who));
		snprintf(why, whylen, "%s is owned by %s, not root", what, who);
		return true;
	}
	if (shared)
		return false;
	if (st->st_mode & S_IWOTH) {
		snprintf(why, whylen, "%s is writable by others (mode %04o)", what, mode);
		return true;
	}
	if (st->st_mode & S_IWGRP) {
		group_desc(st->st_gid, who, sizeof(who));
		snprintf(why, whylen, "%s is writable by %s (mode %04o)", what, who, mode);
		return true;
	}
	return false;
}

static void parent_dir(char *dir)
{
	char *slash = strrchr(dir, '/');

	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
}

int trust_walk(const char *path, struct stat *ret_st, char *why, size_t whylen)
{
	_cleanup_free_ char *rest = NULL;
	char cur[PATH_MAX] = "/", what[PATH_MAX + 32];
	unsigned links = 0;
	bool have_final = false;
	struct stat st;
	const char *p;

	if (path[0] == '/') {
		rest = xstrdup(path);
	} else {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd))) {
			int err = errno;

			snprintf(why, whylen, "current directory: %s", strerror(err));
			return -err;
		}
		rest = strprintf("%s/%s", cwd, path);
		if (!rest)
			return -ENOMEM;
	}
	if (lstat("/", &st) < 0) {
		snprintf(why, whylen, "'/': %s", strerror(errno));
		return -errno;
	}
	if (trust_problem(&st, "directory '/'", true, why, whylen))
		return -EPERM;

	for (p = rest; *p;) {
		char cand[PATH_MAX];
		size_t n, curlen = strlen(cur);
		const char *next;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		n = strcspn(p, "/");
		for (next = p + n; *next == '/'; next++)
			;
		if (n == 1 && p[0] == '.') {
			p = next;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			parent_dir(cur);
			p = next;
			continue;
		}
		if (curlen + 1 + n >= sizeof(cand)) {
			snprintf(why, whylen, "'%.64s...': %s", rest, strerror(ENAMETOOLONG));
			return -ENAMETOOLONG;
		}
		snprintf(cand, sizeof(cand), "%s%s%.*s", cur, curlen > 1 ? "/" : "", (int)n, p);
		if (lstat(cand, &st) < 0) {
			int err = errno;

			snprintf(why, whylen, "'%s': %s", cand, strerror(err));
			return -err;
		}

		if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			struct stat dst;
			ssize_t len;
			char *again;

			if (++links > TRUST_MAX_LINKS) {
				snprintf(why, whylen, "'%s': %s", cand, strerror(ELOOP));
				return -ELOOP;
			}
			/* The directory holding the link passed the check above:
			 * only a shared (sticky) one lets others add links. */
			if (st.st_uid != 0 && lstat(cur, &dst) == 0 && (dst.st_mode & (S_IWGRP | S_IWOTH))) {
				char who[128];

				owner_desc(st.st_uid, who, sizeof(who));
				snprintf(why, whylen, "symbolic link '%s' is owned by %s, in directory "
					 "'%s' that others can write to", cand, who, cur);
				return -EPERM;
			}
			len = readlink(cand, target, sizeof(target) - 1);
			if (len < 0) {
				int err = errno;

				snprintf(why, whylen, "'%s': %s", cand, strerror(err));
				return -err;
			}
			if (len == 0) {
				snprintf(why, whylen, "'%s': %s", cand, strerror(ENOENT));
				return -ENOENT;
			}
			target[len] = '\0';
			again = strprintf("%s%s%s", target, *next ? "/" : "", next);
			if (!again)
				return -ENOMEM;
			free(rest);
			rest = again;
			p = rest;
			if (target[0] == '/')
				snprintf(cur, sizeof(cur), "/");
			continue;
		}

		if (!*next) {
			*ret_st = st;
			have_final = true;
			break;
		}
		if (!S_ISDIR(st.st_mode)) {
			snprintf(why, whylen, "'%s': %s", cand, strerror(ENOTDIR));
			return -ENOTDIR;
		}
		snprintf(what, sizeof(what), "directory '%s'", cand);
		if (trust_problem(&st, what, true, why, whylen))
			return -EPERM;
		snprintf(cur, sizeof(cur), "%s", cand);
		p = next;
	}
	/* The path ended in "/", "." or "..": it names the directory reached. */
	if (!have_final && lstat(cur, ret_st) < 0) {
		int err = errno;

		snprintf(why, whylen, "'%s': %s", cur, strerror(err));
		return -err;
	}
	return 0;
}
