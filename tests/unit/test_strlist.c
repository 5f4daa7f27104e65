/* Unit tests: lib/strlist.c — packed lists, env overrides, the ceiling. */
#include "harness.h"

#include "err.h"
#include "exitcode.h"
#include "strlist.h"

#include <string.h>

static void add_and_walk(void)
{
	static struct strlist l;
	const char *p[4];
	struct err e;

	err_init(&e);
	CHECK(strlist_ptrs(&l, p) == 0 && p[0] == NULL);
	CHECK(strlist_add(&l, "a", "t", &e) == 0);
	CHECK(strlist_add(&l, "", "t", &e) == 0); /* an empty entry is an entry */
	CHECK(strlist_add(&l, "c d", "t", &e) == 0);
	CHECK(l.n == 3 && strlist_ptrs(&l, p) == 3 && p[3] == NULL);
	CHECK_STR(p[0], "a");
	CHECK_STR(p[1], "");
	CHECK_STR(p[2], "c d");
}

static void setenv_overrides(void)
{
	static struct strlist l, copy;
	const char *p[5];
	struct err e;

	err_init(&e);
	CHECK(strlist_setenv(&l, "A=1", "env", &e) == 0);
	CHECK(strlist_setenv(&l, "AB=2", "env", &e) == 0);
	CHECK(strlist_setenv(&l, "C=3", "env", &e) == 0);
	/* Replaced in place, longer and shorter; AB is not A. */
	CHECK(strlist_setenv(&l, "A=longer value", "env", &e) == 0);
	CHECK(strlist_setenv(&l, "C=", "env", &e) == 0);
	copy = l; /* no pointers inside: a copy is a list of its own */
	CHECK(strlist_ptrs(&copy, p) == 3);
	CHECK_STR(p[0], "A=longer value");
	CHECK_STR(p[1], "AB=2");
	CHECK_STR(p[2], "C=");
}

static void ceiling(void)
{
	static struct strlist l;
	static char big[LIMIT_STRLIST];
	struct err e;

	err_init(&e);
	memset(big, 'x', sizeof(big) - 2);
	CHECK(strlist_add(&l, big, "Env", &e) == 0); /* LIMIT_STRLIST - 1 bytes used */
	CHECK(strlist_add(&l, "y", "Env", &e) == -1 && e.code == EXIT_VERIFY);
	CHECK(strstr(e.msg, "Env") != NULL);
	CHECK(l.n == 1);
}

int main(void)
{
	HARNESS_BEGIN("strlist");
	RUN(add_and_walk);
	RUN(setenv_overrides);
	RUN(ceiling);
	HARNESS_END();
}
