/* buf.c — see buf.h. */
#include "buf.h"
#include "err.h"
#include "exitcode.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max, const char *what)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max;
	b->what = what ? what : "data";
}

void buf_fini(struct buf *b)
{
	free(b->data);
	buf_init(b, b->max, b->what);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static int grow(struct buf *b, size_t need, struct err *e)
{
	size_t cap = b->cap ? b->cap : 256;
	char *p;

	while (cap < need + 1)
		cap = cap > ((size_t)-1) / 2 ? need + 1 : cap * 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	p = realloc(b->data, cap);
	if (!p)
		return err_set(e, EXIT_SYSTEM, "%s: out of memory (%zu bytes)", b->what, cap);
	b->data = p;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n, struct err *e)
{
	if (n > b->max - b->len)
		return err_set(e, EXIT_VERIFY, "%s: larger than the %zu-byte limit", b->what,
			       b->max);
	if (b->len + n + 1 > b->cap && grow(b, b->len + n, e) < 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_appendf(struct buf *b, struct err *e, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;
	char *big;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return err_set(e, EXIT_SYSTEM, "%s: bad format", b->what);
	if ((size_t)n < sizeof(small))
		return buf_append(b, small, (size_t)n, e);
	big = malloc((size_t)n + 1);
	if (!big)
		return err_set(e, EXIT_SYSTEM, "%s: out of memory", b->what);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	n = buf_append(b, big, (size_t)n, e);
	free(big);
	return n;
}

int buf_array_room(void **v, size_t *cap, size_t n, size_t size, size_t max, const char *what,
		   struct err *e)
{
	size_t c = *cap ? *cap * 2 : 16;
	void *p;

	if (n < *cap)
		return 0;
	if (n >= max)
		return err_set(e, EXIT_VERIFY, "%s: more than %zu", what, max);
	if (c > max)
		c = max;
	if (c > ((size_t)-1) / size || !(p = realloc(*v, c * size)))
		return err_set(e, EXIT_SYSTEM, "%s: out of memory", what);
	*v = p;
	*cap = c;
	return 0;
}

char *buf_steal(struct buf *b, size_t *len)
{
	char *p = b->data;

	if (len)
		*len = b->len;
	if (!p)
		p = calloc(1, 1);
	buf_init(b, b->max, b->what);
	return p;
}
