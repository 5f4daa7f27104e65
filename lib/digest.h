/* digest.h — SHA-256 (BearSSL) for streams, and "sha256:HEX" strings.
 *
 * Caller-owned context; hashing never allocates, never fails, never blocks.
 */
#ifndef BANGER_DIGEST_H
#define BANGER_DIGEST_H

#include <bearssl_hash.h>
#include <stdbool.h>
#include <stddef.h>

#define DIGEST_HEX_LEN 64 /* hex characters of a SHA-256 */

struct err;

struct sha256 {
	br_sha256_context ctx;
};

void sha256_init(struct sha256 *h);
void sha256_update(struct sha256 *h, const void *p, size_t n);
/* Writes 64 lowercase hex digits and a NUL into hex (65 bytes). */
void sha256_hex(struct sha256 *h, char hex[DIGEST_HEX_LEN + 1]);

/* True when s is exactly 64 lowercase hex digits. */
bool digest_is_hex(const char *s);

/* Accepts "sha256:HEX" (OCI) or a bare HEX (catalogs); writes the bare HEX.
 * Other algorithms or malformed text → EXIT_VERIFY naming `what`. */
int digest_parse(const char *s, const char *what, char hex[DIGEST_HEX_LEN + 1], struct err *e);

/* SHA-256 of a whole file, streamed. */
int sha256_file(const char *path, char hex[DIGEST_HEX_LEN + 1], struct err *e);

#endif
