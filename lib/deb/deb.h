/* deb.h — Debian's own kernels as a source: the Packages index of a mirror,
 * dpkg's version order, and a kernel .deb unpacked into a kernel directory.
 *
 * Trust: the suite's InRelease must carry a good signature by a key of the
 * archive keyring (lib/deb/pgp.h), the index must match the SHA256 its
 * Release lists, and the .deb the SHA256 and Size the index gives
 * (docs/debian-images.md). All network calls block.
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

/* The fields banger reads from a Packages index, in this order. */
enum deb_field {
	DEB_F_PACKAGE,
	DEB_F_VERSION,
	DEB_F_ARCH,
	DEB_F_FILENAME,
	DEB_F_SHA256,
	DEB_F_SIZE,
	DEB_F_PRIORITY,
	DEB_F_ESSENTIAL,
	DEB_F_DEPENDS,
	DEB_F_PRE_DEPENDS,
	DEB_F_PROVIDES,
	DEB_F_COUNT
};
extern const char *const deb_fields[DEB_F_COUNT];
#define DEB_FIELDS_MAX 16

/* Called at the end of each paragraph with the values of the fields asked
 * for (NULL when absent; valid only during the call); line is where the
 * paragraph ended. A negative return stops the parse with e set. */
typedef int (*deb_stanza_fn)(void *ud, const char *const *val, unsigned long line, struct err *e);

/* A deb822 paragraph parser fed with bytes (a state machine: no I/O): the
 * lines of the fields named are kept (each at most LIMIT_DEB_LINE — longer
 * is EXIT_VERIFY, never a truncation), every other line is skipped unread
 * whatever its length. Caller-owned (deb_stanza_init/deb_stanza_fini). */
struct deb_stanza {
	const char *const *fields;
	size_t nfields;
	deb_stanza_fn fn;
	void *ud;
	char *val[DEB_FIELDS_MAX];
	bool skip_line;	     /* inside a line we do not keep */
	bool field_known;    /* the current line's field name has been seen */
	struct buf line;     /* the current line (ceiling LIMIT_DEB_LINE) */
	uint64_t total;	     /* bytes fed (ceiling LIMIT_DEB_INDEX) */
	unsigned long lines; /* for messages */
};

void deb_stanza_init(struct deb_stanza *s, const char *const *fields, size_t n, deb_stanza_fn fn,
		     void *ud);
void deb_stanza_fini(struct deb_stanza *s);
/* EXIT_VERIFY on an overlong kept line or index, a field given twice, or
 * what fn refuses. */
int deb_stanza_feed(struct deb_stanza *s, const char *p, size_t n, struct err *e);
int deb_stanza_end(struct deb_stanza *s, struct err *e);

/* Fills p from a paragraph's values (deb_fields order): EXIT_VERIFY when
 * Version, Architecture, Filename, SHA256 or Size is missing or malformed,
 * or Filename is not a confined pool/ path. */
int deb_pkg_fill(struct deb_pkg *p, const char *const *val, struct err *e);

/* The kernel matcher: keeps the newest paragraph whose Package matches
 * pattern and whose Architecture is arch. Caller-owned
 * (deb_index_init/deb_index_fini). */
struct deb_index {
	const char *pattern, *arch;
	struct deb_pkg best;
	bool found; /* best is set */
	struct deb_stanza p;
};

void deb_index_init(struct deb_index *x, const char *pattern, const char *arch);
void deb_index_fini(struct deb_index *x);
/* Feeds n bytes. EXIT_VERIFY on an overlong line or index, or a matching
 * stanza with a malformed Filename, SHA256 or Size. */
int deb_index_feed(struct deb_index *x, const char *p, size_t n, struct err *e);
/* Ends the input; then x->found tells whether a package matched. */
int deb_index_end(struct deb_index *x, struct err *e);

/* ---- the archive's trust chain ------------------------------------------
 * InRelease is checked against the keyring (lib/deb/pgp.h); the Packages
 * index against the SHA256 and size its verified Release lists; each .deb
 * against the SHA256 and Size of its verified index. */

struct pgp_keyring;

/* Loads the archive keyring: path when non-NULL, else $BANGER_DEB_KEYRING,
 * else the built-in config/debian-archive-keyring.gpg. */
int deb_keyring_load(struct pgp_keyring *kr, const char *path, struct err *e);

/* A suite's verified Release text. Caller-owned (deb_release_fini). */
struct deb_release {
	char *text; /* the signed text only */
	size_t len;
	char base[LIMIT_URL]; /* MIRROR/dists/SUITE */
	char signer[41];      /* fingerprint of the key that verified */
};

void deb_release_fini(struct deb_release *r);
/* Fetches MIRROR/dists/SUITE/InRelease and verifies it against kr; its
 * Suite or Codename must be suite, and a Valid-Until must not have passed.
 * EXIT_VERIFY for a bad or missing signature, network codes as http.h. */
int deb_release_fetch(const char *mirror, const char *suite, const struct pgp_keyring *kr,
		      const char *ca_file, struct deb_release *r, struct err *e);
/* The SHA256 and size the Release lists for path (e.g.
 * "main/binary-amd64/Packages.xz"); EXIT_NOTFOUND when it lists none. */
int deb_release_sum(const struct deb_release *r, const char *path, char sha256[DIGEST_HEX_LEN + 1],
		    uint64_t *size, struct err *e);
/* Streams COMPONENT/binary-ARCH/Packages.xz (else .gz) of r, decompressed,
 * into s while hashing what arrives; the SHA256 and size must be the ones r
 * lists, else EXIT_VERIFY. s's callback sees paragraphs before the digest
 * is known: on any failure the caller discards what it collected. */
int deb_packages_fetch(const struct deb_release *r, const char *component, const char *arch,
		       const char *ca_file, struct deb_stanza *s, struct err *e);

/* Verifies MIRROR/dists/SUITE/InRelease against the default keyring
 * (deb_keyring_load(NULL)), fetches its COMPONENT/binary-ARCH Packages
 * index (verified, deb_packages_fetch) and picks the newest package
 * matching pattern. EXIT_NOTFOUND when none
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
