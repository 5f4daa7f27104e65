/* layer.c — see layer.h. Every write is an *at() call on a directory fd
 * reached from the root one component at a time with O_NOFOLLOW. */
#include "oci/layer.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "limits.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"

int layer_root_open(struct layer_root *lr, const char *dir, struct err *e)
{
	lr->fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (lr->fd < 0)
		return err_errno(e, 0, "%s: cannot open", dir);
	return 0;
}

void layer_root_close(struct layer_root *lr)
{
	if (lr->fd >= 0)
		close(lr->fd);
	lr->fd = -1;
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

/* Opens the directory holding rel's last component, walking from the root
 * with O_NOFOLLOW; with create, missing directories are made (0755, root).
 * Sets *base to the last component (inside rel). Returns an O_PATH fd, or -1
 * with e set (ENOENT as EXIT_NOTFOUND when !create). */
static int open_parent(struct layer_root *lr, const char *rel, bool create, const char **base,
		       struct err *e)
{
	const char *slash = strrchr(rel, '/'), *p = rel;
	int cur = dup(lr->fd);

	*base = slash ? slash + 1 : rel;
	if (cur < 0)
		return err_errno(e, EXIT_SYSTEM, "dup");
	while (slash && p < slash) {
		size_t n = strcspn(p, "/");
		char comp[LIMIT_NAME + 1];
		int next;

		memcpy(comp, p, n);
		comp[n] = '\0';
		next = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST) {
				err_errno(e, 0, "'%.*s': cannot create directory",
					  (int)(p - rel + n), rel);
				close(cur);
				return -1;
			}
			next = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0) {
			struct stat st;
			int saved = errno;

			if ((saved == ENOTDIR || saved == ELOOP) &&
			    fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0) {
				if (S_ISLNK(st.st_mode))
					err_set(e, EXIT_VERIFY,
						"'%s': '%.*s' is a symbolic link — refusing to "
						"write "
						"through it",
						rel, (int)(p - rel + n), rel);
				else
					err_set(e, EXIT_VERIFY, "'%s': '%.*s' is not a directory",
						rel, (int)(p - rel + n), rel);
			} else {
				errno = saved;
				err_errno(e, 0, "'%s': cannot open '%.*s'", rel, (int)(p - rel + n),
					  rel);
			}
			close(cur);
			return -1;
		}
		close(cur);
		cur = next;
		p += n + 1;
	}
	return cur;
}

/* rm -rf of name inside dirfd, never following links. */
static int remove_at(int dirfd, const char *name, struct err *e)
{
	int fd;
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return err_errno(e, 0, "'%s': cannot remove", name);
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, 0, "'%s': cannot open", name);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return err_errno(e, 0, "'%s': cannot read", name);
	}
	while (rc == 0 && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rc = remove_at(fd, de->d_name, e);
	closedir(d);
	if (rc == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
		return err_errno(e, 0, "'%s': cannot remove", name);
	return rc;
}

/* --- the set of paths this layer wrote (for opaque directories) --- */

struct pathset {
	char **slot;
	size_t cap, len;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static bool set_has(const struct pathset *ps, const char *s)
{
	if (!ps->cap)
		return false;
	for (size_t i = hash(s) & (ps->cap - 1);; i = (i + 1) & (ps->cap - 1)) {
		if (!ps->slot[i])
			return false;
		if (!strcmp(ps->slot[i], s))
			return true;
	}
}

static int set_add1(struct pathset *ps, const char *s, struct err *e);

/* Adds s and its ancestors: a directory that holds something this layer
 * wrote survives an opaque marker too. */
static int set_add(struct pathset *ps, const char *s, struct err *e)
{
	char tmp[LIMIT_TAR_NAME];
	size_t n = strlen(s);

	if (n >= sizeof(tmp))
		return err_set(e, EXIT_VERIFY, "'%.80s…': name too long", s);
	memcpy(tmp, s, n + 1);
	for (char *p = tmp; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (set_add1(ps, tmp, e) < 0)
			return -1;
		*p = '/';
	}
	return set_add1(ps, tmp, e);
}

static int set_add1(struct pathset *ps, const char *s, struct err *e)
{
	if (set_has(ps, s))
		return 0;
	if ((ps->len + 1) * 2 > ps->cap) {
		struct pathset n = { calloc(ps->cap ? ps->cap * 2 : 1024, sizeof(char *)),
				     ps->cap ? ps->cap * 2 : 1024, 0 };

		if (!n.slot)
			return err_set(e, EXIT_SYSTEM, "out of memory");
		for (size_t i = 0; i < ps->cap; i++) {
			if (!ps->slot[i])
				continue;
			size_t j = hash(ps->slot[i]) & (n.cap - 1);

			while (n.slot[j])
				j = (j + 1) & (n.cap - 1);
			n.slot[j] = ps->slot[i];
			n.len++;
		}
		free(ps->slot);
		*ps = n;
	}
	size_t j = hash(s) & (ps->cap - 1);

	while (ps->slot[j])
		j = (j + 1) & (ps->cap - 1);
	if (!(ps->slot[j] = strdup(s)))
		return err_set(e, EXIT_SYSTEM, "out of memory");
	ps->len++;
	return 0;
}

static void set_free(struct pathset *ps)
{
	for (size_t i = 0; i < ps->cap; i++)
		free(ps->slot[i]);
	free(ps->slot);
	memset(ps, 0, sizeof(*ps));
}

/* Empties directory dirfd (path rel) of everything this layer did not write. */
static int opaque_clear(int dirfd, const char *rel, const struct pathset *ps, struct err *e)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (fd < 0)
		return err_errno(e, 0, "'%s': cannot open", rel);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return err_errno(e, 0, "'%s': cannot read", rel);
	}
	while (rc == 0 && (de = readdir(d))) {
		char child[LIMIT_TAR_NAME + LIMIT_NAME + 2];

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(child, sizeof(child), "%s%s%s", rel, *rel ? "/" : "", de->d_name);
		if (!set_has(ps, child)) {
			rc = remove_at(fd, de->d_name, e);
		} else if (de->d_type == DT_DIR) {
			int sub = openat(fd, de->d_name,
					 O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub < 0)
				continue;
			rc = opaque_clear(sub, child, ps, e);
			close(sub);
		}
	}
	closedir(d);
	return rc;
}

/* --- applying entries --- */

struct dirtime {
	char *rel;
	struct timespec ts[2];
};

struct replay {
	struct layer_root *lr;
	const char *what;
	/* The last parent directory opened, reused while entries stay in it
	 * (tar lists a directory's entries together). */
	char cache_rel[LIMIT_TAR_NAME];
	int cache_fd; /* -1: none */
	struct pathset written;
	struct dirtime *dirs;
	size_t ndirs, capdirs;
};

static void cache_drop(struct replay *rp)
{
	if (rp->cache_fd >= 0)
		close(rp->cache_fd);
	rp->cache_fd = -1;
	rp->cache_rel[0] = '\0';
}

/* An entry at rel may replace a directory on the cached path: forget it. */
static void cache_touch(struct replay *rp, const char *rel)
{
	size_t n = strlen(rel);

	if (rp->cache_fd >= 0 && !strncmp(rp->cache_rel, rel, n) &&
	    (rp->cache_rel[n] == '\0' || rp->cache_rel[n] == '/'))
		cache_drop(rp);
}

/* open_parent through the cache; the caller closes the returned fd. */
static int open_parent_cached(struct replay *rp, const char *rel, const char **base, struct err *e)
{
	const char *slash = strrchr(rel, '/');
	size_t plen = slash ? (size_t)(slash - rel) : 0;
	int fd;

	*base = slash ? slash + 1 : rel;
	if (rp->cache_fd >= 0 && strlen(rp->cache_rel) == plen &&
	    !strncmp(rp->cache_rel, rel, plen)) {
		fd = fcntl(rp->cache_fd, F_DUPFD_CLOEXEC, 0);
		return fd >= 0 ? fd : err_errno(e, EXIT_SYSTEM, "'%s': dup", rel);
	}
	fd = open_parent(rp->lr, rel, true, base, e);
	if (fd >= 0 && plen < sizeof(rp->cache_rel)) {
		cache_drop(rp);
		rp->cache_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		memcpy(rp->cache_rel, rel, plen);
		rp->cache_rel[plen] = '\0';
	}
	return fd;
}

static int set_xattrs(int fd, struct archive_entry *ent, const char *rel, struct err *e)
{
	const char *name;
	const void *val;
	size_t size;

	archive_entry_xattr_reset(ent);
	while (archive_entry_xattr_next(ent, &name, &val, &size) == ARCHIVE_OK) {
		if (size > LIMIT_XATTR_VALUE)
			return err_set(e, EXIT_VERIFY, "'%s': xattr %s larger than %d bytes", rel,
				       name, LIMIT_XATTR_VALUE);
		if (fsetxattr(fd, name, val, size, 0) < 0)
			return err_errno(e, 0, "'%s': cannot set xattr %s", rel, name);
	}
	return 0;
}

static void entry_times(struct archive_entry *ent, struct timespec ts[2])
{
	ts[0].tv_sec = archive_entry_atime_is_set(ent) ? archive_entry_atime(ent)
						       : archive_entry_mtime(ent);
	ts[0].tv_nsec = archive_entry_atime_is_set(ent) ? archive_entry_atime_nsec(ent)
							: archive_entry_mtime_nsec(ent);
	ts[1].tv_sec = archive_entry_mtime(ent);
	ts[1].tv_nsec = archive_entry_mtime_nsec(ent);
}

static int write_data(struct archive *a, int fd, const char *rel, int64_t size, struct err *e)
{
	const void *blk;
	size_t len;
	la_int64_t off;
	int r;

	while ((r = archive_read_data_block(a, &blk, &len, &off)) == ARCHIVE_OK) {
		const char *p = blk;

		while (len) {
			ssize_t n = pwrite(fd, p, len, off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return err_errno(e, 0, "'%s': write", rel);
			p += n;
			len -= (size_t)n;
			off += n;
		}
	}
	if (r != ARCHIVE_EOF)
		return err_set(e, EXIT_VERIFY, "'%s': %s", rel, archive_error_string(a));
	if (ftruncate(fd, size) < 0)
		return err_errno(e, 0, "'%s': truncate", rel);
	return 0;
}

static int chown_chmod_fd(int fd, struct archive_entry *ent, const char *rel, struct err *e)
{
	if (fchown(fd, (uid_t)archive_entry_uid(ent), (gid_t)archive_entry_gid(ent)) < 0)
		return err_errno(e, 0, "'%s': chown", rel);
	/* After chown, which clears setuid/setgid. */
	if (fchmod(fd, archive_entry_perm(ent) & 07777) < 0)
		return err_errno(e, 0, "'%s': chmod", rel);
	return 0;
}

static int whiteout(struct replay *rp, const char *rel, int pfd, const char *base, struct err *e)
{
	char target[LIMIT_TAR_NAME];
	const char *name = base + strlen(WH_PREFIX);

	if (!strcmp(base, WH_OPAQUE)) {
		size_t n = (size_t)(base - rel);

		snprintf(target, sizeof(target), "%.*s", n ? (int)n - 1 : 0, rel);
		return opaque_clear(pfd, target, &rp->written, e);
	}
	if (!strncmp(name, WH_PREFIX, strlen(WH_PREFIX)))
		return 0; /* other AUFS metadata (.wh..wh.plnk): nothing to do */
	snprintf(target, sizeof(target), "%.*s%s", (int)(base - rel), rel, name);
	if (set_has(&rp->written, target))
		return 0; /* a whiteout hides lower layers only */
	return remove_at(pfd, name, e);
}

static int apply_entry(struct replay *rp, struct archive *a, struct archive_entry *ent,
		       struct err *e)
{
	char rel[LIMIT_TAR_NAME];
	const char *base, *hl = archive_entry_hardlink(ent);
	mode_t type = archive_entry_filetype(ent);
	struct stat st;
	struct timespec ts[2];
	int pfd, fd = -1, rc = -1;
	bool exists;

	if (layer_clean_name(archive_entry_pathname(ent) ? archive_entry_pathname(ent) : "", rel,
			     sizeof(rel), e) < 0)
		return -1;
	entry_times(ent, ts);
	if (!*rel) {
		/* "./": the root's own metadata. */
		if (type != AE_IFDIR)
			return err_set(e, EXIT_VERIFY, "the root entry is not a directory");
		fd = openat(rp->lr->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return err_errno(e, 0, "root: cannot open");
		rc = chown_chmod_fd(fd, ent, "/", e);
		close(fd);
		return rc;
	}
	base = strrchr(rel, '/');
	base = base ? base + 1 : rel;
	cache_touch(rp, rel);
	if (!strncmp(base, WH_PREFIX, strlen(WH_PREFIX))) {
		const char *name = base + strlen(WH_PREFIX);

		cache_drop(rp); /* a whiteout may remove any directory below it */
		if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
			return err_set(e, EXIT_VERIFY,
				       "'%s': whiteout of an invalid name — refusing", rel);
		pfd = open_parent(rp->lr, rel, false, &base, e);
		if (pfd < 0)
			return e->code == EXIT_NOTFOUND ? (err_init(e), 0) : -1;
		rc = whiteout(rp, rel, pfd, base, e);
		close(pfd);
		return rc;
	}
	pfd = open_parent_cached(rp, rel, &base, e);
	if (pfd < 0)
		return -1;
	if (set_add(&rp->written, rel, e) < 0)
		goto out;
	exists = fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (exists && !(type == AE_IFDIR && !hl && S_ISDIR(st.st_mode)) &&
	    remove_at(pfd, base, e) < 0)
		goto out;

	if (hl) {
		char trel[LIMIT_TAR_NAME];
		const char *tbase;
		int tpfd;

		if (layer_clean_name(hl, trel, sizeof(trel), e) < 0) {
			err_prefix(e, "'%s': hard link target", rel);
			goto out;
		}
		if (!*trel || !strcmp(trel, rel)) {
			err_set(e, EXIT_VERIFY, "'%s': hard link to itself or the root", rel);
			goto out;
		}
		tpfd = open_parent(rp->lr, trel, false, &tbase, e);
		if (tpfd < 0) {
			err_prefix(e, "'%s': hard link target", rel);
			goto out;
		}
		if (linkat(tpfd, tbase, pfd, base, 0) < 0) {
			err_errno(e, errno == ENOENT ? EXIT_VERIFY : 0,
				  "'%s': cannot hard-link to '%s' (the target must be an earlier "
				  "entry inside the image)",
				  rel, trel);
			close(tpfd);
			goto out;
		}
		close(tpfd);
		rc = 0;
		goto out;
	}
	switch (type) {
	case AE_IFREG:
		fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			err_errno(e, 0, "'%s': cannot create", rel);
			goto out;
		}
		if (write_data(a, fd, rel, archive_entry_size(ent), e) < 0 ||
		    chown_chmod_fd(fd, ent, rel, e) < 0 || set_xattrs(fd, ent, rel, e) < 0)
			goto out;
		if (futimens(fd, ts) < 0) {
			err_errno(e, 0, "'%s': set times", rel);
			goto out;
		}
		break;
	case AE_IFDIR:
		if (!exists && mkdirat(pfd, base, 0700) < 0) {
			err_errno(e, 0, "'%s': cannot create directory", rel);
			goto out;
		}
		fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			err_errno(e, 0, "'%s': cannot open", rel);
			goto out;
		}
		if (chown_chmod_fd(fd, ent, rel, e) < 0 || set_xattrs(fd, ent, rel, e) < 0)
			goto out;
		if (rp->ndirs == rp->capdirs) {
			size_t n = rp->capdirs ? rp->capdirs * 2 : 256;
			struct dirtime *d = realloc(rp->dirs, n * sizeof(*d));

			if (!d) {
				err_set(e, EXIT_SYSTEM, "out of memory");
				goto out;
			}
			rp->dirs = d;
			rp->capdirs = n;
		}
		if (!(rp->dirs[rp->ndirs].rel = strdup(rel))) {
			err_set(e, EXIT_SYSTEM, "out of memory");
			goto out;
		}
		memcpy(rp->dirs[rp->ndirs++].ts, ts, sizeof(ts[0]) * 2);
		break;
	case AE_IFLNK: {
		const char *t = archive_entry_symlink(ent);

		if (!t || strlen(t) >= LIMIT_TAR_NAME) {
			err_set(e, EXIT_VERIFY, "'%s': symlink target missing or too long", rel);
			goto out;
		}
		if (symlinkat(t, pfd, base) < 0) {
			err_errno(e, 0, "'%s': cannot create symlink", rel);
			goto out;
		}
		if (fchownat(pfd, base, (uid_t)archive_entry_uid(ent),
			     (gid_t)archive_entry_gid(ent), AT_SYMLINK_NOFOLLOW) < 0 ||
		    utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0) {
			err_errno(e, 0, "'%s': symlink owner or times", rel);
			goto out;
		}
		break;
	}
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO: {
		dev_t dev = type == AE_IFIFO ? 0
					     : makedev(archive_entry_rdevmajor(ent),
						       archive_entry_rdevminor(ent));

		if (mknodat(pfd, base, type | 0600, dev) < 0) {
			err_errno(e, 0, "'%s': cannot create device node", rel);
			goto out;
		}
		/* Just made by us in a directory we hold: not a link. */
		if (fchownat(pfd, base, (uid_t)archive_entry_uid(ent),
			     (gid_t)archive_entry_gid(ent), AT_SYMLINK_NOFOLLOW) < 0 ||
		    fchmodat(pfd, base, archive_entry_perm(ent) & 07777, 0) < 0 ||
		    utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0) {
			err_errno(e, 0, "'%s': owner, mode or times", rel);
			goto out;
		}
		break;
	}
	case AE_IFSOCK:
		break; /* sockets are not content; Docker skips them too */
	default:
		err_set(e, EXIT_VERIFY, "'%s': unsupported tar entry type 0%o", rel,
			(unsigned)type);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	close(pfd);
	return rc;
}

static void set_dir_times(struct replay *rp)
{
	/* Children changed the directories' times: put them back, deepest last
	 * written first does not matter since setting a dir time is local. */
	for (size_t i = 0; i < rp->ndirs; i++) {
		struct err e;
		const char *base;
		int pfd;

		err_init(&e);
		pfd = open_parent(rp->lr, rp->dirs[i].rel, false, &base, &e);
		if (pfd >= 0) {
			utimensat(pfd, base, rp->dirs[i].ts, AT_SYMLINK_NOFOLLOW);
			close(pfd);
		}
		free(rp->dirs[i].rel);
	}
	free(rp->dirs);
	rp->dirs = NULL;
	rp->ndirs = rp->capdirs = 0;
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

/* Replays what a (opened by the caller) reads. */
static int replay(struct layer_root *lr, struct archive *a, const char *what, struct err *e)
{
	struct archive_entry *ent;
	struct replay rp = { .lr = lr, .what = what, .cache_fd = -1 };
	int r, rc = -1;

	while ((r = archive_read_next_header(a, &ent)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		if (apply_entry(&rp, a, ent, e) < 0) {
			err_prefix(e, "%s", what);
			goto out;
		}
	}
	if (r != ARCHIVE_EOF) {
		err_set(e, EXIT_VERIFY, "%s: not a valid tar layer: %s", what,
			archive_error_string(a));
		goto out;
	}
	rc = 0;
out:
	cache_drop(&rp);
	set_dir_times(&rp);
	set_free(&rp.written);
	return rc;
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

int layer_put_file(struct layer_root *lr, const char *rel, const void *data, size_t len,
		   mode_t mode, struct err *e)
{
	const char *base;
	int pfd = open_parent(lr, rel, true, &base, e), fd, rc = -1;

	if (pfd < 0)
		return -1;
	if (remove_at(pfd, base, e) < 0)
		goto out;
	fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		err_errno(e, 0, "'%s': cannot create", rel);
		goto out;
	}
	if (file_write_all(fd, data, len, rel, e) == 0 && fchown(fd, 0, 0) == 0 &&
	    fchmod(fd, mode) == 0)
		rc = 0;
	else if (!e->code)
		err_errno(e, 0, "'%s': owner or mode", rel);
	close(fd);
out:
	close(pfd);
	return rc;
}

int layer_copy_file(struct layer_root *lr, const char *rel, const char *src, mode_t mode,
		    struct err *e)
{
	const char *base;
	int in, out = -1, pfd, rc = -1;
	struct stat st;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return err_errno(e, 0, "%s: cannot open", src);
	pfd = open_parent(lr, rel, true, &base, e);
	if (pfd < 0)
		goto done;
	if (fstat(in, &st) < 0 || remove_at(pfd, base, e) < 0)
		goto done;
	out = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		err_errno(e, 0, "'%s': cannot create", rel);
		goto done;
	}
	if (file_copy_fd(in, out, src, NULL, e) < 0)
		goto done;
	if (fchown(out, 0, 0) < 0 || fchmod(out, mode) < 0) {
		err_errno(e, 0, "'%s': owner or mode", rel);
		goto done;
	}
	rc = 0;
done:
	if (out >= 0)
		close(out);
	if (pfd >= 0)
		close(pfd);
	close(in);
	return rc;
}

int layer_put_symlink(struct layer_root *lr, const char *rel, const char *target, struct err *e)
{
	const char *base;
	int pfd = open_parent(lr, rel, true, &base, e), rc = -1;

	if (pfd < 0)
		return -1;
	if (remove_at(pfd, base, e) == 0) {
		if (symlinkat(target, pfd, base) == 0)
			rc = 0;
		else
			err_errno(e, 0, "'%s': cannot create symlink", rel);
	}
	close(pfd);
	return rc;
}

/* --- usage --- */

struct inoset {
	uint64_t *v;
	size_t cap, len;
};

static bool ino_seen(struct inoset *s, uint64_t ino, struct err *e, int *fail)
{
	if ((s->len + 1) * 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		uint64_t *v = calloc(cap, sizeof(*v));

		if (!v) {
			*fail = err_set(e, EXIT_SYSTEM, "out of memory");
			return true;
		}
		for (size_t i = 0; i < s->cap; i++) {
			if (!s->v[i])
				continue;
			size_t j = (s->v[i] * 11400714819323198485ULL) & (cap - 1);

			while (v[j])
				j = (j + 1) & (cap - 1);
			v[j] = s->v[i];
		}
		free(s->v);
		s->v = v;
		s->cap = cap;
	}
	size_t j = ((ino + 1) * 11400714819323198485ULL) & (s->cap - 1);

	for (;; j = (j + 1) & (s->cap - 1)) {
		if (!s->v[j]) {
			s->v[j] = ino + 1;
			s->len++;
			return false;
		}
		if (s->v[j] == ino + 1)
			return true;
	}
}

static int usage_dir(int dirfd, struct layer_usage *u, struct inoset *links, struct err *e)
{
	DIR *d;
	struct dirent *de;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return err_errno(e, 0, "cannot open a directory of the tree");
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return err_errno(e, 0, "cannot read a directory of the tree");
	}
	while (rc == 0 && (de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 && ino_seen(links, st.st_ino, e, &rc))
			continue;
		u->inodes++;
		if (S_ISREG(st.st_mode)) {
			u->blocks += ((uint64_t)st.st_size + 4095) / 4096;
			/* extent tree blocks of large fragmented files */
			u->blocks += (uint64_t)st.st_size / (128ULL << 20);
			u->bytes += (uint64_t)st.st_size;
		} else if (S_ISLNK(st.st_mode) && st.st_size >= 60) {
			u->blocks++;
		} else if (S_ISDIR(st.st_mode)) {
			int sub = openat(fd, de->d_name,
					 O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			u->blocks += ((uint64_t)st.st_size + 4095) / 4096;
			if (sub < 0)
				continue;
			rc = usage_dir(sub, u, links, e);
			close(sub);
		}
	}
	closedir(d);
	return rc;
}

int layer_usage(struct layer_root *lr, struct layer_usage *u, struct err *e)
{
	struct inoset links = { 0 };
	int rc;

	memset(u, 0, sizeof(*u));
	u->inodes = 1;
	u->blocks = 1;
	rc = usage_dir(lr->fd, u, &links, e);
	free(links.v);
	return rc;
}
