/* Unit tests: lib/oci/registry.c parsers — challenges, credentials, indexes,
 * manifests (the network side is tested against a real registry in
 * tests/image-pull.test). */
#include "harness.h"

#include "err.h"
#include "exitcode.h"
#include "oci/registry.h"

#include <stdlib.h>

static void challenges(void)
{
	struct auth_challenge c;
	struct err e;

	err_init(&e);
	CHECK(registry_parse_challenge("Bearer realm=\"https://auth.docker.io/token\","
				       "service=\"registry.docker.io\",scope=\"repository:library/"
				       "debian:pull\"",
				       &c, &e) == 0);
	CHECK_STR(c.scheme, "Bearer");
	CHECK_STR(c.realm, "https://auth.docker.io/token");
	CHECK_STR(c.service, "registry.docker.io");
	CHECK_STR(c.scope, "repository:library/debian:pull");
	CHECK(registry_parse_challenge("Basic realm=\"banger test\"", &c, &e) == 0);
	CHECK_STR(c.scheme, "Basic");
	CHECK_STR(c.realm, "banger test");
	CHECK_STR(c.service, "");
	CHECK(registry_parse_challenge("Bearer realm=unquoted, service=s", &c, &e) == 0);
	CHECK_STR(c.realm, "unquoted");
	CHECK_STR(c.service, "s");
	CHECK(registry_parse_challenge("Bearer realm=\"esc\\\"aped\"", &c, &e) == 0);
	CHECK_STR(c.realm, "esc\"aped");
	CHECK(registry_parse_challenge("Bearer realm=\"open", &c, &e) == -1);
	CHECK(registry_parse_challenge("Bearer junk", &c, &e) == -1);
	CHECK(registry_parse_challenge("", &c, &e) == -1);
}

static void credentials(void)
{
	/* "user:pa:ss" in base64, a colon in the password is allowed */
	const char *doc = "{\"auths\":{"
			  "\"https://index.docker.io/v1/\":{\"auth\":\"aHViOmh1YnBhc3M=\"},"
			  "\"localhost:5000\":{\"auth\":\"dXNlcjpwYTpzcw==\"},"
			  "\"quay.io\":{\"username\":\"q\",\"password\":\"p\"},"
			  "\"bad.io\":{\"auth\":\"!!!\"}}}";
	char u[64], p[64];
	struct err e;

	err_init(&e);
	CHECK(registry_creds_from_json(doc, "localhost:5000", "t", u, sizeof(u), p, sizeof(p),
				       &e) == 1);
	CHECK_STR(u, "user");
	CHECK_STR(p, "pa:ss");
	CHECK(registry_creds_from_json(doc, "docker.io", "t", u, sizeof(u), p, sizeof(p), &e) == 1);
	CHECK_STR(u, "hub");
	CHECK_STR(p, "hubpass");
	CHECK(registry_creds_from_json(doc, "quay.io", "t", u, sizeof(u), p, sizeof(p), &e) == 1);
	CHECK_STR(u, "q");
	CHECK(registry_creds_from_json(doc, "localhost:5001", "t", u, sizeof(u), p, sizeof(p),
				       &e) == 0);
	CHECK(registry_creds_from_json(doc, "localhost", "t", u, sizeof(u), p, sizeof(p), &e) == 0);
	CHECK(registry_creds_from_json(doc, "bad.io", "t", u, sizeof(u), p, sizeof(p), &e) == -1);
	CHECK(e.code == EXIT_USAGE);
	CHECK(registry_creds_from_json("{nope", "x", "t", u, sizeof(u), p, sizeof(p), &e) == -1);
	CHECK(registry_creds_from_json("{}", "x", "t", u, sizeof(u), p, sizeof(p), &e) == 0);
}

#define DA "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DB "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DC "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static void platform_selection(void)
{
	const char *idx =
		"{\"manifests\":["
		"{\"digest\":\"" DA "\",\"size\":10,\"platform\":{\"os\":\"linux\","
		"\"architecture\":\"arm\",\"variant\":\"v7\"}},"
		"{\"digest\":\"" DB "\",\"size\":11,\"platform\":{\"os\":\"linux\","
		"\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
		"{\"digest\":\"" DC "\",\"size\":12,\"platform\":{\"os\":\"unknown\","
		"\"architecture\":\"unknown\"}},"
		"{\"digest\":\"" DC "\",\"size\":13,\"mediaType\":\"application/"
		"vnd.oci.image.manifest.v1+json\",\"platform\":{\"os\":\"linux\",\"architecture\":"
		"\"amd64\"}}]}";
	struct oci_desc d;
	struct err e;

	err_init(&e);
	CHECK(oci_index_select(idx, "linux/amd64", &d, &e) == 0);
	CHECK_STR(d.digest, DC);
	CHECK(d.size == 13);
	CHECK(oci_index_select(idx, "linux/arm64", &d, &e) == 0);
	CHECK_STR(d.digest, DB);
	CHECK(oci_index_select(idx, "linux/arm/v7", &d, &e) == 0);
	CHECK_STR(d.digest, DA);
	CHECK(oci_index_select(idx, "linux/riscv64", &d, &e) == -1);
	CHECK(e.code == EXIT_NOTFOUND);
	CHECK(strstr(e.msg, "available: linux/arm/v7, linux/arm64/v8, linux/amd64") != NULL);
	CHECK(oci_index_select("{\"manifests\":[{\"digest\":\"md5:x\",\"size\":1,\"platform\":{"
			       "\"os\":\"linux\",\"architecture\":\"amd64\"}}]}",
			       "linux/amd64", &d, &e) == -1);
	CHECK(e.code == EXIT_VERIFY);
}

static void manifests(void)
{
	const char *ok =
		"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/"
		"vnd.oci.image.config.v1+json\",\"digest\":\"" DA "\",\"size\":5},"
		"\"layers\":[{\"mediaType\":\"application/"
		"vnd.docker.image.rootfs.diff.tar.gzip\",\"digest\":\"" DB "\",\"size\":7},"
		"{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\","
		"\"digest\":\"" DC "\",\"size\":9}]}";
	const char *weird =
		"{\"config\":{\"digest\":\"" DA "\",\"size\":5},\"layers\":[{"
		"\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip+encrypted\","
		"\"digest\":\"" DB "\",\"size\":7}]}";
	struct oci_image img = { 0 };
	struct err e;

	err_init(&e);
	CHECK(oci_manifest_parse(ok, &img, &e) == 0);
	CHECK(img.nlayers == 2);
	CHECK_STR(img.config.digest, DA);
	CHECK_STR(img.layers[1].digest, DC);
	CHECK(img.layers[0].size == 7);
	oci_image_fini(&img);
	CHECK(oci_manifest_parse(weird, &img, &e) == -1);
	CHECK(e.code == EXIT_VERIFY && strstr(e.msg, "not a filesystem layer"));
	oci_image_fini(&img);
	CHECK(oci_manifest_parse("{\"config\":{\"digest\":\"" DA "\",\"size\":5},\"layers\":[]}",
				 &img, &e) == -1);
	oci_image_fini(&img);
	CHECK(oci_manifest_parse("{\"config\":{\"digest\":\"" DA "\",\"size\":-1},\"layers\":[]}",
				 &img, &e) == -1);
	oci_image_fini(&img);
	CHECK(oci_layer_type_ok("application/vnd.oci.image.layer.v1.tar"));
	CHECK(!oci_layer_type_ok("application/vnd.oci.image.config.v1+json"));
}

int main(void)
{
	HARNESS_BEGIN("test_registry");
	RUN(challenges);
	RUN(credentials);
	RUN(platform_selection);
	RUN(manifests);
	HARNESS_END();
}
