/* Unit tests: lib/oci/ref.c — Docker's reference normalisation, case by case. */
#include "harness.h"

#include "err.h"
#include "exitcode.h"
#include "oci/ref.h"

static const char *norm(const char *in)
{
	static char out[600];
	static struct err e;
	struct ref r;

	err_init(&e);
	if (ref_parse(in, &r, &e) < 0 || ref_format(&r, out, sizeof(out), &e) < 0)
		return e.msg;
	return out;
}

static bool bad(const char *in)
{
	struct ref r;
	struct err e;

	err_init(&e);
	return ref_parse(in, &r, &e) == -1 && e.code == EXIT_USAGE && e.msg[0];
}

#define D64 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void docker_hub_short_names(void)
{
	CHECK_STR(norm("debian"), "docker.io/library/debian:latest");
	CHECK_STR(norm("debian:bookworm"), "docker.io/library/debian:bookworm");
	CHECK_STR(norm("library/debian"), "docker.io/library/debian:latest");
	CHECK_STR(norm("user/app:1.0"), "docker.io/user/app:1.0");
	CHECK_STR(norm("docker.io/debian"), "docker.io/library/debian:latest");
	CHECK_STR(norm("index.docker.io/debian"), "docker.io/library/debian:latest");
	CHECK_STR(norm("docker.io/library/debian:bookworm"), "docker.io/library/debian:bookworm");
	/* No slash: "localhost:5000" is a name and a tag, as in Docker. */
	CHECK_STR(norm("localhost:5000"), "docker.io/library/localhost:5000");
	CHECK_STR(norm("a/b/c/d"), "docker.io/a/b/c/d:latest");
}

static void registry_hosts(void)
{
	CHECK_STR(norm("localhost/x"), "localhost/x:latest");
	CHECK_STR(norm("localhost:5000/x/y:t"), "localhost:5000/x/y:t");
	CHECK_STR(norm("quay.io/coreos/etcd"), "quay.io/coreos/etcd:latest");
	CHECK_STR(norm("127.0.0.1:5443/test/img:1"), "127.0.0.1:5443/test/img:1");
	CHECK_STR(norm("[::1]:5000/x"), "[::1]:5000/x:latest");
	CHECK_STR(norm("Example/x"), "Example/x:latest"); /* upper case: a host */
	CHECK_STR(norm("my-host:80/x"), "my-host:80/x:latest");
	CHECK_STR(norm("a.b.c/x"), "a.b.c/x:latest");
}

static void digests(void)
{
	struct ref r;
	struct err e;

	CHECK_STR(norm("host:5000/repo@" D64), "host:5000/repo@" D64);
	CHECK_STR(norm("debian@" D64), "docker.io/library/debian@" D64);
	CHECK_STR(norm("debian:12@" D64), "docker.io/library/debian:12@" D64);
	err_init(&e);
	CHECK(ref_parse("debian:12@" D64, &r, &e) == 0);
	CHECK_STR(ref_object(&r), D64);
	CHECK_STR(r.tag, "12");
	CHECK(ref_parse("debian:12", &r, &e) == 0);
	CHECK_STR(ref_object(&r), "12");
	CHECK(bad("debian@sha256:0123"));
	CHECK(bad(
		"debian@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"));
	CHECK(bad("debian@sha512:0123456789abcdef0123456789abcdef0123456789abcdef"));
	CHECK(bad("debian@"));
	CHECK(bad("debian@nocolon"));
}

static void rejects_what_docker_rejects(void)
{
	CHECK(bad(""));
	CHECK(bad("Debian"));
	CHECK(bad("library/Debian"));
	CHECK(bad("debian:"));
	CHECK(bad("debian:-bad"));
	CHECK(bad("debian:bad/tag"));
	CHECK(bad("a//b"));
	CHECK(bad("a/"));
	CHECK(bad("/a"));
	CHECK(bad("-a"));
	CHECK(bad("a-"));
	CHECK(bad("a..b"));
	CHECK(bad("a___b"));
	CHECK(bad("a.-b"));
	CHECK(bad("host:/x"));
	CHECK(bad("host:x1/x"));
	CHECK(bad("-host.io/x"));
	CHECK(bad("[zz]:5000/x"));
	CHECK(bad("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
	CHECK(!bad("a__b"));
	CHECK(!bad("a---b"));
	CHECK(!bad("a_b.c-d"));
	CHECK(!bad("debian:_x.Y-1"));
	char longtag[200];
	memset(longtag, 'a', sizeof(longtag));
	memcpy(longtag, "x:", 2);
	longtag[2 + 129] = '\0';
	CHECK(bad(longtag));
	longtag[2 + 128] = '\0';
	CHECK(!bad(longtag));
	char longname[300];
	memset(longname, 'a', sizeof(longname));
	longname[299] = '\0';
	CHECK(bad(longname));
}

/* A host of 256..503 bytes once overran r.domain (it was copied before any
 * length check): it must be refused as too long, naming the host. */
static void long_registry_host(void)
{
	char in[520];
	struct ref r;
	struct err e;

	for (size_t len = 250; len + 2 < 2 * LIMIT_REF_NAME - 6; len++) {
		memset(in, 'a', len);
		for (size_t i = 60; i < len; i += 61)
			in[i] = '.'; /* labels of 60: a host by its dots */
		memcpy(in + len, "/x", 3);
		err_init(&e);
		memset(&r, 0x5a, sizeof(r));
		int rc = ref_parse(in, &r, &e);
		if (len + 2 > LIMIT_REF_NAME)
			CHECK(rc == -1 && e.code == EXIT_USAGE);
		if (len > LIMIT_REF_NAME)
			CHECK(strstr(e.msg, "registry host longer"));
		CHECK(memchr(r.domain, '\0', sizeof(r.domain)));
		CHECK(memchr(r.path, '\0', sizeof(r.path)));
	}
}

static void api_host_loopback_and_names(void)
{
	struct ref r;
	struct err e;
	char name[65];

	err_init(&e);
	CHECK(ref_parse("debian:bookworm", &r, &e) == 0);
	CHECK_STR(ref_api_host(&r), "registry-1.docker.io");
	CHECK(!ref_is_loopback(&r));
	ref_default_name(&r, name);
	CHECK_STR(name, "debian-bookworm");
	CHECK(ref_parse("localhost:5443/test/img:1", &r, &e) == 0);
	CHECK_STR(ref_api_host(&r), "localhost:5443");
	CHECK(ref_is_loopback(&r));
	ref_default_name(&r, name);
	CHECK_STR(name, "img-1");
	CHECK(ref_parse("127.0.0.1:5000/a", &r, &e) == 0);
	CHECK(ref_is_loopback(&r));
	CHECK(ref_parse("localhostx.io/a", &r, &e) == 0);
	CHECK(!ref_is_loopback(&r));
	/* Loopback is an address, never a name that looks like one. */
	static const char *const names[] = { "127.evil.example/a",
					     "127.0.0.1.evil.example/a",
					     "127.0.0.1x:5000/a",
					     "127.1/a",
					     "[::2]/a",
					     "localhost.evil.example/a" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		CHECK(ref_parse(names[i], &r, &e) == 0);
		CHECK(!ref_is_loopback(&r));
	}
	static const char *const addrs[] = { "127.0.0.1/a", "127.255.3.4:443/a", "[::1]/a",
					     "[0:0::1]:5000/a", "localhost:1/a" };
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		CHECK(ref_parse(addrs[i], &r, &e) == 0);
		CHECK(ref_is_loopback(&r));
	}
	CHECK(ref_parse("quay.io/x/app@" D64, &r, &e) == 0);
	ref_default_name(&r, name);
	CHECK_STR(name, "app-0123456789ab");
	CHECK(ref_parse("x:_Weird", &r, &e) == 0);
	ref_default_name(&r, name);
	CHECK_STR(name, "x-_Weird");
}

int main(void)
{
	HARNESS_BEGIN("test_ref");
	RUN(docker_hub_short_names);
	RUN(registry_hosts);
	RUN(digests);
	RUN(rejects_what_docker_rejects);
	RUN(long_registry_host);
	RUN(api_host_loopback_and_names);
	HARNESS_END();
}
