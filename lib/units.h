/* units.h — sizes for people: "1.5 MiB" out, "512M" / "2GiB" in. */
#ifndef BANGER_UNITS_H
#define BANGER_UNITS_H

#include <stdint.h>

struct err;

/* Human-readable size, e.g. "1.5 MiB", into buf. Never fails. */
void format_size(uint64_t bytes, char *buf, int size);

/* The one bounded number parser: s is only digits of base (8, 10 or 16; no
 * sign, no blank, no "0x", nothing after), and the value is at most max.
 * Returns 0 with *out set, or -1 (errno EINVAL for a malformed s, ERANGE
 * above max) with *out untouched; callers word the message for their option.
 * strtoul alone accepts " -5" as 2^64-5 and saturates on overflow. */
int parse_u64(const char *s, int base, uint64_t max, uint64_t *out);

/* Parses a positive size: digits, then optionally K/M/G/T (powers of 1024),
 * an optional "i" and an optional "B" ("4096", "512M", "2GiB", "10kB").
 * A bare number counts in units of unit bytes (1 for bytes, 1 << 20 for an
 * option given in MiB); the result is in bytes, a whole multiple of unit and
 * at most max. Zero, fractions, signs, blanks, junk and overflow are EXIT_USAGE
 * errors naming s. */
int parse_size_in(const char *s, uint64_t unit, uint64_t max, uint64_t *out, struct err *e);
/* parse_size_in(s, 1, LIMIT_SIZE, out, e): a size in bytes. */
int parse_size(const char *s, uint64_t *out, struct err *e);

#endif
