/* fuzz-ref — lib/oci/ref.c. Invariants: a parsed reference's fields are
 * terminated within their arrays; its normalised text parses again to the
 * same fields and formats to itself (normalisation is idempotent); the
 * default store name is a simple name; a refusal is a usage error with a
 * message. */
#include "fuzz.h"

#include "err.h"
#include "exitcode.h"
#include "oci/ref.h"
#include "path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	char out[1100], again[1100], name[65];
	struct ref r, r2;
	struct err e;

	err_init(&e);
	if (ref_parse(s, &r, &e) < 0) {
		FUZZ_CHECK(e.code == EXIT_USAGE && e.msg[0]);
		free(s);
		return 0;
	}
	FUZZ_CHECK(FUZZ_TERMINATED(r.domain) && FUZZ_TERMINATED(r.path));
	FUZZ_CHECK(FUZZ_TERMINATED(r.tag) && FUZZ_TERMINATED(r.digest));
	FUZZ_CHECK(r.tag[0] || r.digest[0]);
	FUZZ_CHECK(ref_format(&r, out, sizeof(out), &e) == 0);
	err_init(&e);
	FUZZ_CHECK(ref_parse(out, &r2, &e) == 0);
	FUZZ_CHECK(!strcmp(r.domain, r2.domain) && !strcmp(r.path, r2.path));
	FUZZ_CHECK(!strcmp(r.tag, r2.tag) && !strcmp(r.digest, r2.digest));
	FUZZ_CHECK(ref_format(&r2, again, sizeof(again), &e) == 0 && !strcmp(out, again));
	ref_default_name(&r, name);
	FUZZ_CHECK(path_is_simple_name(name));
	FUZZ_CHECK(*ref_api_host(&r) && *ref_object(&r));
	(void)ref_is_loopback(&r);
	free(s);
	return 0;
}
