/* catalog.h — kernel and image catalogs: what can be pulled, from where, and
 * the digest it must have.
 *
 * A catalog is one JSON document (docs/kernel-catalog.md):
 *
 *   { "version": 1, "entries": [ { "name": …, "kind": "bundle", … }, … ] }
 *
 * Entry kinds: "bundle" (a NAME-ARCH….tar.zst at url, with sha256 and size),
 * "deb" (kernels: resolved from Debian Packages indexes at pull time; the
 * digest comes from the index), "debian" (images built from a Debian
 * archive: lib/deb/debian.h) and "oci" (images: an OCI ref).
 * Unknown fields are kept (entry->raw) and ignored; an unknown kind, a bad
 * digest, a duplicate name or anything over its ceiling is an error
 * (EXIT_VERIFY) naming the catalog and the entry.
 *
 * Where a catalog comes from: --catalog (caller), else $BANGER_KERNEL_CATALOG
 * or $BANGER_IMAGE_CATALOG, else the one built into the binary
 * (config/kernels.json, config/images.json). An override is a URL (https://,
 * file://, http:// to loopback) fetched with lib/http, or a local path.
 * Relative entry URLs resolve against the catalog's own URL or directory;
 * the built-in catalogs must use absolute URLs.
 *
 * Ownership: struct catalog is caller-owned (catalog_init/catalog_fini); its
 * entries and their strings live until catalog_fini. Loading may block on
 * the network; parsing never blocks.
 */
#ifndef BANGER_CATALOG_H
#define BANGER_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "limits.h"

struct err;
struct cJSON;

enum catalog_type { CATALOG_KERNELS, CATALOG_IMAGES };

#define CATALOG_DEB_ALSO_MAX 8 /* extra sources of one deb entry */

enum catalog_kind { CATALOG_BUNDLE, CATALOG_DEB, CATALOG_OCI, CATALOG_DEBIAN };

struct catalog_entry {
	enum catalog_kind kind;
	const char *name;	    /* path_is_simple_name */
	const char *distro;	    /* "" when absent */
	const char *arch;	    /* "x86_64" when absent */
	const char *kernel_version; /* "" when absent (deb: known after resolving) */
	const char *description;    /* "" when absent */
	/* bundle */
	const char *url; /* absolute, resolved against the catalog's location */
	char sha256[DIGEST_HEX_LEN + 1];
	uint64_t size;
	/* deb (defaults in brackets) */
	const char *mirror;    /* [https://deb.debian.org/debian] */
	const char *suite;     /* [bookworm] */
	const char *component; /* [main] */
	const char *package;   /* glob, one '*' [linux-image-6.1.0-*-cloud-amd64] */
	const char *deb_arch;  /* [amd64] */
	/* more {"mirror", "suite"} places to look (e.g. the security archive):
	 * the newest match of all wins; a JSON array, NULL when absent */
	const struct cJSON *also;
	/* debian (images built from the archive, lib/deb/debian.h): mirror,
	 * suite, deb_arch and also as for deb, and */
	const char *variant;		/* [minbase] or essential */
	const struct cJSON *components; /* names [["main"]]; NULL when absent */
	const struct cJSON *packages;	/* extra packages; NULL when absent */
	/* oci */
	const char *ref;
	/* the entry's JSON object as read (extra fields); owned by the catalog */
	const struct cJSON *raw;
};

struct catalog {
	char source[LIMIT_PATH]; /* "built-in kernels.json", a URL or a path: for messages */
	size_t n;
	struct catalog_entry *entries; /* sorted by name */
	struct cJSON *doc;
	char **urls; /* resolved URLs, one allocation per entry (internal) */
};

void catalog_init(struct catalog *c);
void catalog_fini(struct catalog *c);

/* Parses a catalog document of len bytes (at most LIMIT_JSON_DOC) named
 * `source` in messages. base is the catalog's own location, which relative
 * entry URLs resolve against as a browser would: an absolute URL, or an
 * absolute file path (→ file://); NULL: none, so relative URLs are an
 * error. */
int catalog_parse(struct catalog *c, const char *json, size_t len, const char *source,
		  const char *base, struct err *e);

/* Loads the catalog of `type`: from override (URL or path) when non-NULL and
 * non-empty, else the environment variable, else the built-in one. Blocks
 * on the network for URLs. Network failures keep http's codes; a missing
 * file is EXIT_NOTFOUND. */
int catalog_load(struct catalog *c, enum catalog_type type, const char *override, struct err *e);

/* The entry called name, or NULL with e set (EXIT_NOTFOUND, listing how to
 * see what the catalog holds). */
const struct catalog_entry *catalog_find(const struct catalog *c, const char *name, struct err *e);

/* "bundle", "deb", "oci", "debian". */
const char *catalog_kind_name(enum catalog_kind k);

/* Adds or replaces (by name) a bundle entry in the catalog file at path,
 * creating the file when missing, and rewrites it atomically with entries
 * sorted by name. ent->url is written as given (relative is fine). Extra
 * fields of ent->raw (when non-NULL) are kept. Blocks on disk I/O only. */
int catalog_file_upsert(const char *path, const struct catalog_entry *ent, struct err *e);

/* Resolves url against base (an absolute URL, or an absolute file path →
 * file:// URL; the last component is the document) into out. An absolute
 * url is copied. Errors: EXIT_VERIFY naming url. */
int catalog_resolve_url(const char *base, const char *url, char *out, size_t size, struct err *e);

#endif
