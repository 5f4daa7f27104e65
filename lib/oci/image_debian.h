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

/* A second stage run in a VM, for whoever cannot chroot (lib/vm/build.c
 * implements it; lib/oci cannot reach lib/vm, so the caller hands it in).
 * base is booted read-only with a fresh writable layer, banger as PID 1,
 * no network; the script runs as root through the agent with env added, its
 * output into log; the VM stops, and base with what the script changed is
 * written by the native writer to out (label, seed, size 0: from the
 * content; every time after epoch brought down to it, atimes and ctimes to
 * the mtime). *status gets the script's exit status. */
struct image_guest_job {
	const char *name;   /* the image being built (names the VM) */
	const char *kernel; /* the kernel to boot; NULL: the default */
	const char *base, *out, *log, *label, *seed;
	const char *script; /* its path inside base, run with /bin/sh -e */
	const char *const *env;
	int64_t epoch;
	uint64_t size;
};
struct image_guest {
	int (*run)(void *ud, const struct image_guest_job *j, int *status, struct err *e);
	void *ud;
};

struct image_debian_opts {
	const char *mirror;  /* replaces every source's mirror (a local copy) */
	const char *keyring; /* NULL: $BANGER_DEB_KEYRING, else the built-in one */
	const char *ca_file;
	uint64_t size; /* ext4 size; 0: from the content */
	bool refresh;  /* re-read the archive; rebuild when the set moved */
	bool force;    /* rebuild whatever is installed */
	/* The second stage: in a chroot on the host when root (debootstrap's
	 * way, fast), else — or with in_vm — in a VM through guest (NULL: root
	 * only). */
	const struct image_guest *guest;
	const char *kernel; /* for guest; NULL: the default */
	bool in_vm;
};

enum image_debian_outcome { IMAGE_DEBIAN_BUILT, IMAGE_DEBIAN_UP_TO_DATE };

/* Installs ent (kind debian) as images/NAME. Without refresh or force an
 * installed image of the same entry is kept as it is (no network). */
int image_pull_debian(const struct store *s, const struct catalog_entry *ent, const char *name,
		      const struct image_debian_opts *o, enum image_debian_outcome *out,
		      struct err *e);

#endif
