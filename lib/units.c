/* units.c — see units.h. */
#include "units.h"
#include "err.h"
#include "exitcode.h"
#include "limits.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void format_size(uint64_t bytes, char *buf, int size)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, (size_t)size, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, (size_t)size, "%.1f %s", v, unit[u]);
}

int parse_u64(const char *s, int base, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	if (!*p) {
		errno = EINVAL;
		return -1;
	}
	for (; *p; p++) {
		unsigned d;

		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = (unsigned)(*p - 'A' + 10);
		else
			d = 99;
		if (d >= (unsigned)base) {
			errno = EINVAL;
			return -1;
		}
		if (v > max / (uint64_t)base || d > max - v * (uint64_t)base) {
			errno = ERANGE;
			return -1;
		}
		v = v * (uint64_t)base + d;
	}
	*out = v;
	return 0;
}

int parse_size_in(const char *s, uint64_t unit, uint64_t max, uint64_t *out, struct err *e)
{
	char digits[24], most[32];
	size_t n = 0;
	uint64_t v, mult;
	static const char prefixes[] = "kmgt";
	const char *end, *p;
	bool suffix;

	while (s[n] >= '0' && s[n] <= '9')
		n++;
	if (!n || n >= sizeof(digits))
		goto bad;
	memcpy(digits, s, n);
	digits[n] = '\0';
	end = s + n;
	/* K, M, G, T (either case): powers of 1024, optionally "KiB" style. */
	p = *end ? strchr(prefixes, tolower((unsigned char)*end)) : NULL;
	suffix = p != NULL;
	if (suffix) {
		mult = 1ULL << (10 * (p - prefixes + 1));
		end++;
		if (*end == 'i')
			end++;
	} else {
		mult = unit;
	}
	if (*end == 'B' || *end == 'b') {
		if (!suffix)
			mult = 1; /* "100B" is bytes even where a bare number is MiB */
		end++;
	}
	if (*end || parse_u64(digits, 10, max / mult, &v) < 0 || !v || (v * mult) % unit)
		goto bad;
	*out = v * mult;
	return 0;
bad:
	format_size(max, most, sizeof(most));
	return err_set(e, EXIT_USAGE, "'%s': not a size — write it like %s (at most %s)", s,
		       unit > 1 ? "2G or 512 (MiB)" : "2G, 512M or 1073741824", most);
}

int parse_size(const char *s, uint64_t *out, struct err *e)
{
	return parse_size_in(s, 1, LIMIT_SIZE, out, e);
}
