// SPDX-License-Identifier: GPL-2.0-only
/* LD_PRELOAD shim for tests: bpf(2) calls libbpf makes through syscall()
 * fail the way a signal or a busy kernel makes them fail.
 *
 *   CNF_FAULT_INFO=eintr|eagain   every other BPF_OBJ_GET_INFO_BY_FD fails
 *                                 with that error, beginning with the first
 *   CNF_FAULT_LINK_CREATE=N       the Nth BPF_LINK_CREATE fails with EPERM
 *
 * Built without sanitizers (a preloaded library cannot be instrumented
 * when the program is); under ASan run with verify_asan_link_order=0. */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <linux/bpf.h>

long syscall(long nr, ...);

long syscall(long nr, ...)
{
	static long (*real)(long, ...);
	static unsigned calls, creates;
	const char *mode = getenv("CNF_FAULT_INFO");
	const char *nth = getenv("CNF_FAULT_LINK_CREATE");
	long a[6];
	va_list ap;

	/* syscall(2) takes up to six arguments; glibc's reads six too. */
	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (!real)
		real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
	if (nr == SYS_bpf && a[0] == BPF_OBJ_GET_INFO_BY_FD && mode && calls++ % 2 == 0) {
		errno = strcmp(mode, "eagain") == 0 ? EAGAIN : EINTR;
		return -1;
	}
	if (nr == SYS_bpf && a[0] == BPF_LINK_CREATE && nth && ++creates == strtoul(nth, NULL, 10)) {
		errno = EPERM;
		return -1;
	}
	return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
