/* debian.h — a Debian root file system built from the archive itself, as
 * debootstrap and mmdebstrap do, with no registry (docs/debian-images.md).
 *
 * Two calls. debian_resolve() reads the suites' verified indexes (deb.h:
 * InRelease signature → Packages checksum) and picks the package set: the
 * variant's base (minbase: Priority required + Essential + apt, as
 * debootstrap's; essential: Essential only), the extra packages, then the
 * closure over Depends and Pre-Depends (the first alternative that exists,
 * virtual names through Provides). Newest version of each name across all
 * the sources wins; version constraints are not evaluated.
 *
 * debian_build() downloads the set in parallel into a cache of verified
 * .debs (named by their SHA256, re-verified when reused), unpacks the data
 * members of the Essential closure into tree (merged /usr, as bookworm
 * requires), and runs the second stage — dpkg --install inside a chroot of
 * tree with /proc and /dev mounted in a private mount namespace (the caller
 * must be root) — then checks `dpkg --audit` is silent, and removes what
 * must not be shared or breaks reproducibility: SSH host keys, machine-id,
 * random seed, logs, caches (debian_clamp_times then clamps mtimes to the
 * newest Release date).
 * Progress goes through lib/progress (stderr, TTY only).
 *
 * Everything blocks (network, disk, child processes). Errors name the
 * package, the URL or the step and keep http.h's / deb.h's codes.
 */
#ifndef BANGER_DEBIAN_H
#define BANGER_DEBIAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "digest.h"

struct err;

#define DEBIAN_SOURCES_MAX 8
#define DEBIAN_COMPONENTS_MAX 8
#define DEBIAN_EXTRA_MAX 256

struct debian_source {
	const char *mirror; /* https://deb.debian.org/debian */
	const char *suite;  /* bookworm */
};

struct debian_spec {
	struct debian_source src[DEBIAN_SOURCES_MAX]; /* src[0] must exist */
	size_t nsrc;
	const char *components[DEBIAN_COMPONENTS_MAX]; /* [main] */
	size_t ncomponents;
	const char *arch;		     /* amd64 */
	const char *variant;		     /* "minbase" or "essential" */
	const char *extra[DEBIAN_EXTRA_MAX]; /* more packages */
	size_t nextra;
	const char *keyring; /* NULL: deb_keyring_load's default */
	const char *ca_file; /* NULL: http.h's default */
	const char *cache;   /* directory of verified .debs (created) */
	int jobs;	     /* parallel downloads; 0: 4 */
	const char *log;     /* the second stage's output (kept on failure) */
};

struct debian_pkg; /* one chosen package (internal) */

/* The resolved set. Caller-owned (debian_plan_fini). */
struct debian_plan {
	struct debian_pkg *pkgs; /* sorted by name */
	size_t n;
	void *all;			 /* the index (internal) */
	int64_t epoch;			 /* the newest Release Date: SOURCE_DATE_EPOCH */
	uint64_t bytes;			 /* sum of the .debs' sizes */
	char digest[DIGEST_HEX_LEN + 1]; /* sha256 of list (the set's identity) */
	char *list;			 /* "NAME VERSION ARCH SHA256\n" sorted by name (heap) */
};

void debian_plan_fini(struct debian_plan *p);

/* Reads the sources' indexes and resolves the set. A source after the
 * first without the suite (no InRelease) is passed over. EXIT_NOTFOUND for
 * a package or dependency nothing provides. */
int debian_resolve(const struct debian_spec *s, struct debian_plan *p, struct err *e);

/* Builds the root file system into tree (an empty directory). On failure
 * tree holds a partial tree the caller removes; the cache keeps only
 * verified files. */
int debian_build(const struct debian_spec *s, const struct debian_plan *p, const char *tree,
		 struct err *e);

/* The pieces of the build, for a second stage that runs elsewhere (a VM:
 * lib/oci/image_debian.c). debian_download fetches the set into the cache
 * (verified, as debian_build does first). */
int debian_download(const struct debian_spec *s, const struct debian_plan *p, struct err *e);

/* A data.tar member as a stream: *buf gets the bytes, returns their count,
 * 0 at the end, -1 on error (libarchive's read-callback shape). */
typedef ssize_t (*debian_read_fn)(void *ud, const void **buf);
typedef int (*debian_sink_fn)(void *ud, debian_read_fn read, void *rud, const char *what,
			      struct err *e);
/* The first stage: each cached .deb of the Essential closure, in name
 * order, has its data.tar handed to sink (what: the package's name). */
int debian_unpack_base(const struct debian_spec *s, const struct debian_plan *p,
		       debian_sink_fn sink, void *ud, struct err *e);

/* fn for each cached .deb of the set: its path and SHA256. */
typedef int (*debian_deb_fn)(void *ud, const char *path, const char *sha256, struct err *e);
int debian_each_deb(const struct debian_spec *s, const struct debian_plan *p, debian_deb_fn fn,
		    void *ud, struct err *e);

/* The second stage as a /bin/sh script for a root where the .debs are at
 * debdir/SHA256.deb (malloc'd): dpkg --install of the Essential closure,
 * then the rest, `dpkg --audit` silent (else its output, and exit 1), then
 * the scrub debian_build does (plus what a boot wrote: /etc/hostname,
 * hosts, resolv.conf unless a package owns them) and debdir removed. */
char *debian_stage2_script(const struct debian_plan *p, const char *debdir, struct err *e);

/* The error for a second stage that exited with status, its output in log:
 * dpkg's own error line, else the last line, and where the rest is. -1. */
int debian_stage2_failed(const char *log, int status, const char *step, struct err *e);

/* deb822 sources for the image's /etc/apt/sources.list.d/debian.sources. */
int debian_sources(const struct debian_spec *s, char *text, size_t size, struct err *e);

/* Brings every mtime (and atime) in tree after epoch down to it: what the
 * build wrote bears the build's time, and must not, for the same packages
 * to give the same bytes. Call last, after anything else is added. */
int debian_clamp_times(const char *tree, int64_t epoch, struct err *e);

#endif
