/* deb.c — see deb.h. */
#include "deb/deb.h"
#include "catalog/bundle.h"
#include "err.h"
#include "exitcode.h"
#include "catalog/extract.h"
#include "http.h"
#include "path.h"
#include "units.h"
#include "kernel/vmlinux.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- dpkg version order (dpkg's lib/dpkg/version.c, same rules) -------- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int order(char c)
{
	if (is_digit(c))
		return 0;
	if (is_alpha(c))
		return (unsigned char)c;
	if (c == '~')
		return -1;
	if (c)
		return (unsigned char)c + 256;
	return 0;
}

/* Compares a[0, alen) and b[0, blen) as dpkg compares upstream versions
 * and revisions: alternating non-digit runs (by order()) and numbers. */
static int verrevcmp(const char *a, const char *ae, const char *b, const char *be)
{
#define A (a < ae ? *a : '\0')
#define B (b < be ? *b : '\0')
	while (a < ae || b < be) {
		int first_diff = 0;

		while ((A && !is_digit(A)) || (B && !is_digit(B))) {
			int ac = order(A), bc = order(B);

			if (ac != bc)
				return ac - bc;
			a++;
			b++;
		}
		while (A == '0')
			a++;
		while (B == '0')
			b++;
		while (is_digit(A) && is_digit(B)) {
			if (!first_diff)
				first_diff = A - B;
			a++;
			b++;
		}
		if (is_digit(A))
			return 1;
		if (is_digit(B))
			return -1;
		if (first_diff)
			return first_diff;
	}
	return 0;
#undef A
#undef B
}

struct ver {
	unsigned long long epoch;
	const char *up, *up_end, *rev, *rev_end;
};

static void split(const char *s, struct ver *v)
{
	const char *colon = strchr(s, ':'), *dash;
	const char *end = s + strlen(s);

	v->epoch = 0;
	if (colon) {
		for (const char *p = s; p < colon; p++)
			if (is_digit(*p) && v->epoch < 1000000000ULL)
				v->epoch = v->epoch * 10 + (unsigned long long)(*p - '0');
		s = colon + 1;
	}
	dash = strrchr(s, '-');
	v->up = s;
	v->up_end = dash ? dash : end;
	v->rev = dash ? dash + 1 : end;
	v->rev_end = end;
}

int deb_version_cmp(const char *a, const char *b)
{
	struct ver x, y;
	int r;

	split(a, &x);
	split(b, &y);
	if (x.epoch != y.epoch)
		return x.epoch < y.epoch ? -1 : 1;
	r = verrevcmp(x.up, x.up_end, y.up, y.up_end);
	if (r)
		return r;
	return verrevcmp(x.rev, x.rev_end, y.rev, y.rev_end);
}

bool deb_glob_match(const char *pattern, const char *name)
{
	const char *star = strchr(pattern, '*');
	size_t pre, suf, len = strlen(name);

	if (!star)
		return !strcmp(pattern, name);
	pre = (size_t)(star - pattern);
	suf = strlen(star + 1);
	return len > pre + suf && !strncmp(name, pattern, pre) &&
	       !strcmp(name + len - suf, star + 1);
}

/* ---- Packages and Release paragraphs ------------------------------------ */

void deb_stanza_init(struct deb_stanza *s, const char *const *fields, size_t n, deb_stanza_fn fn,
		     void *ud)
{
	memset(s, 0, sizeof(*s));
	s->fields = fields;
	s->nfields = n < DEB_FIELDS_MAX ? n : DEB_FIELDS_MAX;
	s->fn = fn;
	s->ud = ud;
	buf_init(&s->line, LIMIT_DEB_LINE, "Packages index line");
}

void deb_stanza_fini(struct deb_stanza *s)
{
	buf_fini(&s->line);
	for (size_t i = 0; i < DEB_FIELDS_MAX; i++)
		free(s->val[i]);
	memset(s->val, 0, sizeof(s->val));
}

/* A paragraph ended: hand its fields over, then forget them. */
static int stanza_end(struct deb_stanza *s, struct err *e)
{
	bool any = false;
	int rc = 0;

	for (size_t i = 0; i < s->nfields; i++)
		any = any || s->val[i];
	if (any)
		rc = s->fn(s->ud, (const char *const *)s->val, s->lines, e);
	for (size_t i = 0; i < s->nfields; i++) {
		free(s->val[i]);
		s->val[i] = NULL;
	}
	return rc;
}

static int field_line(struct deb_stanza *s, char *line, struct err *e)
{
	char *colon = strchr(line, ':'), *v;

	if (!colon)
		return 0;
	*colon = '\0';
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	for (char *end = v + strlen(v); end > v && (end[-1] == ' ' || end[-1] == '\r');)
		*--end = '\0';
	for (size_t i = 0; i < s->nfields; i++) {
		if (strcmp(line, s->fields[i]))
			continue;
		if (s->val[i])
			return err_set(e, EXIT_VERIFY, "Packages index line %lu: %s given twice",
				       s->lines, line);
		s->val[i] = strdup(v);
		if (!s->val[i])
			return err_set(e, EXIT_SYSTEM, "out of memory");
		return 0;
	}
	return 0;
}

/* One complete line (without its newline). */
static int line_done(struct deb_stanza *s, struct err *e)
{
	char *line = s->line.data ? s->line.data : (char *)"";
	int rc = 0;

	s->lines++;
	if (!*line || !strcmp(line, "\r"))
		rc = stanza_end(s, e);
	else if (*line != ' ' && *line != '\t')
		rc = field_line(s, line, e);
	buf_reset(&s->line);
	return rc;
}

/* Fields the parser keeps; every other line is skipped unread, whatever
 * its length (real indexes hold Built-Using and Description lines of any
 * length). */
static bool wanted_field(const struct deb_stanza *s, const char *line, size_t len)
{
	for (size_t i = 0; i < s->nfields; i++) {
		size_t k = strlen(s->fields[i]);

		if (len > k && !memcmp(line, s->fields[i], k) && line[k] == ':')
			return true;
	}
	return false;
}

#define FIELD_NAME_MAX 64 /* a field name longer than this is not one we keep */

int deb_stanza_feed(struct deb_stanza *s, const char *p, size_t n, struct err *e)
{
	s->total += n;
	if (s->total > LIMIT_DEB_INDEX)
		return err_set(e, EXIT_VERIFY, "Packages index larger than %llu bytes",
			       (unsigned long long)LIMIT_DEB_INDEX);
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t k = nl ? (size_t)(nl - p) : n;

		/* Continuation lines (descriptions) are skipped, whatever their length. */
		if (!s->line.len && k && (*p == ' ' || *p == '\t'))
			s->skip_line = true;
		if (!s->skip_line && !s->field_known) {
			/* Decide from the field name whether the line is worth keeping. */
			size_t room = FIELD_NAME_MAX - s->line.len, take = k < room ? k : room;

			if (buf_append(&s->line, p, take, e) < 0)
				return -1;
			p += take;
			n -= take;
			k -= take;
			if (memchr(s->line.data, ':', s->line.len) ||
			    s->line.len >= FIELD_NAME_MAX) {
				s->field_known = true;
				if (!wanted_field(s, s->line.data, s->line.len)) {
					s->skip_line = true;
					buf_reset(&s->line);
				}
			}
		}
		if (!s->skip_line && k && buf_append(&s->line, p, k, e) < 0)
			return err_prefix(e, "Packages index line %lu", s->lines + 1);
		if (!nl)
			return 0;
		if (s->skip_line) {
			s->lines++;
			buf_reset(&s->line);
		} else if (line_done(s, e) < 0) {
			return -1;
		}
		s->skip_line = s->field_known = false;
		p += k + 1;
		n -= k + 1;
	}
	return 0;
}

int deb_stanza_end(struct deb_stanza *s, struct err *e)
{
	if (s->line.len && !s->skip_line && line_done(s, e) < 0)
		return -1;
	return stanza_end(s, e);
}

int deb_pkg_fill(struct deb_pkg *p, const char *const *v, struct err *e)
{
	const char *what = v[DEB_F_PACKAGE];

	memset(p, 0, sizeof(*p));
	for (int i = 0; i <= DEB_F_SIZE; i++)
		if (!v[i])
			return err_set(e, EXIT_VERIFY,
				       "Packages index: %s lacks Version, Architecture, Filename, "
				       "SHA256 or Size — is the mirror complete?",
				       what ? what : "a package");
	if (strlen(what) > LIMIT_NAME || strlen(v[DEB_F_VERSION]) > LIMIT_NAME ||
	    strlen(v[DEB_F_ARCH]) > LIMIT_NAME || strlen(v[DEB_F_FILENAME]) >= LIMIT_URL)
		return err_set(e, EXIT_VERIFY, "Packages index: %.64s: a field is too long", what);
	memcpy(p->package, what, strlen(what) + 1);
	memcpy(p->version, v[DEB_F_VERSION], strlen(v[DEB_F_VERSION]) + 1);
	memcpy(p->arch, v[DEB_F_ARCH], strlen(v[DEB_F_ARCH]) + 1);
	memcpy(p->filename, v[DEB_F_FILENAME], strlen(v[DEB_F_FILENAME]) + 1);
	if (!digest_is_hex(v[DEB_F_SHA256]))
		return err_set(
			e, EXIT_VERIFY,
			"Packages index: %s: SHA256 is not 64 hex digits — refusing the index",
			what);
	memcpy(p->sha256, v[DEB_F_SHA256], DIGEST_HEX_LEN + 1);
	if (parse_u64(v[DEB_F_SIZE], 10, LIMIT_DOWNLOAD, &p->size) < 0 || p->size == 0)
		return err_set(e, EXIT_VERIFY, "Packages index: %s: Size '%s' is not a size", what,
			       v[DEB_F_SIZE]);
	if (!path_is_confined(p->filename) || strncmp(p->filename, "pool/", 5))
		return err_set(
			e, EXIT_VERIFY,
			"Packages index: %s has an unsafe Filename '%s' — refusing the index", what,
			p->filename);
	return 0;
}

const char *const deb_fields[DEB_F_COUNT] = {
	[DEB_F_PACKAGE] = "Package",   [DEB_F_VERSION] = "Version",
	[DEB_F_ARCH] = "Architecture", [DEB_F_FILENAME] = "Filename",
	[DEB_F_SHA256] = "SHA256",     [DEB_F_SIZE] = "Size",
	[DEB_F_PRIORITY] = "Priority", [DEB_F_ESSENTIAL] = "Essential",
	[DEB_F_DEPENDS] = "Depends",   [DEB_F_PRE_DEPENDS] = "Pre-Depends",
	[DEB_F_PROVIDES] = "Provides",
};

/* The kernel matcher: keeps the newest stanza matching pattern and arch. */
static int kernel_stanza(void *ud, const char *const *v, unsigned long line, struct err *e)
{
	struct deb_index *x = ud;
	struct deb_pkg c;

	if (!v[DEB_F_PACKAGE] || !deb_glob_match(x->pattern, v[DEB_F_PACKAGE]))
		return 0;
	if (!v[DEB_F_ARCH] || strcmp(v[DEB_F_ARCH], x->arch))
		return 0;
	if (deb_pkg_fill(&c, v, e) < 0)
		return -1;
	if (!x->found || deb_version_cmp(c.version, x->best.version) > 0) {
		x->best = c;
		x->found = true;
	}
	return 0;
}

void deb_index_init(struct deb_index *x, const char *pattern, const char *arch)
{
	memset(x, 0, sizeof(*x));
	x->pattern = pattern;
	x->arch = arch;
	deb_stanza_init(&x->p, deb_fields, DEB_F_SIZE + 1, kernel_stanza, x);
}

void deb_index_fini(struct deb_index *x)
{
	deb_stanza_fini(&x->p);
}

int deb_index_feed(struct deb_index *x, const char *p, size_t n, struct err *e)
{
	return deb_stanza_feed(&x->p, p, n, e);
}

int deb_index_end(struct deb_index *x, struct err *e)
{
	return deb_stanza_end(&x->p, e);
}

/* ---- the kernel .deb ---------------------------------------------------- */

/* The data.tar member of the .deb, read through the outer ar archive. */
struct member {
	struct archive *ar;
	char buf[64 * 1024];
};

static la_ssize_t member_cb(struct archive *a, void *ud, const void **out)
{
	struct member *m = ud;
	la_ssize_t n = archive_read_data(m->ar, m->buf, sizeof(m->buf));

	*out = m->buf;
	if (n < 0)
		archive_set_error(a, EIO, "%s", archive_error_string(m->ar));
	return n;
}

struct unpack {
	const char *what;
	struct extract x;
	char *vmlinuz; /* boot/vmlinuz-*, kept in memory until verified */
	size_t vmlinuz_len;
	struct deb_kernel *out;
};

/* A kernel release as uname -r shows it: 6.12.117+deb12-cloud-amd64. */
static bool release_name(const char *s)
{
	if (!*s || *s == '.' || *s == '-')
		return false;
	for (; *s; s++)
		if (!(is_alpha(*s) || is_digit(*s) || strchr("._+-~", *s)))
			return false;
	return true;
}

static int take_vmlinuz(struct unpack *u, struct archive *a, const char *name, int64_t size,
			struct err *e)
{
	la_ssize_t n;

	if (u->vmlinuz)
		return err_set(e, EXIT_VERIFY, "%s: more than one boot/vmlinuz-*", u->what);
	if (size <= 0 || size > LIMIT_VMLINUZ)
		return err_set(e, EXIT_VERIFY, "%s: %s is empty or larger than %d bytes", u->what,
			       name, LIMIT_VMLINUZ);
	if (snprintf(u->out->version, sizeof(u->out->version), "%s",
		     name + strlen("boot/vmlinuz-")) >= (int)sizeof(u->out->version) ||
	    !release_name(u->out->version))
		return err_set(e, EXIT_VERIFY, "%s: odd kernel file name '%s'", u->what, name);
	u->vmlinuz = malloc((size_t)size);
	if (!u->vmlinuz)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	while (u->vmlinuz_len < (size_t)size &&
	       (n = archive_read_data(a, u->vmlinuz + u->vmlinuz_len,
				      (size_t)size - u->vmlinuz_len)) > 0)
		u->vmlinuz_len += (size_t)n;
	if (u->vmlinuz_len != (size_t)size)
		return EXTRACT_ARCHIVE_FAILED;
	return 0;
}

/* Walks data.tar: vmlinuz into memory, modules into the staging dir. */
static int unpack_data(struct unpack *u, struct archive *outer, struct err *e)
{
	struct member *m = calloc(1, sizeof(*m));
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	int r, rc = -1;

	if (!m || !a) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		goto out;
	}
	m->ar = outer;
	archive_read_support_filter_xz(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	if (archive_read_open(a, m, NULL, member_cb, NULL) != ARCHIVE_OK)
		goto fail_archive;
	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(ae);

		if (!name)
			continue;
		while (name[0] == '.' && name[1] == '/')
			name += 2;
		if (!strncmp(name, "boot/vmlinuz-", 13) && archive_entry_filetype(ae) == AE_IFREG) {
			r = take_vmlinuz(u, a, name, archive_entry_size(ae), e);
		} else if (!strncmp(name, "lib/modules/", 12) ||
			   !strncmp(name, "usr/lib/modules/", 16)) {
			r = extract_entry(&u->x, a, ae, e);
			u->out->modules = true;
		} else {
			r = 0; /* docs, config, System.map: not needed */
		}
		if (r == EXTRACT_ARCHIVE_FAILED)
			goto fail_archive;
		if (r < 0)
			goto out;
	}
	if (r != ARCHIVE_EOF)
		goto fail_archive;
	rc = 0;
	goto out;
fail_archive:
	rc = -2;
	err_set(e, EXIT_VERIFY, "%s: data.tar: %s", u->what,
		archive_error_string(a) ? archive_error_string(a) : "unreadable");
out:
	if (a)
		archive_read_free(a);
	free(m);
	return rc;
}

int deb_kernel_unpack(const char *url, const char *sha256, uint64_t size, const char *ca_file,
		      const char *label, const char *dir, struct deb_kernel *out, struct err *e)
{
	struct bundle_src src = {
		.url = url, .sha256 = sha256, .size = size, .ca_file = ca_file, .label = label
	};
	struct unpack u = { .what = url, .out = out, .x = { .root = -1 } };
	struct bundle_stream *s = NULL;
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	struct vmlinux_info vi;
	char path[LIMIT_PATH];
	bool data = false;
	int r, rc = -1, fd = -1;

	memset(out, 0, sizeof(*out));
	if (!a) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		goto out;
	}
	if (extract_open(&u.x, dir, url, e) < 0)
		goto out;
	u.x.strip = "usr/";
	u.x.prefix = "modules/";
	s = bundle_stream_open(&src, e);
	if (!s)
		goto out;
	archive_read_support_format_ar(a);
	if (archive_read_open(a, s, NULL, bundle_stream_archive_cb, NULL) != ARCHIVE_OK)
		goto fail_archive;
	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(ae);

		if (!name || strncmp(name, "data.tar", 8))
			continue;
		if (data) {
			err_set(e, EXIT_VERIFY, "%s: two data.tar members — not a Debian package",
				url);
			goto out;
		}
		data = true;
		r = unpack_data(&u, a, e);
		/* A broken stream (network, too large) explains a broken data.tar. */
		if (r == -2 && bundle_stream_failed(s))
			bundle_stream_fail(s, a, "Debian package", e);
		if (r < 0)
			goto out;
	}
	if (r != ARCHIVE_EOF)
		goto fail_archive;
	/* Verified before anything from it is decompressed further. */
	if (bundle_stream_finish(s, NULL, NULL, e) < 0)
		goto out;
	if (!data || !u.vmlinuz) {
		err_set(e, EXIT_VERIFY, "%s: no boot/vmlinuz-* in the package — is it a kernel?",
			url);
		goto out;
	}
	if (path_join(path, sizeof(path), dir, "vmlinux", e) < 0)
		goto out;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		err_errno(e, 0, "%s: cannot create", path);
		goto out;
	}
	if (vmlinux_extract((const unsigned char *)u.vmlinuz, u.vmlinuz_len, fd, &vi, e) < 0) {
		err_prefix(e, "%s: boot/vmlinuz-%s", url, out->version);
		goto out;
	}
	out->compression = vi.compression;
	out->vmlinux_size = vi.size;
	rc = 0;
	goto out;
fail_archive:
	bundle_stream_fail(s, a, "Debian package", e);
out:
	if (fd >= 0)
		close(fd);
	extract_close(&u.x);
	free(u.vmlinuz);
	if (a)
		archive_read_free(a);
	bundle_stream_free(s);
	return rc;
}
