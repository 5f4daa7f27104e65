/* base64.h — base64 (RFC 4648 §4) out, and in with its URL-safe alphabet (§5).
 *
 * Decoding accepts both alphabets in one input ('+' and '-', '/' and '_'),
 * with or without '=' padding, so a value fits a kernel command line
 * unquoted. Encoding writes the standard alphabet, padded (HTTP Basic auth,
 * the SSH key on the kernel command line). Never blocks, never allocates.
 */
#ifndef BANGER_BASE64_H
#define BANGER_BASE64_H

#include <stddef.h>

struct err;

/* Decodes len bytes of in into out (size bytes). Sets *outlen. Fails with
 * EXIT_VERIFY on a character outside both alphabets, misplaced padding, a
 * dangling single character, or when the result does not fit in out. */
int base64_decode(const char *in, size_t len, unsigned char *out, size_t size, size_t *outlen,
		  struct err *e);

/* Encodes n bytes of in into out as a NUL-terminated string. Returns 0, or
 * -1 when out (size bytes) cannot hold BASE64_LEN(n) + 1: the caller's
 * buffer is its ceiling and it words the error. */
int base64_encode(const void *in, size_t n, char *out, size_t size);
#define BASE64_LEN(n) (((n) + 2) / 3 * 4)

#endif
