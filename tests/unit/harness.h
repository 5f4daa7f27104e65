/* harness.h — a tiny unit-test harness: one binary per tests/unit/test_*.c.
 *
 * Each TEST prints "PASS: unit/FILE: NAME" or "FAIL: …" with the first failed
 * CHECK's location; tests/run.sh counts those lines. No framework needed.
 */
#ifndef BANGER_HARNESS_H
#define BANGER_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct harness {
	const char *suite;
	int failed_checks;
	int passed, failed;
};

static struct harness harness;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			if (!harness.failed_checks++)                                              \
				printf("  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);  \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		if (!a_ || !b_ || strcmp(a_, b_)) {                                                \
			if (!harness.failed_checks++)                                              \
				printf("  %s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__,          \
				       a_ ? a_ : "(null)", b_ ? b_ : "(null)");                    \
		}                                                                                  \
	} while (0)

#define RUN(fn)                                                                                    \
	do {                                                                                       \
		harness.failed_checks = 0;                                                         \
		fn();                                                                              \
		printf("%s: unit/%s: %s\n", harness.failed_checks ? "FAIL" : "PASS",               \
		       harness.suite, #fn);                                                        \
		if (harness.failed_checks)                                                         \
			harness.failed++;                                                          \
		else                                                                               \
			harness.passed++;                                                          \
		fflush(stdout);                                                                    \
	} while (0)

#define HARNESS_BEGIN(name) harness.suite = (name)
#define HARNESS_END() return harness.failed ? 1 : 0

/* A fresh scratch directory under $TMPDIR for tests that touch files. */
static inline const char *harness_tmpdir(void)
{
	static char dir[256];
	const char *t = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/banger-unit-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(2);
	}
	return dir;
}

#endif
