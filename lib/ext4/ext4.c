/* ext4.c — see ext4.h. Layout, from block 0: the superblock and the group
 * descriptor table (with room for as many groups as the image may need),
 * then file data in the order it is written, then — at ext4_finish — the
 * bitmaps, inode tables, journal, directory, extent-tree and xattr blocks.
 * flex_bg lets bitmaps and inode tables sit anywhere; the backup
 * superblocks of sparse_super groups are skipped by the allocator. */
#include "ext4/ext4.h"
#include "digest.h"
#include "err.h"
#include "exitcode.h"
#include "progress.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BS EXT4_BLOCK
#define BPG 32768u     /* blocks (and at most inodes) per group */
#define ISIZE 256      /* inode size */
#define EXTRA_ISIZE 32 /* i_extra_isize: through i_projid */
#define IBODY (128 + EXTRA_ISIZE)
#define FIRST_INO 11
#define JOURNAL_INO 8
#define LPF_INO 11
#define DESC 64		  /* 64bit group descriptors */
#define EXT_MAX 32768	  /* blocks in one initialized extent */
#define EXT_PER_BLOCK 340 /* (4096 - header 12 - tail 4) / 12 */
#define TAIL 12		  /* directory leaf checksum tail */
#define DX_ROOT_LIMIT 507 /* (4096 - 32 - tail 8) / 8 */
#define DX_NODE_LIMIT 510 /* (4096 - 8 - tail 8) / 8 */
#define MIB ((uint64_t)1 << 20)

#define FL_INDEX 0x1000
#define FL_EXTENTS 0x80000

#define COMPAT (0x4 | 0x8 | 0x20) /* has_journal, ext_attr, dir_index */
/* filetype, extent, 64bit, flex_bg */
#define INCOMPAT (0x2 | 0x40 | 0x80 | 0x200)
/* sparse_super, large_file, huge_file, dir_nlink, extra_isize, metadata_csum */
#define RO_COMPAT (0x1 | 0x2 | 0x8 | 0x20 | 0x40 | 0x400)

struct run {
	uint64_t pblk;
	uint32_t lblk, len;
};

struct xattr {
	uint8_t index, nlen;
	char *name;
	uint8_t *val;
	uint32_t vlen;
};

struct node {
	struct ext4_attr a; /* a.symlink is target */
	uint32_t links, tag;
	uint32_t parent; /* directories: for ".." */
	char *target;	 /* symlinks */
	struct run *runs;
	uint32_t nruns, capruns;
	struct xattr *xa;
	uint32_t nxa;
	uint32_t *kids; /* directories: dentry ids */
	uint32_t nkids, capkids, nsubdirs;
	bool used;
};

struct dent {
	uint32_t parent, ino, slot;
	uint8_t len;
	char *name;
};

struct ext4_fs {
	int fd;
	char *path;
	bool finished, progress;
	uint64_t limit; /* blocks, when the size is fixed */
	uint64_t size;
	char label[17];
	int64_t time;
	uint8_t uuid[16];
	uint32_t hash_seed[4];
	uint32_t csum_seed;
	uint32_t gdt_res; /* blocks kept for the group descriptor table */

	struct node *nodes; /* by inode number; 0 unused */
	uint32_t nnodes, capnodes, *freeino, nfreeino, capfreeino;
	struct dent *dents; /* 0 unused */
	uint32_t ndents, capdents, *freedent, nfreedent, capfreedent;
	uint32_t *ht; /* dentry ids by (parent, name); 0 empty */
	uint32_t htcap, htfill;

	uint64_t hwm;	  /* blocks from here up were never allocated */
	struct run *free; /* sorted by pblk, merged; lblk unused */
	uint32_t nfree, capfree;
	uint64_t data_blocks;
	uint64_t inodes_used;
};

#define TOMB UINT32_MAX

/* --- little-endian and checksums --- */

static void le16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
	le16(p, v & 0xffff);
	le16(p + 2, v >> 16);
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint32_t ext4_crc32c(uint32_t crc, const void *p, size_t n)
{
	static uint32_t table[256];
	const uint8_t *b = p;

	if (!table[1])
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? (c >> 1) ^ 0x82F63B78 : c >> 1;
			table[i] = c;
		}
	while (n--)
		crc = table[(crc ^ *b++) & 0xff] ^ (crc >> 8);
	return crc;
}

static uint32_t crc_u32(uint32_t crc, uint32_t v)
{
	uint8_t b[4];

	le32(b, v);
	return ext4_crc32c(crc, b, 4);
}

/* The per-inode seed of metadata_csum (generation is always 0 here). */
static uint32_t ino_seed(const struct ext4_fs *fs, uint32_t ino)
{
	return crc_u32(crc_u32(fs->csum_seed, ino), 0);
}

/* --- the directory hash: half MD4 over the name, as the kernel's
 * fs/ext4/hash.c (unsigned characters; the superblock says so) --- */

static uint32_t rol(uint32_t x, int s)
{
	return x << s | x >> (32 - s);
}

#define MD4F(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define MD4G(x, y, z) (((x) & (y)) + (((x) ^ (y)) & (z)))
#define MD4H(x, y, z) ((x) ^ (y) ^ (z))
#define MD4R(f, a, b, c, d, x, s) (a += f(b, c, d) + (x), a = rol(a, s))

static void half_md4(uint32_t buf[4], const uint32_t in[8])
{
	uint32_t a = buf[0], b = buf[1], c = buf[2], d = buf[3];
	const uint32_t k2 = 013240474631u, k3 = 015666365641u;

	MD4R(MD4F, a, b, c, d, in[0], 3);
	MD4R(MD4F, d, a, b, c, in[1], 7);
	MD4R(MD4F, c, d, a, b, in[2], 11);
	MD4R(MD4F, b, c, d, a, in[3], 19);
	MD4R(MD4F, a, b, c, d, in[4], 3);
	MD4R(MD4F, d, a, b, c, in[5], 7);
	MD4R(MD4F, c, d, a, b, in[6], 11);
	MD4R(MD4F, b, c, d, a, in[7], 19);
	MD4R(MD4G, a, b, c, d, in[1] + k2, 3);
	MD4R(MD4G, d, a, b, c, in[3] + k2, 5);
	MD4R(MD4G, c, d, a, b, in[5] + k2, 9);
	MD4R(MD4G, b, c, d, a, in[7] + k2, 13);
	MD4R(MD4G, a, b, c, d, in[0] + k2, 3);
	MD4R(MD4G, d, a, b, c, in[2] + k2, 5);
	MD4R(MD4G, c, d, a, b, in[4] + k2, 9);
	MD4R(MD4G, b, c, d, a, in[6] + k2, 13);
	MD4R(MD4H, a, b, c, d, in[3] + k3, 3);
	MD4R(MD4H, d, a, b, c, in[7] + k3, 9);
	MD4R(MD4H, c, d, a, b, in[2] + k3, 11);
	MD4R(MD4H, b, c, d, a, in[6] + k3, 15);
	MD4R(MD4H, a, b, c, d, in[1] + k3, 3);
	MD4R(MD4H, d, a, b, c, in[5] + k3, 9);
	MD4R(MD4H, c, d, a, b, in[0] + k3, 11);
	MD4R(MD4H, b, c, d, a, in[4] + k3, 15);
	buf[0] += a;
	buf[1] += b;
	buf[2] += c;
	buf[3] += d;
}

/* Packs up to num words of the name, padded with a length pattern. */
static void str2hashbuf(const uint8_t *msg, size_t len, uint32_t *buf, int num)
{
	uint32_t pad = (uint32_t)len | ((uint32_t)len << 8), val;

	pad |= pad << 16;
	val = pad;
	if (len > (size_t)num * 4)
		len = (size_t)num * 4;
	for (size_t i = 0; i < len; i++) {
		val = msg[i] + (val << 8);
		if (i % 4 == 3) {
			*buf++ = val;
			val = pad;
			num--;
		}
	}
	if (--num >= 0)
		*buf++ = val;
	while (--num >= 0)
		*buf++ = pad;
}

void ext4_dirhash(const char *name, size_t len, const uint32_t seed[4], uint32_t *hash,
		  uint32_t *minor)
{
	uint32_t buf[4] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476 }, in[8];
	const uint8_t *p = (const uint8_t *)name;

	if (seed[0] | seed[1] | seed[2] | seed[3])
		memcpy(buf, seed, sizeof(buf));
	for (size_t left = len;; left -= 32, p += 32) {
		str2hashbuf(p, left, in, 8);
		half_md4(buf, in);
		if (left <= 32)
			break;
	}
	*hash = buf[1] & ~1u;
	if (*hash == (0x7fffffffu << 1))
		*hash = (0x7fffffffu - 1) << 1;
	*minor = buf[2];
}

/* --- inodes and directory entries --- */

static struct node *N(struct ext4_fs *fs, uint32_t ino)
{
	return &fs->nodes[ino];
}

static int grow(void **v, uint32_t *cap, uint32_t need, size_t size, struct err *e)
{
	uint32_t n = *cap ? *cap : need; /* most files have one run */
	void *p;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	p = realloc(*v, (size_t)n * size);
	if (!p)
		return err_set(e, EXIT_SYSTEM, "out of memory building the ext4 tree");
	memset((char *)p + (size_t)*cap * size, 0, (size_t)(n - *cap) * size);
	*v = p;
	*cap = n;
	return 0;
}

static uint32_t dent_hash(uint32_t parent, const char *name, size_t len)
{
	uint32_t h = 2166136261u ^ parent;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)name[i]) * 16777619u;
	return h * 2654435769u;
}

/* The hash-table slot of (parent, name), or of where it would go. */
static uint32_t *ht_find(struct ext4_fs *fs, uint32_t parent, const char *name, size_t len,
			 bool for_insert)
{
	uint32_t mask = fs->htcap - 1, *tomb = NULL;

	for (uint32_t i = dent_hash(parent, name, len) & mask;; i = (i + 1) & mask) {
		uint32_t id = fs->ht[i];
		const struct dent *d;

		if (!id)
			return for_insert && tomb ? tomb : &fs->ht[i];
		if (id == TOMB) {
			if (!tomb)
				tomb = &fs->ht[i];
			continue;
		}
		d = &fs->dents[id]; /* not before: dents is NULL in an empty tree */
		if (d->parent == parent && d->len == len && !memcmp(d->name, name, len))
			return &fs->ht[i];
	}
}

static int ht_grow(struct ext4_fs *fs, struct err *e)
{
	uint32_t *old = fs->ht, oldcap = fs->htcap;

	if ((fs->htfill + 1) * 2 <= fs->htcap)
		return 0;
	fs->htcap = oldcap ? oldcap * 2 : 1024;
	fs->ht = calloc(fs->htcap, sizeof(*fs->ht));
	if (!fs->ht) {
		fs->ht = old;
		fs->htcap = oldcap;
		return err_set(e, EXIT_SYSTEM, "out of memory building the ext4 tree");
	}
	fs->htfill = 0;
	for (uint32_t i = 0; i < oldcap; i++)
		if (old[i] && old[i] != TOMB) {
			const struct dent *d = &fs->dents[old[i]];

			*ht_find(fs, d->parent, d->name, d->len, true) = old[i];
			fs->htfill++;
		}
	free(old);
	return 0;
}

int ext4_lookup(struct ext4_fs *fs, uint32_t dir, const char *name, size_t len, uint32_t *ino)
{
	uint32_t id;

	if (!len || len > 255)
		return 0;
	id = *ht_find(fs, dir, name, len, false);
	if (!id)
		return 0;
	*ino = fs->dents[id].ino;
	return 1;
}

static int name_check(const char *name, size_t len, struct err *e)
{
	if (!len || len > 255 || memchr(name, '/', len) || memchr(name, 0, len) ||
	    (len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return err_set(e, EXIT_VERIFY, "'%.*s': not a valid file name", (int)len, name);
	return 0;
}

static int add_dent(struct ext4_fs *fs, uint32_t dir, const char *name, size_t len, uint32_t ino,
		    struct err *e)
{
	struct node *d = N(fs, dir);
	struct dent *de;
	uint32_t id;

	if (name_check(name, len, e) < 0 || ht_grow(fs, e) < 0 ||
	    grow((void **)&d->kids, &d->capkids, d->nkids + 1, 4, e) < 0 ||
	    grow((void **)&fs->freedent, &fs->capfreedent, fs->nfreedent + 1, 4, e) < 0)
		return -1;
	if (fs->nfreedent) {
		id = fs->freedent[--fs->nfreedent];
	} else {
		if (grow((void **)&fs->dents, &fs->capdents, fs->ndents + 2, sizeof(*de), e) < 0)
			return -1;
		id = ++fs->ndents;
	}
	de = &fs->dents[id];
	de->name = malloc(len);
	if (!de->name) {
		fs->freedent[fs->nfreedent++] = id; /* room: it came from there or is new */
		return err_set(e, EXIT_SYSTEM, "out of memory building the ext4 tree");
	}
	memcpy(de->name, name, len);
	de->len = (uint8_t)len;
	de->parent = dir;
	de->ino = ino;
	de->slot = d->nkids;
	d->kids[d->nkids++] = id;
	uint32_t *slot = ht_find(fs, dir, name, len, true);

	if (!*slot)
		fs->htfill++;
	*slot = id;
	return 0;
}

static void drop_dent(struct ext4_fs *fs, uint32_t id)
{
	struct dent *de = &fs->dents[id];
	struct node *d = N(fs, de->parent);
	uint32_t last = d->kids[--d->nkids];

	*ht_find(fs, de->parent, de->name, de->len, false) = TOMB;
	d->kids[de->slot] = last;
	fs->dents[last].slot = de->slot;
	free(de->name);
	memset(de, 0, sizeof(*de));
	fs->freedent[fs->nfreedent++] = id;
}

/* --- block allocation --- */

static bool is_backup_group(uint64_t g)
{
	static const unsigned base[] = { 3, 5, 7 };

	if (g <= 1)
		return true;
	for (size_t i = 0; i < 3; i++) {
		uint64_t x = g;

		while (x % base[i] == 0)
			x /= base[i];
		if (x == 1)
			return true;
	}
	return false;
}

/* The end of the superblock copy and descriptor table at b, or b when
 * b is not in one. */
static uint64_t past_reserved(const struct ext4_fs *fs, uint64_t b)
{
	uint64_t g = b / BPG, start = g * BPG;

	if (is_backup_group(g) && b < start + 1 + fs->gdt_res)
		return start + 1 + fs->gdt_res;
	return b;
}

static uint64_t next_reserved(uint64_t b)
{
	uint64_t g = b / BPG + 1;

	while (!is_backup_group(g))
		g++;
	return g * BPG;
}

static int take_free(struct ext4_fs *fs, uint32_t i, uint64_t at, uint32_t want, uint64_t *start)
{
	struct run *r = &fs->free[i];
	uint32_t got;

	if (at != r->pblk) { /* from the middle: only ever at its start here */
		return 0;
	}
	got = want < r->len ? want : r->len;
	*start = r->pblk;
	r->pblk += got;
	r->len -= got;
	if (!r->len) {
		memmove(r, r + 1, (fs->nfree - i - 1) * sizeof(*r));
		fs->nfree--;
	}
	return (int)got;
}

static int too_small(struct ext4_fs *fs, uint64_t more, struct err *e)
{
	struct ext4_usage u;
	struct ext4_plan p;

	ext4_usage(fs, &u);
	u.blocks += more;
	if (ext4_plan(&u, fs->size, &p, e) < 0)
		return -1; /* says how much is needed */
	return err_set(e, EXIT_USAGE, "--size %" PRIu64 " MiB is too small for this image",
		       fs->size / MIB);
}

/* Allocates up to want contiguous blocks, continuing at after when it is
 * free (0: anywhere); a hole left by a removed file is used when it holds
 * at least need blocks. Returns the count (≥ 1), or -1 with e set. */
static int64_t alloc(struct ext4_fs *fs, uint32_t want, uint32_t need, uint64_t after,
		     uint64_t *start, struct err *e)
{
	uint64_t b, nr;
	uint32_t got;

	if (after) {
		if (after == fs->hwm && past_reserved(fs, after) == after)
			goto from_hwm;
		for (uint32_t i = 0; i < fs->nfree; i++)
			if (fs->free[i].pblk == after)
				return take_free(fs, i, after, want, start);
	}
	if (need > want)
		need = want;
	for (uint32_t i = 0; i < fs->nfree; i++)
		if (fs->free[i].len >= need)
			return take_free(fs, i, fs->free[i].pblk, want, start);
from_hwm:
	b = past_reserved(fs, fs->hwm);
	nr = next_reserved(b);
	got = nr - b < want ? (uint32_t)(nr - b) : want;
	if (fs->limit && b + got > fs->limit)
		return too_small(fs, got, e);
	if ((b + got) / BPG >= (uint64_t)fs->gdt_res * (BS / DESC))
		return err_set(e, EXIT_USAGE, "the image grows past %" PRIu64 " GiB — give --size",
			       (uint64_t)fs->gdt_res * (BS / DESC) * BPG * BS >> 30);
	*start = b;
	fs->hwm = b + got;
	return got;
}

/* Returns blocks to the free list (merged, sorted) and punches them out of
 * the image, so they read as zeros when reused and take no host space. */
static int free_blocks(struct ext4_fs *fs, uint64_t start, uint32_t len, struct err *e)
{
	uint32_t i = 0;
	struct run *r;

	if (!len)
		return 0;
	fallocate(fs->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(start * BS),
		  (off_t)len * BS);
	if (start + len == fs->hwm) {
		fs->hwm = start;
		/* a hole just below may now end at the high-water mark */
		if (fs->nfree &&
		    fs->free[fs->nfree - 1].pblk + fs->free[fs->nfree - 1].len == fs->hwm) {
			fs->hwm = fs->free[fs->nfree - 1].pblk;
			fs->nfree--;
		}
		return 0;
	}
	while (i < fs->nfree && fs->free[i].pblk < start)
		i++;
	if (i > 0 && fs->free[i - 1].pblk + fs->free[i - 1].len == start) {
		r = &fs->free[i - 1];
		r->len += len;
		if (i < fs->nfree && r->pblk + r->len == fs->free[i].pblk &&
		    (uint64_t)r->len + fs->free[i].len <= UINT32_MAX) {
			r->len += fs->free[i].len;
			memmove(&fs->free[i], &fs->free[i + 1], (fs->nfree - i - 1) * sizeof(*r));
			fs->nfree--;
		}
		return 0;
	}
	if (i < fs->nfree && start + len == fs->free[i].pblk) {
		fs->free[i].pblk = start;
		fs->free[i].len += len;
		return 0;
	}
	if (grow((void **)&fs->free, &fs->capfree, fs->nfree + 1, sizeof(*r), e) < 0)
		return -1;
	memmove(&fs->free[i + 1], &fs->free[i], (fs->nfree - i) * sizeof(*r));
	fs->free[i] = (struct run){ start, 0, len };
	fs->nfree++;
	return 0;
}

/* Appends blocks [pblk, pblk+len) at logical lblk to n's runs. */
static int add_run(struct node *n, uint32_t lblk, uint64_t pblk, uint32_t len, struct err *e)
{
	struct run *last = n->nruns ? &n->runs[n->nruns - 1] : NULL;

	if (last && last->lblk + last->len == lblk && last->pblk + last->len == pblk &&
	    (uint64_t)last->len + len <= UINT32_MAX) {
		last->len += len;
		return 0;
	}
	if (grow((void **)&n->runs, &n->capruns, n->nruns + 1, sizeof(*last), e) < 0)
		return -1;
	n->runs[n->nruns++] = (struct run){ pblk, lblk, len };
	return 0;
}

/* Allocates count blocks for metadata into runs of n at lblk onward. */
static int alloc_into(struct ext4_fs *fs, struct node *n, uint32_t lblk, uint32_t count,
		      struct err *e)
{
	while (count) {
		uint64_t after = n->nruns ? n->runs[n->nruns - 1].pblk + n->runs[n->nruns - 1].len
					  : 0,
			 at;
		int64_t got = alloc(fs, count, count, after, &at, e);

		if (got < 0 || add_run(n, lblk, at, (uint32_t)got, e) < 0)
			return -1;
		lblk += (uint32_t)got;
		count -= (uint32_t)got;
	}
	return 0;
}

static int pwrite_all(struct ext4_fs *fs, const void *p, size_t len, uint64_t off, struct err *e)
{
	const char *c = p;

	while (len) {
		ssize_t n = pwrite(fs->fd, c, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno == ENOSPC)
				return err_set(e, EXIT_SYSTEM,
					       "%s: disk full while writing the image — free some "
					       "space",
					       fs->path);
			return err_errno(e, EXIT_SYSTEM, "%s: write", fs->path);
		}
		c += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Writes blocks of buf (count whole blocks) along runs from lblk 0. */
static int write_runs(struct ext4_fs *fs, const struct node *n, const uint8_t *buf, struct err *e)
{
	for (uint32_t i = 0; i < n->nruns; i++)
		if (pwrite_all(fs, buf + (size_t)n->runs[i].lblk * BS, (size_t)n->runs[i].len * BS,
			       n->runs[i].pblk * BS, e) < 0)
			return -1;
	return 0;
}

/* --- the tree --- */

static int new_node(struct ext4_fs *fs, const struct ext4_attr *a, uint32_t *ino, struct err *e)
{
	uint32_t i;

	if (fs->nfreeino) {
		i = fs->freeino[--fs->nfreeino];
	} else {
		i = fs->nnodes < FIRST_INO ? FIRST_INO : fs->nnodes;
		if (i >= 0x7fffffffu ||
		    grow((void **)&fs->nodes, &fs->capnodes, i + 1, sizeof(struct node), e) < 0)
			return -1;
		fs->nnodes = i + 1;
	}
	memset(N(fs, i), 0, sizeof(struct node));
	N(fs, i)->used = true;
	N(fs, i)->a.mode = a->mode;
	N(fs, i)->links = 1;
	fs->inodes_used++;
	ext4_set_attr(fs, i, a);
	*ino = i;
	return 0;
}

void ext4_set_attr(struct ext4_fs *fs, uint32_t ino, const struct ext4_attr *a)
{
	struct node *n = N(fs, ino);
	struct ext4_attr keep = n->a;

	n->a = *a;
	n->a.mode = (keep.mode & S_IFMT) | (a->mode & 07777);
	n->a.size = keep.size;
	n->a.major = keep.major;
	n->a.minor = keep.minor;
	n->a.symlink = keep.symlink;
	n->a.atime_ns %= 1000000000u;
	n->a.mtime_ns %= 1000000000u;
	n->a.ctime_ns %= 1000000000u;
}

void ext4_stat(struct ext4_fs *fs, uint32_t ino, struct ext4_attr *a)
{
	*a = N(fs, ino)->a;
	a->links = S_ISDIR(a->mode) ? 2 + N(fs, ino)->nsubdirs : N(fs, ino)->links;
}

uint32_t ext4_tag(struct ext4_fs *fs, uint32_t ino)
{
	return N(fs, ino)->tag;
}

void ext4_set_tag(struct ext4_fs *fs, uint32_t ino, uint32_t tag)
{
	N(fs, ino)->tag = tag;
}

/* What may go into dir as name: dir must be a directory, and the root's
 * lost+found one (e2fsck -fn takes anything there, but -fp, as a boot
 * runs it, stops with "UNEXPECTED INCONSISTENCY" when it is not). */
static int parent_check(struct ext4_fs *fs, uint32_t dir, const char *name, size_t len,
			uint32_t mode, struct err *e)
{
	if (!S_ISDIR(N(fs, dir)->a.mode))
		return err_set(e, EXIT_VERIFY, "'%.*s': its parent is not a directory", (int)len,
			       name);
	if (dir == EXT4_ROOT_INO && len == 10 && !memcmp(name, "lost+found", 10) && !S_ISDIR(mode))
		return err_set(e, EXIT_VERIFY,
			       "'lost+found': at the root of an ext4 image only a directory may "
			       "have this name (e2fsck's) — rename the file");
	return 0;
}

int ext4_create(struct ext4_fs *fs, uint32_t dir, const char *name, size_t len,
		const struct ext4_attr *a, uint32_t *ino, struct err *e)
{
	uint32_t type = a->mode & S_IFMT, i;
	struct node *n;
	size_t tlen = 0;

	if (type != S_IFREG && type != S_IFDIR && type != S_IFLNK && type != S_IFCHR &&
	    type != S_IFBLK && type != S_IFIFO && type != S_IFSOCK)
		return err_set(e, EXIT_VERIFY, "'%.*s': unknown file type 0%o", (int)len, name,
			       type);
	if (type == S_IFLNK && (!a->symlink || !(tlen = strlen(a->symlink)) || tlen >= BS))
		return err_set(e, EXIT_VERIFY, "'%.*s': symlink target empty or over %d bytes",
			       (int)len, name, BS - 1);
	if (type == S_IFREG && a->size > EXT4_MAX_FILE)
		return err_set(e, EXIT_VERIFY, "'%.*s': larger than ext4's 16 TiB - 4 KiB",
			       (int)len, name);
	if ((type == S_IFCHR || type == S_IFBLK) && (a->major > 0xfff || a->minor > 0xfffff))
		return err_set(e, EXIT_VERIFY,
			       "'%.*s': device %" PRIu32 ":%" PRIu32
			       " does not fit ext4's 12-bit major, 20-bit minor",
			       (int)len, name, a->major, a->minor);
	if (name_check(name, len, e) < 0 || parent_check(fs, dir, name, len, a->mode, e) < 0 ||
	    grow((void **)&fs->freeino, &fs->capfreeino, fs->nfreeino + 1, 4, e) < 0)
		return -1;
	if (ext4_lookup(fs, dir, name, len, &i))
		return err_set(e, EXIT_SYSTEM, "'%.*s': exists", (int)len, name);
	if (new_node(fs, a, &i, e) < 0)
		return -1;
	n = N(fs, i);
	n->a.major = a->major;
	n->a.minor = a->minor;
	if (type == S_IFREG)
		n->a.size = a->size;
	if (type == S_IFLNK) {
		n->a.size = tlen;
		n->target = strdup(a->symlink);
		if (!n->target)
			goto oom;
		n->a.symlink = n->target;
		if (tlen >= 60) { /* a slow symlink: the target in a data block */
			uint8_t blk[BS] = { 0 };

			memcpy(blk, a->symlink, tlen);
			if (alloc_into(fs, n, 0, 1, e) < 0 ||
			    pwrite_all(fs, blk, BS, n->runs[0].pblk * BS, e) < 0)
				goto fail;
			fs->data_blocks++;
		}
	}
	if (type == S_IFDIR) {
		n->links = 2;
		n->parent = dir;
	}
	if (add_dent(fs, dir, name, len, i, e) < 0)
		goto fail;
	if (type == S_IFDIR)
		N(fs, dir)->nsubdirs++;
	*ino = i;
	return 0;
oom:
	err_set(e, EXIT_SYSTEM, "out of memory building the ext4 tree");
fail:
	n = N(fs, i);
	for (uint32_t k = 0; k < n->nruns; k++)
		free_blocks(fs, n->runs[k].pblk, n->runs[k].len, e);
	free(n->runs);
	free(n->target);
	n->used = false;
	fs->inodes_used--;
	fs->freeino[fs->nfreeino++] = i;
	return -1;
}

int ext4_link(struct ext4_fs *fs, uint32_t dir, const char *name, size_t len, uint32_t ino,
	      struct err *e)
{
	uint32_t i;

	if (S_ISDIR(N(fs, ino)->a.mode))
		return err_set(e, EXIT_VERIFY, "'%.*s': a hard link to a directory", (int)len,
			       name);
	if (parent_check(fs, dir, name, len, N(fs, ino)->a.mode, e) < 0)
		return -1;
	if (N(fs, ino)->links >= 65000)
		return err_set(e, EXIT_VERIFY, "'%.*s': more than 65000 links", (int)len, name);
	if (ext4_lookup(fs, dir, name, len, &i))
		return err_set(e, EXIT_SYSTEM, "'%.*s': exists", (int)len, name);
	if (add_dent(fs, dir, name, len, ino, e) < 0)
		return -1;
	N(fs, ino)->links++;
	return 0;
}

static int release(struct ext4_fs *fs, uint32_t ino, struct err *e);

static void node_fini(struct node *n)
{
	for (uint32_t k = 0; k < n->nxa; k++) {
		free(n->xa[k].name);
		free(n->xa[k].val);
	}
	free(n->xa);
	free(n->runs);
	free(n->target);
	free(n->kids);
	memset(n, 0, sizeof(*n));
}

static int remove_kid(struct ext4_fs *fs, uint32_t dir, const char *name, size_t len, uint32_t ino,
		      void *ud)
{
	return ext4_remove(fs, dir, name, len, ud);
}

/* The inode lost its last link: free its blocks and number. */
static int release(struct ext4_fs *fs, uint32_t ino, struct err *e)
{
	struct node *n = N(fs, ino);

	if (S_ISDIR(n->a.mode) && ext4_each(fs, ino, remove_kid, e) != 0)
		return -1;
	n = N(fs, ino);
	for (uint32_t k = 0; k < n->nruns; k++) {
		fs->data_blocks -= n->runs[k].len;
		if (free_blocks(fs, n->runs[k].pblk, n->runs[k].len, e) < 0)
			return -1;
	}
	node_fini(n);
	fs->inodes_used--;
	if (grow((void **)&fs->freeino, &fs->capfreeino, fs->nfreeino + 1, 4, e) < 0)
		return -1;
	fs->freeino[fs->nfreeino++] = ino;
	return 0;
}

int ext4_remove(struct ext4_fs *fs, uint32_t dir, const char *name, size_t len, struct err *e)
{
	uint32_t id, ino;
	struct node *n;

	if (!len || len > 255)
		return 0;
	id = *ht_find(fs, dir, name, len, false);
	if (!id)
		return 0;
	ino = fs->dents[id].ino;
	n = N(fs, ino);
	if (grow((void **)&fs->freedent, &fs->capfreedent, fs->nfreedent + 1, 4, e) < 0)
		return -1;
	drop_dent(fs, id);
	if (S_ISDIR(n->a.mode)) {
		N(fs, dir)->nsubdirs--;
		return release(fs, ino, e);
	}
	if (--n->links == 0)
		return release(fs, ino, e);
	return 0;
}

int ext4_each(struct ext4_fs *fs, uint32_t dir, ext4_each_fn fn, void *ud)
{
	for (uint32_t i = N(fs, dir)->nkids; i-- > 0;) {
		const struct node *d = N(fs, dir);
		const struct dent *de;
		int rc;

		if (i >= d->nkids)
			continue;
		de = &fs->dents[d->kids[i]];
		rc = fn(fs, dir, de->name, de->len, de->ino, ud);
		if (rc)
			return rc;
	}
	return 0;
}

int ext4_write(struct ext4_fs *fs, uint32_t ino, uint64_t off, const void *data, size_t len,
	       struct err *e)
{
	struct node *n = N(fs, ino);
	const uint8_t *p = data;

	if (!S_ISREG(n->a.mode) || off + len > n->a.size || off + len < off)
		return err_set(e, EXIT_VERIFY, "a write past the end of a file");
	while (len) {
		uint32_t lblk = (uint32_t)(off / BS), within = (uint32_t)(off % BS);
		struct run *r = n->nruns ? &n->runs[n->nruns - 1] : NULL;
		uint64_t pblk;
		uint32_t avail;
		size_t chunk;

		if (r && lblk < r->lblk + r->len) {
			uint32_t lo = 0, hi = n->nruns;

			while (lo + 1 < hi) { /* the last run starting at or before lblk */
				uint32_t mid = (lo + hi) / 2;

				if (n->runs[mid].lblk <= lblk)
					lo = mid;
				else
					hi = mid;
			}
			r = &n->runs[lo];
			if (lblk < r->lblk || lblk >= r->lblk + r->len)
				return err_set(e, EXIT_VERIFY,
					       "a write into a hole already passed");
		} else {
			uint32_t want = (uint32_t)((off + len - 1) / BS) - lblk + 1;
			uint64_t left = (n->a.size + BS - 1) / BS - lblk, at;
			uint64_t after = r && r->lblk + r->len == lblk ? r->pblk + r->len : 0;
			int64_t got =
				alloc(fs, want, left < 8192 ? (uint32_t)left : 8192, after, &at, e);

			if (got < 0 || add_run(n, lblk, at, (uint32_t)got, e) < 0)
				return -1;
			fs->data_blocks += (uint64_t)got;
			r = &n->runs[n->nruns - 1];
		}
		pblk = r->pblk + (lblk - r->lblk);
		avail = r->lblk + r->len - lblk;
		chunk = (size_t)avail * BS - within;
		if (chunk > len)
			chunk = len;
		if (pwrite_all(fs, p, chunk, pblk * BS + within, e) < 0)
			return -1;
		p += chunk;
		off += chunk;
		len -= chunk;
	}
	return 0;
}

/* --- extended attributes --- */

static const struct {
	const char *prefix;
	uint8_t index;
	bool exact;
} xattr_ns[] = {
	{ "system.posix_acl_access", 2, true },
	{ "system.posix_acl_default", 3, true },
	{ "user.", 1, false },
	{ "trusted.", 4, false },
	{ "security.", 6, false },
	{ "system.", 7, false },
};

/* The kernel's xattr ACL format (version 2, 8-byte entries) to ext4's
 * (version 1; the owner, group, mask and other entries without an id). */
static int acl_to_ext4(const uint8_t *v, size_t len, uint8_t **out, uint32_t *olen, struct err *e)
{
	size_t n, o = 4;
	uint8_t *b;

	if (len < 4 || (len - 4) % 8 || get32(v) != 2)
		return err_set(e, EXIT_VERIFY,
			       "a POSIX ACL xattr that is not in the kernel's format");
	n = (len - 4) / 8;
	b = malloc(4 + n * 8);
	if (!b)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	le32(b, 1);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *x = v + 4 + i * 8;
		uint16_t tag = (uint16_t)(x[0] | x[1] << 8);

		memcpy(b + o, x, 4);
		o += 4;
		if (tag == 0x02 || tag == 0x08) { /* ACL_USER, ACL_GROUP */
			memcpy(b + o, x + 4, 4);
			o += 4;
		}
	}
	*out = b;
	*olen = (uint32_t)o;
	return 0;
}

int ext4_xattr_set(struct ext4_fs *fs, uint32_t ino, const char *name, const void *val, size_t len,
		   struct err *e)
{
	struct node *n = N(fs, ino);
	const char *suffix = NULL;
	uint8_t index = 0, *copy = NULL;
	uint32_t vlen = (uint32_t)len;
	size_t slen;

	for (size_t i = 0; i < sizeof(xattr_ns) / sizeof(xattr_ns[0]) && !suffix; i++) {
		size_t pl = strlen(xattr_ns[i].prefix);

		if (xattr_ns[i].exact ? !strcmp(name, xattr_ns[i].prefix)
				      : !strncmp(name, xattr_ns[i].prefix, pl) && name[pl]) {
			suffix = name + pl;
			index = xattr_ns[i].index;
		}
	}
	if (!suffix)
		return err_set(e, EXIT_VERIFY, "xattr %s: a namespace ext4 does not store", name);
	slen = strlen(suffix);
	if (slen > 255 || len > BS - 32 - 16 - 255 - 8)
		return err_set(e, EXIT_VERIFY, "xattr %s: too long for an ext4 xattr", name);
	if (index == 2 || index == 3) {
		if (acl_to_ext4(val, len, &copy, &vlen, e) < 0)
			return -1;
	} else {
		copy = malloc(len ? len : 1);
		if (!copy)
			return err_set(e, EXIT_SYSTEM, "out of memory");
		memcpy(copy, val, len);
	}
	for (uint32_t k = 0; k < n->nxa; k++)
		if (n->xa[k].index == index && n->xa[k].nlen == slen &&
		    !memcmp(n->xa[k].name, suffix, slen)) {
			free(n->xa[k].val);
			n->xa[k].val = copy;
			n->xa[k].vlen = vlen;
			return 0;
		}
	struct xattr *xa = realloc(n->xa, (n->nxa + 1) * sizeof(*xa));

	if (!xa || !(xa[n->nxa].name = strdup(suffix))) {
		if (xa)
			n->xa = xa;
		free(copy);
		return err_set(e, EXIT_SYSTEM, "out of memory");
	}
	n->xa = xa;
	xa[n->nxa].index = index;
	xa[n->nxa].nlen = (uint8_t)slen;
	xa[n->nxa].val = copy;
	xa[n->nxa].vlen = vlen;
	n->nxa++;
	return 0;
}

static int xattr_cmp(const void *a, const void *b)
{
	const struct xattr *x = a, *y = b;

	if (x->index != y->index)
		return x->index - y->index;
	if (x->nlen != y->nlen)
		return x->nlen - y->nlen;
	return memcmp(x->name, y->name, x->nlen);
}

#define XA_ENTRY(nlen) ((16u + (nlen) + 3) & ~3u)
#define XA_VAL(len) (((len) + 3) & ~3u)

static uint32_t xattr_hash(const struct xattr *x)
{
	uint32_t h = 0;

	for (uint32_t i = 0; i < x->nlen; i++)
		h = (h << 5) ^ (h >> 27) ^ (uint8_t)x->name[i];
	for (uint32_t i = 0; i < XA_VAL(x->vlen); i += 4) {
		uint8_t w[4] = { 0 };

		memcpy(w, x->val + i, i + 4 <= x->vlen ? 4 : x->vlen - i);
		h = (h << 16) ^ (h >> 16) ^ get32(w);
	}
	return h;
}

/* Lays entries [from, to) into area (size bytes): entries from the start,
 * values from the end at offsets relative to base. Returns the sum of the
 * entry hashes in the kernel's block-hash fold. */
static uint32_t xattr_lay(const struct xattr *xa, uint32_t from, uint32_t to, uint8_t *area,
			  uint32_t size, uint32_t base)
{
	uint32_t eo = 0, vo = size, bh = 0;

	for (uint32_t i = from; i < to; i++) {
		const struct xattr *x = &xa[i];
		uint8_t *en = area + eo;
		uint32_t h = xattr_hash(x);

		vo -= XA_VAL(x->vlen);
		memcpy(area + vo, x->val, x->vlen);
		en[0] = x->nlen;
		en[1] = x->index;
		le16(en + 2, x->vlen ? vo + base : 0);
		le32(en + 4, 0);
		le32(en + 8, x->vlen);
		le32(en + 12, h);
		memcpy(en + 16, x->name, x->nlen);
		eo += XA_ENTRY(x->nlen);
		bh = (bh << 16) ^ (bh >> 16) ^ h;
	}
	return bh;
}

/* How many of the sorted xattrs fit in the inode body (the rest go to a
 * block); -1 when the rest cannot fit in one block either. */
static int xattr_split(const struct node *n, uint32_t *inl)
{
	uint32_t used = 4, k = 0, rest = 32 + 4;

	for (; k < n->nxa; k++) {
		uint32_t need = XA_ENTRY(n->xa[k].nlen) + XA_VAL(n->xa[k].vlen);

		if (used + need > ISIZE - IBODY - 4)
			break;
		used += need;
	}
	*inl = k;
	for (uint32_t i = k; i < n->nxa; i++)
		rest += XA_ENTRY(n->xa[i].nlen) + XA_VAL(n->xa[i].vlen);
	return rest > BS ? -1 : 0;
}

/* --- lifecycle --- */

static void derive(const char *seed, const char *what, uint8_t out[16])
{
	struct sha256 h;
	uint8_t d[32];

	sha256_init(&h);
	sha256_update(&h, what, strlen(what));
	sha256_update(&h, seed, strlen(seed));
	br_sha256_out(&h.ctx, d);
	memcpy(out, d, 16);
}

struct ext4_fs *ext4_new(const char *out, const struct ext4_opts *o, struct err *e)
{
	struct ext4_fs *fs = calloc(1, sizeof(*fs));
	struct ext4_attr root = {
		.mode = S_IFDIR | 0755, .atime = o->time, .mtime = o->time, .ctime = o->time
	};
	struct ext4_attr lpf = root;
	uint8_t hs[16];
	uint32_t ino;
	uint64_t groups;

	if (!fs || !(fs->path = strdup(out))) {
		free(fs);
		err_set(e, EXIT_SYSTEM, "out of memory");
		return NULL;
	}
	fs->fd = open(out, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fs->fd < 0) {
		err_errno(e, 0, "%s: cannot create", out);
		free(fs->path);
		free(fs);
		return NULL;
	}
	fs->size = o->size / MIB * MIB;
	fs->limit = fs->size / BS;
	fs->time = o->time;
	fs->progress = o->progress;
	snprintf(fs->label, sizeof(fs->label), "%s", o->label ? o->label : "");
	derive(o->seed ? o->seed : "", "banger ext4 uuid ", fs->uuid);
	fs->uuid[6] = (fs->uuid[6] & 0x0f) | 0x40; /* an RFC 4122 name-based look */
	fs->uuid[8] = (fs->uuid[8] & 0x3f) | 0x80;
	derive(o->seed ? o->seed : "", "banger ext4 hash seed ", hs);
	for (int i = 0; i < 4; i++)
		fs->hash_seed[i] = get32(hs + 4 * i);
	fs->csum_seed = ext4_crc32c(~0u, fs->uuid, 16);
	/* Room in the descriptor table for the fixed size, else for 128 GiB. */
	groups = fs->limit ? (fs->limit + BPG - 1) / BPG : 1024;
	fs->gdt_res = (uint32_t)((groups * DESC + BS - 1) / BS);
	if (fs->gdt_res < 16)
		fs->gdt_res = 16;
	fs->hwm = 1 + fs->gdt_res;
	fs->nnodes = FIRST_INO;
	if (grow((void **)&fs->nodes, &fs->capnodes, FIRST_INO + 1, sizeof(struct node), e) < 0 ||
	    ht_grow(fs, e) < 0)
		goto fail;
	N(fs, EXT4_ROOT_INO)->used = true;
	N(fs, EXT4_ROOT_INO)->a.mode = S_IFDIR;
	N(fs, EXT4_ROOT_INO)->links = 2;
	N(fs, EXT4_ROOT_INO)->parent = EXT4_ROOT_INO;
	ext4_set_attr(fs, EXT4_ROOT_INO, &root);
	lpf.mode = S_IFDIR | 0700;
	if (ext4_create(fs, EXT4_ROOT_INO, "lost+found", 10, &lpf, &ino, e) < 0)
		goto fail;
	fs->inodes_used += 10; /* the reserved ones, root and journal among them */
	return fs;
fail:
	ext4_free(fs);
	return NULL;
}

void ext4_free(struct ext4_fs *fs)
{
	if (!fs)
		return;
	if (fs->fd >= 0)
		close(fs->fd);
	if (!fs->finished)
		unlink(fs->path);
	for (uint32_t i = 1; i < fs->nnodes; i++)
		node_fini(N(fs, i));
	for (uint32_t i = 1; i <= fs->ndents; i++)
		free(fs->dents[i].name);
	free(fs->nodes);
	free(fs->freeino);
	free(fs->dents);
	free(fs->freedent);
	free(fs->ht);
	free(fs->free);
	free(fs->path);
	free(fs);
}

void ext4_usage(struct ext4_fs *fs, struct ext4_usage *u)
{
	u->blocks = fs->data_blocks;
	u->inodes = fs->inodes_used;
	for (uint32_t i = 1; i < fs->nnodes; i++)
		if (N(fs, i)->used && S_ISDIR(N(fs, i)->a.mode))
			u->blocks += 1 + N(fs, i)->nkids / 128;
}

/* mke2fs's default journal size (ext2fs_default_journal_size), in blocks. */
static uint64_t journal_blocks(uint64_t blocks)
{
	if (blocks < 32768)
		return 1024;
	if (blocks < 256 * 1024)
		return 4096;
	if (blocks < 512 * 1024)
		return 8192;
	if (blocks < 4096 * 1024)
		return 16384;
	if (blocks < 8192 * 1024)
		return 32768;
	if (blocks < 16384 * 1024)
		return 65536;
	if (blocks < 32768 * 1024)
		return 131072;
	return 262144;
}

int ext4_plan(const struct ext4_usage *u, uint64_t size, struct ext4_plan *p, struct err *e)
{
	/* Room for the guest to install a little and log: a quarter more inodes
	 * and data, at least 64 MiB free. */
	uint64_t inodes = u->inodes + u->inodes / 4 + 4096;
	uint64_t data = u->blocks * BS;
	uint64_t meta = inodes * 256 + data / 32; /* inode tables, bitmaps, extents */
	uint64_t need = data + meta, total;

	need += journal_blocks(need / BS) * BS;
	need = need + need / 16; /* 5% reserved for root, rounded up */
	total = need + (data / 4 > 64 * MIB ? data / 4 : 64 * MIB);
	p->inodes = inodes;
	if (size) {
		if (size < need)
			return err_set(e, EXIT_USAGE,
				       "--size %" PRIu64
				       " MiB is too small: the image needs at least "
				       "%" PRIu64 " MiB",
				       size / MIB, (need + MIB - 1) / MIB);
		total = size;
		if (size / 16384 > inodes)
			p->inodes = size / 16384; /* mke2fs's inode_ratio */
	}
	p->bytes = (total + MIB - 1) / MIB * MIB;
	return 0;
}

bool ext4_is_ext4(const char *path)
{
	unsigned char m[2];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = pread(fd, m, 2, 1024 + 0x38) == 2 && m[0] == 0x53 && m[1] == 0xEF;
	close(fd);
	return ok;
}

/* --- the layout, at ext4_finish --- */

struct geom {
	uint64_t blocks;
	uint32_t groups, ipg, gdt;
	uint64_t *bb, *ib, *it; /* per group: block bitmap, inode bitmap, inode table */
};

static uint8_t file_type(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return 1;
	case S_IFDIR:
		return 2;
	case S_IFCHR:
		return 3;
	case S_IFBLK:
		return 4;
	case S_IFIFO:
		return 5;
	case S_IFSOCK:
		return 6;
	default:
		return 7;
	}
}

#define REC(len) (8u + (((len) + 3) & ~3u))

static void put_dirent(uint8_t *p, uint32_t ino, uint32_t rec, const char *name, uint32_t len,
		       uint8_t type)
{
	le32(p, ino);
	le16(p + 4, rec);
	p[6] = (uint8_t)len;
	p[7] = type;
	memcpy(p + 8, name, len);
}

static void leaf_tail(const struct ext4_fs *fs, uint32_t ino, uint8_t *blk)
{
	uint8_t *t = blk + BS - TAIL;

	memset(t, 0, TAIL);
	le16(t + 4, TAIL);
	t[7] = 0xDE;
	le32(t + 8, ext4_crc32c(ino_seed(fs, ino), blk, BS - TAIL));
}

static void dx_csum(const struct ext4_fs *fs, uint32_t ino, uint8_t *blk, uint32_t count_off,
		    uint32_t limit)
{
	static const uint8_t zero[4];
	uint32_t count = blk[count_off + 2] | blk[count_off + 3] << 8;
	uint8_t *t = blk + count_off + limit * 8;
	uint32_t c = ext4_crc32c(ino_seed(fs, ino), blk, count_off + count * 8);

	le32(t, 0);
	c = ext4_crc32c(c, t, 4);
	le32(t + 4, ext4_crc32c(c, zero, 4));
}

struct hent {
	uint32_t hash, minor, id;
	const struct ext4_fs *fs;
};

static const struct ext4_fs *sort_fs; /* qsort has no context argument */

static int hent_cmp(const void *a, const void *b)
{
	const struct hent *x = a, *y = b;
	const struct dent *dx = &sort_fs->dents[x->id], *dy = &sort_fs->dents[y->id];
	int c;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if (x->minor != y->minor)
		return x->minor < y->minor ? -1 : 1;
	c = memcmp(dx->name, dy->name, dx->len < dy->len ? dx->len : dy->len);
	return c ? c : dx->len - dy->len;
}

/* Fills leaf blocks from sorted entries; returns the count of leaves and
 * each one's first entry in first[] (when given). */
static uint32_t fill_leaves(const struct ext4_fs *fs, const struct hent *h, uint32_t n,
			    uint8_t *buf, uint32_t *first, uint32_t ino)
{
	uint32_t leaves = 0, off = BS, prev = 0;
	uint8_t *blk = NULL;

	for (uint32_t i = 0; i < n; i++) {
		const struct dent *d = &fs->dents[h[i].id];
		uint32_t rec = REC(d->len);

		if (off + rec > BS - TAIL) {
			if (blk) {
				le16(blk + prev + 4, BS - TAIL - prev);
				leaf_tail(fs, ino, blk);
			}
			blk = buf ? buf + (size_t)leaves * BS : NULL;
			if (first)
				first[leaves] = i;
			leaves++;
			off = 0;
		}
		if (blk)
			put_dirent(blk + off, d->ino, rec, d->name, d->len,
				   file_type(fs->nodes[d->ino].a.mode));
		prev = off;
		off += rec;
	}
	if (blk) {
		le16(blk + prev + 4, BS - TAIL - prev);
		leaf_tail(fs, ino, blk);
	}
	return leaves;
}

static int hents(struct ext4_fs *fs, const struct node *n, struct hent **out, struct err *e)
{
	struct hent *h = malloc((n->nkids ? n->nkids : 1) * sizeof(*h));

	if (!h)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	for (uint32_t i = 0; i < n->nkids; i++) {
		const struct dent *d = &fs->dents[n->kids[i]];

		h[i].id = n->kids[i];
		ext4_dirhash(d->name, d->len, fs->hash_seed, &h[i].hash, &h[i].minor);
	}
	sort_fs = fs;
	qsort(h, n->nkids, sizeof(*h), hent_cmp);
	*out = h;
	return 0;
}

static bool dir_is_linear(const struct node *n, const struct ext4_fs *fs)
{
	uint32_t sum = 24;

	for (uint32_t i = 0; i < n->nkids && sum <= BS - TAIL; i++)
		sum += REC(fs->dents[n->kids[i]].len);
	return sum <= BS - TAIL;
}

/* Directory blocks of n: 1 when linear, else the dx root, nodes, leaves. */
static int dir_nblocks(struct ext4_fs *fs, const struct node *n, uint32_t ino, uint32_t *nb,
		       struct err *e)
{
	struct hent *h;
	uint32_t leaves;

	if (dir_is_linear(n, fs)) {
		*nb = ino == LPF_INO ? 4 : 1;
		return 0;
	}
	if (hents(fs, n, &h, e) < 0)
		return -1;
	leaves = fill_leaves(fs, h, n->nkids, NULL, NULL, ino);
	free(h);
	*nb = 1 + leaves;
	if (leaves > DX_ROOT_LIMIT)
		*nb += (leaves + DX_NODE_LIMIT - 1) / DX_NODE_LIMIT;
	if (leaves > DX_ROOT_LIMIT * DX_NODE_LIMIT)
		return err_set(e, EXIT_VERIFY, "a directory with too many entries for ext4");
	return 0;
}

/* Builds the blocks of directory ino into a new buffer of *nb blocks; sets
 * *indexed for an htree. */
static int dir_build(struct ext4_fs *fs, const struct node *n, uint32_t ino, uint8_t **out,
		     uint32_t *nb, bool *indexed, struct err *e)
{
	struct hent *h = NULL;
	uint32_t *first = NULL, leaves, nodes = 0, base;
	uint8_t *buf;

	if (dir_nblocks(fs, n, ino, nb, e) < 0)
		return -1;
	buf = calloc(*nb, BS);
	if (!buf)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	*out = buf;
	*indexed = !dir_is_linear(n, fs);
	if (!*indexed) {
		uint32_t off = 24, prev = 12;

		put_dirent(buf, ino, 12, ".", 1, 2);
		put_dirent(buf + 12, n->parent, 12, "..", 2, 2);
		for (uint32_t i = 0; i < n->nkids; i++) {
			const struct dent *d = &fs->dents[n->kids[i]];

			put_dirent(buf + off, d->ino, REC(d->len), d->name, d->len,
				   file_type(fs->nodes[d->ino].a.mode));
			prev = off;
			off += REC(d->len);
		}
		le16(buf + prev + 4, BS - TAIL - prev);
		leaf_tail(fs, ino, buf);
		for (uint32_t b = 1; b < *nb; b++) {
			le16(buf + (size_t)b * BS + 4, BS - TAIL);
			leaf_tail(fs, ino, buf + (size_t)b * BS);
		}
		return 0;
	}
	if (hents(fs, n, &h, e) < 0) {
		free(buf);
		return -1;
	}
	first = malloc(n->nkids * sizeof(*first));
	if (!first) {
		free(h);
		free(buf);
		return err_set(e, EXIT_SYSTEM, "out of memory");
	}
	leaves = fill_leaves(fs, h, n->nkids, NULL, NULL, ino);
	if (leaves > DX_ROOT_LIMIT)
		nodes = (leaves + DX_NODE_LIMIT - 1) / DX_NODE_LIMIT;
	base = 1 + nodes;
	fill_leaves(fs, h, n->nkids, buf + (size_t)base * BS, first, ino);

	/* The root: "." and ".." then dx_root_info, then the index. */
	put_dirent(buf, ino, 12, ".", 1, 2);
	put_dirent(buf + 12, n->parent, BS - 12, "..", 2, 2);
	buf[28] = 1; /* half MD4 */
	buf[29] = 8;
	buf[30] = nodes ? 1 : 0;
	{
		/* entry k of a level: the hash of its first entry (low bit: the
		 * previous leaf ends with the same hash, a collision run) */
		uint32_t count = nodes ? nodes : leaves;
		uint8_t *cl = buf + 32;

		le16(cl, DX_ROOT_LIMIT);
		le16(cl + 2, count);
		for (uint32_t k = 0; k < count; k++) {
			uint32_t leaf = nodes ? k * DX_NODE_LIMIT : k;
			uint32_t hash = h[first[leaf]].hash;

			if (leaf && hash == h[first[leaf] - 1].hash)
				hash |= 1;
			if (k)
				le32(cl + k * 8, hash);
			le32(cl + k * 8 + 4, nodes ? 1 + k : base + k);
		}
		dx_csum(fs, ino, buf, 32, DX_ROOT_LIMIT);
		for (uint32_t j = 0; j < nodes; j++) {
			uint8_t *blk = buf + (size_t)(1 + j) * BS;
			uint32_t lo = j * DX_NODE_LIMIT;
			uint32_t cnt = leaves - lo < DX_NODE_LIMIT ? leaves - lo : DX_NODE_LIMIT;

			le16(blk + 4, BS & 0xffff ? BS : 0);
			le16(blk + 8, DX_NODE_LIMIT);
			le16(blk + 10, cnt);
			for (uint32_t k = 0; k < cnt; k++) {
				uint32_t leaf = lo + k;
				uint32_t hash = h[first[leaf]].hash;

				if (leaf && hash == h[first[leaf] - 1].hash)
					hash |= 1;
				if (k)
					le32(blk + 8 + k * 8, hash);
				le32(blk + 8 + k * 8 + 4, base + leaf);
			}
			dx_csum(fs, ino, blk, 8, DX_NODE_LIMIT);
		}
	}
	free(first);
	free(h);
	return 0;
}

static uint32_t count_extents(const struct node *n)
{
	uint32_t c = 0;

	for (uint32_t i = 0; i < n->nruns; i++)
		c += (n->runs[i].len + EXT_MAX - 1) / EXT_MAX;
	return c;
}

static uint32_t tree_blocks_for(uint32_t ext)
{
	uint32_t t = 0;

	while (ext > 4) {
		ext = (ext + EXT_PER_BLOCK - 1) / EXT_PER_BLOCK;
		t += ext;
	}
	return t;
}

/* Writes n's extent tree: the top in iblock, the rest in new blocks
 * (counted in *tb). */
static int tree_build(struct ext4_fs *fs, const struct node *n, uint32_t ino, uint8_t iblock[60],
		      uint32_t *tb, struct err *e)
{
	uint32_t cnt = count_extents(n), depth = 0, k = 0;
	uint8_t *ents = malloc((size_t)(cnt ? cnt : 1) * 12), *up;
	uint64_t last = 0;

	if (!ents)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	*tb = 0;
	for (uint32_t i = 0; i < n->nruns; i++)
		for (uint32_t done = 0; done < n->runs[i].len; done += EXT_MAX, k++) {
			uint8_t *x = ents + (size_t)k * 12;
			uint32_t len = n->runs[i].len - done;
			uint64_t p = n->runs[i].pblk + done;

			le32(x, n->runs[i].lblk + done);
			le16(x + 4, len > EXT_MAX ? EXT_MAX : len);
			le16(x + 6, (uint32_t)(p >> 32));
			le32(x + 8, (uint32_t)p);
		}
	while (cnt > 4) {
		uint32_t nb = (cnt + EXT_PER_BLOCK - 1) / EXT_PER_BLOCK;

		up = malloc((size_t)nb * 12);
		if (!up) {
			free(ents);
			return err_set(e, EXIT_SYSTEM, "out of memory");
		}
		for (uint32_t b = 0; b < nb; b++) {
			uint8_t blk[BS] = { 0 }, *x = up + (size_t)b * 12;
			uint32_t m = cnt - b * EXT_PER_BLOCK;
			uint64_t at;

			if (m > EXT_PER_BLOCK)
				m = EXT_PER_BLOCK;
			if (alloc(fs, 1, 1, last ? last + 1 : 0, &at, e) < 0) {
				free(up);
				free(ents);
				return -1;
			}
			last = at;
			le16(blk, 0xF30A);
			le16(blk + 2, m);
			le16(blk + 4, EXT_PER_BLOCK);
			le16(blk + 6, depth);
			memcpy(blk + 12, ents + (size_t)b * EXT_PER_BLOCK * 12, (size_t)m * 12);
			le32(blk + 12 + EXT_PER_BLOCK * 12,
			     ext4_crc32c(ino_seed(fs, ino), blk, 12 + EXT_PER_BLOCK * 12));
			if (pwrite_all(fs, blk, BS, at * BS, e) < 0) {
				free(up);
				free(ents);
				return -1;
			}
			memcpy(x, blk + 12, 4); /* the first logical block below */
			le32(x + 4, (uint32_t)at);
			le16(x + 8, (uint32_t)(at >> 32));
			le16(x + 10, 0);
			(*tb)++;
		}
		free(ents);
		ents = up;
		cnt = nb;
		depth++;
	}
	memset(iblock, 0, 60);
	le16(iblock, 0xF30A);
	le16(iblock + 2, cnt);
	le16(iblock + 4, 4);
	le16(iblock + 6, depth);
	memcpy(iblock + 12, ents, (size_t)cnt * 12);
	free(ents);
	return 0;
}

/* A time as ext4 keeps it: 32 bits of seconds at lo, two epoch bits and
 * the nanoseconds at extra. Outside 1901..2446 it is clamped (without
 * nanoseconds), as the kernel's timestamp_truncate does; wrapping would
 * give another date. */
static void put_time(uint8_t *lo, uint8_t *extra, int64_t sec, uint32_t ns)
{
	const int64_t min = INT32_MIN, max = INT32_MAX + ((int64_t)3 << 32);

	if (sec <= min || sec >= max) {
		sec = sec <= min ? min : max;
		ns = 0;
	}
	le32(lo, (uint32_t)sec);
	le32(extra, (ns << 2) | ((uint32_t)((uint64_t)(sec - (int32_t)sec) >> 32) & 3));
}

/* The on-disk inode of ino, allocating and writing what it points to. */
static int inode_raw(struct ext4_fs *fs, uint32_t ino, struct node *n, uint8_t r[ISIZE],
		     struct err *e)
{
	uint32_t type = n->a.mode & S_IFMT, flags = 0, tb = 0, inl = 0, links = n->links;
	uint64_t blocks = 0, xblock = 0, size = n->a.size;
	uint8_t iblock[60] = { 0 };

	memset(r, 0, ISIZE);
	if (type == S_IFDIR) {
		uint8_t *buf = NULL;
		uint32_t nb;
		bool indexed;

		if (dir_build(fs, n, ino, &buf, &nb, &indexed, e) < 0)
			return -1;
		n->nruns = 0;
		if (alloc_into(fs, n, 0, nb, e) < 0 || write_runs(fs, n, buf, e) < 0) {
			free(buf);
			return -1;
		}
		free(buf);
		size = (uint64_t)nb * BS;
		flags |= indexed ? FL_INDEX : 0;
		links = 2 + n->nsubdirs;
		if (links >= 65000)
			links = 1; /* dir_nlink: "many" */
	}
	if (type == S_IFREG || type == S_IFDIR || (type == S_IFLNK && n->a.size >= 60)) {
		if (tree_build(fs, n, ino, iblock, &tb, e) < 0)
			return -1;
		flags |= FL_EXTENTS;
		for (uint32_t i = 0; i < n->nruns; i++)
			blocks += n->runs[i].len;
	} else if (type == S_IFLNK) {
		memcpy(iblock, n->target, n->a.size);
	} else if (type == S_IFCHR || type == S_IFBLK) {
		if (n->a.major < 256 && n->a.minor < 256)
			le32(iblock, n->a.major << 8 | n->a.minor);
		else
			le32(iblock + 4, (n->a.minor & 0xff) | (n->a.major << 8) |
						 ((n->a.minor & ~0xffu) << 12));
	}
	blocks += tb;
	if (n->nxa) {
		qsort(n->xa, n->nxa, sizeof(*n->xa), xattr_cmp);
		if (xattr_split(n, &inl) < 0)
			return err_set(e, EXIT_VERIFY,
				       "inode %u: its xattrs do not fit in one 4 KiB block", ino);
		if (inl) {
			le32(r + IBODY, 0xEA020000);
			xattr_lay(n->xa, 0, inl, r + IBODY + 4, ISIZE - IBODY - 4, 0);
		}
		if (inl < n->nxa) {
			uint8_t blk[BS] = { 0 };

			if (alloc(fs, 1, 1, 0, &xblock, e) < 0)
				return -1;
			le32(blk, 0xEA020000);
			le32(blk + 4, 1);
			le32(blk + 8, 1);
			le32(blk + 12, xattr_lay(n->xa, inl, n->nxa, blk + 32, BS - 32, 32));
			{
				uint8_t le[8];

				le32(le, (uint32_t)xblock);
				le32(le + 4, (uint32_t)(xblock >> 32));
				le32(blk + 16,
				     ext4_crc32c(ext4_crc32c(fs->csum_seed, le, 8), blk, BS));
			}
			if (pwrite_all(fs, blk, BS, xblock * BS, e) < 0)
				return -1;
			blocks++;
		}
	}
	le16(r, n->a.mode);
	le16(r + 2, n->a.uid & 0xffff);
	le32(r + 4, (uint32_t)size);
	le16(r + 24, n->a.gid & 0xffff);
	le16(r + 26, links);
	le32(r + 28, (uint32_t)(blocks * 8));
	le32(r + 32, flags);
	memcpy(r + 40, iblock, 60);
	le32(r + 104, (uint32_t)xblock);
	le32(r + 108, (uint32_t)(size >> 32));
	le16(r + 116, (uint32_t)((blocks * 8) >> 32));
	le16(r + 118, (uint32_t)(xblock >> 32));
	le16(r + 120, n->a.uid >> 16);
	le16(r + 122, n->a.gid >> 16);
	le16(r + 128, EXTRA_ISIZE);
	put_time(r + 8, r + 140, n->a.atime, n->a.atime_ns);
	put_time(r + 12, r + 132, n->a.ctime, n->a.ctime_ns);
	put_time(r + 16, r + 136, n->a.mtime, n->a.mtime_ns);
	put_time(r + 144, r + 148, n->a.mtime, n->a.mtime_ns); /* crtime: when the layer made it */
	{
		uint32_t c = ext4_crc32c(ino_seed(fs, ino), r, ISIZE);

		le16(r + 124, c & 0xffff);
		le16(r + 130, c >> 16);
	}
	return 0;
}

static void bit_range(uint8_t *bm, uint64_t from, uint64_t to, bool set)
{
	for (uint64_t b = from; b < to; b++) {
		if (set)
			bm[b >> 3] |= (uint8_t)(1u << (b & 7));
		else
			bm[b >> 3] &= (uint8_t) ~(1u << (b & 7));
	}
}

static bool bit(const uint8_t *bm, uint64_t b)
{
	return bm[b >> 3] >> (b & 7) & 1;
}

static void put_super(const struct ext4_fs *fs, const struct geom *g, uint8_t *sb,
		      uint64_t free_blocks, uint64_t free_inodes, uint32_t group,
		      const uint8_t jblock[60], uint64_t jsize)
{
	uint64_t r = g->blocks * 5 / 100;

	memset(sb, 0, 1024);
	le32(sb + 0x0, g->groups * g->ipg);
	le32(sb + 0x4, (uint32_t)g->blocks);
	le32(sb + 0x8, (uint32_t)r);
	le32(sb + 0xC, (uint32_t)free_blocks);
	le32(sb + 0x10, (uint32_t)free_inodes);
	le32(sb + 0x18, 2);
	le32(sb + 0x1C, 2);
	le32(sb + 0x20, BPG);
	le32(sb + 0x24, BPG);
	le32(sb + 0x28, g->ipg);
	le32(sb + 0x2C, 0);
	le32(sb + 0x30, (uint32_t)fs->time);
	le16(sb + 0x36, 0xFFFF);
	le16(sb + 0x38, 0xEF53);
	le16(sb + 0x3A, 1);
	le16(sb + 0x3C, 1);
	le32(sb + 0x40, (uint32_t)fs->time);
	le32(sb + 0x4C, 1);
	le32(sb + 0x54, FIRST_INO);
	le16(sb + 0x58, ISIZE);
	le16(sb + 0x5A, group);
	le32(sb + 0x5C, COMPAT);
	le32(sb + 0x60, INCOMPAT);
	le32(sb + 0x64, RO_COMPAT);
	memcpy(sb + 0x68, fs->uuid, 16);
	memcpy(sb + 0x78, fs->label, strlen(fs->label));
	le32(sb + 0xE0, JOURNAL_INO);
	for (int i = 0; i < 4; i++)
		le32(sb + 0xEC + 4 * i, fs->hash_seed[i]);
	sb[0xFC] = 1; /* half MD4 */
	sb[0xFD] = 1; /* s_jnl_blocks holds a copy of the journal's i_block */
	le16(sb + 0xFE, DESC);
	le32(sb + 0x100, 0x0004 | 0x0008); /* user_xattr, acl */
	le32(sb + 0x108, (uint32_t)fs->time);
	memcpy(sb + 0x10C, jblock, 60);
	le32(sb + 0x10C + 60, (uint32_t)(jsize >> 32));
	le32(sb + 0x10C + 64, (uint32_t)jsize);
	le32(sb + 0x150, (uint32_t)(g->blocks >> 32));
	le32(sb + 0x154, (uint32_t)(r >> 32));
	le32(sb + 0x158, (uint32_t)(free_blocks >> 32));
	le16(sb + 0x15C, EXTRA_ISIZE);
	le16(sb + 0x15E, EXTRA_ISIZE);
	le32(sb + 0x160, 0x2); /* unsigned directory hash */
	sb[0x174] = 4;	       /* 16 groups a flex group */
	sb[0x175] = 1;	       /* crc32c */
	le32(sb + 0x3FC, ext4_crc32c(~0u, sb, 0x3FC));
}

static int ensure_lost_found(struct ext4_fs *fs, struct err *e)
{
	struct ext4_attr a = {
		.mode = S_IFDIR | 0700, .atime = fs->time, .mtime = fs->time, .ctime = fs->time
	};
	uint32_t ino;

	if (ext4_lookup(fs, EXT4_ROOT_INO, "lost+found", 10, &ino))
		return 0;
	return ext4_create(fs, EXT4_ROOT_INO, "lost+found", 10, &a, &ino, e);
}

/* Chooses the size and geometry: blocks, groups, inodes a group. */
static int choose(struct ext4_fs *fs, struct geom *g, struct err *e)
{
	struct ext4_usage u;
	struct ext4_plan p;
	uint64_t meta = 0, inodes, need;

	for (uint32_t i = 1; i < fs->nnodes; i++) {
		struct node *n = N(fs, i);
		uint32_t nb = 0;

		if (!n->used)
			continue;
		if (S_ISDIR(n->a.mode)) {
			if (dir_nblocks(fs, n, i, &nb, e) < 0)
				return -1;
			meta += nb + tree_blocks_for(nb) + 1;
		} else {
			meta += tree_blocks_for(count_extents(n));
		}
		meta += n->nxa ? 1 : 0;
	}
	ext4_usage(fs, &u);
	u.blocks = fs->data_blocks + meta;
	if (ext4_plan(&u, fs->size, &p, e) < 0)
		return -1;
	g->blocks = p.bytes / BS;
	inodes = p.inodes > fs->nnodes ? p.inodes : fs->nnodes;
	for (;;) {
		g->groups = (uint32_t)((g->blocks + BPG - 1) / BPG);
		g->ipg = (uint32_t)((inodes + g->groups - 1) / g->groups + 15) / 16 * 16;
		if (g->ipg > BPG)
			g->ipg = BPG;
		if ((uint64_t)g->ipg * g->groups < fs->nnodes)
			return err_set(e, EXIT_USAGE, "too many files for a %" PRIu64 " MiB image",
				       g->blocks * BS / MIB);
		need = fs->hwm + meta + journal_blocks(g->blocks) + 3u * g->groups +
		       (uint64_t)g->groups * g->ipg / 16 + 64;
		if (need + 256 <= g->blocks)
			break;
		if (fs->size)
			return err_set(e, EXIT_USAGE,
				       "--size %" PRIu64 " MiB is too small: the image needs at "
				       "least %" PRIu64 " MiB",
				       fs->size / MIB, (need + 256) * BS / MIB + 1);
		g->blocks = ((need + need / 16) * BS + MIB - 1) / MIB * (MIB / BS);
	}
	g->gdt = (uint32_t)(((uint64_t)g->groups * DESC + BS - 1) / BS);
	if (g->gdt > fs->gdt_res)
		return err_set(e, EXIT_USAGE, "an image of %" PRIu64 " GiB is too large here",
			       g->blocks * BS >> 30);
	fs->limit = g->blocks;
	return 0;
}

/* One contiguous run of want blocks (inode tables must be contiguous). */
static int alloc_whole(struct ext4_fs *fs, uint32_t want, uint64_t *at, struct err *e)
{
	for (;;) {
		int64_t got = alloc(fs, want, want, 0, at, e);

		if (got < 0)
			return -1;
		if ((uint32_t)got == want)
			return 0;
		/* stopped short at a backup superblock: leave the piece free */
		if (grow((void **)&fs->free, &fs->capfree, fs->nfree + 1, sizeof(struct run), e) <
		    0)
			return -1;
		fs->free[fs->nfree++] = (struct run){ *at, 0, (uint32_t)got };
	}
}

static int write_journal(struct ext4_fs *fs, const struct geom *g, struct err *e)
{
	struct node *j = N(fs, JOURNAL_INO);
	uint32_t jb = (uint32_t)journal_blocks(g->blocks);
	uint8_t sb[BS] = { 0 };

	memset(j, 0, sizeof(*j));
	j->used = true;
	j->a.mode = S_IFREG | 0600;
	j->links = 1;
	j->a.size = (uint64_t)jb * BS;
	j->a.atime = j->a.mtime = j->a.ctime = fs->time;
	if (alloc_into(fs, j, 0, jb, e) < 0)
		return -1;
	be32(sb, 0xC03B3998);
	be32(sb + 4, 4); /* superblock v2 */
	be32(sb + 0xC, BS);
	be32(sb + 0x10, jb);
	be32(sb + 0x14, 1);
	be32(sb + 0x18, 1);
	memcpy(sb + 0x30, fs->uuid, 16);
	be32(sb + 0x40, 1);
	return pwrite_all(fs, sb, BS, j->runs[0].pblk * BS, e);
}

static int write_itables(struct ext4_fs *fs, const struct geom *g, uint8_t jblock[60],
			 struct err *e)
{
	uint8_t blk[BS];
	uint64_t cur = 0;
	bool dirty = false;
	struct progress pr;
	int rc = -1;

	progress_init(&pr, "ext4", (uint64_t)fs->nnodes * ISIZE);
	if (!fs->progress)
		pr.active = false;
	for (uint32_t i = 1; i < fs->nnodes; i++) {
		struct node *n = N(fs, i);
		uint32_t gi = (i - 1) / g->ipg, idx = (i - 1) % g->ipg;
		uint64_t at = g->it[gi] + idx / 16;

		if (at != cur) {
			if (dirty && pwrite_all(fs, blk, BS, cur * BS, e) < 0)
				goto out;
			memset(blk, 0, BS);
			cur = at;
			dirty = false;
		}
		if (!n->used || (i < FIRST_INO && i != EXT4_ROOT_INO && i != JOURNAL_INO))
			continue;
		if (inode_raw(fs, i, n, blk + (idx % 16) * ISIZE, e) < 0)
			goto out;
		if (i == JOURNAL_INO)
			memcpy(jblock, blk + (idx % 16) * ISIZE + 40, 60);
		dirty = true;
		progress_add(&pr, ISIZE);
	}
	if (dirty && pwrite_all(fs, blk, BS, cur * BS, e) < 0)
		goto out;
	rc = 0;
out:
	progress_fini(&pr);
	return rc;
}

static int write_groups(struct ext4_fs *fs, const struct geom *g, const uint8_t jblock[60],
			struct err *e)
{
	uint64_t span = (uint64_t)g->groups * BPG, free_b = 0, free_i = 0;
	uint8_t *bm = calloc(span / 8, 1), *gdt = calloc(g->gdt, BS), ibm[BS], sb[1024];
	int rc = -1;

	if (!bm || !gdt) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		goto out;
	}
	bit_range(bm, 0, fs->hwm, true);
	for (uint32_t i = 0; i < fs->nfree; i++)
		bit_range(bm, fs->free[i].pblk, fs->free[i].pblk + fs->free[i].len, false);
	for (uint64_t gr = 0; gr < g->groups; gr++)
		if (is_backup_group(gr)) {
			bit_range(bm, gr * BPG, gr * BPG + 1 + g->gdt, true);
			bit_range(bm, gr * BPG + 1 + g->gdt, gr * BPG + 1 + fs->gdt_res, false);
		}
	bit_range(bm, g->blocks, span, true);
	for (uint32_t gr = 0; gr < g->groups; gr++) {
		uint8_t *d = gdt + (size_t)gr * DESC, *bb = bm + (size_t)gr * (BPG / 8);
		uint32_t fb = 0, fi = 0, dirs = 0, last = 0, bc, ic;

		for (uint32_t b = 0; b < BPG; b++)
			fb += !bit(bb, b);
		memset(ibm, 0, sizeof(ibm));
		for (uint32_t k = 0; k < g->ipg; k++) {
			uint32_t ino = gr * g->ipg + k + 1;
			bool used = ino < FIRST_INO || (ino < fs->nnodes && N(fs, ino)->used);

			if (used) {
				ibm[k >> 3] |= (uint8_t)(1u << (k & 7));
				last = k + 1;
				if (ino < fs->nnodes && N(fs, ino)->used &&
				    S_ISDIR(N(fs, ino)->a.mode))
					dirs++;
			} else {
				fi++;
			}
		}
		bit_range(ibm, g->ipg, BS * 8, true);
		bc = ext4_crc32c(fs->csum_seed, bb, BPG / 8);
		ic = ext4_crc32c(fs->csum_seed, ibm, g->ipg / 8);
		if (pwrite_all(fs, bb, BS, g->bb[gr] * BS, e) < 0 ||
		    pwrite_all(fs, ibm, BS, g->ib[gr] * BS, e) < 0)
			goto out;
		free_b += fb;
		free_i += fi;
		le32(d, (uint32_t)g->bb[gr]);
		le32(d + 0x4, (uint32_t)g->ib[gr]);
		le32(d + 0x8, (uint32_t)g->it[gr]);
		le16(d + 0xC, fb & 0xffff);
		le16(d + 0xE, fi & 0xffff);
		le16(d + 0x10, dirs & 0xffff);
		le16(d + 0x12, 0x4); /* inode table zeroed */
		le16(d + 0x18, bc & 0xffff);
		le16(d + 0x1A, ic & 0xffff);
		le16(d + 0x1C, (g->ipg - last) & 0xffff);
		le32(d + 0x20, (uint32_t)(g->bb[gr] >> 32));
		le32(d + 0x24, (uint32_t)(g->ib[gr] >> 32));
		le32(d + 0x28, (uint32_t)(g->it[gr] >> 32));
		le16(d + 0x2C, fb >> 16);
		le16(d + 0x2E, fi >> 16);
		le16(d + 0x30, dirs >> 16);
		le16(d + 0x32, (g->ipg - last) >> 16);
		le16(d + 0x38, bc >> 16);
		le16(d + 0x3A, ic >> 16);
		le16(d + 0x1E, ext4_crc32c(crc_u32(fs->csum_seed, gr), d, DESC) & 0xffff);
	}
	for (uint32_t gr = 0; gr < g->groups; gr++) {
		uint64_t at = (uint64_t)gr * BPG * BS;

		if (!is_backup_group(gr))
			continue;
		put_super(fs, g, sb, free_b, free_i, gr, jblock, N(fs, JOURNAL_INO)->a.size);
		if (pwrite_all(fs, sb, sizeof(sb), gr ? at : 1024, e) < 0 ||
		    pwrite_all(fs, gdt, (size_t)g->gdt * BS, at + BS, e) < 0)
			goto out;
	}
	rc = 0;
out:
	free(bm);
	free(gdt);
	return rc;
}

int ext4_finish(struct ext4_fs *fs, uint64_t *bytes, struct err *e)
{
	struct geom g = { 0 };
	uint8_t jblock[60] = { 0 };
	int rc = -1;

	if (ensure_lost_found(fs, e) < 0 || choose(fs, &g, e) < 0)
		return -1;
	g.bb = calloc(g.groups, sizeof(*g.bb));
	g.ib = calloc(g.groups, sizeof(*g.ib));
	g.it = calloc(g.groups, sizeof(*g.it));
	if (!g.bb || !g.ib || !g.it) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < g.groups; i++)
		if (alloc_whole(fs, 1, &g.bb[i], e) < 0)
			goto out;
	for (uint32_t i = 0; i < g.groups; i++)
		if (alloc_whole(fs, 1, &g.ib[i], e) < 0)
			goto out;
	for (uint32_t i = 0; i < g.groups; i++)
		if (alloc_whole(fs, g.ipg / 16, &g.it[i], e) < 0)
			goto out;
	if (write_journal(fs, &g, e) < 0 || write_itables(fs, &g, jblock, e) < 0 ||
	    write_groups(fs, &g, jblock, e) < 0)
		goto out;
	if (ftruncate(fs->fd, (off_t)(g.blocks * BS)) < 0 || fdatasync(fs->fd) < 0) {
		err_errno(e, EXIT_SYSTEM, "%s: cannot write", fs->path);
		goto out;
	}
	*bytes = g.blocks * BS;
	fs->finished = true;
	rc = 0;
out:
	free(g.bb);
	free(g.ib);
	free(g.it);
	return rc;
}

int ext4_make_empty(const char *out, uint64_t bytes, const char *label, struct err *e)
{
	struct ext4_opts o = { .size = bytes, .label = label, .seed = out };
	struct ext4_fs *fs = ext4_new(out, &o, e);
	uint64_t got;
	int rc;

	if (!fs)
		return -1;
	rc = ext4_finish(fs, &got, e);
	ext4_free(fs);
	return rc;
}
