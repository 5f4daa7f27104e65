/* file.h — atomic installs and whole-file helpers.
 *
 * An atomic file is written under a temporary name beside its destination
 * (same directory, so rename(2) is atomic), fsynced, then renamed over the
 * destination and the directory fsynced. Until commit, readers see the old
 * file or none; an abort or a crash leaves only a ".NAME.tmp.PID" file that
 * the next install replaces. Directories are installed the same way
 * (file_commit_dir): build in a sibling staging dir, then rename it in.
 */
#ifndef BANGER_FILE_H
#define BANGER_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "limits.h"

struct err;

struct atomic_file {
	int fd; /* write here; -1 when closed */
	char tmp[LIMIT_PATH];
	char dst[LIMIT_PATH];
};

/* Creates the temporary file for dst with mode. Blocks on disk I/O only. */
int atomic_open(struct atomic_file *af, const char *dst, mode_t mode, struct err *e);
/* fsync, rename over dst, fsync the directory. Closes fd either way; on
 * failure the temporary is removed and dst is untouched. */
int atomic_commit(struct atomic_file *af, struct err *e);
/* Closes and removes the temporary; safe to call after commit (no-op). */
void atomic_abort(struct atomic_file *af);

/* Whole-file write through atomic_open/commit. */
int file_write_atomic(const char *dst, const void *data, size_t len, mode_t mode, struct err *e);

/* Writes all of p to fd, retrying on EINTR and short writes. */
int file_write_all(int fd, const void *p, size_t len, const char *what, struct err *e);

/* Reads a whole file into a malloc'd NUL-terminated buffer (caller frees),
 * failing with EXIT_VERIFY when it is larger than max. */
int file_read_all(const char *path, size_t max, char **out, size_t *len, struct err *e);

/* Renames the staging directory onto dst. An existing dst is swapped out
 * atomically (RENAME_EXCHANGE) and then removed, so dst is at every moment
 * either the old or the new tree. */
int file_commit_dir(const char *staging, const char *dst, struct err *e);

/* Copies all of in into out (which must be empty): a reflink (FICLONE)
 * where the filesystem can share blocks, else only the data extents
 * (SEEK_DATA/SEEK_HOLE, copy_file_range, or read/write where that is
 * refused), so holes stay holes and a sparse disk image costs its data, not
 * its size. out ends with in's size. *reflinked (may be NULL) tells which
 * happened. Blocks on disk I/O; does not fsync. */
int file_copy_fd(int in, int out, const char *what, bool *reflinked, struct err *e);

/* fsync a directory by path. */
int file_sync_dir(const char *dir, struct err *e);

#endif
