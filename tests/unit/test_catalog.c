/* Unit tests: lib/catalog/catalog.c — parsing, validation with ceilings, relative
 * URLs, the built-in catalogs, and rewriting a catalog file sorted. */
#include "harness.h"

#include "catalog/catalog.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "limits.h"

#include <cjson/cJSON.h>

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static int parse(struct catalog *c, const char *json, const char *base, struct err *e)
{
	err_init(e);
	return catalog_parse(c, json, strlen(json), "test.json", base, e);
}

static void parses_entries_sorted(void)
{
	struct catalog c;
	struct err e;
	const struct catalog_entry *k;

	catalog_init(&c);
	CHECK(parse(&c,
		    "{\"version\":1,\"entries\":["
		    "{\"name\":\"zeta\",\"kind\":\"oci\",\"ref\":\"docker.io/library/debian:12\"},"
		    "{\"name\":\"fc-6.1\",\"distro\":\"generic\",\"kernel_version\":\"6.1.141\","
		    "\"url\":\"fc-6.1-x86_64.tar.zst\",\"sha256\":\"" SHA "\",\"size\":123,"
		    "\"extra\":true},"
		    "{\"name\":\"debian-cloud\",\"kind\":\"deb\"}]}",
		    "https://example.org/k/catalog.json", &e) == 0);
	CHECK(c.n == 3);
	CHECK_STR(c.entries[0].name, "debian-cloud");
	CHECK_STR(c.entries[1].name, "fc-6.1");
	CHECK_STR(c.entries[2].name, "zeta");
	k = catalog_find(&c, "fc-6.1", &e);
	CHECK(k && k->kind == CATALOG_BUNDLE && k->size == 123);
	CHECK_STR(k ? k->url : NULL, "https://example.org/k/fc-6.1-x86_64.tar.zst");
	CHECK_STR(k ? k->sha256 : NULL, SHA);
	CHECK_STR(k ? k->arch : NULL, "x86_64");
	CHECK(k && cJSON_IsTrue(cJSON_GetObjectItem(k->raw, "extra")));
	k = catalog_find(&c, "debian-cloud", &e);
	CHECK(k && k->kind == CATALOG_DEB);
	CHECK_STR(k ? k->mirror : NULL, "https://deb.debian.org/debian");
	CHECK_STR(k ? k->package : NULL, "linux-image-6.1.0-*-cloud-amd64");
	CHECK_STR(k ? k->suite : NULL, "bookworm");
	k = catalog_find(&c, "zeta", &e);
	CHECK(k && k->kind == CATALOG_OCI && !strcmp(k->ref, "docker.io/library/debian:12"));
	CHECK(catalog_find(&c, "nope", &e) == NULL && e.code == EXIT_NOTFOUND);
	CHECK(strstr(e.msg, "nope") != NULL);
	catalog_fini(&c);
}

static void relative_urls(void)
{
	char out[LIMIT_URL];
	struct err e;

	err_init(&e);
	CHECK(catalog_resolve_url("https://h:8443/a/b/cat.json", "../x.tar.zst", out, sizeof(out),
				  &e) == 0);
	CHECK_STR(out, "https://h:8443/a/x.tar.zst");
	CHECK(catalog_resolve_url("/srv/k/cat.json", "x.tar.zst", out, sizeof(out), &e) == 0);
	CHECK_STR(out, "file:///srv/k/x.tar.zst");
	CHECK(catalog_resolve_url("/srv/k/cat.json", "https://o/y", out, sizeof(out), &e) == 0);
	CHECK_STR(out, "https://o/y");
	CHECK(catalog_resolve_url(NULL, "x.tar.zst", out, sizeof(out), &e) < 0);
	CHECK(e.code == EXIT_VERIFY);
	CHECK(catalog_resolve_url(NULL, "ftp://h/x", out, sizeof(out), &e) < 0);
}

static void rejects_bad(void)
{
	static const char *const bad[] = {
		"not json",
		"{\"version\":2,\"entries\":[]}",
		"{\"version\":1}",
		"{\"version\":1,\"entries\":[{\"name\":\"../x\",\"url\":\"https://h/x\","
		"\"sha256\":\"" SHA "\",\"size\":1}]}",
		"{\"version\":1,\"entries\":[{\"name\":\"a\",\"url\":\"https://h/x\","
		"\"sha256\":\"abc\",\"size\":1}]}",
		"{\"version\":1,\"entries\":[{\"name\":\"a\",\"url\":\"https://h/x\","
		"\"sha256\":\"" SHA "\",\"size\":-1}]}",
		"{\"version\":1,\"entries\":[{\"name\":\"a\",\"url\":\"https://h/x\","
		"\"sha256\":\"" SHA "\",\"size\":1.5}]}",
		"{\"version\":1,\"entries\":[{\"name\":\"a\",\"url\":\"https://h/x\","
		"\"sha256\":\"" SHA "\"}]}",
		"{\"version\":1,\"entries\":[{\"name\":\"a\",\"kind\":\"zip\"}]}",
		"{\"version\":1,\"entries\":[{\"name\":\"a\",\"kind\":\"deb\",\"package\":\"x\"}]}",
		"{\"version\":1,\"entries\":[{\"name\":\"a\",\"kind\":\"oci\"}]}",
		"{\"version\":1,\"entries\":[{\"name\":\"a\",\"kind\":\"oci\",\"ref\":\"r\"},"
		"{\"name\":\"a\",\"kind\":\"oci\",\"ref\":\"r\"}]}",
		/* relative URL with no base */
		"{\"version\":1,\"entries\":[{\"name\":\"a\",\"url\":\"x.tar.zst\","
		"\"sha256\":\"" SHA "\",\"size\":1}]}",
	};
	struct catalog c;
	struct err e;

	catalog_init(&c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(&c, bad[i], NULL, &e);

		CHECK(rc < 0 && e.code == EXIT_VERIFY && strstr(e.msg, "test.json"));
		if (rc == 0)
			printf("  accepted: %s\n", bad[i]);
	}
	catalog_fini(&c);
}

static void ceilings(void)
{
	struct catalog c;
	struct err e;
	size_t cap = (LIMIT_CATALOG_ENTRIES + 1) * 48 + 64, len = 0;
	char *doc = malloc(cap), *big;

	len += (size_t)snprintf(doc + len, cap - len, "{\"version\":1,\"entries\":[");
	for (int i = 0; i <= LIMIT_CATALOG_ENTRIES; i++)
		len += (size_t)snprintf(doc + len, cap - len,
					"%s{\"name\":\"n%d\",\"kind\":\"oci\",\"ref\":\"r\"}",
					i ? "," : "", i);
	len += (size_t)snprintf(doc + len, cap - len, "]}");
	catalog_init(&c);
	CHECK(parse(&c, doc, NULL, &e) < 0 && strstr(e.msg, "entries"));
	free(doc);
	big = calloc(1, LIMIT_JSON_DOC + 2);
	memset(big, ' ', LIMIT_JSON_DOC + 1);
	err_init(&e);
	CHECK(catalog_parse(&c, big, LIMIT_JSON_DOC + 1, "big", NULL, &e) < 0);
	CHECK(e.code == EXIT_VERIFY);
	free(big);
	catalog_fini(&c);
}

static void builtin(void)
{
	struct catalog c;
	struct err e;
	const struct catalog_entry *k;

	err_init(&e);
	unsetenv("BANGER_KERNEL_CATALOG");
	unsetenv("BANGER_IMAGE_CATALOG");
	CHECK(catalog_load(&c, CATALOG_KERNELS, NULL, &e) == 0);
	k = catalog_find(&c, "debian-cloud", &e);
	CHECK(k && k->kind == CATALOG_DEB);
	catalog_fini(&c);
	CHECK(catalog_load(&c, CATALOG_IMAGES, NULL, &e) == 0);
	catalog_fini(&c);
}

static void upsert_sorted(void)
{
	const char *dir = harness_tmpdir();
	char path[512], *text;
	struct catalog_entry ent = {
		.name = "m", .arch = "x86_64", .url = "m-x86_64.tar.zst", .size = 7
	};
	struct catalog c;
	struct err e;
	size_t len;

	snprintf(path, sizeof(path), "%s/cat.json", dir);
	memcpy(ent.sha256, SHA, sizeof(ent.sha256));
	err_init(&e);
	CHECK(catalog_file_upsert(path, &ent, &e) == 0);
	ent.name = "b";
	CHECK(catalog_file_upsert(path, &ent, &e) == 0);
	ent.name = "m";
	ent.size = 9;
	ent.kernel_version = "6.1.1";
	CHECK(catalog_file_upsert(path, &ent, &e) == 0);
	catalog_init(&c);
	CHECK(catalog_load(&c, CATALOG_KERNELS, path, &e) == 0);
	CHECK(c.n == 2);
	CHECK(c.n == 2 && c.entries[1].size == 9 && !strcmp(c.entries[1].kernel_version, "6.1.1"));
	CHECK(c.n == 2 && !strncmp(c.entries[1].url, "file:///", 8));
	catalog_fini(&c);
	/* written sorted: "b" before "m" in the file itself */
	CHECK(file_read_all(path, 1 << 20, &text, &len, &e) == 0);
	CHECK(strstr(text, "\"b\"") < strstr(text, "\"m\""));
	free(text);
	/* a file that is not a catalog is never rewritten */
	CHECK(file_write_atomic(path, "{}", 2, 0644, &e) == 0);
	CHECK(catalog_file_upsert(path, &ent, &e) < 0 && e.code == EXIT_VERIFY);
}

int main(void)
{
	HARNESS_BEGIN("catalog");
	RUN(parses_entries_sorted);
	RUN(relative_urls);
	RUN(rejects_bad);
	RUN(ceilings);
	RUN(builtin);
	RUN(upsert_sorted);
	HARNESS_END();
}
