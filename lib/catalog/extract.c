/* extract.c — see extract.h. */
#include "catalog/extract.h"
#include "err.h"
#include "exitcode.h"
#include "limits.h"
#include "path.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Strips leading "./" and trailing "/"; "" means the root itself. */
static const char *clean_name(const char *name, char *out, size_t size)
{
	size_t len;

	while (name[0] == '.' && name[1] == '/')
		name += 2;
	while (name[0] == '/' && name[1] == '\0')
		name++;
	len = strlen(name);
	if (len >= size)
		return NULL;
	memcpy(out, name, len + 1);
	while (len > 0 && out[len - 1] == '/')
		out[--len] = '\0';
	if (!strcmp(out, "."))
		out[0] = '\0';
	return out;
}

/* Applies x->strip and x->prefix to a cleaned name, in place. */
static int map_name(const struct extract *x, char *name, size_t size)
{
	size_t len, plen;

	if (x->strip && *x->strip && !strncmp(name, x->strip, strlen(x->strip)))
		memmove(name, name + strlen(x->strip), strlen(name + strlen(x->strip)) + 1);
	if (!x->prefix || !*x->prefix || !*name)
		return 0;
	len = strlen(name);
	plen = strlen(x->prefix);
	if (len + plen >= size)
		return -1;
	memmove(name + plen, name, len + 1);
	memcpy(name, x->prefix, plen);
	return 0;
}

/* Opens the parent directory of name inside the root, component by
 * component, never following a symlink; missing directories are created
 * when create is set. *base points at the last component of name (which
 * is modified). Returns a directory fd, or -1 with e set. */
static int open_parent(struct extract *x, char *name, bool create, const char **base, struct err *e)
{
	int fd = dup(x->root);
	char *p = name, *slash;

	if (fd < 0)
		return err_errno(e, EXIT_SYSTEM, "%s: dup", x->what);
	while ((slash = strchr(p, '/'))) {
		int sub;

		*slash = '\0';
		if (!*p || !strcmp(p, ".")) {
			p = slash + 1;
			continue;
		}
		sub = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, p, 0755) < 0 && errno != EEXIST) {
				err_errno(e, 0, "%s: cannot create directory %s", x->what, p);
				close(fd);
				return -1;
			}
			sub = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (sub < 0) {
			int saved = errno;

			close(fd);
			errno = saved;
			if (errno == ELOOP || errno == ENOTDIR)
				return err_set(
					e, EXIT_VERIFY,
					"%s: an entry below '%s' goes through a symlink or a "
					"file — refusing the unsafe archive",
					x->what, name);
			return err_errno(e, 0, "%s: cannot open directory %s", x->what, p);
		}
		close(fd);
		fd = sub;
		*slash = '/';
		p = slash + 1;
	}
	*base = p;
	return fd;
}

/* True when a symlink at entry name with target stays inside the root,
 * judged lexically (parents are real directories: see open_parent). */
bool extract_link_confined(const char *name, const char *target)
{
	long depth = 0, parts = 0;
	bool named = false;
	const char *p;

	if (!*target || *target == '/')
		return false;
	/* The link lives in its name's directory: count the real components
	 * ("." and empty ones are not) and leave out the last, the link itself. */
	for (p = name; *p;) {
		size_t len = strcspn(p, "/");

		if (len == 2 && p[0] == '.' && p[1] == '.')
			return false;
		if (len && !(len == 1 && p[0] == '.'))
			parts++;
		p += len;
		while (*p == '/')
			p++;
	}
	depth = parts - 1;
	if (depth < 0)
		return false;
	/* ".." only in front: after a name (which may itself be a symlink) the
	 * kernel's ".." is physical, and could climb out of where the name
	 * led. Leading ones start from the link's own, real directory. */
	for (p = target; *p;) {
		size_t len = strcspn(p, "/");

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (named || --depth < 0)
				return false;
		} else if (len && !(len == 1 && p[0] == '.')) {
			named = true;
		}
		p += len;
		while (*p == '/')
			p++;
	}
	return true;
}

/* Removes a non-directory at base so the entry can take its place; later
 * tar entries replace earlier ones, as with tar -x. */
static int clear_slot(struct extract *x, int dir, const char *base, const char *name, struct err *e)
{
	struct stat st;

	if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : err_errno(e, 0, "%s: %s", x->what, name);
	if (S_ISDIR(st.st_mode))
		return err_set(e, EXIT_VERIFY,
			       "%s: entry '%s' would replace a directory — refusing the archive",
			       x->what, name);
	if (unlinkat(dir, base, 0) < 0)
		return err_errno(e, 0, "%s: cannot replace %s", x->what, name);
	return 0;
}

static int write_data(struct extract *x, struct archive *a, int fd, const char *name, struct err *e)
{
	const void *blk;
	size_t len;
	la_int64_t off;
	int r;

	while ((r = archive_read_data_block(a, &blk, &len, &off)) == ARCHIVE_OK) {
		const char *p = blk;

		while (len) {
			ssize_t w = pwrite(fd, p, len, (off_t)off);

			if (w < 0) {
				if (errno == EINTR)
					continue;
				return err_errno(e, 0, "%s: writing %s", x->what, name);
			}
			p += w;
			len -= (size_t)w;
			off += w;
		}
	}
	if (r != ARCHIVE_EOF)
		return EXTRACT_ARCHIVE_FAILED; /* the caller reports */
	return 0;
}

/* rootfs: the entry's owner, then its mode (chown clears setuid). */
static int keep_owner(struct extract *x, int dir, const char *base, mode_t type,
		      struct archive_entry *ae, mode_t perm, const char *name, struct err *e)
{
	if (fchownat(dir, base, (uid_t)archive_entry_uid(ae), (gid_t)archive_entry_gid(ae),
		     AT_SYMLINK_NOFOLLOW) < 0)
		return err_errno(e, 0, "%s: chown %s", x->what, name);
	if (type != AE_IFLNK && fchmodat(dir, base, perm, 0) < 0)
		return err_errno(e, 0, "%s: chmod %s", x->what, name);
	return 0;
}

int extract_entry(struct extract *x, struct archive *a, struct archive_entry *ae, struct err *e)
{
	char name[LIMIT_TAR_NAME + 1], path[LIMIT_TAR_NAME + 1], tgt[LIMIT_TAR_NAME + 1];
	const char *raw = archive_entry_pathname(ae), *hl = archive_entry_hardlink(ae);
	const char *sl = archive_entry_symlink(ae), *base;
	mode_t type = archive_entry_filetype(ae);
	mode_t perm = archive_entry_perm(ae) & (x->rootfs ? 07777 : 0777);
	int dir = -1, fd, rc = 0;

	if (!raw || !clean_name(raw, name, sizeof(name)) || map_name(x, name, sizeof(name)) < 0)
		return err_set(e, EXIT_VERIFY, "%s: an entry name is missing or longer than %d",
			       x->what, LIMIT_TAR_NAME);
	if (!*name)
		return type == AE_IFDIR
			       ? 0
			       : err_set(e, EXIT_VERIFY, "%s: entry replaces the root", x->what);
	if (raw[0] == '/' || !path_is_confined(name))
		return err_set(e, EXIT_VERIFY,
			       "%s: entry '%s' is absolute or has '..' — refusing the unsafe "
			       "bundle",
			       x->what, raw);
	memcpy(path, name, sizeof(path));
	if (hl) {
		int tdir;
		const char *tbase;
		struct stat st;

		if (!clean_name(hl, tgt, sizeof(tgt)) || !*tgt || hl[0] == '/' ||
		    !path_is_confined(tgt) || map_name(x, tgt, sizeof(tgt)) < 0)
			return err_set(e, EXIT_VERIFY,
				       "%s: hard link '%s' → '%s' points outside — refusing the "
				       "unsafe bundle",
				       x->what, name, hl);
		tdir = open_parent(x, tgt, false, &tbase, e);
		if (tdir < 0)
			return -1;
		if (fstatat(tdir, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) {
			close(tdir);
			return err_set(e, EXIT_VERIFY,
				       "%s: hard link '%s' → '%s': no such regular file earlier "
				       "in the bundle",
				       x->what, name, hl);
		}
		dir = open_parent(x, path, true, &base, e);
		if (dir < 0 || clear_slot(x, dir, base, name, e) < 0) {
			rc = -1;
		} else if (linkat(tdir, tbase, dir, base, 0) < 0) {
			rc = err_errno(e, 0, "%s: cannot link %s", x->what, name);
		}
		close(tdir);
		if (dir >= 0)
			close(dir);
		return rc;
	}
	switch (type) {
	case AE_IFDIR:
	case AE_IFREG:
	case AE_IFLNK:
		break;
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO:
		if (x->rootfs)
			break;
		/* fall through */
	default:
		return err_set(e, EXIT_VERIFY,
			       "%s: entry '%s' is not a file, directory or symlink — refusing the "
			       "bundle",
			       x->what, name);
	}
	if (type == AE_IFLNK && (!sl || (!x->rootfs && !extract_link_confined(name, sl))))
		return err_set(e, EXIT_VERIFY,
			       "%s: symlink '%s' → '%s' points outside the archive — refusing the "
			       "unsafe bundle",
			       x->what, name, sl ? sl : "");
	dir = open_parent(x, path, true, &base, e);
	if (dir < 0)
		return -1;
	if (type == AE_IFDIR) {
		struct stat st;

		if (mkdirat(dir, base, perm | 0700) < 0) {
			if (errno != EEXIST)
				rc = err_errno(e, 0, "%s: cannot create %s", x->what, name);
			else if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
				 !S_ISDIR(st.st_mode))
				rc = err_set(e, EXIT_VERIFY,
					     "%s: directory '%s' would replace a file or symlink — "
					     "refusing the archive",
					     x->what, name);
		}
	} else if (clear_slot(x, dir, base, name, e) < 0) {
		rc = -1;
	} else if (type == AE_IFLNK) {
		if (symlinkat(sl, dir, base) < 0)
			rc = err_errno(e, 0, "%s: cannot create symlink %s", x->what, name);
	} else if (type != AE_IFREG) {
		if (mknodat(dir, base, type | 0600,
			    makedev(archive_entry_rdevmajor(ae), archive_entry_rdevminor(ae))) < 0)
			rc = err_errno(e, 0, "%s: cannot create %s", x->what, name);
	} else {
		fd = openat(dir, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, perm);
		if (fd < 0) {
			rc = err_errno(e, 0, "%s: cannot create %s", x->what, name);
		} else {
			rc = write_data(x, a, fd, name, e);
			if (rc == 0 && archive_entry_size_is_set(ae) &&
			    ftruncate(fd, (off_t)archive_entry_size(ae)) < 0)
				rc = err_errno(e, 0, "%s: %s", x->what, name);
			if (rc == 0 && fchmod(fd, perm) < 0)
				rc = err_errno(e, 0, "%s: chmod %s", x->what, name);
			if (close(fd) < 0 && rc == 0)
				rc = err_errno(e, 0, "%s: writing %s", x->what, name);
		}
	}
	if (rc == 0 && x->rootfs)
		rc = keep_owner(x, dir, base, type, ae, perm, name, e);
	close(dir);
	return rc;
}

int extract_open(struct extract *x, const char *dir, const char *what, struct err *e)
{
	memset(x, 0, sizeof(*x));
	x->what = what;
	x->root = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (x->root < 0)
		return err_errno(e, 0, "%s: cannot open", dir);
	return 0;
}

void extract_close(struct extract *x)
{
	if (x->root >= 0)
		close(x->root);
	x->root = -1;
}
