/* layer.h — replay OCI image layers (tar, tar+gzip, tar+zstd) into a tree.
 *
 * Layers are applied in order into a staging root, as the image spec says
 * (https://github.com/opencontainers/image-spec/blob/main/layer.md): entries
 * replace what lower layers had, ".wh.NAME" deletes NAME, ".wh..wh..opq"
 * empties its directory of lower-layer content. Regular files, directories,
 * symlinks, hard links, character and block devices and FIFOs keep their
 * mode (setuid/setgid/sticky too), numeric owner, mtime and xattrs; the
 * caller must be root for owners and devices.
 *
 * Hardening — each violation fails the layer with EXIT_VERIFY, naming the
 * layer and the entry:
 *  - names are relative: absolute names and ".." components are refused;
 *  - every entry is created relative to a directory fd of the root, walking
 *    the parent one component at a time with O_NOFOLLOW: a symlink anywhere
 *    in the parent path (planted by this or an earlier layer) is refused,
 *    never followed; the final component is never followed either (what is
 *    there is removed and created afresh, files opened O_EXCL|O_NOFOLLOW);
 *  - hard links only to entries already inside the root, by the same walk;
 *  - whiteouts only remove names inside the root, by the same walk.
 * libarchive only reads; it never writes a path.
 *
 * A struct layer_root is caller-owned; calls block on disk I/O only.
 */
#ifndef BANGER_LAYER_H
#define BANGER_LAYER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct err;

struct layer_root {
	int fd; /* O_PATH directory fd of the root; -1 when closed */
};

/* Opens dir (which must exist and be a directory) as the root. */
int layer_root_open(struct layer_root *lr, const char *dir, struct err *e);
void layer_root_close(struct layer_root *lr);

/* Applies the layer in the file at path (compression detected from its
 * content). what names the layer in messages ("layer 2 (sha256:ab12…)").
 * On failure the tree is left partly applied: throw it away. */
int layer_apply(struct layer_root *lr, const char *path, const char *what, struct err *e);

/* The same, reading the layer through read (libarchive's read-callback
 * shape: *buf gets the bytes, returns their count, 0 at the end, -1 on
 * error — the caller keeps its own error and reports it in preference). */
typedef ssize_t (*layer_read_fn)(void *ud, const void **buf);
int layer_apply_stream(struct layer_root *lr, layer_read_fn read, void *ud, const char *what,
		       struct err *e);

/* Writes a regular file at rel (parents created 0755 as needed, never
 * through a symlink), replacing what is there. Owner root. */
int layer_put_file(struct layer_root *lr, const char *rel, const void *data, size_t len,
		   mode_t mode, struct err *e);
/* Copies the file src into the tree at rel with mode. */
int layer_copy_file(struct layer_root *lr, const char *rel, const char *src, mode_t mode,
		    struct err *e);
/* Creates the symlink rel → target, replacing what is there. */
int layer_put_symlink(struct layer_root *lr, const char *rel, const char *target, struct err *e);

/* Totals for sizing a filesystem: bytes in 4 KiB blocks (files, directories,
 * long symlinks; hard links counted once) and inodes. */
struct layer_usage {
	uint64_t blocks;
	uint64_t inodes;
	uint64_t bytes; /* apparent size of regular files */
};
int layer_usage(struct layer_root *lr, struct layer_usage *u, struct err *e);

/* Normalises a tar entry name: strips "./" and duplicate slashes, refuses
 * absolute names and ".." (EXIT_VERIFY). "" means the root itself.
 * Exposed for tests. */
int layer_clean_name(const char *name, char *out, size_t size, struct err *e);

#endif
