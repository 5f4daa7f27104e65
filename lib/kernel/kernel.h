/* kernel.h — guest kernels in the store: pull (bundle or Debian .deb),
 * import, and what an installed kernel looks like.
 *
 * BANGER_HOME/kernels/NAME/ holds vmlinux (an ELF, what Firecracker boots),
 * optionally initrd.img and modules/lib/modules/VERSION/, and
 * manifest.json: name, kind, distro, arch, kernel_version, source, sha256
 * (of what was downloaded or imported), size, needs_initramfs, installed
 * (docs/kernel-catalog.md). Installs go through bundle_install_custom:
 * locked per name, built in a staging dir, renamed in whole.
 * All calls block (network, disk).
 */
#ifndef BANGER_KERNEL_H
#define BANGER_KERNEL_H

#include <stdbool.h>
#include <stddef.h>

#include "catalog/bundle.h"

struct catalog_entry;
struct store;
struct err;

#define KERNEL_KIND "kernels"

struct kernel_pull_opts {
	bool force;	     /* reinstall even when the same digest is installed */
	const char *mirror;  /* deb entries: use this mirror instead of the entry's */
	const char *ca_file; /* NULL: $SSL_CERT_FILE or the system bundle */
	const char *catalog; /* catalog URL or file; NULL: $BANGER_KERNEL_CATALOG or built in */
	bool if_missing;     /* an installed kernels/NAME is used as it is: no network */
};

/* The whole pull of kernel NAME: the catalog loaded (o->catalog), its entry
 * installed as kernels/NAME. bundle entries: the tar.zst must hold an ELF
 * vmlinux. deb entries: the newest matching package is resolved from the
 * mirror's index first (so a new Debian kernel is a new digest, hence a new
 * install). oci entries are refused. A name not in the catalog is
 * EXIT_NOTFOUND naming the catalog. With o->if_missing, an installed
 * vmlinux is BUNDLE_ALREADY at once. */
int kernel_pull(const struct store *s, const char *name, const struct kernel_pull_opts *o,
		enum bundle_outcome *out, struct err *e);

/* The installed kernel's version from its manifest; "" when unknown. */
void kernel_installed_version(const struct store *s, const char *name, char *out, size_t size);

struct kernel_import {
	const char *vmlinux; /* an ELF, or */
	const char *vmlinuz; /* a bzImage to cut the ELF out of */
	const char *initrd;  /* optional */
	const char *modules; /* optional: a root holding lib/modules/, or one lib/modules/VERSION */
	bool force;	     /* replace an installed kernel of that name */
};

/* Registers local files as kernels/NAME; manifest sha256 is the digest of
 * the given vmlinux or vmlinuz. An existing NAME is EXIT_BUSY unless force. */
int kernel_import(const struct store *s, const char *name, const struct kernel_import *in,
		  enum bundle_outcome *out, struct err *e);

#endif
