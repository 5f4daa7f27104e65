/* Unit tests: lib/deb/deb.c — dpkg version order (cases from dpkg's own test
 * suite and Debian policy 5.6.12), the one-star package glob, and the
 * streaming Packages index parser fed in awkward pieces. */
#include "harness.h"

#include "deb/deb.h"
#include "err.h"
#include "exitcode.h"

static int sign(int x)
{
	return (x > 0) - (x < 0);
}

static void version_order(void)
{
	static const struct {
		const char *a, *b;
		int want;
	} cases[] = {
		{ "1.0", "1.0", 0 },
		{ "1.0", "1.1", -1 },
		{ "1.10", "1.9", 1 },
		{ "1.0~rc1", "1.0", -1 },
		{ "1.0~rc1", "1.0~rc2", -1 },
		{ "1.0~~", "1.0~", -1 },
		{ "1.0~", "1.0", -1 },
		{ "1.0", "1.0+b1", -1 },
		{ "1.0a", "1.0", 1 },
		{ "1.0-1", "1.0-2", -1 },
		{ "1.0-10", "1.0-9", 1 },
		{ "1:0.1", "2.0", 1 },
		{ "0:1.0", "1.0", 0 },
		{ "2:1.0", "10:0.1", -1 },
		{ "1.0-1", "1.0", 1 },
		{ "001.0", "1.0", 0 },
		{ "a", "B", 1 },	/* letters by ASCII, lowercase after uppercase */
		{ "1.0+", "1.0.", -1 }, /* other symbols by ASCII */
		{ "6.1.192-3", "6.1.158-1", 1 },
		{ "6.1.192-3", "6.1.192-3~bpo11+1", 1 },
		{ "6.1.76-1", "6.1.192-1", -1 },
		{ "1.2-3-4", "1.2-3-5", -1 }, /* the revision is after the last '-' */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = sign(deb_version_cmp(cases[i].a, cases[i].b));
		int back = sign(deb_version_cmp(cases[i].b, cases[i].a));

		CHECK(got == cases[i].want && back == -cases[i].want);
		if (got != cases[i].want)
			printf("  %s vs %s: %d\n", cases[i].a, cases[i].b, got);
	}
}

static void glob(void)
{
	const char *p = "linux-image-*-cloud-amd64";

	CHECK(deb_glob_match(p, "linux-image-6.1.0-57-cloud-amd64"));
	CHECK(!deb_glob_match(p, "linux-image-cloud-amd64"));
	CHECK(!deb_glob_match(p, "linux-image-6.1.0-57-cloud-amd64-unsigned"));
	CHECK(!deb_glob_match(p, "linux-image-6.1.0-57-cloud-amd64-dbg"));
	CHECK(!deb_glob_match(p, "linux-headers-6.1.0-57-cloud-amd64"));
	CHECK(deb_glob_match("exact", "exact") && !deb_glob_match("exact", "exactly"));
	/* The built-in entries' patterns against real package names. */
	p = "linux-image-6.1.0-*-cloud-amd64";
	CHECK(deb_glob_match(p, "linux-image-6.1.0-57-cloud-amd64"));
	CHECK(!deb_glob_match(p, "linux-image-6.12.117+deb12-cloud-amd64"));
	CHECK(!deb_glob_match(p, "linux-image-6.12-cloud-amd64"));
	p = "linux-image-6.12.*+deb12-cloud-amd64";
	CHECK(deb_glob_match(p, "linux-image-6.12.117+deb12-cloud-amd64"));
	CHECK(!deb_glob_match(p, "linux-image-6.12-cloud-amd64"));
}

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static const char index_text[] =
	"Package: linux-image-6.1.0-9-cloud-amd64\n"
	"Source: linux-signed-amd64 (6.1.27+1)\n"
	"Version: 6.1.27-1\n"
	"Architecture: amd64\n"
	"Description: Linux 6.1 for x86-64 cloud\n"
	" The Linux kernel 6.1 and modules for use on x86-64 cloud instances.\n"
	" .\n"
	" Continuation lines: ignored. Package: nope\n"
	"Filename: "
	"pool/main/l/linux-signed-amd64/linux-image-6.1.0-9-cloud-amd64_6.1.27-1_amd64.deb\n"
	"Size: 100\n"
	"SHA256: " SHA_A "\n"
	"\n"
	"Package: linux-image-6.1.0-57-cloud-amd64\n"
	"Version: 6.1.192-3\n"
	"Architecture: amd64\n"
	"Filename: "
	"pool/main/l/linux-signed-amd64/linux-image-6.1.0-57-cloud-amd64_6.1.192-3_amd64.deb\n"
	"Size: 26705532\n"
	"SHA256: " SHA_B "\n"
	"\n"
	"Package: linux-image-6.1.0-58-cloud-amd64-unsigned\n"
	"Version: 6.1.200-1\n"
	"Architecture: amd64\n"
	"Filename: pool/main/l/linux/x.deb\n"
	"Size: 1\n"
	"SHA256: " SHA_A "\n"
	"\n"
	"Package: linux-image-6.1.0-99-cloud-amd64\n"
	"Version: 9.9.9-1\n"
	"Architecture: arm64\n"
	"Filename: pool/main/l/linux/y.deb\n"
	"Size: 1\n"
	"SHA256: " SHA_A "\n";

static void parse_index(void)
{
	struct deb_index x;
	struct err e;

	/* Fed in every chunk size from 1 to 7 bytes: boundaries anywhere. */
	for (size_t step = 1; step <= 7; step++) {
		size_t len = sizeof(index_text) - 1;

		err_init(&e);
		deb_index_init(&x, "linux-image-*-cloud-amd64", "amd64");
		for (size_t i = 0; i < len; i += step)
			CHECK(deb_index_feed(&x, index_text + i, i + step > len ? len - i : step,
					     &e) == 0);
		CHECK(deb_index_end(&x, &e) == 0);
		CHECK(x.found);
		CHECK_STR(x.best.package, "linux-image-6.1.0-57-cloud-amd64");
		CHECK_STR(x.best.version, "6.1.192-3");
		CHECK_STR(x.best.sha256, SHA_B);
		CHECK(x.best.size == 26705532);
		CHECK(!strncmp(x.best.filename, "pool/main/l/", 12));
		deb_index_fini(&x);
	}
}

static int feed_all(const char *text, struct err *e)
{
	struct deb_index x;
	int rc;

	err_init(e);
	deb_index_init(&x, "k-*", "amd64");
	rc = deb_index_feed(&x, text, strlen(text), e);
	if (rc == 0)
		rc = deb_index_end(&x, e);
	deb_index_fini(&x);
	return rc;
}

static void refuse_index(void)
{
	struct err e;
	char *big;

	CHECK(feed_all("Package: k-1\nVersion: 1\nArchitecture: amd64\n"
		       "Filename: ../../etc/passwd\nSize: 1\nSHA256: " SHA_A "\n",
		       &e) < 0 &&
	      e.code == EXIT_VERIFY);
	CHECK(feed_all("Package: k-1\nVersion: 1\nArchitecture: amd64\n"
		       "Filename: pool/x.deb\nSize: 1\nSHA256: abc\n",
		       &e) < 0);
	CHECK(feed_all("Package: k-1\nVersion: 1\nArchitecture: amd64\n"
		       "Filename: pool/x.deb\nSize: lots\nSHA256: " SHA_A "\n",
		       &e) < 0);
	CHECK(feed_all("Package: k-1\nVersion: 1\nArchitecture: amd64\n\n", &e) < 0);
	/* Not matching: malformed fields of other packages do not matter. */
	CHECK(feed_all("Package: other\nSize: lots\nSHA256: x\n\n", &e) == 0);
	/* An overlong line of a field we keep is refused, not truncated; other
	 * fields (real indexes have 100+ KiB Provides lines) and continuation
	 * lines are skipped whatever their length. */
	big = malloc(LIMIT_DEB_LINE + 64);
	memcpy(big, "Filename: ", 10);
	memset(big + 10, 'x', LIMIT_DEB_LINE + 40);
	big[LIMIT_DEB_LINE + 50] = '\0';
	CHECK(feed_all(big, &e) < 0 && e.code == EXIT_VERIFY);
	memcpy(big, "Provides: ", 10);
	CHECK(feed_all(big, &e) == 0);
	big[0] = ' ';
	CHECK(feed_all(big, &e) == 0);
	memset(big, 'y', LIMIT_DEB_LINE + 50); /* no field name at all */
	CHECK(feed_all(big, &e) == 0);
	free(big);
}

int main(void)
{
	HARNESS_BEGIN("deb");
	RUN(version_order);
	RUN(glob);
	RUN(parse_index);
	RUN(refuse_index);
	HARNESS_END();
}
