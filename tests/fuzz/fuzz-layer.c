/* fuzz-layer — lib/oci/layer.c: a layer (tar, maybe gzip or zstd) replayed
 * into a scratch root through layer_apply_stream, read in pieces whose size
 * the first byte sets. The root starts as an earlier layer might have left
 * it: symlinks escape -> ../outside, abs -> SANDBOX/outside and a hard-link
 * target. Invariants, success or failure: the replay never writes outside
 * the root (outside/ still holds exactly its file, unchanged, with one
 * link; the sandbox holds only root/ and outside/); the planted symlinks
 * are never followed; a successful replay can be measured (layer_usage);
 * a refusal names the layer. */
#include "fuzz.h"

#include "err.h"
#include "oci/layer.h"
#include "path.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static char sandbox[64], root[96], outside[96], keep[128];

struct src {
	const uint8_t *p;
	size_t n, off, piece;
};

static ssize_t next(void *ud, const void **buf)
{
	struct src *s = ud;
	size_t k = s->n - s->off < s->piece ? s->n - s->off : s->piece;

	*buf = s->p + s->off;
	s->off += k;
	return (ssize_t)k;
}

static void setup(void)
{
	char link[160];
	int fd;

	snprintf(sandbox, sizeof(sandbox), "/tmp/fuzz-layer-%d", (int)getpid());
	snprintf(root, sizeof(root), "%s/root", sandbox);
	snprintf(outside, sizeof(outside), "%s/outside", sandbox);
	snprintf(keep, sizeof(keep), "%s/keep", outside);
	mkdir(sandbox, 0700);
	mkdir(outside, 0755);
	fd = open(keep, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	FUZZ_CHECK(fd >= 0 && write(fd, "keep", 4) == 4);
	close(fd);
	FUZZ_CHECK(mkdir(root, 0755) == 0);
	snprintf(link, sizeof(link), "%s/escape", root);
	FUZZ_CHECK(symlink("../outside", link) == 0);
	snprintf(link, sizeof(link), "%s/abs", root);
	FUZZ_CHECK(symlink(outside, link) == 0);
	snprintf(link, sizeof(link), "%s/dot", root);
	FUZZ_CHECK(symlink("..", link) == 0);
}

static void confined(void)
{
	struct stat st;
	struct dirent *de;
	char buf[8];
	int n = 0, fd;
	DIR *d = opendir(outside);

	FUZZ_CHECK(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			FUZZ_CHECK(!strcmp(de->d_name, "keep") && ++n == 1);
	closedir(d);
	FUZZ_CHECK(lstat(keep, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1);
	FUZZ_CHECK((st.st_mode & 07777) == 0644 && st.st_size == 4 && st.st_uid == 0);
	fd = open(keep, O_RDONLY);
	FUZZ_CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) == 4 && !memcmp(buf, "keep", 4));
	close(fd);
	d = opendir(sandbox);
	FUZZ_CHECK(d);
	while ((de = readdir(d)))
		FUZZ_CHECK(!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
			   !strcmp(de->d_name, "root") || !strcmp(de->d_name, "outside"));
	closedir(d);
	FUZZ_CHECK(lstat(sandbox, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct src s = { data + 1, size ? size - 1 : 0, 0, 0 };
	struct layer_root lr;
	struct layer_usage u;
	struct err e;

	if (size < 1)
		return 0;
	s.piece = 1 + (size_t)data[0] * 37;
	setup();
	err_init(&e);
	FUZZ_CHECK(layer_root_open(&lr, root, &e) == 0);
	if (layer_apply_stream(&lr, next, &s, "layer 1 (fuzz)", &e) == 0) {
		err_init(&e);
		FUZZ_CHECK(layer_usage(&lr, &u, &e) == 0 || e.msg[0]);
	} else {
		FUZZ_CHECK(e.msg[0] && strstr(e.msg, "layer 1 (fuzz)"));
	}
	layer_root_close(&lr);
	confined();
	err_init(&e);
	FUZZ_CHECK(path_remove_tree(sandbox, &e) == 0);
	return 0;
}
