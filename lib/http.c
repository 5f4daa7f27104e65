/* http.c — see http.h. One curl easy handle per attempt, driven by a multi
 * handle so the reader pulls bytes at its own pace (pausing curl when the
 * reader falls behind). */
#include "http.h"
#include "buf.h"
#include "clock.h"
#include "err.h"
#include "exitcode.h"
#include "limits.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define PENDING_MAX (1024 * 1024) /* bytes curl may get ahead of the reader */

struct http_stream {
	const struct http_req *req;
	struct http_resp *resp;
	struct http_resp own_resp;
	CURLM *multi;
	CURL *easy;
	struct curl_slist *hdrs;
	char errbuf[CURL_ERROR_SIZE];
	bool any_status; /* http_fetch: deliver error bodies as the body */

	/* this attempt */
	bool started;	 /* first body byte of this attempt seen */
	bool got_header; /* any response header line of this attempt seen */
	bool paused;
	bool done;
	CURLcode result;
	uint64_t skip;	    /* server ignored Range: drop this many bytes */
	struct buf errbody; /* body of a non-2xx answer */
	char hdr_fail[160]; /* a header we refused */

	int file_fd; /* file:// is read directly: curl's file:// cannot pause */

	/* across attempts */
	int attempt;
	int stalls;	 /* attempts that ended with the server silent */
	int64_t last_ms; /* when curl last handed us a byte (or pumping began) */
	long stall_s;	 /* how long silent is a stall */
	uint64_t offset; /* delivered to the reader */
	char *pending;
	size_t pend_len, pend_off;
};

unsigned http_backoff_ms(int attempt)
{
	static unsigned seed;
	unsigned ms = 250;

	if (!seed)
		seed = (unsigned)time(NULL) ^ (unsigned)clock();
	for (int i = 1; i < attempt && ms < 8000; i++)
		ms *= 2;
	if (ms > 8000)
		ms = 8000;
	seed = seed * 1103515245u + 12345u;
	return ms - ms / 4 + (seed >> 8) % (ms / 2 + 1); /* ±25% */
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0) {
	}
}

bool http_host_is_loopback(const char *host, size_t len)
{
	char h[INET6_ADDRSTRLEN + 2];
	unsigned char a[16];

	if (len >= sizeof(h))
		return false;
	memcpy(h, host, len);
	h[len] = '\0';
	if (!strcmp(h, "localhost"))
		return true;
	if (inet_pton(AF_INET, h, a) == 1)
		return a[0] == 127;
	if (len > 2 && h[0] == '[' && h[len - 1] == ']') {
		h[len - 1] = '\0';
		return inet_pton(AF_INET6, h + 1, a) == 1 && !memcmp(a, &in6addr_loopback, 16);
	}
	return inet_pton(AF_INET6, h, a) == 1 && !memcmp(a, &in6addr_loopback, 16);
}

/* Refuses URLs that would weaken trust; sets *https. */
static int check_url(const struct http_req *req, bool *https, struct err *e)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int rc = 0;

	*https = false;
	if (!u)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, req->url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		rc = err_set(e, EXIT_USAGE, "%s: not a valid URL", req->url);
		goto out;
	}
	if (!strcmp(scheme, "https")) {
		*https = true;
	} else if (!strcmp(scheme, "http")) {
		if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
			host = NULL;
		if (!req->allow_http && !req->unix_socket &&
		    !(host && http_host_is_loopback(host, strlen(host))))
			rc = err_set(e, EXIT_USAGE,
				     "%s: plain HTTP refused — use https:// (or --insecure if you "
				     "trust the network)",
				     req->url);
	} else if (strcmp(scheme, "file")) {
		rc = err_set(e, EXIT_USAGE, "%s: unsupported URL scheme '%s' — use https://",
			     req->url, scheme);
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

/* Copies "Name: value" header values we care about (bounded). */
/* Copies a header value; false (and nothing copied) when it does not fit:
 * a cut WWW-Authenticate or digest would silently mean something else. */
static bool take_header(char *dst, size_t size, const char *v, size_t len)
{
	while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
		len--;
	if (len >= size)
		return false;
	memcpy(dst, v, len);
	dst[len] = '\0';
	return true;
}

/* strcspn for bytes that are not NUL-terminated. */
static size_t strcspn_n(const char *p, size_t n, const char *reject)
{
	size_t i = 0;

	while (i < n && p[i] && !memchr(reject, p[i], strlen(reject)))
		i++;
	return i;
}

/* The value of Content-Length: decimal digits only, then blanks up to the
 * line's end (v is not NUL-terminated, so strtoull cannot be used); no sign,
 * not empty, no overflow. */
static bool content_length(const char *v, size_t len, uint64_t *out)
{
	uint64_t x = 0;
	size_t i = 0;

	for (; i < len && v[i] >= '0' && v[i] <= '9'; i++) {
		unsigned d = (unsigned)(v[i] - '0');

		if (x > (UINT64_MAX - d) / 10)
			return false;
		x = x * 10 + d;
	}
	if (!i)
		return false;
	for (; i < len; i++)
		if (v[i] != ' ' && v[i] != '\t' && v[i] != '\r' && v[i] != '\n')
			return false;
	*out = x;
	return true;
}

bool http_header_take(struct http_resp *r, const char *p, size_t n, char *fail, size_t fsize)
{
	size_t name_len;
	const char *colon, *v;

	if (n > LIMIT_HTTP_HEADER) {
		snprintf(fail, fsize, "a response header is longer than %d bytes",
			 LIMIT_HTTP_HEADER);
		return false;
	}
	if (n > 5 && !strncmp(p, "HTTP/", 5)) {
		/* A new response (after a redirect or 100): forget the last one. */
		memset(r, 0, sizeof(*r));
		r->content_length = UINT64_MAX;
		return true;
	}
	colon = memchr(p, ':', n);
	if (!colon)
		return true;
	name_len = (size_t)(colon - p);
	v = colon + 1;
	while (v < p + n && (*v == ' ' || *v == '\t'))
		v++;
#define IS(h) (name_len == sizeof(h) - 1 && !strncasecmp(p, h, name_len))
#define TAKE(field) take_header(r->field, sizeof(r->field), v, (size_t)(p + n - v))
	if ((IS("content-type") && !TAKE(content_type)) ||
	    (IS("www-authenticate") && !TAKE(www_authenticate)) ||
	    (IS("docker-content-digest") && !TAKE(digest)) ||
	    (IS("retry-after") && !TAKE(retry_after))) {
		snprintf(fail, fsize, "response header '%.*s' is too long", (int)name_len, p);
		return false;
	}
	if (IS("content-length") && !content_length(v, (size_t)(p + n - v), &r->content_length)) {
		size_t vl = strcspn_n(v, (size_t)(p + n - v), "\r\n");

		snprintf(fail, fsize, "response header 'Content-Length: %.*s' is not a length",
			 (int)(vl < 40 ? vl : 40), v);
		return false;
	}
#undef TAKE
#undef IS
	return true;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	struct http_stream *s = ud;
	size_t n = size * nmemb;

	s->got_header = true;
	s->last_ms = now_ms();
	return http_header_take(s->resp, p, n, s->hdr_fail, sizeof(s->hdr_fail)) ? n : 0;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	struct http_stream *s = ud;
	size_t n = size * nmemb, all = n;
	struct err e; /* the error body is best effort: a failure only shortens it */

	s->last_ms = now_ms();
	err_init(&e);
	if (!s->started) {
		s->started = true;
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->resp->status);
		/* Resumed, but the server sent the whole body again. */
		if (s->offset && s->resp->status == 200)
			s->skip = s->offset;
	}
	/* file:// has no status (0): its body is the body. */
	if (s->resp->status && (s->resp->status < 200 || s->resp->status > 299) && !s->any_status) {
		size_t room = s->errbody.max - s->errbody.len;

		buf_append(&s->errbody, p, n < room ? n : room, &e);
		return all;
	}
	if (s->pend_len - s->pend_off + n > PENDING_MAX) {
		s->paused = true;
		return CURL_WRITEFUNC_PAUSE;
	}
	if (s->skip) {
		size_t k = s->skip < n ? (size_t)s->skip : n;

		s->skip -= k;
		p += k;
		n -= k;
	}
	if (!n)
		return all;
	if (s->pend_off == s->pend_len)
		s->pend_off = s->pend_len = 0;
	memcpy(s->pending + s->pend_len, p, n);
	s->pend_len += n;
	return all;
}

static const char *ca_file(const struct http_req *req)
{
	const char *env = getenv("SSL_CERT_FILE");

	if (req->ca_file)
		return req->ca_file;
	return env && *env ? env : "/etc/ssl/certs/ca-certificates.crt";
}

long http_stall_timeout(void)
{
	const char *v = getenv("BANGER_STALL_TIMEOUT");
	long x = 0;

	if (!v || !*v || strlen(v) > 4 || strspn(v, "0123456789") != strlen(v))
		return HTTP_STALL_S;
	for (; *v; v++)
		x = x * 10 + (*v - '0');
	return x > 0 ? x : HTTP_STALL_S;
}

/* Sets up and starts one attempt from s->offset. */
static int attempt_start(struct http_stream *s, struct err *e)
{
	const struct http_req *req = s->req;
	long timeout = s->stall_s;
	char range[64];
	bool https;
	CURL *c;

	if (check_url(req, &https, e) < 0)
		return -1;
	s->easy = c = curl_easy_init();
	if (!c)
		return err_set(e, EXIT_SYSTEM, "%s: cannot start a transfer", req->url);
	s->hdrs = NULL;
	for (int i = 0; i < HTTP_MAX_HEADERS && req->headers[i]; i++) {
		struct curl_slist *l = curl_slist_append(s->hdrs, req->headers[i]);

		if (!l)
			return err_set(e, EXIT_SYSTEM, "out of memory");
		s->hdrs = l;
	}
	if (s->offset) {
		snprintf(range, sizeof(range), "Range: bytes=%llu-", (unsigned long long)s->offset);
		struct curl_slist *l = curl_slist_append(s->hdrs, range);

		if (!l)
			return err_set(e, EXIT_SYSTEM, "out of memory");
		s->hdrs = l;
	}
	s->errbuf[0] = '\0';
	s->hdr_fail[0] = '\0';
	s->started = s->paused = s->done = s->got_header = false;
	s->skip = 0;
	buf_reset(&s->errbody);
	memset(s->resp, 0, sizeof(*s->resp));
	s->resp->content_length = UINT64_MAX;

	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->errbuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca_file(req));
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "banger");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, s->hdrs);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	if (req->unix_socket)
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, req->unix_socket);
	if (req->method)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
	if (req->body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	}
	if (curl_multi_add_handle(s->multi, c) != CURLM_OK)
		return err_set(e, EXIT_SYSTEM, "%s: cannot start a transfer", req->url);
	return 0;
}

static void attempt_end(struct http_stream *s)
{
	if (s->easy) {
		curl_multi_remove_handle(s->multi, s->easy);
		curl_easy_cleanup(s->easy);
	}
	s->easy = NULL;
	curl_slist_free_all(s->hdrs);
	s->hdrs = NULL;
}

static bool transient_code(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_GOT_NOTHING:
	/* curl's BearSSL backend reports a connection cut mid-body ("SSL: EOF
	 * without close notify") as a read error: a truncation, so resume. */
	case CURLE_READ_ERROR:
		return true;
	default:
		return false;
	}
}

static bool transient_status(long status)
{
	return status == 429 || status == 502 || status == 503 || status == 504 || status == 500;
}

/* Where a transfer that ended without an answer got to: 0 never
 * connected, 1 connected but no TLS handshake (https only), 2 past it.
 * curl counts a connection as made only once TLS is up, so the TLS case
 * is told by the vtls layer's own words (curl's timeout during the
 * handshake; BearSSL's EOF before its end). */
static int reached(struct http_stream *s)
{
	curl_off_t tls = 0;

	if (s->got_header)
		return 2;
	curl_easy_getinfo(s->easy, CURLINFO_APPCONNECT_TIME_T, &tls);
	if (!tls && !strncmp(s->req->url, "https:", 6) &&
	    (strstr(s->errbuf, "SSL connection timeout") || strstr(s->errbuf, "SSL: EOF")))
		return 1;
	if (s->result == CURLE_COULDNT_CONNECT || s->result == CURLE_COULDNT_RESOLVE_HOST ||
	    strstr(s->errbuf, "Connection timed out") || strstr(s->errbuf, "Failed to connect"))
		return 0;
	return 2;
}

/* Message for a finished attempt that failed at the transport level. */
static int transport_error(struct http_stream *s, struct err *e)
{
	int at = reached(s);

	if (at == 1 && s->result == CURLE_OPERATION_TIMEDOUT)
		return err_set(e, EXIT_NETWORK,
			       "%s: connected, but no TLS answer within %ld s — is it a TLS "
			       "server (else plain HTTP needs --insecure)?",
			       s->req->url, s->stall_s);
	if (at == 1)
		return err_set(e, EXIT_NETWORK,
			       "%s: the server closed the connection during the TLS handshake — "
			       "is it a TLS server (else plain HTTP needs --insecure)?",
			       s->req->url);
	if (s->result == CURLE_OPERATION_TIMEDOUT && at == 2)
		return err_set(e, EXIT_NETWORK,
			       "%s: the server stalled: nothing for %ld s after %llu bytes%s — try "
			       "again later (BANGER_STALL_TIMEOUT sets the limit)",
			       s->req->url, s->stall_s, (unsigned long long)s->offset,
			       s->stalls > 1 ? ", twice" : "");
	const char *why = s->hdr_fail[0] ? s->hdr_fail
			  : s->errbuf[0] ? s->errbuf
					 : curl_easy_strerror(s->result);
	const char *hint = "";

	switch (s->result) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CACERT_BADFILE:
		hint = " — is the server's certificate signed by a CA in SSL_CERT_FILE "
		       "(or the system bundle)?";
		break;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
		hint = " — check the address and your network";
		break;
	case CURLE_FILE_COULDNT_READ_FILE:
		return err_set(e, EXIT_NOTFOUND, "%s: %s", s->req->url, why);
	default:
		if (transient_code(s->result) && s->attempt > 1)
			return err_set(e, EXIT_NETWORK,
				       "%s: %s — gave up after %d attempts; try again later",
				       s->req->url, why, s->attempt);
		break;
	}
	return err_set(e, EXIT_NETWORK, "%s: %s%s", s->req->url, why, hint);
}

/* Runs curl until the reader has bytes, or the attempt ends. */
static int pump(struct http_stream *s, struct err *e)
{
	/* Silence is measured from the last byte, or from now if the reader
	 * was busy meanwhile (curl only moves while we pump). */
	if (s->last_ms < now_ms())
		s->last_ms = now_ms();
	while (s->pend_off == s->pend_len && !s->done) {
		int running = 0, left;
		CURLMsg *m;

		if (s->paused) {
			s->paused = false;
			curl_easy_pause(s->easy, CURLPAUSE_CONT);
			continue;
		}
		if (curl_multi_perform(s->multi, &running) != CURLM_OK)
			return err_set(e, EXIT_SYSTEM, "%s: transfer failed", s->req->url);
		while ((m = curl_multi_info_read(s->multi, &left))) {
			if (m->msg == CURLMSG_DONE) {
				s->done = true;
				s->result = m->data.result;
			}
		}
		/* Short: with BearSSL, curl can hold a decrypted record that no
		 * socket event announces, and a long poll then stalls a whole
		 * second (seen on every few registry requests). */
		if (!s->done && s->pend_off == s->pend_len && !s->paused)
			curl_multi_poll(s->multi, NULL, 0, 20, NULL);
		/* A stall: connected (curl's connect timeout covers TCP and TLS)
		 * and nothing since. curl's own low-speed check averages over
		 * seconds more than it was asked for, so it is done here. */
		curl_off_t up = 0;

		if (!s->done &&
		    curl_easy_getinfo(s->easy, CURLINFO_CONNECT_TIME_T, &up) == CURLE_OK &&
		    up > 0 && now_ms() - s->last_ms > s->stall_s * 1000) {
			s->done = true;
			s->result = CURLE_OPERATION_TIMEDOUT;
			snprintf(s->errbuf, sizeof(s->errbuf), "no data for %ld s", s->stall_s);
		}
	}
	return 0;
}

/* After an attempt ended: 0 = body complete, 1 = retried (go on), -1 = error. */
static int settle(struct http_stream *s, struct err *e)
{
	struct http_resp *r = s->resp;
	int max = s->req->retries < 0 ? 0 : s->req->retries ? s->req->retries : 4;
	bool ok_status;
	unsigned wait;

	if (s->result == CURLE_OK && !s->started)
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &r->status);
	ok_status =
		(r->status >= 200 && r->status <= 299) || (r->status == 0 && s->result == CURLE_OK);
	if (s->result == CURLE_OK && (ok_status || s->any_status) && !transient_status(r->status))
		return 0;
	/* Silence is retried once, and only when the server had begun to
	 * answer: a server that never answers, or stalls twice, fails now, so
	 * one stalled request costs at most two stall timeouts. */
	if (s->result == CURLE_OPERATION_TIMEDOUT && reached(s) > 0)
		s->stalls++;
	bool stall_over = s->stalls > 1 ||
			  (s->result == CURLE_OPERATION_TIMEDOUT && s->stalls && !s->got_header);
	if (s->attempt > max || stall_over || (s->result != CURLE_OK && reached(s) == 1) ||
	    !(s->result == CURLE_OK ? transient_status(r->status) : transient_code(s->result))) {
		if (s->result != CURLE_OK)
			return transport_error(s, e);
		if (s->any_status)
			return 0;
		return http_status_error(e, s->req->url, r->status, s->errbody.data, NULL);
	}
	wait = http_backoff_ms(s->attempt);
	if (r->status == 429 || r->status == 503) {
		long ra = strtol(r->retry_after, NULL, 10);

		if (ra > 0 && ra <= 30)
			wait = (unsigned)ra * 1000;
	}
	attempt_end(s);
	sleep_ms(wait);
	s->attempt++;
	if (attempt_start(s, e) < 0)
		return -1;
	return 1;
}

/* file:// URLs: the file itself, read by http_stream_read (status 200,
 * its size as Content-Length). */
static int open_file_url(struct http_stream *s, struct err *e)
{
	CURLU *u = curl_url();
	char *path = NULL;
	struct stat st;
	int rc = 0;

	if (!u || curl_url_set(u, CURLUPART_URL, s->req->url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) != CURLUE_OK) {
		rc = err_set(e, EXIT_USAGE, "%s: not a valid file:// URL", s->req->url);
	} else if ((s->file_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = err_errno(e, 0, "%s: cannot open", s->req->url);
	} else {
		memset(s->resp, 0, sizeof(*s->resp));
		s->resp->status = 200;
		s->resp->content_length =
			fstat(s->file_fd, &st) == 0 ? (uint64_t)st.st_size : UINT64_MAX;
	}
	curl_free(path);
	curl_url_cleanup(u);
	return rc;
}

static struct http_stream *stream_open(const struct http_req *req, struct http_resp *resp,
				       bool any_status, struct err *e)
{
	struct http_stream *s = calloc(1, sizeof(*s));

	if (!s) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		return NULL;
	}
	s->req = req;
	s->resp = resp ? resp : &s->own_resp;
	s->any_status = any_status;
	s->attempt = 1;
	s->file_fd = -1;
	s->stall_s = req->timeout_s > 0 ? req->timeout_s : http_stall_timeout();
	if (!strncmp(req->url, "file://", 7)) {
		if (open_file_url(s, e) == 0)
			return s;
		free(s);
		return NULL;
	}
	buf_init(&s->errbody, LIMIT_HTTP_ERROR_BODY, "error body");
	s->pending = malloc(PENDING_MAX);
	s->multi = curl_multi_init();
	if (!s->pending || !s->multi) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		goto fail;
	}
	if (attempt_start(s, e) < 0)
		goto fail;
	/* Until the headers are in and the status is known to be good. */
	for (;;) {
		int r;

		if (pump(s, e) < 0)
			goto fail;
		if (s->pend_off < s->pend_len)
			return s;
		r = settle(s, e);
		if (r < 0)
			goto fail;
		if (r == 0)
			return s;
	}
fail:
	http_stream_free(s);
	return NULL;
}

struct http_stream *http_stream_open(const struct http_req *req, struct http_resp *resp,
				     struct err *e)
{
	return stream_open(req, resp, false, e);
}

ssize_t http_stream_read(struct http_stream *s, void *buf, size_t n, struct err *e)
{
	size_t k;

	if (s->file_fd >= 0) {
		ssize_t r;

		while ((r = read(s->file_fd, buf, n)) < 0 && errno == EINTR) {
		}
		if (r < 0)
			return err_errno(e, 0, "%s: read", s->req->url);
		s->offset += (uint64_t)r;
		return r;
	}
	for (;;) {
		if (pump(s, e) < 0)
			return -1;
		if (s->pend_off < s->pend_len)
			break;
		/* Attempt over with nothing pending: done, retry, or fail. */
		int r = settle(s, e);

		if (r < 0)
			return -1;
		if (r == 0) {
			uint64_t want = s->resp->content_length;

			if (want != UINT64_MAX && s->offset < want && !s->any_status)
				return err_set(e, EXIT_NETWORK,
					       "%s: body ended after %llu of %llu bytes",
					       s->req->url, (unsigned long long)s->offset,
					       (unsigned long long)want);
			return 0;
		}
	}
	k = s->pend_len - s->pend_off;
	if (k > n)
		k = n;
	memcpy(buf, s->pending + s->pend_off, k);
	s->pend_off += k;
	s->offset += k;
	return (ssize_t)k;
}

void http_stream_free(struct http_stream *s)
{
	if (!s)
		return;
	if (s->file_fd >= 0)
		close(s->file_fd);
	attempt_end(s);
	if (s->multi)
		curl_multi_cleanup(s->multi);
	buf_fini(&s->errbody);
	free(s->pending);
	free(s);
}

int http_fetch(const struct http_req *req, struct buf *body, struct http_resp *resp, struct err *e)
{
	struct http_resp own;
	struct http_stream *s = stream_open(req, resp ? resp : &own, true, e);
	char chunk[16384];
	ssize_t n;

	if (!s)
		return -1;
	buf_reset(body);
	while ((n = http_stream_read(s, chunk, sizeof(chunk), e)) > 0) {
		if (buf_append(body, chunk, (size_t)n, e) < 0) {
			err_prefix(e, "%s", req->url);
			n = -1;
			break;
		}
	}
	http_stream_free(s);
	return n < 0 ? -1 : 0;
}

static const char *reason(long status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 416:
		return "Range Not Satisfiable";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "HTTP error";
	}
}

/* The server's own words: JSON {"message"}, {"fault_message"},
 * {"errors":[{"message"}]}, or a short single line of text. */
static void server_message(const char *body, char *out, size_t size)
{
	cJSON *j, *m = NULL;

	out[0] = '\0';
	if (!body || !*body)
		return;
	j = cJSON_Parse(body);
	if (j) {
		cJSON *errs = cJSON_GetObjectItemCaseSensitive(j, "errors");

		m = cJSON_GetObjectItemCaseSensitive(j, "message");
		if (!cJSON_IsString(m))
			m = cJSON_GetObjectItemCaseSensitive(j, "fault_message");
		if (!cJSON_IsString(m) && cJSON_IsArray(errs))
			m = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(errs, 0),
							     "message");
		if (cJSON_IsString(m))
			snprintf(out, size, "%s", m->valuestring);
		cJSON_Delete(j);
		return;
	}
	size_t len = strcspn(body, "\r\n");

	if (len && len < 200 && body[0] != '<')
		snprintf(out, size, "%.*s", (int)len, body);
}

int http_status_error(struct err *e, const char *url, long status, const char *body,
		      const char *hint)
{
	char msg[256];
	int code = status == 404 ? EXIT_NOTFOUND : EXIT_NETWORK;

	server_message(body, msg, sizeof(msg));
	if (!hint)
		hint = status == 404			? "check the name"
		       : status == 401 || status == 403 ? "check your credentials"
		       : status == 429			? "rate limited — try again later"
		       : status >= 500			? "the server failed — try again later"
							: NULL;
	return err_set(e, code, "%s: %s (%ld)%s%s", url, msg[0] ? msg : reason(status), status,
		       hint ? " — " : "", hint ? hint : "");
}
