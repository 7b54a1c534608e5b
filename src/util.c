// SPDX-License-Identifier: GPL-2.0-only
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <bpf/bpf.h>

#include "cnf/util.h"

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p) {
		fputs("cnf-apply: out of memory\n", stderr);
		abort();
	}
	return p;
}

char *xstrdup(const char *s)
{
	char *p;

	if (!s)
		return NULL;
	p = strdup(s);
	if (!p) {
		fputs("cnf-apply: out of memory\n", stderr);
		abort();
	}
	return p;
}

int grow_array(void **arr, size_t *cap, size_t need, size_t size)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 8;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / size)
			return -ENOMEM;
		ncap *= 2;
	}
	p = realloc(*arr, ncap * size);
	if (!p)
		return -ENOMEM;
	memset((char *)p + *cap * size, 0, (ncap - *cap) * size);
	*arr = p;
	*cap = ncap;
	return 0;
}

void strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* The absolute form of a file's or a directory's path: the directory
 * resolved (symbolic links, "..", relative paths), a file's own name kept
 * as given. NULL if the directory cannot be resolved. */
char *path_absolute(const char *path, bool is_dir)
{
	_cleanup_free_ char *copy = xstrdup(path), *dir = NULL;
	char *slash, *name;

	if (is_dir)
		return realpath(path, NULL);
	slash = strrchr(copy, '/');
	if (!slash)
		return (dir = realpath(".", NULL)) ? strprintf("%s/%s", dir, copy) : NULL;
	*slash = '\0';
	name = slash + 1;
	dir = realpath(copy[0] ? copy : "/", NULL);
	if (!dir)
		return NULL;
	return strprintf("%s%s%s", dir, streq(dir, "/") ? "" : "/", name);
}

char *strprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	return r < 0 ? NULL : s;
}

int path_component_escape(const char *in, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		/* bpffs refuses '.' in names: escape it too. */
		bool esc = *p == '/' || *p == '%' || *p == '.' || *p < 0x20 || *p == 0x7f;

		if (o + (esc ? 3 : 1) >= outsz)
			return -ENAMETOOLONG;
		if (esc) {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 0xf];
		} else {
			out[o++] = *p;
		}
	}
	if (o >= outsz)
		return -ENAMETOOLONG;
	out[o] = '\0';
	if (streq(out, ".") || streq(out, ".."))
		return -EINVAL;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int path_component_unescape(const char *in, char *out, size_t outsz)
{
	size_t o = 0;

	for (const char *p = in; *p; p++) {
		char c = *p;

		if (c == '%') {
			int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);

			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = (char)(hi << 4 | lo);
			p += 2;
		}
		if (o + 1 >= outsz)
			return -ENAMETOOLONG;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

int bpf_info_get(int fd, void *info, uint32_t *len)
{
	uint32_t want = *len;

	for (int tries = 0;; tries++) {
		*len = want;
		if (bpf_obj_get_info_by_fd(fd, info, len) == 0)
			return 0;
		if ((errno != EINTR && errno != EAGAIN) || tries >= 100)
			return -errno;
	}
}

int mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

void test_pause(const char *point)
{
	const char *env = getenv("CNF_APPLY_TEST_PAUSE");
	size_t n = strlen(point);
	char buf[64];
	int fd;

	if (!env || strncmp(env, point, n) != 0 || env[n] != ':')
		return;
	/* Opening a FIFO for reading waits for its writer; its closing ends
	 * the pause. */
	fd = open(env + n + 1, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}
