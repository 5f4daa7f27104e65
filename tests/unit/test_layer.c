/* Unit tests: lib/oci/layer.c — layer replay and its hardening, with layers
 * crafted here by libarchive. Nothing needs root: the tree is an ext4 image. */
#include "harness.h"

#include "err.h"
#include "exitcode.h"
#include "ext4/ext4.h"
#include "oci/layer.h"
#include "path.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
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
static struct ext4_fs *fs;
static struct layer_root lr;

/* A new image for each test; the last one's is finished and checked by
 * e2fsck when there is one. */
static void fresh_root(const char *name)
{
	struct ext4_opts o = { .seed = name };
	struct err e;

	ext4_free(fs);
	snprintf(root, sizeof(root), "%s/%s.ext4", tmp, name);
	err_init(&e);
	fs = ext4_new(root, &o, &e);
	if (!fs) {
		printf("  %s\n", e.msg);
		exit(1);
	}
	layer_root_open(&lr, fs);
}

static int apply(const char *layer, struct err *e)
{
	err_init(e);
	return layer_apply(&lr, layer, "layer 1 (test)", e);
}

/* The inode at rel, walking the tree as a reader would (no symlinks). */
static bool find(const char *rel, uint32_t *ino)
{
	uint32_t cur = EXT4_ROOT_INO;

	while (*rel) {
		size_t n = strcspn(rel, "/");

		if (!ext4_lookup(fs, cur, rel, n, &cur))
			return false;
		rel += n;
		rel += *rel == '/';
	}
	*ino = cur;
	return true;
}

static bool exists(const char *rel)
{
	uint32_t ino;

	return find(rel, &ino);
}

static struct stat st_of(const char *rel)
{
	struct stat st;
	struct ext4_attr a;
	uint32_t ino;

	memset(&st, 0, sizeof(st));
	if (!find(rel, &ino))
		return st;
	ext4_stat(fs, ino, &a);
	st.st_ino = ino;
	st.st_mode = a.mode;
	st.st_uid = a.uid;
	st.st_gid = a.gid;
	st.st_size = (off_t)a.size;
	st.st_mtime = a.mtime;
	st.st_nlink = a.links;
	st.st_rdev = makedev(a.major, a.minor);
	return st;
}

/* Finishes the current image; e2fsck -fn must accept it. */
static bool finished_image_is_clean(void)
{
	char *argv[] = { "e2fsck", "-fn", root, NULL };
	struct err e;
	uint64_t bytes;
	int st;
	pid_t pid;

	err_init(&e);
	if (ext4_finish(fs, &bytes, &e) < 0) {
		printf("  %s\n", e.msg);
		return false;
	}
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return false;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		return true; /* no e2fsprogs here: test_ext4 says so */
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static bool debugfs_shows(const char *cmd, const char *want)
{
	char *argv[] = { "debugfs", "-R", (char *)cmd, root, NULL };
	static char out[1 << 16];
	int fds[2], st;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	if (pipe(fds) < 0)
		return false;
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	/* read to the end (what does not fit is dropped), or debugfs blocks */
	while ((n = read(fds[0], out + got, sizeof(out) - 1 - got)) > 0)
		if ((got += (size_t)n) > sizeof(out) - 4096)
			got = sizeof(out) - 4096;
	out[got] = '\0';
	close(fds[0]);
	waitpid(pid, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		return true; /* no e2fsprogs: finished_image_is_clean says so */
	if (!strstr(out, want))
		printf("  debugfs -R '%s': no '%s'\n", cmd, want);
	return strstr(out, want) != NULL;
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
	CHECK(st_of("etc/hello").st_mtime == 1000000000);
	CHECK(finished_image_is_clean());
	CHECK(debugfs_shows("ea_get /etc/hello user.banger", "user.banger (3) = \"yes\""));
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

/* Writes a layer of n entries made by fn(i, entry, &data, &len). */
typedef void (*gen_fn)(int i, struct archive_entry *en, const char **data, size_t *len);

static const char *gen_layer(const char *file, int n, gen_fn fn)
{
	static char path[600];
	struct archive *a = archive_write_new();
	struct archive_entry *en = archive_entry_new();

	snprintf(path, sizeof(path), "%s/%s", tmp, file);
	archive_write_set_format_pax(a);
	archive_write_open_filename(a, path);
	for (int i = 0; i < n; i++) {
		const char *data = NULL;
		size_t len = 0;

		archive_entry_clear(en);
		archive_entry_set_mtime(en, 1600000000, 5);
		archive_entry_set_perm(en, 0644);
		archive_entry_set_filetype(en, AE_IFREG);
		fn(i, en, &data, &len);
		archive_write_header(a, en);
		if (len)
			archive_write_data(a, data, len);
	}
	archive_entry_free(en);
	archive_write_close(a);
	archive_write_free(a);
	return path;
}

static char region[4096 * 600];

/* Layer 1: a directory to be replaced by a file, a file for a later hard
 * link, a 5 GiB sparse file and one of 600 separate data regions (more
 * extents than the inode holds). */
static void gen1(int i, struct archive_entry *en, const char **data, size_t *len)
{
	static const char *const names[] = { "d", "d/inner", "orig", "sparse", "frag" };

	archive_entry_set_pathname(en, names[i]);
	switch (i) {
	case 0:
		archive_entry_set_filetype(en, AE_IFDIR);
		archive_entry_set_perm(en, 0755);
		break;
	case 1:
	case 2:
		*data = "original\n";
		*len = 9;
		archive_entry_set_size(en, 9);
		break;
	case 3:
		archive_entry_set_size(en, 5LL << 30);
		archive_entry_sparse_add_entry(en, (5LL << 30) - 4096, 4096);
		*data = region;
		*len = 4096;
		break;
	case 4:
		archive_entry_set_size(en, 600 * 8192);
		for (int k = 0; k < 600; k++)
			archive_entry_sparse_add_entry(en, (la_int64_t)k * 8192, 4096);
		*data = region;
		*len = sizeof(region);
		break;
	}
}

/* Layer 2: the directory whited out and made a file, a hard link to a
 * layer-1 file, every xattr shape, and a 20,000-entry directory. */
static void gen2(int i, struct archive_entry *en, const char **data, size_t *len)
{
	static char name[64], big[3000];

	switch (i) {
	case 0:
		archive_entry_set_pathname(en, ".wh.d");
		break;
	case 1:
		archive_entry_set_pathname(en, "d");
		*data = "now a file\n";
		*len = 11;
		archive_entry_set_size(en, 11);
		break;
	case 2:
		archive_entry_set_pathname(en, "linked");
		archive_entry_set_hardlink(en, "orig");
		break;
	case 3:
		archive_entry_set_pathname(en, "xattrs");
		archive_entry_set_perm(en, 04755);
		archive_entry_xattr_add_entry(en, "security.capability",
					      "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00"
					      "\x00\x00\x00\x00\x00\x00\x00\x00",
					      20);
		archive_entry_xattr_add_entry(en, "user.empty", "", 0);
		memset(big, 'b', sizeof(big));
		archive_entry_xattr_add_entry(en, "trusted.big", big, sizeof(big));
		for (int k = 0; k < 8; k++) {
			snprintf(name, sizeof(name), "user.many-%d", k);
			archive_entry_xattr_add_entry(en, name, "0123456789", 10);
		}
		break;
	case 4:
		archive_entry_set_pathname(en, "many");
		archive_entry_set_filetype(en, AE_IFDIR);
		archive_entry_set_perm(en, 0755);
		break;
	default:
		snprintf(name, sizeof(name), "many/file-%05d", i);
		archive_entry_set_pathname(en, name);
		break;
	}
}

static void crafted_trees_across_layers(void)
{
	struct err e;

	memset(region, 'r', sizeof(region));
	fresh_root("crafted");
	CHECK(apply(gen_layer("crafted-1.tar", 5, gen1), &e) == 0);
	if (e.code)
		printf("  %s\n", e.msg);
	CHECK(apply(gen_layer("crafted-2.tar", 20005, gen2), &e) == 0);
	if (e.code)
		printf("  %s\n", e.msg);
	CHECK(S_ISREG(st_of("d").st_mode) && st_of("d").st_size == 11 && !exists("d/inner"));
	CHECK(st_of("linked").st_ino == st_of("orig").st_ino && st_of("orig").st_nlink == 2);
	CHECK(exists("many/file-12345"));
	CHECK(finished_image_is_clean());
	CHECK(debugfs_shows("stat /sparse", "Size: 5368709120"));
	CHECK(debugfs_shows("stat /sparse", "Blockcount: 8\n"));
	CHECK(debugfs_shows("ex /frag", "1/ 1 "));
	CHECK(debugfs_shows("htree /many", "Number of entries (count): "));
	CHECK(debugfs_shows("stat /xattrs", "security.capability (20)"));
	CHECK(debugfs_shows("stat /xattrs", "Mode:  04755"));
	CHECK(debugfs_shows("ea_list /xattrs", "user.many-7 (10)"));
	CHECK(debugfs_shows("ea_list /xattrs", "trusted.big (3000)"));
	CHECK(debugfs_shows("cat /linked", "original"));
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

static void agent_files_go_in_as_root(void)
{
	const struct ent es[] = {
		{ 'f', "a", "12345", 0, 1000, 1000, NULL },
		{ 'h', "b", "a", 0, 0, 0, NULL },
		{ 'd', "usr", NULL, 0, 0, 0, NULL },
	};
	struct err e;

	fresh_root("put");
	CHECK(apply(make_layer("put.tar", 0, es, 3), &e) == 0);
	err_init(&e);
	CHECK(layer_put_file(&lr, "usr/local/x", "hi", 2, 0755, &e) == 0);
	CHECK(layer_put_symlink(&lr, "usr/local/y", "x", &e) == 0);
	CHECK(layer_put_file(&lr, "a", "replaced", 8, 0600, &e) == 0);
	CHECK((st_of("usr/local/x").st_mode & 0777) == 0755 && st_of("usr/local/x").st_size == 2);
	CHECK(S_ISLNK(st_of("usr/local/y").st_mode));
	CHECK(st_of("a").st_uid == 0 && st_of("a").st_size == 8);
	CHECK(st_of("b").st_uid == 1000 && st_of("b").st_nlink == 1);
	CHECK(layer_put_file(&lr, "b/c", "x", 1, 0644, &e) == -1 && e.code == EXIT_VERIFY);
	CHECK(finished_image_is_clean());
}

int main(void)
{
	HARNESS_BEGIN("test_layer");
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
	RUN(agent_files_go_in_as_root);
	RUN(crafted_trees_across_layers);
	ext4_free(fs);
	{
		struct err e;

		err_init(&e);
		path_remove_tree(tmp, &e);
	}
	HARNESS_END();
}
