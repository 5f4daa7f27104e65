/* layer.h — replay OCI image layers (tar, tar+gzip, tar+zstd) into an ext4 tree.
 *
 * Layers are applied in order into the in-memory tree of lib/ext4, as the
 * image spec says (https://github.com/opencontainers/image-spec/blob/main/
 * layer.md): entries replace what lower layers had, ".wh.NAME" deletes
 * NAME, ".wh..wh..opq" empties its directory of lower-layer content.
 * Regular files, directories, symlinks, hard links (also to files of
 * earlier layers), character and block devices, FIFOs and sockets keep
 * their mode (setuid/setgid/sticky too), numeric owner, times to the
 * nanosecond and xattrs — as the layer says, whoever runs it: nothing is
 * created on the host, so no privilege is needed. File data goes straight
 * to its blocks in the image file.
 *
 * Hardening — each violation fails the layer with EXIT_VERIFY, naming the
 * layer and the entry:
 *  - names are relative: absolute names and ".." components are refused;
 *  - every entry's parent is walked from the root one component at a time:
 *    a symlink anywhere in the parent path (planted by this or an earlier
 *    layer) is refused, never followed; the final component is never
 *    followed either (what is there is removed and created afresh);
 *  - hard links only to entries already in the tree, by the same walk,
 *    never to a directory;
 *  - whiteouts only remove names inside the tree, by the same walk.
 * libarchive only reads.
 *
 * A struct layer_root is caller-owned and borrows the ext4 tree; calls
 * block on the image file's I/O only.
 */
#ifndef BANGER_LAYER_H
#define BANGER_LAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct err;
struct ext4_fs;

struct layer_root {
	struct ext4_fs *fs;
	uint32_t layer; /* layers applied so far: what the current one wrote is tagged so */
	int64_t time;	/* times of what banger adds (directories, agent files) */
	/* A Debian package's data.tar, not an OCI layer: no whiteouts (".wh."
	 * is just a name to dpkg), and bin, sbin, lib, lib64 land under usr/
	 * (merged /usr; the caller adds the /bin → usr/bin links at the end). */
	bool deb;
};

/* Starts replaying into fs (which stays the caller's). */
void layer_root_open(struct layer_root *lr, struct ext4_fs *fs);

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
/* A directory at rel (parents too), unless one is there already. */
int layer_put_dir(struct layer_root *lr, const char *rel, mode_t mode, struct err *e);
/* Copies the host file src into the tree at rel with mode. */
int layer_copy_file(struct layer_root *lr, const char *rel, const char *src, mode_t mode,
		    struct err *e);
/* Creates the symlink rel → target, replacing what is there. */
int layer_put_symlink(struct layer_root *lr, const char *rel, const char *target, struct err *e);

/* Normalises a tar entry name: strips "./" and duplicate slashes, refuses
 * absolute names and ".." (EXIT_VERIFY). "" means the root itself.
 * Exposed for tests. */
int layer_clean_name(const char *name, char *out, size_t size, struct err *e);

#endif
