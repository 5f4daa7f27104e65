/* Unit tests: lib/digest.c — known SHA-256 vectors, streaming, parsing. */
#include "harness.h"

#include "digest.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "path.h"

static void known_vectors(void)
{
	struct sha256 h;
	char hex[DIGEST_HEX_LEN + 1];

	sha256_init(&h);
	sha256_hex(&h, hex);
	CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha256_init(&h);
	sha256_update(&h, "ab", 2); /* split updates equal one update */
	sha256_update(&h, "c", 1);
	sha256_hex(&h, hex);
	CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void parse_forms(void)
{
	const char *d = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	char hex[DIGEST_HEX_LEN + 1], pref[80];
	struct err e;

	snprintf(pref, sizeof(pref), "sha256:%s", d);
	CHECK(digest_parse(pref, "layer", hex, &e) == 0);
	CHECK_STR(hex, d);
	CHECK(digest_parse(d, "bundle", hex, &e) == 0);
	err_init(&e);
	CHECK(digest_parse("sha512:abcd", "layer", hex, &e) == -1);
	CHECK(e.code == EXIT_VERIFY && strstr(e.msg, "layer: 'sha512:abcd'"));
	pref[10] = 'G';
	CHECK(digest_parse(pref, "x", hex, &e) == -1);
	CHECK(!digest_is_hex("ABA7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a"));
}

static void whole_file(void)
{
	const char *t = harness_tmpdir();
	char p[512], hex[DIGEST_HEX_LEN + 1];
	struct err e;

	path_join(p, sizeof(p), t, "f", &e);
	CHECK(file_write_atomic(p, "abc", 3, 0644, &e) == 0);
	CHECK(sha256_file(p, hex, &e) == 0);
	CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	path_remove_tree(t, &e);
}

int main(void)
{
	HARNESS_BEGIN("digest");
	RUN(known_vectors);
	RUN(parse_forms);
	RUN(whole_file);
	HARNESS_END();
}
