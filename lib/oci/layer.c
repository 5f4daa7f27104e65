/* layer.c — see layer.h. The tree is lib/ext4's, reached by name from the
 * root one component at a time; nothing here touches the host's files but
 * the layer being read. */
#include "oci/layer.h"
#include "err.h"
#include "exitcode.h"
#include "ext4/ext4.h"
#include "limits.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"

void layer_root_open(struct layer_root *lr, struct ext4_fs *fs)
{
	lr->fs = fs;
	lr->layer = 0;
	lr->time = 0;
	lr->deb = false;
}

/* A Debian package's name as a merged-/usr root holds it: bin/, sbin/,
 * lib/, lib64/ (and those directories themselves) move under usr/, as
 * dpkg puts them when /bin and friends are symlinks into /usr — which the
 * tree may not follow while it is built (walk_parent refuses symlinks). */
static int usr_merged(char *rel, size_t size, struct err *e)
{
	static const char *const dirs[] = { "bin", "sbin", "lib", "lib64" };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		size_t n = strlen(dirs[i]), len = strlen(rel);

		if (strncmp(rel, dirs[i], n) || (rel[n] && rel[n] != '/'))
			continue;
		if (len + 5 > size)
			return err_set(e, EXIT_VERIFY, "'%s': name too long", rel);
		memmove(rel + 4, rel, len + 1);
		memcpy(rel, "usr/", 4);
		return 0;
	}
	return 0;
}

/* Finds the directory holding rel's last component, walking from the root
 * without following symlinks; with create, missing directories are made
 * (0755, root) and every directory on the way is tagged as written by this
 * layer (an opaque marker keeps them). Sets *base to the last component
 * (inside rel). ENOENT is EXIT_NOTFOUND. */
static int walk_parent(struct layer_root *lr, const char *rel, bool create, const char **base,
		       uint32_t *dir, struct err *e)
{
	const char *slash = strrchr(rel, '/'), *p = rel;
	uint32_t cur = EXT4_ROOT_INO;

	*base = slash ? slash + 1 : rel;
	while (slash && p < slash) {
		size_t n = strcspn(p, "/");
		struct ext4_attr a;
		uint32_t next;

		if (!ext4_lookup(lr->fs, cur, p, n, &next)) {
			struct ext4_attr d = { .mode = S_IFDIR | 0755,
					       .atime = lr->time,
					       .mtime = lr->time,
					       .ctime = lr->time };

			if (!create)
				return err_set(e, EXIT_NOTFOUND, "'%s': '%.*s' does not exist", rel,
					       (int)(p - rel + n), rel);
			if (ext4_create(lr->fs, cur, p, n, &d, &next, e) < 0)
				return err_prefix(e, "'%s'", rel);
		}
		ext4_stat(lr->fs, next, &a);
		if (S_ISLNK(a.mode))
			return err_set(
				e, EXIT_VERIFY,
				"'%s': '%.*s' is a symbolic link — refusing to write through it",
				rel, (int)(p - rel + n), rel);
		if (!S_ISDIR(a.mode))
			return err_set(e, EXIT_VERIFY, "'%s': '%.*s' is not a directory", rel,
				       (int)(p - rel + n), rel);
		if (create)
			ext4_set_tag(lr->fs, next, lr->layer);
		cur = next;
		p += n + 1;
	}
	*dir = cur;
	return 0;
}

/* --- whiteouts --- */

struct opaque {
	struct layer_root *lr;
	struct err *e;
};

/* Removes what lower layers left in dir: entries this layer did not write
 * go, directories it wrote into are emptied the same way. */
static int opaque_clear(struct ext4_fs *fs, uint32_t dir, const char *name, size_t len,
			uint32_t ino, void *ud)
{
	struct opaque *o = ud;
	struct ext4_attr a;

	if (ext4_tag(fs, ino) != o->lr->layer)
		return ext4_remove(fs, dir, name, len, o->e);
	ext4_stat(fs, ino, &a);
	return S_ISDIR(a.mode) ? ext4_each(fs, ino, opaque_clear, o) : 0;
}

static int whiteout(struct layer_root *lr, const char *rel, const char *base, struct err *e)
{
	const char *name = base + strlen(WH_PREFIX);
	uint32_t dir, ino;

	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return err_set(e, EXIT_VERIFY, "'%s': whiteout of an invalid name — refusing", rel);
	if (walk_parent(lr, rel, false, &base, &dir, e) < 0)
		return e->code == EXIT_NOTFOUND ? (err_init(e), 0) : -1;
	if (!strcmp(base, WH_OPAQUE)) {
		struct opaque o = { lr, e };

		return ext4_each(lr->fs, dir, opaque_clear, &o) ? -1 : 0;
	}
	if (!strncmp(name, WH_PREFIX, strlen(WH_PREFIX)))
		return 0; /* other AUFS metadata (.wh..wh.plnk): nothing to do */
	if (!ext4_lookup(lr->fs, dir, name, strlen(name), &ino) ||
	    ext4_tag(lr->fs, ino) == lr->layer)
		return 0; /* a whiteout hides lower layers only */
	return ext4_remove(lr->fs, dir, name, strlen(name), e);
}

/* --- entries, one kind each --- */

static void entry_attr(struct archive_entry *ent, struct ext4_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->mode = archive_entry_filetype(ent) | (archive_entry_perm(ent) & 07777);
	a->uid = (uint32_t)archive_entry_uid(ent);
	a->gid = (uint32_t)archive_entry_gid(ent);
	a->mtime = archive_entry_mtime(ent);
	a->mtime_ns = (uint32_t)archive_entry_mtime_nsec(ent);
	a->atime = archive_entry_atime_is_set(ent) ? archive_entry_atime(ent) : a->mtime;
	a->atime_ns = archive_entry_atime_is_set(ent) ? (uint32_t)archive_entry_atime_nsec(ent)
						      : a->mtime_ns;
	/* no clock: a change time the layer does not give is its mtime */
	a->ctime = archive_entry_ctime_is_set(ent) ? archive_entry_ctime(ent) : a->mtime;
	a->ctime_ns = archive_entry_ctime_is_set(ent) ? (uint32_t)archive_entry_ctime_nsec(ent)
						      : a->mtime_ns;
	a->size = archive_entry_size(ent) > 0 ? (uint64_t)archive_entry_size(ent) : 0;
	a->major = (uint32_t)archive_entry_rdevmajor(ent);
	a->minor = (uint32_t)archive_entry_rdevminor(ent);
}

static int set_xattrs(struct layer_root *lr, uint32_t ino, struct archive_entry *ent,
		      const char *rel, struct err *e)
{
	const char *name;
	const void *val;
	size_t size;

	archive_entry_xattr_reset(ent);
	while (archive_entry_xattr_next(ent, &name, &val, &size) == ARCHIVE_OK) {
		if (size > LIMIT_XATTR_VALUE)
			return err_set(e, EXIT_VERIFY, "'%s': xattr %s larger than %d bytes", rel,
				       name, LIMIT_XATTR_VALUE);
		if (ext4_xattr_set(lr->fs, ino, name, val, size, e) < 0)
			return err_prefix(e, "'%s'", rel);
	}
	return 0;
}

static int entry_hardlink(struct layer_root *lr, const char *rel, uint32_t dir, const char *base,
			  const char *hl, struct err *e)
{
	char trel[LIMIT_TAR_NAME];
	const char *tbase;
	uint32_t tdir, ino;

	if (layer_clean_name(hl, trel, sizeof(trel), e) < 0 ||
	    (lr->deb && usr_merged(trel, sizeof(trel), e) < 0))
		return err_prefix(e, "'%s': hard link target", rel);
	if (!*trel || !strcmp(trel, rel))
		return err_set(e, EXIT_VERIFY, "'%s': hard link to itself or the root", rel);
	if (walk_parent(lr, trel, false, &tbase, &tdir, e) < 0)
		return err_prefix(e, "'%s': hard link target", rel);
	if (!ext4_lookup(lr->fs, tdir, tbase, strlen(tbase), &ino))
		return err_set(
			e, EXIT_VERIFY,
			"'%s': cannot hard-link to '%s' (the target must be an earlier entry "
			"inside the image)",
			rel, trel);
	if (ext4_link(lr->fs, dir, base, strlen(base), ino, e) < 0)
		return err_prefix(e, "'%s': hard link to '%s'", rel, trel);
	ext4_set_tag(lr->fs, ino, lr->layer);
	return 0;
}

static int entry_file(struct layer_root *lr, struct archive *a, const char *rel, uint32_t ino,
		      struct err *e)
{
	const void *blk;
	size_t len;
	la_int64_t off;
	int r;

	while ((r = archive_read_data_block(a, &blk, &len, &off)) == ARCHIVE_OK)
		if (off < 0 || ext4_write(lr->fs, ino, (uint64_t)off, blk, len, e) < 0)
			return err_prefix(e, "'%s'", rel);
	if (r != ARCHIVE_EOF)
		return err_set(e, EXIT_VERIFY, "'%s': %s", rel, archive_error_string(a));
	return 0;
}

/* A directory over a directory keeps what is in it and takes the new
 * metadata; anything else replaces what was there. */
static int entry_new(struct layer_root *lr, struct archive *a, struct archive_entry *ent,
		     const char *rel, uint32_t dir, const char *base, struct err *e)
{
	struct ext4_attr at;
	uint32_t ino, type = archive_entry_filetype(ent);
	size_t blen = strlen(base);

	entry_attr(ent, &at);
	if (ext4_lookup(lr->fs, dir, base, blen, &ino)) {
		struct ext4_attr old;

		ext4_stat(lr->fs, ino, &old);
		if (type == AE_IFDIR && S_ISDIR(old.mode)) {
			ext4_set_attr(lr->fs, ino, &at);
			ext4_set_tag(lr->fs, ino, lr->layer);
			return set_xattrs(lr, ino, ent, rel, e);
		}
		if (ext4_remove(lr->fs, dir, base, blen, e) < 0)
			return err_prefix(e, "'%s'", rel);
	}
	switch (type) {
	case AE_IFREG:
	case AE_IFDIR:
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO:
	case AE_IFSOCK:
		break;
	case AE_IFLNK:
		at.symlink = archive_entry_symlink(ent);
		if (!at.symlink || strlen(at.symlink) >= LIMIT_TAR_NAME)
			return err_set(e, EXIT_VERIFY, "'%s': symlink target missing or too long",
				       rel);
		break;
	default:
		return err_set(e, EXIT_VERIFY, "'%s': unsupported tar entry type 0%o", rel,
			       (unsigned)type);
	}
	if (type != AE_IFREG)
		at.size = 0;
	if (ext4_create(lr->fs, dir, base, blen, &at, &ino, e) < 0)
		return err_prefix(e, "'%s'", rel);
	ext4_set_tag(lr->fs, ino, lr->layer);
	if (type == AE_IFREG && entry_file(lr, a, rel, ino, e) < 0)
		return -1;
	return set_xattrs(lr, ino, ent, rel, e);
}

static int apply_entry(struct layer_root *lr, struct archive *a, struct archive_entry *ent,
		       struct err *e)
{
	char rel[LIMIT_TAR_NAME];
	const char *base, *hl = archive_entry_hardlink(ent);
	uint32_t dir;

	if (layer_clean_name(archive_entry_pathname(ent) ? archive_entry_pathname(ent) : "", rel,
			     sizeof(rel), e) < 0 ||
	    (lr->deb && usr_merged(rel, sizeof(rel), e) < 0))
		return -1;
	if (!*rel) { /* "./": the root's own metadata */
		struct ext4_attr at;

		if (archive_entry_filetype(ent) != AE_IFDIR)
			return err_set(e, EXIT_VERIFY, "the root entry is not a directory");
		entry_attr(ent, &at);
		ext4_set_attr(lr->fs, EXT4_ROOT_INO, &at);
		return set_xattrs(lr, EXT4_ROOT_INO, ent, "/", e);
	}
	base = strrchr(rel, '/');
	base = base ? base + 1 : rel;
	if (!lr->deb && !strncmp(base, WH_PREFIX, strlen(WH_PREFIX)))
		return whiteout(lr, rel, base, e);
	if (walk_parent(lr, rel, true, &base, &dir, e) < 0)
		return -1;
	if (!hl)
		return entry_new(lr, a, ent, rel, dir, base, e);
	if (ext4_remove(lr->fs, dir, base, strlen(base), e) < 0)
		return err_prefix(e, "'%s'", rel);
	return entry_hardlink(lr, rel, dir, base, hl, e);
}

/* Replays what a (opened by the caller) reads. */
static int replay(struct layer_root *lr, struct archive *a, const char *what, struct err *e)
{
	struct archive_entry *ent;
	int r;

	lr->layer++;
	while ((r = archive_read_next_header(a, &ent)) == ARCHIVE_OK || r == ARCHIVE_WARN)
		if (apply_entry(lr, a, ent, e) < 0)
			return err_prefix(e, "%s", what);
	if (r != ARCHIVE_EOF)
		return err_set(e, EXIT_VERIFY, "%s: not a valid tar layer: %s", what,
			       archive_error_string(a));
	return 0;
}

struct stream_src {
	layer_read_fn read;
	void *ud;
};

static la_ssize_t stream_cb(struct archive *a, void *ud, const void **buf)
{
	struct stream_src *src = ud;
	ssize_t n = src->read(src->ud, buf);

	if (n < 0)
		archive_set_error(a, EIO, "reading the layer failed");
	return n;
}

static struct archive *reader_new(struct err *e)
{
	struct archive *a = archive_read_new();

	if (!a) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		return NULL;
	}
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_xz(a);
	archive_read_support_format_tar(a);
	return a;
}

int layer_apply(struct layer_root *lr, const char *path, const char *what, struct err *e)
{
	struct archive *a = reader_new(e);
	int rc = -1;

	if (!a)
		return -1;
	if (archive_read_open_filename(a, path, 256 * 1024) != ARCHIVE_OK)
		err_set(e, EXIT_VERIFY, "%s: %s", what, archive_error_string(a));
	else
		rc = replay(lr, a, what, e);
	archive_read_free(a);
	return rc;
}

int layer_apply_stream(struct layer_root *lr, layer_read_fn read, void *ud, const char *what,
		       struct err *e)
{
	struct archive *a = reader_new(e);
	struct stream_src src = { read, ud };
	int rc = -1;

	if (!a)
		return -1;
	if (archive_read_open(a, &src, NULL, stream_cb, NULL) != ARCHIVE_OK)
		err_set(e, EXIT_VERIFY, "%s: %s", what, archive_error_string(a));
	else
		rc = replay(lr, a, what, e);
	archive_read_free(a);
	return rc;
}

/* Makes rel anew as a (parents as needed), replacing what is there. */
static int put(struct layer_root *lr, const char *rel, struct ext4_attr *a, uint32_t *ino,
	       struct err *e)
{
	const char *base;
	uint32_t dir;

	a->uid = a->gid = 0;
	a->atime = a->mtime = a->ctime = lr->time;
	if (walk_parent(lr, rel, true, &base, &dir, e) < 0 ||
	    ext4_remove(lr->fs, dir, base, strlen(base), e) < 0 ||
	    ext4_create(lr->fs, dir, base, strlen(base), a, ino, e) < 0)
		return -1;
	ext4_set_tag(lr->fs, *ino, lr->layer);
	return 0;
}

int layer_put_dir(struct layer_root *lr, const char *rel, mode_t mode, struct err *e)
{
	struct ext4_attr a = { .mode = S_IFDIR | (mode & 07777) };
	const char *base;
	uint32_t dir, ino;

	if (walk_parent(lr, rel, true, &base, &dir, e) < 0)
		return -1;
	if (ext4_lookup(lr->fs, dir, base, strlen(base), &ino)) {
		ext4_stat(lr->fs, ino, &a);
		return S_ISDIR(a.mode) ? 0
				       : err_set(e, EXIT_VERIFY, "'%s' is not a directory", rel);
	}
	return put(lr, rel, &a, &ino, e) < 0 ? err_prefix(e, "'%s'", rel) : 0;
}

int layer_put_file(struct layer_root *lr, const char *rel, const void *data, size_t len,
		   mode_t mode, struct err *e)
{
	struct ext4_attr a = { .mode = S_IFREG | (mode & 07777), .size = len };
	uint32_t ino;

	if (put(lr, rel, &a, &ino, e) < 0 || ext4_write(lr->fs, ino, 0, data, len, e) < 0)
		return err_prefix(e, "'%s'", rel);
	return 0;
}

int layer_copy_file(struct layer_root *lr, const char *rel, const char *src, mode_t mode,
		    struct err *e)
{
	struct ext4_attr a = { .mode = S_IFREG | (mode & 07777) };
	static char buf[256 * 1024];
	struct stat st;
	uint64_t off = 0;
	uint32_t ino;
	int fd = open(src, O_RDONLY | O_CLOEXEC), rc = -1;

	if (fd < 0)
		return err_errno(e, 0, "%s: cannot open", src);
	if (fstat(fd, &st) < 0) {
		err_errno(e, 0, "%s: stat", src);
		goto out;
	}
	a.size = (uint64_t)st.st_size;
	if (put(lr, rel, &a, &ino, e) < 0)
		goto out;
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_errno(e, 0, "%s: read", src);
			goto out;
		}
		if (n == 0 || off + (uint64_t)n > a.size)
			break;
		if (ext4_write(lr->fs, ino, off, buf, (size_t)n, e) < 0)
			goto out;
		off += (uint64_t)n;
	}
	rc = off == a.size ? 0 : err_set(e, EXIT_SYSTEM, "%s: changed while copied", src);
out:
	close(fd);
	return rc;
}

int layer_put_symlink(struct layer_root *lr, const char *rel, const char *target, struct err *e)
{
	struct ext4_attr a = { .mode = S_IFLNK | 0777, .symlink = target };
	uint32_t ino;

	return put(lr, rel, &a, &ino, e) < 0 ? err_prefix(e, "'%s'", rel) : 0;
}

int layer_clean_name(const char *name, char *out, size_t size, struct err *e)
{
	const char *p = name;
	size_t o = 0;

	if (strlen(name) >= LIMIT_TAR_NAME)
		return err_set(e, EXIT_VERIFY, "'%.80s…': name longer than %d bytes", name,
			       LIMIT_TAR_NAME);
	if (*name == '/')
		return err_set(e, EXIT_VERIFY, "'%s': absolute name — refusing", name);
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return err_set(e, EXIT_VERIFY,
				       "'%s': '..' leaves the image root — refusing", name);
		if (n > LIMIT_NAME)
			return err_set(e, EXIT_VERIFY, "'%.80s…': a component longer than %d bytes",
				       name, LIMIT_NAME);
		if (n && !(n == 1 && p[0] == '.')) {
			if (o + n + 2 > size)
				return err_set(e, EXIT_VERIFY, "'%.80s…': name too long", name);
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p += n;
		while (*p == '/')
			p++;
	}
	out[o] = '\0';
	return 0;
}
