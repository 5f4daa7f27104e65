/* fuzz-http-header — every response header lib/http.c takes (status line,
 * Content-Type, Content-Length, WWW-Authenticate, Docker-Content-Digest,
 * Retry-After) and the WWW-Authenticate challenge lib/oci/registry.c then
 * parses. The input is split into lines as curl would hand them over, each
 * placed against an unreadable page (curl's header bytes are not
 * NUL-terminated: an over-read faults). Invariants: fields stay terminated
 * within their arrays; an accepted Content-Length is the decimal number the
 * line holds; a refused line says why; a parsed challenge's parts are
 * terminated and the scheme is a non-empty token. */
#include "fuzz.h"

#include "err.h"
#include "http.h"
#include "limits.h"
#include "oci/registry.h"

#include <ctype.h>
#include <strings.h>

/* The reference reading of a Content-Length value: digits, then blanks. */
static bool length_of(const char *v, size_t n, uint64_t *out)
{
	size_t i = 0, digits = 0;
	uint64_t x = 0;

	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	for (; i < n && isdigit((unsigned char)v[i]); i++, digits++) {
		if (x > UINT64_MAX / 10 || x * 10 > UINT64_MAX - (uint64_t)(v[i] - '0'))
			return false;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	for (; i < n; i++)
		if (!strchr(" \t\r\n", v[i]) || !v[i])
			return false;
	*out = x;
	return digits > 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_resp r;
	char fail[160];
	size_t i = 0;

	memset(&r, 0, sizeof(r));
	r.content_length = UINT64_MAX;
	while (i < size) {
		const uint8_t *nl = memchr(data + i, '\n', size - i);
		size_t n = nl ? (size_t)(nl - (data + i)) + 1 : size - i;
		const char *line = guard_place(data + i, n);
		bool ok;

		fail[0] = '\0';
		ok = http_header_take(&r, line, n, fail, sizeof(fail));
		FUZZ_CHECK(ok || fail[0]);
		FUZZ_CHECK(FUZZ_TERMINATED(r.content_type) && FUZZ_TERMINATED(r.www_authenticate));
		FUZZ_CHECK(FUZZ_TERMINATED(r.digest) && FUZZ_TERMINATED(r.retry_after));
		if (n > 15 && !strncasecmp(line, "content-length:", 15)) {
			uint64_t want;
			bool valid = length_of(line + 15, n - 15, &want);

			FUZZ_CHECK(ok == (valid && n <= LIMIT_HTTP_HEADER));
			if (ok)
				FUZZ_CHECK(r.content_length == want);
		}
		i += n;
		if (!ok)
			break;
	}
	if (r.www_authenticate[0]) {
		size_t n = strlen(r.www_authenticate) + 1;
		const char *hdr = guard_place(r.www_authenticate, n);
		struct auth_challenge c;
		struct err e;

		err_init(&e);
		if (registry_parse_challenge(hdr, &c, &e) == 0) {
			FUZZ_CHECK(c.scheme[0] && !strchr(c.scheme, ' '));
			FUZZ_CHECK(FUZZ_TERMINATED(c.scheme) && FUZZ_TERMINATED(c.realm));
			FUZZ_CHECK(FUZZ_TERMINATED(c.service) && FUZZ_TERMINATED(c.scope));
		} else {
			FUZZ_CHECK(e.msg[0]);
		}
	}
	return 0;
}
