/* test_base64.c — RFC 4648 §10 vectors both ways, and the size ceiling. */
#include "harness.h"
#include "base64.h"
#include "err.h"

static void vectors(void)
{
	static const char *const v[][2] = {
		{ "", "" },
		{ "f", "Zg==" },
		{ "fo", "Zm8=" },
		{ "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	char out[16];
	unsigned char back[16];
	size_t n;
	struct err e;

	err_init(&e);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		CHECK(base64_encode(v[i][0], strlen(v[i][0]), out, sizeof(out)) == 0);
		CHECK_STR(out, v[i][1]);
		CHECK(base64_decode(out, strlen(out), back, sizeof(back), &n, &e) == 0);
		CHECK(n == strlen(v[i][0]) && !memcmp(back, v[i][0], n));
	}
}

static void binary_and_ceiling(void)
{
	unsigned char all[256], back[256];
	char out[BASE64_LEN(256) + 1];
	size_t n;
	struct err e;

	err_init(&e);
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	CHECK(base64_encode(all, sizeof(all), out, sizeof(out)) == 0);
	CHECK(strlen(out) == BASE64_LEN(256));
	CHECK(base64_decode(out, strlen(out), back, sizeof(back), &n, &e) == 0 && n == 256 &&
	      !memcmp(all, back, 256));
	/* One byte short of the terminator: refused, not truncated. */
	CHECK(base64_encode(all, sizeof(all), out, sizeof(out) - 1) == -1);
	CHECK(base64_encode("foo", 3, out, 4) == -1);
	CHECK(base64_encode("foo", 3, out, 5) == 0);
}

int main(void)
{
	HARNESS_BEGIN("base64");
	RUN(vectors);
	RUN(binary_and_ceiling);
	HARNESS_END();
}
