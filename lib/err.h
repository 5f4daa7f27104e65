/* err.h — error values that carry their own message.
 *
 * lib/ never prints and never exits: a failing function fills a caller-owned
 * struct err and returns -1 (or NULL). The message lives in a fixed buffer, so
 * reporting an error never allocates and cannot itself fail. The code is an
 * exit code from exitcode.h, chosen where the failure is understood.
 */
#ifndef BANGER_ERR_H
#define BANGER_ERR_H

#include <stddef.h>

#define ERR_MSG_MAX 512

struct err {
	int code; /* EXIT_* from exitcode.h; 0 when no error is set */
	char msg[ERR_MSG_MAX];
};

/* Resets e to "no error". */
void err_init(struct err *e);

/* Sets code and a printf-style message (truncated with "…" if too long).
 * Always returns -1, so callers can `return err_set(e, ...)`. */
int err_set(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Like err_set, appending ": strerror(errno)". The code is derived from errno
 * when code is 0 (ENOSPC, EACCES… → EXIT_SYSTEM; ENOENT → EXIT_NOTFOUND). */
int err_errno(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prepends "what: " to an existing message, for context added by a caller. */
int err_prefix(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
