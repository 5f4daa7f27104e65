/* Unit tests: lib/oci/layer.c — layer replay and its hardening, with layers
 * crafted here by libarchive (as root: owners and device nodes). */
#include "harness.h"

#include "err.h"
#include "exitcode.h"
#include "oci/layer.h"
#include "path.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

static const char *tmp;
static char outside[512]; /* a host directory no layer may touch */

/* One crafted entry. type: 'f' file, 'd' dir, 'l' symlink, 'h' hard link,
 * 'c' char device, 'p' fifo. */
struct ent {
	char type;
	const char *name;
	const char *data; /* file content, or link target */
	unsigned mode;
	int uid, gid;
	const char *xattr; /* "name=value" */
};

static const char *make_layer(const char *file, int filter, const struct ent *es, size_t n)
{
	static char path[600];
	struct archive *a = archive_write_new();
	struct archive_entry *en = archive_entry_new();

	snprintf(path, sizeof(path), "%s/%s", tmp, file);
	archive_write_set_format_pax_restricted(a);
	if (filter == 1)
		archive_write_add_filter_gzip(a);
	else if (filter == 2)
		archive_write_add_filter_zstd(a);
	archive_write_open_filename(a, path);
	for (size_t i = 0; i < n; i++) {
		const struct ent *x = &es[i];
		size_t len = x->type == 'f' && x->data ? strlen(x->data) : 0;

		archive_entry_clear(en);
		archive_entry_set_pathname(en, x->name);
		archive_entry_set_uid(en, x->uid);
		archive_entry_set_gid(en, x->gid);
		archive_entry_set_mtime(en, 1000000000, 0);
		archive_entry_set_perm(en, x->mode ? x->mode : 0644);
		switch (x->type) {
		case 'f':
			archive_entry_set_filetype(en, AE_IFREG);
			archive_entry_set_size(en, (la_int64_t)len);
			break;
		case 'd':
			archive_entry_set_filetype(en, AE_IFDIR);
			archive_entry_set_perm(en, x->mode ? x->mode : 0755);
			break;
		case 'l':
			archive_entry_set_filetype(en, AE_IFLNK);
			archive_entry_set_symlink(en, x->data);
			break;
		case 'h':
			archive_entry_set_filetype(en, AE_IFREG);
			archive_entry_set_hardlink(en, x->data);
			break;
		case 'c':
			archive_entry_set_filetype(en, AE_IFCHR);
			archive_entry_set_rdevmajor(en, 1);
			archive_entry_set_rdevminor(en, 3);
			break;
		case 'p':
			archive_entry_set_filetype(en, AE_IFIFO);
			break;
		}
		if (x->xattr) {
			const char *eq = strchr(x->xattr, '=');
			char name[64];

			snprintf(name, sizeof(name), "%.*s", (int)(eq - x->xattr), x->xattr);
			archive_entry_xattr_add_entry(en, name, eq + 1, strlen(eq + 1));
		}
		archive_write_header(a, en);
		if (len)
			archive_write_data(a, x->data, len);
	}
	archive_entry_free(en);
	archive_write_close(a);
	archive_write_free(a);
	return path;
}

static char root[600];

static void fresh_root(const char *name)
{
	snprintf(root, sizeof(root), "%s/%s", tmp, name);
	mkdir(root, 0755);
}

static int apply(const char *layer, struct err *e)
{
	struct layer_root lr;
	int rc;

	err_init(e);
	if (layer_root_open(&lr, root, e) < 0)
		return -1;
	rc = layer_apply(&lr, layer, "layer 1 (test)", e);
	layer_root_close(&lr);
	return rc;
}

static bool exists(const char *rel)
{
	char p[1200];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	return lstat(p, &st) == 0;
}

static struct stat st_of(const char *rel)
{
	char p[1200];
	struct stat st;

	memset(&st, 0, sizeof(st));
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	lstat(p, &st);
	return st;
}

static void names_are_cleaned(void)
{
	char out[64];
	struct err e;

	err_init(&e);
	CHECK(layer_clean_name("./a//b/./c/", out, sizeof(out), &e) == 0);
	CHECK_STR(out, "a/b/c");
	CHECK(layer_clean_name("./", out, sizeof(out), &e) == 0);
	CHECK_STR(out, "");
	CHECK(layer_clean_name("a/../b", out, sizeof(out), &e) == -1 && e.code == EXIT_VERIFY);
	CHECK(layer_clean_name("/etc/passwd", out, sizeof(out), &e) == -1);
	CHECK(layer_clean_name("..", out, sizeof(out), &e) == -1);
	CHECK(layer_clean_name("a..b/..c", out, sizeof(out), &e) == 0);
}

static void every_kind_of_entry_keeps_its_metadata(void)
{
	const struct ent es[] = {
		{ 'd', "./", NULL, 0755, 0, 0, NULL },
		{ 'd', "etc", NULL, 0750, 0, 0, NULL },
		{ 'f', "etc/hello", "hello\n", 0640, 1000, 1001, "user.banger=yes" },
		{ 'f', "bin/su", "#!/bin/true\n", 04755, 0, 0, NULL },
		{ 'f', "bin/sg", "x", 02711, 0, 50, NULL },
		{ 'd', "tmp", NULL, 01777, 0, 0, NULL },
		{ 'l', "etc/link", "hello", 0777, 7, 8, NULL },
		{ 'h', "etc/hard", "etc/hello", 0, 0, 0, NULL },
		{ 'c', "dev/null", NULL, 0666, 0, 0, NULL },
		{ 'p', "run/fifo", NULL, 0620, 3, 3, NULL },
	};
	struct err e;
	char buf[32] = "";

	fresh_root("kinds");
	CHECK(apply(make_layer("kinds.tar.gz", 1, es, sizeof(es) / sizeof(es[0])), &e) == 0);
	if (e.code)
		printf("  %s\n", e.msg);
	struct stat s = st_of("etc/hello");
	CHECK(S_ISREG(s.st_mode) && (s.st_mode & 07777) == 0640);
	CHECK(s.st_uid == 1000 && s.st_gid == 1001 && s.st_size == 6);
	CHECK(s.st_mtime == 1000000000);
	CHECK(s.st_nlink == 2 && st_of("etc/hard").st_ino == s.st_ino);
	CHECK((st_of("etc").st_mode & 07777) == 0750);
	CHECK(st_of("etc").st_mtime == 1000000000);
	CHECK((st_of("bin/su").st_mode & 07777) == 04755);
	CHECK((st_of("bin/sg").st_mode & 07777) == 02711 && st_of("bin/sg").st_gid == 50);
	CHECK((st_of("tmp").st_mode & 07777) == 01777);
	CHECK(S_ISLNK(st_of("etc/link").st_mode) && st_of("etc/link").st_uid == 7);
	CHECK(S_ISCHR(st_of("dev/null").st_mode) && st_of("dev/null").st_rdev == makedev(1, 3));
	CHECK(S_ISFIFO(st_of("run/fifo").st_mode) && (st_of("run/fifo").st_mode & 0777) == 0620);
	char p[1200];
	snprintf(p, sizeof(p), "%s/etc/hello", root);
	CHECK(getxattr(p, "user.banger", buf, sizeof(buf)) == 3 && !memcmp(buf, "yes", 3));
}

static void whiteouts_and_opaque_directories(void)
{
	const struct ent l1[] = {
		{ 'f', "etc/gone", "x", 0, 0, 0, NULL },
		{ 'f', "etc/kept", "x", 0, 0, 0, NULL },
		{ 'd', "opt/app", NULL, 0, 0, 0, NULL },
		{ 'f', "opt/app/old", "x", 0, 0, 0, NULL },
		{ 'f', "opt/app/sub/old2", "x", 0, 0, 0, NULL },
		{ 'f', "srv/a/old", "x", 0, 0, 0, NULL },
		{ 'd', "var/dir", NULL, 0, 0, 0, NULL },
		{ 'f', "var/dir/x", "x", 0, 0, 0, NULL },
	};
	/* Opaque marker after and before same-layer content. */
	const struct ent l2[] = {
		{ 'f', "etc/.wh.gone", "", 0, 0, 0, NULL },
		{ 'f', "opt/app/new", "y", 0, 0, 0, NULL },
		{ 'f', "opt/app/sub/new2", "y", 0, 0, 0, NULL },
		{ 'f', "opt/app/.wh..wh..opq", "", 0, 0, 0, NULL },
		{ 'f', "srv/a/.wh..wh..opq", "", 0, 0, 0, NULL },
		{ 'f', "srv/a/new", "y", 0, 0, 0, NULL },
		{ 'f', "var/.wh.dir", "", 0, 0, 0, NULL },
		{ 'f', "nowhere/.wh.nothing", "", 0, 0, 0, NULL },
	};
	struct err e;

	fresh_root("wh");
	CHECK(apply(make_layer("wh1.tar.zst", 2, l1, sizeof(l1) / sizeof(l1[0])), &e) == 0);
	CHECK(apply(make_layer("wh2.tar", 0, l2, sizeof(l2) / sizeof(l2[0])), &e) == 0);
	if (e.code)
		printf("  %s\n", e.msg);
	CHECK(!exists("etc/gone") && exists("etc/kept"));
	CHECK(!exists("etc/.wh.gone"));
	CHECK(!exists("opt/app/old") && !exists("opt/app/sub/old2"));
	CHECK(exists("opt/app/new") && exists("opt/app/sub/new2"));
	CHECK(!exists("opt/app/.wh..wh..opq"));
	CHECK(!exists("srv/a/old") && exists("srv/a/new"));
	CHECK(!exists("var/dir") && exists("var"));
	CHECK(!exists("nowhere"));
}

static void a_later_entry_replaces_an_earlier_symlink_without_following_it(void)
{
	char target[700], l1t[700];
	struct ent l1[] = { { 'l', "f", l1t, 0777, 0, 0, NULL } };
	const struct ent l2[] = { { 'f', "f", "inside", 0644, 0, 0, NULL } };
	struct err e;
	int fd;

	snprintf(target, sizeof(target), "%s/victim", outside);
	fd = open(target, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	CHECK(fd >= 0 && write(fd, "host", 4) == 4);
	close(fd);
	snprintf(l1t, sizeof(l1t), "%s", target);
	fresh_root("replace");
	CHECK(apply(make_layer("r1.tar", 0, l1, 1), &e) == 0);
	CHECK(apply(make_layer("r2.tar", 0, l2, 1), &e) == 0);
	CHECK(S_ISREG(st_of("f").st_mode) && st_of("f").st_size == 6);
	struct stat s;
	CHECK(stat(target, &s) == 0 && s.st_size == 4);
}

/* Each hardening rule: the layer fails with EXIT_VERIFY and a message
 * naming the entry, and nothing outside the root changes. */
static void refuse(const char *name, const struct ent *l1, size_t n1, const struct ent *l2,
		   size_t n2, const char *want)
{
	struct err e;
	char f[64];

	fresh_root(name);
	snprintf(f, sizeof(f), "%s-1.tar", name);
	if (l1)
		CHECK(apply(make_layer(f, 0, l1, n1), &e) == 0);
	snprintf(f, sizeof(f), "%s-2.tar", name);
	CHECK(apply(make_layer(f, 0, l2, n2), &e) == -1);
	CHECK(e.code == EXIT_VERIFY);
	if (!strstr(e.msg, want)) {
		printf("  %s: want '%s' in '%s'\n", name, want, e.msg);
		CHECK(0);
	}
	CHECK(strstr(e.msg, "layer 1 (test)") != NULL);
}

static void refuses_dotdot_and_absolute_names(void)
{
	const struct ent dd[] = { { 'f', "a/../../escape", "x", 0, 0, 0, NULL } };
	const struct ent ab[] = { { 'f', "/abs", "x", 0, 0, 0, NULL } };
	char p[700];
	struct stat s;

	refuse("dotdot", NULL, 0, dd, 1, "'..' leaves the image root");
	snprintf(p, sizeof(p), "%s/escape", tmp);
	CHECK(stat(p, &s) < 0);
	refuse("abs", NULL, 0, ab, 1, "absolute name");
}

static void refuses_to_write_through_a_planted_symlink(void)
{
	struct ent l1[] = { { 'l', "evil", outside, 0777, 0, 0, NULL } };
	const struct ent l2[] = { { 'f', "evil/pwned", "x", 0, 0, 0, NULL } };
	const struct ent same[] = { { 'l', "evil", outside, 0777, 0, 0, NULL },
				    { 'f', "evil/pwned", "x", 0, 0, 0, NULL } };
	const struct ent rel[] = { { 'l', "a/up", "../../../../../../../..", 0777, 0, 0, NULL },
				   { 'f', "a/up/tmp/pwned", "x", 0, 0, 0, NULL } };
	const struct ent dir[] = { { 'd', "evil/sub", NULL, 0, 0, 0, NULL } };
	char p[700];
	struct stat s;

	refuse("plant", l1, 1, l2, 1, "'evil' is a symbolic link — refusing to write through it");
	refuse("plant-same", NULL, 0, same, 2, "'evil' is a symbolic link");
	refuse("plant-rel", NULL, 0, rel, 2, "'a/up' is a symbolic link");
	refuse("plant-dir", l1, 1, dir, 1, "is a symbolic link");
	snprintf(p, sizeof(p), "%s/pwned", outside);
	CHECK(stat(p, &s) < 0);
	snprintf(p, sizeof(p), "%s/sub", outside);
	CHECK(stat(p, &s) < 0);
}

static void hard_links_stay_inside(void)
{
	char victim[700];
	struct ent l1[] = { { 'l', "evil", outside, 0777, 0, 0, NULL } };
	const struct ent dd[] = { { 'h', "x", "../../../etc/passwd", 0, 0, 0, NULL } };
	const struct ent ab[] = { { 'h', "x", "/etc/passwd", 0, 0, 0, NULL } };
	const struct ent via[] = { { 'h', "x", "evil/victim", 0, 0, 0, NULL } };
	const struct ent missing[] = { { 'h', "x", "nothere", 0, 0, 0, NULL } };
	struct stat s;

	refuse("hl-dotdot", NULL, 0, dd, 1, "hard link target");
	refuse("hl-abs", NULL, 0, ab, 1, "hard link target");
	refuse("hl-via", l1, 1, via, 1, "'evil' is a symbolic link");
	refuse("hl-missing", NULL, 0, missing, 1, "cannot hard-link");
	snprintf(victim, sizeof(victim), "%s/victim", outside);
	CHECK(stat(victim, &s) == 0 && s.st_nlink == 1);
}

static void whiteouts_stay_inside(void)
{
	struct ent l1[] = { { 'l', "evil", outside, 0777, 0, 0, NULL } };
	const struct ent via[] = { { 'f', "evil/.wh.victim", "", 0, 0, 0, NULL } };
	const struct ent opq[] = { { 'f', "evil/.wh..wh..opq", "", 0, 0, 0, NULL } };
	const struct ent dd[] = { { 'f', "../.wh.victim", "", 0, 0, 0, NULL } };
	const struct ent dots[] = { { 'f', "a/.wh...", "", 0, 0, 0, NULL } };
	char victim[700];
	struct stat s;

	refuse("wh-via", l1, 1, via, 1, "'evil' is a symbolic link");
	refuse("wh-opq", l1, 1, opq, 1, "'evil' is a symbolic link");
	refuse("wh-dotdot", NULL, 0, dd, 1, "'..' leaves the image root");
	refuse("wh-dots", NULL, 0, dots, 1, "whiteout of an invalid name");
	snprintf(victim, sizeof(victim), "%s/victim", outside);
	CHECK(stat(victim, &s) == 0);
}

static void garbage_is_not_a_layer(void)
{
	struct err e;
	char p[700];
	int fd;

	snprintf(p, sizeof(p), "%s/garbage.tar.gz", tmp);
	fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	CHECK(fd >= 0 && write(fd, "\x1f\x8bnot really gzip at all", 24) == 24);
	close(fd);
	fresh_root("garbage");
	CHECK(apply(p, &e) == -1 && e.code == EXIT_VERIFY);
}

static void usage_counts_blocks_and_inodes_once(void)
{
	const struct ent es[] = {
		{ 'f', "a", "12345", 0, 0, 0, NULL },
		{ 'h', "b", "a", 0, 0, 0, NULL },
		{ 'd', "d", NULL, 0, 0, 0, NULL },
	};
	struct layer_root lr;
	struct layer_usage u;
	struct err e;

	fresh_root("usage");
	CHECK(apply(make_layer("usage.tar", 0, es, 3), &e) == 0);
	err_init(&e);
	CHECK(layer_root_open(&lr, root, &e) == 0);
	CHECK(layer_usage(&lr, &u, &e) == 0);
	CHECK(u.inodes == 3); /* root, a (= b), d */
	CHECK(u.bytes == 5);
	CHECK(u.blocks >= 3);
	CHECK(layer_put_file(&lr, "usr/local/x", "hi", 2, 0755, &e) == 0);
	CHECK(layer_put_symlink(&lr, "usr/local/y", "x", &e) == 0);
	CHECK((st_of("usr/local/x").st_mode & 0777) == 0755);
	CHECK(S_ISLNK(st_of("usr/local/y").st_mode));
	layer_root_close(&lr);
}

int main(void)
{
	HARNESS_BEGIN("test_layer");
	if (geteuid() != 0) {
		printf("SKIP: unit/test_layer: all (needs root for owners and device nodes)\n");
		return 0;
	}
	tmp = harness_tmpdir();
	snprintf(outside, sizeof(outside), "%s/outside", tmp);
	mkdir(outside, 0755);
	RUN(names_are_cleaned);
	RUN(every_kind_of_entry_keeps_its_metadata);
	RUN(whiteouts_and_opaque_directories);
	RUN(a_later_entry_replaces_an_earlier_symlink_without_following_it);
	RUN(refuses_dotdot_and_absolute_names);
	RUN(refuses_to_write_through_a_planted_symlink);
	RUN(hard_links_stay_inside);
	RUN(whiteouts_stay_inside);
	RUN(garbage_is_not_a_layer);
	RUN(usage_counts_blocks_and_inodes_once);
	{
		struct err e;

		err_init(&e);
		path_remove_tree(tmp, &e);
	}
	HARNESS_END();
}
