/* Unit tests: lib/catalog/bundle.c — deterministic pack, unpack round trip, and
 * confinement against crafted tar.zst archives (.., absolute names, links
 * that escape, writing through a planted symlink, devices). */
#include "harness.h"

#include "catalog/bundle.h"
#include "err.h"
#include "exitcode.h"
#include "catalog/extract.h"
#include "path.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static void write_file(const char *dir, const char *name, const char *text)
{
	char p[1024];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void pack_round_trip(void)
{
	const char *top = harness_tmpdir();
	char src[512], out1[512], out2[512], dst[512], p[1024], sha1[65], sha2[65], sha3[65];
	char link[64];
	uint64_t n1, n2, n3;
	struct stat st;
	struct err e;
	int fd;

	err_init(&e);
	snprintf(src, sizeof(src), "%s/src", top);
	snprintf(dst, sizeof(dst), "%s/dst", top);
	snprintf(out1, sizeof(out1), "%s/a.tar.zst", top);
	snprintf(out2, sizeof(out2), "%s/b.tar.zst", top);
	snprintf(p, sizeof(p), "%s/modules/lib/modules/6.1", src);
	CHECK(path_mkdirs(p, 0755, &e) == 0);
	CHECK(mkdir(dst, 0755) == 0);
	write_file(src, "vmlinux", "ELF pretend");
	write_file(src, "modules/lib/modules/6.1/modules.dep", "x.ko:\n");
	snprintf(p, sizeof(p), "%s/modules/lib/modules/6.1/build", src);
	CHECK(symlink("modules.dep", p) == 0);
	CHECK(bundle_pack(src, out1, sha1, &n1, &e) == 0);
	/* Same tree later, other mtimes: byte-identical bundle. */
	snprintf(p, sizeof(p), "%s/vmlinux", src);
	CHECK(utimensat(AT_FDCWD, p, (struct timespec[]){ { 1, 0 }, { 1, 0 } }, 0) == 0);
	CHECK(bundle_pack(src, out2, sha2, &n2, &e) == 0);
	CHECK_STR(sha1, sha2);
	CHECK(n1 == n2 && n1 > 0);
	fd = open(out1, O_RDONLY);
	CHECK(bundle_extract_fd(fd, dst, sha3, &n3, &e) == 0);
	if (e.code)
		printf("  %s\n", e.msg);
	close(fd);
	CHECK_STR(sha3, sha1);
	CHECK(n3 == n1);
	snprintf(p, sizeof(p), "%s/vmlinux", dst);
	CHECK(stat(p, &st) == 0 && st.st_size == 11);
	snprintf(p, sizeof(p), "%s/modules/lib/modules/6.1/build", dst);
	CHECK(readlink(p, link, sizeof(link)) == 11 && !memcmp(link, "modules.dep", 11));
	/* Links that leave the tree are not packed. */
	snprintf(p, sizeof(p), "%s/bad", src);
	CHECK(symlink("../../etc/passwd", p) == 0);
	CHECK(bundle_pack(src, out2, sha2, &n2, &e) < 0 && e.code == EXIT_VERIFY);
}

/* One crafted entry description. */
struct craft {
	const char *name;
	mode_t type; /* AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFCHR; hard link when link set and REG */
	const char *link;
	const char *data;
};

/* Writes a tar.zst of the entries to path. */
static void craft(const char *path, const struct craft *c, size_t n)
{
	struct archive *a = archive_write_new();
	struct archive_entry *ae = archive_entry_new();

	archive_write_set_bytes_in_last_block(a, 1);
	archive_write_set_format_pax_restricted(a);
	archive_write_add_filter_zstd(a);
	archive_write_open_filename(a, path);
	for (size_t i = 0; i < n; i++) {
		archive_entry_clear(ae);
		archive_entry_set_pathname(ae, c[i].name);
		archive_entry_set_filetype(ae, c[i].type);
		archive_entry_set_perm(ae, 0644);
		if (c[i].type == AE_IFLNK)
			archive_entry_set_symlink(ae, c[i].link);
		else if (c[i].link)
			archive_entry_set_hardlink(ae, c[i].link);
		if (c[i].data)
			archive_entry_set_size(ae, (la_int64_t)strlen(c[i].data));
		archive_write_header(a, ae);
		if (c[i].data)
			archive_write_data(a, c[i].data, strlen(c[i].data));
	}
	archive_write_close(a);
	archive_write_free(a);
	archive_entry_free(ae);
}

/* Extracts a crafted archive into a fresh dir beside a "victim" file. */
static int try_extract(const struct craft *c, size_t n, struct err *e)
{
	const char *top = harness_tmpdir();
	char bundle[512], root[512], victim[512];
	struct stat st;
	int fd, rc;

	snprintf(bundle, sizeof(bundle), "%s/b.tar.zst", top);
	snprintf(root, sizeof(root), "%s/a/b/root", top);
	snprintf(victim, sizeof(victim), "%s/a/b/victim", top);
	path_mkdirs(root, 0755, e);
	write_file(top, "a/b/victim", "safe");
	craft(bundle, c, n);
	fd = open(bundle, O_RDONLY);
	err_init(e);
	rc = bundle_extract_fd(fd, root, NULL, NULL, e);
	close(fd);
	/* Whatever happened, nothing outside the root was touched. */
	CHECK(lstat(victim, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 4);
	snprintf(victim, sizeof(victim), "%s/a/b/x", top);
	CHECK(lstat(victim, &st) < 0);
	snprintf(victim, sizeof(victim), "%s/a/x", top);
	CHECK(lstat(victim, &st) < 0);
	return rc;
}

#define REFUSED(...)                                                                               \
	do {                                                                                       \
		const struct craft c_[] = { __VA_ARGS__ };                                         \
		struct err e_;                                                                     \
		CHECK(try_extract(c_, sizeof(c_) / sizeof(c_[0]), &e_) < 0 &&                      \
		      strstr(e_.msg, "refus") && e_.code == EXIT_VERIFY);                          \
	} while (0)

static void confined(void)
{
	struct err e;
	const struct craft ok[] = {
		{ "./d/", AE_IFDIR, NULL, NULL }, { "d/f", AE_IFREG, NULL, "hello" },
		{ "d/l", AE_IFLNK, "f", NULL },	  { "d/up", AE_IFLNK, "../d/f", NULL },
		{ "d/h", AE_IFREG, "d/f", NULL },
	};

	CHECK(try_extract(ok, 5, &e) == 0);
	REFUSED({ "../x", AE_IFREG, NULL, "evil" });
	REFUSED({ "d/../../x", AE_IFREG, NULL, "evil" });
	REFUSED({ "/abs", AE_IFREG, NULL, "evil" });
	REFUSED({ "l", AE_IFLNK, "../victim", NULL });
	REFUSED({ "l", AE_IFLNK, "/etc/passwd", NULL });
	REFUSED({ "d/l", AE_IFLNK, "../../x", NULL });
	/* "." components do not make a link deeper than it is. */
	REFUSED({ "d/./l", AE_IFLNK, "../../x", NULL });
	REFUSED({ "d//./l", AE_IFLNK, "../../x", NULL });
	/* A symlink that stays inside is fine, but never written through. */
	REFUSED({ "d", AE_IFLNK, ".", NULL }, { "d/x", AE_IFREG, NULL, "evil" });
	REFUSED({ "up", AE_IFDIR, NULL, NULL }, { "up/l", AE_IFLNK, "..", NULL },
		{ "up/l/x", AE_IFREG, NULL, "evil" });
	/* A file replacing a symlink replaces the link, not its target. */
	REFUSED({ "h", AE_IFREG, "../victim", NULL });
	REFUSED({ "h", AE_IFREG, "/etc/passwd", NULL });
	REFUSED({ "c", AE_IFCHR, NULL, NULL });
	REFUSED({ "f", AE_IFREG, NULL, "x" }, { "f/y", AE_IFREG, NULL, "evil" });
}

static void link_rules(void)
{
	CHECK(extract_link_confined("a/l", "b"));
	CHECK(extract_link_confined("a/l", "../b"));
	CHECK(!extract_link_confined("a/l", "../../b"));
	CHECK(!extract_link_confined("a/./l", "../../b"));
	CHECK(!extract_link_confined("./a//l", "../../b"));
	CHECK(extract_link_confined("a/b/l", "../../c/./d"));
	CHECK(extract_link_confined("a/b/l", "./.././c"));
	CHECK(!extract_link_confined("l", ".."));
	CHECK(!extract_link_confined("a/l", "/etc"));
	CHECK(!extract_link_confined("a/l", ""));
	/* ".." after a name is physical (the name may be a link): refused. */
	CHECK(!extract_link_confined("a/l", "x/../b"));
	CHECK(!extract_link_confined("a/b/l", "../x/../y"));
}

static void not_a_bundle(void)
{
	const char *top = harness_tmpdir();
	char p[512];
	struct err e;
	int fd;

	write_file(top, "junk", "this is not zstd at all, not even close");
	snprintf(p, sizeof(p), "%s/junk", top);
	fd = open(p, O_RDONLY);
	err_init(&e);
	CHECK(bundle_extract_fd(fd, top, NULL, NULL, &e) < 0 && e.code == EXIT_VERIFY);
	close(fd);
}

int main(void)
{
	HARNESS_BEGIN("bundle");
	RUN(pack_round_trip);
	RUN(confined);
	RUN(link_rules);
	RUN(not_a_bundle);
	HARNESS_END();
}
