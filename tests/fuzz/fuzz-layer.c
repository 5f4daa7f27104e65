/* fuzz-layer — lib/oci/layer.c: a layer (tar, maybe gzip or zstd) replayed
 * into lib/ext4's in-memory tree through layer_apply_stream, read in pieces
 * whose size the first byte sets. The tree starts as an earlier layer might
 * have left it: symlinks escape -> ../outside, abs -> /etc and dot -> ..,
 * and a directory d. Invariants, success or failure: nothing is created on
 * the host (the scratch directory still holds only the image file); every
 * name in the tree is one component (not empty, no '/', not "." or "..");
 * a planted symlink an entry tried to pass through is still a symlink with
 * its target (refused, never followed); a refusal names the layer. */
#include "fuzz.h"

#include "err.h"
#include "ext4/ext4.h"
#include "oci/layer.h"
#include "path.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

static char sandbox[64], img[96];

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

struct walk {
	int depth;
	size_t entries;
};

static int visit(struct ext4_fs *fs, uint32_t dir, const char *name, size_t len, uint32_t ino,
		 void *ud)
{
	struct walk *w = ud;
	struct ext4_attr a;

	if ((len == 1 && name[0] == '.') || (len == 2 && !memcmp(name, "..", 2)))
		return 0; /* the directory's own links, if listed */
	FUZZ_CHECK(len >= 1 && len <= 255 && !memchr(name, '/', len) && !memchr(name, 0, len));
	FUZZ_CHECK(++w->entries < 1000000);
	ext4_stat(fs, ino, &a);
	if (S_ISDIR(a.mode) && w->depth < 64) {
		w->depth++;
		ext4_each(fs, ino, visit, w);
		w->depth--;
	}
	(void)dir;
	return 0;
}

static const char *const names[3] = { "escape", "abs", "dot" };
static const char *const targets[3] = { "../outside", "/etc", ".." };

/* The planted symlinks' inodes and tags, before the layer. */
static void plant_state(struct ext4_fs *fs, uint32_t ino[3], uint32_t tag[3])
{
	for (int i = 0; i < 3; i++) {
		if (ext4_lookup(fs, EXT4_ROOT_INO, names[i], strlen(names[i]), &ino[i]) != 1)
			ino[i] = 0;
		tag[i] = ino[i] ? ext4_tag(fs, ino[i]) : 0;
	}
}

/* A planted symlink the layer did not replace (same inode, same tag:
 * layer_root tags what each layer writes) still points where it did. */
static void planted(struct ext4_fs *fs, const uint32_t ino0[3], const uint32_t tag0[3])
{
	uint32_t ino[3], tag[3];
	struct ext4_attr a;

	plant_state(fs, ino, tag);
	for (int i = 0; i < 3; i++) {
		if (!ino[i] || ino[i] != ino0[i] || tag[i] != tag0[i])
			continue;
		ext4_stat(fs, ino[i], &a);
		FUZZ_CHECK(S_ISLNK(a.mode) && a.symlink && !strcmp(a.symlink, targets[i]));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct src s = { data + 1, size ? size - 1 : 0, 0, 0 };
	struct ext4_opts o = { .size = 64 << 20, .label = "fuzz", .seed = "fuzz" };
	struct layer_root lr;
	struct ext4_fs *fs;
	struct walk w = { 0, 0 };
	uint32_t ino0[3], tag0[3];
	struct dirent *de;
	struct err e;
	DIR *d;

	if (size < 1)
		return 0;
	if (!sandbox[0]) {
		snprintf(sandbox, sizeof(sandbox), "/tmp/fuzz-layer-%d", (int)getpid());
		snprintf(img, sizeof(img), "%s/img", sandbox);
		mkdir(sandbox, 0700);
	}
	s.piece = 1 + (size_t)data[0] * 37;
	err_init(&e);
	fs = ext4_new(img, &o, &e);
	FUZZ_CHECK(fs);
	layer_root_open(&lr, fs);
	FUZZ_CHECK(layer_put_symlink(&lr, "escape", "../outside", &e) == 0);
	FUZZ_CHECK(layer_put_symlink(&lr, "abs", "/etc", &e) == 0);
	FUZZ_CHECK(layer_put_symlink(&lr, "dot", "..", &e) == 0);
	FUZZ_CHECK(layer_put_file(&lr, "d/keep", "keep", 4, 0644, &e) == 0);
	plant_state(fs, ino0, tag0);
	if (layer_apply_stream(&lr, next, &s, "layer 1 (fuzz)", &e) < 0)
		FUZZ_CHECK(e.msg[0] && strstr(e.msg, "layer 1 (fuzz)"));
	ext4_each(fs, EXT4_ROOT_INO, visit, &w);
	planted(fs, ino0, tag0);
	ext4_free(fs);
	d = opendir(sandbox);
	FUZZ_CHECK(d);
	while ((de = readdir(d)))
		FUZZ_CHECK(!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
			   !strcmp(de->d_name, "img"));
	closedir(d);
	unlink(img);
	return 0;
}
