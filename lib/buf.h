/* buf.h — a growable byte buffer with a hard ceiling.
 *
 * Caller-owned struct (buf_init/buf_fini). Appending past `max` fails with
 * EXIT_VERIFY and leaves the contents unchanged: input is never truncated.
 * The data is always NUL-terminated (not counted in len), so text can be
 * handed to parsers directly. Never blocks.
 */
#ifndef BANGER_BUF_H
#define BANGER_BUF_H

#include <stddef.h>

struct err;

struct buf {
	char *data; /* NULL until the first append */
	size_t len;
	size_t cap;
	size_t max;	  /* ceiling on len, from limits.h */
	const char *what; /* names the content in errors ("catalog JSON") */
};

void buf_init(struct buf *b, size_t max, const char *what);
void buf_fini(struct buf *b);
/* Empties without freeing. */
void buf_reset(struct buf *b);
/* Appends n bytes; -1 with e set when over the ceiling or out of memory. */
int buf_append(struct buf *b, const void *p, size_t n, struct err *e);
int buf_appendf(struct buf *b, struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Room for element n of the array *v (of elements of size bytes, *cap of
 * them allocated; n <= *cap): doubles it when full. More than max elements
 * is EXIT_VERIFY naming what, out of memory EXIT_SYSTEM; on failure *v and
 * *cap are unchanged. */
int buf_array_room(void **v, size_t *cap, size_t n, size_t size, size_t max, const char *what,
		   struct err *e);

/* Hands the data to the caller (who frees it) and re-initialises b. */
char *buf_steal(struct buf *b, size_t *len);

#endif
