/* deb.h — Debian's own kernels as a source: the Packages index of a mirror,
 * dpkg's version order, and a kernel .deb unpacked into a kernel directory.
 *
 * Trust: the index is fetched over HTTPS from the mirror (TLS is the only
 * thing vouching for it: banger has no OpenPGP to check the InRelease
 * signature), and the .deb must match the SHA256 and Size the index gives
 * (docs/kernel-catalog.md). All network calls block.
 */
#ifndef BANGER_DEB_H
#define BANGER_DEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "digest.h"
#include "limits.h"

struct err;

/* dpkg's order of two versions ([epoch:]upstream[-revision], '~' sorts
 * before everything, even the end): <0, 0, >0. Never fails; malformed
 * text compares by the same rules as dpkg does. */
int deb_version_cmp(const char *a, const char *b);

/* True when name matches pattern, which holds exactly one '*' standing for
 * one or more characters ("linux-image-6.1.0-*-cloud-amd64"). */
bool deb_glob_match(const char *pattern, const char *name);

struct deb_pkg {
	char package[LIMIT_NAME + 1];
	char version[LIMIT_NAME + 1];
	char arch[LIMIT_NAME + 1];
	char filename[LIMIT_URL]; /* pool/…, relative to the mirror */
	char sha256[DIGEST_HEX_LEN + 1];
	uint64_t size;
};

/* A Packages index parser fed with bytes (a state machine: no I/O), that
 * keeps the newest stanza whose Package matches pattern and whose
 * Architecture is arch. Caller-owned (deb_index_init/deb_index_fini). */
struct deb_index {
	const char *pattern, *arch;
	struct deb_pkg cur, best;
	char sha_text[LIMIT_NAME + 1], size_text[32]; /* checked when cur matches */
	unsigned have;				      /* fields of cur seen (bit per field) */
	bool found;				      /* best is set */
	bool skip_line;				      /* inside a line we do not keep */
	bool field_known;    /* the current line's field name has been seen */
	struct buf line;     /* the current line (ceiling LIMIT_DEB_LINE) */
	uint64_t total;	     /* bytes fed (ceiling LIMIT_DEB_INDEX) */
	unsigned long lines; /* for messages */
};

void deb_index_init(struct deb_index *x, const char *pattern, const char *arch);
void deb_index_fini(struct deb_index *x);
/* Feeds n bytes. EXIT_VERIFY on an overlong line or index, or a matching
 * stanza with a malformed Filename, SHA256 or Size. */
int deb_index_feed(struct deb_index *x, const char *p, size_t n, struct err *e);
/* Ends the input; then x->found tells whether a package matched. */
int deb_index_end(struct deb_index *x, struct err *e);

/* Fetches MIRROR/dists/SUITE/COMPONENT/binary-ARCH/Packages.xz (or .gz
 * when there is no .xz), streamed through libarchive's raw filters, and
 * picks the newest package matching pattern. EXIT_NOTFOUND when none
 * matches; network errors as http.h. ca_file may be NULL. */
int deb_resolve(const char *mirror, const char *suite, const char *component, const char *arch,
		const char *pattern, const char *ca_file, struct deb_pkg *out, struct err *e);

/* What deb_kernel_unpack found. */
struct deb_kernel {
	char version[LIMIT_NAME + 1]; /* from boot/vmlinuz-VERSION */
	const char *compression;      /* of the vmlinuz payload */
	uint64_t vmlinux_size;
	bool modules; /* dir/modules/lib/modules/VERSION exists */
};

/* Downloads the .deb at url (size and sha256 from the index), verifying
 * while streaming, and unpacks it (ar → data.tar.{xz,zst,gz}) into dir:
 * dir/vmlinux (the ELF cut out of boot/vmlinuz-*, only after the .deb is
 * verified) and dir/modules/lib/modules/VERSION (confined, lib/catalog/extract.h).
 * Anything else in the package is skipped. On failure dir holds a partial
 * tree the caller removes. */
int deb_kernel_unpack(const char *url, const char *sha256, uint64_t size, const char *ca_file,
		      const char *label, const char *dir, struct deb_kernel *out, struct err *e);

#endif
