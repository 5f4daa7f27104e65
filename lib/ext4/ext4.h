/* ext4.h — write an ext4 filesystem image directly, from an in-memory tree.
 *
 * The format is the one the kernel documents (Documentation/filesystems/
 * ext4/): 4 KiB blocks, 256-byte inodes, and mke2fs's ext4 defaults from
 * Debian's mke2fs.conf — has_journal, ext_attr, dir_index, filetype,
 * extent, 64bit, flex_bg, sparse_super, large_file, huge_file, dir_nlink,
 * extra_isize, metadata_csum (crc32c) — except resize_inode (no online
 * growth reserve: images are copied per VM and never resized in place).
 *
 * The caller builds a tree of inodes (ext4_create, ext4_link, ext4_remove,
 * ext4_xattr_set) and writes file data with ext4_write, which allocates
 * blocks and pwrite()s the bytes straight into the image file: only
 * metadata is held in memory (about 150 bytes an inode plus names, extents
 * and xattrs — a few MiB for a 1 GiB Debian image). Blocks of removed files
 * are punched out of the image and reused. ext4_finish lays out
 * directories (htree-indexed once they outgrow a block, as the kernel
 * would), extent trees (as deep as needed), xattr blocks, the journal,
 * bitmaps and inode tables, and writes superblocks and group descriptors.
 *
 * Deterministic: the UUID and the directory hash seed come from the
 * caller's seed, inodes are numbered in creation order, and no clock is
 * read — the same calls give a byte-identical image.
 *
 * A struct ext4_fs is heap-owned (ext4_new/ext4_free); calls block on the
 * image file's I/O only.
 */
#ifndef BANGER_EXT4_H
#define BANGER_EXT4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct err;

#define EXT4_ROOT_INO 2
#define EXT4_BLOCK 4096
/* The largest regular file: 2^32 - 1 blocks, the kernel's s_maxbytes. */
#define EXT4_MAX_FILE ((uint64_t)0xffffffff * EXT4_BLOCK)

struct ext4_opts {
	uint64_t size;	   /* image bytes; 0: the content plus headroom */
	const char *label; /* volume name, at most 16 bytes kept */
	const char *seed;  /* UUID and hash seed derive from it (e.g. a digest) */
	int64_t time;	   /* superblock times (mkfs, write), e.g. newest mtime */
	bool progress;	   /* a progress bar for the final layout (TTY only) */
};

/* What an inode is. mode carries the type (S_IFREG…) and permission bits. */
struct ext4_attr {
	uint32_t mode, uid, gid;
	uint64_t size; /* regular files: the size, at most EXT4_MAX_FILE (data by ext4_write) */
	int64_t atime, mtime, ctime;
	uint32_t atime_ns, mtime_ns, ctime_ns;
	uint32_t major, minor; /* character and block devices: 12 and 20 bits */
	const char *symlink;   /* symlinks: the target (at most 4095 bytes) */
	uint32_t links;	       /* filled by ext4_stat, ignored otherwise */
};

struct ext4_fs;

/* Creates out (O_EXCL) and an empty tree: the root (0755, root) and
 * lost+found. The image file is removed by ext4_free unless finished. */
struct ext4_fs *ext4_new(const char *out, const struct ext4_opts *o, struct err *e);

/* Frees the tree and closes the image; an unfinished image is unlinked. */
void ext4_free(struct ext4_fs *fs);

/* Looks name (len bytes) up in directory dir: 1 and *ino when there, 0 when
 * not. */
int ext4_lookup(struct ext4_fs *fs, uint32_t dir, const char *name, size_t len, uint32_t *ino);

/* The attributes of ino (symlink points into the tree). */
void ext4_stat(struct ext4_fs *fs, uint32_t ino, struct ext4_attr *a);

/* Creates name in dir (a directory which must not hold it) as a new inode
 * with a. Names are 1..255 bytes without '/' or NUL and not "." or "..";
 * the root's lost+found can only be a directory. Times outside what ext4
 * stores (1901 to 2446) are clamped to its range, as the kernel does. */
int ext4_create(struct ext4_fs *fs, uint32_t dir, const char *name, size_t len,
		const struct ext4_attr *a, uint32_t *ino, struct err *e);

/* Sets mode bits (not the type), owner and times of ino from a. */
void ext4_set_attr(struct ext4_fs *fs, uint32_t ino, const struct ext4_attr *a);

/* Adds name in dir (a directory) as another link to ino (not a directory). */
int ext4_link(struct ext4_fs *fs, uint32_t dir, const char *name, size_t len, uint32_t ino,
	      struct err *e);

/* Removes name from dir, and with its last link the inode — a directory
 * with everything below it. Freed blocks are reused. 0 when name is absent. */
int ext4_remove(struct ext4_fs *fs, uint32_t dir, const char *name, size_t len, struct err *e);

/* Calls fn for each entry of dir (in no particular order); fn may remove
 * the entry it is given. Stops at the first non-zero return. */
typedef int (*ext4_each_fn)(struct ext4_fs *fs, uint32_t dir, const char *name, size_t len,
			    uint32_t ino, void *ud);
int ext4_each(struct ext4_fs *fs, uint32_t dir, ext4_each_fn fn, void *ud);

/* Writes len bytes at off into regular file ino, within its size. Writes
 * go forward through the file (holes are left unallocated: sparse files);
 * rewriting a block already written is allowed. */
int ext4_write(struct ext4_fs *fs, uint32_t ino, uint64_t off, const void *data, size_t len,
	       struct err *e);

/* Sets (replaces) the extended attribute name (with its namespace:
 * "user.", "trusted.", "security.", "system.posix_acl_access"…) of ino.
 * POSIX ACLs are given in the kernel's xattr format and stored in ext4's. */
int ext4_xattr_set(struct ext4_fs *fs, uint32_t ino, const char *name, const void *val, size_t len,
		   struct err *e);

/* A per-inode tag for the caller (the layer replay marks what the current
 * layer wrote); 0 for new inodes. */
uint32_t ext4_tag(struct ext4_fs *fs, uint32_t ino);
void ext4_set_tag(struct ext4_fs *fs, uint32_t ino, uint32_t tag);

/* What the tree holds now, for sizing. */
struct ext4_usage {
	uint64_t blocks; /* data and directory blocks, 4 KiB */
	uint64_t inodes;
};
void ext4_usage(struct ext4_fs *fs, struct ext4_usage *u);

/* Lays out and writes the metadata; the image is then complete and kept.
 * *bytes gets the image size. A size given to ext4_new that cannot hold
 * the content is EXIT_USAGE naming what is needed; a full disk is
 * EXIT_SYSTEM. */
int ext4_finish(struct ext4_fs *fs, uint64_t *bytes, struct err *e);

/* Creates out as an empty ext4 of bytes (a per-VM data disk). */
int ext4_make_empty(const char *out, uint64_t bytes, const char *label, struct err *e);

/* Sizes an image for u: size (bytes, 0 for automatic) overrides the total
 * but must hold the content, else EXIT_USAGE saying how much is needed. */
struct ext4_plan {
	uint64_t bytes;	 /* image size, a multiple of 1 MiB */
	uint64_t inodes; /* inodes to provide */
};
int ext4_plan(const struct ext4_usage *u, uint64_t size, struct ext4_plan *p, struct err *e);

/* Adds the host directory tree dir (its content, not dir itself) under
 * the root: files, directories, symlinks, hard links, devices, FIFOs,
 * sockets with owners, modes, times (the change time is taken to be the
 * mtime) and xattrs; holes stay holes. Nothing
 * is followed (each name is opened O_NOFOLLOW below a directory fd) and
 * names are taken in sorted order, so the same tree gives the same image.
 * Blocks on reading the tree. */
int ext4_add_tree(struct ext4_fs *fs, const char *dir, struct err *e);

/* True when path holds an ext2/3/4 superblock (magic 0xEF53). */
bool ext4_is_ext4(const char *path);

/* Exposed for tests: crc32c as ext4 uses it (no final inversion), and the
 * half-MD4 directory hash (unsigned), hash and minor hash. */
uint32_t ext4_crc32c(uint32_t crc, const void *p, size_t n);
void ext4_dirhash(const char *name, size_t len, const uint32_t seed[4], uint32_t *hash,
		  uint32_t *minor);

#endif
