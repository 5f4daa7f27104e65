/* base64.c — see base64.h. */
#include "base64.h"
#include "err.h"
#include "exitcode.h"

static int value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

int base64_decode(const char *in, size_t len, unsigned char *out, size_t size, size_t *outlen,
		  struct err *e)
{
	unsigned acc = 0;
	size_t n = 0, i, pad = 0;
	int bits = 0, chars = 0;

	while (len > 0 && in[len - 1] == '=' && pad < 2) {
		len--;
		pad++;
	}
	for (i = 0; i < len; i++) {
		int v = value((unsigned char)in[i]);

		if (v < 0)
			return err_set(e, EXIT_VERIFY,
				       "base64: invalid character at offset %zu — use the standard "
				       "or URL-safe alphabet",
				       i);
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		chars++;
		if (bits >= 8) {
			bits -= 8;
			if (n >= size)
				return err_set(e, EXIT_VERIFY,
					       "base64: decoded value longer than %zu bytes", size);
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (chars % 4 == 1)
		return err_set(e, EXIT_VERIFY, "base64: truncated input (%zu characters)", len);
	if (pad && (chars + pad) % 4)
		return err_set(e, EXIT_VERIFY, "base64: misplaced '=' padding");
	*outlen = n;
	return 0;
}

int base64_encode(const void *in, size_t n, char *out, size_t size)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = in;
	size_t o = 0;

	if (BASE64_LEN(n) + 1 > size)
		return -1;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);

		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = '\0';
	return 0;
}
