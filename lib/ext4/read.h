/* read.h — read an ext4 image that someone else wrote, trusting none of it.
 *
 * `vm diff` and `vm commit` read a VM's writable layer (an ext4 its guest
 * kernel wrote) and its base image; `image import` takes any ext2/3/4. The
 * image is opened read-only and every number in it is checked before use:
 * against the image's size, the superblock's counts and the ceilings of
 * limits.h, so a hostile or torn image is an error (EXIT_VERIFY, one line
 * naming the image, the inode and what is wrong), never a crash, a loop or
 * an unbounded allocation.
 *
 * What it reads (Documentation/filesystems/ext4/ of the kernel):
 *  - block sizes 1 KiB…64 KiB, 128-byte and larger inodes with their extra
 *    fields (nanosecond times, times past 2038), 32- and 64-bit group
 *    descriptors, meta_bg, flex_bg, sparse_super(2), bigalloc;
 *  - extent trees of any depth (uninitialized extents and holes read as
 *    zeros), and ext2/3 block maps (direct, single, double, triple);
 *  - directories linearly, htree ones too (their index blocks look like
 *    empty entries);
 *  - fast and slow symlinks, devices, FIFOs, sockets, 64-bit sizes;
 *  - xattrs in the inode and in an external block (POSIX ACLs given back in
 *    the kernel's xattr format, as ext4_xattr_set takes them);
 *  - a journal that needs recovery (a VM that was killed, or one still
 *    running): its committed transactions are replayed in memory, the image
 *    itself is never written.
 * Refused with a message naming the feature: compression, inline data,
 * xattr inodes, encryption, casefolding, dirdata, an external journal,
 * fast commits, and any INCOMPAT feature this file does not know.
 *
 * A struct ext4_img is heap-owned (ext4_img_open/ext4_img_close); every
 * call blocks on reading the image only. Not thread-safe (one block buffer).
 */
#ifndef BANGER_EXT4_READ_H
#define BANGER_EXT4_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;
struct ext4_img;

#define EXT4_READ_CHUNK (256 * 1024) /* the most bytes one data callback gets */

/* One inode, decoded. */
struct ext4_inode {
	uint32_t ino;
	uint32_t mode, uid, gid, links, flags;
	uint64_t size;
	int64_t atime, mtime, ctime;
	uint32_t atime_ns, mtime_ns, ctime_ns;
	uint32_t major, minor; /* character and block devices */
	uint64_t xblock;       /* the external xattr block, 0 none */
	uint64_t sectors;      /* i_blocks, in 512-byte units */
	uint8_t iblock[60];    /* extent root, block map or fast symlink */
};

/* Opens path read-only and checks its superblock, group descriptors and
 * journal (replayed in memory when it needs recovery). Not an ext4, a
 * feature it cannot read, or numbers that do not fit the file: EXIT_VERIFY. */
struct ext4_img *ext4_img_open(const char *path, struct err *e);
/* The same on an open descriptor (kept open by the caller; the image does
 * not close it). what names the image in messages. */
struct ext4_img *ext4_img_open_fd(int fd, const char *what, struct err *e);
void ext4_img_close(struct ext4_img *img);

/* True when the image's journal held transactions to replay (it was not
 * cleanly unmounted: a VM killed, or still running). */
bool ext4_img_replayed(const struct ext4_img *img);

/* Reads inode ino. A number out of range, an inode that is free or not
 * initialised, or a checksum that does not match is EXIT_VERIFY. */
int ext4_img_inode(struct ext4_img *img, uint32_t ino, struct ext4_inode *out, struct err *e);

/* The target of symlink in into buf (NUL-terminated); a target longer than
 * size - 1 (or LIMIT_PATH - 1) is EXIT_VERIFY. */
int ext4_img_readlink(struct ext4_img *img, const struct ext4_inode *in, char *buf, size_t size,
		      struct err *e);

/* Callbacks return 0 to go on, a positive number to stop (the call returns
 * it), or -1 with e set. */

/* Each extended attribute of in: the full name ("user.x",
 * "system.posix_acl_access"), the value (in the kernel's format) and its
 * length. In-inode ones first, then the block's, each in on-disk order. */
typedef int (*ext4_xattr_fn)(const char *name, const void *val, size_t len, void *ud,
			     struct err *e);
int ext4_img_xattrs(struct ext4_img *img, const struct ext4_inode *in, ext4_xattr_fn fn, void *ud,
		    struct err *e);

/* The content of regular file in, in increasing offsets, in pieces of at
 * most EXT4_READ_CHUNK bytes within its size. Holes and uninitialized
 * extents are not given (they read as zeros): a sparse file stays sparse. */
typedef int (*ext4_data_fn)(uint64_t off, const void *data, size_t len, void *ud, struct err *e);
int ext4_img_data(struct ext4_img *img, const struct ext4_inode *in, ext4_data_fn fn, void *ud,
		  struct err *e);

/* A directory's entries, sorted by name (bytewise), without "." and "..".
 * Names are NUL-terminated (a name with '/' or NUL in it, a duplicate, or
 * more than LIMIT_EXT4_DIR_ENTRIES entries is EXIT_VERIFY). type is the
 * entry's file type byte (0 when the image has no filetype feature).
 * Caller-owned: ext4_dir_fini frees. */
struct ext4_dirent {
	const char *name;
	uint32_t len, ino;
	uint8_t type;
};
struct ext4_dir {
	struct ext4_dirent *v;
	size_t n;
	char *pool;
};
int ext4_img_list(struct ext4_img *img, const struct ext4_inode *dir, struct ext4_dir *out,
		  struct err *e);
void ext4_dir_fini(struct ext4_dir *d);
/* The entry name (len bytes) of a listed directory, or NULL. */
const struct ext4_dirent *ext4_dir_find(const struct ext4_dir *d, const char *name, size_t len);

/* Looks an absolute path up from the root, following no symlink: 1 and
 * *out when it is there, 0 when a component is missing or not a directory,
 * -1 with e set when the image is bad. "/" is the root. */
int ext4_img_lookup(struct ext4_img *img, const char *path, struct ext4_inode *out, struct err *e);

/* Directory inodes seen in one walk: a directory reached twice (a loop, or
 * a directory linked in two places) is refused rather than walked again. */
struct ext4_dirset {
	uint32_t *v;
	size_t cap, n;
};
void ext4_dirset_init(struct ext4_dirset *s);
void ext4_dirset_fini(struct ext4_dirset *s);
/* Adds ino: 0 when new, -1 with e set when seen before (EXIT_VERIFY naming
 * what) or out of memory. */
int ext4_dirset_add(struct ext4_dirset *s, uint32_t ino, const char *what, struct err *e);

/* The walk: fn is called for path (the root when "/") and, for a
 * directory, for everything below it, parents before children and names in
 * sorted order. path is absolute ("/", "/etc/passwd"), target the symlink
 * target ("" otherwise). fn returns 0 to go on, EXT4_WALK_SKIP to not go
 * below this directory, another positive number to stop (returned), or -1
 * with e set. Directories deeper than LIMIT_EXT4_DEPTH, paths over
 * LIMIT_PATH and loops are EXIT_VERIFY. fn may call ext4_img_xattrs and
 * ext4_img_data for the entry. */
#define EXT4_WALK_SKIP 1
struct ext4_entry {
	const char *path, *name;
	const char *target;
	struct ext4_inode in;
	int depth; /* 0 for the starting path */
};
typedef int (*ext4_walk_fn)(struct ext4_img *img, const struct ext4_entry *en, void *ud,
			    struct err *e);
int ext4_img_walk(struct ext4_img *img, const char *path, ext4_walk_fn fn, void *ud, struct err *e);

#endif
