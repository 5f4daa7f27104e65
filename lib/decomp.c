/* decomp.c — see decomp.h. */
#include "decomp.h"
#include "err.h"
#include "exitcode.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>

struct magic {
	const char *name;
	const char *bytes;
	size_t len;
	int (*support)(struct archive *);
	const char *program; /* outside decompressor libarchive falls back to */
};

static const struct magic magics[] = {
	{ "gzip", "\x1f\x8b\x08", 3, archive_read_support_filter_gzip, NULL },
	{ "xz",
	  "\xfd"
	  "7zXZ\0",
	  6, archive_read_support_filter_xz, NULL },
	{ "lzma", "\x5d\0\0", 3, archive_read_support_filter_lzma, NULL },
	{ "zstd", "\x28\xb5\x2f\xfd", 4, archive_read_support_filter_zstd, NULL },
	{ "lz4", "\x02\x21\x4c\x18", 4, archive_read_support_filter_lz4, "lz4" },
	{ "bzip2", "BZh", 3, archive_read_support_filter_bzip2, "bzip2" },
	{ "lzo", "\x89LZO", 4, archive_read_support_filter_lzop, "lzop" },
};
#define NMAGICS (sizeof(magics) / sizeof(magics[0]))

static const struct magic *magic_at(const void *p, size_t len)
{
	for (size_t i = 0; i < NMAGICS; i++)
		if (len >= magics[i].len && !memcmp(p, magics[i].bytes, magics[i].len))
			return &magics[i];
	return NULL;
}

const char *decomp_sniff(const void *p, size_t len)
{
	const struct magic *m = magic_at(p, len);

	return m ? m->name : NULL;
}

static int no_program(struct decomp *d, struct err *e)
{
	return err_set(e, EXIT_SYSTEM,
		       "%s: %s-compressed, and this banger's libarchive has no built-in %s; "
		       "running the '%s' program failed (%s) — install %s (apt-get install %s)",
		       d->what, d->name, d->name, d->prog,
		       archive_error_string(d->a) ? archive_error_string(d->a) : "not found",
		       d->prog, d->prog);
}

int decomp_init(struct decomp *d, const void *in, size_t len, const char *name, const char *what,
		struct err *e)
{
	const struct magic *m = NULL;
	struct archive_entry *ae;

	memset(d, 0, sizeof(*d));
	d->what = what;
	for (size_t i = 0; name && i < NMAGICS && !m; i++)
		if (!strcmp(magics[i].name, name))
			m = &magics[i];
	if (!name)
		m = magic_at(in, len);
	if (!m)
		return err_set(e, EXIT_VERIFY,
			       "%s: not compressed with gzip, xz, lzma, zstd, lz4, bzip2 or lzo",
			       what);
	d->name = m->name;
	d->prog = m->program;
	if (magic_at(in, len) != m)
		return 1;
	if (!(d->a = archive_read_new()))
		return err_set(e, EXIT_SYSTEM, "%s: out of memory", what);
	d->external = m->support(d->a) == ARCHIVE_WARN;
	archive_read_support_format_raw(d->a);
	if (archive_read_open_memory(d->a, in, len) != ARCHIVE_OK ||
	    archive_read_next_header(d->a, &ae) != ARCHIVE_OK) {
		if (d->external)
			return no_program(d, e);
		return err_set(
			e, EXIT_VERIFY, "%s: corrupt or truncated %s data (%s)", what, m->name,
			archive_error_string(d->a) ? archive_error_string(d->a) : "unreadable");
	}
	/* No filter took it: the raw reader would hand back the input as is. */
	if (archive_filter_code(d->a, 0) == ARCHIVE_FILTER_NONE)
		return err_set(e, EXIT_VERIFY, "%s: corrupt %s data", what, m->name);
	return 0;
}

ssize_t decomp_read(struct decomp *d, void *buf, size_t n, struct err *e)
{
	la_ssize_t r = archive_read_data(d->a, buf, n);

	if (r > 0)
		d->produced = true;
	if (r >= 0)
		return (ssize_t)r;
	/* An outside program that gives nothing at all did not run. */
	if (d->external && !d->produced)
		return no_program(d, e);
	return err_set(e, EXIT_VERIFY, "%s: corrupt or truncated %s data (%s)", d->what, d->name,
		       archive_error_string(d->a) ? archive_error_string(d->a) : "unreadable");
}

void decomp_fini(struct decomp *d)
{
	if (d->a)
		archive_read_free(d->a);
	d->a = NULL;
}

int decomp_all(const void *in, size_t len, const char *name, size_t max, unsigned char **out,
	       size_t *outlen, const char *what, struct err *e)
{
	struct decomp d;
	unsigned char *buf = NULL;
	size_t cap = 0, n = 0;
	ssize_t r = 1;
	int rc;

	if ((rc = decomp_init(&d, in, len, name, what, e)) != 0) {
		decomp_fini(&d);
		return rc < 0 ? -1 : err_set(e, EXIT_VERIFY, "%s: not a %s stream", what, d.name);
	}
	do {
		if (n == cap) {
			/* Past max by one byte tells "too large" from "exactly max". */
			size_t want = cap ? cap * 2 : len * 4 + 4096;
			unsigned char *p;

			if (cap > max)
				break;
			want = want > max + 1 ? max + 1 : want;
			if (!(p = realloc(buf, want))) {
				free(buf);
				decomp_fini(&d);
				return err_set(e, EXIT_SYSTEM, "%s: out of memory", what);
			}
			buf = p;
			cap = want;
		}
		r = decomp_read(&d, buf + n, cap - n, e);
		n += r > 0 ? (size_t)r : 0;
	} while (r > 0);
	decomp_fini(&d);
	if (r < 0 || n > max) {
		free(buf);
		if (r < 0)
			return -1;
		return err_set(e, EXIT_VERIFY, "%s: decompresses to more than %zu bytes", what,
			       max);
	}
	*out = buf;
	*outlen = n;
	return 0;
}
