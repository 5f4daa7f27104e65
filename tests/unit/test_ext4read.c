/* Unit tests: lib/ext4/read.c — the ext4 reader. One host tree (every
 * kind of inode, owners, modes, nanosecond times, xattrs in the inode and
 * in a block, ACLs, hard links, holes, a fragmented file, a 3000-entry
 * directory, long names, deep nesting) is written by banger's writer and
 * by mke2fs -d in many configurations (1 KiB to 64 KiB blocks, 128-byte
 * inodes, ext2/ext3 block maps, meta_bg, bigalloc, no filetype…) and read
 * back: every entry must match what the host says about the tree. A
 * journal that needs recovery (written with debugfs' journal writer) reads
 * as e2fsck's replay leaves it. Broken images are refused with a message:
 * truncated, unknown features, loops, extents outside, and random
 * corruption. Without e2fsprogs the mke2fs and debugfs parts are skipped. */
#include "harness.h"

#include "digest.h"
#include "err.h"
#include "exitcode.h"
#include "ext4/ext4.h"
#include "ext4/read.h"
#include "proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define MIB ((uint64_t)1 << 20)

static const char *tmp;
static char tree[600];
static bool have_e2fsprogs;

/* sh -c cmd (formatted), through lib/proc; true when it exits 0. */
static bool sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool sh(const char *fmt, ...)
{
	char cmd[2048], errs[300] = "";
	struct proc_io io = { .err = errs, .err_size = sizeof(errs), .search_path = true };
	const char *argv[] = { "sh", "-c", cmd, NULL };
	struct err e;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	err_init(&e);
	rc = proc_run(argv, &io, &e);
	if (rc != 0)
		printf("  failed: %s (%s)\n", cmd, rc < 0 ? e.msg : errs);
	return rc == 0;
}

/* --- a text dump of a tree, one line an entry, from either side --- */

struct dump {
	char *buf;
	size_t len, cap;
	bool ns, dir_times;
	uint64_t data_bytes; /* bytes the reader gave (not holes) */
};

static void addf(struct dump *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(struct dump *d, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(d->buf + d->len, d->cap - d->len, fmt, ap);
		va_end(ap);
		if ((size_t)n < d->cap - d->len)
			break;
		d->cap = d->cap ? d->cap * 2 + (size_t)n : 65536;
		d->buf = realloc(d->buf, d->cap);
		if (!d->buf)
			abort();
	}
	d->len += (size_t)n;
}

struct xa {
	char names[64][300];
	char vals[64][96];
	int n;
};

static int xa_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void xa_add(struct xa *x, const char *name, const void *val, size_t len)
{
	struct sha256 h;
	char hex[DIGEST_HEX_LEN + 1];

	if (x->n == 64)
		return;
	sha256_init(&h);
	sha256_update(&h, val, len);
	sha256_hex(&h, hex);
	snprintf(x->names[x->n], sizeof(x->names[0]), "%s=%zu:%.16s", name, len, hex);
	x->n++;
}

static void xa_out(struct dump *d, struct xa *x)
{
	qsort(x->names, (size_t)x->n, sizeof(x->names[0]), xa_cmp);
	addf(d, " x{");
	for (int i = 0; i < x->n; i++)
		addf(d, "%s%s", i ? "," : "", x->names[i]);
	addf(d, "}");
}

static void head(struct dump *d, const char *path, uint32_t mode, uint32_t uid, uint32_t gid,
		 uint32_t links, int64_t mt, uint32_t mt_ns)
{
	addf(d, "%s %06o %u:%u", path, mode, uid, gid);
	if (!S_ISDIR(mode))
		addf(d, " n=%u", links);
	if (!d->ns)
		mt = (int32_t)mt; /* mke2fs -d keeps 32-bit seconds */
	if (!S_ISDIR(mode) || d->dir_times)
		addf(d, " t=%lld", (long long)mt);
	if (d->ns && (!S_ISDIR(mode) || d->dir_times))
		addf(d, ".%09u", mt_ns);
}

/* The image side, through the walk. */
struct hashing {
	struct sha256 h;
	uint64_t pos, given;
	bool ok;
};

static void zeros(struct sha256 *h, uint64_t n)
{
	static const char z[65536];

	while (n) {
		size_t k = n < sizeof(z) ? (size_t)n : sizeof(z);

		sha256_update(h, z, k);
		n -= k;
	}
}

static int hash_piece(uint64_t off, const void *data, size_t len, void *ud, struct err *e)
{
	struct hashing *hs = ud;

	if (off < hs->pos || len > EXT4_READ_CHUNK || !len)
		hs->ok = false;
	zeros(&hs->h, off - hs->pos);
	sha256_update(&hs->h, data, len);
	hs->pos = off + len;
	hs->given += len;
	return 0;
}

static int first_byte(uint64_t off, const void *data, size_t len, void *ud, struct err *e)
{
	struct hashing *hs = ud;

	if (!off && len)
		hs->given = *(const uint8_t *)data;
	return 0;
}

static int xa_piece(const char *name, const void *val, size_t len, void *ud, struct err *e)
{
	xa_add(ud, name, val, len);
	return 0;
}

static int dump_entry(struct ext4_img *img, const struct ext4_entry *en, void *ud, struct err *e)
{
	struct dump *d = ud;
	struct xa x = { .n = 0 };
	const struct ext4_inode *in = &en->in;

	if (!strcmp(en->path, "/"))
		return 0;
	if (!strcmp(en->path, "/lost+found"))
		return EXT4_WALK_SKIP;
	head(d, en->path, in->mode, in->uid, in->gid, in->links, in->mtime, in->mtime_ns);
	if (S_ISREG(in->mode)) {
		struct hashing hs = { .ok = true };
		char hex[DIGEST_HEX_LEN + 1];

		sha256_init(&hs.h);
		if (ext4_img_data(img, in, hash_piece, &hs, e) < 0)
			return -1;
		if (!hs.ok || hs.pos > in->size)
			return err_set(e, EXIT_VERIFY, "%s: data out of order", en->path);
		zeros(&hs.h, in->size - hs.pos);
		sha256_hex(&hs.h, hex);
		addf(d, " s=%llu d=%.16s", (unsigned long long)in->size, hex);
		d->data_bytes += hs.given;
	}
	if (S_ISLNK(in->mode))
		addf(d, " -> %s", en->target);
	if (S_ISCHR(in->mode) || S_ISBLK(in->mode))
		addf(d, " %u:%u", in->major, in->minor);
	if (ext4_img_xattrs(img, in, xa_piece, &x, e) < 0)
		return -1;
	xa_out(d, &x);
	addf(d, "\n");
	return 0;
}

/* Dumps the image at path; NULL (with the message printed) on failure. */
static char *dump_image(const char *path, bool ns, bool dir_times, uint64_t *data_bytes)
{
	struct dump d = { .ns = ns, .dir_times = dir_times };
	struct err e;
	struct ext4_img *img;

	err_init(&e);
	addf(&d, "%s", "");
	img = ext4_img_open(path, &e);
	if (!img || ext4_img_walk(img, "/", dump_entry, &d, &e) < 0) {
		printf("  %s\n", e.msg);
		ext4_img_close(img);
		free(d.buf);
		return NULL;
	}
	ext4_img_close(img);
	if (data_bytes)
		*data_bytes = d.data_bytes;
	return d.buf;
}

/* The host side. */
static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int not_dots(const struct dirent *de)
{
	return strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
}

static void dump_host_at(struct dump *d, const char *dir, const char *rel)
{
	struct dirent **v;
	int n = scandir(dir, &v, not_dots, name_cmp);

	for (int i = 0; i < n; i++) {
		char p[4200], r[4200], names[4096], val[65536], target[4096];
		struct stat st;
		struct xa x = { .n = 0 };
		ssize_t nl;

		snprintf(p, sizeof(p), "%s/%s", dir, v[i]->d_name);
		snprintf(r, sizeof(r), "%s/%s", rel, v[i]->d_name);
		if (lstat(p, &st) < 0)
			abort();
		head(d, r, st.st_mode, st.st_uid, st.st_gid, (uint32_t)st.st_nlink,
		     st.st_mtim.tv_sec, (uint32_t)st.st_mtim.tv_nsec);
		if (S_ISREG(st.st_mode)) {
			struct sha256 h;
			char hex[DIGEST_HEX_LEN + 1], buf[65536];
			int fd = open(p, O_RDONLY);
			ssize_t k;

			sha256_init(&h);
			while ((k = read(fd, buf, sizeof(buf))) > 0)
				sha256_update(&h, buf, (size_t)k);
			close(fd);
			sha256_hex(&h, hex);
			addf(d, " s=%llu d=%.16s", (unsigned long long)st.st_size, hex);
		}
		if (S_ISLNK(st.st_mode)) {
			ssize_t k = readlink(p, target, sizeof(target) - 1);

			target[k > 0 ? k : 0] = '\0';
			addf(d, " -> %s", target);
		}
		if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
			addf(d, " %u:%u", major(st.st_rdev), minor(st.st_rdev));
		nl = llistxattr(p, names, sizeof(names));
		for (char *nm = names; nl > 0 && nm < names + nl; nm += strlen(nm) + 1) {
			ssize_t vl = lgetxattr(p, nm, val, sizeof(val));

			if (vl >= 0)
				xa_add(&x, nm, val, (size_t)vl);
		}
		xa_out(d, &x);
		addf(d, "\n");
		if (S_ISDIR(st.st_mode))
			dump_host_at(d, p, r);
		free(v[i]);
	}
	free(v);
}

static char *dump_host(const char *dir, bool ns, bool dir_times)
{
	struct dump d = { .ns = ns, .dir_times = dir_times };

	addf(&d, "%s", "");
	dump_host_at(&d, dir, "");
	return d.buf;
}

/* Prints the first line where a and b differ. */
static bool same_dump(const char *a, const char *b, const char *what)
{
	const char *x = a, *y = b;

	if (!strcmp(a, b))
		return true;
	while (*x && *y) {
		size_t lx = strcspn(x, "\n"), ly = strcspn(y, "\n");

		if (lx != ly || memcmp(x, y, lx)) {
			printf("  %s: host  %.*s\n  %s: image %.*s\n", what, (int)lx, x, what,
			       (int)ly, y);
			return false;
		}
		x += lx + (x[lx] ? 1 : 0);
		y += ly + (y[ly] ? 1 : 0);
	}
	printf("  %s: one dump ends early (host %zu, image %zu bytes)\n", what, strlen(a),
	       strlen(b));
	return false;
}

/* --- the host tree --- */

static void put(const char *rel, const void *data, size_t len, mode_t mode, uid_t uid, gid_t gid)
{
	char p[1400];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", tree, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len))
		abort();
	fchmod(fd, mode);
	fchown(fd, uid, gid);
	close(fd);
}

static void times_of(const char *rel, time_t sec, long ns)
{
	char p[1400];
	struct timespec ts[2] = { { sec, ns }, { sec, ns } };

	snprintf(p, sizeof(p), "%s/%s", tree, rel);
	utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW);
}

static void dir(const char *rel, mode_t mode, uid_t uid)
{
	char p[1400];

	snprintf(p, sizeof(p), "%s/%s", tree, rel);
	mkdir(p, mode);
	chmod(p, mode);
	chown(p, uid, uid);
}

static void xattr(const char *rel, const char *name, const void *v, size_t len)
{
	char p[1400];

	snprintf(p, sizeof(p), "%s/%s", tree, rel);
	if (lsetxattr(p, name, v, len, 0) < 0)
		printf("  setxattr %s %s failed\n", rel, name);
}

static void make_tree(void)
{
	static uint8_t big[1 << 20];
	char rel[700], name[300], lnk[1400], val[600];
	uint32_t x = 12345;
	int fd;

	snprintf(tree, sizeof(tree), "%s/tree", tmp);
	mkdir(tree, 0755);
	for (size_t i = 0; i < sizeof(big); i++) {
		x = x * 1103515245 + 12345;
		big[i] = (uint8_t)(x >> 16);
	}
	dir("etc", 0755, 0);
	put("etc/empty", "", 0, 0644, 0, 0);
	put("etc/one", "1", 1, 0600, 1000, 1000);
	put("etc/block", big, 4096, 04755, 0, 0);
	put("etc/big", big, sizeof(big), 0644, 65534, 65534);
	xattr("etc/block", "security.capability",
	      "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
	      20);
	/* hard links: three names, two directories */
	put("etc/linked", "linked\n", 7, 0644, 0, 0);
	dir("var", 01777, 0);
	snprintf(rel, sizeof(rel), "%s/etc/linked", tree);
	snprintf(lnk, sizeof(lnk), "%s/var/linked2", tree);
	link(rel, lnk);
	snprintf(lnk, sizeof(lnk), "%s/linked3", tree);
	link(rel, lnk);
	/* sparse: a hole first, data in the middle, a hole at the end */
	snprintf(rel, sizeof(rel), "%s/var/sparse", tree);
	fd = open(rel, O_WRONLY | O_CREAT, 0644);
	pwrite(fd, big, 8192, 3 * MIB);
	ftruncate(fd, 9 * MIB + 5);
	close(fd);
	/* fragmented: every other block, so hundreds of extents (a deeper tree) */
	snprintf(rel, sizeof(rel), "%s/var/frag", tree);
	fd = open(rel, O_WRONLY | O_CREAT, 0644);
	for (int b = 0; b < 1600; b += 2)
		pwrite(fd, big + b * 64, 4096, (off_t)b * 65536);
	close(fd);
	/* symlinks: fast, the longest fast, the shortest slow, long */
	dir("links", 0755, 0);
	memset(val, 'a', sizeof(val));
	for (size_t k = 0; k < 5; k++) {
		static const size_t lens[] = { 3, 59, 60, 100, 1000 };
		char target[1100], p[1400];

		memset(target, 't', lens[k]);
		target[lens[k]] = '\0';
		snprintf(p, sizeof(p), "%s/links/l%zu", tree, lens[k]);
		symlink(target, p);
		lchown(p, 1000, 1000);
	}
	/* devices and the rest */
	dir("dev", 0755, 0);
	snprintf(rel, sizeof(rel), "%s/dev/null", tree);
	mknod(rel, S_IFCHR | 0666, makedev(1, 3));
	snprintf(rel, sizeof(rel), "%s/dev/big", tree);
	mknod(rel, S_IFBLK | 0600, makedev(259, 70000));
	snprintf(rel, sizeof(rel), "%s/dev/fifo", tree);
	mkfifo(rel, 0640);
	snprintf(rel, sizeof(rel), "%s/dev/sock", tree);
	mknod(rel, S_IFSOCK | 0755, 0);
	/* xattrs: small in the inode, big in a block, empty, ACLs */
	put("etc/xattrs", "x", 1, 0644, 0, 0);
	xattr("etc/xattrs", "user.small", "22", 2);
	xattr("etc/xattrs", "user.empty", "", 0);
	xattr("etc/xattrs", "trusted.big", val, sizeof(val));
	/* user::rw- user:2000:r-x group::r-- group:3000:rw- mask::rwx other::--- */
	xattr("etc/xattrs", "system.posix_acl_access",
	      "\x02\x00\x00\x00\x01\x00\x06\x00\xff\xff\xff\xff\x02\x00\x05\x00\xd0\x07\x00\x00"
	      "\x04\x00\x04\x00\xff\xff\xff\xff\x08\x00\x06\x00\xb8\x0b\x00\x00"
	      "\x10\x00\x07\x00\xff\xff\xff\xff\x20\x00\x00\x00\xff\xff\xff\xff",
	      52);
	dir("etc/acl-dir", 0755, 0);
	xattr("etc/acl-dir", "system.posix_acl_default",
	      "\x02\x00\x00\x00"
	      "\x01\x00\x07\x00\xff\xff\xff\xff"
	      "\x04\x00\x05\x00\xff\xff\xff\xff"
	      "\x20\x00\x05\x00\xff\xff\xff\xff",
	      28);
	xattr("etc/one", "trusted.overlay.origin", "o", 1);
	/* a big directory (an htree), long names */
	dir("many", 0755, 0);
	for (int i = 0; i < 3000; i++) {
		snprintf(rel, sizeof(rel), "many/file-%05d-with-a-longer-name", i);
		put(rel, rel, 6, 0644, 0, 0);
	}
	memset(name, 'n', 255);
	name[255] = '\0';
	snprintf(rel, sizeof(rel), "many/%s", name);
	put(rel, "long", 4, 0644, 0, 0);
	put("many/\xc3\xa9t\xc3\xa9 \x01odd", "odd", 3, 0644, 0, 0);
	/* deep */
	snprintf(rel, sizeof(rel), "deep");
	for (int i = 0; i < 40; i++) {
		dir(rel, 0700, 0);
		strncat(rel, "/d", sizeof(rel) - strlen(rel) - 1);
	}
	put("deep/d/d/d/f", "deep", 4, 0644, 0, 0);
	/* times: nanoseconds, before 1970, after 2038; directories last */
	times_of("etc/one", 1700000000, 123456789);
	times_of("etc/empty", -86400 * 365, 5);
	times_of("etc/big", 4102444800LL, 999999999); /* 2100 */
	times_of("links/l3", 1600000000, 1);
	times_of("etc", 1500000000, 42);
	times_of("var", 1500000001, 0);
}

/* --- the tests --- */

static void writer_images_read_back(void)
{
	struct ext4_opts o = { .seed = "read", .label = "r" };
	char img[700];
	struct err e;
	struct ext4_fs *fs;
	uint64_t bytes, given = 0;
	char *host, *got;

	snprintf(img, sizeof(img), "%s/writer.ext4", tmp);
	err_init(&e);
	fs = ext4_new(img, &o, &e);
	CHECK(fs && ext4_add_tree(fs, tree, &e) == 0 && ext4_finish(fs, &bytes, &e) == 0);
	if (e.code)
		printf("  %s\n", e.msg);
	ext4_free(fs);
	host = dump_host(tree, true, true);
	got = dump_image(img, true, true, &given);
	CHECK(got && same_dump(host, got, "writer"));
	/* the sparse (9 MiB) and fragmented (100 MiB) files gave their data,
	 * not their holes */
	CHECK(given < 5 * MIB);
	free(host);
	free(got);
}

static void mke2fs_images_read_back(void)
{
	static const struct {
		const char *what, *opts;
		const char *size;
	} cf[] = {
		{ "ext4 defaults", "-t ext4", "96M" },
		{ "1 KiB blocks, 128-byte inodes", "-t ext4 -b 1024 -I 128", "96M" },
		{ "2 KiB, no journal, 32-bit, no csum",
		  "-t ext4 -b 2048 -O ^has_journal,^64bit,^metadata_csum", "96M" },
		{ "ext2: block maps", "-t ext2", "96M" },
		{ "ext2, 1 KiB blocks", "-t ext2 -b 1024", "96M" },
		{ "ext3: block maps and a journal", "-t ext3", "96M" },
		{ "meta_bg", "-t ext4 -O meta_bg,^resize_inode -g 1024 -b 1024", "96M" },
		{ "bigalloc", "-t ext4 -O bigalloc -C 16384", "96M" },
		{ "64 KiB blocks", "-t ext4 -b 65536", "512M" },
		{ "uninit_bg instead of metadata_csum", "-t ext4 -O ^metadata_csum,uninit_bg",
		  "96M" },
		{ "no flex_bg, no dir_index", "-t ext4 -O ^flex_bg,^dir_index", "96M" },
		{ "sparse_super2", "-t ext4 -O sparse_super2", "96M" },
		{ "no filetype", "-t ext2 -O ^filetype", "96M" },
		{ "256-byte inodes, ext2", "-t ext2 -I 256", "96M" },
	};
	char *host_s = dump_host(tree, false, false);

	if (!have_e2fsprogs)
		return;
	for (size_t i = 0; i < sizeof(cf) / sizeof(cf[0]); i++) {
		char img[700];
		char *got;

		snprintf(img, sizeof(img), "%s/mke2fs-%zu.ext4", tmp, i);
		if (!sh("mke2fs -q -F -E root_owner=0:0 %s -d '%s' '%s' %s", cf[i].opts, tree, img,
			cf[i].size)) {
			CHECK(0);
			continue;
		}
		got = dump_image(img, false, false, NULL);
		CHECK(got != NULL);
		if (got && !same_dump(host_s, got, cf[i].what))
			CHECK(0);
		free(got);
		unlink(img);
	}
	free(host_s);
}

/* A transaction logged but not replayed (the VM was killed): the reader
 * replays it in memory; e2fsck's real replay gives the same tree. A
 * revoked copy and a transaction without commit are not replayed. */
static void journals_are_replayed_in_memory(void)
{
	char img[700], copy[700], blk[700];
	char *a, *b;
	struct err e;
	struct ext4_img *im;

	if (!have_e2fsprogs)
		return;
	snprintf(img, sizeof(img), "%s/journal.ext4", tmp);
	snprintf(copy, sizeof(copy), "%s/journal-replayed.ext4", tmp);
	snprintf(blk, sizeof(blk), "%s/block", tmp);
	CHECK(sh("mke2fs -q -F -t ext4 -b 4096 -d '%s' '%s' 96M", tree, img));
	/* the first data block of /etc/one and of /etc/big rewritten in the
	 * journal; then /etc/big's copy revoked by a later transaction */
	CHECK(sh("head -c 4096 /dev/zero | tr '\\0' 'J' >'%s' && "
		 "b1=$(debugfs -R 'bmap /etc/one 0' '%s' 2>/dev/null) && "
		 "b2=$(debugfs -R 'bmap /etc/big 0' '%s' 2>/dev/null) && "
		 "printf 'jo\\njw -b %%s %%s\\njw -b %%s %%s\\njc\\njo\\njw -r %%s\\njc\\n' "
		 "$b1 '%s' $b2 '%s' $b2 | debugfs -w -f - '%s' >/dev/null 2>&1 && "
		 "dumpe2fs -h '%s' 2>/dev/null | grep -q needs_recovery",
		 blk, img, img, blk, blk, img, img));
	CHECK(sh("cp '%s' '%s' && e2fsck -fy '%s' >/dev/null 2>&1; "
		 "dumpe2fs -h '%s' 2>/dev/null | grep -vq needs_recovery",
		 img, copy, copy, copy));
	err_init(&e);
	im = ext4_img_open(img, &e);
	CHECK(im && ext4_img_replayed(im));
	ext4_img_close(im);
	a = dump_image(img, true, true, NULL);
	b = dump_image(copy, true, true, NULL);
	CHECK(a && b && same_dump(b, a, "replayed"));
	/* and it changed what /etc/one reads: its size stays 1, its byte is J */
	if (a) {
		struct ext4_inode in;

		err_init(&e);
		im = ext4_img_open(img, &e);
		CHECK(im && ext4_img_lookup(im, "/etc/one", &in, &e) == 1);
		if (im) {
			struct hashing hs = { .ok = true };

			sha256_init(&hs.h);
			CHECK(ext4_img_data(im, &in, first_byte, &hs, &e) == 0 && hs.given == 'J');
		}
		ext4_img_close(im);
	}
	free(a);
	free(b);
}

/* Expects open (and a whole walk) of img to fail with EXIT_VERIFY and a
 * message holding want. */
static bool refused(const char *img, const char *want)
{
	struct err e;
	struct ext4_img *im;
	struct dump d = { 0 };
	int rc;

	err_init(&e);
	im = ext4_img_open(img, &e);
	rc = im ? ext4_img_walk(im, "/", dump_entry, &d, &e) : -1;
	ext4_img_close(im);
	free(d.buf);
	if (rc == 0 || e.code != EXIT_VERIFY || !strstr(e.msg, want)) {
		printf("  %s: rc %d code %d: %s (want \"%s\")\n", img, rc, e.code, e.msg, want);
		return false;
	}
	return true;
}

static void broken_images_are_refused(void)
{
	char img[700], small[700];

	if (!have_e2fsprogs)
		return;
	snprintf(small, sizeof(small), "%s/small-tree", tmp);
	CHECK(sh("mkdir -p '%s/a/b' && echo hi >'%s/a/f' && ln -s f '%s/a/l'", small, small,
		 small));
	snprintf(img, sizeof(img), "%s/bad.ext4", tmp);
#define FRESH(opts) sh("mke2fs -q -F -t ext4 %s -d '%s' '%s' 8M", opts, small, img)
	CHECK(FRESH("") && sh("truncate -s 4M '%s'", img));
	CHECK(refused(img, "the file only"));
	CHECK(FRESH("") && sh("truncate -s 1000 '%s'", img));
	CHECK(refused(img, "not an ext2/3/4 filesystem"));
	CHECK(sh("head -c 65536 /dev/zero >'%s'", img));
	CHECK(refused(img, "no superblock magic"));
	CHECK(FRESH("-O inline_data"));
	CHECK(refused(img, "inline_data"));
	CHECK(FRESH("-O encrypt"));
	CHECK(refused(img, "encrypt"));
	/* an INCOMPAT bit nobody has defined */
	CHECK(FRESH("-O ^metadata_csum") && sh("debugfs -w -R 'ssv feature_incompat 0x80002c2' "
					       "'%s' >/dev/null 2>&1",
					       img));
	CHECK(refused(img, "does not know (incompat 0x8000000)"));
	/* a directory loop: /a/b/up is /a again */
	CHECK(FRESH("") && sh("debugfs -w -R 'ln /a /a/b/up' '%s' >/dev/null 2>&1", img));
	CHECK(refused(img, "reached twice"));
	/* an extent pointing past the end (i_block word 5: ee_start_lo) */
	CHECK(FRESH("") && sh("debugfs -w -R 'sif /a/f block[5] 0x7fffffff' '%s' >/dev/null "
			      "2>&1",
			      img));
	CHECK(refused(img, "outside the filesystem"));
	/* a corrupted inode (metadata_csum catches it) */
	CHECK(FRESH("") && sh("debugfs -w -R 'sif /a/f uid 77' '%s' >/dev/null 2>&1 && "
			      "debugfs -w -R 'sif /a/f checksum 0' '%s' >/dev/null 2>&1",
			      img, img));
	CHECK(refused(img, "checksum does not match"));
	/* a directory entry naming a free inode */
	CHECK(FRESH("") && sh("debugfs -w -R 'clri /a/f' '%s' >/dev/null 2>&1", img));
	CHECK(refused(img, "is free"));
#undef FRESH
}

/* Random bits flipped in the used blocks of small images (with and
 * without metadata checksums, which would catch most flips in inodes),
 * hundreds of times: each walk either succeeds or fails with a message. */
static void random_corruption_never_crashes(void)
{
	char src[700], img[700];
	uint8_t *base[2];
	uint32_t used[2][2048], nused[2] = { 0, 0 };
	size_t size = 2 * MIB;
	uint64_t r = 7;
	int ok = 0, refused_n = 0;

	if (!have_e2fsprogs)
		return;
	snprintf(src, sizeof(src), "%s/fuzz-tree", tmp);
	CHECK(sh("mkdir -p '%s/a/b' && echo hi >'%s/a/f' && ln -s f '%s/a/l' && "
		 "seq 1 200 | while read i; do echo $i >'%s/a/b/file-$i'; done && "
		 "ln -s $(seq -s / 1 40) '%s/a/slow';"
		 "head -c 30000 /dev/urandom >'%s/a/big'",
		 src, src, src, src, src, src));
	for (int v = 0; v < 2; v++) {
		int fd;

		snprintf(img, sizeof(img), "%s/fuzz-%d.ext4", tmp, v);
		CHECK(sh("mke2fs -q -F -t ext4 -b 1024 %s -d '%s' '%s' 2M",
			 v ? "-O ^metadata_csum" : "", src, img));
		fd = open(img, O_RDONLY);
		base[v] = malloc(size);
		if (fd < 0 || !base[v] || pread(fd, base[v], size, 0) != (ssize_t)size) {
			CHECK(0);
			return;
		}
		close(fd);
		for (uint32_t b = 1; b < size / 1024 && nused[v] < 2048; b++)
			for (uint32_t k = 0; k < 1024; k++)
				if (base[v][(size_t)b * 1024 + k]) {
					used[v][nused[v]++] = b;
					break;
				}
	}
	for (int it = 0; it < 600; it++) {
		int v = it & 1, mfd = memfd_create("ext4", 0), n = 1 + it % 8;
		uint8_t *copy = malloc(size);
		struct ext4_img *im;
		struct dump d = { 0 };
		struct err e;

		memcpy(copy, base[v], size);
		for (int k = 0; k < n; k++) {
			uint32_t b;

			r = r * 6364136223846793005ULL + 1442695040888963407ULL;
			b = used[v][(r >> 33) % nused[v]];
			copy[(size_t)b * 1024 + ((r >> 12) & 1023)] ^=
				(uint8_t)(1u << ((r >> 8) & 7));
		}
		if (write(mfd, copy, size) != (ssize_t)size)
			abort();
		err_init(&e);
		im = ext4_img_open_fd(mfd, "fuzz.ext4", &e);
		if (im && ext4_img_walk(im, "/", dump_entry, &d, &e) == 0) {
			ok++;
		} else {
			refused_n++;
			CHECK(e.code == EXIT_VERIFY && strstr(e.msg, "fuzz.ext4"));
			if (e.code != EXIT_VERIFY)
				printf("  %s\n", e.msg);
		}
		ext4_img_close(im);
		close(mfd);
		free(d.buf);
		free(copy);
	}
	printf("  info: 600 corrupted images: %d read, %d refused\n", ok, refused_n);
	free(base[0]);
	free(base[1]);
}

static void lookups_and_listings(void)
{
	char img[700];
	struct err e;
	struct ext4_img *im;
	struct ext4_inode in, root;
	struct ext4_dir d;
	struct ext4_dirset s;
	char target[100];

	snprintf(img, sizeof(img), "%s/writer.ext4", tmp);
	err_init(&e);
	im = ext4_img_open(img, &e);
	CHECK(im != NULL);
	if (!im)
		return;
	CHECK(ext4_img_lookup(im, "/", &root, &e) == 1 && root.ino == EXT4_ROOT_INO);
	CHECK(ext4_img_lookup(im, "/etc//one/", &in, &e) == 1 && in.size == 1 && in.uid == 1000);
	CHECK(ext4_img_lookup(im, "/etc/nope", &in, &e) == 0);
	CHECK(ext4_img_lookup(im, "/etc/one/below", &in, &e) == 0); /* not a directory */
	CHECK(ext4_img_lookup(im, "/links/l3", &in, &e) == 1 &&
	      ext4_img_readlink(im, &in, target, sizeof(target), &e) == 0 &&
	      !strcmp(target, "ttt"));
	CHECK(ext4_img_lookup(im, "/links/l100", &in, &e) == 1 &&
	      ext4_img_readlink(im, &in, target, sizeof(target), &e) == -1 &&
	      e.code == EXIT_VERIFY); /* too long for the buffer */
	err_init(&e);
	CHECK(ext4_img_lookup(im, "/many", &in, &e) == 1 && ext4_img_list(im, &in, &d, &e) == 0);
	CHECK(d.n == 3002);
	CHECK(ext4_dir_find(&d, "file-01234-with-a-longer-name", 29) != NULL);
	CHECK(ext4_dir_find(&d, "file-01234-with-a-longer-nam", 28) == NULL);
	CHECK(ext4_dir_find(&d, "zzz", 3) == NULL && ext4_dir_find(&d, "", 0) == NULL);
	for (size_t i = 1; i < d.n; i++)
		CHECK(strcmp(d.v[i - 1].name, d.v[i].name) < 0);
	ext4_dir_fini(&d);
	ext4_dirset_init(&s);
	for (uint32_t i = 1; i < 5000; i++)
		CHECK(ext4_dirset_add(&s, i * 7, "x", &e) == 0);
	CHECK(ext4_dirset_add(&s, 77, "x", &e) == -1 && e.code == EXIT_VERIFY);
	ext4_dirset_fini(&s);
	ext4_img_close(im);
}

int main(void)
{
	HARNESS_BEGIN("ext4read");
	tmp = harness_tmpdir();
	have_e2fsprogs = sh("command -v mke2fs && command -v debugfs && command -v e2fsck");
	if (!have_e2fsprogs)
		printf("SKIP: unit/ext4read: mke2fs and debugfs images (e2fsprogs not "
		       "installed)\n");
	make_tree();
	RUN(writer_images_read_back);
	RUN(lookups_and_listings);
	RUN(mke2fs_images_read_back);
	RUN(journals_are_replayed_in_memory);
	RUN(broken_images_are_refused);
	RUN(random_corruption_never_crashes);
	if (!getenv("KEEP"))
		sh("rm -rf '%s'", tmp);
	HARNESS_END();
}
