/* image_debian.h — the catalog's "debian" images: built from a Debian
 * archive (lib/deb/debian.h) into BANGER_HOME/images/NAME/, with the banger
 * agent added, as one transaction: locked, staged, committed atomically.
 *
 * Beside manifest.json and rootfs.ext4 the image directory holds
 * packages.txt: "NAME VERSION ARCH SHA256" a line, sorted — the package set,
 * whose sha256 is the manifest's "digest" (the same set gives the same
 * digest, and the same rootfs.ext4: the writer's UUID and hash seed come
 * from it, its times from the newest Release date).
 */
#ifndef BANGER_IMAGE_DEBIAN_H
#define BANGER_IMAGE_DEBIAN_H

#include <stdbool.h>
#include <stdint.h>

struct err;
struct store;
struct catalog_entry;

struct image_debian_opts {
	const char *mirror;  /* replaces every source's mirror (a local copy) */
	const char *keyring; /* NULL: $BANGER_DEB_KEYRING, else the built-in one */
	const char *ca_file;
	uint64_t size; /* ext4 size; 0: from the content */
	bool refresh;  /* re-read the archive; rebuild when the set moved */
	bool force;    /* rebuild whatever is installed */
};

enum image_debian_outcome { IMAGE_DEBIAN_BUILT, IMAGE_DEBIAN_UP_TO_DATE };

/* Installs ent (kind debian) as images/NAME. Without refresh or force an
 * installed image of the same entry is kept as it is (no network). */
int image_pull_debian(const struct store *s, const struct catalog_entry *ent, const char *name,
		      const struct image_debian_opts *o, enum image_debian_outcome *out,
		      struct err *e);

#endif
