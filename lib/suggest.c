/* suggest.c — see suggest.h. */
#include "suggest.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int min3(int a, int b, int c)
{
	int m = a < b ? a : b;

	return m < c ? m : c;
}

int suggest_distance(const char *a, const char *b)
{
	int d[SUGGEST_MAX_LEN + 1][SUGGEST_MAX_LEN + 1];
	size_t la = strlen(a), lb = strlen(b);

	if (la > SUGGEST_MAX_LEN || lb > SUGGEST_MAX_LEN)
		return SUGGEST_MAX_LEN + 1;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			int cost = a[i - 1] != b[j - 1];

			d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < d[i][j])
				d[i][j] = d[i - 2][j - 2] + 1;
		}
	return d[la][lb];
}

size_t suggest_close(const char *name, const char *const *cands, size_t n, const char **out,
		     size_t max)
{
	size_t len = strlen(name), got = 0;
	int limit = len / 3 < 2 ? (int)(len / 3) : 2;

	for (int want = 1; want <= limit; want++)
		for (size_t i = 0; i < n && got < max; i++) {
			bool seen = false;

			if (suggest_distance(name, cands[i]) != want)
				continue;
			for (size_t k = 0; k < got; k++)
				seen = seen || !strcmp(out[k], cands[i]);
			if (!seen)
				out[got++] = cands[i];
		}
	return got;
}

char *suggest_phrase(const char *name, const char *const *cands, size_t n, char *out, size_t size)
{
	const char *close[3];
	size_t got = suggest_close(name, cands, n, close, 3), len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < got && len < size; i++)
		len += (size_t)snprintf(out + len, size - len, "%s%s%s",
					i ? " or " : "did you mean ", close[i],
					i + 1 == got ? "?" : "");
	if (len >= size)
		out[0] = '\0';
	return out;
}
