/* pull.h — the image-pull transaction: what the user named, resolved to one
 * store entry, then downloaded, verified, replayed into an ext4 root and
 * committed whole as BANGER_HOME/images/NAME (image.h's layout).
 *
 * An entry's identity is what it holds, not its name: manifest.json records
 * the normalised reference ("source") and the manifest digest. A reference
 * resolves to the entry whose source is exactly that reference (another
 * registry, repository, tag or digest never matches), so `vm run --image
 * REF` and `image pull REF` reach the same entry through image_resolve().
 * The entry's NAME is an alias for people and VM configs: --name, else the
 * catalog entry's name, else ref_default_name() ("debian-bookworm"), with
 * "-" and 8 hex digits of the reference's sha256 added when that name
 * already holds another reference.
 *
 * Nothing here prints: what happened comes back in struct image_pulled, a
 * failure in struct err with its whole message. All calls block (network,
 * disk).
 */
#ifndef BANGER_PULL_H
#define BANGER_PULL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "limits.h"

struct err;
struct image_guest;
struct store;
struct catalog;
struct catalog_entry;

#define IMAGE_NAME_MAX 64 /* a store name (path_is_simple_name) */
#define IMAGE_SOURCE_MAX (LIMIT_REF_NAME + LIMIT_REF_TAG + 80)

struct image_pull_opts {
	const char *name;		 /* --name: the entry's name; NULL: derived */
	const char *fallback_ref;	 /* a name neither installed nor in the catalog is this
				   * reference (vm run's default image); NULL: the name */
	const char *catalog;		 /* catalog override (URL or path); NULL: built in/env */
	const char *platform;		 /* "os/arch[/variant]"; NULL: linux/amd64 */
	const char *creds;		 /* "USER:PASS" or NULL */
	bool insecure;			 /* plain HTTP to a non-loopback registry */
	bool force;			 /* rebuild even when up to date, or replace another ref */
	bool if_missing;		 /* an installed entry is used as it is: no network */
	bool progress;			 /* registry progress bar (on a TTY, to stderr) */
	const char *mirror;		 /* debian entries: every suite from this mirror */
	const char *keyring;		 /* debian entries: the archive keyring to trust */
	bool refresh;			 /* debian entries: re-read the archive */
	uint64_t size;			 /* ext4 size in bytes; 0: content plus headroom */
	const struct image_guest *guest; /* debian entries: a VM for the second stage */
	bool in_vm;			 /* debian entries: use it even as root */
	const char *kernel;		 /* debian entries: the VM's kernel; NULL: default */
};

enum image_how {
	IMAGE_BY_NAME,	 /* an installed entry of that name */
	IMAGE_BY_BUNDLE, /* a catalog bundle entry */
	IMAGE_BY_REF,	 /* an OCI reference (perhaps from a catalog oci entry) */
	IMAGE_BY_DEBIAN, /* a catalog debian entry: built from the Debian archive */
};

/* Where a user's text leads. */
struct image_target {
	enum image_how how;
	char name[IMAGE_NAME_MAX + 1];	 /* images/NAME */
	char source[IMAGE_SOURCE_MAX];	 /* the normalised reference; "" by name/bundle */
	bool installed;			 /* images/NAME exists and holds exactly this */
	bool named;			 /* NAME was chosen by the user (--name) */
	const struct catalog_entry *ent; /* the catalog entry, if any (points into cat) */
};

/* Resolves arg (an installed name, a catalog name, or a reference) against
 * the store and the loaded catalog cat, in that order: an installed NAME
 * wins, then a catalog entry, then arg (or o->fallback_ref for a bare name)
 * parsed as a reference. Reads manifests; never writes, never blocks on the
 * network. Errors: a malformed reference or --name (EXIT_USAGE). */
int image_resolve(const struct store *s, const struct catalog *cat, const char *arg,
		  const struct image_pull_opts *o, struct image_target *t, struct err *e);

enum image_outcome {
	IMAGE_PULLED,	   /* downloaded, built and installed */
	IMAGE_UP_TO_DATE,  /* the registry's digest is the one installed */
	IMAGE_PRESENT,	   /* already installed: nothing asked of a registry, nothing downloaded */
	IMAGE_BUNDLE_OTHER /* a catalog bundle another banger installed meanwhile */
};

struct image_pulled {
	enum image_outcome outcome;
	char name[IMAGE_NAME_MAX + 1];
	char source[IMAGE_SOURCE_MAX + LIMIT_URL]; /* normalised reference or bundle URL */
	char digest[80];			   /* manifest digest ("sha256:…") */
	char dir[LIMIT_PATH];			   /* images/NAME */
	uint64_t size;				   /* bytes of rootfs.ext4 */
	size_t nlayers;
	uint64_t fetched;	   /* bytes downloaded (blobs not in the cache) */
	bool waited;		   /* another banger held the entry's lock first */
	enum image_how how;	   /* what arg led to */
	int nevicted;		   /* cached layers that failed their digest, fetched again */
	char evicted[ERR_MSG_MAX]; /* the last such failure, as said */
};

/* The whole pull of what arg names (image_resolve), locked per entry:
 * registry manifest resolved, layers downloaded (cached, verified) and
 * replayed as they arrive, the banger agent injected, rootfs.ext4 built,
 * manifest.json written, the directory committed. On any failure nothing is
 * installed and the staging directory is gone (the blob cache keeps what was
 * verified). A name holding another reference is EXIT_BUSY unless o->force;
 * a full disk says so. Fills out on success. */
int image_pull(const struct store *s, const char *arg, const struct image_pull_opts *o,
	       struct image_pulled *out, struct err *e);

#endif
