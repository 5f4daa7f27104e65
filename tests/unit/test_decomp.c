/* test_decomp.c — the decompression front end on real gzip, xz and zstd. */
#include "harness.h"
#include "decomp.h"
#include "err.h"
#include "exitcode.h"

#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

static unsigned char plain[200000], packed[3][300000];
static size_t packed_len[3];
static const char *const names[3] = { "gzip", "xz", "zstd" };

static void pack_all(void)
{
	z_stream z;

	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (unsigned char)(i * 7 / 13 + (i >> 9));
	memset(&z, 0, sizeof(z));
	deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
	z.next_in = plain;
	z.avail_in = sizeof(plain);
	z.next_out = packed[0];
	z.avail_out = sizeof(packed[0]);
	deflate(&z, Z_FINISH);
	packed_len[0] = z.total_out;
	deflateEnd(&z);
	lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, NULL, plain, sizeof(plain), packed[1],
				&packed_len[1], sizeof(packed[1]));
	packed_len[2] = ZSTD_compress(packed[2], sizeof(packed[2]), plain, sizeof(plain), 3);
}

static void round_trip(void)
{
	unsigned char *out = NULL;
	size_t n = 0;
	struct err e;

	err_init(&e);
	for (int i = 0; i < 3; i++) {
		CHECK(packed_len[i] > 0 && packed_len[i] < sizeof(plain));
		CHECK_STR(decomp_sniff(packed[i], packed_len[i]), names[i]);
		/* Named and sniffed. */
		for (int named = 0; named < 2; named++) {
			CHECK(decomp_all(packed[i], packed_len[i], named ? names[i] : NULL,
					 sizeof(plain), &out, &n, "t", &e) == 0);
			CHECK(n == sizeof(plain) && out && !memcmp(out, plain, n));
			free(out);
			out = NULL;
		}
	}
	CHECK(decomp_sniff("hello", 5) == NULL);
}

static void ceilings_and_damage(void)
{
	unsigned char *out = NULL, bad[300000];
	size_t n = 0;
	struct err e;

	for (int i = 0; i < 3; i++) {
		err_init(&e);
		/* One byte over the ceiling is refused, not truncated. */
		CHECK(decomp_all(packed[i], packed_len[i], NULL, sizeof(plain) - 1, &out, &n, "t",
				 &e) == -1);
		CHECK(e.code == EXIT_VERIFY && strstr(e.msg, "more than"));
		/* Truncated. */
		err_init(&e);
		CHECK(decomp_all(packed[i], packed_len[i] / 2, NULL, sizeof(plain), &out, &n, "t",
				 &e) == -1);
		CHECK(e.code == EXIT_VERIFY);
		/* Corrupted in the middle. */
		memcpy(bad, packed[i], packed_len[i]);
		for (size_t j = packed_len[i] / 3; j < packed_len[i] / 3 + 64; j++)
			bad[j] ^= 0x5a;
		err_init(&e);
		CHECK(decomp_all(bad, packed_len[i], NULL, sizeof(plain), &out, &n, "t", &e) == -1);
		CHECK(e.code == EXIT_VERIFY);
	}
	/* Data named as another compressor; data with no known magic. */
	err_init(&e);
	CHECK(decomp_all(packed[0], packed_len[0], "zstd", sizeof(plain), &out, &n, "t", &e) == -1);
	CHECK(e.code == EXIT_VERIFY);
	err_init(&e);
	CHECK(decomp_all("plain text", 10, NULL, 100, &out, &n, "t", &e) == -1);
	CHECK(e.code == EXIT_VERIFY && strstr(e.msg, "t: not compressed"));
}

static void chunks(void)
{
	struct decomp d;
	unsigned char buf[1000];
	size_t total = 0;
	ssize_t r;
	bool same = true;
	struct err e;

	err_init(&e);
	CHECK(decomp_init(&d, packed[2], packed_len[2], "zstd", "t", &e) == 0);
	while ((r = decomp_read(&d, buf, sizeof(buf), &e)) > 0) {
		same = same && total + (size_t)r <= sizeof(plain) &&
		       !memcmp(buf, plain + total, (size_t)r);
		total += (size_t)r;
	}
	decomp_fini(&d);
	CHECK(r == 0 && total == sizeof(plain) && same);
}

int main(void)
{
	HARNESS_BEGIN("decomp");
	pack_all();
	RUN(round_trip);
	RUN(ceilings_and_damage);
	RUN(chunks);
	HARNESS_END();
}
