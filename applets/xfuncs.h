/* xfuncs.h — die-on-failure helpers for host applets (not lib/: lib never exits).
 *
 * Each prints "banger: APPLET: what: why" and exits with the matching code.
 * Never use these in first-boot (PID 1) or the vsock agent: those must
 * survive every error.
 */
#ifndef BANGER_XFUNCS_H
#define BANGER_XFUNCS_H

#include <stddef.h>
#include <sys/types.h>

struct cJSON;
struct err;
struct option;

__attribute__((noreturn, format(printf, 2, 3))) void die(int code, const char *fmt, ...);
/* Reports e->msg and exits with e->code. */
__attribute__((noreturn)) void die_err(const struct err *e);
/* Usage error: the message, a pointer to --help, exit 2. */
__attribute__((noreturn, format(printf, 1, 2))) void die_usage(const char *fmt, ...);

/* getopt_long (getopt when longopts is NULL) whose errors are one line:
 * "unknown option '--x'", "option '-t' needs a value" or "option '--f'
 * takes no value", through die_usage. getopt's own message is silenced
 * (opterr), so every applet reports a bad option the same way. */
int xgetopt_long(int argc, char **argv, const char *optstring, const struct option *longopts,
		 int *longindex);
#define xgetopt(argc, argv, optstring) xgetopt_long(argc, argv, optstring, NULL, NULL)

void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
int xopen(const char *path, int flags, mode_t mode);
/* Prints j (indented, as cJSON_Print) and a newline on stdout, then frees j. */
void xprint_json(struct cJSON *j);

#endif
