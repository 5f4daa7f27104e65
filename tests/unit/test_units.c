/* test_units.c — the bounded number parser, sizes and the clock helper. */
#include "harness.h"
#include "clock.h"
#include "err.h"
#include "exitcode.h"
#include "limits.h"
#include "units.h"

#include <errno.h>
#include <poll.h>

static void numbers(void)
{
	uint64_t v = 7;

	CHECK(parse_u64("0", 10, 5, &v) == 0 && v == 0);
	CHECK(parse_u64("3600", 10, 3600, &v) == 0 && v == 3600);
	CHECK(parse_u64("18446744073709551615", 10, UINT64_MAX, &v) == 0 && v == UINT64_MAX);
	CHECK(parse_u64("755", 8, 07777, &v) == 0 && v == 0755);
	CHECK(parse_u64("ffFF", 16, 0xffff, &v) == 0 && v == 0xffff);
	v = 7;
	/* What strtoul lets through: a sign, a blank, a wrap, junk after. */
	CHECK(parse_u64(" -5", 10, UINT64_MAX, &v) == -1 && errno == EINVAL && v == 7);
	CHECK(parse_u64("-5", 10, UINT64_MAX, &v) == -1 && errno == EINVAL);
	CHECK(parse_u64("+5", 10, UINT64_MAX, &v) == -1 && errno == EINVAL);
	CHECK(parse_u64(" 5", 10, UINT64_MAX, &v) == -1 && errno == EINVAL);
	CHECK(parse_u64("5 ", 10, UINT64_MAX, &v) == -1 && errno == EINVAL);
	CHECK(parse_u64("", 10, UINT64_MAX, &v) == -1 && errno == EINVAL);
	CHECK(parse_u64("5x", 10, UINT64_MAX, &v) == -1 && errno == EINVAL);
	CHECK(parse_u64("0x10", 16, UINT64_MAX, &v) == -1 && errno == EINVAL);
	CHECK(parse_u64("8", 8, UINT64_MAX, &v) == -1 && errno == EINVAL);
	CHECK(parse_u64("18446744073709551616", 10, UINT64_MAX, &v) == -1 && errno == ERANGE);
	CHECK(parse_u64("99999999999999999999999", 10, UINT64_MAX, &v) == -1 && errno == ERANGE);
	CHECK(parse_u64("3601", 10, 3600, &v) == -1 && errno == ERANGE && v == 7);
	CHECK(parse_u64("10", 10, 9, &v) == -1 && errno == ERANGE);
}

static void sizes(void)
{
	uint64_t v = 7;
	struct err e;

	err_init(&e);
	CHECK(parse_size("2G", &v, &e) == 0 && v == 2ULL << 30);
	CHECK(parse_size("10kB", &v, &e) == 0 && v == 10240);
	CHECK(parse_size("16T", &v, &e) == 0 && v == LIMIT_SIZE);
	CHECK(parse_size("17T", &v, &e) == -1 && e.code == EXIT_USAGE);
	/* issue 13: these wrapped to 0 and to 2^64-5. */
	CHECK(parse_size("18446744073709551615", &v, &e) == -1 && e.code == EXIT_USAGE);
	CHECK(parse_size(" -5", &v, &e) == -1 && strstr(e.msg, "' -5': not a size"));
	CHECK(parse_size("-5", &v, &e) == -1);
	CHECK(parse_size("+5", &v, &e) == -1);
	CHECK(parse_size("5 ", &v, &e) == -1);
	CHECK(parse_size("0", &v, &e) == -1);
	CHECK(parse_size("", &v, &e) == -1);
	CHECK(parse_size("1GiBx", &v, &e) == -1);
	CHECK(parse_size("16777216T", &v, &e) == -1);
	CHECK(v == 7 || v == LIMIT_SIZE);
	/* In MiB: a bare number is MiB, suffixes work, bytes must be whole MiB. */
	CHECK(parse_size_in("512", 1 << 20, 1ULL << 40, &v, &e) == 0 && v == 512ULL << 20);
	CHECK(parse_size_in("2G", 1 << 20, 1ULL << 40, &v, &e) == 0 && v == 2ULL << 30);
	CHECK(parse_size_in("1048576B", 1 << 20, 1ULL << 40, &v, &e) == 0 && v == 1ULL << 20);
	CHECK(parse_size_in("1000B", 1 << 20, 1ULL << 40, &v, &e) == -1);
	CHECK(parse_size_in("100K", 1 << 20, 1ULL << 40, &v, &e) == -1);
	CHECK(parse_size_in("2T", 1 << 20, 1ULL << 40, &v, &e) == -1 &&
	      strstr(e.msg, "at most 1.0 TiB"));
}

static void clocks(void)
{
	int64_t a = now_ms(), b;

	poll(NULL, 0, 20);
	b = now_ms();
	CHECK(b - a >= 20 && b - a < 5000);
	CHECK(boot_ms() >= b - a);
}

int main(void)
{
	HARNESS_BEGIN("units");
	RUN(numbers);
	RUN(sizes);
	RUN(clocks);
	HARNESS_END();
}
