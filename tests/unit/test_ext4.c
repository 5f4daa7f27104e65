/* Unit tests: lib/ext4/ext4.c — sizing and size parsing (building is tested for
 * real, with mke2fs and e2fsck, in tests/image-pull.test). */
#include "harness.h"

#include "units.h"

#include "err.h"
#include "exitcode.h"
#include "ext4/ext4.h"
#include "oci/layer.h"

#include <stdint.h>

#define MIB ((uint64_t)1 << 20)

static void sizes_parse(void)
{
	uint64_t v;
	struct err e;

	err_init(&e);
	CHECK(parse_size("512M", &v, &e) == 0 && v == 512 * MIB);
	CHECK(parse_size("2G", &v, &e) == 0 && v == 2048 * MIB);
	CHECK(parse_size("1GiB", &v, &e) == 0 && v == 1024 * MIB);
	CHECK(parse_size("4096", &v, &e) == 0 && v == 4096);
	CHECK(parse_size("10k", &v, &e) == 0 && v == 10240);
	CHECK(parse_size("", &v, &e) == -1 && e.code == EXIT_USAGE);
	CHECK(parse_size("0", &v, &e) == -1);
	CHECK(parse_size("12X", &v, &e) == -1);
	CHECK(parse_size("1Gx", &v, &e) == -1);
	CHECK(parse_size("99999999999T", &v, &e) == -1);
}

static void plans_grow_with_content(void)
{
	struct layer_usage small = { .blocks = 1000, .inodes = 100, .bytes = 4000000 };
	struct layer_usage debian = { .blocks = 45000, .inodes = 6700, .bytes = 175 * MIB };
	struct ext4_plan p, q;
	struct err e;

	err_init(&e);
	CHECK(ext4_plan(&small, 0, &p, &e) == 0);
	CHECK(p.bytes % MIB == 0);
	CHECK(p.bytes >= 64 * MIB + 1000 * 4096);
	CHECK(p.inodes >= 100 + 4096);
	CHECK(ext4_plan(&debian, 0, &q, &e) == 0);
	CHECK(q.bytes > p.bytes && q.bytes >= 45000 * 4096ULL + 64 * MIB);
	CHECK(q.bytes < 45000 * 4096ULL * 2);
	/* --size: must hold the content; a big one leaves inodes to mke2fs */
	CHECK(ext4_plan(&debian, 100 * MIB, &q, &e) == -1 && e.code == EXIT_USAGE);
	CHECK(strstr(e.msg, "too small") != NULL);
	CHECK(ext4_plan(&debian, 8192 * MIB, &q, &e) == 0);
	CHECK(q.bytes == 8192 * MIB && q.inodes == 0);
	CHECK(ext4_plan(&debian, 300 * MIB, &q, &e) == 0);
	CHECK(q.bytes == 300 * MIB && q.inodes == 0); /* 300 MiB / 16 KiB > the 12471 needed */
}

int main(void)
{
	HARNESS_BEGIN("test_ext4");
	RUN(sizes_parse);
	RUN(plans_grow_with_content);
	HARNESS_END();
}
