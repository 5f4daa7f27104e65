/* bundle.c — see bundle.h. One pass over the bytes: libarchive pulls from a
 * read callback that hashes and counts what it hands over, so the digest
 * covers exactly the bytes that were unpacked. */
#include "bundle.h"
#include "err.h"
#include "exitcode.h"
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (128 * 1024)

/* ---- confined extraction ------------------------------------------------ */

struct extract {
	int root;	  /* the directory everything lands in */
	const char *what; /* the bundle, for messages */
};

/* Strips leading "./" and trailing "/"; "" means the root itself. */
static const char *clean_name(const char *name, char *out, size_t size)
{
	size_t len;

	while (name[0] == '.' && name[1] == '/')
		name += 2;
	while (name[0] == '/' && name[1] == '\0')
		name++;
	len = strlen(name);
	if (len >= size)
		return NULL;
	memcpy(out, name, len + 1);
	while (len > 0 && out[len - 1] == '/')
		out[--len] = '\0';
	if (!strcmp(out, "."))
		out[0] = '\0';
	return out;
}

/* Opens the parent directory of name inside the root, component by
 * component, never following a symlink; missing directories are created
 * when create is set. *base points at the last component of name (which
 * is modified). Returns a directory fd, or -1 with e set. */
static int open_parent(struct extract *x, char *name, bool create, const char **base, struct err *e)
{
	int fd = dup(x->root);
	char *p = name, *slash;

	if (fd < 0)
		return err_errno(e, EXIT_SYSTEM, "%s: dup", x->what);
	while ((slash = strchr(p, '/'))) {
		int sub;

		*slash = '\0';
		if (!*p || !strcmp(p, ".")) {
			p = slash + 1;
			continue;
		}
		sub = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, p, 0755) < 0 && errno != EEXIST) {
				err_errno(e, 0, "%s: cannot create directory %s", x->what, p);
				close(fd);
				return -1;
			}
			sub = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (sub < 0) {
			int saved = errno;

			close(fd);
			errno = saved;
			if (errno == ELOOP || errno == ENOTDIR)
				return err_set(e, EXIT_VERIFY,
					       "%s: entry '%s…' goes through a symlink or a file — "
					       "refusing the unsafe bundle",
					       x->what, name);
			return err_errno(e, 0, "%s: cannot open directory %s", x->what, p);
		}
		close(fd);
		fd = sub;
		*slash = '/';
		p = slash + 1;
	}
	*base = p;
	return fd;
}

/* True when a symlink at entry name with target stays inside the root,
 * judged lexically (parents are real directories: see open_parent). */
static bool link_confined(const char *name, const char *target)
{
	long depth = 0;
	const char *p;

	if (!*target || *target == '/')
		return false;
	for (p = name; *p; p++)
		if (*p == '/' && p[1] && p[1] != '/')
			depth++;
	for (p = target; *p;) {
		size_t len = strcspn(p, "/");

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (--depth < 0)
				return false;
		} else if (len && !(len == 1 && p[0] == '.')) {
			depth++;
		}
		p += len;
		while (*p == '/')
			p++;
	}
	return true;
}

/* Removes a non-directory at base so the entry can take its place; later
 * tar entries replace earlier ones, as with tar -x. */
static int clear_slot(struct extract *x, int dir, const char *base, const char *name, struct err *e)
{
	struct stat st;

	if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : err_errno(e, 0, "%s: %s", x->what, name);
	if (S_ISDIR(st.st_mode))
		return err_set(e, EXIT_VERIFY,
			       "%s: entry '%s' would replace a directory — refusing the bundle",
			       x->what, name);
	if (unlinkat(dir, base, 0) < 0)
		return err_errno(e, 0, "%s: cannot replace %s", x->what, name);
	return 0;
}

static int write_data(struct extract *x, struct archive *a, int fd, const char *name, struct err *e)
{
	const void *blk;
	size_t len;
	la_int64_t off;
	int r;

	while ((r = archive_read_data_block(a, &blk, &len, &off)) == ARCHIVE_OK) {
		const char *p = blk;

		while (len) {
			ssize_t w = pwrite(fd, p, len, (off_t)off);

			if (w < 0) {
				if (errno == EINTR)
					continue;
				return err_errno(e, 0, "%s: writing %s", x->what, name);
			}
			p += w;
			len -= (size_t)w;
			off += w;
		}
	}
	if (r != ARCHIVE_EOF)
		return -2; /* the archive (or its source) failed: the caller reports */
	return 0;
}

/* One entry. Returns 0, -1 with e set, or -2 when libarchive failed. */
static int extract_entry(struct extract *x, struct archive *a, struct archive_entry *ae,
			 struct err *e)
{
	char name[LIMIT_TAR_NAME + 1], path[LIMIT_TAR_NAME + 1], tgt[LIMIT_TAR_NAME + 1];
	const char *raw = archive_entry_pathname(ae), *hl = archive_entry_hardlink(ae);
	const char *sl = archive_entry_symlink(ae), *base;
	mode_t type = archive_entry_filetype(ae);
	mode_t perm = archive_entry_perm(ae) & 0777;
	int dir = -1, fd, rc = 0;

	if (!raw || !clean_name(raw, name, sizeof(name)))
		return err_set(e, EXIT_VERIFY, "%s: an entry name is missing or longer than %d",
			       x->what, LIMIT_TAR_NAME);
	if (!*name)
		return type == AE_IFDIR
			       ? 0
			       : err_set(e, EXIT_VERIFY, "%s: entry replaces the root", x->what);
	if (raw[0] == '/' || !path_is_confined(name))
		return err_set(e, EXIT_VERIFY,
			       "%s: entry '%s' is absolute or has '..' — refusing the unsafe "
			       "bundle",
			       x->what, raw);
	memcpy(path, name, sizeof(path));
	if (hl) {
		int tdir;
		const char *tbase;
		struct stat st;

		if (!clean_name(hl, tgt, sizeof(tgt)) || !*tgt || hl[0] == '/' ||
		    !path_is_confined(tgt))
			return err_set(e, EXIT_VERIFY,
				       "%s: hard link '%s' → '%s' points outside — refusing the "
				       "unsafe bundle",
				       x->what, name, hl);
		tdir = open_parent(x, tgt, false, &tbase, e);
		if (tdir < 0)
			return -1;
		if (fstatat(tdir, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) {
			close(tdir);
			return err_set(e, EXIT_VERIFY,
				       "%s: hard link '%s' → '%s': no such regular file earlier "
				       "in the bundle",
				       x->what, name, hl);
		}
		dir = open_parent(x, path, true, &base, e);
		if (dir < 0 || clear_slot(x, dir, base, name, e) < 0) {
			rc = -1;
		} else if (linkat(tdir, tbase, dir, base, 0) < 0) {
			rc = err_errno(e, 0, "%s: cannot link %s", x->what, name);
		}
		close(tdir);
		if (dir >= 0)
			close(dir);
		return rc;
	}
	switch (type) {
	case AE_IFDIR:
	case AE_IFREG:
	case AE_IFLNK:
		break;
	default:
		return err_set(e, EXIT_VERIFY,
			       "%s: entry '%s' is not a file, directory or symlink — refusing the "
			       "bundle",
			       x->what, name);
	}
	if (type == AE_IFLNK && (!sl || !link_confined(name, sl)))
		return err_set(e, EXIT_VERIFY,
			       "%s: symlink '%s' → '%s' points outside the bundle — refusing the "
			       "unsafe bundle",
			       x->what, name, sl ? sl : "");
	dir = open_parent(x, path, true, &base, e);
	if (dir < 0)
		return -1;
	if (type == AE_IFDIR) {
		struct stat st;

		if (mkdirat(dir, base, perm | 0700) < 0) {
			if (errno != EEXIST)
				rc = err_errno(e, 0, "%s: cannot create %s", x->what, name);
			else if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
				 !S_ISDIR(st.st_mode))
				rc = err_set(e, EXIT_VERIFY,
					     "%s: directory '%s' would replace a file or symlink — "
					     "refusing the bundle",
					     x->what, name);
		}
	} else if (clear_slot(x, dir, base, name, e) < 0) {
		rc = -1;
	} else if (type == AE_IFLNK) {
		if (symlinkat(sl, dir, base) < 0)
			rc = err_errno(e, 0, "%s: cannot create symlink %s", x->what, name);
	} else {
		fd = openat(dir, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, perm);
		if (fd < 0) {
			rc = err_errno(e, 0, "%s: cannot create %s", x->what, name);
		} else {
			rc = write_data(x, a, fd, name, e);
			if (rc == 0 && archive_entry_size_is_set(ae) &&
			    ftruncate(fd, (off_t)archive_entry_size(ae)) < 0)
				rc = err_errno(e, 0, "%s: %s", x->what, name);
			if (rc == 0 && fchmod(fd, perm) < 0)
				rc = err_errno(e, 0, "%s: chmod %s", x->what, name);
			if (close(fd) < 0 && rc == 0)
				rc = err_errno(e, 0, "%s: writing %s", x->what, name);
		}
	}
	close(dir);
	return rc;
}

/* ---- the byte source: hashed and counted as libarchive reads ----------- */

struct source {
	struct http_stream *hs; /* or */
	int fd;
	const char *what;
	struct sha256 h;
	uint64_t n;
	uint64_t limit; /* fail once more than this arrives */
	struct progress prog;
	bool failed; /* err holds why */
	struct err err;
	char buf[CHUNK];
};

static ssize_t source_read(struct source *s, void *buf, size_t size)
{
	ssize_t n;

	if (s->hs) {
		n = http_stream_read(s->hs, buf, size, &s->err);
	} else {
		do
			n = read(s->fd, buf, size);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			err_errno(&s->err, 0, "%s: read", s->what);
	}
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
	sha256_update(&s->h, buf, (size_t)n);
	progress_add(&s->prog, (uint64_t)n);
	return n;
}

static la_ssize_t on_read(struct archive *a, void *ud, const void **out)
{
	struct source *s = ud;
	ssize_t n = source_read(s, s->buf, sizeof(s->buf));

	*out = s->buf;
	if (n < 0) {
		archive_set_error(a, EIO, "%s", s->err.msg);
		return -1;
	}
	return n;
}

/* Reads the rest of the stream (tar padding, anything after the archive):
 * the digest covers every byte, not just what libarchive wanted. */
static int source_drain(struct source *s)
{
	ssize_t n;

	while ((n = source_read(s, s->buf, sizeof(s->buf))) > 0) {
	}
	return n < 0 ? -1 : 0;
}

/* Unpacks from s into dir; then checks digest and size against want (want
 * NULL: just report them). */
static int extract_from(struct source *s, const char *dir, const char *want_sha, uint64_t want_size,
			char got_sha[DIGEST_HEX_LEN + 1], struct err *e)
{
	struct extract x = { .what = s->what };
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	char hex[DIGEST_HEX_LEN + 1];
	int r, rc = -1;

	x.root = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (!a || x.root < 0) {
		err_errno(e, 0, "%s: cannot open", dir);
		goto out;
	}
	archive_read_support_filter_zstd(a);
	archive_read_support_format_tar(a);
	if (archive_read_open(a, s, NULL, on_read, NULL) != ARCHIVE_OK)
		goto fail_archive;
	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		r = extract_entry(&x, a, ae, e);
		if (r == -2)
			goto fail_archive;
		if (r < 0)
			goto out;
	}
	if (r != ARCHIVE_EOF)
		goto fail_archive;
	if (source_drain(s) < 0) {
		*e = s->err;
		goto out;
	}
	sha256_hex(&s->h, hex);
	if (got_sha)
		memcpy(got_sha, hex, sizeof(hex));
	if (want_size && s->n != want_size) {
		err_set(e, EXIT_VERIFY,
			"%s: %llu bytes, the catalog says %llu — refusing it (tampered or a stale "
			"catalog)",
			s->what, (unsigned long long)s->n, (unsigned long long)want_size);
		goto out;
	}
	if (want_sha && strcmp(hex, want_sha)) {
		err_set(e, EXIT_VERIFY,
			"%s: sha256 %.12s…, the catalog says %.12s… — refusing it (tampered or a "
			"stale catalog)",
			s->what, hex, want_sha);
		goto out;
	}
	rc = 0;
	goto out;
fail_archive:
	if (s->failed)
		*e = s->err;
	else
		err_set(e, EXIT_VERIFY, "%s: not a valid tar.zst bundle: %s", s->what,
			archive_error_string(a) ? archive_error_string(a) : "unreadable");
out:
	if (x.root >= 0)
		close(x.root);
	archive_read_free(a);
	return rc;
}

int bundle_download(const struct bundle_src *src, const char *dir, struct err *e)
{
	struct http_req req = { .url = src->url, .ca_file = src->ca_file };
	struct http_resp resp;
	struct source *s;
	char want[DIGEST_HEX_LEN + 1];
	int rc;

	if (digest_parse(src->sha256, src->url, want, e) < 0)
		return -1;
	if (!src->size || src->size > LIMIT_DOWNLOAD)
		return err_set(e, EXIT_VERIFY, "%s: size %llu is out of range (1 to %llu)",
			       src->url, (unsigned long long)src->size,
			       (unsigned long long)LIMIT_DOWNLOAD);
	s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	s->fd = -1;
	s->what = src->url;
	s->limit = src->size;
	err_init(&s->err);
	sha256_init(&s->h);
	s->hs = http_stream_open(&req, &resp, e);
	if (!s->hs) {
		free(s);
		return -1;
	}
	if (resp.content_length != UINT64_MAX && resp.content_length != src->size) {
		err_set(e, EXIT_VERIFY,
			"%s: the server offers %llu bytes, the catalog says %llu — refusing it "
			"(tampered or a stale catalog)",
			src->url, (unsigned long long)resp.content_length,
			(unsigned long long)src->size);
		http_stream_free(s->hs);
		free(s);
		return -1;
	}
	progress_init(&s->prog, src->label ? src->label : src->url, src->size);
	rc = extract_from(s, dir, want, src->size, NULL, e);
	progress_fini(&s->prog);
	http_stream_free(s->hs);
	free(s);
	return rc;
}

int bundle_extract_fd(int fd, const char *dir, char sha256[DIGEST_HEX_LEN + 1], uint64_t *size,
		      struct err *e)
{
	struct source *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	s->fd = fd;
	s->what = "bundle";
	s->limit = LIMIT_DOWNLOAD;
	err_init(&s->err);
	sha256_init(&s->h);
	progress_init(&s->prog, "bundle", 0);
	s->prog.active = false;
	rc = extract_from(s, dir, NULL, 0, sha256, e);
	if (size)
		*size = s->n;
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

int bundle_install(const struct store *s, const char *kind, const char *name,
		   const struct bundle_src *src, const cJSON *manifest, bool force,
		   enum bundle_outcome *out, struct err *e)
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
	if (!force && installed_with(objdir, src->sha256)) {
		*out = waited ? BUNDLE_INSTALLED_OTHER : BUNDLE_ALREADY;
		lock_release(lock);
		return 0;
	}
	if (store_staging(s, kind, name, staging, sizeof(staging), e) < 0)
		goto out;
	if (bundle_download(src, staging, e) < 0)
		goto fail;
	m = manifest ? cJSON_Duplicate(manifest, true) : cJSON_CreateObject();
	if (!m) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		goto fail;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(m, "name");
	cJSON_DeleteItemFromObjectCaseSensitive(m, "sha256");
	cJSON_DeleteItemFromObjectCaseSensitive(m, "size");
	cJSON_DeleteItemFromObjectCaseSensitive(m, "source");
	cJSON_AddStringToObject(m, "name", name);
	cJSON_AddStringToObject(m, "sha256", src->sha256);
	cJSON_AddNumberToObject(m, "size", (double)src->size);
	cJSON_AddStringToObject(m, "source", src->url);
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
		if (!link_confined(name, target))
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

int bundle_pack(const char *dir, const char *out_path, char sha256[DIGEST_HEX_LEN + 1],
		uint64_t *size, struct err *e)
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
