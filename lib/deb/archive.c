/* archive.c — the Debian archive's trust chain: the keyring, InRelease,
 * Release checksums and verified Packages streams (deb.h). */
#include "deb/deb.h"
#include "deb/pgp.h"
#include "embed.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "http.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int deb_keyring_load(struct pgp_keyring *kr, const char *path, struct err *e)
{
	const char *env = getenv("BANGER_DEB_KEYRING");
	struct embedded em;
	char *data;
	size_t len;
	int rc;

	pgp_keyring_init(kr);
	if (!path && env && *env)
		path = env;
	if (!path) {
		em = embedded_debian_keyring();
		return pgp_keyring_add(kr, em.data, em.size, "built-in debian-archive-keyring.gpg",
				       e);
	}
	if (file_read_all(path, LIMIT_PGP_KEYRING, &data, &len, e) < 0)
		return err_prefix(e, "archive keyring");
	rc = pgp_keyring_add(kr, data, len, path, e);
	free(data);
	return rc;
}

void deb_release_fini(struct deb_release *r)
{
	free(r->text);
	memset(r, 0, sizeof(*r));
}

/* The value of a top-level field of the Release text, copied into out. */
static bool release_field(const char *text, const char *name, char *out, size_t size)
{
	size_t k = strlen(name);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *nl = strchr(p, '\n'), *v = p + k + 1;
		size_t l;

		if (strncmp(p, name, k) || p[k] != ':')
			continue;
		while (*v == ' ')
			v++;
		l = (size_t)((nl ? nl : v + strlen(v)) - v);
		if (l >= size)
			return false;
		memcpy(out, v, l);
		out[l] = '\0';
		return true;
	}
	return false;
}

static size_t trim_slash(const char *mirror)
{
	size_t n = strlen(mirror);

	while (n && mirror[n - 1] == '/')
		n--;
	return n;
}

int deb_release_fetch(const char *mirror, const char *suite, const struct pgp_keyring *kr,
		      const char *ca_file, struct deb_release *r, struct err *e)
{
	char url[LIMIT_URL + 16], v[LIMIT_NAME + 1], cn[LIMIT_NAME + 1];
	struct http_req req = { .url = url, .ca_file = ca_file };
	struct http_resp resp;
	struct buf body;
	int n, rc;

	memset(r, 0, sizeof(*r));
	n = snprintf(r->base, sizeof(r->base), "%.*s/dists/%s", (int)trim_slash(mirror), mirror,
		     suite);
	if (n < 0 || (size_t)n >= sizeof(r->base) - 32)
		return err_set(e, EXIT_USAGE, "%s: mirror URL too long", mirror);
	snprintf(url, sizeof(url), "%s/InRelease", r->base);
	buf_init(&body, LIMIT_INRELEASE, "InRelease");
	if (http_fetch(&req, &body, &resp, e) < 0) {
		buf_fini(&body);
		return -1;
	}
	if (resp.status != 0 && (resp.status < 200 || resp.status > 299)) {
		http_status_error(e, url, resp.status, body.data,
				  "check the mirror URL and the suite name");
		if (resp.status == 404)
			e->code = EXIT_NOTFOUND;
		buf_fini(&body);
		return -1;
	}
	rc = pgp_verify_cleartext(kr, body.data ? body.data : "", body.len, (int64_t)time(NULL),
				  url, &r->text, &r->len, r->signer, e);
	buf_fini(&body);
	if (rc < 0)
		return -1;
	/* A good signature on another suite's Release is a replay. */
	if ((!release_field(r->text, "Suite", v, sizeof(v)) || strcmp(v, suite)) &&
	    (!release_field(r->text, "Codename", cn, sizeof(cn)) || strcmp(cn, suite))) {
		deb_release_fini(r);
		return err_set(e, EXIT_VERIFY,
			       "%s: signed for another suite (Suite/Codename is not %s) — check "
			       "the mirror",
			       url, suite);
	}
	if (release_field(r->text, "Valid-Until", v, sizeof(v))) {
		struct tm tm = { 0 };
		const char *end = strptime(v, "%a, %d %b %Y %H:%M:%S", &tm);

		if (!end || timegm(&tm) < time(NULL)) {
			deb_release_fini(r);
			return err_set(e, EXIT_VERIFY,
				       "%s: Valid-Until %s has passed (or is unreadable) — the "
				       "mirror is stale",
				       url, v);
		}
	}
	return 0;
}

int deb_release_sum(const struct deb_release *r, const char *path, char sha256[DIGEST_HEX_LEN + 1],
		    uint64_t *size, struct err *e)
{
	const char *p = strstr(r->text, "\nSHA256:\n");
	size_t plen = strlen(path);

	if (!p)
		return err_set(e, EXIT_VERIFY, "%s/InRelease: no SHA256 section", r->base);
	for (p = strchr(p + 1, '\n') + 1; *p == ' '; p = strchr(p, '\n') + 1) {
		char hex[DIGEST_HEX_LEN + 1], *end;
		const char *q = p + 1, *nl = strchr(p, '\n');
		unsigned long long sz;

		if (strlen(q) < DIGEST_HEX_LEN + 2 || q[DIGEST_HEX_LEN] != ' ')
			break;
		memcpy(hex, q, DIGEST_HEX_LEN);
		hex[DIGEST_HEX_LEN] = '\0';
		q += DIGEST_HEX_LEN;
		while (*q == ' ')
			q++;
		errno = 0;
		sz = strtoull(q, &end, 10);
		if (errno || end == q || *end != ' ')
			break;
		while (*end == ' ')
			end++;
		if ((size_t)(nl - end) == plen && !memcmp(end, path, plen)) {
			if (!digest_is_hex(hex))
				break;
			memcpy(sha256, hex, sizeof(hex));
			*size = sz;
			return 0;
		}
	}
	return err_set(e, EXIT_NOTFOUND, "%s/InRelease lists no %s", r->base, path);
}

/* An http stream as a libarchive read callback, counted and hashed. */
struct pull {
	struct http_stream *hs;
	struct sha256 h;
	uint64_t got, want;
	struct err err;
	bool failed;
	char buf[64 * 1024];
};

static la_ssize_t pull_cb(struct archive *a, void *ud, const void **out)
{
	struct pull *pl = ud;
	ssize_t n = http_stream_read(pl->hs, pl->buf, sizeof(pl->buf), &pl->err);

	*out = pl->buf;
	if (n > 0) {
		pl->got += (uint64_t)n;
		if (pl->got > pl->want) {
			err_set(&pl->err, EXIT_VERIFY, "larger than the %llu bytes Release lists",
				(unsigned long long)pl->want);
			n = -1;
		} else {
			sha256_update(&pl->h, pl->buf, (size_t)n);
		}
	}
	if (n < 0) {
		pl->failed = true;
		archive_set_error(a, EIO, "%s", pl->err.msg);
	}
	return n;
}

/* Streams one compressed index into s, verified against sha256/size. */
static int fetch_index(const char *url, const char *sha256, uint64_t size, const char *ca_file,
		       struct deb_stanza *s, struct err *e)
{
	struct http_req req = { .url = url, .ca_file = ca_file };
	struct archive *a = NULL;
	struct archive_entry *ae;
	struct pull *pl = calloc(1, sizeof(*pl));
	char *chunk = malloc(64 * 1024), hex[DIGEST_HEX_LEN + 1];
	const void *rest;
	la_ssize_t n;
	int rc = -1;

	if (!pl || !chunk || !(a = archive_read_new())) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		goto out;
	}
	err_init(&pl->err);
	sha256_init(&pl->h);
	pl->want = size;
	pl->hs = http_stream_open(&req, NULL, e);
	if (!pl->hs)
		goto out;
	archive_read_support_filter_xz(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_format_raw(a);
	if (archive_read_open(a, pl, NULL, pull_cb, NULL) != ARCHIVE_OK ||
	    archive_read_next_header(a, &ae) != ARCHIVE_OK)
		goto fail_archive;
	while ((n = archive_read_data(a, chunk, 64 * 1024)) > 0)
		if (deb_stanza_feed(s, chunk, (size_t)n, e) < 0)
			goto out;
	if (n < 0)
		goto fail_archive;
	/* Drain what the decompressor did not need: all of it is hashed. */
	while ((n = pull_cb(a, pl, &rest)) > 0)
		;
	if (n < 0)
		goto fail_archive;
	sha256_hex(&pl->h, hex);
	if (pl->got != size || strcmp(hex, sha256)) {
		err_set(e, EXIT_VERIFY,
			"%s: sha256:%.12s… (%llu bytes) is not the sha256:%.12s… (%llu bytes) "
			"its signed Release lists — refusing the index",
			url, hex, (unsigned long long)pl->got, sha256, (unsigned long long)size);
		goto out;
	}
	rc = deb_stanza_end(s, e);
	goto out;
fail_archive:
	if (pl->failed)
		err_set(e, pl->err.code ? pl->err.code : EXIT_NETWORK, "%s: %s", url, pl->err.msg);
	else
		err_set(e, EXIT_VERIFY, "%s: cannot decompress the index: %s", url,
			archive_error_string(a) ? archive_error_string(a) : "unreadable");
out:
	if (a)
		archive_read_free(a);
	if (pl)
		http_stream_free(pl->hs);
	free(pl);
	free(chunk);
	return rc;
}

int deb_packages_fetch(const struct deb_release *r, const char *component, const char *arch,
		       const char *ca_file, struct deb_stanza *s, struct err *e)
{
	static const char *const comp[] = { "xz", "gz" };
	char path[LIMIT_NAME * 2 + 64], url[LIMIT_URL + LIMIT_NAME * 2 + 64];
	char sha[DIGEST_HEX_LEN + 1];
	uint64_t size;

	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/binary-%s/Packages.%s", component, arch, comp[i]);
		if (deb_release_sum(r, path, sha, &size, e) < 0) {
			if (e->code == EXIT_NOTFOUND && i == 0)
				continue;
			return -1;
		}
		if (snprintf(url, sizeof(url), "%s/%s", r->base, path) >= (int)sizeof(url))
			return err_set(e, EXIT_USAGE, "%s: URL too long", r->base);
		if (size > LIMIT_DEB_INDEX)
			return err_set(e, EXIT_VERIFY, "%s: larger than %llu bytes", url,
				       (unsigned long long)LIMIT_DEB_INDEX);
		return fetch_index(url, sha, size, ca_file, s, e);
	}
	return -1;
}

int deb_resolve(const char *mirror, const char *suite, const char *component, const char *arch,
		const char *pattern, const char *ca_file, struct deb_pkg *out, struct err *e)
{
	struct pgp_keyring kr;
	struct deb_release r;
	struct deb_index x;
	int rc;

	if (deb_keyring_load(&kr, NULL, e) < 0) {
		pgp_keyring_fini(&kr);
		return -1;
	}
	rc = deb_release_fetch(mirror, suite, &kr, ca_file, &r, e);
	pgp_keyring_fini(&kr);
	if (rc < 0)
		return -1;
	deb_index_init(&x, pattern, arch);
	rc = deb_packages_fetch(&r, component, arch, ca_file, &x.p, e);
	if (rc == 0 && !x.found)
		rc = err_set(e, EXIT_NOTFOUND,
			     "%s: no package matching %s in %s/binary-%s — check the mirror, "
			     "suite and package pattern",
			     r.base, pattern, component, arch);
	if (rc == 0)
		*out = x.best;
	deb_index_fini(&x);
	deb_release_fini(&r);
	return rc;
}
