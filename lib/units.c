/* units.c — see units.h. */
#include "units.h"
#include "err.h"
#include "exitcode.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

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

int parse_size(const char *s, uint64_t *out, struct err *e)
{
	unsigned long long v;
	int shift = 0;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (end == s || errno || *s == '-' || *s == '+')
		goto bad;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	case 't':
	case 'T':
		shift = 40;
		break;
	default:
		break;
	}
	if (shift) {
		end++;
		if (*end == 'i')
			end++;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || !v || v > (UINT64_MAX >> shift))
		goto bad;
	*out = (uint64_t)v << shift;
	return 0;
bad:
	return err_set(e, EXIT_USAGE, "'%s': not a size — write it like 2G, 512M or 1073741824", s);
}
