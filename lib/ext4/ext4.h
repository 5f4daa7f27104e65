/* ext4.h — build an ext4 image from a directory tree with mke2fs -d.
 *
 * A first implementation on e2fsprogs (a native writer is separate work):
 * the size comes from the content (data blocks + inode tables + journal +
 * headroom) unless the caller gives one. The result passes e2fsck -fn.
 */
#ifndef BANGER_EXT4_H
#define BANGER_EXT4_H

#include <stdbool.h>
#include <stdint.h>

struct err;
struct layer_usage;

struct ext4_plan {
	uint64_t bytes;	  /* image size, a multiple of 1 MiB */
	uint64_t inodes;  /* 0: mke2fs's default for the size */
	const char *uuid; /* NULL: random; else the UUID and the htree hash seed */
	int64_t epoch;	  /* 0: now; else the file system's own timestamps */
};

/* Sizes an image for u; size (bytes, 0 for automatic) overrides the total
 * but must hold the content, else EXIT_USAGE saying how much is needed. */
int ext4_plan(const struct layer_usage *u, uint64_t size, struct ext4_plan *p, struct err *e);

/* Creates out (sparse, p->bytes) and runs mke2fs -t ext4 -d tree on it
 * (fork/exec, blocks until it exits). mke2fs's own last message is in the
 * error; disk full is EXIT_SYSTEM with a hint. out is removed on failure. */
int ext4_build(const char *tree, const char *out, const struct ext4_plan *p, const char *label,
	       struct err *e);

/* True when path holds an ext2/3/4 superblock (magic 0xEF53). */
bool ext4_is_ext4(const char *path);

#endif
