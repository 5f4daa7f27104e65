/* Unit tests: lib/ext4/ext4.c — the native ext4 writer. Every image made
 * here is checked by e2fsck -fn (and read back with debugfs) when
 * e2fsprogs is installed; without it those tests are skipped, saying so. */
#include "harness.h"

#include "units.h"

#include "err.h"
#include "exitcode.h"
#include "ext4/ext4.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MIB ((uint64_t)1 << 20)

static const char *tmp;
static bool have_e2fsprogs;

/* Runs argv with stdout and stderr into log; true when it exits 0. */
static bool run(char *const argv[], const char *log)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, 1);
		dup2(fd, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static bool fsck_ok(const char *img)
{
	char log[600];
	char *argv[] = { "e2fsck", "-fn", (char *)img, NULL };
	bool ok;

	snprintf(log, sizeof(log), "%s.fsck", img);
	ok = run(argv, log);
	if (!ok) {
		char cmd[700];
		char *cat[] = { "cat", log, NULL };

		snprintf(cmd, sizeof(cmd), "%s.cat", img);
		run(cat, cmd);
		printf("  e2fsck -fn %s failed; see %s\n", img, log);
	}
	return ok;
}

/* debugfs -R CMD img into a malloc'd string. */
static char *debugfs(const char *img, const char *cmd)
{
	char log[600], *buf;
	char *argv[] = { "debugfs", "-R", (char *)cmd, (char *)img, NULL };
	FILE *f;
	long n;

	snprintf(log, sizeof(log), "%s.debugfs", img);
	run(argv, log);
	f = fopen(log, "r");
	if (!f)
		return strdup("");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		buf[0] = '\0';
	fclose(f);
	return buf;
}

/* Finishes and frees fs; checks the image when e2fsck is there. False
 * when there is nothing more to look at. */
static bool finish_and_check(struct ext4_fs *fs, const char *p)
{
	struct err e;
	uint64_t bytes;
	bool ok;

	err_init(&e);
	ok = ext4_finish(fs, &bytes, &e) == 0;
	CHECK(ok);
	if (!ok)
		printf("  %s\n", e.msg);
	ext4_free(fs);
	if (!ok || !have_e2fsprogs)
		return false;
	CHECK(fsck_ok(p));
	return true;
}

/* A new image NAME.ext4 in tmp made with opts o (label, seed, size). */
static struct ext4_fs *new_fs(const char *name, const struct ext4_opts *o, const char **path)
{
	static char p[600];
	struct err e;
	struct ext4_fs *fs;

	snprintf(p, sizeof(p), "%s/%s.ext4", tmp, name);
	*path = p;
	err_init(&e);
	fs = ext4_new(p, o, &e);
	CHECK(fs != NULL);
	return fs;
}

/* True when debugfs -R cmd on img prints every one of the strings. */
static bool shows(const char *img, const char *cmd, ...)
{
	char *out = debugfs(img, cmd);
	const char *want;
	bool ok = true;
	va_list ap;

	va_start(ap, cmd);
	while ((want = va_arg(ap, const char *)))
		if (!strstr(out, want)) {
			printf("  debugfs -R '%s': no \"%s\"\n", cmd, want);
			ok = false;
		}
	va_end(ap);
	free(out);
	return ok;
}

static const char *img_path(const char *name)
{
	static char p[600];

	snprintf(p, sizeof(p), "%s/%s.ext4", tmp, name);
	return p;
}

static struct ext4_attr file_attr(uint32_t mode, uint64_t size)
{
	struct ext4_attr a = { .mode = mode,
			       .size = size,
			       .uid = 1000,
			       .gid = 1000,
			       .mtime = 1700000000,
			       .mtime_ns = 123456789,
			       .atime = 1700000000,
			       .ctime = 1700000000 };
	return a;
}

static void crc_and_hash_match_the_kernel(void)
{
	static const uint32_t zero[4];
	uint32_t h, m;

	/* the standard CRC-32C check value, with ext4's missing inversion */
	CHECK((ext4_crc32c(~0u, "123456789", 9) ^ ~0u) == 0xE3069283u);
	/* half MD4, no seed: e2fsprogs' "debugfs -R 'dx_hash -h half_md4 NAME'" */
	ext4_dirhash("lost+found", 10, zero, &h, &m);
	if (have_e2fsprogs) {
		char *out = debugfs("/dev/null", "dx_hash -h half_md4 lost+found"), want[64];

		snprintf(want, sizeof(want), "0x%08x", h);
		CHECK(strstr(out, want) != NULL);
		free(out);
	}
}

static void an_empty_image_passes_fsck(void)
{
	struct err e;
	const char *p = img_path("empty");

	err_init(&e);
	CHECK(ext4_make_empty(p, 64 * MIB, "data", &e) == 0);
	CHECK(ext4_is_ext4(p));
	if (have_e2fsprogs)
		CHECK(fsck_ok(p));
	err_init(&e);
	CHECK(ext4_make_empty(p, 64 * MIB, "data", &e) == -1); /* never overwrites */
}

/* Every kind of inode, xattr shape and link. */
static void every_kind_of_inode(void)
{
	struct ext4_opts o = { .label = "kinds", .seed = "sha256:abc" };
	const char *p;
	struct err e;
	struct ext4_fs *fs;
	struct ext4_attr a;
	uint32_t dir, f, ino;
	char big[300], val[3000];

	err_init(&e);
	fs = new_fs("kinds", &o, &p);
	if (!fs)
		return;
	a = file_attr(S_IFDIR | 0755, 0);
	CHECK(ext4_create(fs, EXT4_ROOT_INO, "etc", 3, &a, &dir, &e) == 0);
	a = file_attr(S_IFREG | 04755, 5);
	CHECK(ext4_create(fs, dir, "ping", 4, &a, &f, &e) == 0);
	CHECK(ext4_write(fs, f, 0, "hello", 5, &e) == 0);
	/* security.capability as Debian's ping has it (cap_net_raw+ep, v2) */
	CHECK(ext4_xattr_set(fs, f, "security.capability",
			     "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
			     "\x00\x00\x00\x00",
			     20, &e) == 0);
	CHECK(ext4_link(fs, EXT4_ROOT_INO, "ping-link", 9, f, &e) == 0);
	a = file_attr(S_IFLNK | 0777, 0);
	a.symlink = "ping";
	CHECK(ext4_create(fs, dir, "fast", 4, &a, &ino, &e) == 0);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	a.symlink = big;
	CHECK(ext4_create(fs, dir, "slow", 4, &a, &ino, &e) == 0);
	a = file_attr(S_IFCHR | 0600, 0);
	a.major = 1;
	a.minor = 3;
	CHECK(ext4_create(fs, dir, "null", 4, &a, &ino, &e) == 0);
	a.mode = S_IFBLK | 0600;
	a.major = 259;
	a.minor = 70000;
	CHECK(ext4_create(fs, dir, "bigdev", 6, &a, &ino, &e) == 0);
	a = file_attr(S_IFIFO | 0644, 0);
	CHECK(ext4_create(fs, dir, "fifo", 4, &a, &ino, &e) == 0);
	a = file_attr(S_IFSOCK | 0755, 0);
	CHECK(ext4_create(fs, dir, "sock", 4, &a, &ino, &e) == 0);
	/* xattrs: inline small, one too big for the inode (to a block), ACLs */
	a = file_attr(S_IFREG | 0644, 0);
	CHECK(ext4_create(fs, dir, "xattrs", 6, &a, &ino, &e) == 0);
	memset(val, 'v', sizeof(val));
	CHECK(ext4_xattr_set(fs, ino, "user.small", "1", 1, &e) == 0);
	CHECK(ext4_xattr_set(fs, ino, "user.empty", "", 0, &e) == 0);
	CHECK(ext4_xattr_set(fs, ino, "trusted.big", val, sizeof(val), &e) == 0);
	CHECK(ext4_xattr_set(fs, ino, "user.small", "22", 2, &e) == 0); /* replaces */
	CHECK(ext4_xattr_set(fs, ino, "system.posix_acl_access",
			     "\x02\x00\x00\x00"
			     "\x01\x00\x06\x00\xff\xff\xff\xff"
			     "\x02\x00\x04\x00\xe8\x03\x00\x00"
			     "\x04\x00\x04\x00\xff\xff\xff\xff"
			     "\x10\x00\x04\x00\xff\xff\xff\xff"
			     "\x20\x00\x04\x00\xff\xff\xff\xff",
			     44, &e) == 0);
	CHECK(ext4_xattr_set(fs, ino, "bogus.ns", "1", 1, &e) == -1 && e.code == EXIT_VERIFY);
	err_init(&e);
	/* names are checked */
	CHECK(ext4_create(fs, dir, "a/b", 3, &a, &ino, &e) == -1);
	CHECK(ext4_create(fs, dir, "..", 2, &a, &ino, &e) == -1);
	CHECK(ext4_create(fs, dir, "ping", 4, &a, &ino, &e) == -1);
	err_init(&e);
	if (!finish_and_check(fs, p))
		return;
	{
		CHECK(shows(p, "stat /etc/ping", "Links: 2", "security.capability", "Mode:  04755",
			    "User:  1000", "mtime: 0x6553f100:1d6f3454", NULL));
		CHECK(shows(p, "cat /ping-link", "hello", NULL));
		CHECK(shows(p, "stat /etc/slow", "Type: symlink", "EXTENTS", NULL));
		CHECK(shows(p, "stat /etc/bigdev", "Device major/minor number: 259:70000", NULL));
		CHECK(shows(p, "ea_list /etc/xattrs", "user.small (2) = \"22\"",
			    "trusted.big (3000)", "system.posix_acl_access", "user.empty (0)",
			    NULL));
	}
}

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(rng_state >> 33) % n;
}

/* Large and odd shapes: a 20,000-entry directory (htree), a 5 GiB sparse
 * file, a file with more extents than fit in the inode (a deeper tree),
 * removals whose space is reused. */
static void large_shapes(void)
{
	struct ext4_opts o = { .seed = "large" };
	const char *p;
	struct err e;
	struct ext4_fs *fs;
	struct ext4_attr a;
	uint32_t dir, f, frag, ino;
	char name[64], blk[4096];

	err_init(&e);
	fs = new_fs("large", &o, &p);
	if (!fs)
		return;
	a = file_attr(S_IFDIR | 0755, 0);
	CHECK(ext4_create(fs, EXT4_ROOT_INO, "many", 4, &a, &dir, &e) == 0);
	a = file_attr(S_IFREG | 0644, 0);
	for (int i = 0; i < 20000; i++) {
		snprintf(name, sizeof(name), "entry-%05d-with-a-longer-name", i);
		CHECK(ext4_create(fs, dir, name, strlen(name), &a, &ino, &e) == 0);
	}
	CHECK(ext4_lookup(fs, dir, "entry-12345-with-a-longer-name", 30, &ino) == 1);
	a = file_attr(S_IFREG | 0644, 5ULL << 30);
	CHECK(ext4_create(fs, EXT4_ROOT_INO, "sparse", 6, &a, &f, &e) == 0);
	CHECK(ext4_write(fs, f, (5ULL << 30) - 5, "tail\n", 5, &e) == 0);
	/* every other block of a 4 MiB file written: 512 extents > 4 in the inode */
	a = file_attr(S_IFREG | 0644, 4 * MIB);
	CHECK(ext4_create(fs, EXT4_ROOT_INO, "fragmented", 10, &a, &frag, &e) == 0);
	memset(blk, 'f', sizeof(blk));
	for (uint64_t off = 0; off < 4 * MIB; off += 8192) {
		CHECK(ext4_write(fs, frag, off, blk, sizeof(blk), &e) == 0);
		/* something else between, so the runs cannot merge */
		snprintf(name, sizeof(name), "pad-%llu", (unsigned long long)off);
		a = file_attr(S_IFREG | 0644, 10);
		CHECK(ext4_create(fs, EXT4_ROOT_INO, name, strlen(name), &a, &ino, &e) == 0);
		CHECK(ext4_write(fs, ino, 0, "0123456789", 10, &e) == 0);
	}
	/* a write into a hole already passed is refused */
	CHECK(ext4_write(fs, frag, 4096, blk, 10, &e) == -1);
	err_init(&e);
	if (!finish_and_check(fs, p))
		return;
	{
		CHECK(shows(p, "htree /many", "Indirect levels: 0", NULL));
		CHECK(shows(p, "stat /fragmented", "Size: 4194304", NULL));
		CHECK(shows(p, "ex /fragmented", "Level Entries", " 1/ 1 ", NULL));
		CHECK(shows(p, "stat /sparse", "Size: 5368709120", "Blockcount: 8", NULL));
	}
}

/* A directory past 507 leaf blocks needs a second htree level. */
static void two_level_htree(void)
{
	struct ext4_opts o = { .seed = "deep" };
	const char *p;
	struct err e;
	struct ext4_fs *fs;
	struct ext4_attr a = file_attr(S_IFREG | 0644, 0);
	uint32_t ino;
	char name[300];

	err_init(&e);
	fs = new_fs("deep", &o, &p);
	if (!fs)
		return;
	memset(name, 'n', sizeof(name));
	for (int i = 0; i < 12000; i++) {
		int n = snprintf(name, sizeof(name), "%06d", i);

		name[n] = 'n';
		CHECK(ext4_create(fs, EXT4_ROOT_INO, name, 200, &a, &ino, &e) == 0);
	}
	if (!finish_and_check(fs, p))
		return;
	{
		CHECK(shows(p, "htree /", "Indirect levels: 1", NULL));
	}
}

/* Seeded random trees: creations, writes, links, removals and xattrs in
 * random order; each image must pass e2fsck and be byte-identical when
 * made again from the same seed. */
static void build_random(const char *p, uint64_t seed, struct err *e)
{
	struct ext4_opts o = { .seed = "random" };
	struct ext4_fs *fs = ext4_new(p, &o, e);
	uint32_t dirs[64] = { EXT4_ROOT_INO }, ndirs = 1, files[512], nfiles = 0;
	static char data[256 * 1024];
	uint64_t bytes;

	rng_state = seed;
	if (!fs)
		return;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)rnd(256);
	for (int op = 0; op < 600; op++) {
		uint32_t d = dirs[rnd(ndirs)], ino, k = rnd(10);
		char name[40];
		struct ext4_attr a;

		snprintf(name, sizeof(name), "n%u", rnd(200));
		if (k < 2 && ndirs < 64) {
			a = file_attr(S_IFDIR | 0755, 0);
			if (ext4_create(fs, d, name, strlen(name), &a, &ino, e) == 0)
				dirs[ndirs++] = ino;
		} else if (k < 6 && nfiles < 512) {
			uint64_t size = rnd(3) ? rnd(20000) : rnd(sizeof(data));

			a = file_attr(S_IFREG | 0644, size);
			if (ext4_create(fs, d, name, strlen(name), &a, &ino, e) == 0) {
				uint64_t off = rnd(2) ? 0 : size / 2;

				files[nfiles++] = ino;
				ext4_write(fs, ino, off, data, size - off, e);
				if (rnd(4) == 0)
					ext4_xattr_set(fs, ino, "user.r", data, rnd(2000), e);
			}
		} else if (k < 7 && nfiles) {
			ext4_link(fs, d, name, strlen(name), files[rnd(nfiles)], e);
		} else if (k < 8) {
			a = file_attr(S_IFLNK | 0777, 0);
			a.symlink = rnd(2) ? "short" : data + 1000 + rnd(100) * 0;
			if (a.symlink != (const char *)"short") {
				static char t[200];

				memset(t, 'a' + (char)rnd(26), sizeof(t) - 1);
				a.symlink = t;
			}
			ext4_create(fs, d, name, strlen(name), &a, &ino, e);
		} else {
			/* removals: the inode may be a file, a link or a directory */
			if (ext4_lookup(fs, d, name, strlen(name), &ino) && ino != d) {
				bool isdir = false;

				for (uint32_t i = 0; i < ndirs; i++)
					isdir |= dirs[i] == ino;
				if (!isdir)
					ext4_remove(fs, d, name, strlen(name), e);
			}
		}
		err_init(e);
	}
	ext4_finish(fs, &bytes, e);
	ext4_free(fs);
}

static bool same_file(const char *a, const char *b)
{
	FILE *x = fopen(a, "rb"), *y = fopen(b, "rb");
	bool same = x && y;
	int c, d;

	while (same && (c = fgetc(x)) != EOF) {
		d = fgetc(y);
		same = c == d;
	}
	if (same && fgetc(y) != EOF)
		same = false;
	if (x)
		fclose(x);
	if (y)
		fclose(y);
	return same;
}

static void random_trees_pass_fsck_and_repeat(void)
{
	for (uint64_t seed = 1; seed <= 12; seed++) {
		char a[600], b[600];
		struct err e;

		snprintf(a, sizeof(a), "%s/random-%llu.ext4", tmp, (unsigned long long)seed);
		snprintf(b, sizeof(b), "%s/random-%llu-again.ext4", tmp, (unsigned long long)seed);
		err_init(&e);
		build_random(a, seed, &e);
		CHECK(e.code == 0);
		if (e.code)
			printf("  seed %llu: %s\n", (unsigned long long)seed, e.msg);
		build_random(b, seed, &e);
		CHECK(same_file(a, b));
		if (have_e2fsprogs)
			CHECK(fsck_ok(a));
		unlink(a);
		unlink(b);
	}
}

static void sizes_parse(void)
{
	uint64_t v;
	struct err e;

	err_init(&e);
	CHECK(parse_size("512M", &v, &e) == 0 && v == 512 * MIB);
	CHECK(parse_size("2G", &v, &e) == 0 && v == 2048 * MIB);
	CHECK(parse_size("1GiB", &v, &e) == 0 && v == 1024 * MIB);
	CHECK(parse_size("4096", &v, &e) == 0 && v == 4096);
	CHECK(parse_size("10k", &v, &e) == 0 && v == 10240);
	CHECK(parse_size("", &v, &e) == -1 && e.code == EXIT_USAGE);
	CHECK(parse_size("0", &v, &e) == -1);
	CHECK(parse_size("12X", &v, &e) == -1);
	CHECK(parse_size("1Gx", &v, &e) == -1);
	CHECK(parse_size("99999999999T", &v, &e) == -1);
}

static void plans_grow_with_content(void)
{
	struct ext4_usage small = { .blocks = 1000, .inodes = 100 };
	struct ext4_usage debian = { .blocks = 45000, .inodes = 6700 };
	struct ext4_plan p, q;
	struct err e;

	err_init(&e);
	CHECK(ext4_plan(&small, 0, &p, &e) == 0);
	CHECK(p.bytes % MIB == 0 && p.bytes >= 64 * MIB);
	CHECK(ext4_plan(&debian, 0, &q, &e) == 0);
	CHECK(q.bytes > p.bytes && q.inodes > 6700);
	CHECK(ext4_plan(&debian, 100 * MIB, &q, &e) == -1 && e.code == EXIT_USAGE);
	err_init(&e);
	CHECK(ext4_plan(&debian, 8192 * MIB, &q, &e) == 0);
	CHECK(q.bytes == 8192 * MIB && q.inodes == 8192 * MIB / 16384);
}

/* A fixed size too small for what is written is a usage error. */
static void a_small_size_is_a_clean_error(void)
{
	struct ext4_opts o = { .size = 8 * MIB, .seed = "small" };
	const char *p;
	struct err e;
	struct ext4_fs *fs;
	struct ext4_attr a = file_attr(S_IFREG | 0644, 16 * MIB);
	static char buf[1 << 20];
	uint32_t ino;
	int rc = 0;

	err_init(&e);
	fs = new_fs("small", &o, &p);
	if (!fs)
		return;
	CHECK(ext4_create(fs, EXT4_ROOT_INO, "big", 3, &a, &ino, &e) == 0);
	for (uint64_t off = 0; off < 16 * MIB && rc == 0; off += sizeof(buf))
		rc = ext4_write(fs, ino, off, buf, sizeof(buf), &e);
	CHECK(rc == -1 && e.code == EXIT_USAGE && strstr(e.msg, "--size"));
	ext4_free(fs);
	CHECK(access(p, F_OK) != 0); /* an unfinished image is removed */
}

/* A host tree (what mke2fs -d was given) read into the writer: every
 * kind, a hole, a hard link, xattrs; nothing followed. */
static void a_host_tree_goes_in_as_it_is(void)
{
	struct ext4_opts o = { .seed = "tree" };
	char d[600], f[700];
	const char *p;
	struct ext4_fs *fs;
	struct err e;
	int fd;

	snprintf(d, sizeof(d), "%s/tree", tmp);
	mkdir(d, 0755);
	snprintf(f, sizeof(f), "%s/sub", d);
	mkdir(f, 0750);
	snprintf(f, sizeof(f), "%s/sub/file", d);
	fd = open(f, O_CREAT | O_WRONLY, 04755);
	CHECK(fd >= 0 && pwrite(fd, "end", 3, 3 * MIB) == 3);
	fchmod(fd, 04755);
	fsetxattr(fd, "user.tree", "yes", 3, 0);
	close(fd);
	{
		char l[700];

		snprintf(l, sizeof(l), "%s/tree/hard", tmp);
		CHECK(link(f, l) == 0);
		snprintf(l, sizeof(l), "%s/tree/up", tmp);
		CHECK(symlink("/etc/passwd", l) == 0);
		snprintf(l, sizeof(l), "%s/tree/fifo", tmp);
		CHECK(mkfifo(l, 0640) == 0);
	}
	err_init(&e);
	if (!(fs = new_fs("tree", &o, &p)))
		return;
	CHECK(ext4_add_tree(fs, d, &e) == 0);
	if (e.code)
		printf("  %s\n", e.msg);
	if (!finish_and_check(fs, p))
		return;
	CHECK(shows(p, "stat /sub/file", "Mode:  04755", "Links: 2", "Size: 3145731",
		    "Blockcount: 8\n", "user.tree (3)", NULL));
	CHECK(shows(p, "stat /up", "Fast link dest: \"/etc/passwd\"", NULL));
	CHECK(shows(p, "stat /fifo", "Type: FIFO", "Mode:  0640", NULL));
	CHECK(shows(p, "stat /hard", "Links: 2", "Size: 3145731", NULL));
}

/* Refusals name the entry and change nothing. The root's lost+found may
 * be the tree's own directory, but nothing else: e2fsck -fn lets a file
 * there pass, -fp (what a boot runs) stops with "UNEXPECTED
 * INCONSISTENCY". Times past what ext4 holds are clamped, as the kernel
 * clamps them. */
static void refusals_and_limits(void)
{
	struct ext4_opts o = { .seed = "refuse" };
	const char *p;
	struct err e;
	struct ext4_fs *fs;
	struct ext4_attr a = file_attr(S_IFREG | 0644, 0);
	uint32_t f, d, ino;
	char tree[600], path[700];
	int fd;

	err_init(&e);
	if (!(fs = new_fs("refuse", &o, &p)))
		return;
	CHECK(ext4_create(fs, EXT4_ROOT_INO, "f", 1, &a, &f, &e) == 0);
	CHECK(ext4_create(fs, f, "x", 1, &a, &ino, &e) == -1 && e.code == EXIT_VERIFY &&
	      strstr(e.msg, "'x': its parent is not a directory"));
	CHECK(ext4_link(fs, f, "x", 1, f, &e) == -1 && strstr(e.msg, "not a directory"));
	a.size = EXT4_MAX_FILE + 1;
	CHECK(ext4_create(fs, EXT4_ROOT_INO, "huge", 4, &a, &ino, &e) == -1);
	a.size = EXT4_MAX_FILE;
	err_init(&e);
	CHECK(ext4_create(fs, EXT4_ROOT_INO, "huge", 4, &a, &ino, &e) == 0);
	CHECK(ext4_write(fs, ino, EXT4_MAX_FILE - 4, "end\n", 4, &e) == 0);
	a = file_attr(S_IFBLK | 0600, 0);
	a.major = 4096;
	CHECK(ext4_create(fs, EXT4_ROOT_INO, "dev", 3, &a, &ino, &e) == -1 &&
	      strstr(e.msg, "4096:0"));
	a.major = 4095;
	a.minor = 0x100000;
	CHECK(ext4_create(fs, EXT4_ROOT_INO, "dev", 3, &a, &ino, &e) == -1);
	a.minor = 0xfffff;
	err_init(&e);
	CHECK(ext4_create(fs, EXT4_ROOT_INO, "dev", 3, &a, &ino, &e) == 0);
	/* lost+found: refused whether the writer's is still there or not */
	a = file_attr(S_IFREG | 0644, 0);
	a.mtime = (int64_t)1 << 40;
	a.atime = -((int64_t)1 << 40);
	CHECK(ext4_create(fs, EXT4_ROOT_INO, "lost+found", 10, &a, &ino, &e) == -1 &&
	      e.code == EXIT_VERIFY && strstr(e.msg, "'lost+found'"));
	err_init(&e);
	CHECK(ext4_remove(fs, EXT4_ROOT_INO, "lost+found", 10, &e) == 0);
	CHECK(ext4_create(fs, EXT4_ROOT_INO, "lost+found", 10, &a, &ino, &e) == -1);
	CHECK(ext4_link(fs, EXT4_ROOT_INO, "lost+found", 10, f, &e) == -1);
	a = file_attr(S_IFLNK | 0777, 0);
	a.symlink = "elsewhere";
	CHECK(ext4_create(fs, EXT4_ROOT_INO, "lost+found", 10, &a, &ino, &e) == -1);
	err_init(&e);
	a = file_attr(S_IFDIR | 0755, 0);
	CHECK(ext4_create(fs, EXT4_ROOT_INO, "lost+found", 10, &a, &d, &e) == 0);
	a = file_attr(S_IFREG | 0644, 0);
	a.mtime = (int64_t)1 << 40;
	a.atime = -((int64_t)1 << 40);
	CHECK(ext4_create(fs, d, "inside", 6, &a, &ino, &e) == 0);
	CHECK(ext4_link(fs, d, "lost+found", 10, f, &e) == 0); /* only the root's is kept */
	if (!finish_and_check(fs, p))
		return;
	{
		char log[600];
		char *argv[] = { "e2fsck", "-fp", (char *)p, NULL };

		snprintf(log, sizeof(log), "%s.preen", p);
		CHECK(run(argv, log));
	}
	CHECK(shows(p, "stat /lost+found", "Type: directory", "Mode:  0755", NULL));
	CHECK(shows(p, "stat /lost+found/inside", "mtime: 0x7fffffff:00000003",
		    "atime: 0x80000000:00000000", NULL));
	CHECK(shows(p, "stat /dev", "Device major/minor number: 4095:1048575", NULL));
	CHECK(shows(p, "stat /huge", "Size: 17592186040320", NULL));
	/* a host tree with a file named lost+found is refused the same way */
	snprintf(tree, sizeof(tree), "%s/lpf-tree", tmp);
	mkdir(tree, 0755);
	snprintf(path, sizeof(path), "%s/lost+found", tree);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	CHECK(fd >= 0);
	close(fd);
	err_init(&e);
	if (!(fs = new_fs("lpf-tree", &o, &p)))
		return;
	CHECK(ext4_add_tree(fs, tree, &e) == -1 && strstr(e.msg, "lost+found"));
	ext4_free(fs);
	CHECK(access(p, F_OK) != 0);
}

int main(void)
{
	char *argv[] = { "e2fsck", "-V", NULL };
	char log[600];

	HARNESS_BEGIN("ext4");
	tmp = harness_tmpdir();
	snprintf(log, sizeof(log), "%s/version", tmp);
	have_e2fsprogs = run(argv, log);
	if (!have_e2fsprogs)
		printf("SKIP: unit/ext4: e2fsck checks (e2fsprogs not installed)\n");
	RUN(crc_and_hash_match_the_kernel);
	RUN(an_empty_image_passes_fsck);
	RUN(every_kind_of_inode);
	RUN(large_shapes);
	RUN(two_level_htree);
	RUN(random_trees_pass_fsck_and_repeat);
	RUN(sizes_parse);
	RUN(plans_grow_with_content);
	RUN(a_small_size_is_a_clean_error);
	RUN(a_host_tree_goes_in_as_it_is);
	RUN(refusals_and_limits);
	HARNESS_END();
}
