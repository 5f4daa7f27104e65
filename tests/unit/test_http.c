/* Unit tests: lib/http.c against a real loopback HTTP server run by the test:
 * bodies, status errors with the server's message, retries on 503, resume
 * after a connection dropped mid-body (with and without Range support),
 * ceilings, and URL safety rules. TLS is covered by the applet tests. */
#include "harness.h"
#include "../fuzz/guard.h"

#include "buf.h"
#include "err.h"
#include "exitcode.h"
#include "http.h"
#include "limits.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define BODY_LEN 200000

static char body[BODY_LEN];

/* One scripted answer per accepted connection. */
enum answer { OK, NOT_FOUND_JSON, UNAVAILABLE, DROP_HALF, RANGE_OK, RANGE_IGNORED };

struct server {
	pid_t pid;
	int port;
};

static void write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w <= 0)
			return;
		c += w;
		n -= (size_t)w;
	}
}

static void serve_one(int c, enum answer a)
{
	char req[4096], hdr[256];
	ssize_t n = read(c, req, sizeof(req) - 1);
	unsigned long long from = 0;
	const char *range;

	if (n <= 0)
		return;
	req[n] = '\0';
	range = strstr(req, "Range: bytes=");
	if (range)
		from = strtoull(range + 13, NULL, 10);
	switch (a) {
	case OK:
	case RANGE_IGNORED:
		snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n",
			 BODY_LEN);
		write_all(c, hdr, strlen(hdr));
		write_all(c, body, BODY_LEN);
		break;
	case NOT_FOUND_JSON: {
		const char *j =
			"{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest "
			"unknown\"}]}";
		snprintf(hdr, sizeof(hdr), "HTTP/1.1 404 Not Found\r\nContent-Length: %zu\r\n\r\n",
			 strlen(j));
		write_all(c, hdr, strlen(hdr));
		write_all(c, j, strlen(j));
		break;
	}
	case UNAVAILABLE:
		snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 503 Busy\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n");
		write_all(c, hdr, strlen(hdr));
		break;
	case DROP_HALF:
		snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n",
			 BODY_LEN);
		write_all(c, hdr, strlen(hdr));
		write_all(c, body, BODY_LEN / 2);
		break;
	case RANGE_OK:
		snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 206 Partial Content\r\nContent-Length: %llu\r\n\r\n",
			 (unsigned long long)BODY_LEN - from);
		write_all(c, hdr, strlen(hdr));
		write_all(c, body + from, BODY_LEN - from);
		break;
	}
}

static struct server serve(const enum answer *script, int count)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	struct server s;
	int l = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 8) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &len) < 0) {
		perror("test server");
		exit(2);
	}
	s.port = ntohs(a.sin_port);
	s.pid = fork();
	if (s.pid == 0) {
		for (int i = 0; i < count; i++) {
			int c = accept(l, NULL, NULL);

			if (c < 0)
				_exit(1);
			serve_one(c, script[i]);
			close(c);
		}
		_exit(0);
	}
	close(l);
	return s;
}

/* Stops the server; with all_used, waits for it to finish its script. */
static int finish_(struct server s, bool all_used)
{
	int st = 0;

	if (!all_used)
		kill(s.pid, SIGTERM);
	waitpid(s.pid, &st, 0);
	return st;
}

#define finish(s) finish_((s), false)

static void url_of(char *url, size_t n, struct server s, const char *path)
{
	snprintf(url, n, "http://127.0.0.1:%d%s", s.port, path);
}

static void fetch_small_and_ceiling(void)
{
	enum answer script[] = { OK, OK };
	struct server s = serve(script, 2);
	struct http_req req = { 0 };
	struct http_resp resp;
	struct buf b;
	struct err e;
	char url[128];

	url_of(url, sizeof(url), s, "/blob");
	req.url = url;
	buf_init(&b, BODY_LEN, "blob");
	CHECK(http_fetch(&req, &b, &resp, &e) == 0);
	CHECK(resp.status == 200 && b.len == BODY_LEN && !memcmp(b.data, body, BODY_LEN));
	buf_fini(&b);
	buf_init(&b, 1000, "catalog");
	err_init(&e);
	CHECK(http_fetch(&req, &b, &resp, &e) == -1);
	CHECK(e.code == EXIT_VERIFY && strstr(e.msg, "catalog"));
	buf_fini(&b);
	finish(s);
}

static void status_error_carries_server_message(void)
{
	enum answer script[] = { NOT_FOUND_JSON, NOT_FOUND_JSON };
	struct server s = serve(script, 2);
	struct http_req req = { 0 };
	struct http_resp resp;
	struct buf b;
	struct err e;
	char url[128];

	url_of(url, sizeof(url), s, "/v2/nope/manifests/1");
	req.url = url;
	err_init(&e);
	CHECK(http_stream_open(&req, &resp, &e) == NULL);
	CHECK(e.code == EXIT_NOTFOUND);
	CHECK(strstr(e.msg, "/v2/nope/manifests/1: manifest unknown (404) — check the name"));
	/* http_fetch returns the status and body for the caller to judge. */
	buf_init(&b, 4096, "x");
	CHECK(http_fetch(&req, &b, &resp, &e) == 0);
	CHECK(resp.status == 404 && strstr(b.data, "MANIFEST_UNKNOWN"));
	buf_fini(&b);
	finish(s);
}

static void retries_transient_status(void)
{
	enum answer script[] = { UNAVAILABLE, UNAVAILABLE, OK };
	struct server s = serve(script, 3);
	struct http_req req = { 0 };
	struct buf b;
	struct err e;
	char url[128];

	url_of(url, sizeof(url), s, "/x");
	req.url = url;
	buf_init(&b, BODY_LEN, "x");
	CHECK(http_fetch(&req, &b, NULL, &e) == 0);
	CHECK(b.len == BODY_LEN);
	buf_fini(&b);
	CHECK(finish_(s, true) == 0); /* all three answers were used */
}

/* Reads a whole stream in odd-sized pieces and compares with body. */
static bool read_all_matches(struct http_req *req, struct err *e)
{
	struct http_stream *st = http_stream_open(req, NULL, e);
	static char got[BODY_LEN + 1];
	size_t n = 0;
	ssize_t r;

	if (!st)
		return false;
	while ((r = http_stream_read(st, got + n, n + 777 <= BODY_LEN ? 777 : 1 + BODY_LEN - n,
				     e)) > 0)
		n += (size_t)r;
	http_stream_free(st);
	return r == 0 && n == BODY_LEN && !memcmp(got, body, BODY_LEN);
}

static void stream_resumes_with_range(void)
{
	enum answer script[] = { DROP_HALF, RANGE_OK };
	struct server s = serve(script, 2);
	struct http_req req = { 0 };
	struct err e;
	char url[128];

	url_of(url, sizeof(url), s, "/big");
	req.url = url;
	err_init(&e);
	CHECK(read_all_matches(&req, &e));
	CHECK(e.code == 0);
	finish(s);
}

static void stream_resumes_when_range_ignored(void)
{
	enum answer script[] = { DROP_HALF, RANGE_IGNORED };
	struct server s = serve(script, 2);
	struct http_req req = { 0 };
	struct err e;
	char url[128];

	url_of(url, sizeof(url), s, "/big");
	req.url = url;
	err_init(&e);
	CHECK(read_all_matches(&req, &e));
	finish(s);
}

static void broken_stream_fails_when_retries_spent(void)
{
	enum answer script[] = { DROP_HALF };
	struct server s = serve(script, 1);
	struct http_req req = { 0 };
	struct err e;
	char url[128];

	url_of(url, sizeof(url), s, "/big");
	req.url = url;
	req.retries = -1;
	err_init(&e);
	CHECK(!read_all_matches(&req, &e));
	CHECK(e.code == EXIT_NETWORK);
	finish(s);
}

static void url_rules(void)
{
	struct http_req req = { 0 };
	struct buf b;
	struct err e;

	buf_init(&b, 100, "x");
	req.url = "http://registry.example.test/v2/";
	err_init(&e);
	CHECK(http_fetch(&req, &b, NULL, &e) == -1);
	CHECK(e.code == EXIT_USAGE && strstr(e.msg, "plain HTTP refused"));
	req.url = "ftp://example.test/x";
	CHECK(http_fetch(&req, &b, NULL, &e) == -1);
	CHECK(e.code == EXIT_USAGE && strstr(e.msg, "unsupported URL scheme"));
	req.url = "file:///nonexistent/banger/catalog.json";
	CHECK(http_fetch(&req, &b, NULL, &e) == -1);
	CHECK(e.code == EXIT_NOTFOUND);
	req.url = "http://127.0.0.1:1/"; /* nothing listens on port 1 */
	req.retries = -1;
	CHECK(http_fetch(&req, &b, NULL, &e) == -1);
	CHECK(e.code == EXIT_NETWORK && strstr(e.msg, "check the address"));
	buf_fini(&b);
}

/* Each line ends where an unreadable page begins, as curl's header bytes
 * are not NUL-terminated: reading past the line faults. */
static bool take(struct http_resp *r, const char *line, char *fail)
{
	return http_header_take(r, guard_place(line, strlen(line)), strlen(line), fail, 160);
}

static void header_lines(void)
{
	struct http_resp r;
	char fail[160];

	memset(&r, 0, sizeof(r));
	CHECK(take(&r, "HTTP/1.1 200 OK\r\n", fail) && r.content_length == UINT64_MAX);
	CHECK(take(&r, "Content-Length: 1234\r\n", fail) && r.content_length == 1234);
	CHECK(take(&r, "content-length:7", fail) && r.content_length == 7);
	CHECK(take(&r, "Content-Length:\t 18446744073709551615 \r\n", fail) &&
	      r.content_length == UINT64_MAX);
	CHECK(take(&r, "Docker-Content-Digest: sha256:ab\r\n", fail));
	CHECK_STR(r.digest, "sha256:ab");
	CHECK(take(&r, "WWW-Authenticate: Bearer realm=\"x\"\r\n", fail));
	CHECK_STR(r.www_authenticate, "Bearer realm=\"x\"");
	CHECK(take(&r, "X-Other: whatever", fail));
	/* Refused, not read as a number: the fields must not guess. */
	static const char *const bad[] = {
		"Content-Length:",
		"Content-Length: ",
		"Content-Length:\r\n",
		"Content-Length: -5\r\n",
		"Content-Length: +5\r\n",
		"Content-Length: 5x\r\n",
		"Content-Length: 5 6\r\n",
		"Content-Length: 18446744073709551616\r\n",
		"Content-Length: 99999999999999999999999999\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fail[0] = '\0';
		CHECK(!take(&r, bad[i], fail));
		CHECK(strstr(fail, "Content-Length"));
	}
}

static void backoff_grows_and_caps(void)
{
	CHECK(http_backoff_ms(1) >= 187 && http_backoff_ms(1) <= 375);
	CHECK(http_backoff_ms(3) >= 750 && http_backoff_ms(3) <= 1500);
	CHECK(http_backoff_ms(30) <= 12000);
}

int main(void)
{
	for (int i = 0; i < BODY_LEN; i++)
		body[i] = (char)(i * 7 + i / 251);
	signal(SIGPIPE, SIG_IGN);
	HARNESS_BEGIN("http");
	RUN(fetch_small_and_ceiling);
	RUN(status_error_carries_server_message);
	RUN(retries_transient_status);
	RUN(stream_resumes_with_range);
	RUN(stream_resumes_when_range_ignored);
	RUN(broken_stream_fails_when_retries_spent);
	RUN(url_rules);
	RUN(header_lines);
	RUN(backoff_grows_and_caps);
	HARNESS_END();
}
