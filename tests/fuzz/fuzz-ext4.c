/* fuzz-ext4 — lib/ext4/ext4.c: random trees through the writer. After a
 * header (fixed size or not, label, time) the input is a list of
 * operations: directories, regular files of any size written in pieces
 * (holes, rewrites, tails of huge sparse files), short and long symlinks,
 * devices, FIFOs, sockets, hard links, xattrs and POSIX ACLs, removals,
 * attribute changes, a directory of thousands of entries, a deep chain.
 * Names include long ones, odd bytes, "lost+found" and invalid ones; each
 * is placed against an unreadable page. Every operation is also applied
 * to a model of the tree. Invariants: the writer refuses exactly what the
 * model calls invalid (with a message) and accepts the rest; lookups,
 * stat and usage agree with the model; the finished image, read back
 * here from its raw blocks, holds the model's tree: superblock, group
 * descriptor, bitmap, inode, directory, extent and xattr checksums; each
 * inode's type, mode, owner, times, size, links, device, target, bytes
 * (holes unallocated) and xattrs; each directory's entries exactly, its
 * htree leading to every name; /lost+found a directory; every block used
 * once and counted, every inode in use in the tree. With FUZZ_EXT4_FSCK=1
 * e2fsck -fn must pass as well (slow: for occasional runs, small inputs). */
#include "fuzz.h"

#include "err.h"
#include "exitcode.h"
#include "ext4/ext4.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define BS EXT4_BLOCK
#define BPG 32768u
#define MIB ((uint64_t)1 << 20)
#define MAX_NODES 12000
#define MAX_DENTS 12000
#define MAX_OPS 400
#define MAX_DATA 2304			     /* blocks one input may write: more than 8 MiB */
#define MAX_FILE ((uint64_t)0xffffffff * BS) /* 2^32 - 1 blocks, as the kernel's s_maxbytes */
#define MAX_XVAL (BS - 32 - 16 - 255 - 8)
#define TIME_MIN (-((int64_t)1 << 31))
#define TIME_MAX (((int64_t)1 << 31) - 1 + ((int64_t)3 << 32))
#define FL_INDEX 0x1000
#define FL_EXTENTS 0x80000

/* --- the input --- */

struct in {
	const uint8_t *p;
	size_t n, off;
};

static uint32_t u8(struct in *in)
{
	return in->off < in->n ? in->p[in->off++] : 0;
}

static uint32_t u16(struct in *in)
{
	uint32_t v = u8(in);

	return v | u8(in) << 8;
}

static uint64_t u64(struct in *in, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)u8(in) << (8 * i);
	return v;
}

/* --- the model --- */

struct mblk {
	uint32_t lblk;
	uint8_t *b;
};

struct mxa {
	uint8_t index, nlen;
	char name[256];
	uint8_t *val;
	uint32_t len;
};

struct mnode {
	bool alive;
	uint32_t ino, links;
	struct ext4_attr a;
	char *target;
	struct mblk *blk; /* written blocks, by lblk */
	uint32_t nblk;
	struct mxa *xa;
	uint32_t nxa;
};

struct mdent {
	bool alive;
	uint32_t dir, node; /* model indexes */
	uint8_t len;
	char name[255];
};

static struct {
	struct mnode n[MAX_NODES + 1]; /* + the lost+found ext4_finish may make */
	struct mdent d[MAX_DENTS + 1];
	uint32_t nn, nd, data, ht[1 << 15]; /* ht: dent index + 1 by (dir, name) */
	bool fixed, stop;
	int64_t time;
	char label[17];
} m;

static struct ext4_fs *fs;

static uint32_t name_hash(uint32_t dir, const char *name, size_t len)
{
	uint32_t h = 2166136261u ^ dir;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)name[i]) * 16777619u;
	return h;
}

/* The slot of (dir, name) in m.ht: its live entry, or an empty one. */
static uint32_t *m_slot(uint32_t dir, const char *name, size_t len)
{
	uint32_t mask = (1u << 15) - 1;

	for (uint32_t i = name_hash(dir, name, len) & mask;; i = (i + 1) & mask) {
		const struct mdent *d = m.ht[i] ? &m.d[m.ht[i] - 1] : NULL;

		if (!d || (d->dir == dir && d->len == len && !memcmp(d->name, name, len)))
			return &m.ht[i];
	}
}

static bool is_dir(uint32_t node)
{
	return S_ISDIR(m.n[node].a.mode);
}

static bool valid_name(const char *name, size_t len)
{
	return len && len <= 255 && !memchr(name, '/', len) && !memchr(name, 0, len) &&
	       !(len == 1 && name[0] == '.') && !(len == 2 && !memcmp(name, "..", 2));
}

/* What ext4 keeps at the root for e2fsck can only be a directory. */
static bool lpf_clash(uint32_t dir, const char *name, size_t len, uint32_t mode)
{
	return dir == 0 && len == 10 && !memcmp(name, "lost+found", 10) && !S_ISDIR(mode);
}

/* Whether a name may be added to dir: a directory that lacks it. */
static bool can_add(uint32_t dir, const char *name, size_t len)
{
	return is_dir(dir) && valid_name(name, len) && !*m_slot(dir, name, len);
}

static uint32_t m_node(uint32_t ino, const struct ext4_attr *a)
{
	struct mnode *n = &m.n[m.nn];

	memset(n, 0, sizeof(*n));
	n->alive = true;
	n->ino = ino;
	n->a = *a;
	n->a.atime_ns %= 1000000000u;
	n->a.mtime_ns %= 1000000000u;
	n->a.ctime_ns %= 1000000000u;
	if (a->symlink) {
		n->target = strdup(a->symlink);
		n->a.symlink = n->target;
		n->a.size = strlen(a->symlink);
	}
	if (!S_ISREG(a->mode) && !S_ISLNK(a->mode))
		n->a.size = 0;
	return m.nn++;
}

static void m_dent(uint32_t dir, const char *name, size_t len, uint32_t node)
{
	struct mdent *d = &m.d[m.nd];

	d->alive = true;
	d->dir = dir;
	d->node = node;
	d->len = (uint8_t)len;
	memcpy(d->name, name, len);
	*m_slot(dir, name, len) = ++m.nd;
	m.n[node].links++;
}

static void m_kill(uint32_t node)
{
	struct mnode *n = &m.n[node];

	for (uint32_t i = 0; i < n->nblk; i++)
		free(n->blk[i].b);
	for (uint32_t i = 0; i < n->nxa; i++)
		free(n->xa[i].val);
	m.data -= n->nblk + (n->target && n->a.size >= 60);
	free(n->blk);
	free(n->xa);
	free(n->target);
	memset(n, 0, sizeof(*n));
}

/* Removes dent id, and with the last link its node (a directory with
 * everything below it), as ext4_remove does. */
static void m_remove(uint32_t id)
{
	struct mdent *d = &m.d[id];
	uint32_t node = d->node, mask = (1u << 15) - 1, *s = m_slot(d->dir, d->name, d->len);

	*s = 0;
	d->alive = false;
	/* the rest of the probe run moves up into the emptied slot */
	for (uint32_t i = ((uint32_t)(s - m.ht) + 1) & mask; m.ht[i]; i = (i + 1) & mask) {
		uint32_t v = m.ht[i];
		const struct mdent *o = &m.d[v - 1];

		m.ht[i] = 0;
		*m_slot(o->dir, o->name, o->len) = v;
	}
	if (is_dir(node))
		for (uint32_t k = 0; k < m.nd; k++)
			if (m.d[k].alive && m.d[k].dir == node)
				m_remove(k);
	if (--m.n[node].links == 0 || is_dir(node))
		m_kill(node);
}

/* --- driving the writer --- */

/* rc as the model expects: ok, or a refusal that says why. A fixed-size
 * image may run out of room (EXIT_USAGE) anywhere: then the run stops. */
static bool trace; /* FUZZ_EXT4_TRACE=1: each call and its outcome on stderr */

static bool expect(int rc, bool ok, const struct err *e, const char *what, const char *name,
		   size_t len)
{
	bool full = rc && m.fixed && e->code == EXIT_USAGE;

	if (trace || (ok != !rc && !full))
		fprintf(stderr, "%s '%.*s': %s%s%s\n", what, (int)len, name,
			rc ? "refused: " : "accepted", rc ? e->msg : "",
			ok == !rc || full ? "" : " -- not what the model says");
	if (full) {
		m.stop = true;
		return false;
	}
	FUZZ_CHECK(ok ? rc == 0 : rc == -1 && e->msg[0]);
	return ok;
}

static const char *const odd_names[] = {
	"",	  ".",	       "..", "a/b", "/",       "\xc3\xa9t\xc3\xa9", "\xff\xfe",
	"sp ace", "new\nline", "-",  "...", ".hidden", "lost+found"
};

/* A name into buf (at least 300 bytes); its length. */
static size_t gen_name(struct in *in, char *buf)
{
	uint32_t c = u8(in) % 16, len;

	if (c < 5) /* most often one of a few short names, so they collide */
		return (size_t)snprintf(buf, 300, "n%u", u8(in) % 40);
	switch (c) {
	case 5:
		memcpy(buf, "lost+found", 10);
		return 10;
	case 6:
	case 7: /* long, up to the limit and one past it */
		len = c == 6 ? 200 + u8(in) % 57 : 255 + u8(in) % 2;
		memset(buf, 'L', len);
		buf[0] = (char)('a' + u8(in) % 26);
		return len;
	case 8:
		c = u8(in) % (sizeof(odd_names) / sizeof(odd_names[0]));
		len = (uint32_t)strlen(odd_names[c]);
		memcpy(buf, odd_names[c], len);
		return len;
	case 9:
		memcpy(buf, "a\0b", 3);
		return 3;
	case 10: /* raw bytes: '/' and NUL included */
		len = 1 + u8(in) % 24;
		for (uint32_t i = 0; i < len; i++)
			buf[i] = (char)u8(in);
		return len;
	default:
		return (size_t)snprintf(buf, 300, "%s%u", c & 1 ? "f" : "dir", u8(in) % 12);
	}
}

/* A live node; a directory when want_dir (the root when there is none). */
static uint32_t pick(struct in *in, bool want_dir)
{
	uint32_t i = u16(in) % m.nn;

	for (uint32_t k = 0; k < m.nn; k++, i = (i + 1) % m.nn)
		if (m.n[i].alive && (!want_dir || is_dir(i)))
			return i;
	return 0;
}

static int64_t gen_time(struct in *in)
{
	switch (u8(in) % 4) {
	case 0:
		return 1700000000 + u8(in);
	case 1:
		return (int64_t)(int32_t)u64(in, 4);
	case 2:
		return (int64_t)u64(in, 5) - ((int64_t)1 << 31);
	default:
		return (int64_t)u64(in, 8);
	}
}

static void gen_attr(struct in *in, uint32_t type, struct ext4_attr *a)
{
	uint32_t c = u8(in);

	memset(a, 0, sizeof(*a));
	a->mode = type | (u16(in) & 07777);
	a->uid = c & 1 ? (uint32_t)u64(in, 4) : (c & 2 ? 1000 : 0);
	a->gid = c & 4 ? (uint32_t)u64(in, 4) : (c & 8 ? 1000 : 0);
	a->mtime = gen_time(in);
	a->atime = c & 16 ? gen_time(in) : a->mtime;
	a->ctime = c & 32 ? gen_time(in) : a->mtime;
	a->mtime_ns = c & 64 ? (uint32_t)u64(in, 4) : 0;
	a->atime_ns = a->ctime_ns = c & 128 ? 999999999u : 0;
}

static bool do_create(uint32_t dir, const char *name, size_t len, const struct ext4_attr *a,
		      uint32_t *node)
{
	uint32_t type = a->mode & S_IFMT, ino = 0;
	size_t tlen = a->symlink ? strlen(a->symlink) : 0;
	bool ok = can_add(dir, name, len) && !lpf_clash(dir, name, len, a->mode);
	struct err e;
	int rc;

	if (m.nn >= MAX_NODES || m.nd >= MAX_DENTS ||
	    (type == S_IFLNK && tlen >= 60 && m.data >= MAX_DATA))
		return false;
	switch (type) {
	case S_IFLNK:
		ok &= tlen >= 1 && tlen < BS;
		break;
	case S_IFREG:
		ok &= a->size <= MAX_FILE;
		break;
	case S_IFCHR:
	case S_IFBLK:
		ok &= a->major <= 0xfff && a->minor <= 0xfffff;
		break;
	case S_IFDIR:
	case S_IFIFO:
	case S_IFSOCK:
		break;
	default:
		ok = false;
	}
	err_init(&e);
	rc = ext4_create(fs, m.n[dir].ino, guard_place(name, len), len, a, &ino, &e);
	if (!expect(rc, ok, &e, "create", name, len))
		return false;
	*node = m_node(ino, a);
	m_dent(dir, name, len, *node);
	if (type == S_IFLNK && tlen >= 60)
		m.data++;
	return true;
}

static bool do_link(uint32_t dir, const char *name, size_t len, uint32_t node)
{
	bool ok = can_add(dir, name, len) && !is_dir(node) &&
		  !lpf_clash(dir, name, len, m.n[node].a.mode);
	struct err e;
	int rc;

	if (m.nd >= MAX_DENTS)
		return false;
	err_init(&e);
	rc = ext4_link(fs, m.n[dir].ino, guard_place(name, len), len, m.n[node].ino, &e);
	if (!expect(rc, ok, &e, "link", name, len))
		return false;
	m_dent(dir, name, len, node);
	return true;
}

static struct mblk *m_block(struct mnode *n, uint32_t lblk, bool add)
{
	uint32_t lo = 0, hi = n->nblk;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (n->blk[mid].lblk < lblk)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < n->nblk && n->blk[lo].lblk == lblk)
		return &n->blk[lo];
	if (!add)
		return NULL;
	n->blk = realloc(n->blk, (n->nblk + 1) * sizeof(*n->blk));
	FUZZ_CHECK(n->blk);
	memmove(&n->blk[lo + 1], &n->blk[lo], (n->nblk - lo) * sizeof(*n->blk));
	n->blk[lo].lblk = lblk;
	n->blk[lo].b = calloc(1, BS);
	FUZZ_CHECK(n->blk[lo].b);
	n->nblk++;
	m.data++;
	return &n->blk[lo];
}

static uint8_t data_byte(uint32_t seed, uint64_t pos)
{
	uint32_t x = (uint32_t)pos * 2654435761u ^ (uint32_t)(pos >> 32) ^ seed * 40503u;

	return (uint8_t)(x >> 13 ^ x);
}

/* len bytes at off into node, from the model's side what ext4_write says
 * it does: forward through the file, rewriting written blocks, never back
 * into a hole it passed. False when refused (or over the budget). */
static bool write_at(uint32_t node, uint64_t off, uint64_t len, uint32_t seed)
{
	struct mnode *n = &m.n[node];
	uint64_t size = n->a.size, stop = off + len;
	uint32_t high = n->nblk ? n->blk[n->nblk - 1].lblk + 1 : 0;
	bool ok = S_ISREG(n->a.mode) && off + len >= off && off + len <= size, done;
	struct err e;
	uint8_t *buf;
	int rc;

	if (len && (off + len - 1) / BS - off / BS + 1 + m.data > MAX_DATA)
		return false;
	if (ok)
		for (uint64_t b = off / BS; len && b <= (off + len - 1) / BS && b < high; b++)
			if (!m_block(n, (uint32_t)b, false)) {
				ok = false;
				stop = b * BS > off ? b * BS : off; /* written up to the hole */
				break;
			}
	buf = malloc(len ? len : 1);
	FUZZ_CHECK(buf);
	for (uint64_t i = 0; i < len; i++)
		buf[i] = data_byte(seed, off + i);
	err_init(&e);
	rc = ext4_write(fs, n->ino, off, buf, len, &e);
	done = expect(rc, ok, &e, "write", "", 0);
	if (done || (!m.stop && S_ISREG(n->a.mode) && off + len <= size && off + len >= off))
		for (uint64_t p = off; p < stop;) {
			uint64_t lb = p / BS, k = BS - p % BS < stop - p ? BS - p % BS : stop - p;

			memcpy(m_block(n, (uint32_t)lb, true)->b + p % BS, buf + (p - off), k);
			p += k;
		}
	free(buf);
	return done;
}

/* One write into node, somewhere from where the last one ended (*end). */
static void do_write(struct in *in, uint32_t node, uint64_t *end)
{
	uint64_t size = m.n[node].a.size, off, len = 0;
	uint32_t kind = u8(in) % 6, seed = u8(in), lc = u8(in) % 6;

	switch (lc) {
	case 0:
		len = 0;
		break;
	case 1:
		len = 1 + u8(in);
		break;
	case 2:
		len = u16(in) % 20000;
		break;
	case 3:
		len = BS;
		break;
	default:
		len = 3 * BS + 7;
	}
	switch (kind) {
	case 0:
		off = *end;
		break;
	case 1:
		off = *end + (u8(in) & 1 ? (uint64_t)u16(in) * BS : u16(in));
		break;
	case 2:
		off = size > len ? size - len : 0;
		break;
	case 3:
		off = u64(in, 8) % (size + 1);
		break;
	case 4:
		off = *end / BS * BS + (lc == 5 ? 0 : BS - 1);
		break;
	default:
		off = u64(in, 8);
	}
	if (write_at(node, off, len, seed))
		*end = off + len;
}

/* Every other block: more extents than the inode holds, so a tree. */
static void op_stride(struct in *in, uint32_t node)
{
	const struct mnode *n = &m.n[node];
	uint32_t count = 1 + u16(in) % 450, seed = u8(in);
	uint64_t at = n->nblk ? ((uint64_t)n->blk[n->nblk - 1].lblk + 2) * BS : 0;

	for (uint32_t i = 0; i < count && !m.stop; i++)
		if (!write_at(node, at + 2 * (uint64_t)i * BS, 1 + i % 7, seed))
			break;
}

static uint64_t gen_size(struct in *in)
{
	switch (u8(in) % 12) {
	case 0:
		return 0;
	case 1:
		return u8(in);
	case 2:
		return u16(in);
	case 3:
		return BS;
	case 4: { /* a block multiple, one short or one past */
		uint64_t blocks = u8(in) % 64 + 1;

		return blocks * BS - 1 + u8(in) % 3;
	}
	case 5:
		return u64(in, 4);
	case 6:
		return 5ULL << 30;
	case 7:
		return MAX_FILE;
	case 8:
		return MAX_FILE + 1 + u8(in) % 4096;
	case 9:
		return (uint64_t)1 << 44;
	case 10:
		return ((uint64_t)1 << 44) + 1;
	default:
		return (uint64_t)u16(in) * BS;
	}
}

static void op_file(struct in *in, uint32_t dir, const char *name, size_t len)
{
	struct ext4_attr a;
	uint64_t end = 0;
	uint32_t node, nw;

	gen_attr(in, S_IFREG, &a);
	a.size = gen_size(in);
	nw = u8(in) % 9;
	if (!do_create(dir, name, len, &a, &node))
		return;
	while (nw-- && !m.stop)
		do_write(in, node, &end);
}

static void op_symlink(struct in *in, uint32_t dir, const char *name, size_t len)
{
	static char t[BS + 2];
	struct ext4_attr a;
	uint32_t c = u8(in) % 8, tlen, node;
	static const uint32_t fixed[] = { 0, 0, 59, 60, 0, 4095, 4096 };

	gen_attr(in, S_IFLNK, &a);
	tlen = c == 1 ? 1 + u8(in) % 59 : c == 4 ? 61 + u16(in) % 4035 : c < 7 ? fixed[c] : 0;
	for (uint32_t i = 0; i < tlen; i++)
		t[i] = "/usr/lib/x86_64-linux-gnu/.."[i % 28];
	if (c == 7) /* raw bytes up to a NUL */
		for (tlen = 0; tlen < 64 && (t[tlen] = (char)u8(in)); tlen++)
			;
	t[tlen] = '\0';
	a.symlink = t;
	do_create(dir, name, len, &a, &node);
}

static void op_special(struct in *in, uint32_t dir, const char *name, size_t len)
{
	static const uint32_t types[] = { S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK, 0, S_IFMT, 0110000 };
	static const uint32_t majors[] = { 0, 1, 255, 256, 4095, 4096, 0xffffffff };
	static const uint32_t minors[] = { 0, 3, 255, 256, 70000, 0xfffff, 0x100000, 0xffffffff };
	struct ext4_attr a;
	uint32_t node, t = types[u8(in) % 7];

	gen_attr(in, t, &a);
	a.major = majors[u8(in) % 7];
	a.minor = minors[u8(in) % 8];
	do_create(dir, name, len, &a, &node);
}

/* A kernel-format POSIX ACL (or a damaged one) into v; its length. */
static size_t gen_acl(struct in *in, uint8_t *v)
{
	static const uint16_t tags[] = { 1, 2, 4, 8, 0x10, 0x20 };
	uint32_t n = u8(in) % 7, c = u8(in);
	size_t len = 4 + (size_t)n * 8;

	memset(v, 0, len + 8);
	v[0] = c % 8 == 0 ? 1 : 2; /* version 2; 1 is damage */
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *x = v + 4 + i * 8;

		x[0] = (uint8_t)tags[u8(in) % 6];
		x[2] = (uint8_t)(u8(in) & 7);
		x[4] = (uint8_t)u8(in);
		x[5] = (uint8_t)u8(in);
	}
	return c % 8 == 1 ? len + 3 : c % 8 == 2 ? 2 : len;
}

/* The ACL as ext4 stores it: version 1, ids only for named users and groups. */
static uint32_t acl_ext4(const uint8_t *v, size_t len, uint8_t *out)
{
	uint32_t o = 4;

	out[0] = 1;
	out[1] = out[2] = out[3] = 0;
	for (size_t i = 4; i + 8 <= len; i += 8) {
		memcpy(out + o, v + i, 4);
		o += 4;
		if (v[i] == 2 || v[i] == 8) {
			memcpy(out + o, v + i + 4, 4);
			o += 4;
		}
	}
	return o;
}

static void op_xattr(struct in *in, uint32_t node)
{
	static const struct {
		const char *name;
		uint8_t index; /* 0: not stored */
		bool exact;
	} ns[] = { { "user.", 1, false },
		   { "trusted.", 4, false },
		   { "security.", 6, false },
		   { "system.", 7, false },
		   { "system.posix_acl_access", 2, true },
		   { "system.posix_acl_default", 3, true },
		   { "bogus.", 0, false },
		   { "", 0, false } };
	static uint8_t val[BS + 64];
	char name[600], *suffix;
	uint32_t k = u8(in) % 8, c = u8(in), slen, i;
	size_t len;
	struct mnode *n = &m.n[node];
	struct mxa x = { 0 };
	struct err e;
	bool ok = ns[k].index != 0;
	int rc;

	slen = c % 4 == 0 ? 0 : c % 4 == 1 ? 250 + u8(in) % 8 : 1 + u8(in) % 12;
	if (ns[k].exact)
		slen = c % 8 == 3 ? 1 : 0; /* "system.posix_acl_accessx" is a system. one */
	suffix = name + snprintf(name, 64, "%s", ns[k].name);
	for (i = 0; i < slen; i++)
		suffix[i] = (char)('a' + (i * 7 + c) % 26);
	suffix[slen] = '\0';
	if (ns[k].exact && slen) { /* falls back to "system." */
		k = 3;
		suffix = name + 7;
		slen = (uint32_t)strlen(suffix);
	}
	ok &= ns[k].exact || (slen && slen <= 255);
	x.index = ns[k].index;
	x.nlen = (uint8_t)slen;
	memcpy(x.name, suffix, slen <= 255 ? slen : 255);
	if (ns[k].exact) {
		len = gen_acl(in, val);
		ok &= len >= 4 && (len - 4) % 8 == 0 && val[0] == 2;
	} else {
		uint32_t lc = u8(in) % 6;

		len = lc == 0 ? 0 : lc == 1 ? u8(in) : lc == 2 ? u16(in) % 4000 : MAX_XVAL + lc - 4;
		for (size_t j = 0; j < len; j++)
			val[j] = (uint8_t)(j * 13 + c);
	}
	ok &= len <= MAX_XVAL;
	err_init(&e);
	rc = ext4_xattr_set(fs, n->ino, name, val, len, &e);
	if (!expect(rc, ok, &e, "xattr", name, strlen(name)))
		return;
	x.val = malloc(len + 8);
	FUZZ_CHECK(x.val);
	x.len = ns[k].exact ? acl_ext4(val, len, x.val) : (uint32_t)len;
	if (!ns[k].exact)
		memcpy(x.val, val, len);
	for (i = 0; i < n->nxa; i++)
		if (n->xa[i].index == x.index && n->xa[i].nlen == x.nlen &&
		    !memcmp(n->xa[i].name, x.name, x.nlen)) {
			free(n->xa[i].val);
			n->xa[i] = x;
			return;
		}
	n->xa = realloc(n->xa, (n->nxa + 1) * sizeof(*n->xa));
	FUZZ_CHECK(n->xa);
	n->xa[n->nxa++] = x;
}

static void op_remove(struct in *in)
{
	char name[300];
	size_t len;
	uint32_t dir, *slot, id = 0;
	struct err e;

	if (u8(in) & 1) { /* a live entry */
		uint32_t i = m.nd ? u16(in) % m.nd : 0;

		for (uint32_t k = 0; k < m.nd && !id; k++, i = (i + 1) % m.nd)
			if (m.d[i].alive)
				id = i + 1;
		if (!id)
			return;
		dir = m.d[id - 1].dir;
		len = m.d[id - 1].len;
		memcpy(name, m.d[id - 1].name, len);
	} else {
		dir = pick(in, false);
		len = gen_name(in, name);
	}
	slot = m_slot(dir, name, len);
	id = len <= 255 ? *slot : 0;
	err_init(&e);
	FUZZ_CHECK(ext4_remove(fs, m.n[dir].ino, guard_place(name, len), len, &e) == 0);
	if (trace)
		fprintf(stderr, "remove '%.*s': %s\n", (int)len, name, id ? "removed" : "absent");
	if (id && is_dir(dir))
		m_remove(id - 1);
}

static void op_setattr(struct in *in)
{
	uint32_t node = pick(in, false);
	struct mnode *n = &m.n[node];
	struct ext4_attr a;

	gen_attr(in, n->a.mode & S_IFMT, &a);
	a.size = u64(in, 8); /* all ignored */
	a.major = a.minor = 77;
	a.symlink = "ignored";
	ext4_set_attr(fs, n->ino, &a);
	n->a.mode = (n->a.mode & S_IFMT) | (a.mode & 07777);
	n->a.uid = a.uid;
	n->a.gid = a.gid;
	n->a.atime = a.atime;
	n->a.mtime = a.mtime;
	n->a.ctime = a.ctime;
	n->a.atime_ns = a.atime_ns % 1000000000u;
	n->a.mtime_ns = a.mtime_ns % 1000000000u;
	n->a.ctime_ns = a.ctime_ns % 1000000000u;
}

/* Many entries in one directory (an htree, two levels with long names). */
static void op_bulk(struct in *in)
{
	uint32_t dir = pick(in, u8(in) % 8 != 0), count = u16(in);
	uint32_t style = u8(in) % 4, target = pick(in, false), pad = 'a' + u8(in) % 26;
	bool links = u8(in) & 1 && !is_dir(target);
	struct ext4_attr a = { .mode = S_IFREG | 0644, .mtime = m.time };
	char name[300];

	/* thousands (enough for two htree levels) only now and then: they are slow */
	count = count & 0x8000 ? 1 + count % 9000 : 1 + count % 300;
	for (uint32_t i = 0; i < count && !m.stop && m.nd < MAX_DENTS; i++) {
		size_t len = (size_t)snprintf(name, sizeof(name), "%s%u",
					      style == 3 ? "\xe2\x82\xac" : "b", i);
		uint32_t node;

		if (style == 1 || style == 2) {
			memset(name + len, (int)pad, style == 1 ? 40 : 250);
			len = style == 1 ? 40 : 250;
		}
		if (!(links ? do_link(dir, name, len, target)
			    : do_create(dir, name, len, &a, &node)))
			break;
	}
}

static void op_deep(struct in *in)
{
	uint32_t dir = pick(in, true), depth = 1 + u8(in) % 120, long_names = u8(in) & 1;
	struct ext4_attr a = { .mode = S_IFDIR | 0755, .mtime = m.time };
	char name[300];

	memset(name, 'D', 255);
	for (uint32_t i = 0; i < depth && !m.stop; i++) {
		size_t len = long_names ? 255 : 1;

		name[0] = (char)('a' + i % 26);
		if (!do_create(dir, name, len, &a, &dir))
			break;
	}
}

static void op(struct in *in)
{
	uint32_t c = u8(in) % 12, dir, node;
	char name[300];
	size_t len;
	struct ext4_attr a;

	if (c < 5) { /* a new entry of some kind */
		dir = pick(in, u8(in) % 8 != 0);
		len = gen_name(in, name);
		if (c == 0) {
			gen_attr(in, S_IFDIR, &a);
			do_create(dir, name, len, &a, &node);
		} else if (c == 1) {
			op_file(in, dir, name, len);
		} else if (c == 2) {
			op_symlink(in, dir, name, len);
		} else if (c == 3) {
			op_special(in, dir, name, len);
		} else {
			do_link(dir, name, len, pick(in, false));
		}
		return;
	}
	switch (c) {
	case 5: { /* more writes into a node: a few, or a stride */
		uint32_t n = pick(in, false), nw = u8(in);
		uint64_t end =
			m.n[n].nblk ? (uint64_t)m.n[n].blk[m.n[n].nblk - 1].lblk * BS + BS : 0;

		if (nw & 0x80) {
			op_stride(in, n);
			break;
		}
		for (nw = 1 + nw % 3; nw-- && !m.stop;)
			do_write(in, n, &end);
		break;
	}
	case 6:
		op_xattr(in, pick(in, false));
		break;
	case 7:
	case 8:
		op_remove(in);
		break;
	case 9:
		op_setattr(in);
		break;
	case 10:
		op_bulk(in);
		break;
	default:
		op_deep(in);
	}
}

/* The tree through the writer's own eyes, before it is laid out. */
static void api_check(void)
{
	struct ext4_usage u;
	uint64_t inodes = 10;

	for (uint32_t i = 0; i < m.nd; i++) {
		const struct mdent *d = &m.d[i];
		uint32_t ino = 0;

		if (d->alive)
			FUZZ_CHECK(ext4_lookup(fs, m.n[d->dir].ino, d->name, d->len, &ino) == 1 &&
				   ino == m.n[d->node].ino);
	}
	for (uint32_t i = 0; i < m.nn; i++) {
		const struct mnode *n = &m.n[i];
		struct ext4_attr a;

		if (!n->alive)
			continue;
		inodes += i != 0;
		ext4_stat(fs, n->ino, &a);
		FUZZ_CHECK(a.mode == n->a.mode && a.uid == n->a.uid && a.gid == n->a.gid);
		FUZZ_CHECK(a.mtime == n->a.mtime && a.mtime_ns == n->a.mtime_ns);
		FUZZ_CHECK(a.size == n->a.size);
		if (!is_dir(i))
			FUZZ_CHECK(a.links == n->links);
		if (S_ISLNK(n->a.mode))
			FUZZ_CHECK(!strcmp(a.symlink, n->target));
	}
	ext4_usage(fs, &u);
	FUZZ_CHECK(u.inodes == inodes);
}

/* --- reading the image back --- */

static struct {
	int fd;
	uint8_t sb[1024];
	uint64_t blocks, claimed;
	uint32_t groups, ipg, gdtb, seed, hseed[4];
	uint8_t *gdt, *bbm, *ibm, *claim;
} g;

struct ext {
	uint32_t lblk, len;
	uint64_t pblk;
};

static uint32_t le16(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const uint8_t *p)
{
	return le16(p) | le16(p + 2) << 16;
}

static void get(void *p, size_t n, uint64_t off)
{
	FUZZ_CHECK(pread(g.fd, p, n, (off_t)off) == (ssize_t)n);
}

static void get_block(uint64_t b, uint8_t *p)
{
	FUZZ_CHECK(b < g.blocks);
	get(p, BS, b * BS);
}

static bool bit(const uint8_t *bm, uint64_t i)
{
	return bm[i >> 3] >> (i & 7) & 1;
}

/* Blocks [b, b+n) belong to one thing: in the image, in use, no one else's. */
static void claim(uint64_t b, uint64_t n)
{
	FUZZ_CHECK(b + n <= g.blocks && b + n >= b);
	for (uint64_t i = b; i < b + n; i++) {
		FUZZ_CHECK(bit(g.bbm, i) && !bit(g.claim, i));
		g.claim[i >> 3] |= (uint8_t)(1u << (i & 7));
	}
	g.claimed += n;
}

static uint32_t ino_seed(uint32_t ino)
{
	uint8_t b[8] = { (uint8_t)ino, (uint8_t)(ino >> 8), (uint8_t)(ino >> 16),
			 (uint8_t)(ino >> 24) };

	return ext4_crc32c(g.seed, b, 8); /* the inode number, then generation 0 */
}

static void read_inode(uint32_t ino, uint8_t r[256])
{
	uint32_t gr = (ino - 1) / g.ipg, idx = (ino - 1) % g.ipg, c;
	const uint8_t *d;
	uint8_t z[256];

	FUZZ_CHECK(ino >= 1 && gr < g.groups);
	d = g.gdt + (size_t)gr * 64;
	get(r, 256, ((uint64_t)le32(d + 8) | (uint64_t)le32(d + 0x28) << 32) * BS + idx * 256);
	memcpy(z, r, 256);
	z[124] = z[125] = z[130] = z[131] = 0;
	c = ext4_crc32c(ino_seed(ino), z, 256);
	FUZZ_CHECK(le16(r + 124) == (c & 0xffff) && le16(r + 130) == c >> 16);
	FUZZ_CHECK(le16(r + 128) == 32);
}

/* The extents below node (an i_block or a tree block of max entries) in
 * order, claiming every block; *tb counts the tree blocks. */
static void extents(uint32_t ino, const uint8_t *node, uint32_t max, int depth, struct ext **v,
		    uint32_t *nv, uint64_t *tb)
{
	uint32_t cnt = le16(node + 2);

	FUZZ_CHECK(le16(node) == 0xF30A && le16(node + 4) == max && cnt <= max);
	FUZZ_CHECK(depth < 0 || (int)le16(node + 6) == depth);
	depth = (int)le16(node + 6);
	FUZZ_CHECK(depth <= 5);
	for (uint32_t i = 0; i < cnt; i++) {
		const uint8_t *x = node + 12 + i * 12;

		if (depth == 0) {
			struct ext r = { le32(x), le16(x + 4),
					 le32(x + 8) | (uint64_t)le16(x + 6) << 32 };

			FUZZ_CHECK(r.len >= 1 && r.len <= 32768);
			FUZZ_CHECK((uint64_t)r.lblk + r.len <= 0xffffffffu);
			FUZZ_CHECK(!*nv || (*v)[*nv - 1].lblk + (*v)[*nv - 1].len <= r.lblk);
			claim(r.pblk, r.len);
			*v = realloc(*v, (*nv + 1) * sizeof(**v));
			FUZZ_CHECK(*v);
			(*v)[(*nv)++] = r;
		} else {
			uint64_t at = le32(x + 4) | (uint64_t)le16(x + 8) << 32;
			uint8_t blk[BS];
			uint32_t first = *nv;

			claim(at, 1);
			(*tb)++;
			get_block(at, blk);
			FUZZ_CHECK(le32(blk + 12 + 340 * 12) ==
				   ext4_crc32c(ino_seed(ino), blk, 12 + 340 * 12));
			extents(ino, blk, 340, depth - 1, v, nv, tb);
			FUZZ_CHECK(*nv > first && (*v)[first].lblk == le32(x));
		}
	}
}

struct entry {
	const char *name;
	uint32_t len, ino, type;
};

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = memcmp(x->name, y->name, x->len < y->len ? x->len : y->len);

	return c ? c : (int)x->len - (int)y->len;
}

#define NO_HASH ((uint64_t)1 << 32) /* the last leaf: no upper bound */

/* The entries of one leaf block into v, but for the first skip ("." and
 * ".."); its tail checked; with hashed, each name's hash in [hlo, hhi). */
static void leaf(uint32_t ino, const uint8_t *blk, uint32_t skip, struct entry *v, uint32_t *nv,
		 uint32_t room, uint32_t hlo, uint64_t hhi, bool hashed)
{
	const uint8_t *t = blk + BS - 12;
	uint32_t off = 0;

	FUZZ_CHECK(le32(t) == 0 && le16(t + 4) == 12 && t[6] == 0 && t[7] == 0xDE);
	FUZZ_CHECK(le32(t + 8) == ext4_crc32c(ino_seed(ino), blk, BS - 12));
	while (off < BS - 12) {
		const uint8_t *d = blk + off;
		uint32_t rec = le16(d + 4), nlen = d[6];

		FUZZ_CHECK(rec >= 8 && rec % 4 == 0 && off + rec <= BS - 12 && 8 + nlen <= rec);
		if (skip) {
			skip--;
		} else if (le32(d)) {
			uint32_t h, minor;

			FUZZ_CHECK(*nv < room && nlen > 0);
			v[*nv] = (struct entry){ (const char *)d + 8, nlen, le32(d), d[7] };
			(*nv)++;
			if (hashed) {
				ext4_dirhash((const char *)d + 8, nlen, g.hseed, &h, &minor);
				FUZZ_CHECK(h >= (hlo & ~1u));
				FUZZ_CHECK(hhi == NO_HASH || h < (hhi & ~1u) ||
					   ((hhi & 1) && h == (hhi & ~1u)));
			}
		}
		off += rec;
	}
	FUZZ_CHECK(off == BS - 12);
}

static void dx_check(uint32_t ino, const uint8_t *blk, uint32_t at, uint32_t limit)
{
	static const uint8_t zero[4];
	uint32_t count = le16(blk + at + 2), c;

	FUZZ_CHECK(le16(blk + at) == limit && count >= 1 && count <= limit);
	c = ext4_crc32c(ino_seed(ino), blk, at + count * 8);
	c = ext4_crc32c(c, blk + at + limit * 8, 4);
	FUZZ_CHECK(le32(blk + at + limit * 8 + 4) == ext4_crc32c(c, zero, 4));
}

static uint8_t file_type(uint32_t mode)
{
	static const uint8_t t[16] = { [S_IFREG >> 12] = 1, [S_IFDIR >> 12] = 2,
				       [S_IFCHR >> 12] = 3, [S_IFBLK >> 12] = 4,
				       [S_IFIFO >> 12] = 5, [S_IFSOCK >> 12] = 6,
				       [S_IFLNK >> 12] = 7 };
	return t[(mode >> 12) & 15];
}

/* Directory node (inode raw r, nb blocks in buf): its entries are exactly
 * the model's kids[0..nk), "." and ".." right, an htree leading to each. */
static void dir_check(uint32_t node, uint32_t parent_ino, const uint8_t *r, const uint8_t *buf,
		      uint32_t nb, const struct entry *kids, uint32_t nk)
{
	uint32_t ino = m.n[node].ino, nv = 0, room = nk + 1;
	struct entry *v = malloc(room * sizeof(*v));
	uint8_t *seen = calloc(nb, 1);

	FUZZ_CHECK(v && seen && nb >= 1);
	FUZZ_CHECK(le32(buf) == ino && le16(buf + 4) == 12 && buf[6] == 1 &&
		   !memcmp(buf + 8, ".", 1));
	FUZZ_CHECK(le32(buf + 12) == parent_ino && buf[18] == 2 && !memcmp(buf + 20, "..", 2));
	if (!(le32(r + 32) & FL_INDEX)) {
		for (uint32_t b = 0; b < nb; b++)
			leaf(ino, buf + (size_t)b * BS, b ? 0 : 2, v, &nv, room, 0, NO_HASH, false);
	} else {
		uint32_t levels = buf[30], n = le16(buf + 34);

		FUZZ_CHECK(le16(buf + 16) == BS - 12 && le32(buf + 24) == 0 && buf[28] == 1);
		FUZZ_CHECK(buf[29] == 8 && levels <= 1);
		dx_check(ino, buf, 32, 507);
		seen[0] = 1;
		for (uint32_t k = 0; k < n; k++) {
			const uint8_t *x = buf + 32 + k * 8;
			uint32_t b = le32(x + 4), lo = k ? le32(x) : 0;
			uint64_t hi = k + 1 < n ? le32(x + 8) : NO_HASH;
			const uint8_t *blk = buf + (size_t)b * BS;

			FUZZ_CHECK(b < nb && !seen[b]++ && lo <= hi);
			if (!levels) {
				leaf(ino, blk, 0, v, &nv, room, lo, hi, true);
				continue;
			}
			FUZZ_CHECK(le32(blk) == 0 && le16(blk + 4) == BS);
			dx_check(ino, blk, 8, 510);
			for (uint32_t j = 0; j < le16(blk + 10); j++) {
				const uint8_t *y = blk + 8 + j * 8;
				uint32_t lb = le32(y + 4), l2 = j ? le32(y) : lo;
				uint64_t h2 = j + 1 < le16(blk + 10) ? le32(y + 8) : hi;

				FUZZ_CHECK(l2 >= lo && l2 <= h2 && h2 <= hi);
				FUZZ_CHECK(lb < nb && !seen[lb]++);
				leaf(ino, buf + (size_t)lb * BS, 0, v, &nv, room, l2, h2, true);
			}
		}
		for (uint32_t b = 0; b < nb; b++)
			FUZZ_CHECK(seen[b]);
	}
	FUZZ_CHECK(nv == nk);
	qsort(v, nv, sizeof(*v), entry_cmp);
	for (uint32_t i = 0; i < nk; i++)
		FUZZ_CHECK(!entry_cmp(&v[i], &kids[i]) && v[i].ino == kids[i].ino &&
			   v[i].type == kids[i].type);
	free(v);
	free(seen);
}

/* The xattrs in an entry area: value offsets from base within the area of
 * size bytes; each must be one the model holds. */
static uint32_t xattrs_in(const struct mnode *n, const uint8_t *area, uint32_t size,
			  const uint8_t *base, uint32_t bsize)
{
	uint32_t off = 0, found = 0, ao = (uint32_t)(area - base);

	while (off + 4 <= size && le32(area + off)) {
		const uint8_t *x = area + off;
		uint32_t nlen = x[0], voff = le16(x + 2), vlen = le32(x + 8), i;

		FUZZ_CHECK(off + 16 + nlen <= size && le32(x + 4) == 0);
		FUZZ_CHECK(voff + (uint64_t)vlen <= bsize &&
			   (vlen == 0 || voff >= ao + off + 16 + nlen));
		for (i = 0; i < n->nxa; i++)
			if (n->xa[i].index == x[1] && n->xa[i].nlen == nlen &&
			    !memcmp(n->xa[i].name, x + 16, nlen))
				break;
		FUZZ_CHECK(i < n->nxa && n->xa[i].len == vlen &&
			   !memcmp(n->xa[i].val, base + voff, vlen));
		found++;
		off += (16 + nlen + 3) & ~3u;
	}
	return found;
}

static int64_t clamp_time(int64_t s, uint32_t *ns)
{
	if (s <= TIME_MIN || s >= TIME_MAX) /* the kernel's timestamp_truncate */
		*ns = 0;
	return s < TIME_MIN ? TIME_MIN : s > TIME_MAX ? TIME_MAX : s;
}

static void time_check(const uint8_t *r, int lo, int extra, int64_t want, uint32_t ns)
{
	uint32_t x = le32(r + extra);

	want = clamp_time(want, &ns);
	FUZZ_CHECK((int64_t)(int32_t)le32(r + lo) + ((int64_t)(x & 3) << 32) == want);
	FUZZ_CHECK(x >> 2 == ns);
}

/* One node's inode against the model; dirs get their kids checked. */
static void node_check(uint32_t node, uint32_t parent_ino, const struct entry *kids, uint32_t nk,
		       uint32_t nsub)
{
	const struct mnode *n = &m.n[node];
	uint32_t type = n->a.mode & S_IFMT, flags, nv = 0, links;
	uint64_t size, tb = 0, blocks = 0, xb;
	bool ext = type == S_IFREG || type == S_IFDIR || (type == S_IFLNK && n->a.size >= 60);
	struct ext *v = NULL;
	uint8_t r[256], blk[BS];
	uint32_t found = 0;

	read_inode(n->ino, r);
	size = le32(r + 4) | (uint64_t)le32(r + 108) << 32;
	flags = le32(r + 32);
	links = type == S_IFDIR ? (2 + nsub < 65000 ? 2 + nsub : 1) : n->links;
	FUZZ_CHECK(le16(r) == n->a.mode && le16(r + 26) == links && le32(r + 20) == 0);
	FUZZ_CHECK((le16(r + 2) | le16(r + 120) << 16) == n->a.uid);
	FUZZ_CHECK((le16(r + 24) | le16(r + 122) << 16) == n->a.gid);
	time_check(r, 8, 140, n->a.atime, n->a.atime_ns);
	time_check(r, 12, 132, n->a.ctime, n->a.ctime_ns);
	time_check(r, 16, 136, n->a.mtime, n->a.mtime_ns);
	time_check(r, 144, 148, n->a.mtime, n->a.mtime_ns);
	FUZZ_CHECK((flags & ~(uint32_t)FL_INDEX) == (ext ? FL_EXTENTS : 0));
	FUZZ_CHECK(type == S_IFDIR || !(flags & FL_INDEX));
	if (ext)
		extents(n->ino, r + 40, 4, -1, &v, &nv, &tb);
	for (uint32_t i = 0; i < nv; i++)
		blocks += v[i].len;
	if (type == S_IFREG) {
		FUZZ_CHECK(size == n->a.size && blocks == n->nblk);
		for (uint32_t i = 0; i < nv; i++)
			for (uint32_t k = 0; k < v[i].len; k++) {
				const struct mblk *mb =
					m_block((struct mnode *)n, v[i].lblk + k, false);

				FUZZ_CHECK(mb && (uint64_t)mb->lblk * BS < size);
				get_block(v[i].pblk + k, blk);
				FUZZ_CHECK(!memcmp(blk, mb->b, BS));
			}
	} else if (type == S_IFDIR) {
		uint8_t *buf = malloc(blocks * BS);

		FUZZ_CHECK(buf && size == blocks * BS);
		for (uint32_t i = 0; i < nv; i++) {
			FUZZ_CHECK(v[i].lblk == (i ? v[i - 1].lblk + v[i - 1].len : 0));
			for (uint32_t k = 0; k < v[i].len; k++)
				get_block(v[i].pblk + k, buf + ((size_t)v[i].lblk + k) * BS);
		}
		dir_check(node, parent_ino, r, buf, (uint32_t)blocks, kids, nk);
		free(buf);
	} else if (type == S_IFLNK) {
		FUZZ_CHECK(size == n->a.size);
		if (ext) {
			FUZZ_CHECK(nv == 1 && v[0].lblk == 0 && v[0].len == 1);
			get_block(v[0].pblk, blk);
			FUZZ_CHECK(!memcmp(blk, n->target, size) &&
				   strnlen((char *)blk, BS) == size);
		} else {
			FUZZ_CHECK(!memcmp(r + 40, n->target, size) &&
				   strnlen((char *)r + 40, 60) == size);
		}
	} else {
		uint32_t b0 = le32(r + 40), b1 = le32(r + 44), maj = 0, min = 0;

		FUZZ_CHECK(size == 0);
		if (b0) {
			maj = (b0 >> 8) & 0xff;
			min = b0 & 0xff;
		} else {
			maj = (b1 & 0xfff00) >> 8;
			min = (b1 & 0xff) | ((b1 >> 12) & 0xfff00);
		}
		if (type == S_IFCHR || type == S_IFBLK)
			FUZZ_CHECK(maj == n->a.major && min == n->a.minor);
		else
			FUZZ_CHECK(b0 == 0 && b1 == 0);
	}
	free(v);
	/* xattrs: in the inode after i_extra_isize, then in one block */
	if (le32(r + 160) == 0xEA020000)
		found += xattrs_in(n, r + 164, 256 - 164, r + 164, 256 - 164);
	xb = le32(r + 104) | (uint64_t)le16(r + 118) << 32;
	if (xb) {
		uint8_t le[8] = { (uint8_t)xb,	       (uint8_t)(xb >> 8),  (uint8_t)(xb >> 16),
				  (uint8_t)(xb >> 24), (uint8_t)(xb >> 32), (uint8_t)(xb >> 40) };
		uint32_t c;

		claim(xb, 1);
		tb++;
		get_block(xb, blk);
		FUZZ_CHECK(le32(blk) == 0xEA020000 && le32(blk + 4) == 1 && le32(blk + 8) == 1);
		c = le32(blk + 16);
		memset(blk + 16, 0, 4);
		FUZZ_CHECK(c == ext4_crc32c(ext4_crc32c(g.seed, le, 8), blk, BS));
		found += xattrs_in(n, blk + 32, BS - 32, blk, BS);
	}
	FUZZ_CHECK(found == n->nxa);
	FUZZ_CHECK((le32(r + 28) | (uint64_t)le16(r + 116) << 32) == (blocks + tb) * 8);
}

static int by_dir(const void *a, const void *b)
{
	const struct mdent *x = &m.d[*(const uint32_t *)a], *y = &m.d[*(const uint32_t *)b];

	if (x->dir != y->dir)
		return x->dir < y->dir ? -1 : 1;
	return entry_cmp(&(struct entry){ x->name, x->len, 0, 0 },
			 &(struct entry){ y->name, y->len, 0, 0 });
}

/* sparse_super: superblock copies in groups 0, 1 and powers of 3, 5, 7. */
static bool backup_group(uint32_t gr)
{
	uint64_t p3 = 3, p5 = 5, p7 = 7;
	bool hit = gr <= 1;

	for (; !hit && (p3 <= gr || p5 <= gr || p7 <= gr); p3 *= 3, p5 *= 5, p7 *= 7)
		hit = p3 == gr || p5 == gr || p7 == gr;
	return hit;
}

static void groups_check(void)
{
	uint64_t free_b = 0, free_i = 0;
	uint32_t dirs = 0, mdirs = 0;
	uint8_t *used = calloc((size_t)g.groups * g.ipg + 1, 1), sb[1024], *gdt;

	FUZZ_CHECK(used);
	for (uint32_t i = 0; i < m.nn; i++)
		if (m.n[i].alive) {
			FUZZ_CHECK(m.n[i].ino <= g.groups * g.ipg && !used[m.n[i].ino]);
			used[m.n[i].ino] = 1 + is_dir(i);
			mdirs += is_dir(i);
		}
	for (uint32_t gr = 0; gr < g.groups; gr++) {
		uint8_t *d = g.gdt + (size_t)gr * 64, *bb = g.bbm + (size_t)gr * BS;
		uint8_t *ib = g.ibm + (size_t)gr * BS, z[64];
		uint32_t fb = 0, fi = 0, nd = 0, last = 0, c;

		memcpy(z, d, 64);
		z[0x1E] = z[0x1F] = 0;
		c = ext4_crc32c(
			ext4_crc32c(g.seed,
				    (uint8_t[4]){ (uint8_t)gr, (uint8_t)(gr >> 8),
						  (uint8_t)(gr >> 16), (uint8_t)(gr >> 24) },
				    4),
			z, 64);
		FUZZ_CHECK(le16(d + 0x1E) == (c & 0xffff));
		FUZZ_CHECK((le16(d + 0x18) | le16(d + 0x38) << 16) ==
			   ext4_crc32c(g.seed, bb, BPG / 8));
		FUZZ_CHECK((le16(d + 0x1A) | le16(d + 0x3A) << 16) ==
			   ext4_crc32c(g.seed, ib, g.ipg / 8));
		for (uint32_t b = 0; b < BPG; b++)
			fb += !bit(bb, b);
		for (uint32_t k = 0; k < g.ipg; k++) {
			uint32_t ino = gr * g.ipg + k + 1;
			bool in_use = ino <= 10 || used[ino];

			FUZZ_CHECK(bit(ib, k) == in_use);
			fi += !in_use;
			nd += used[ino] == 2;
			last = in_use ? k + 1 : last;
		}
		for (uint32_t k = g.ipg; k < BS * 8; k++)
			FUZZ_CHECK(bit(ib, k));
		FUZZ_CHECK((le16(d + 0xC) | le16(d + 0x2C) << 16) == fb);
		FUZZ_CHECK((le16(d + 0xE) | le16(d + 0x2E) << 16) == fi);
		FUZZ_CHECK((le16(d + 0x10) | le16(d + 0x30) << 16) == nd);
		FUZZ_CHECK(last <= g.ipg - (le16(d + 0x1C) | le16(d + 0x32) << 16));
		free_b += fb;
		free_i += fi;
		dirs += nd;
	}
	for (uint64_t b = g.blocks; b < (uint64_t)g.groups * BPG; b++)
		FUZZ_CHECK(bit(g.bbm, b));
	FUZZ_CHECK(dirs == mdirs);
	FUZZ_CHECK((le32(g.sb + 0xC) | (uint64_t)le32(g.sb + 0x158) << 32) == free_b);
	FUZZ_CHECK(le32(g.sb + 0x10) == free_i);
	/* every block in use is somebody's */
	FUZZ_CHECK(free_b + g.claimed == g.blocks);
	/* the backups say what the primary says */
	gdt = malloc((size_t)g.gdtb * BS);
	FUZZ_CHECK(gdt);
	for (uint32_t gr = 1; gr < g.groups; gr++)
		if (backup_group(gr)) {
			get(sb, 1024, (uint64_t)gr * BPG * BS);
			FUZZ_CHECK(le16(sb + 0x5A) == gr && !memcmp(sb, g.sb, 0x5A) &&
				   !memcmp(sb + 0x5C, g.sb + 0x5C, 0x3FC - 0x5C));
			get(gdt, (size_t)g.gdtb * BS, ((uint64_t)gr * BPG + 1) * BS);
			FUZZ_CHECK(!memcmp(gdt, g.gdt, (size_t)g.groups * 64));
		}
	free(gdt);
	free(used);
}

static void verify(const char *image, uint64_t bytes)
{
	uint32_t *ids = malloc((m.nd + 1) * sizeof(*ids)), nids = 0, *nsub, *pino;
	struct entry *kids = malloc((m.nd + 1) * sizeof(*kids));
	uint8_t r[256];
	struct stat st;

	memset(&g, 0, sizeof(g));
	g.fd = open(image, O_RDONLY | O_CLOEXEC);
	FUZZ_CHECK(g.fd >= 0 && fstat(g.fd, &st) == 0 && (uint64_t)st.st_size == bytes);
	get(g.sb, 1024, 1024);
	FUZZ_CHECK(le16(g.sb + 0x38) == 0xEF53 && le32(g.sb + 0x18) == 2 && le32(g.sb + 0x14) == 0);
	FUZZ_CHECK(le16(g.sb + 0x58) == 256 && le32(g.sb + 0x54) == 11 && le32(g.sb + 0x4C) == 1);
	FUZZ_CHECK(le32(g.sb + 0x3FC) == ext4_crc32c(~0u, g.sb, 0x3FC) && g.sb[0x175] == 1);
	FUZZ_CHECK(le32(g.sb + 0x20) == BPG && g.sb[0xFC] == 1 && (le32(g.sb + 0x160) & 2));
	FUZZ_CHECK(!memcmp(g.sb + 0x78, m.label, 16));
	g.blocks = le32(g.sb + 4) | (uint64_t)le32(g.sb + 0x150) << 32;
	g.ipg = le32(g.sb + 0x28);
	FUZZ_CHECK(g.blocks * BS == bytes && g.ipg && g.ipg <= BPG && g.ipg % 16 == 0);
	g.groups = (uint32_t)((g.blocks + BPG - 1) / BPG);
	FUZZ_CHECK(le32(g.sb) == g.groups * g.ipg);
	g.gdtb = (g.groups * 64 + BS - 1) / BS;
	g.seed = ext4_crc32c(~0u, g.sb + 0x68, 16);
	for (int i = 0; i < 4; i++)
		g.hseed[i] = le32(g.sb + 0xEC + 4 * i);
	g.gdt = malloc((size_t)g.gdtb * BS);
	g.bbm = malloc((size_t)g.groups * BS);
	g.ibm = malloc((size_t)g.groups * BS);
	g.claim = calloc(g.groups, BS);
	FUZZ_CHECK(ids && kids && g.gdt && g.bbm && g.ibm && g.claim);
	get(g.gdt, (size_t)g.gdtb * BS, BS);
	for (uint32_t gr = 0; gr < g.groups; gr++) {
		const uint8_t *d = g.gdt + (size_t)gr * 64;

		get_block(le32(d) | (uint64_t)le32(d + 0x20) << 32, g.bbm + (size_t)gr * BS);
		get_block(le32(d + 4) | (uint64_t)le32(d + 0x24) << 32, g.ibm + (size_t)gr * BS);
	}
	for (uint32_t gr = 0; gr < g.groups; gr++) {
		const uint8_t *d = g.gdt + (size_t)gr * 64;

		if (backup_group(gr))
			claim((uint64_t)gr * BPG, 1 + g.gdtb);
		claim(le32(d) | (uint64_t)le32(d + 0x20) << 32, 1);
		claim(le32(d + 4) | (uint64_t)le32(d + 0x24) << 32, 1);
		claim(le32(d + 8) | (uint64_t)le32(d + 0x28) << 32, g.ipg / 16);
	}
	{ /* the journal */
		struct ext *v = NULL;
		uint32_t nv = 0;
		uint64_t tb = 0;
		uint8_t j[BS];

		read_inode(8, r);
		FUZZ_CHECK(le32(g.sb + 0xE0) == 8 && S_ISREG(le16(r)) &&
			   (le32(r + 32) & FL_EXTENTS));
		extents(8, r + 40, 4, -1, &v, &nv, &tb);
		FUZZ_CHECK(nv >= 1 && v[0].lblk == 0);
		get_block(v[0].pblk, j);
		FUZZ_CHECK(le32(j) == 0x98393bc0); /* big-endian 0xC03B3998 */
		free(v);
	}
	/* the tree: each dir's kids sorted by name */
	for (uint32_t i = 0; i < m.nd; i++)
		if (m.d[i].alive)
			ids[nids++] = i;
	qsort(ids, nids, sizeof(*ids), by_dir);
	nsub = calloc(m.nn + 1, sizeof(*nsub));
	pino = calloc(m.nn + 1, sizeof(*pino));
	FUZZ_CHECK(nsub && pino);
	pino[0] = 2;
	for (uint32_t i = 0; i < nids; i++) {
		const struct mdent *d = &m.d[ids[i]];

		if (is_dir(d->node)) {
			nsub[d->dir]++;
			pino[d->node] = m.n[d->dir].ino;
		}
		kids[i] = (struct entry){ d->name, d->len, m.n[d->node].ino,
					  file_type(m.n[d->node].a.mode) };
	}
	for (uint32_t i = 0, k = 0; i < m.nn; i++) {
		uint32_t from = k;

		while (k < nids && m.d[ids[k]].dir == i)
			k++;
		if (m.n[i].alive)
			node_check(i, pino[i], kids + from, k - from, nsub[i]);
	}
	{ /* e2fsck's lost+found */
		uint32_t *s = m_slot(0, "lost+found", 10);

		FUZZ_CHECK(*s && is_dir(m.d[*s - 1].node));
	}
	groups_check();
	free(nsub);
	free(pino);
	free(ids);
	free(kids);
	free(g.gdt);
	free(g.bbm);
	free(g.ibm);
	free(g.claim);
	close(g.fd);
}

/* --- e2fsck, when asked --- */

static void fsck(const char *image, const char *log)
{
	static const char *const paths[] = { "/usr/sbin/e2fsck", "/sbin/e2fsck",
					     "/usr/bin/e2fsck" };
	const char *bin = NULL;
	int st = 0;
	pid_t pid;

	for (size_t i = 0; i < 3 && !bin; i++)
		if (access(paths[i], X_OK) == 0)
			bin = paths[i];
	if (!bin) {
		fprintf(stderr, "FUZZ_EXT4_FSCK=1 but no e2fsck in /usr/sbin, /sbin or /usr/bin\n");
		abort();
	}
	pid = fork();
	FUZZ_CHECK(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		execl(bin, "e2fsck", "-fn", image, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0) /* libFuzzer's -timeout alarm interrupts */
		FUZZ_CHECK(errno == EINTR);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		char buf[4096];
		int fd = open(log, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

		fprintf(stderr, "e2fsck -fn %s: exit %d\n%.*s\n", image, WEXITSTATUS(st),
			(int)(n > 0 ? n : 0), buf);
		abort();
	}
}

/* --- one input --- */

static void model_reset(void)
{
	for (uint32_t i = 0; i < m.nn; i++)
		if (m.n[i].alive)
			m_kill(i);
	m.nn = m.nd = m.data = 0;
	m.stop = false;
	memset(m.ht, 0, sizeof(m.ht));
}

static char dir[64], image[96], fsck_log[96];

/* The scratch directory goes at exit; after an abort the image stays, for
 * a look with debugfs. */
static void cleanup(void)
{
	unlink(image);
	unlink(fsck_log);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size, 0 };
	struct ext4_opts o = { .seed = "fuzz" };
	struct ext4_attr root = { .mode = S_IFDIR | 0755 }, lpf;
	uint32_t flags = u8(&in), ino = 0;
	uint64_t bytes = 0;
	struct err e;
	int rc;

	if (!dir[0]) {
		trace = getenv("FUZZ_EXT4_TRACE") && !strcmp(getenv("FUZZ_EXT4_TRACE"), "1");
		snprintf(dir, sizeof(dir), "%s/fuzz-ext4-%d",
			 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (int)getpid());
		snprintf(image, sizeof(image), "%s/image.ext4", dir);
		snprintf(fsck_log, sizeof(fsck_log), "%s/e2fsck.log", dir);
		mkdir(dir, 0700);
		atexit(cleanup);
	}
	unlink(image);
	model_reset();
	m.fixed = flags & 1;
	if (m.fixed) { /* small (too small, now and then), or many groups */
		uint32_t k = u8(&in);

		if (k < 200)
			o.size = (8 + k % 25) * MIB;
		else if (k < 240)
			o.size = (128 + (k - 200) * 40) * MIB;
		else
			o.size = (uint64_t)(4 + (k - 240) % 5) << 30;
		o.size += u8(&in);
	}
	m.time = o.time = (int64_t)u64(&in, 4);
	memset(m.label, 0, sizeof(m.label));
	if (flags & 2) {
		for (int i = 0; i < 20 && (m.label[i < 16 ? i : 16] = (char)u8(&in)); i++)
			;
		m.label[16] = '\0';
		o.label = m.label;
	}
	err_init(&e);
	fs = ext4_new(image, &o, &e);
	FUZZ_CHECK(fs);
	root.atime = root.mtime = root.ctime = m.time;
	lpf = root;
	lpf.mode = S_IFDIR | 0700;
	m_node(EXT4_ROOT_INO, &root);
	FUZZ_CHECK(ext4_lookup(fs, EXT4_ROOT_INO, "lost+found", 10, &ino) == 1);
	m_dent(0, "lost+found", 10, m_node(ino, &lpf));
	for (int k = 0; k < MAX_OPS && in.off < in.n && !m.stop; k++)
		op(&in);
	if (!m.stop) {
		api_check();
		err_init(&e);
		rc = ext4_finish(fs, &bytes, &e);
		if (trace)
			fprintf(stderr, "finish: %s%s\n", rc ? "refused: " : "done",
				rc ? e.msg : "");
		if (rc) {
			bool big = false; /* xattrs that may not fit in one block */

			for (uint32_t i = 0; i < m.nn; i++) {
				uint32_t need = 36;

				for (uint32_t k = 0; k < m.n[i].nxa; k++)
					need += ((16 + m.n[i].xa[k].nlen + 3) & ~3u) +
						((m.n[i].xa[k].len + 3) & ~3u);
				big |= m.n[i].alive && need > BS;
			}
			FUZZ_CHECK(e.msg[0] && ((m.fixed && e.code == EXIT_USAGE) ||
						(big && strstr(e.msg, "xattrs"))));
			m.stop = true;
		} else if (!*m_slot(0, "lost+found", 10)) { /* made again at the end */
			FUZZ_CHECK(ext4_lookup(fs, EXT4_ROOT_INO, "lost+found", 10, &ino) == 1);
			m_dent(0, "lost+found", 10, m_node(ino, &lpf));
		}
	}
	ext4_free(fs);
	fs = NULL;
	if (m.stop) { /* an unfinished image is not left behind */
		FUZZ_CHECK(access(image, F_OK) != 0);
		return 0;
	}
	if (m.fixed)
		FUZZ_CHECK(bytes == o.size / MIB * MIB);
	if (getenv("FUZZ_EXT4_FSCK") && !strcmp(getenv("FUZZ_EXT4_FSCK"), "1"))
		fsck(image, fsck_log);
	verify(image, bytes);
	unlink(image);
	return 0;
}
