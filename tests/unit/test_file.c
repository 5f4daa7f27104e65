/* Unit tests: lib/file.c — atomic install, abort, read ceilings, dir swap. */
#include "harness.h"

#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "path.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.' || (de->d_name[1] && de->d_name[1] != '.');
	closedir(d);
	return n;
}

static void atomic_write_replaces_whole_file(void)
{
	const char *t = harness_tmpdir();
	char p[512], *data;
	size_t len;
	struct err e;
	struct stat st;

	path_join(p, sizeof(p), t, "f", &e);
	CHECK(file_write_atomic(p, "old", 3, 0600, &e) == 0);
	CHECK(file_write_atomic(p, "newer", 5, 0644, &e) == 0);
	CHECK(file_read_all(p, 100, &data, &len, &e) == 0);
	CHECK(len == 5);
	CHECK_STR(data, "newer");
	free(data);
	CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0644);
	CHECK(count_entries(t) == 1); /* no temporary left */
	path_remove_tree(t, &e);
}

static void abort_leaves_previous_state(void)
{
	const char *t = harness_tmpdir();
	char p[512], *data;
	struct atomic_file af;
	struct err e;

	path_join(p, sizeof(p), t, "f", &e);
	CHECK(file_write_atomic(p, "keep", 4, 0644, &e) == 0);
	CHECK(atomic_open(&af, p, 0644, &e) == 0);
	CHECK(write(af.fd, "partial", 7) == 7);
	CHECK(count_entries(t) == 2);
	atomic_abort(&af);
	CHECK(count_entries(t) == 1);
	CHECK(file_read_all(p, 100, &data, NULL, &e) == 0);
	CHECK_STR(data, "keep");
	free(data);
	path_remove_tree(t, &e);
}

static void read_ceiling_and_missing(void)
{
	const char *t = harness_tmpdir();
	char p[512], *data;
	struct err e;
	char big[10000];

	memset(big, 'z', sizeof(big));
	path_join(p, sizeof(p), t, "big", &e);
	CHECK(file_write_atomic(p, big, sizeof(big), 0644, &e) == 0);
	err_init(&e);
	CHECK(file_read_all(p, 9999, &data, NULL, &e) == -1);
	CHECK(e.code == EXIT_VERIFY && data == NULL);
	CHECK(file_read_all(p, 10000, &data, NULL, &e) == 0);
	free(data);
	path_join(p, sizeof(p), t, "missing", &e);
	CHECK(file_read_all(p, 10, &data, NULL, &e) == -1);
	CHECK(e.code == EXIT_NOTFOUND);
	path_remove_tree(t, &e);
}

static void commit_dir_swaps_existing(void)
{
	const char *t = harness_tmpdir();
	char dst[512], stage[512], f[512], *data;
	struct err e;

	path_join(dst, sizeof(dst), t, "kernel", &e);
	path_join(stage, sizeof(stage), t, ".kernel.staging", &e);
	CHECK(path_mkdirs(stage, 0755, &e) == 0);
	path_join(f, sizeof(f), stage, "v", &e);
	CHECK(file_write_atomic(f, "1", 1, 0644, &e) == 0);
	CHECK(file_commit_dir(stage, dst, &e) == 0);
	CHECK(path_mkdirs(stage, 0755, &e) == 0);
	CHECK(file_write_atomic(f, "2", 1, 0644, &e) == 0);
	CHECK(file_commit_dir(stage, dst, &e) == 0);
	path_join(f, sizeof(f), dst, "v", &e);
	CHECK(file_read_all(f, 10, &data, NULL, &e) == 0);
	CHECK_STR(data, "2");
	free(data);
	CHECK(count_entries(t) == 1);
	path_remove_tree(t, &e);
}

static void copy_keeps_holes(void)
{
	const char *t = harness_tmpdir();
	char src[512], dst[512], *a, *b;
	size_t la, lb;
	struct err e;
	struct stat st;
	bool reflinked;
	int in, out;

	path_join(src, sizeof(src), t, "sparse", &e);
	path_join(dst, sizeof(dst), t, "copy", &e);
	in = open(src, O_RDWR | O_CREAT, 0644);
	CHECK(in >= 0 && ftruncate(in, 64 << 20) == 0);
	CHECK(pwrite(in, "head", 4, 0) == 4 && pwrite(in, "tail", 4, (32 << 20) + 5) == 4);
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL, 0644);
	CHECK(out >= 0 && file_copy_fd(in, out, src, &reflinked, &e) == 0);
	close(in);
	close(out);
	CHECK(stat(dst, &st) == 0 && st.st_size == 64 << 20);
	/* Holes stay holes: far less than 64 MiB is allocated (or shared). */
	CHECK(reflinked || st.st_blocks * 512 < (8 << 20));
	CHECK(file_read_all(src, 64 << 20, &a, &la, &e) == 0);
	CHECK(file_read_all(dst, 64 << 20, &b, &lb, &e) == 0);
	CHECK(la == lb && !memcmp(a, b, la));
	free(a);
	free(b);
	path_remove_tree(t, &e);
}

int main(void)
{
	HARNESS_BEGIN("file");
	RUN(copy_keeps_holes);
	RUN(atomic_write_replaces_whole_file);
	RUN(abort_leaves_previous_state);
	RUN(read_ceiling_and_missing);
	RUN(commit_dir_swaps_existing);
	HARNESS_END();
}
