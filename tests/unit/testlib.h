/* SPDX-License-Identifier: GPL-2.0-only */
/* A small unit-test harness: each test binary runs its TEST()s and prints
 * "N passed, N failed"; tests/run-unit.sh sums the binaries' lines. */
#pragma once

#include <stdio.h>
#include <string.h>

struct unit_test {
	const char *name;
	void (*fn)(void);
};

extern int unit_failed_checks;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			unit_failed_checks++;                                  \
		}                                                              \
	} while (0)

#define CHECK_STR(a, b)                                                        \
	do {                                                                   \
		const char *_a = (a), *_b = (b);                               \
		if (!_a || !_b || strcmp(_a, _b) != 0) {                       \
			fprintf(stderr, "  %s:%d: '%s' != '%s'\n", __FILE__,   \
				__LINE__, _a ? _a : "(null)", _b ? _b : "(null)"); \
			unit_failed_checks++;                                  \
		}                                                              \
	} while (0)

#define CHECK_INT(a, b)                                                        \
	do {                                                                   \
		long long _a = (long long)(a), _b = (long long)(b);            \
		if (_a != _b) {                                                \
			fprintf(stderr, "  %s:%d: %s == %lld, expected %lld\n", \
				__FILE__, __LINE__, #a, _a, _b);               \
			unit_failed_checks++;                                  \
		}                                                              \
	} while (0)

#define TEST(name) static void name(void)

/* Each test file ends with: UNIT_MAIN(test_a, test_b, ...) */
#define UNIT_MAIN(...)                                                         \
	int unit_failed_checks;                                                \
	int main(void)                                                         \
	{                                                                      \
		void (*fns[])(void) = { __VA_ARGS__ };                         \
		const char *names = #__VA_ARGS__;                              \
		int passed = 0, failed = 0;                                    \
		for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {   \
			int before = unit_failed_checks;                       \
			const char *end = strchr(names, ',');                  \
			int len = end ? (int)(end - names) : (int)strlen(names); \
			fns[i]();                                              \
			if (unit_failed_checks == before) {                    \
				passed++;                                      \
				printf("ok   %.*s\n", len, names);              \
			} else {                                               \
				failed++;                                      \
				printf("FAIL %.*s\n", len, names);              \
			}                                                      \
			if (end)                                               \
				for (names = end + 1; *names == ' '; names++)  \
					;                                      \
		}                                                              \
		printf("%d passed, %d failed\n", passed, failed);              \
		return failed ? 1 : 0;                                         \
	}
