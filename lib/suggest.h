/* suggest.h — "did you mean": the candidates closest to a mistyped name.
 *
 * Distance is optimal string alignment (insertions, deletions,
 * substitutions, and swaps of two neighbours: "debain" is one step from
 * "debian"). Close means at most 2 steps, and at most a third of the
 * name's length, so short names do not match everything. Pure; never
 * allocates.
 */
#ifndef BANGER_SUGGEST_H
#define BANGER_SUGGEST_H

#include <stddef.h>

#define SUGGEST_MAX_LEN 64 /* longer names are never close to anything */

/* Steps from a to b, or SUGGEST_MAX_LEN + 1 when either is longer. */
int suggest_distance(const char *a, const char *b);

/* Fills out[0..max) with the close candidates (closest first, then in
 * their order; the name itself and repeats left out) and returns how many. */
size_t suggest_close(const char *name, const char *const *cands, size_t n, const char **out,
		     size_t max);

/* "did you mean X?" or "did you mean X or Y?" (up to three) into out, or
 * "" when nothing is close. Returns out. */
char *suggest_phrase(const char *name, const char *const *cands, size_t n, char *out, size_t size);

#endif
