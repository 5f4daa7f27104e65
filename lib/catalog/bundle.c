/* bundle.c — see bundle.h. One pass over the bytes: libarchive pulls from a
 * read callback that hashes and counts what it hands over, so the digest
 * covers exactly the bytes that were unpacked. */
#include "catalog/bundle.h"
#include "err.h"
#include "exitcode.h"
#include "catalog/extract.h"
#include "file.h"
#include "http.h"
#include "lock.h"
#include "path.h"
#include "progress.h"
#include "store.h"

#include <archive.h>
#include <archive_entry.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (128 * 1024)

/* ---- the byte source: hashed and counted as libarchive reads ----------- */

/* Hashing runs in a thread beside the reader: the reader fills one buffer
 * of a small ring while the hasher digests the previous ones, so SHA-256
 * (software, in BearSSL) overlaps decompression and writing. A buffer is
 * reused only after it was hashed and libarchive has moved past it (it
 * holds the last buffer returned until its next read). */
#define RING 4

struct bundle_stream {
	struct http_req req; /* outlive hs, as http.h requires */
	struct http_resp resp;
	struct http_stream *hs; /* or */
	int fd;			/* a caller's file (bundle_extract_fd) */
	const char *what;
	char want[DIGEST_HEX_LEN + 1]; /* "" when unknown */
	uint64_t want_size;	       /* 0 when unknown */
	uint64_t n;
	uint64_t limit; /* fail once more than this arrives */
	struct progress prog;
	bool failed; /* err holds why */
	struct err err;

	/* the ring, shared with the hasher under mu */
	struct sha256 h; /* the hasher's alone until it is joined */
	char bufs[RING][CHUNK];
	size_t lens[RING];
	unsigned queued, hashed;   /* buffers handed over, buffers digested */
	bool ring, threaded, quit; /* ring: initialised */
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static void *hasher(void *ud)
{
	struct bundle_stream *s = ud;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		unsigned j;

		while (s->hashed == s->queued && !s->quit)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->hashed == s->queued)
			break;
		j = s->hashed % RING;
		pthread_mutex_unlock(&s->mu);
		sha256_update(&s->h, s->bufs[j], s->lens[j]);
		pthread_mutex_lock(&s->mu);
		s->hashed++;
		pthread_cond_broadcast(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void ring_init(struct bundle_stream *s)
{
	s->ring = true;
	sha256_init(&s->h);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	/* Without a thread, hashing simply happens inline. */
	s->threaded = pthread_create(&s->th, NULL, hasher, s) == 0;
}

/* Waits until every queued buffer is hashed and stops the hasher. */
static void ring_fini(struct bundle_stream *s)
{
	if (!s->ring)
		return;
	s->ring = false;
	if (s->threaded) {
		pthread_mutex_lock(&s->mu);
		s->quit = true;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->th, NULL);
		s->threaded = false;
	}
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
}

/* Reads the next piece into a free ring buffer (*out) and queues it for
 * hashing. Returns its length, 0 at the end, -1 with s->err set. */
static ssize_t source_read(struct bundle_stream *s, const void **out)
{
	unsigned i = s->queued % RING;
	char *buf = s->bufs[i];
	ssize_t n;

	if (s->threaded) {
		pthread_mutex_lock(&s->mu);
		while (s->queued - s->hashed >= RING - 1)
			pthread_cond_wait(&s->cv, &s->mu);
		pthread_mutex_unlock(&s->mu);
	}
	if (s->hs) {
		n = http_stream_read(s->hs, buf, CHUNK, &s->err);
	} else {
		do
			n = read(s->fd, buf, CHUNK);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			err_errno(&s->err, 0, "%s: read", s->what);
	}
	*out = buf;
	if (n < 0) {
		s->failed = true;
		return -1;
	}
	s->n += (uint64_t)n;
	if (s->n > s->limit) {
		s->failed = true;
		err_set(&s->err, EXIT_VERIFY,
			"%s: larger than the %llu bytes expected — refusing it (tampered or a "
			"stale catalog)",
			s->what, (unsigned long long)s->limit);
		return -1;
	}
	if (!n)
		return 0;
	progress_add(&s->prog, (uint64_t)n);
	if (!s->threaded) {
		sha256_update(&s->h, buf, (size_t)n);
		return n;
	}
	pthread_mutex_lock(&s->mu);
	s->lens[i] = (size_t)n;
	s->queued++;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return n;
}

ssize_t bundle_stream_archive_cb(struct archive *a, void *ud, const void **out)
{
	struct bundle_stream *s = ud;
	ssize_t n = source_read(s, out);

	if (n < 0) {
		archive_set_error(a, EIO, "%s", s->err.msg);
		return -1;
	}
	return n;
}

bool bundle_stream_failed(const struct bundle_stream *s)
{
	return s->failed;
}

int bundle_stream_fail(struct bundle_stream *s, struct archive *a, const char *kind, struct err *e)
{
	if (s->failed) {
		*e = s->err;
		return -1;
	}
	return err_set(e, EXIT_VERIFY,
		       "%s: not a valid %s (%s) — refusing it (damaged or tampered with)", s->what,
		       kind, archive_error_string(a) ? archive_error_string(a) : "unreadable");
}

int bundle_stream_finish(struct bundle_stream *s, char got[DIGEST_HEX_LEN + 1], uint64_t *size,
			 struct err *e)
{
	char hex[DIGEST_HEX_LEN + 1];
	const void *p;
	ssize_t n;

	/* The rest (tar padding, anything after the archive): the digest
	 * covers every byte, not just what libarchive wanted. */
	while ((n = source_read(s, &p)) > 0) {
	}
	if (n < 0) {
		*e = s->err;
		return -1;
	}
	ring_fini(s);
	sha256_hex(&s->h, hex);
	if (got)
		memcpy(got, hex, sizeof(hex));
	if (size)
		*size = s->n;
	if (s->want_size && s->n != s->want_size)
		return err_set(e, EXIT_VERIFY,
			       "%s: %llu bytes, expected %llu — refusing it (tampered, or a stale "
			       "catalog or index)",
			       s->what, (unsigned long long)s->n, (unsigned long long)s->want_size);
	if (s->want[0] && strcmp(hex, s->want))
		return err_set(e, EXIT_VERIFY,
			       "%s: sha256 %.12s…, expected %.12s… — refusing it (tampered, or a "
			       "stale catalog or index)",
			       s->what, hex, s->want);
	return 0;
}

struct bundle_stream *bundle_stream_open(const struct bundle_src *src, struct err *e)
{
	struct bundle_stream *s;

	if (!src->size || src->size > LIMIT_DOWNLOAD) {
		err_set(e, EXIT_VERIFY, "%s: size %llu is out of range (1 to %llu)", src->url,
			(unsigned long long)src->size, (unsigned long long)LIMIT_DOWNLOAD);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		return NULL;
	}
	if (digest_parse(src->sha256, src->url, s->want, e) < 0) {
		free(s);
		return NULL;
	}
	s->fd = -1;
	s->what = src->url;
	s->limit = s->want_size = src->size;
	err_init(&s->err);
	s->req.url = src->url;
	s->req.ca_file = src->ca_file;
	if (!(s->hs = http_stream_open(&s->req, &s->resp, e))) {
		free(s);
		return NULL;
	}
	if (s->resp.content_length != UINT64_MAX && s->resp.content_length != src->size) {
		err_set(e, EXIT_VERIFY,
			"%s: the server offers %llu bytes, expected %llu — refusing it (tampered, "
			"or a stale catalog or index)",
			src->url, (unsigned long long)s->resp.content_length,
			(unsigned long long)src->size);
		http_stream_free(s->hs);
		free(s);
		return NULL;
	}
	progress_init(&s->prog, src->label ? src->label : src->url, src->size);
	ring_init(s);
	return s;
}

void bundle_stream_free(struct bundle_stream *s)
{
	if (!s)
		return;
	ring_fini(s);
	progress_fini(&s->prog);
	http_stream_free(s->hs);
	free(s);
}

/* Unpacks the tar.zst from s into dir, then verifies it. */
static int extract_from(struct bundle_stream *s, const char *dir, char got[DIGEST_HEX_LEN + 1],
			struct err *e)
{
	struct extract x = { .root = -1 };
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	int r, rc = -1;

	if (!a) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		goto out;
	}
	if (extract_open(&x, dir, s->what, e) < 0)
		goto out;
	archive_read_support_filter_zstd(a);
	archive_read_support_format_tar(a);
	if (archive_read_open(a, s, NULL, bundle_stream_archive_cb, NULL) != ARCHIVE_OK)
		goto fail_archive;
	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		r = extract_entry(&x, a, ae, e);
		if (r == EXTRACT_ARCHIVE_FAILED)
			goto fail_archive;
		if (r < 0)
			goto out;
	}
	if (r != ARCHIVE_EOF)
		goto fail_archive;
	rc = bundle_stream_finish(s, got, NULL, e);
	goto out;
fail_archive:
	bundle_stream_fail(s, a, "tar.zst bundle", e);
out:
	extract_close(&x);
	archive_read_free(a);
	return rc;
}

int bundle_download(const struct bundle_src *src, const char *dir, struct err *e)
{
	struct bundle_stream *s = bundle_stream_open(src, e);
	int rc;

	if (!s)
		return -1;
	rc = extract_from(s, dir, NULL, e);
	bundle_stream_free(s);
	return rc;
}

int bundle_extract_fd(int fd, const char *dir, char sha256[DIGEST_HEX_LEN + 1], uint64_t *size,
		      struct err *e)
{
	struct bundle_stream *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	s->fd = fd;
	s->what = "bundle";
	s->limit = LIMIT_DOWNLOAD;
	err_init(&s->err);
	ring_init(s);
	rc = extract_from(s, dir, sha256, e);
	if (size)
		*size = s->n;
	ring_fini(s);
	free(s);
	return rc;
}

/* ---- manifests and install ---------------------------------------------- */

int bundle_write_manifest(const char *dir, const cJSON *manifest, struct err *e)
{
	char path[LIMIT_PATH], when[32];
	cJSON *m = manifest ? cJSON_Duplicate(manifest, true) : cJSON_CreateObject();
	char *text;
	time_t now = time(NULL);
	struct tm tm;
	int rc;

	if (!m)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	if (!cJSON_GetObjectItemCaseSensitive(m, "installed")) {
		gmtime_r(&now, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		cJSON_AddStringToObject(m, "installed", when);
	}
	text = cJSON_Print(m);
	cJSON_Delete(m);
	if (!text)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	if (path_join(path, sizeof(path), dir, "manifest.json", e) < 0) {
		free(text);
		return -1;
	}
	rc = file_write_atomic(path, text, strlen(text), 0644, e);
	free(text);
	return rc;
}

cJSON *bundle_read_manifest(const char *dir, struct err *e)
{
	char path[LIMIT_PATH];
	char *data;
	size_t len;
	cJSON *m;

	if (path_join(path, sizeof(path), dir, "manifest.json", e) < 0 ||
	    file_read_all(path, LIMIT_JSON_DOC, &data, &len, e) < 0)
		return NULL;
	m = cJSON_ParseWithLength(data, len);
	free(data);
	if (!cJSON_IsObject(m)) {
		cJSON_Delete(m);
		err_set(e, EXIT_VERIFY,
			"%s: not a valid manifest — remove the object and pull it "
			"again",
			path);
		return NULL;
	}
	return m;
}

/* True when dir holds a manifest recording this sha256. */
static bool installed_with(const char *dir, const char *sha)
{
	struct err e;
	cJSON *m = bundle_read_manifest(dir, &e);
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(m, "sha256");
	bool same = cJSON_IsString(d) && !strcmp(d->valuestring, sha);

	cJSON_Delete(m);
	return same;
}

int bundle_install_custom(const struct store *s, const char *kind, const char *name,
			  const char *sha256, bool force, bundle_fill_fn fill, void *ud,
			  const cJSON *manifest, enum bundle_outcome *out, struct err *e)
{
	char objdir[LIMIT_PATH], staging[LIMIT_PATH];
	cJSON *m = NULL;
	bool waited = false;
	int lock, rc = -1;

	if (store_object_dir(s, kind, name, objdir, sizeof(objdir), e) < 0)
		return -1;
	lock = store_lock(s, kind, name, &waited, e);
	if (lock < 0)
		return -1;
	store_sweep_staging(s, kind, name);
	if (!force && installed_with(objdir, sha256)) {
		*out = waited ? BUNDLE_INSTALLED_OTHER : BUNDLE_ALREADY;
		lock_release(lock);
		return 0;
	}
	if (store_staging(s, kind, name, staging, sizeof(staging), e) < 0)
		goto out;
	m = manifest ? cJSON_Duplicate(manifest, true) : cJSON_CreateObject();
	if (!m) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		goto fail;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(m, "name");
	cJSON_DeleteItemFromObjectCaseSensitive(m, "sha256");
	if (!cJSON_AddStringToObject(m, "name", name) ||
	    !cJSON_AddStringToObject(m, "sha256", sha256)) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		goto fail;
	}
	if (fill(staging, ud, m, e) < 0)
		goto fail;
	if (bundle_write_manifest(staging, m, e) < 0 || file_commit_dir(staging, objdir, e) < 0)
		goto fail;
	*out = BUNDLE_INSTALLED;
	rc = 0;
	goto out;
fail:;
	struct err ignore;

	err_init(&ignore);
	path_remove_tree(staging, &ignore);
out:
	cJSON_Delete(m);
	lock_release(lock);
	return rc;
}

/* ---- pack ---------------------------------------------------------------- */

struct names {
	char **v;
	size_t n, cap;
};

static int names_add(struct names *l, const char *s, struct err *e)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return err_set(e, EXIT_SYSTEM, "out of memory");
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n] = strdup(s);
	if (!l->v[l->n])
		return err_set(e, EXIT_SYSTEM, "out of memory");
	l->n++;
	return 0;
}

static void names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

/* Collects every path under root/rel (relative names, no "./"). */
static int walk(const char *root, const char *rel, struct names *l, struct err *e)
{
	char path[LIMIT_PATH], sub[LIMIT_PATH];
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (path_join(path, sizeof(path), root, rel, e) < 0)
		return -1;
	d = opendir(path);
	if (!d)
		return err_errno(e, 0, "%s: cannot read directory", path);
	while (rc == 0 && (de = readdir(d))) {
		struct stat st;
		char full[LIMIT_PATH];

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (*rel)
			rc = path_join(sub, sizeof(sub), rel, de->d_name, e);
		else
			rc = path_join(sub, sizeof(sub), de->d_name, "", e);
		if (rc == 0)
			rc = path_join(full, sizeof(full), root, sub, e);
		if (rc == 0)
			rc = names_add(l, sub, e);
		if (rc == 0 && lstat(full, &st) < 0)
			rc = err_errno(e, 0, "%s", full);
		if (rc == 0 && S_ISDIR(st.st_mode))
			rc = walk(root, sub, l, e);
	}
	closedir(d);
	return rc;
}

static int by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct sink {
	int fd;
	const char *what;
	struct sha256 h;
	uint64_t n;
	struct err err;
	bool failed;
};

static la_ssize_t on_write(struct archive *a, void *ud, const void *p, size_t len)
{
	struct sink *k = ud;

	if (file_write_all(k->fd, p, len, k->what, &k->err) < 0) {
		k->failed = true;
		archive_set_error(a, EIO, "%s", k->err.msg);
		return -1;
	}
	sha256_update(&k->h, p, len);
	k->n += len;
	return (la_ssize_t)len;
}

static int pack_one(struct archive *a, struct archive_entry *ae, const char *dir, const char *name,
		    char *buf, struct err *e)
{
	char full[LIMIT_PATH], target[LIMIT_TAR_NAME + 1];
	struct stat st;
	int fd = -1, rc = 0;
	ssize_t n;

	if (path_join(full, sizeof(full), dir, name, e) < 0)
		return -1;
	if (lstat(full, &st) < 0)
		return err_errno(e, 0, "%s", full);
	archive_entry_clear(ae);
	archive_entry_set_pathname(ae, name);
	archive_entry_set_uid(ae, 0);
	archive_entry_set_gid(ae, 0);
	archive_entry_set_mtime(ae, 0, 0);
	if (S_ISDIR(st.st_mode)) {
		archive_entry_set_filetype(ae, AE_IFDIR);
		archive_entry_set_perm(ae, st.st_mode & 0755);
	} else if (S_ISREG(st.st_mode)) {
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_perm(ae, st.st_mode & 0755);
		archive_entry_set_size(ae, st.st_size);
		fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return err_errno(e, 0, "%s: cannot open", full);
	} else if (S_ISLNK(st.st_mode)) {
		n = readlink(full, target, sizeof(target) - 1);
		if (n < 0)
			return err_errno(e, 0, "%s: readlink", full);
		if ((size_t)n >= sizeof(target) - 1)
			return err_set(e, EXIT_VERIFY, "%s: link target too long", full);
		target[n] = '\0';
		if (!extract_link_confined(name, target))
			return err_set(e, EXIT_VERIFY,
				       "%s: symlink to '%s' points outside %s — bundles hold only "
				       "links that stay inside",
				       full, target, dir);
		archive_entry_set_filetype(ae, AE_IFLNK);
		archive_entry_set_perm(ae, 0777);
		archive_entry_set_symlink(ae, target);
	} else {
		return err_set(e, EXIT_VERIFY,
			       "%s: not a file, directory or symlink — bundles cannot hold it",
			       full);
	}
	if (archive_write_header(a, ae) != ARCHIVE_OK) {
		rc = err_set(e, EXIT_SYSTEM, "%s: %s", full, archive_error_string(a));
		goto out;
	}
	while (fd >= 0 && (n = read(fd, buf, CHUNK)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = err_errno(e, 0, "%s: read", full);
			goto out;
		}
		if (archive_write_data(a, buf, (size_t)n) != n) {
			rc = err_set(e, EXIT_SYSTEM, "%s: %s", full, archive_error_string(a));
			goto out;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

static bool wanted(const char *name, const char *const *only)
{
	size_t len = strcspn(name, "/");

	if (!only)
		return true;
	for (; *only; only++)
		if (strlen(*only) == len && !strncmp(name, *only, len))
			return true;
	return false;
}

int bundle_pack(const char *dir, const char *out_path, char sha256[DIGEST_HEX_LEN + 1],
		uint64_t *size, struct err *e)
{
	return bundle_pack_only(dir, NULL, out_path, sha256, size, e);
}

int bundle_pack_only(const char *dir, const char *const *only, const char *out_path,
		     char sha256[DIGEST_HEX_LEN + 1], uint64_t *size, struct err *e)
{
	struct names l = { 0 };
	struct atomic_file af;
	struct sink k = { .fd = -1, .what = out_path };
	struct archive *a = NULL;
	struct archive_entry *ae = NULL;
	char level[8], *buf = NULL;
	int rc = -1;

	err_init(&k.err);
	sha256_init(&k.h);
	if (walk(dir, "", &l, e) < 0)
		goto out;
	for (size_t i = 0, j = 0; i <= l.n; i++) {
		if (i == l.n)
			l.n = j;
		else if (wanted(l.v[i], only))
			l.v[j++] = l.v[i];
		else
			free(l.v[i]);
	}
	if (!l.n) {
		err_set(e, EXIT_USAGE, "%s: empty directory — nothing to pack", dir);
		goto out;
	}
	qsort(l.v, l.n, sizeof(*l.v), by_str);
	if (atomic_open(&af, out_path, 0644, e) < 0)
		goto out;
	k.fd = af.fd;
	snprintf(level, sizeof(level), "%d", BUNDLE_ZSTD_LEVEL);
	a = archive_write_new();
	ae = archive_entry_new();
	buf = malloc(CHUNK);
	if (!a || !ae || !buf) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		goto abort;
	}
	/* No zero padding after the compressed stream: it is not zstd. */
	if (archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_add_filter_zstd(a) != ARCHIVE_OK ||
	    archive_write_set_filter_option(a, "zstd", "compression-level", level) != ARCHIVE_OK ||
	    archive_write_open(a, &k, NULL, on_write, NULL) != ARCHIVE_OK) {
		err_set(e, EXIT_SYSTEM, "%s: %s", out_path, archive_error_string(a));
		goto abort;
	}
	for (size_t i = 0; i < l.n; i++)
		if (pack_one(a, ae, dir, l.v[i], buf, e) < 0)
			goto abort;
	if (archive_write_close(a) != ARCHIVE_OK) {
		if (k.failed)
			*e = k.err;
		else
			err_set(e, EXIT_SYSTEM, "%s: %s", out_path, archive_error_string(a));
		goto abort;
	}
	if (atomic_commit(&af, e) < 0)
		goto out;
	sha256_hex(&k.h, sha256);
	*size = k.n;
	rc = 0;
	goto out;
abort:
	if (a) {
		/* Freeing flushes into the temporary, which goes next. */
		archive_write_free(a);
		a = NULL;
	}
	atomic_abort(&af);
out:
	if (a)
		archive_write_free(a);
	if (ae)
		archive_entry_free(ae);
	free(buf);
	names_free(&l);
	return rc;
}
