/* decomp.h — the one decompression front end (libarchive's filters, raw).
 *
 * Kernel images, kernel modules and whatever else arrives compressed in
 * memory are read through here: the compressor is named or sniffed from the
 * magic bytes, the output is pulled in chunks or whole, and every size is
 * capped by the caller. Tar streams (layers, bundles, .debs) read through
 * libarchive's tar reader in their own modules; this is for a single blob.
 * lz4 is built in (liblz4, from Debian's source: Debian's kernels are lz4);
 * bzip2 and lzo run an outside program through libarchive, which has no
 * built-in decoder for them (the error says which to install).
 */
#ifndef BANGER_DECOMP_H
#define BANGER_DECOMP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct err;
struct archive;

/* Compressors known here: "gzip", "xz", "lzma", "zstd", "lz4", "bzip2",
 * "lzo". The one whose magic starts p, or NULL. Never fails. */
const char *decomp_sniff(const void *p, size_t len);

/* A reader of one compressed blob. Caller-owned: decomp_init, then
 * decomp_read until 0 or -1, then decomp_fini (always, even after errors). */
struct decomp {
	struct archive *a;
	const char *name; /* the compressor */
	const char *what; /* for messages */
	bool external;	  /* libarchive runs an outside program for it */
	const char *prog; /* that program */
	bool produced;	  /* some output came */
};

/* Opens in[0, len) (kept by the caller until decomp_fini) compressed with
 * name (NULL: sniffed). Returns 0, 1 when the data does not start with that
 * compressor's magic, -1 with e set (EXIT_VERIFY for no known magic or a
 * stream its decoder refuses at once, EXIT_SYSTEM for a missing outside
 * program). */
int decomp_init(struct decomp *d, const void *in, size_t len, const char *name, const char *what,
		struct err *e);
/* Up to n bytes of output: > 0 bytes, 0 at the end, -1 with e set on
 * corrupt or truncated data (EXIT_VERIFY). Blocks only on the decoder. */
ssize_t decomp_read(struct decomp *d, void *buf, size_t n, struct err *e);
void decomp_fini(struct decomp *d);

/* Decompresses in[0, len) whole into a malloc'd buffer the caller frees:
 * *out, *outlen. More than max bytes of output is EXIT_VERIFY. */
int decomp_all(const void *in, size_t len, const char *name, size_t max, unsigned char **out,
	       size_t *outlen, const char *what, struct err *e);

#endif
