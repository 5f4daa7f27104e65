/* registry.h — pull images from an OCI distribution registry.
 *
 * Speaks the OCI distribution spec (v2 API) over lib/http.h: the
 * WWW-Authenticate challenge, then Bearer tokens (anonymous or with
 * credentials) or Basic auth; manifests (Docker schema 2 and OCI, single or
 * list/index with platform selection), each verified against its digest;
 * blobs fetched in parallel into a content-addressed cache, each hashed while
 * it streams and renamed into place only once verified, so the cache never
 * holds an unverified blob and a later pull reuses every blob already there
 * (hashed again as it is replayed: a blob that rotted on disk is evicted).
 *
 * Trust: TLS with the CA in /etc/docker/certs.d/HOST[:PORT]/ca.crt (the
 * Docker and skopeo convention; $BANGER_CERTS_D overrides the directory),
 * else $SSL_CERT_FILE or the system bundle. Plain HTTP only to loopback
 * hosts or with insecure set, and only after HTTPS failed to connect.
 * Credentials: explicit "USER:PASS", else $REGISTRY_AUTH_FILE, else
 * $DOCKER_CONFIG/config.json or ~/.docker/config.json ("auths", base64
 * "auth" or "username"/"password").
 *
 * All calls block on the network; a struct registry is used by one thread
 * at a time (registry_fetch_start runs its own bounded worker threads).
 */
#ifndef BANGER_REGISTRY_H
#define BANGER_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "digest.h"
#include "limits.h"
#include "oci/ref.h"

struct err;

#define OCI_DIGEST_MAX (7 + DIGEST_HEX_LEN + 1) /* "sha256:HEX" */

struct oci_desc {
	char media_type[128];
	char digest[OCI_DIGEST_MAX];
	uint64_t size;
};

/* What a pull resolves to: one platform's manifest, its config, its layers. */
struct oci_image {
	char index_digest[OCI_DIGEST_MAX]; /* the list/index, "" if none */
	char manifest_digest[OCI_DIGEST_MAX];
	char media_type[128]; /* of the manifest */
	char platform[64];    /* "linux/amd64" as the config says */
	struct oci_desc config;
	struct oci_desc *layers; /* heap, nlayers entries */
	size_t nlayers;
	char *config_json; /* heap, verified */
};

struct registry_opts {
	const char *creds;    /* "USER:PASS" or NULL */
	bool insecure;	      /* allow plain HTTP to any host */
	const char *platform; /* "os/arch[/variant]"; NULL: linux/amd64 */
	int parallel;	      /* blob downloads at once; 0: 3 */
	bool progress;	      /* draw a progress bar (on a TTY) */
};

struct registry {
	struct ref ref;
	char name[LIMIT_REF_NAME * 2 + 80]; /* the normalised reference, for messages */
	char base[LIMIT_PATH];		    /* "https://host/v2/" */
	char ca_file[LIMIT_PATH];	    /* "" for the default */
	bool allow_http;
	char *auth; /* "Authorization: …" header, heap, or NULL */
	char user[256], pass[256];
	bool have_creds;
	char challenge[1024]; /* last WWW-Authenticate */
	struct registry_opts opts;
};

/* Sets up r for ref: finds credentials and CAs, picks the scheme and
 * authenticates (ping /v2/, then the challenge it answers). Errors: 401/403
 * (EXIT_NETWORK) with the registry's message and a hint, TLS and connect
 * failures (EXIT_NETWORK), malformed credentials (EXIT_USAGE). */
int registry_open(struct registry *r, const struct ref *ref, const struct registry_opts *o,
		  struct err *e);
void registry_fini(struct registry *r);

/* Resolves the reference to one platform's manifest and verified config.
 * A platform missing from an index is EXIT_NOTFOUND listing what is there;
 * an unknown media type, schema 1, a digest mismatch or a layer type banger
 * cannot unpack is EXIT_VERIFY. img is caller-owned; free with
 * oci_image_fini (also after failure). */
int registry_resolve(struct registry *r, struct oci_image *img, struct err *e);
void oci_image_fini(struct oci_image *img);

/* Makes every layer of img present in blob_dir (BANGER_HOME/oci/blobs/
 * sha256), downloading the missing ones (opts.parallel at once, on worker
 * threads) through temporaries in tmp_dir (same filesystem), overlapped with
 * the caller: it reads each layer as it arrives (so layers are unpacked
 * while they download). A blob is renamed into blob_dir only after its size
 * and SHA-256 matched; on any failure the other downloads stop and every
 * temporary is removed. Disk full is EXIT_SYSTEM. Nothing read this way is
 * trusted until registry_fetch_finish returned 0: a digest mismatch shows up there (or
 * as a read error), and the caller must then discard what it built.
 *   j = registry_fetch_start(…);
 *   for each layer i: fd = registry_layer_open(j, i, e);
 *       registry_layer_read(j, i, fd, offset, buf, n, e) … (0 at its end); close(fd)
 *   registry_fetch_finish(j, abort, &fetched, e);
 * registry_layer_open waits until layer i is being fetched (or is cached);
 * registry_layer_read waits for more bytes at the end of what has arrived.
 * finish joins the workers (abort: stops them first) and frees j. */
struct blob_fetch;
struct blob_fetch *registry_fetch_start(struct registry *r, const struct oci_image *img,
					const char *blob_dir, const char *tmp_dir, struct err *e);
int registry_layer_open(struct blob_fetch *j, size_t i, struct err *e);
ssize_t registry_layer_read(struct blob_fetch *j, size_t i, int fd, uint64_t off, void *buf,
			    size_t n, struct err *e);
int registry_fetch_finish(struct blob_fetch *j, bool abort, uint64_t *fetched, struct err *e);
/* Once the caller has read layer i through registry_layer_read (from
 * offset 0, in order): for a layer that came from the cache, hashes the
 * rest of it and checks its digest — the cache is verified as it is
 * replayed, not trusted. A mismatch removes the blob from the cache and is
 * EXIT_VERIFY; registry_layer_evicted then says so, and the caller throws
 * away what it built and starts again (registry_fetch_start downloads the
 * blob afresh). 0 for downloaded layers (registry_fetch_finish checks those). */
int registry_layer_check(struct blob_fetch *j, size_t i, int fd, struct err *e);
bool registry_layer_evicted(const struct blob_fetch *j, size_t i);
/* Waits until layer i is downloaded and verified: 0, or -1 with the
 * download's error (a digest mismatch explains a layer that did not
 * unpack better than the unpacker's own complaint). */
int registry_layer_wait(struct blob_fetch *j, size_t i, struct err *e);

/* Removes temporaries in tmp_dir left by pulls whose process is gone. */
void registry_sweep_tmp(const char *tmp_dir);

/* --- exposed for tests --- */

/* Parses a WWW-Authenticate value: scheme ("Bearer"/"Basic"), realm,
 * service and scope (each "" when absent). */
struct auth_challenge {
	char scheme[16];
	char realm[512];
	char service[512];
	char scope[512];
};
int registry_parse_challenge(const char *hdr, struct auth_challenge *c, struct err *e);

/* Finds credentials for host in a Docker/containers auth JSON document.
 * Returns 1 and fills user/pass, 0 when there are none, -1 on malformed
 * entries (EXIT_USAGE naming `what`). */
int registry_creds_from_json(const char *json, const char *host, const char *what, char *user,
			     size_t ulen, char *pass, size_t plen, struct err *e);

/* Picks the manifest for platform ("os/arch[/variant]") from an index
 * document; writes its digest and media type. Not there: EXIT_NOTFOUND
 * listing the platforms that are. */
int oci_index_select(const char *json, const char *platform, struct oci_desc *out, struct err *e);

/* Parses an image manifest (config + layers) into img (layers allocated). */
int oci_manifest_parse(const char *json, struct oci_image *img, struct err *e);

/* Checks an image config's os/architecture against want ("os/arch[/variant]")
 * and writes what it says into platform ("linux/amd64", "?" for a missing
 * part). Not valid JSON: EXIT_VERIFY; another platform: EXIT_NOTFOUND. */
int oci_config_platform(const char *json, const char *want, char *platform, size_t size,
			struct err *e);

/* Is this a layer media type banger unpacks (tar, gzip, zstd; Docker/OCI)? */
bool oci_layer_type_ok(const char *media_type);

#endif
