/* image.h — installed images: BANGER_HOME/images/NAME/{rootfs.ext4,
 * manifest.json}. An image holds exactly what its source made: banger
 * reaches the guest through its initramfs, never by writing into the image.
 *
 * manifest.json (written atomically with the image directory):
 *   { "name", "source" (normalised ref, or "import:PATH"), "digest" (the
 *     resolved manifest digest, or the sha256 of an imported file),
 *     "index_digest", "platform", "size" (bytes of rootfs.ext4), "created"
 *     (RFC 3339 UTC),
 *     "config": { "Env", "Entrypoint", "Cmd", "WorkingDir", "User" } }
 *   "config" is what the OCI image config's "config" object said at pull
 *   time (the keys present, with the spec's names), so `vm run` can run the
 *   image the way docker does.
 */
#ifndef BANGER_IMAGE_H
#define BANGER_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "limits.h"
#include "strlist.h"

struct err;
struct layer_root;

/* How the image wants to be run (OCI image-spec config.config). */
struct image_config {
	struct strlist env;	   /* "K=V" */
	struct strlist entrypoint; /* argv prefix */
	struct strlist cmd;	   /* default arguments (or the command) */
	char workdir[LIMIT_PATH];  /* "" unset */
	char user[LIMIT_RUN_USER]; /* "" unset: NAME, UID, UID:GID, NAME:GROUP */
};

/* Reads the run settings out of an image config blob (the verified JSON
 * document a registry serves). Absent keys stay empty; wrong types, and
 * values over the limits (strlist.h, LIMIT_PATH, LIMIT_RUN_USER), are
 * EXIT_VERIFY naming the key. */
int image_config_from_oci(const char *config_json, struct image_config *c, struct err *e);

struct image_meta {
	char name[65];
	char source[LIMIT_PATH + 16];
	char digest[80];
	char index_digest[80];
	char platform[64];
	uint64_t size;
	char created[32];
	struct image_config config;
};

struct oci_image;
/* Writes dir/layers: the digests of img's layers, one "sha256:HEX" a line —
 * the blobs in oci/blobs/ this image was built from, which prune.h keeps. */
int image_layers_write(const char *dir, const struct oci_image *img, struct err *e);

/* Writes dir/manifest.json atomically. */
int image_meta_write(const char *dir, const struct image_meta *m, struct err *e);
/* Reads dir/manifest.json; a missing file is EXIT_NOTFOUND. */
int image_meta_read(const char *dir, struct image_meta *m, struct err *e);

struct store;
struct catalog_entry;
enum bundle_outcome;

/* Installs the catalog bundle entry ent as images/NAME (bundle.h's
 * bundle_install_custom: locked, verified, atomic). The bundle holds
 * rootfs.ext4 (an ext4 file system, checked) and the manifest.json it was
 * packed with, whose fields are kept; "source" becomes the bundle URL and
 * "sha256" its digest. ca_file may be NULL. */
int image_pull_bundle(const struct store *s, const struct catalog_entry *ent, const char *name,
		      const char *ca_file, bool force, enum bundle_outcome *out, struct err *e);

/* Packs images/NAME's rootfs.ext4 and manifest.json into
 * OUTDIR/NAME-ARCH-SHA256PREFIX.tar.zst (bundle_pack: deterministic) and
 * writes the file name (in OUTDIR) to file; sha256 and size of the bundle. */
int image_pack(const char *dir, const char *name, const char *arch, const char *outdir, char *file,
	       size_t fsize, char sha256[DIGEST_HEX_LEN + 1], uint64_t *size, struct err *e);

/* "2026-11-29T19:30:00Z" for now. */
void image_now(char out[32]);

#endif
