/* Unit tests: lib/path.c — joining, confinement, names, trees. */
#include "harness.h"

#include "err.h"
#include "exitcode.h"
#include "path.h"

#include <sys/stat.h>
#include <unistd.h>

static void join_collapses_seams_and_refuses_overflow(void)
{
	char out[16];
	struct err e;

	CHECK(path_join(out, sizeof(out), "/a/", "/b", &e) == 0);
	CHECK_STR(out, "/a/b");
	CHECK(path_join(out, sizeof(out), "/", "etc", &e) == 0);
	CHECK_STR(out, "/etc");
	CHECK(path_join(out, sizeof(out), "dir", "", &e) == 0);
	CHECK_STR(out, "dir");
	CHECK(path_joinf(out, sizeof(out), &e, "k", "%s-%d", "x", 7) == 0);
	CHECK_STR(out, "k/x-7");
	err_init(&e);
	CHECK(path_join(out, sizeof(out), "/long/prefix", "and-more", &e) == -1);
	CHECK(e.code == EXIT_VERIFY);
}

static void confinement_rejects_escapes(void)
{
	CHECK(path_is_confined("etc/passwd"));
	CHECK(path_is_confined("./usr/bin/"));
	CHECK(path_is_confined("a/..b/c"));
	CHECK(!path_is_confined(""));
	CHECK(!path_is_confined("/etc/passwd"));
	CHECK(!path_is_confined(".."));
	CHECK(!path_is_confined("a/../../b"));
	CHECK(!path_is_confined("a/.."));
	CHECK(!path_is_confined("a//../b"));
}

static void simple_names(void)
{
	CHECK(path_is_simple_name("debian-bookworm"));
	CHECK(path_is_simple_name("k6.1_x86.64"));
	CHECK(!path_is_simple_name(""));
	CHECK(!path_is_simple_name(".hidden"));
	CHECK(!path_is_simple_name("-flag"));
	CHECK(!path_is_simple_name("a/b"));
	CHECK(!path_is_simple_name("a b"));
	CHECK(!path_is_simple_name(
		"0123456789012345678901234567890123456789012345678901234567890123456789"));
}

static void mkdirs_and_remove_tree(void)
{
	const char *t = harness_tmpdir();
	char p[512], q[512], l[512];
	struct err e;
	struct stat st;

	path_joinf(p, sizeof(p), &e, t, "a/b/c");
	CHECK(path_mkdirs(p, 0755, &e) == 0);
	CHECK(path_mkdirs(p, 0755, &e) == 0);
	CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
	/* A symlink inside the tree must be removed, not followed. */
	path_joinf(q, sizeof(q), &e, t, "keep");
	CHECK(mkdir(q, 0755) == 0);
	path_joinf(l, sizeof(l), &e, t, "a/b/link");
	CHECK(symlink(q, l) == 0);
	path_joinf(p, sizeof(p), &e, t, "a");
	CHECK(path_remove_tree(p, &e) == 0);
	CHECK(lstat(p, &st) == -1);
	CHECK(stat(q, &st) == 0);
	CHECK(path_remove_tree(p, &e) == 0); /* missing is fine */
	CHECK(path_remove_tree(t, &e) == 0);
}

int main(void)
{
	HARNESS_BEGIN("path");
	RUN(join_collapses_seams_and_refuses_overflow);
	RUN(confinement_rejects_escapes);
	RUN(simple_names);
	RUN(mkdirs_and_remove_tree);
	HARNESS_END();
}
