// SPDX-License-Identifier: GPL-2.0-only
/* stopwatch: runs a command and reports its wall time and peak memory.
 *
 *   stopwatch [-o FILE] -- COMMAND [ARG...]
 *
 * Appends one line "<wall_us> <maxrss_kib> <exit_status> <user_us> <sys_us>"
 * to FILE (or stderr), and exits with the command's status. Wall time is
 * measured around fork+exec+wait with CLOCK_MONOTONIC, so it includes
 * process start-up, as a user running the command sees it. CPU time (user,
 * system) is the command's and its waited-for children's: on a busy
 * machine it moves much less than wall time. Peak memory is the command's
 * own ru_maxrss (wait4), or, for a script, the largest of the processes it
 * waited for. The command's stdout and stderr are left
 * alone (redirect them as needed). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
	const char *out = NULL;
	struct timespec t0, t1;
	struct rusage ru;
	int i = 1, status, rc;
	long long us;
	pid_t pid;
	FILE *f;

	if (i + 1 < argc && !strcmp(argv[i], "-o")) {
		out = argv[i + 1];
		i += 2;
	}
	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	if (i >= argc) {
		fprintf(stderr, "usage: stopwatch [-o FILE] -- COMMAND [ARG...]\n");
		return 127;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0) {
		perror("stopwatch: fork");
		return 127;
	}
	if (pid == 0) {
		execvp(argv[i], argv + i);
		fprintf(stderr, "stopwatch: %s: %s\n", argv[i], strerror(errno));
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("stopwatch: wait4");
		return 127;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	us = (t1.tv_sec - t0.tv_sec) * 1000000LL + (t1.tv_nsec - t0.tv_nsec) / 1000;
	rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	f = out ? fopen(out, "a") : stderr;
	if (!f) {
		perror("stopwatch: output");
		return 127;
	}
	{
		struct rusage rc_ru;
		long maxrss = ru.ru_maxrss;

		/* A script's children were waited for by the script itself. */
		if (getrusage(RUSAGE_CHILDREN, &rc_ru) == 0 && rc_ru.ru_maxrss > maxrss)
			maxrss = rc_ru.ru_maxrss;
		fprintf(f, "%lld %ld %d %lld %lld\n", us, maxrss, rc,
			ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec,
			ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec);
	}
	if (out)
		fclose(f);
	return rc;
}
