/* fuzz.h — what every fuzz target shares.
 *
 * A target is tests/fuzz/fuzz-NAME.c defining LLVMFuzzerTestOneInput; it is
 * linked twice: with libFuzzer (make fuzz: clang, ASan, UBSan) to search,
 * and with tests/fuzz/replay.c (make test, make check-asan) to run its seed
 * corpus tests/fuzz/NAME/ and every finding kept there. Targets check
 * invariants — a property the parser must keep for any input — and abort
 * when one breaks, so a finding is more than a crash.
 */
#ifndef BANGER_FUZZ_H
#define BANGER_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__,       \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* A NUL-terminated heap copy of the input (the parsers that take C strings). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* True when the first n bytes of a fixed field hold its terminator. */
#define FUZZ_TERMINATED(field) (memchr((field), '\0', sizeof(field)) != NULL)

#endif
