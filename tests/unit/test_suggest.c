/* test_suggest.c — did-you-mean distances and picks. */
#include "harness.h"
#include "suggest.h"

static void distances(void)
{
	CHECK(suggest_distance("debian", "debian") == 0);
	CHECK(suggest_distance("debain", "debian") == 1); /* a swap is one step */
	CHECK(suggest_distance("debian-bookwrm", "debian-bookworm") == 1);
	CHECK(suggest_distance("alpine", "apline") == 1);
	CHECK(suggest_distance("", "abc") == 3);
	CHECK(suggest_distance("kitten", "sitting") == 3);
	char big[SUGGEST_MAX_LEN + 2];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(suggest_distance(big, "a") == SUGGEST_MAX_LEN + 1);
}

static void picks(void)
{
	const char *cands[] = { "debian-trixie", "debian-bookworm", "alpine", "debian-bookworm",
				"ubuntu-noble" };
	const char *out[4];

	CHECK(suggest_close("debain-bookworm", cands, 5, out, 4) == 1);
	CHECK_STR(out[0], "debian-bookworm");
	/* Closest first. */
	const char *two[] = { "debian-trixie", "debian-trixy" };

	CHECK(suggest_close("debian-trix", two, 2, out, 4) == 2);
	CHECK_STR(out[0], "debian-trixy");
	CHECK_STR(out[1], "debian-trixie");
	/* Short names match only very close ones; the name itself is no suggestion. */
	CHECK(suggest_close("ab", cands, 5, out, 4) == 0);
	CHECK(suggest_close("alpine", cands, 5, out, 4) == 0);
	CHECK(suggest_close("nothing-like-it", cands, 5, out, 4) == 0);
	CHECK(suggest_close("debian-bookworm-x", cands, 5, out, 1) == 1);
}

static void phrases(void)
{
	const char *cands[] = { "debian-bookworm", "debian-bookwurm", "alpine" };
	char out[128];

	CHECK_STR(suggest_phrase("debain-bookworm", cands + 2, 1, out, sizeof(out)), "");
	CHECK_STR(suggest_phrase("debain-bookworm", cands, 1, out, sizeof(out)),
		  "did you mean debian-bookworm?");
	/* Two steps still count, after the closer one. */
	CHECK_STR(suggest_phrase("debain-bookwurm", cands, 3, out, sizeof(out)),
		  "did you mean debian-bookwurm or debian-bookworm?");
	CHECK_STR(suggest_phrase("zzz", cands, 3, out, sizeof(out)), "");
	CHECK_STR(suggest_phrase("debain-bookworm", cands, 3, out, 8), "");
}

int main(void)
{
	HARNESS_BEGIN("suggest");
	RUN(distances);
	RUN(picks);
	RUN(phrases);
	HARNESS_END();
}
