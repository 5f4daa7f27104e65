/* progress.h — a one-line progress bar on stderr, only when stderr is a TTY.
 *
 * Caller-owned struct. Redraws at most every 100 ms, so it costs nothing on
 * the hot path; silent when stderr is not a terminal or with -q. total may be
 * 0 when unknown (then only bytes and rate are shown). Never fails.
 */
#ifndef BANGER_PROGRESS_H
#define BANGER_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "units.h" /* format_size */

struct progress {
	const char *label;
	uint64_t total;
	uint64_t done;
	uint64_t start_ms;
	uint64_t last_ms;
	bool active; /* drawing on a TTY */
	bool drawn;  /* a line is on screen and must be cleared */
};

void progress_init(struct progress *p, const char *label, uint64_t total);
/* Adds n bytes done. */
void progress_add(struct progress *p, uint64_t n);
/* Clears the line (the caller then prints its own result line). */
void progress_fini(struct progress *p);

/* Formats a line into buf (exposed for tests): "label  37% [####    ] 1.2 MiB/3.4 MiB 5.6 MiB/s". */
void progress_format(const struct progress *p, uint64_t now_ms, int width, char *buf, int size);

#endif
