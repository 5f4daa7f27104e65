/* fuzz-catalog — lib/catalog/catalog.c, a catalog document (resolved
 * against an https base). Invariants: entries are sorted by name, unique and
 * each found again by catalog_find; names are simple names; bundle entries
 * have an absolute URL and a 64-hex digest; every string field is within
 * LIMIT_CATALOG_FIELD or LIMIT_URL; a refusal says why. */
#include "fuzz.h"

#include "catalog/catalog.h"
#include "err.h"
#include "limits.h"
#include "path.h"

static void field_ok(const char *s, size_t max)
{
	FUZZ_CHECK(s && strlen(s) <= max);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct catalog c;
	struct err e;
	int rc;

	if (!size)
		return 0;
	catalog_init(&c);
	err_init(&e);
	/* Placed against a guard page: the length, not a NUL, ends it. */
	rc = catalog_parse(&c, guard_place(data, size), size, "fuzz catalog",
			   data[0] & 1 ? "https://catalog.example.test/dir/kernels.json"
				       : "/srv/catalog/images.json",
			   &e);
	if (rc < 0) {
		FUZZ_CHECK(e.msg[0] && e.code);
		catalog_fini(&c);
		return 0;
	}
	for (size_t i = 0; i < c.n; i++) {
		const struct catalog_entry *x = &c.entries[i];

		FUZZ_CHECK(path_is_simple_name(x->name));
		if (i)
			FUZZ_CHECK(strcmp(c.entries[i - 1].name, x->name) < 0);
		err_init(&e);
		FUZZ_CHECK(catalog_find(&c, x->name, &e) == x);
		field_ok(x->distro, LIMIT_CATALOG_FIELD);
		field_ok(x->arch, LIMIT_CATALOG_FIELD);
		field_ok(x->kernel_version, LIMIT_CATALOG_FIELD);
		field_ok(x->description, LIMIT_CATALOG_FIELD);
		switch (x->kind) {
		case CATALOG_BUNDLE:
			field_ok(x->url, LIMIT_URL);
			FUZZ_CHECK(strstr(x->url, "://"));
			FUZZ_CHECK(strlen(x->sha256) == DIGEST_HEX_LEN);
			break;
		case CATALOG_DEB:
			field_ok(x->mirror, LIMIT_URL);
			field_ok(x->package, LIMIT_NAME);
			FUZZ_CHECK(path_is_simple_name(x->suite));
			break;
		case CATALOG_DEBIAN:
			field_ok(x->mirror, LIMIT_URL);
			FUZZ_CHECK(path_is_simple_name(x->suite));
			break;
		case CATALOG_OCI:
			field_ok(x->ref, LIMIT_URL);
			break;
		}
	}
	catalog_fini(&c);
	return 0;
}
