/* guard.h — places bytes so they end exactly where an unreadable page
 * begins (mmap, then mprotect PROT_NONE): a parser that reads one byte past
 * what it was given faults there and then, instead of reading whatever
 * happens to follow in the heap. Shared by the fuzz targets and unit tests.
 */
#ifndef BANGER_GUARD_H
#define BANGER_GUARD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define GUARD_MAX (4u << 20) /* the largest input one call places */

/* A copy of p[0..n) whose last byte is the last readable one. Valid until
 * the next call; n above GUARD_MAX is cut to it. */
static inline char *guard_place(const void *p, size_t n)
{
	static char *area;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t room = (GUARD_MAX + page - 1) / page * page;

	if (!area) {
		area = mmap(NULL, room + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
		if (area == MAP_FAILED || mprotect(area + room, page, PROT_NONE) < 0) {
			perror("guard_place");
			abort();
		}
	}
	if (n > GUARD_MAX)
		n = GUARD_MAX;
	memcpy(area + room - n, p, n);
	return area + room - n;
}

#endif
