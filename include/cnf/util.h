/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd) { if (*fd >= 0) close(*fd); }
static inline void fclosep(FILE **f) { if (*f) fclose(*f); }
static inline void closedirp(DIR **d) { if (*d) closedir(*d); }

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_closedir_ _cleanup_(closedirp)

static inline bool streq_ptr(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}
#define streq(a, b) (strcmp((a), (b)) == 0)

/* Returns the pointer and sets it to NULL (hand ownership over). */
#define TAKE_PTR(p) ({ __typeof__(p) _p = (p); (p) = NULL; _p; })
#define TAKE_FD(fd) ({ int _fd = (fd); (fd) = -1; _fd; })

void *xcalloc(size_t n, size_t size);
char *xstrdup(const char *s);
/* Grows *arr (element size `size`) to hold at least `need` elements. */
int grow_array(void **arr, size_t *cap, size_t need, size_t size);
/* Frees n strings and their array. */
void strv_free(char **v, size_t n);
/* asprintf that returns NULL on failure. */
char *strprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Escape a string to one bpffs path component: '/', '%', '.' and control
 * characters become %XX. Returns -ENAMETOOLONG if it does not fit. */
int path_component_escape(const char *in, char *out, size_t outsz);
int path_component_unescape(const char *in, char *out, size_t outsz);
/* BPF_OBJ_GET_INFO_BY_FD of a program, link, map or BTF, asked again
 * while the kernel answers EINTR or EAGAIN: a fact read from the kernel is
 * either read or an error, never a zeroed struct taken for an answer.
 * Returns 0 or a negative errno (errno set too). */
int bpf_info_get(int fd, void *info, uint32_t *len);
/* qsort()'s comparison of two uint32_t. */
int cmp_u32(const void *a, const void *b);
/* The absolute form of a file's or a directory's path: the directory
 * resolved (symbolic links, "..", relative paths), a file's own name kept
 * as given. NULL if the directory cannot be resolved. */
char *path_absolute(const char *path, bool is_dir);
/* mkdir -p (mode 0700 for new components). */
int mkdir_p(const char *path, mode_t mode);

/* A seam for tests of concurrent changes: with CNF_APPLY_TEST_PAUSE set
 * to "POINT:FIFO", the run stops at POINT until the FIFO's writer closes
 * it. Points: "plan" (planned, nothing changed yet) and
 * "attach=ATTACHMENT" (tcx/netkit: the hook read, before the attach). */
void test_pause(const char *point);
