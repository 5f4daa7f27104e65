/* Unit tests: lib/catalog/extract.c's rootfs mode (Debian packages into a
 * chroot tree): owners, setuid, devices and absolute symlinks kept, still
 * never written through a symlink. The default mode is tested through
 * bundles (test_bundle.c). */
#include "harness.h"

#include "catalog/extract.h"
#include "err.h"
#include "exitcode.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const char *tmp;

/* Extracts entries made by add() into dir; returns extract_entry's first
 * failure, else 0. */
static int extract_all(const char *dir, bool rootfs, void (*add)(struct archive *), struct err *e)
{
	char path[600];
	struct archive *w = archive_write_new(), *r = archive_read_new();
	struct archive_entry *ae;
	struct extract x;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/t.tar", tmp);
	archive_write_set_format_pax_restricted(w);
	archive_write_open_filename(w, path);
	add(w);
	archive_write_close(w);
	archive_write_free(w);
	mkdir(dir, 0755);
	err_init(e);
	if (extract_open(&x, dir, "test.deb", e) < 0)
		return -1;
	x.rootfs = rootfs;
	archive_read_support_format_tar(r);
	archive_read_open_filename(r, path, 10240);
	while (rc == 0 && archive_read_next_header(r, &ae) == ARCHIVE_OK)
		rc = extract_entry(&x, r, ae, e);
	archive_read_free(r);
	extract_close(&x);
	return rc;
}

static void entry(struct archive *w, const char *name, mode_t type, mode_t perm, int uid,
		  const char *data, const char *link)
{
	struct archive_entry *en = archive_entry_new();

	archive_entry_set_pathname(en, name);
	archive_entry_set_filetype(en, type);
	archive_entry_set_perm(en, perm);
	archive_entry_set_uid(en, uid);
	archive_entry_set_gid(en, uid);
	if (data)
		archive_entry_set_size(en, (la_int64_t)strlen(data));
	if (link)
		archive_entry_set_symlink(en, link);
	if (type == AE_IFCHR) {
		archive_entry_set_rdevmajor(en, 1);
		archive_entry_set_rdevminor(en, 3);
	}
	archive_write_header(w, en);
	if (data)
		archive_write_data(w, data, strlen(data));
	archive_entry_free(en);
}

static void rootfs_entries(struct archive *w)
{
	entry(w, "./", AE_IFDIR, 0755, 0, NULL, NULL);
	entry(w, "./usr/bin/passwd", AE_IFREG, 04755, 0, "x", NULL);
	entry(w, "./home/u", AE_IFDIR, 0700, 1000, NULL, NULL);
	entry(w, "./dev/null", AE_IFCHR, 0666, 0, NULL, NULL);
	entry(w, "./etc/localtime", AE_IFLNK, 0777, 0, NULL, "/usr/share/zoneinfo/UTC");
}

static void planted_symlink(struct archive *w)
{
	entry(w, "./evil", AE_IFLNK, 0777, 0, NULL, "/tmp");
	entry(w, "./evil/pwned", AE_IFREG, 0644, 0, "x", NULL);
}

static void rootfs_mode_keeps_what_a_root_fs_needs(void)
{
	char dir[600], p[700];
	struct stat st;
	struct err e;

	snprintf(dir, sizeof(dir), "%s/rootfs", tmp);
	CHECK(extract_all(dir, true, rootfs_entries, &e) == 0);
	if (e.code)
		printf("  %s\n", e.msg);
	snprintf(p, sizeof(p), "%s/usr/bin/passwd", dir);
	CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 04755);
	snprintf(p, sizeof(p), "%s/home/u", dir);
	CHECK(stat(p, &st) == 0 && st.st_uid == 1000 && (st.st_mode & 0777) == 0700);
	snprintf(p, sizeof(p), "%s/dev/null", dir);
	CHECK(lstat(p, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3));
	snprintf(p, sizeof(p), "%s/etc/localtime", dir);
	CHECK(lstat(p, &st) == 0 && S_ISLNK(st.st_mode));
	/* the default mode still refuses an absolute symlink and a device */
	snprintf(dir, sizeof(dir), "%s/bundle", tmp);
	CHECK(extract_all(dir, false, rootfs_entries, &e) == -1 && e.code == EXIT_VERIFY);
}

static void rootfs_mode_never_writes_through_a_symlink(void)
{
	char dir[600];
	struct stat st;
	struct err e;

	snprintf(dir, sizeof(dir), "%s/planted", tmp);
	CHECK(extract_all(dir, true, planted_symlink, &e) == -1 && e.code == EXIT_VERIFY);
	CHECK(stat("/tmp/pwned", &st) != 0);
}

int main(void)
{
	HARNESS_BEGIN("test_extract");
	if (geteuid() != 0) {
		printf("SKIP: unit/test_extract: all (rootfs mode keeps owners: needs root)\n");
		return 0;
	}
	tmp = harness_tmpdir();
	RUN(rootfs_mode_keeps_what_a_root_fs_needs);
	RUN(rootfs_mode_never_writes_through_a_symlink);
	HARNESS_END();
}
