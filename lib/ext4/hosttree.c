/* hosttree.c — ext4_add_tree: a host directory into the writer's tree (what
 * mke2fs -d did), for images built as a directory first (the Debian
 * archive's chroot). Read-only on the host; see ext4.h. */
#include "ext4/ext4.h"
#include "err.h"
#include "exitcode.h"
#include "limits.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define DEPTH_MAX 256

/* Host inodes with more than one link, to link them again. */
struct links {
	struct link {
		dev_t dev;
		ino_t ino;
		uint32_t to;
	} * v;
	size_t n, cap;
};

struct walk {
	struct ext4_fs *fs;
	struct links links;
	char buf[256 * 1024];
	char names[64 * 1024]; /* listxattr */
	char val[LIMIT_XATTR_VALUE];
};

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void attr_of(const struct stat *st, struct ext4_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->mode = st->st_mode;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	/* Only mtime means anything in an image: the host's ctime says when this
	 * machine wrote the copy and atime when it last read it, so both follow
	 * mtime and the same tree gives the same bytes. */
	a->mtime = st->st_mtim.tv_sec;
	a->mtime_ns = (uint32_t)st->st_mtim.tv_nsec;
	a->atime = a->ctime = a->mtime;
	a->atime_ns = a->ctime_ns = a->mtime_ns;
	a->major = major(st->st_rdev);
	a->minor = minor(st->st_rdev);
	a->size = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0;
}

static int copy_xattrs(struct walk *w, int fd, uint32_t ino, const char *name, struct err *e)
{
	ssize_t n = flistxattr(fd, w->names, sizeof(w->names));

	if (n < 0)
		return errno == ENOTSUP ? 0 : err_errno(e, 0, "%s: list xattrs", name);
	for (char *x = w->names; x < w->names + n; x += strlen(x) + 1) {
		ssize_t v = fgetxattr(fd, x, w->val, sizeof(w->val));

		if (v < 0)
			return err_errno(e, 0, "%s: xattr %s", name, x);
		if (ext4_xattr_set(w->fs, ino, x, w->val, (size_t)v, e) < 0)
			return err_prefix(e, "%s", name);
	}
	return 0;
}

/* The data of fd into ino, skipping the file's holes. */
static int copy_data(struct walk *w, int fd, uint32_t ino, uint64_t size, const char *name,
		     struct err *e)
{
	off_t off = 0;

	while ((uint64_t)off < size) {
		off_t data = lseek(fd, off, SEEK_DATA), hole;

		if (data < 0)
			return errno == ENXIO ? 0 : err_errno(e, 0, "%s: seek", name);
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			return err_errno(e, 0, "%s: seek", name);
		for (off = data; off < hole && (uint64_t)off < size;) {
			size_t want = sizeof(w->buf);
			ssize_t n;

			if ((uint64_t)(hole - off) < want)
				want = (size_t)(hole - off);
			n = pread(fd, w->buf, want, off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return err_errno(e, 0, "%s: read", name);
			if (n == 0 || (uint64_t)off + (uint64_t)n > size)
				return err_set(e, EXIT_SYSTEM, "%s: changed while read", name);
			if (ext4_write(w->fs, ino, (uint64_t)off, w->buf, (size_t)n, e) < 0)
				return err_prefix(e, "%s", name);
			off += n;
		}
	}
	return 0;
}

static int add_dir(struct walk *w, int dirfd, uint32_t dir, const char *path, int depth,
		   struct err *e);

/* One entry of dirfd: created under dir (a hard link when seen before). */
static int add_entry(struct walk *w, int dirfd, uint32_t dir, const char *name, const char *path,
		     int depth, struct err *e)
{
	struct ext4_attr a;
	struct stat st;
	char target[LIMIT_TAR_NAME];
	uint32_t ino;
	int fd = -1, rc = -1;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return err_errno(e, 0, "%s/%s", path, name);
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1)
		for (size_t i = 0; i < w->links.n; i++)
			if (w->links.v[i].dev == st.st_dev && w->links.v[i].ino == st.st_ino)
				return ext4_link(w->fs, dir, name, strlen(name), w->links.v[i].to,
						 e);
	attr_of(&st, &a);
	if (S_ISLNK(st.st_mode)) {
		ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);

		if (n < 0)
			return err_errno(e, 0, "%s/%s", path, name);
		target[n] = '\0';
		a.symlink = target;
	}
	if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
		fd = openat(dirfd, name,
			    O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
				    (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
		if (fd < 0)
			return err_errno(e, 0, "%s/%s", path, name);
	}
	if (ext4_remove(w->fs, dir, name, strlen(name), e) < 0 || /* lost+found */
	    ext4_create(w->fs, dir, name, strlen(name), &a, &ino, e) < 0) {
		err_prefix(e, "%s", path);
		goto out;
	}
	if (fd >= 0 && copy_xattrs(w, fd, ino, name, e) < 0)
		goto out;
	if (S_ISREG(st.st_mode) && copy_data(w, fd, ino, a.size, name, e) < 0)
		goto out;
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
		if (w->links.n == w->links.cap) {
			size_t cap = w->links.cap ? w->links.cap * 2 : 64;
			struct link *v = realloc(w->links.v, cap * sizeof(*v));

			if (!v) {
				err_set(e, EXIT_SYSTEM, "out of memory");
				goto out;
			}
			w->links.v = v;
			w->links.cap = cap;
		}
		w->links.v[w->links.n++] = (struct link){ st.st_dev, st.st_ino, ino };
	}
	if (S_ISDIR(st.st_mode)) {
		char sub[LIMIT_PATH];

		snprintf(sub, sizeof(sub), "%s/%s", path, name);
		if (add_dir(w, fd, ino, sub, depth + 1, e) < 0)
			goto out;
		ext4_set_attr(w->fs, ino, &a);
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

static int add_dir(struct walk *w, int dirfd, uint32_t dir, const char *path, int depth,
		   struct err *e)
{
	int fd = dup(dirfd), rc = 0;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	if (depth > DEPTH_MAX)
		return err_set(e, EXIT_VERIFY, "%s: deeper than %d directories", path, DEPTH_MAX);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return err_errno(e, 0, "%s: cannot read", path);
	}
	rewinddir(d);
	while (rc == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			char **v = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*v));

			if (!v) {
				rc = err_set(e, EXIT_SYSTEM, "out of memory");
				break;
			}
			names = v;
		}
		if (!(names[n] = strdup(de->d_name)))
			rc = err_set(e, EXIT_SYSTEM, "out of memory");
		else
			n++;
	}
	closedir(d);
	if (rc == 0 && n) /* names is NULL in an empty directory */
		qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = add_entry(w, dirfd, dir, names[i], path, depth, e);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

int ext4_add_tree(struct ext4_fs *fs, const char *dir, struct err *e)
{
	struct walk *w = calloc(1, sizeof(*w));
	struct stat st;
	struct ext4_attr a;
	int fd, rc = -1;

	if (!w)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	w->fs = fs;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		err_errno(e, 0, "%s: cannot open", dir);
		goto out;
	}
	if (copy_xattrs(w, fd, EXT4_ROOT_INO, dir, e) < 0 ||
	    add_dir(w, fd, EXT4_ROOT_INO, dir, 0, e) < 0)
		goto out;
	attr_of(&st, &a);
	ext4_set_attr(fs, EXT4_ROOT_INO, &a);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(w->links.v);
	free(w);
	return rc;
}
