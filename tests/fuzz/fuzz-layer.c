/* fuzz-layer — lib/oci/layer.c: a layer (tar, maybe gzip or zstd) replayed
 * into an ext4 tree through layer_apply_stream, read in pieces whose size
 * the first byte sets. The tree starts as an earlier layer might have left
 * it: symlinks escape -> ../outside, abs -> SANDBOX/outside, dot -> "..".
 * Invariants, success or failure: nothing on the host changes but the
 * image (outside/ still holds exactly its file, unchanged, with one link;
 * the sandbox holds only the image and outside/); a successful replay
 * gives an image that can be finished (or a message why not); a refusal
 * names the layer. */
#include "fuzz.h"

#include "err.h"
#include "ext4/ext4.h"
#include "oci/layer.h"
#include "path.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static char sandbox[64], image[96], outside[96], keep[128];

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
	int fd;

	snprintf(sandbox, sizeof(sandbox), "/tmp/fuzz-layer-%d", (int)getpid());
	snprintf(image, sizeof(image), "%s/image.ext4", sandbox);
	snprintf(outside, sizeof(outside), "%s/outside", sandbox);
	snprintf(keep, sizeof(keep), "%s/keep", outside);
	mkdir(sandbox, 0700);
	mkdir(outside, 0755);
	fd = open(keep, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	FUZZ_CHECK(fd >= 0 && write(fd, "keep", 4) == 4);
	close(fd);
}

static void plant(struct layer_root *lr)
{
	struct err e;

	err_init(&e);
	FUZZ_CHECK(layer_put_symlink(lr, "escape", "../outside", &e) == 0);
	FUZZ_CHECK(layer_put_symlink(lr, "abs", outside, &e) == 0);
	FUZZ_CHECK(layer_put_symlink(lr, "dot", "..", &e) == 0);
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
			   !strcmp(de->d_name, "image.ext4") || !strcmp(de->d_name, "outside"));
	closedir(d);
	FUZZ_CHECK(lstat(sandbox, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct src s = { data + 1, size ? size - 1 : 0, 0, 0 };
	struct ext4_opts o = { .size = 16 << 20, .seed = "fuzz" };
	struct layer_root lr;
	struct ext4_fs *fs;
	uint64_t bytes;
	struct err e;

	if (size < 1)
		return 0;
	s.piece = 1 + (size_t)data[0] * 37;
	setup();
	err_init(&e);
	fs = ext4_new(image, &o, &e);
	FUZZ_CHECK(fs);
	layer_root_open(&lr, fs);
	plant(&lr);
	if (layer_apply_stream(&lr, next, &s, "layer 1 (fuzz)", &e) == 0) {
		err_init(&e);
		FUZZ_CHECK(ext4_finish(fs, &bytes, &e) == 0 || e.msg[0]);
	} else {
		FUZZ_CHECK(e.msg[0] && strstr(e.msg, "layer 1 (fuzz)"));
	}
	ext4_free(fs);
	confined();
	err_init(&e);
	FUZZ_CHECK(path_remove_tree(sandbox, &e) == 0);
	return 0;
}
