/* fuzz-deb — lib/deb/deb.c: dpkg's version order and the Packages index
 * parser. First byte even: the rest is up to three versions, one a line;
 * dpkg order must be a total order on them (reflexive, antisymmetric,
 * transitive, equal versions compare alike with a third). Odd: the rest is
 * a Packages index; fed whole, byte by byte or in random pieces it must give
 * the same package, or fail alike. */
#include "fuzz.h"

#include "deb/deb.h"
#include "err.h"

static int sign(int x)
{
	return (x > 0) - (x < 0);
}

static void total_order(const char *a, const char *b, const char *c)
{
	int ab = sign(deb_version_cmp(a, b)), bc = sign(deb_version_cmp(b, c));
	int ac = sign(deb_version_cmp(a, c));

	FUZZ_CHECK(deb_version_cmp(a, a) == 0);
	FUZZ_CHECK(ab == -sign(deb_version_cmp(b, a)));
	FUZZ_CHECK(ac == -sign(deb_version_cmp(c, a)));
	if (ab <= 0 && bc <= 0)
		FUZZ_CHECK(ac <= 0);
	if (ab >= 0 && bc >= 0)
		FUZZ_CHECK(ac >= 0);
	if (ab == 0)
		FUZZ_CHECK(ac == bc);
}

struct result {
	int rc;
	bool found;
	struct deb_pkg best;
};

static void index_run(const char *p, size_t n, int how, unsigned seed, struct result *out)
{
	static struct deb_index x;
	struct err e;
	size_t i = 0;

	deb_index_init(&x, "linux-image-*", "amd64");
	out->rc = 0;
	while (i < n && out->rc == 0) {
		size_t piece = how == 0	  ? n - i
			       : how == 1 ? 1
					  : 1 + (seed = seed * 1103515245u + 12345u) % 61;

		if (piece > n - i)
			piece = n - i;
		err_init(&e);
		/* Each piece ends at a guard page: the parser must not look past it. */
		out->rc = deb_index_feed(&x, guard_place(p + i, piece), piece, &e);
		i += piece;
	}
	if (out->rc == 0) {
		err_init(&e);
		out->rc = deb_index_end(&x, &e);
	}
	if (out->rc < 0)
		FUZZ_CHECK(e.msg[0]);
	out->found = out->rc == 0 && x.found;
	memset(&out->best, 0, sizeof(out->best));
	if (out->found) {
		out->best = x.best;
		FUZZ_CHECK(deb_glob_match("linux-image-*", x.best.package));
		FUZZ_CHECK(strlen(x.best.sha256) == DIGEST_HEX_LEN);
		FUZZ_CHECK(FUZZ_TERMINATED(x.best.filename) && x.best.filename[0]);
	}
	deb_index_fini(&x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	if (!(data[0] & 1)) {
		char *s = fuzz_cstr(data + 1, size - 1), *v[3] = { s, "", "" };
		int k = 1;

		for (char *p = s; *p && k < 3; p++)
			if (*p == '\n') {
				*p = '\0';
				v[k++] = p + 1;
			}
		if (k == 3 && strchr(v[2], '\n'))
			*strchr(v[2], '\n') = '\0';
		total_order(v[0], v[1], v[2]);
		total_order(v[2], v[0], v[1]);
		total_order(v[1], v[2], v[0]);
		free(s);
		return 0;
	}
	struct result a, b;

	index_run((const char *)data + 2, size - 2, 0, data[1], &a);
	for (int how = 1; how <= 2; how++) {
		index_run((const char *)data + 2, size - 2, how, data[1], &b);
		FUZZ_CHECK((a.rc < 0) == (b.rc < 0) && a.found == b.found);
		FUZZ_CHECK(!strcmp(a.best.package, b.best.package));
		FUZZ_CHECK(!strcmp(a.best.version, b.best.version));
		FUZZ_CHECK(!strcmp(a.best.filename, b.best.filename));
		FUZZ_CHECK(!strcmp(a.best.sha256, b.best.sha256) && a.best.size == b.best.size);
	}
	return 0;
}
