/* base64.h — decoding base64 (RFC 4648 §4) and its URL-safe alphabet (§5).
 *
 * Both alphabets are accepted in one input ('+' and '-', '/' and '_'), with
 * or without '=' padding, so a value fits a kernel command line unquoted.
 * Never blocks, never allocates.
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

#endif
