/* bundle.h — tar.zst bundles: pull (download, verify, unpack in one pass,
 * install atomically) and pack (deterministic).
 *
 * A bundle is a zstd-compressed tar of a store object's files (kernels:
 * vmlinux, initrd.img, modules/; images: rootfs.ext4 …). Pulling streams the
 * body once: every byte is counted and hashed (SHA-256) as libarchive reads
 * it, and entries are unpacked into a staging directory as they arrive.
 * Only when the stream has ended and the digest and size both match the
 * catalog's is the staging directory renamed into place; on any failure
 * (network, digest, size, unsafe entry, full disk) it is removed and
 * nothing is installed; a process killed mid-pull leaves its staging dir
 * to the next pull of that name (store_sweep_staging).
 *
 * Unpacking is confined by lib/catalog/extract.h (relative names without "..",
 * parents opened with O_NOFOLLOW, links that stay inside, no devices; no
 * owners kept). This is deliberately simpler than OCI layer replay
 * (lib/oci/layer.c), which keeps owners, devices and whiteouts.
 *
 * SHA-256 runs in a helper thread beside the reader: started by
 * bundle_stream_open, joined by bundle_stream_finish or _free (so
 * bundle_download and bundle_install_custom return with none left). All calls
 * block (network and disk I/O); nothing is shared between calls.
 */
#ifndef BANGER_BUNDLE_H
#define BANGER_BUNDLE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "digest.h"
#include "limits.h"

struct err;
struct store;
struct cJSON;

/* What to download and what it must be. */
struct bundle_src {
	const char *url;     /* https://, file://, http:// to loopback */
	const char *sha256;  /* expected, 64 hex */
	uint64_t size;	     /* expected size in bytes (0 < size <= LIMIT_DOWNLOAD) */
	const char *ca_file; /* NULL: $SSL_CERT_FILE or the system bundle */
	const char *label;   /* progress bar label, e.g. the object's name */
};

/* Downloads src and unpacks it into dir (an existing, empty directory).
 * Returns 0 only when the whole stream was read and its SHA-256 and size
 * match; then the tree in dir is complete. On failure dir may hold a
 * partial tree: the caller removes it (bundle_install_custom does). Errors:
 * EXIT_NETWORK/EXIT_NOTFOUND from http, EXIT_VERIFY for a digest or size
 * mismatch, a malformed archive or an unsafe entry, EXIT_SYSTEM for disk. */
int bundle_download(const struct bundle_src *src, const char *dir, struct err *e);

/* The byte source under bundle_download, for other archive kinds (a .deb):
 * an HTTP(S) stream of src (file:// is read directly) whose every byte is counted (over src->size is
 * an error at once) and hashed as an archive reads it, with a progress
 * bar. The usual shape:
 *   s = bundle_stream_open(src, e);
 *   archive_read_open(a, s, NULL, bundle_stream_archive_cb, NULL);
 *   … read entries; on an archive error: bundle_stream_fail(s, a, "what", e)
 *   bundle_stream_finish(s, …) drains the rest and checks sha256 and size.
 * src's strings must outlive the stream.
 */
struct bundle_stream;
struct archive;
struct bundle_stream *bundle_stream_open(const struct bundle_src *src, struct err *e);
/* libarchive read callback (archive_read_callback); ud is the stream. */
ssize_t bundle_stream_archive_cb(struct archive *a, void *ud, const void **out);
/* Reports why reading failed: the stream's own error (network, too large)
 * if it had one, else "not a valid KIND" with libarchive's reason. -1. */
int bundle_stream_fail(struct bundle_stream *s, struct archive *a, const char *kind, struct err *e);
/* True when the stream itself failed (then bundle_stream_fail reports it). */
bool bundle_stream_failed(const struct bundle_stream *s);
/* Reads to the end, then verifies; got/size (may be NULL) receive what was
 * seen. EXIT_VERIFY on a mismatch. */
int bundle_stream_finish(struct bundle_stream *s, char got[DIGEST_HEX_LEN + 1], uint64_t *size,
			 struct err *e);
void bundle_stream_free(struct bundle_stream *s);

/* Unpacks a tar.zst already open as fd (a local bundle) into dir, confined,
 * and reports its sha256 and size (NULL to skip). Same rules as above. */
int bundle_extract_fd(int fd, const char *dir, char sha256[DIGEST_HEX_LEN + 1], uint64_t *size,
		      struct err *e);

/* Outcome of bundle_install_custom. */
enum bundle_outcome {
	BUNDLE_INSTALLED,	/* downloaded, verified, installed */
	BUNDLE_ALREADY,		/* an installed copy with this digest was there */
	BUNDLE_INSTALLED_OTHER, /* we waited for another banger that installed it */
};

/* Fills a staging directory for bundle_install_custom; may add fields to
 * the manifest it is handed. Returns 0 or -1 with e set. */
typedef int (*bundle_fill_fn)(const char *staging, void *ud, struct cJSON *manifest, struct err *e);

/* The whole install of one store object KIND/NAME, its content made by
 * fill (a bundle download, a .deb, an import):
 *   lock KIND/.NAME.lock (waiting for another install of the same object),
 *   sweep dead staging dirs, return BUNDLE_ALREADY when KIND/NAME/manifest.json
 *   records sha256 (unless force), else fill a staging dir, write
 *   manifest.json there (the caller's `manifest` object plus "name",
 *   "sha256" and "installed" (UTC time)), and commit it into KIND/NAME
 *   (file_commit_dir: never half-installed). manifest may be NULL; it is
 *   not consumed. */
int bundle_install_custom(const struct store *s, const char *kind, const char *name,
			  const char *sha256, bool force, bundle_fill_fn fill, void *ud,
			  const struct cJSON *manifest, enum bundle_outcome *out, struct err *e);

/* Writes manifest (plus an "installed" time when absent) as
 * DIR/manifest.json, atomically. */
int bundle_write_manifest(const char *dir, const struct cJSON *manifest, struct err *e);

/* Reads DIR/manifest.json (ceiling LIMIT_JSON_DOC); the caller frees with
 * cJSON_Delete. Missing → EXIT_NOTFOUND; malformed → EXIT_VERIFY. */
struct cJSON *bundle_read_manifest(const char *dir, struct err *e);

/* Packs the files under dir into out_path (a .tar.zst), deterministic:
 * entries sorted by name, mtime 0, uid/gid 0 with no owner names, modes
 * kept (0755 / 0644 style, no special bits), zstd level 19. Regular files,
 * directories and relative symlinks inside dir only (anything else is an
 * EXIT_VERIFY error). The file is written atomically; its sha256 and size
 * are returned. */
int bundle_pack(const char *dir, const char *out_path, char sha256[DIGEST_HEX_LEN + 1],
		uint64_t *size, struct err *e);

/* bundle_pack of only the top-level names listed (NULL-terminated; NULL:
 * everything), e.g. { "vmlinux", "initrd.img", "modules", NULL }. */
int bundle_pack_only(const char *dir, const char *const *only, const char *out_path,
		     char sha256[DIGEST_HEX_LEN + 1], uint64_t *size, struct err *e);

/* Zstd level used by bundle_pack. */
#define BUNDLE_ZSTD_LEVEL 19

#endif
