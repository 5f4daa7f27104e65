/* Unit tests: lib/buf.c — growth, ceilings, NUL termination. */
#include "harness.h"

#include "buf.h"
#include "err.h"
#include "exitcode.h"

#include <stdint.h>

static void appends_and_terminates(void)
{
	struct buf b;
	struct err e;

	buf_init(&b, 1024, "test");
	CHECK(buf_append(&b, "abc", 3, &e) == 0);
	CHECK(buf_appendf(&b, &e, "-%d", 42) == 0);
	CHECK(b.len == 6);
	CHECK_STR(b.data, "abc-42");
	buf_reset(&b);
	CHECK(b.len == 0 && b.data[0] == '\0');
	buf_fini(&b);
	CHECK(b.data == NULL);
}

static void ceiling_is_an_error_not_a_truncation(void)
{
	struct buf b;
	struct err e;
	char chunk[100];

	memset(chunk, 'x', sizeof(chunk));
	buf_init(&b, 250, "manifest");
	CHECK(buf_append(&b, chunk, 100, &e) == 0);
	CHECK(buf_append(&b, chunk, 100, &e) == 0);
	err_init(&e);
	CHECK(buf_append(&b, chunk, 100, &e) == -1);
	CHECK(e.code == EXIT_VERIFY);
	CHECK(strstr(e.msg, "manifest") != NULL);
	CHECK(b.len == 200); /* unchanged by the failed append */
	CHECK(buf_append(&b, chunk, 50, &e) == 0);
	CHECK(b.len == 250);
	buf_fini(&b);
}

static void long_formats_and_steal(void)
{
	struct buf b;
	struct err e;
	size_t len;
	char *p;
	char big[1000];

	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_init(&b, 4096, NULL);
	CHECK(buf_appendf(&b, &e, "%s!", big) == 0);
	CHECK(b.len == 1000 && b.data[999] == '!');
	p = buf_steal(&b, &len);
	CHECK(len == 1000 && p[1000] == '\0');
	CHECK(b.data == NULL && b.len == 0);
	free(p);
}

static void arrays_grow_to_their_ceiling(void)
{
	uint32_t *v = NULL;
	size_t n = 0, cap = 0;
	struct err e;

	err_init(&e);
	for (; n < 100; n++) {
		CHECK(buf_array_room((void **)&v, &cap, n, sizeof(*v), 100, "things", &e) == 0);
		CHECK(cap > n && cap <= 100);
		v[n] = (uint32_t)n;
	}
	CHECK(v[0] == 0 && v[99] == 99 && cap == 100);
	CHECK(buf_array_room((void **)&v, &cap, n, sizeof(*v), 100, "things", &e) == -1);
	CHECK(e.code == EXIT_VERIFY && !strcmp(e.msg, "things: more than 100"));
	CHECK(cap == 100 && v[99] == 99); /* unchanged */
	err_init(&e);
	CHECK(buf_array_room((void **)&v, &cap, 50, sizeof(*v), 100, "things", &e) == 0);
	free(v);
}

int main(void)
{
	HARNESS_BEGIN("buf");
	RUN(appends_and_terminates);
	RUN(ceiling_is_an_error_not_a_truncation);
	RUN(long_formats_and_steal);
	RUN(arrays_grow_to_their_ceiling);
	HARNESS_END();
}
