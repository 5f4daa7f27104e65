/* fuzz-ext4read — lib/ext4/read.c: an ext4 image, whole walk, every file's
 * data and xattrs. The input describes the image sparsely, so a small
 * input is a real filesystem of megabytes and mutations land on metadata:
 *
 *   u32 size in KiB (kept within 64 KiB..16 MiB), then records of
 *   u32 byte offset, u16 length, that many bytes (cut at the end)
 *
 * (tests/fuzz/seeds.py makes them from mke2fs and debugfs images.)
 * Invariants, success or failure: a failure is EXIT_VERIFY (or EXIT_SYSTEM
 * for memory) with a message naming the image; walked paths are absolute,
 * without empty or "."/".." components, each under its parent and sorted
 * within it, depth matching; data comes in increasing, non-empty pieces of
 * at most EXT4_READ_CHUNK within the size; symlink targets have the size's
 * length; xattr names carry a known prefix and values within
 * LIMIT_XATTR_VALUE; and walking twice gives the same result. */
#include "fuzz.h"

#include "digest.h"
#include "err.h"
#include "exitcode.h"
#include "ext4/read.h"
#include "limits.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct seen {
	struct sha256 h;
	char last[LIMIT_PATH];
	int entries;
	uint64_t off, size;
};

static uint32_t get32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int piece(uint64_t off, const void *data, size_t len, void *ud, struct err *e)
{
	struct seen *s = ud;

	FUZZ_CHECK(len > 0 && len <= EXT4_READ_CHUNK);
	FUZZ_CHECK(off >= s->off && off + len <= s->size);
	s->off = off + len;
	sha256_update(&s->h, &off, sizeof(off));
	sha256_update(&s->h, data, len);
	return 0;
}

static int xattr(const char *name, const void *val, size_t len, void *ud, struct err *e)
{
	static const char *const ns[] = { "user.", "trusted.", "security.", "system." };
	struct seen *s = ud;
	bool known = false;

	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		known |= !strncmp(name, ns[i], strlen(ns[i]));
	FUZZ_CHECK(known && len <= 2 * LIMIT_XATTR_VALUE + 8);
	sha256_update(&s->h, name, strlen(name) + 1);
	sha256_update(&s->h, val, len);
	return 0;
}

static int entry(struct ext4_img *img, const struct ext4_entry *en, void *ud, struct err *e)
{
	struct seen *s = ud;
	const char *p = en->path;
	int depth = 0;
	size_t plen = strlen(p);

	FUZZ_CHECK(p[0] == '/' && plen < LIMIT_PATH);
	for (const char *c = p + 1; *c; c = strchr(c, '/') ? strchr(c, '/') + 1 : c + strlen(c)) {
		size_t n = strcspn(c, "/");

		FUZZ_CHECK(n > 0 && n <= LIMIT_NAME);
		FUZZ_CHECK(!(n == 1 && c[0] == '.') && !(n == 2 && c[0] == '.' && c[1] == '.'));
		depth++;
	}
	FUZZ_CHECK(depth == en->depth && depth <= LIMIT_EXT4_DEPTH + 1);
	FUZZ_CHECK(!strcmp(en->name, strrchr(p, '/') + 1));
	/* preorder, names sorted: each path sorts after the one before it,
	 * with '/' as the lowest byte */
	if (s->entries++) {
		const char *a = s->last, *b = p;

		while (*a && *a == *b)
			a++, b++;
		FUZZ_CHECK(*b && (!*a || *a == '/' || (*b != '/' && (uint8_t)*a < (uint8_t)*b)));
	}
	memcpy(s->last, p, plen + 1);
	sha256_update(&s->h, p, plen + 1);
	{
		uint64_t f[] = { en->in.ino,
				 en->in.mode,
				 en->in.uid,
				 en->in.gid,
				 en->in.size,
				 en->in.links,
				 (uint64_t)en->in.mtime,
				 en->in.major,
				 en->in.minor };

		sha256_update(&s->h, f, sizeof(f));
	}
	if (S_ISLNK(en->in.mode))
		FUZZ_CHECK(strlen(en->target) == en->in.size && en->in.size > 0);
	if (ext4_img_xattrs(img, &en->in, xattr, s, e) < 0)
		return -1;
	if (S_ISREG(en->in.mode)) {
		s->off = 0;
		s->size = en->in.size;
		return ext4_img_data(img, &en->in, piece, s, e);
	}
	return 0;
}

/* One whole read: the digest of everything seen, and how it ended. */
static int read_all(int fd, char hex[DIGEST_HEX_LEN + 1])
{
	struct seen *s = calloc(1, sizeof(*s));
	struct ext4_img *img;
	struct err e;
	int rc;

	FUZZ_CHECK(s);
	sha256_init(&s->h);
	err_init(&e);
	img = ext4_img_open_fd(fd, "fuzz.img", &e);
	rc = img ? ext4_img_walk(img, "/", entry, s, &e) : -1;
	if (rc < 0) {
		FUZZ_CHECK(e.code == EXIT_VERIFY || e.code == EXIT_SYSTEM);
		FUZZ_CHECK(!strncmp(e.msg, "fuzz.img", 8) || e.code == EXIT_SYSTEM);
		sha256_update(&s->h, e.msg, strlen(e.msg));
	}
	FUZZ_CHECK(rc <= 0);
	ext4_img_close(img);
	sha256_hex(&s->h, hex);
	free(s);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char a[DIGEST_HEX_LEN + 1], b[DIGEST_HEX_LEN + 1];
	uint64_t kib, img;
	int fd;

	if (size < 4)
		return 0;
	kib = get32(data);
	kib = kib < 64 ? 64 : kib > 16384 ? 16384 : kib;
	img = kib * 1024;
	fd = memfd_create("fuzz-ext4read", MFD_CLOEXEC);
	FUZZ_CHECK(fd >= 0 && ftruncate(fd, (off_t)img) == 0);
	for (size_t at = 4; at + 6 <= size;) {
		uint64_t off = get32(data + at) % img;
		size_t len = data[at + 4] | (size_t)data[at + 5] << 8;

		at += 6;
		if (len > size - at)
			len = size - at;
		if (len > img - off)
			len = (size_t)(img - off);
		FUZZ_CHECK(pwrite(fd, data + at, len, (off_t)off) == (ssize_t)len);
		at += len;
	}
	read_all(fd, a);
	read_all(fd, b);
	FUZZ_CHECK(!strcmp(a, b));
	close(fd);
	return 0;
}
