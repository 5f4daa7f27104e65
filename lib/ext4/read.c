/* read.c — see read.h. Everything read from the image goes through
 * read_blocks (range-checked against the superblock's block count, which
 * is checked against the file's size), so no on-disk number can point
 * outside the image; every loop is bounded by a count the superblock or
 * limits.h gives. The journal's committed blocks, when it needs recovery,
 * are a sorted map consulted by read_blocks: the image reads as the
 * kernel would see it after recovery, without being written. */
#include "ext4/read.h"
#include "buf.h"
#include "err.h"
#include "exitcode.h"
#include "ext4/ext4.h"
#include "limits.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SB_OFF 1024
#define SB_MAGIC 0xEF53
#define XATTR_MAGIC 0xEA020000u
#define EXT_MAGIC 0xF30A
#define EXT_MAX_DEPTH 5
#define JBD2_MAGIC 0xC03B3998u

#define COMPAT_HAS_JOURNAL 0x4
#define COMPAT_SPARSE_SUPER2 0x200
#define INCOMPAT_FILETYPE 0x2
#define INCOMPAT_RECOVER 0x4
#define INCOMPAT_META_BG 0x10
#define INCOMPAT_EXTENTS 0x40
#define INCOMPAT_64BIT 0x80
#define INCOMPAT_MMP 0x100
#define INCOMPAT_FLEX_BG 0x200
#define INCOMPAT_CSUM_SEED 0x2000
#define INCOMPAT_LARGEDIR 0x4000
#define INCOMPAT_KNOWN                                                                             \
	(INCOMPAT_FILETYPE | INCOMPAT_RECOVER | INCOMPAT_META_BG | INCOMPAT_EXTENTS |              \
	 INCOMPAT_64BIT | INCOMPAT_MMP | INCOMPAT_FLEX_BG | INCOMPAT_CSUM_SEED |                   \
	 INCOMPAT_LARGEDIR)
#define RO_COMPAT_SPARSE_SUPER 0x1
#define RO_COMPAT_GDT_CSUM 0x10
#define RO_COMPAT_BIGALLOC 0x200
#define RO_COMPAT_METADATA_CSUM 0x400

#define FL_HUGE_FILE 0x40000
#define FL_EXTENTS 0x80000
#define FL_EA_INODE 0x200000
#define FL_INLINE_DATA 0x10000000
#define BG_INODE_UNINIT 0x1

/* jbd2 (fs/jbd2, include/linux/jbd2.h): all big-endian */
#define JBD2_DESCRIPTOR 1
#define JBD2_COMMIT 2
#define JBD2_SB_V1 3
#define JBD2_SB_V2 4
#define JBD2_REVOKE 5
#define JBD2_REVOKE_F 0x1
#define JBD2_64BIT 0x2
#define JBD2_ASYNC_COMMIT 0x4
#define JBD2_CSUM_V2 0x8
#define JBD2_CSUM_V3 0x10
#define JBD2_FAST_COMMIT 0x20
#define JBD2_FLAG_ESCAPE 0x1
#define JBD2_FLAG_SAME_UUID 0x2
#define JBD2_FLAG_LAST_TAG 0x8

static const struct {
	uint32_t bit;
	const char *name;
} refused[] = {
	{ 0x1, "compression" },	   { 0x8, "journal_dev (an external journal, not a filesystem)" },
	{ 0x400, "ea_inode" },	   { 0x1000, "dirdata" },
	{ 0x8000, "inline_data" }, { 0x10000, "encrypt" },
	{ 0x20000, "casefold" },
};

struct run {
	uint64_t pblk;
	uint32_t lblk, len;
	bool uninit;
};

/* The blocks of one inode, in logical order. */
struct map {
	struct run *v;
	size_t n, cap;
	uint64_t mapped, nodes, next;
	uint32_t ino;
};

/* A block the journal holds a newer copy of. */
struct jent {
	uint64_t fsblk;
	uint32_t jblk, seq;
	size_t order;
	bool escape;
};

struct ext4_img {
	int fd;
	bool own_fd;
	char what[LIMIT_PATH];
	uint64_t fsize;
	uint32_t bs;
	uint64_t blocks;
	uint32_t first_data, bpg, ipg, isize, inodes, groups, desc_size, first_meta_bg;
	uint32_t compat, incompat, ro_compat, backup_bgs[2];
	uint32_t csum_seed, journal_ino;
	bool csum;
	uint64_t *itable;
	uint32_t *iused;
	uint8_t *ib; /* the inode table block last read */
	uint64_t ib_no;
	uint8_t *iraw; /* one inode, for its checksum */
	struct jent *j;
	size_t nj;
	struct map jmap; /* the journal inode's blocks */
	uint32_t jlen;	 /* journal blocks (s_maxlen) */
	bool replayed;
};

/* --- little things --- */

static uint32_t le16(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const uint8_t *p)
{
	return le16(p) | (uint32_t)le16(p + 2) << 16;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static void put_le16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	put_le16(p, v & 0xffff);
	put_le16(p + 2, v >> 16);
}

/* Sets e to "IMAGE: what", EXIT_VERIFY; returns -1. */
static int bad(const struct ext4_img *img, struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int bad(const struct ext4_img *img, struct err *e, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set(e, EXIT_VERIFY, "%s: %s", img->what, msg);
}

static int oom(struct err *e)
{
	return err_set(e, EXIT_SYSTEM, "out of memory reading an ext4 image");
}

static int read_at(const struct ext4_img *img, void *buf, size_t len, uint64_t off, struct err *e)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(img->fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_errno(e, EXIT_SYSTEM, "%s: read", img->what);
		if (n == 0)
			return bad(img, e, "ends at %" PRIu64 " bytes, inside the filesystem", off);
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* --- the journal's copy of a block --- */

/* The index of the first journal entry at or after blk. */
static size_t jfirst(const struct ext4_img *img, uint64_t blk)
{
	size_t lo = 0, hi = img->nj;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (img->j[mid].fsblk < blk)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The filesystem block holding journal block jblk. */
static int jblock_at(const struct ext4_img *img, uint32_t jblk, uint64_t *pblk, struct err *e)
{
	size_t lo = 0, hi = img->jmap.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct run *r = &img->jmap.v[mid];

		if (jblk < r->lblk)
			hi = mid;
		else if (jblk >= r->lblk + r->len)
			lo = mid + 1;
		else {
			*pblk = r->pblk + (jblk - r->lblk);
			return 0;
		}
	}
	return bad(img, e, "journal block %u is not mapped", jblk);
}

static int read_jblock(const struct ext4_img *img, uint32_t jblk, uint8_t *buf, struct err *e)
{
	uint64_t pblk = 0;

	if (jblk >= img->jlen)
		return bad(img, e, "journal block %u is past its end", jblk);
	if (jblock_at(img, jblk, &pblk, e) < 0)
		return -1;
	return read_at(img, buf, img->bs, pblk * img->bs, e);
}

/* Reads n blocks from blk, taking the journal's newer copies. */
static int read_blocks(const struct ext4_img *img, uint64_t blk, uint64_t n, uint8_t *buf,
		       struct err *e)
{
	size_t k;

	if (blk >= img->blocks || n > img->blocks - blk)
		return bad(img, e, "block %" PRIu64 " is past the end (%" PRIu64 " blocks)", blk,
			   img->blocks);
	k = jfirst(img, blk);
	while (n) {
		uint64_t direct = n;

		if (k < img->nj && img->j[k].fsblk < blk + n)
			direct = img->j[k].fsblk - blk;
		if (direct) {
			if (read_at(img, buf, direct * img->bs, blk * img->bs, e) < 0)
				return -1;
		} else {
			if (read_jblock(img, img->j[k].jblk, buf, e) < 0)
				return -1;
			if (img->j[k].escape) { /* the block began with the journal's magic */
				buf[0] = 0xC0;
				buf[1] = 0x3B;
				buf[2] = 0x39;
				buf[3] = 0x98;
			}
			k++;
			direct = 1;
		}
		blk += direct;
		buf += direct * img->bs;
		n -= direct;
	}
	return 0;
}

/* --- superblock and group descriptors --- */

static int load_super(struct ext4_img *img, struct err *e)
{
	uint8_t *blk = malloc(img->bs > 4096 ? img->bs : 4096), *sb;
	uint32_t log, rev, inc;
	uint64_t sbblk = 0;
	int rc = -1;

	if (!blk)
		return oom(e);
	if (!img->bs) { /* the first time: straight from the file */
		if (read_at(img, blk, 1024, SB_OFF, e) < 0)
			goto out;
		sb = blk;
	} else {
		sbblk = img->bs == 1024 ? 1 : 0;
		if (read_blocks(img, sbblk, 1, blk, e) < 0)
			goto out;
		sb = blk + (img->bs == 1024 ? 0 : SB_OFF);
	}
	if (le16(sb + 0x38) != SB_MAGIC) {
		bad(img, e, "not an ext2/3/4 filesystem (no superblock magic)");
		goto out;
	}
	log = le32(sb + 0x18);
	if (log > 6) {
		bad(img, e, "block size 2^%u is not one ext4 has", 10 + log);
		goto out;
	}
	if (img->bs && img->bs != 1024u << log) {
		bad(img, e, "the journal changes the block size");
		goto out;
	}
	img->bs = 1024u << log;
	img->compat = le32(sb + 0x5C);
	img->incompat = inc = le32(sb + 0x60);
	img->ro_compat = le32(sb + 0x64);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (inc & refused[i].bit) {
			err_set(e, EXIT_VERIFY,
				"%s: uses the ext4 feature %s, which banger cannot read", img->what,
				refused[i].name);
			goto out;
		}
	if (inc & ~INCOMPAT_KNOWN) {
		err_set(e, EXIT_VERIFY,
			"%s: uses ext4 features banger does not know (incompat 0x%x) — refusing "
			"to misread it",
			img->what, inc & ~INCOMPAT_KNOWN);
		goto out;
	}
	img->csum = img->ro_compat & RO_COMPAT_METADATA_CSUM;
	if (img->csum && (sb[0x175] != 1 || ext4_crc32c(~0u, sb, 0x3FC) != le32(sb + 0x3FC))) {
		bad(img, e, "the superblock's checksum does not match");
		goto out;
	}
	rev = le32(sb + 0x4C);
	img->isize = rev ? le16(sb + 0x58) : 128;
	img->inodes = le32(sb);
	img->blocks = le32(sb + 4) | (inc & INCOMPAT_64BIT ? (uint64_t)le32(sb + 0x150) << 32 : 0);
	img->first_data = le32(sb + 0x14);
	img->bpg = le32(sb + 0x20);
	img->ipg = le32(sb + 0x28);
	img->desc_size = inc & INCOMPAT_64BIT ? le16(sb + 0xFE) : 32;
	img->first_meta_bg = le32(sb + 0x104);
	img->backup_bgs[0] = le32(sb + 0x24C);
	img->backup_bgs[1] = le32(sb + 0x250);
	img->journal_ino = img->compat & COMPAT_HAS_JOURNAL ? le32(sb + 0xE0) : 0;
	img->csum_seed =
		inc & INCOMPAT_CSUM_SEED ? le32(sb + 0x270) : ext4_crc32c(~0u, sb + 0x68, 16);
	if (img->isize < 128 || img->isize > img->bs || (img->isize & (img->isize - 1))) {
		bad(img, e, "inode size %u is not a power of two from 128 to the block size",
		    img->isize);
		goto out;
	}
	if ((inc & INCOMPAT_64BIT) && (img->desc_size < 64 || img->desc_size > 1024 ||
				       (img->desc_size & (img->desc_size - 1)))) {
		bad(img, e, "group descriptor size %u is not one ext4 has", img->desc_size);
		goto out;
	}
	if (!img->bpg || (!(img->ro_compat & RO_COMPAT_BIGALLOC) && img->bpg > 8 * img->bs) ||
	    !img->ipg || img->ipg > 8 * img->bs || img->first_data >= img->blocks ||
	    img->first_data > 1) {
		bad(img, e, "impossible geometry (%u blocks and %u inodes a group, first block %u)",
		    img->bpg, img->ipg, img->first_data);
		goto out;
	}
	if (img->blocks > img->fsize / img->bs) {
		bad(img, e,
		    "the filesystem has %" PRIu64 " blocks of %u bytes but the file only %" PRIu64
		    " bytes",
		    img->blocks, img->bs, img->fsize);
		goto out;
	}
	{
		uint64_t groups = (img->blocks - img->first_data + img->bpg - 1) / img->bpg;

		if (groups * img->ipg > UINT32_MAX || img->inodes > groups * img->ipg ||
		    img->inodes < 11) {
			bad(img, e, "%u inodes do not fit %" PRIu64 " groups of %u", img->inodes,
			    groups, img->ipg);
			goto out;
		}
		img->groups = (uint32_t)groups;
	}
	rc = 0;
out:
	free(blk);
	return rc;
}

static bool power_of(uint64_t g, unsigned b)
{
	while (g % b == 0)
		g /= b;
	return g == 1;
}

static bool has_super(const struct ext4_img *img, uint64_t g)
{
	if (g == 0)
		return true;
	if (img->compat & COMPAT_SPARSE_SUPER2)
		return g == img->backup_bgs[0] || g == img->backup_bgs[1];
	if (g == 1 || !(img->ro_compat & RO_COMPAT_SPARSE_SUPER))
		return true;
	return (g & 1) && (power_of(g, 3) || power_of(g, 5) || power_of(g, 7));
}

/* Where descriptor block i is (the kernel's descriptor_loc): after the
 * primary superblock, or with meta_bg in the first group of its meta
 * group (after that group's superblock copy, when it has one). */
static uint64_t gdt_block(const struct ext4_img *img, uint64_t i)
{
	uint64_t g = i * (img->bs / img->desc_size), sb = img->bs == 1024 ? 1 : 0;

	if (!(img->incompat & INCOMPAT_META_BG) || i < img->first_meta_bg)
		return sb + 1 + i;
	return img->first_data + g * img->bpg + (has_super(img, g) ? 1 : 0) +
	       (img->bs == 1024 && g == 0 && img->first_data == 0 ? 1 : 0);
}

static int load_groups(struct ext4_img *img, struct err *e)
{
	uint32_t dpb = img->bs / img->desc_size;
	uint64_t itb = ((uint64_t)img->ipg * img->isize + img->bs - 1) / img->bs;
	bool unused_valid = img->ro_compat & (RO_COMPAT_GDT_CSUM | RO_COMPAT_METADATA_CSUM);
	uint8_t *blk = malloc(img->bs);

	free(img->itable);
	free(img->iused);
	img->itable = calloc(img->groups, sizeof(*img->itable));
	img->iused = calloc(img->groups, sizeof(*img->iused));
	if (!blk || !img->itable || !img->iused) {
		free(blk);
		return oom(e);
	}
	for (uint32_t g = 0; g < img->groups; g++) {
		const uint8_t *d;
		uint32_t flags, unused;
		uint64_t t;

		if (g % dpb == 0 && read_blocks(img, gdt_block(img, g / dpb), 1, blk, e) < 0) {
			free(blk);
			return -1;
		}
		d = blk + (size_t)(g % dpb) * img->desc_size;
		t = le32(d + 8);
		unused = le16(d + 0x1C);
		if (img->desc_size >= 64) {
			t |= (uint64_t)le32(d + 0x28) << 32;
			unused |= le16(d + 0x32) << 16;
		}
		flags = le16(d + 0x12);
		if (!t || t >= img->blocks || itb > img->blocks - t) {
			free(blk);
			return bad(img, e, "group %u: inode table at block %" PRIu64 " is outside",
				   g, t);
		}
		img->itable[g] = t;
		img->iused[g] = img->ipg;
		if (unused_valid) {
			if (unused > img->ipg) {
				free(blk);
				return bad(img, e, "group %u: %u unused inodes of %u", g, unused,
					   img->ipg);
			}
			img->iused[g] = flags & BG_INODE_UNINIT ? 0 : img->ipg - unused;
		}
	}
	free(blk);
	img->ib_no = UINT64_MAX;
	return 0;
}

/* --- inodes --- */

static void decode_time(const uint8_t *r, uint32_t base, uint32_t extra_off, uint32_t have,
			int64_t *sec, uint32_t *ns)
{
	*sec = (int32_t)le32(r + base);
	*ns = 0;
	if (extra_off + 4 <= have) {
		uint32_t x = le32(r + extra_off);

		*sec += (int64_t)(x & 3) << 32;
		*ns = x >> 2;
		if (*ns > 999999999)
			*ns = 0;
	}
}

/* The raw bytes of inode ino (in img->ib, valid until the next read). */
static int raw_inode(struct ext4_img *img, uint32_t ino, const uint8_t **r, struct err *e)
{
	uint32_t g, idx;
	uint64_t at, blk;

	if (ino == 0 || ino > img->inodes)
		return bad(img, e, "inode %u is out of range (1..%u)", ino, img->inodes);
	g = (ino - 1) / img->ipg;
	idx = (ino - 1) % img->ipg;
	if (idx >= img->iused[g])
		return bad(img, e, "inode %u is not in use (past its group's initialised inodes)",
			   ino);
	at = (uint64_t)idx * img->isize;
	blk = img->itable[g] + at / img->bs;
	if (blk != img->ib_no) {
		img->ib_no = UINT64_MAX;
		if (read_blocks(img, blk, 1, img->ib, e) < 0)
			return -1;
		img->ib_no = blk;
	}
	*r = img->ib + at % img->bs;
	return 0;
}

int ext4_img_inode(struct ext4_img *img, uint32_t ino, struct ext4_inode *in, struct err *e)
{
	const uint8_t *r;
	uint32_t have = 128, type;

	if (raw_inode(img, ino, &r, e) < 0)
		return -1;
	memset(in, 0, sizeof(*in));
	if (img->isize > 128) {
		uint32_t extra = le16(r + 128);

		if (extra > img->isize - 128 || (extra & 3))
			return bad(img, e, "inode %u: extra size %u does not fit", ino, extra);
		have = 128 + extra;
	}
	if (img->csum) {
		uint8_t g[4] = { 0 };
		uint32_t c, want = le16(r + 0x7C);

		memcpy(img->iraw, r, img->isize);
		put_le16(img->iraw + 0x7C, 0);
		if (have >= 0x84) {
			want |= le16(r + 0x82) << 16;
			put_le16(img->iraw + 0x82, 0);
		}
		put_le32(g, ino);
		c = ext4_crc32c(img->csum_seed, g, 4);
		c = ext4_crc32c(c, r + 0x64, 4); /* i_generation */
		c = ext4_crc32c(c, img->iraw, img->isize);
		if ((have >= 0x84 ? c : c & 0xffff) != want)
			return bad(img, e, "inode %u: checksum does not match", ino);
	}
	in->ino = ino;
	in->mode = le16(r);
	in->uid = le16(r + 2) | le16(r + 120) << 16;
	in->gid = le16(r + 24) | le16(r + 122) << 16;
	in->links = le16(r + 26);
	in->flags = le32(r + 32);
	in->size = le32(r + 4) | (uint64_t)le32(r + 108) << 32;
	in->sectors = le32(r + 28) | (uint64_t)le16(r + 116) << 32;
	if (in->flags & FL_HUGE_FILE)
		in->sectors *= img->bs / 512;
	in->xblock = le32(r + 104) | (uint64_t)le16(r + 118) << 32;
	memcpy(in->iblock, r + 40, 60);
	decode_time(r, 8, 140, have, &in->atime, &in->atime_ns);
	decode_time(r, 12, 132, have, &in->ctime, &in->ctime_ns);
	decode_time(r, 16, 136, have, &in->mtime, &in->mtime_ns);
	type = in->mode & S_IFMT;
	if (!in->mode || !in->links)
		return bad(img, e, "inode %u is free but still named", ino);
	if (type != S_IFREG && type != S_IFDIR && type != S_IFLNK && type != S_IFCHR &&
	    type != S_IFBLK && type != S_IFIFO && type != S_IFSOCK)
		return bad(img, e, "inode %u: unknown file type 0%o", ino, type);
	if (in->flags & (FL_INLINE_DATA | FL_EA_INODE))
		return bad(img, e,
			   "inode %u: inline data or an xattr inode, which banger cannot read",
			   ino);
	if (in->xblock && (in->xblock >= img->blocks || in->xblock <= img->first_data))
		return bad(img, e, "inode %u: xattr block %" PRIu64 " is outside", ino, in->xblock);
	if (type == S_IFCHR || type == S_IFBLK) {
		uint32_t old = le32(in->iblock), dev = le32(in->iblock + 4);

		if (old) {
			in->major = (old >> 8) & 0xff;
			in->minor = old & 0xff;
		} else {
			in->major = (dev & 0xfff00) >> 8;
			in->minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
		}
	}
	if (type != S_IFREG && type != S_IFDIR && type != S_IFLNK)
		in->size = 0;
	return 0;
}

/* --- block maps: extents and ext2/3 indirect blocks --- */

static int map_add(const struct ext4_img *img, struct map *m, uint64_t lblk, uint64_t pblk,
		   uint32_t len, bool uninit, struct err *e)
{
	struct run *last = m->n ? &m->v[m->n - 1] : NULL;

	if (!len)
		return bad(img, e, "inode %u: an empty extent", m->ino);
	if (lblk < m->next || lblk + len > ((uint64_t)1 << 32))
		return bad(img, e, "inode %u: extents overlap or are out of order", m->ino);
	if (pblk <= img->first_data || pblk >= img->blocks || len > img->blocks - pblk)
		return bad(img, e, "inode %u: blocks %" PRIu64 "+%u are outside the filesystem",
			   m->ino, pblk, len);
	m->mapped += len;
	if (m->mapped > img->blocks)
		return bad(img, e, "inode %u maps more blocks than the filesystem has", m->ino);
	m->next = lblk + len;
	if (last && last->lblk + (uint64_t)last->len == lblk && last->pblk + last->len == pblk &&
	    last->uninit == uninit && (uint64_t)last->len + len <= UINT32_MAX) {
		last->len += len;
		return 0;
	}
	if (m->n >= LIMIT_EXT4_EXTENTS)
		return bad(img, e, "inode %u has more than %u extents", m->ino, LIMIT_EXT4_EXTENTS);
	if (buf_array_room((void **)&m->v, &m->cap, m->n, sizeof(*m->v), SIZE_MAX, "extents", e) <
	    0)
		return -1;
	m->v[m->n++] = (struct run){ pblk, (uint32_t)lblk, len, uninit };
	return 0;
}

/* One extent tree node (the root in the inode: room 60 bytes, depth not
 * known yet: want -1). A node's children are one level lower; each node
 * read counts, and no tree may read more nodes than there are blocks. */
static int ext_node(const struct ext4_img *img, struct map *m, const uint8_t *n, size_t room,
		    int want, struct err *e)
{
	uint32_t cnt = le16(n + 2), max = le16(n + 4), depth = le16(n + 6);
	uint8_t *buf;
	int rc = 0;

	if (le16(n) != EXT_MAGIC)
		return bad(img, e, "inode %u: no extent header", m->ino);
	if (cnt > max || 12 + (size_t)max * 12 > room || depth > EXT_MAX_DEPTH ||
	    (want >= 0 && depth != (uint32_t)want))
		return bad(img, e, "inode %u: malformed extent node (%u of %u, depth %u)", m->ino,
			   cnt, max, depth);
	if (depth == 0) {
		for (uint32_t i = 0; i < cnt; i++) {
			const uint8_t *x = n + 12 + 12 * i;
			uint32_t raw = le16(x + 4);
			uint64_t pblk = (uint64_t)le16(x + 6) << 32 | le32(x + 8);
			bool uninit = raw > 32768;

			if (map_add(img, m, le32(x), pblk, uninit ? raw - 32768 : raw, uninit, e) <
			    0)
				return -1;
		}
		return 0;
	}
	if (!cnt)
		return bad(img, e, "inode %u: an empty extent index", m->ino);
	buf = malloc(img->bs);
	if (!buf)
		return oom(e);
	for (uint32_t i = 0; i < cnt && rc == 0; i++) {
		const uint8_t *x = n + 12 + 12 * i;
		uint64_t child = le32(x + 4) | (uint64_t)le16(x + 8) << 32;

		if (++m->nodes > img->blocks)
			rc = bad(img, e, "inode %u: its extent tree revisits blocks", m->ino);
		else if (child <= img->first_data)
			rc = bad(img, e, "inode %u: extent node at block %" PRIu64, m->ino, child);
		else if (read_blocks(img, child, 1, buf, e) < 0 ||
			 ext_node(img, m, buf, img->bs, (int)depth - 1, e) < 0)
			rc = -1;
	}
	free(buf);
	return rc;
}

/* An indirect block of the given level covering logical blocks from lbase. */
static int bmap_ind(const struct ext4_img *img, struct map *m, uint64_t blk, int level,
		    uint64_t lbase, uint64_t nblk, struct err *e)
{
	uint64_t per = img->bs / 4, span = 1;
	uint8_t *buf;
	int rc = 0;

	if (!blk || lbase >= nblk)
		return 0;
	if (++m->nodes > img->blocks)
		return bad(img, e, "inode %u: its block map revisits blocks", m->ino);
	if (blk <= img->first_data)
		return bad(img, e, "inode %u: indirect block %" PRIu64, m->ino, blk);
	for (int l = 1; l < level; l++)
		span *= per;
	buf = malloc(img->bs);
	if (!buf)
		return oom(e);
	if (read_blocks(img, blk, 1, buf, e) < 0) {
		free(buf);
		return -1;
	}
	for (uint64_t k = 0; k < per && rc == 0; k++) {
		uint64_t sub = lbase + k * span;
		uint32_t ptr = le32(buf + 4 * k);

		if (sub >= nblk)
			break;
		if (level == 1)
			rc = ptr ? map_add(img, m, sub, ptr, 1, false, e) : 0;
		else
			rc = bmap_ind(img, m, ptr, level - 1, sub, nblk, e);
	}
	free(buf);
	return rc;
}

static int bmap(const struct ext4_img *img, const struct ext4_inode *in, struct map *m,
		struct err *e)
{
	uint64_t per = img->bs / 4, nblk = (in->size + img->bs - 1) / img->bs;
	uint64_t most = 12 + per + per * per + per * per * per;

	if (nblk > most)
		nblk = most;
	for (uint64_t i = 0; i < 12 && i < nblk; i++)
		if (le32(in->iblock + 4 * i) &&
		    map_add(img, m, i, le32(in->iblock + 4 * i), 1, false, e) < 0)
			return -1;
	if (bmap_ind(img, m, le32(in->iblock + 48), 1, 12, nblk, e) < 0 ||
	    bmap_ind(img, m, le32(in->iblock + 52), 2, 12 + per, nblk, e) < 0 ||
	    bmap_ind(img, m, le32(in->iblock + 56), 3, 12 + per + per * per, nblk, e) < 0)
		return -1;
	return 0;
}

static void map_fini(struct map *m)
{
	free(m->v);
	memset(m, 0, sizeof(*m));
}

static int map_build(const struct ext4_img *img, const struct ext4_inode *in, struct map *m,
		     struct err *e)
{
	memset(m, 0, sizeof(*m));
	m->ino = in->ino;
	if (in->size > (uint64_t)img->bs << 32)
		return bad(img, e, "inode %u: size %" PRIu64 " is larger than ext4 allows", in->ino,
			   in->size);
	if ((in->flags & FL_EXTENTS) ? ext_node(img, m, in->iblock, 60, -1, e) < 0
				     : bmap(img, in, m, e) < 0) {
		map_fini(m);
		return -1;
	}
	return 0;
}

/* Calls fn with the file's initialised blocks in [0, size), whole runs at
 * a time cut into pieces of at most EXT4_READ_CHUNK. */
static int map_read(const struct ext4_img *img, const struct map *m, uint64_t size, uint8_t *buf,
		    ext4_data_fn fn, void *ud, struct err *e)
{
	uint32_t per = EXT4_READ_CHUNK / img->bs;

	for (size_t i = 0; i < m->n; i++) {
		const struct run *r = &m->v[i];

		if (r->uninit)
			continue;
		for (uint32_t done = 0; done < r->len;) {
			uint64_t off = ((uint64_t)r->lblk + done) * img->bs;
			uint32_t nb = r->len - done < per ? r->len - done : per;
			uint64_t len = (uint64_t)nb * img->bs;
			int rc;

			if (off >= size)
				return 0;
			if (len > size - off)
				len = size - off;
			if (read_blocks(img, r->pblk + done, nb, buf, e) < 0)
				return -1;
			rc = fn(off, buf, (size_t)len, ud, e);
			if (rc)
				return rc;
			done += nb;
		}
	}
	return 0;
}

int ext4_img_data(struct ext4_img *img, const struct ext4_inode *in, ext4_data_fn fn, void *ud,
		  struct err *e)
{
	struct map m;
	uint8_t *buf;
	int rc;

	if (!S_ISREG(in->mode))
		return bad(img, e, "inode %u is not a regular file", in->ino);
	if (map_build(img, in, &m, e) < 0)
		return -1;
	buf = malloc(EXT4_READ_CHUNK > img->bs ? EXT4_READ_CHUNK : img->bs);
	rc = buf ? map_read(img, &m, in->size, buf, fn, ud, e) : oom(e);
	free(buf);
	map_fini(&m);
	return rc;
}

/* --- symlinks --- */

struct fill {
	uint8_t *out;
	size_t len;
};

static int fill_piece(uint64_t off, const void *data, size_t len, void *ud, struct err *e)
{
	struct fill *f = ud;

	if (off < f->len)
		memcpy(f->out + off, data, len < f->len - off ? len : f->len - off);
	return 0;
}

int ext4_img_readlink(struct ext4_img *img, const struct ext4_inode *in, char *buf, size_t size,
		      struct err *e)
{
	uint64_t xs = in->xblock ? img->bs / 512 : 0;

	if (!S_ISLNK(in->mode))
		return bad(img, e, "inode %u is not a symlink", in->ino);
	if (!in->size || in->size >= size || in->size >= LIMIT_PATH)
		return bad(img, e, "inode %u: a symlink target of %" PRIu64 " bytes", in->ino,
			   in->size);
	memset(buf, 0, (size_t)in->size + 1);
	if (in->sectors <= xs) { /* fast: the target is in i_block */
		if (in->size >= 60)
			return bad(img, e, "inode %u: a %" PRIu64 "-byte symlink with no block",
				   in->ino, in->size);
		memcpy(buf, in->iblock, (size_t)in->size);
	} else {
		struct map m;
		struct fill f = { (uint8_t *)buf, (size_t)in->size };
		uint8_t *tmp = malloc(EXT4_READ_CHUNK > img->bs ? EXT4_READ_CHUNK : img->bs);
		int rc;

		if (!tmp)
			return oom(e);
		rc = map_build(img, in, &m, e);
		if (rc == 0)
			rc = map_read(img, &m, in->size, tmp, fill_piece, &f, e);
		free(tmp);
		map_fini(&m);
		if (rc < 0)
			return -1;
	}
	if (strlen(buf) != in->size)
		return bad(img, e, "inode %u: a symlink target with a NUL byte or a hole", in->ino);
	return 0;
}

/* --- extended attributes --- */

static const char *xattr_prefix(uint32_t index)
{
	switch (index) {
	case 1:
		return "user.";
	case 2:
		return "system.posix_acl_access";
	case 3:
		return "system.posix_acl_default";
	case 4:
		return "trusted.";
	case 6:
		return "security.";
	case 7:
		return "system.";
	case 8:
		return "system.richacl";
	default:
		return NULL;
	}
}

/* ext4's ACL (version 1: short entries without an id) back to the
 * kernel's xattr format (version 2, 8 bytes an entry). */
static int acl_from_ext4(const struct ext4_img *img, uint32_t ino, const uint8_t *v, size_t len,
			 uint8_t *out, size_t *olen, struct err *e)
{
	size_t o = 4;

	if (len < 4 || le32(v) != 1)
		return bad(img, e, "inode %u: a POSIX ACL not in ext4's format", ino);
	put_le32(out, 2);
	for (size_t off = 4; off < len;) {
		uint32_t tag, id = 0xffffffffu;

		if (off + 4 > len)
			return bad(img, e, "inode %u: a truncated POSIX ACL", ino);
		tag = le16(v + off);
		if (tag == 0x02 || tag == 0x08) { /* ACL_USER, ACL_GROUP */
			if (off + 8 > len)
				return bad(img, e, "inode %u: a truncated POSIX ACL", ino);
			id = le32(v + off + 4);
		} else if (tag != 0x01 && tag != 0x04 && tag != 0x10 && tag != 0x20) {
			return bad(img, e, "inode %u: a POSIX ACL entry of unknown tag 0x%x", ino,
				   tag);
		}
		memcpy(out + o, v + off, 4);
		put_le32(out + o + 4, id);
		o += 8;
		off += tag == 0x02 || tag == 0x08 ? 8 : 4;
	}
	*olen = o;
	return 0;
}

/* The entries of one xattr area (size bytes; values at offsets from its
 * start), beginning at first. */
static int xattr_area(const struct ext4_img *img, uint32_t ino, const uint8_t *area, size_t size,
		      size_t first, ext4_xattr_fn fn, void *ud, struct err *e)
{
	char name[LIMIT_NAME + 32];
	uint8_t *acl = NULL;
	int rc = 0;

	for (size_t off = first; rc == 0 && off + 4 <= size && le32(area + off);) {
		uint32_t nlen, index, voff, vsize;
		const char *prefix;
		const void *val;
		size_t esz, vlen;

		if (off + 16 > size) {
			rc = bad(img, e, "inode %u: an xattr entry runs past its area", ino);
			break;
		}
		nlen = area[off];
		index = area[off + 1];
		voff = le16(area + off + 2);
		vsize = le32(area + off + 8);
		esz = (16 + nlen + 3) & ~(size_t)3;
		prefix = xattr_prefix(index);
		if (off + esz > size || (vsize && ((size_t)voff > size || vsize > size - voff))) {
			rc = bad(img, e, "inode %u: an xattr runs past its area", ino);
			break;
		}
		if (le32(area + off + 4)) {
			rc = bad(img, e, "inode %u: an xattr value in an inode (ea_inode)", ino);
			break;
		}
		if (!prefix || memchr(area + off + 16, 0, nlen) ||
		    ((index == 2 || index == 3) && nlen)) {
			rc = bad(img, e, "inode %u: an xattr of unknown namespace %u or a bad name",
				 ino, index);
			break;
		}
		if (vsize > LIMIT_XATTR_VALUE) {
			rc = bad(img, e, "inode %u: an xattr value over %d bytes", ino,
				 LIMIT_XATTR_VALUE);
			break;
		}
		snprintf(name, sizeof(name), "%s%.*s", prefix, (int)nlen,
			 (const char *)area + off + 16);
		val = area + voff;
		vlen = vsize;
		if (index == 2 || index == 3) {
			free(acl);
			acl = malloc(2 * (size_t)vsize + 8);
			if (!acl) {
				rc = oom(e);
				break;
			}
			if (acl_from_ext4(img, ino, area + voff, vsize, acl, &vlen, e) < 0) {
				rc = -1;
				break;
			}
			val = acl;
		}
		rc = fn(name, val, vlen, ud, e);
		off += esz;
	}
	free(acl);
	return rc;
}

int ext4_img_xattrs(struct ext4_img *img, const struct ext4_inode *in, ext4_xattr_fn fn, void *ud,
		    struct err *e)
{
	uint8_t *buf = malloc(img->bs > img->isize ? img->bs : img->isize);
	const uint8_t *r;
	int rc = 0;

	if (!buf)
		return oom(e);
	if (img->isize > 128) {
		uint32_t start;

		if (raw_inode(img, in->ino, &r, e) < 0) {
			free(buf);
			return -1;
		}
		start = 128 + le16(r + 128);
		memcpy(buf, r, img->isize); /* fn may read the image */
		if (start + 4 <= img->isize && le32(buf + start) == XATTR_MAGIC)
			rc = xattr_area(img, in->ino, buf + start + 4, img->isize - start - 4, 0,
					fn, ud, e);
	}
	if (rc == 0 && in->xblock) {
		if (read_blocks(img, in->xblock, 1, buf, e) < 0)
			rc = -1;
		else if (le32(buf) != XATTR_MAGIC || le32(buf + 8) != 1)
			rc = bad(img, e, "inode %u: xattr block %" PRIu64 " has no xattr header",
				 in->ino, in->xblock);
		else
			rc = xattr_area(img, in->ino, buf, img->bs, 32, fn, ud, e);
	}
	free(buf);
	return rc;
}

/* --- directories --- */

typedef int (*dirent_fn)(const struct ext4_img *img, const char *name, uint32_t len, uint32_t ino,
			 uint8_t type, void *ud, struct err *e);

/* The entries of one directory block. */
static int dir_block(const struct ext4_img *img, uint32_t dino, uint64_t lblk, const uint8_t *b,
		     dirent_fn fn, void *ud, struct err *e)
{
	for (uint32_t off = 0; off < img->bs;) {
		uint32_t ino, rl, nlen, type;
		const char *name;
		int rc;

		if (off + 8 > img->bs)
			return bad(img, e, "directory inode %u: block %" PRIu64 " ends in an entry",
				   dino, lblk);
		ino = le32(b + off);
		rl = le16(b + off + 4);
		if (img->bs >= 65536 && (rl == 65535 || rl == 0))
			rl = 65536;
		else if (img->bs >= 65536)
			rl = (rl & 65532) | ((rl & 3) << 16);
		nlen = b[off + 6];
		type = b[off + 7];
		if (!(img->incompat & INCOMPAT_FILETYPE)) {
			nlen |= type << 8;
			type = 0;
		}
		if (rl < 12 || (rl & 3) || rl > img->bs - off)
			return bad(img, e,
				   "directory inode %u: a malformed entry in block %" PRIu64
				   " at %u",
				   dino, lblk, off);
		name = (const char *)b + off + 8;
		off += rl;
		if (!ino)
			continue;
		if (!nlen || nlen > LIMIT_NAME || 8 + nlen > rl || ino > img->inodes)
			return bad(img, e,
				   "directory inode %u: a malformed entry in block %" PRIu64, dino,
				   lblk);
		if ((nlen == 1 && name[0] == '.') ||
		    (nlen == 2 && name[0] == '.' && name[1] == '.'))
			continue;
		if (memchr(name, '/', nlen) || memchr(name, 0, nlen))
			return bad(img, e, "directory inode %u: a name with '/' or NUL in it",
				   dino);
		rc = fn(img, name, nlen, ino, (uint8_t)type, ud, e);
		if (rc)
			return rc;
	}
	return 0;
}

static int dir_scan(struct ext4_img *img, const struct ext4_inode *dir, dirent_fn fn, void *ud,
		    struct err *e)
{
	uint64_t nblk = (dir->size + img->bs - 1) / img->bs;
	struct map m;
	uint8_t *buf;
	int rc = 0;

	if (!S_ISDIR(dir->mode))
		return bad(img, e, "inode %u is not a directory", dir->ino);
	if (map_build(img, dir, &m, e) < 0)
		return -1;
	buf = malloc(img->bs);
	if (!buf) {
		map_fini(&m);
		return oom(e);
	}
	for (size_t i = 0; i < m.n && rc == 0; i++)
		for (uint32_t k = 0; k < m.v[i].len && rc == 0 && !m.v[i].uninit; k++) {
			uint64_t lblk = (uint64_t)m.v[i].lblk + k;

			if (lblk >= nblk)
				break;
			rc = read_blocks(img, m.v[i].pblk + k, 1, buf, e);
			if (rc == 0)
				rc = dir_block(img, dir->ino, lblk, buf, fn, ud, e);
		}
	free(buf);
	map_fini(&m);
	return rc;
}

struct lister {
	struct ext4_dir *d;
	size_t cap;
	struct buf pool; /* the names, NUL-terminated */
	uint32_t dino;
};

static int list_one(const struct ext4_img *img, const char *name, uint32_t len, uint32_t ino,
		    uint8_t type, void *ud, struct err *e)
{
	struct lister *l = ud;
	struct ext4_dir *d = l->d;
	size_t at = l->pool.len;

	if (d->n == LIMIT_EXT4_DIR_ENTRIES)
		return bad(img, e, "directory inode %u has more than %u entries", l->dino,
			   LIMIT_EXT4_DIR_ENTRIES);
	if (buf_array_room((void **)&d->v, &l->cap, d->n, sizeof(*d->v), SIZE_MAX, "directory", e) <
		    0 ||
	    buf_append(&l->pool, name, len, e) < 0 || buf_append(&l->pool, "", 1, e) < 0)
		return -1;
	/* the pool moves as it grows: offsets until the end */
	d->v[d->n++] = (struct ext4_dirent){ (const char *)(uintptr_t)at, len, ino, type };
	return 0;
}

static int dirent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ext4_dirent *)a)->name, ((const struct ext4_dirent *)b)->name);
}

int ext4_img_list(struct ext4_img *img, const struct ext4_inode *dir, struct ext4_dir *out,
		  struct err *e)
{
	struct lister l = { .d = out, .dino = dir->ino };
	int rc;

	memset(out, 0, sizeof(*out));
	buf_init(&l.pool, (size_t)LIMIT_EXT4_DIR_ENTRIES * (LIMIT_NAME + 1), "directory names");
	rc = dir_scan(img, dir, list_one, &l, e);
	out->pool = buf_steal(&l.pool, NULL);
	if (rc < 0 || !out->pool) {
		ext4_dir_fini(out);
		return rc < 0 ? -1 : oom(e);
	}
	for (size_t i = 0; i < out->n; i++)
		out->v[i].name = out->pool + (uintptr_t)out->v[i].name;
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), dirent_cmp);
	for (size_t i = 1; i < out->n; i++)
		if (!strcmp(out->v[i - 1].name, out->v[i].name)) {
			bad(img, e, "directory inode %u names '%s' twice", dir->ino,
			    out->v[i].name);
			ext4_dir_fini(out);
			return -1;
		}
	return 0;
}

void ext4_dir_fini(struct ext4_dir *d)
{
	free(d->v);
	free(d->pool);
	memset(d, 0, sizeof(*d));
}

const struct ext4_dirent *ext4_dir_find(const struct ext4_dir *d, const char *name, size_t len)
{
	size_t lo = 0, hi = d->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct ext4_dirent *x = &d->v[mid];
		int c = memcmp(x->name, name, x->len < len ? x->len : len);

		if (!c)
			c = x->len < len ? -1 : x->len > len;
		if (!c)
			return x;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct finder {
	const char *name;
	uint32_t len, ino;
};

static int find_one(const struct ext4_img *img, const char *name, uint32_t len, uint32_t ino,
		    uint8_t type, void *ud, struct err *e)
{
	struct finder *f = ud;

	if (len != f->len || memcmp(name, f->name, len))
		return 0;
	f->ino = ino;
	return 1;
}

int ext4_img_lookup(struct ext4_img *img, const char *path, struct ext4_inode *out, struct err *e)
{
	const char *p = path;

	if (ext4_img_inode(img, EXT4_ROOT_INO, out, e) < 0)
		return -1;
	for (;;) {
		struct finder f;
		size_t len;
		int rc;

		while (*p == '/')
			p++;
		if (!*p)
			return 1;
		len = strcspn(p, "/");
		if (!S_ISDIR(out->mode) || len > LIMIT_NAME)
			return 0;
		f = (struct finder){ p, (uint32_t)len, 0 };
		rc = dir_scan(img, out, find_one, &f, e);
		if (rc <= 0)
			return rc;
		if (ext4_img_inode(img, f.ino, out, e) < 0)
			return -1;
		p += len;
	}
}

/* --- loops --- */

void ext4_dirset_init(struct ext4_dirset *s)
{
	memset(s, 0, sizeof(*s));
}

void ext4_dirset_fini(struct ext4_dirset *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static uint32_t *dirset_slot(uint32_t *v, size_t cap, uint32_t ino)
{
	size_t i = (ino * 2654435761u) & (cap - 1);

	while (v[i] && v[i] != ino)
		i = (i + 1) & (cap - 1);
	return &v[i];
}

int ext4_dirset_add(struct ext4_dirset *s, uint32_t ino, const char *what, struct err *e)
{
	uint32_t *slot;

	if ((s->n + 1) * 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		uint32_t *v = calloc(cap, sizeof(*v));

		if (!v)
			return err_set(e, EXIT_SYSTEM, "out of memory");
		for (size_t i = 0; i < s->cap; i++)
			if (s->v[i])
				*dirset_slot(v, cap, s->v[i]) = s->v[i];
		free(s->v);
		s->v = v;
		s->cap = cap;
	}
	slot = dirset_slot(s->v, s->cap, ino);
	if (*slot)
		return err_set(e, EXIT_VERIFY,
			       "%s: directory inode %u is reached twice (a loop, or a directory "
			       "with two names)",
			       what, ino);
	*slot = ino;
	s->n++;
	return 0;
}

/* --- the walk --- */

struct walker {
	struct ext4_img *img;
	ext4_walk_fn fn;
	void *ud;
	char path[LIMIT_PATH];
	char target[LIMIT_PATH];
	struct ext4_dirset seen;
};

static int visit(struct walker *w, const char *name, const struct ext4_inode *in, size_t plen,
		 int depth, struct err *e)
{
	struct ext4_entry en = { w->path, name, "", *in, depth };
	struct ext4_dir d;
	int rc;

	if (S_ISLNK(in->mode)) {
		if (ext4_img_readlink(w->img, in, w->target, sizeof(w->target), e) < 0)
			return -1;
		en.target = w->target;
	}
	rc = w->fn(w->img, &en, w->ud, e);
	if (rc == EXT4_WALK_SKIP || !S_ISDIR(in->mode))
		return rc == EXT4_WALK_SKIP ? 0 : rc;
	if (rc)
		return rc;
	if (depth >= LIMIT_EXT4_DEPTH)
		return bad(w->img, e, "%s: deeper than %d directories", w->path, LIMIT_EXT4_DEPTH);
	if (ext4_dirset_add(&w->seen, in->ino, w->img->what, e) < 0 ||
	    ext4_img_list(w->img, in, &d, e) < 0)
		return -1;
	for (size_t i = 0; i < d.n && rc == 0; i++) {
		struct ext4_inode child;
		size_t at = plen == 1 ? 1 : plen + 1;

		if (at + d.v[i].len >= sizeof(w->path)) {
			rc = bad(w->img, e, "%s: a path over %d bytes", w->path, LIMIT_PATH);
			break;
		}
		if (ext4_img_inode(w->img, d.v[i].ino, &child, e) < 0) {
			rc = -1;
			break;
		}
		if (plen != 1)
			w->path[plen] = '/';
		memcpy(w->path + at, d.v[i].name, d.v[i].len + 1);
		rc = visit(w, w->path + at, &child, at + d.v[i].len, depth + 1, e);
		w->path[plen] = '\0';
		if (plen == 1)
			w->path[1] = '\0';
	}
	ext4_dir_fini(&d);
	return rc;
}

int ext4_img_walk(struct ext4_img *img, const char *path, ext4_walk_fn fn, void *ud, struct err *e)
{
	struct walker *w = calloc(1, sizeof(*w));
	struct ext4_inode in;
	size_t len;
	int rc;

	if (!w)
		return oom(e);
	w->img = img;
	w->fn = fn;
	w->ud = ud;
	ext4_dirset_init(&w->seen);
	rc = ext4_img_lookup(img, path, &in, e);
	if (rc == 0)
		rc = err_set(e, EXIT_NOTFOUND, "%s: no %s in it", img->what, path);
	if (rc > 0) {
		/* the path as given, without trailing slashes; "/" for the root */
		len = strlen(path);
		while (len > 1 && path[len - 1] == '/')
			len--;
		if (len >= sizeof(w->path) || path[0] != '/') {
			rc = err_set(e, EXIT_USAGE, "%s: not an absolute path", path);
		} else {
			memcpy(w->path, path, len);
			w->path[len] = '\0';
			rc = visit(w, strrchr(w->path, '/') + 1, &in, len, 0, e);
		}
	}
	ext4_dirset_fini(&w->seen);
	free(w);
	return rc;
}

/* --- the journal --- */

static uint32_t jnext(const struct ext4_img *img, uint32_t blk, uint32_t first)
{
	return blk + 1 >= img->jlen ? first : blk + 1;
}

struct jscan {
	struct jent *v;
	size_t n, cap;
	struct jent *rv; /* revoked blocks (fsblk, seq) */
	size_t rn, rcap;
};

static int jpush(struct jent **v, size_t *n, size_t *cap, struct jent x, struct err *e)
{
	if (buf_array_room((void **)v, cap, *n, sizeof(**v), SIZE_MAX, "journal", e) < 0)
		return -1;
	x.order = *n;
	(*v)[(*n)++] = x;
	return 0;
}

static int jent_cmp(const void *a, const void *b)
{
	const struct jent *x = a, *y = b;

	if (x->fsblk != y->fsblk)
		return x->fsblk < y->fsblk ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Keeps, for each block, its last logged copy unless a revoke cancels it
 * (jbd2's recovery: a revoke in transaction T cancels the copies logged in
 * T and before). Hands the sorted result to img. */
static void jsettle(struct ext4_img *img, struct jscan *s)
{
	size_t out = 0, r = 0;

	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), jent_cmp);
	if (s->rn)
		qsort(s->rv, s->rn, sizeof(*s->rv), jent_cmp);
	for (size_t i = 0; i < s->n; i++) {
		bool revoked = false;

		if (i + 1 < s->n && s->v[i + 1].fsblk == s->v[i].fsblk)
			continue; /* a later copy wins */
		while (r < s->rn && s->rv[r].fsblk < s->v[i].fsblk)
			r++;
		for (size_t k = r; k < s->rn && s->rv[k].fsblk == s->v[i].fsblk; k++)
			if (s->rv[k].seq - s->v[i].seq < 0x80000000u) /* revoke seq >= copy seq */
				revoked = true;
		if (!revoked)
			s->v[out++] = s->v[i];
	}
	img->j = s->v;
	img->nj = out;
	s->v = NULL;
}

static int load_journal(struct ext4_img *img, struct err *e)
{
	struct ext4_inode ji;
	struct jscan s = { 0 }, pend = { 0 };
	uint8_t *b = NULL;
	uint32_t first, seq, start, fin = 0, tagsz = 12, steps = 0, blk;
	int rc = -1;

	if (!(img->incompat & INCOMPAT_RECOVER))
		return 0;
	if (!img->journal_ino)
		return err_set(e, EXIT_VERIFY,
			       "%s: needs its journal replayed, but the journal is external "
			       "— run e2fsck with it",
			       img->what);
	if (ext4_img_inode(img, img->journal_ino, &ji, e) < 0)
		return -1;
	if (!S_ISREG(ji.mode))
		return bad(img, e, "the journal inode is not a file");
	if (map_build(img, &ji, &img->jmap, e) < 0)
		return -1;
	if (!(b = malloc(img->bs)))
		return oom(e);
	img->jlen = (uint32_t)(ji.size / img->bs < LIMIT_EXT4_JOURNAL ? ji.size / img->bs
								      : LIMIT_EXT4_JOURNAL);
	if (read_jblock(img, 0, b, e) < 0)
		goto out;
	if (be32(b) != JBD2_MAGIC || (be32(b + 4) != JBD2_SB_V1 && be32(b + 4) != JBD2_SB_V2) ||
	    be32(b + 0xC) != img->bs) {
		bad(img, e, "the journal has no journal superblock");
		goto out;
	}
	if (be32(b + 0x10) < img->jlen)
		img->jlen = be32(b + 0x10);
	first = be32(b + 0x14);
	seq = be32(b + 0x18);
	start = be32(b + 0x1C);
	if (be32(b + 4) == JBD2_SB_V2)
		fin = be32(b + 0x28);
	if (!start) { /* nothing logged */
		rc = 0;
		goto out;
	}
	if (fin & JBD2_FAST_COMMIT) {
		err_set(e, EXIT_VERIFY,
			"%s: its journal holds fast commits, which banger cannot replay — run "
			"e2fsck -fy on it",
			img->what);
		goto out;
	}
	if (fin & ~(JBD2_REVOKE_F | JBD2_64BIT | JBD2_ASYNC_COMMIT | JBD2_CSUM_V2 | JBD2_CSUM_V3)) {
		bad(img, e, "its journal uses features banger does not know (0x%x)", fin);
		goto out;
	}
	if (!first || first >= img->jlen || start < first || start >= img->jlen) {
		bad(img, e, "the journal's log start %u is outside it", start);
		goto out;
	}
	if (fin & JBD2_CSUM_V3)
		tagsz = 16;
	else
		tagsz = (fin & JBD2_CSUM_V2 ? 14 : 12) - (fin & JBD2_64BIT ? 0 : 4);
	blk = start;
	/* One pass: a transaction's copies and revokes count once its commit
	 * block is found; the log ends at the first block out of sequence. */
	while (steps++ < img->jlen) {
		uint32_t type;

		if (read_jblock(img, blk, b, e) < 0)
			goto out;
		if (be32(b) != JBD2_MAGIC || be32(b + 8) != seq)
			break;
		type = be32(b + 4);
		blk = jnext(img, blk, first);
		if (type == JBD2_DESCRIPTOR) {
			uint32_t end = img->bs - (fin & (JBD2_CSUM_V2 | JBD2_CSUM_V3) ? 4 : 0);

			for (uint32_t off = 12; off + tagsz <= end;) {
				const uint8_t *t = b + off;
				uint32_t flags = fin & JBD2_CSUM_V3 ? be32(t + 4) : be16(t + 6);
				uint64_t to = be32(t);

				if (fin & JBD2_64BIT)
					to |= (uint64_t)be32(t + 8) << 32;
				if (to >= img->blocks) {
					bad(img, e, "the journal logs block %" PRIu64 ", outside",
					    to);
					goto out;
				}
				if (jpush(&pend.v, &pend.n, &pend.cap,
					  (struct jent){ to, blk, seq, 0,
							 flags & JBD2_FLAG_ESCAPE },
					  e) < 0)
					goto out;
				blk = jnext(img, blk, first);
				if (++steps > img->jlen)
					break;
				off += tagsz + (flags & JBD2_FLAG_SAME_UUID ? 0 : 16);
				if (flags & JBD2_FLAG_LAST_TAG)
					break;
			}
		} else if (type == JBD2_REVOKE) {
			uint32_t used = be32(b + 12), w = fin & JBD2_64BIT ? 8 : 4;

			if (used > img->bs || used < 16) {
				bad(img, e, "a malformed journal revoke block");
				goto out;
			}
			for (uint32_t off = 16; off + w <= used; off += w) {
				uint64_t r = be32(b + off);

				if (w == 8)
					r = r << 32 | be32(b + off + 4);
				if (jpush(&pend.rv, &pend.rn, &pend.rcap,
					  (struct jent){ r, 0, seq, 0, false }, e) < 0)
					goto out;
			}
		} else if (type == JBD2_COMMIT) {
			for (size_t i = 0; i < pend.n; i++)
				if (jpush(&s.v, &s.n, &s.cap, pend.v[i], e) < 0)
					goto out;
			for (size_t i = 0; i < pend.rn; i++)
				if (jpush(&s.rv, &s.rn, &s.rcap, pend.rv[i], e) < 0)
					goto out;
			pend.n = pend.rn = 0;
			seq++;
			img->replayed = true;
		} else {
			break;
		}
	}
	jsettle(img, &s);
	rc = 0;
out:
	free(pend.v);
	free(pend.rv);
	free(s.v);
	free(s.rv);
	free(b);
	return rc;
}

/* --- open and close --- */

struct ext4_img *ext4_img_open_fd(int fd, const char *what, struct err *e)
{
	struct ext4_img *img = calloc(1, sizeof(*img));
	off_t end;

	if (!img) {
		oom(e);
		return NULL;
	}
	img->fd = fd;
	img->ib_no = UINT64_MAX;
	snprintf(img->what, sizeof(img->what), "%s", what);
	end = lseek(fd, 0, SEEK_END);
	if (end < 0) {
		err_errno(e, EXIT_SYSTEM, "%s: cannot seek", what);
		goto fail;
	}
	img->fsize = (uint64_t)end;
	if (img->fsize < SB_OFF + 1024) {
		bad(img, e, "not an ext2/3/4 filesystem (%" PRIu64 " bytes)", img->fsize);
		goto fail;
	}
	if (load_super(img, e) < 0)
		goto fail;
	img->ib = malloc(img->bs);
	img->iraw = malloc(img->isize);
	if (!img->ib || !img->iraw) {
		oom(e);
		goto fail;
	}
	if (load_groups(img, e) < 0 || load_journal(img, e) < 0)
		goto fail;
	/* What the journal holds may be newer superblock and descriptors
	 * (counts, a group's inodes coming into use, a resize). */
	if (img->nj && (load_super(img, e) < 0 || load_groups(img, e) < 0))
		goto fail;
	return img;
fail:
	ext4_img_close(img);
	return NULL;
}

struct ext4_img *ext4_img_open(const char *path, struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct ext4_img *img;

	if (fd < 0) {
		err_errno(e, 0, "%s: cannot open", path);
		return NULL;
	}
	img = ext4_img_open_fd(fd, path, e);
	if (!img) {
		close(fd);
		return NULL;
	}
	img->own_fd = true;
	return img;
}

void ext4_img_close(struct ext4_img *img)
{
	if (!img)
		return;
	if (img->own_fd)
		close(img->fd);
	free(img->itable);
	free(img->iused);
	free(img->ib);
	free(img->iraw);
	free(img->j);
	map_fini(&img->jmap);
	free(img);
}

bool ext4_img_replayed(const struct ext4_img *img)
{
	return img->replayed;
}
