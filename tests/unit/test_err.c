/* Unit tests: lib/err.c — messages, codes, truncation, prefixes. */
#include "harness.h"

#include "err.h"
#include "exitcode.h"

#include <errno.h>

static void set_formats_and_returns_minus_one(void)
{
	struct err e;

	err_init(&e);
	CHECK(e.code == 0 && e.msg[0] == '\0');
	CHECK(err_set(&e, EXIT_VERIFY, "%s: digest mismatch", "vmlinux") == -1);
	CHECK(e.code == EXIT_VERIFY);
	CHECK_STR(e.msg, "vmlinux: digest mismatch");
}

static void errno_appends_reason_and_picks_code(void)
{
	struct err e;

	err_init(&e);
	errno = ENOENT;
	err_errno(&e, 0, "%s: cannot open", "/x");
	CHECK_STR(e.msg, "/x: cannot open: No such file or directory");
	CHECK(e.code == EXIT_NOTFOUND);
	errno = ENOSPC;
	err_errno(&e, 0, "write");
	CHECK(e.code == EXIT_SYSTEM);
	errno = EACCES;
	err_errno(&e, EXIT_NETWORK, "x");
	CHECK(e.code == EXIT_NETWORK);
}

static void long_messages_are_marked_not_overrun(void)
{
	struct err e;
	char big[2 * ERR_MSG_MAX];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	err_set(&e, EXIT_SYSTEM, "%s", big);
	CHECK(strlen(e.msg) == ERR_MSG_MAX - 1);
	CHECK(!strcmp(e.msg + ERR_MSG_MAX - 4, "..."));
	errno = EIO;
	err_errno(&e, 0, "%s", big);
	CHECK(strlen(e.msg) == ERR_MSG_MAX - 1);
}

static void prefix_adds_context(void)
{
	struct err e;

	err_set(&e, EXIT_NETWORK, "connection refused");
	err_prefix(&e, "https://%s", "example.test");
	CHECK_STR(e.msg, "https://example.test: connection refused");
	CHECK(e.code == EXIT_NETWORK);
}

static void exit_code_names(void)
{
	CHECK_STR(exitcode_name(EXIT_USAGE), "usage");
	CHECK_STR(exitcode_name(EXIT_NOTIMPL), "not implemented");
	CHECK_STR(exitcode_name(EXIT_SIGNAL + 9), "killed by signal");
	CHECK_STR(exitcode_name(99), "unknown");
}

int main(void)
{
	HARNESS_BEGIN("err");
	RUN(set_formats_and_returns_minus_one);
	RUN(errno_appends_reason_and_picks_code);
	RUN(long_messages_are_marked_not_overrun);
	RUN(prefix_adds_context);
	RUN(exit_code_names);
	HARNESS_END();
}
