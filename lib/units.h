/* units.h — sizes for people: "1.5 MiB" out, "512M" / "2GiB" in. */
#ifndef BANGER_UNITS_H
#define BANGER_UNITS_H

#include <stdint.h>

struct err;

/* Human-readable size, e.g. "1.5 MiB", into buf. Never fails. */
void format_size(uint64_t bytes, char *buf, int size);

/* Parses a positive size: digits, then optionally K/M/G/T (powers of 1024),
 * an optional "i" and an optional "B" ("4096", "512M", "2GiB", "10kB").
 * Zero, fractions, junk and overflow are EXIT_USAGE errors. */
int parse_size(const char *s, uint64_t *out, struct err *e);

#endif
