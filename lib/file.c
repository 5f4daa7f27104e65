/* file.c — see file.h. */
#include "file.h"
#include "err.h"
#include "exitcode.h"
#include "path.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static int dir_of(const char *path, char *dir, size_t size, struct err *e)
{
	char tmp[LIMIT_PATH];
	size_t len = strlen(path);

	if (len >= sizeof(tmp))
		return err_set(e, EXIT_VERIFY, "%s: path too long", path);
	memcpy(tmp, path, len + 1);
	return path_join(dir, size, dirname(tmp), "", e);
}

int file_sync_dir(const char *dir, struct err *e)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return err_errno(e, 0, "%s: cannot open directory", dir);
	if (fsync(fd) < 0 && errno != EINVAL) {
		close(fd);
		return err_errno(e, 0, "%s: fsync", dir);
	}
	close(fd);
	return 0;
}

int atomic_open(struct atomic_file *af, const char *dst, mode_t mode, struct err *e)
{
	char tmp[LIMIT_PATH], *base;
	size_t len = strlen(dst);
	char dir[LIMIT_PATH];

	af->fd = -1;
	af->tmp[0] = '\0';
	if (len >= sizeof(af->dst) || len >= sizeof(tmp))
		return err_set(e, EXIT_VERIFY, "%s: path too long", dst);
	memcpy(af->dst, dst, len + 1);
	memcpy(tmp, dst, len + 1);
	base = basename(tmp);
	if (dir_of(dst, dir, sizeof(dir), e) < 0)
		return -1;
	if (path_joinf(af->tmp, sizeof(af->tmp), e, dir, ".%s.tmp.%d", base, (int)getpid()) < 0)
		return -1;
	af->fd = open(af->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (af->fd < 0) {
		af->tmp[0] = '\0';
		return err_errno(e, 0, "%s: cannot create", dst);
	}
	/* The umask must not weaken or widen what the caller asked for. */
	if (fchmod(af->fd, mode) < 0) {
		err_errno(e, 0, "%s: chmod", dst);
		atomic_abort(af);
		return -1;
	}
	return 0;
}

int atomic_commit(struct atomic_file *af, struct err *e)
{
	char dir[LIMIT_PATH];

	if (af->fd < 0)
		return err_set(e, EXIT_SYSTEM, "%s: not open", af->dst);
	if (fsync(af->fd) < 0) {
		err_errno(e, 0, "%s: fsync", af->dst);
		goto fail;
	}
	if (close(af->fd) < 0) {
		af->fd = -1;
		err_errno(e, 0, "%s: close", af->dst);
		goto fail;
	}
	af->fd = -1;
	if (rename(af->tmp, af->dst) < 0) {
		err_errno(e, 0, "%s: cannot install", af->dst);
		goto fail;
	}
	af->tmp[0] = '\0';
	if (dir_of(af->dst, dir, sizeof(dir), e) < 0)
		return -1;
	return file_sync_dir(dir, e);
fail:
	atomic_abort(af);
	return -1;
}

void atomic_abort(struct atomic_file *af)
{
	if (af->fd >= 0)
		close(af->fd);
	af->fd = -1;
	if (af->tmp[0])
		unlink(af->tmp);
	af->tmp[0] = '\0';
}

int file_write_all(int fd, const void *p, size_t len, const char *what, struct err *e)
{
	const char *c = p;

	while (len) {
		ssize_t n = write(fd, c, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_errno(e, 0, "%s: write", what);
		}
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

int file_write_atomic(const char *dst, const void *data, size_t len, mode_t mode, struct err *e)
{
	struct atomic_file af;

	if (atomic_open(&af, dst, mode, e) < 0)
		return -1;
	if (file_write_all(af.fd, data, len, dst, e) < 0) {
		atomic_abort(&af);
		return -1;
	}
	return atomic_commit(&af, e);
}

int file_read_all(const char *path, size_t max, char **out, size_t *len, struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 4096, n = 0;
	char *p;

	*out = NULL;
	if (fd < 0)
		return err_errno(e, 0, "%s: cannot open", path);
	p = malloc(cap);
	if (!p) {
		close(fd);
		return err_set(e, EXIT_SYSTEM, "%s: out of memory", path);
	}
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			char *q;

			cap *= 2;
			q = realloc(p, cap);
			if (!q) {
				err_set(e, EXIT_SYSTEM, "%s: out of memory", path);
				goto fail;
			}
			p = q;
		}
		r = read(fd, p + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err_errno(e, 0, "%s: read", path);
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			err_set(e, EXIT_VERIFY, "%s: larger than the %zu-byte limit", path, max);
			goto fail;
		}
	}
	close(fd);
	p[n] = '\0';
	*out = p;
	if (len)
		*len = n;
	return 0;
fail:
	close(fd);
	free(p);
	return -1;
}

int file_commit_dir(const char *staging, const char *dst, struct err *e)
{
	char dir[LIMIT_PATH];

	if (rename(staging, dst) < 0) {
		if (errno != EEXIST && errno != ENOTEMPTY)
			return err_errno(e, 0, "%s: cannot install", dst);
		/* dst exists: swap, so there is no moment without a tree. */
		if (syscall(SYS_renameat2, AT_FDCWD, staging, AT_FDCWD, dst, RENAME_EXCHANGE) < 0)
			return err_errno(e, 0, "%s: cannot replace", dst);
		if (path_remove_tree(staging, e) < 0)
			return -1;
	}
	if (dir_of(dst, dir, sizeof(dir), e) < 0)
		return -1;
	return file_sync_dir(dir, e);
}

/* Copies [off, end) of in to the same offsets of out. */
static int copy_range(int in, int out, off_t off, off_t end, const char *what, struct err *e)
{
	char *buf = NULL;
	int rc = 0;

	while (off < end) {
		size_t want = (size_t)(end - off) < (1 << 20) ? (size_t)(end - off) : (1 << 20);
		loff_t io = off, oo = off;
		ssize_t n = copy_file_range(in, &io, out, &oo, want, 0);

		if (n < 0 &&
		    (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL)) {
			/* Refused between these files: plain read/write, bounded. */
			if (!buf && !(buf = malloc(1 << 20))) {
				rc = err_set(e, EXIT_SYSTEM, "%s: out of memory", what);
				break;
			}
			n = pread(in, buf, want, off);
			if (n > 0 && pwrite(out, buf, (size_t)n, off) != n) {
				rc = err_errno(e, 0, "%s: write copy", what);
				break;
			}
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = err_errno(e, 0, "%s: copy", what);
			break;
		}
		if (n == 0) {
			rc = err_set(e, EXIT_SYSTEM, "%s: shrank while being copied", what);
			break;
		}
		off += n;
	}
	free(buf);
	return rc;
}

int file_copy_fd(int in, int out, const char *what, bool *reflinked, struct err *e)
{
	struct stat st;
	off_t data = 0, hole;

	if (reflinked)
		*reflinked = false;
	if (fstat(in, &st) < 0)
		return err_errno(e, 0, "%s: stat", what);
	if (ioctl(out, FICLONE, in) == 0) {
		if (reflinked)
			*reflinked = true;
		return 0;
	}
	if (ftruncate(out, st.st_size) < 0)
		return err_errno(e, 0, "%s: cannot size the copy", what);
	while (data < st.st_size) {
		data = lseek(in, data, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break; /* only a hole is left */
		if (data < 0)  /* no SEEK_DATA here: the whole file is one extent */
			return errno == EINVAL ? copy_range(in, out, 0, st.st_size, what, e)
					       : err_errno(e, 0, "%s: seek", what);
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			hole = st.st_size;
		if (copy_range(in, out, data, hole, what, e) < 0)
			return -1;
		data = hole;
	}
	return 0;
}
