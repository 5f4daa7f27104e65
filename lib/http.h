/* http.h — HTTP(S) over libcurl (TLS via BearSSL), pull-style streams.
 *
 * Two calls: http_fetch() reads a small response into a bounded buffer
 * (catalogs, manifests, tokens, the Firecracker API); http_stream_*() hands a
 * large body to the caller piece by piece as it arrives, so it can be hashed
 * and unpacked in one pass without ever being buffered whole.
 *
 * Transient failures (connect, reset, timeout, 5xx, 429) are retried with
 * exponential backoff; a server silent for the stall timeout (connecting,
 * in the TLS handshake or mid-body) is retried once at most, and only when
 * it had begun to answer, so a stalled request fails within two stall
 * timeouts ("stalled", or "no TLS answer"); a stream broken mid-body resumes where the reader is
 * (Range request, or skipping what was already delivered when the server
 * ignores Range), so readers never see a retry. Integrity is the caller's
 * job: verify digests of what you read.
 *
 * Trust: certificates from req.ca_file, else $SSL_CERT_FILE, else the system
 * bundle. Plain http:// is refused except to loopback or with allow_http;
 * https never redirects to http; file:// works only when asked for directly,
 * and is read from the file itself (status 200, its size as the length).
 * All calls block; they are not thread-safe with respect to one stream.
 */
#ifndef BANGER_HTTP_H
#define BANGER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct buf;
struct err;

#define HTTP_MAX_HEADERS 8

struct http_req {
	const char *url;
	const char *method;	 /* NULL: GET */
	const char *unix_socket; /* talk HTTP over this AF_UNIX socket (Firecracker) */
	const char *ca_file;	 /* NULL: $SSL_CERT_FILE or the system bundle */
	const char *headers[HTTP_MAX_HEADERS]; /* "Name: value", NULL-terminated */
	const char *body;		       /* request body (PUT/POST), body_len bytes */
	size_t body_len;
	bool allow_http; /* plain http:// to a non-loopback host */
	int retries;	 /* extra attempts on transient failures; <0: none, 0: default 4 */
	long timeout_s;	 /* connect and stall timeout; 0: http_stall_timeout() */
};

struct http_resp {
	long status;
	uint64_t content_length; /* UINT64_MAX when unknown */
	char content_type[128];
	char www_authenticate[1024];
	char digest[128]; /* Docker-Content-Digest */
	char retry_after[32];
};

/* Whole response into body (its ceiling bounds it). Returns 0 for any HTTP
 * status once retries are spent (check resp->status); -1 on transport
 * failure (EXIT_NETWORK), an unsafe URL (EXIT_USAGE) or an oversized body
 * (EXIT_VERIFY). */
int http_fetch(const struct http_req *req, struct buf *body, struct http_resp *resp, struct err *e);

struct http_stream;

/* Starts the transfer and waits for the response headers. A non-2xx status
 * is an error (EXIT_NETWORK or EXIT_NOTFOUND for 404) whose message holds
 * the status and a short excerpt of the body. resp may be NULL. req and the
 * strings it points to must outlive the stream. */
struct http_stream *http_stream_open(const struct http_req *req, struct http_resp *resp,
				     struct err *e);
/* Reads up to n bytes; returns the count, 0 at the end of the body, -1 on
 * error. Blocks until data arrives. */
ssize_t http_stream_read(struct http_stream *s, void *buf, size_t n, struct err *e);
void http_stream_free(struct http_stream *s);

/* "URL: 404 Not Found" plus the server's own message when the body carries
 * one (JSON "message"/"errors[0].message" or short text), and a hint. */
int http_status_error(struct err *e, const char *url, long status, const char *body,
		      const char *hint);

/* True when host (len bytes, no port) is a loopback address: an IPv4
 * literal in 127.0.0.0/8, ::1 (bare or in brackets), or "localhost", which
 * curl resolves to loopback itself, never through DNS (RFC 6761). A name
 * that merely starts with "127." is not: it may resolve anywhere. Never
 * blocks. */
bool http_host_is_loopback(const char *host, size_t len);

/* Seconds of silence that make a stall: $BANGER_STALL_TIMEOUT (1..9999;
 * tests set it low), else HTTP_STALL_S — two stalls of a request stay
 * within the minute a stalled registry may take to fail. */
#define HTTP_STALL_S 20
long http_stall_timeout(void);

/* Milliseconds to wait before retry n (1-based): 250 ms doubling, capped at
 * 8 s, with jitter. Exposed for tests. */
unsigned http_backoff_ms(int attempt);

/* One response header line as curl hands it (n bytes, not NUL-terminated,
 * CRLF included) into r: Content-Type, WWW-Authenticate,
 * Docker-Content-Digest, Retry-After, Content-Length; a status line starts
 * r afresh. false, with the reason in fail, for a header refused (longer
 * than its field or LIMIT_HTTP_HEADER, a Content-Length that is not a
 * number). Exposed for tests. */
bool http_header_take(struct http_resp *r, const char *p, size_t n, char *fail, size_t fsize);

#endif
