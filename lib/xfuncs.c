/* xfuncs.c — see xfuncs.h. */
#include "xfuncs.h"
#include "err.h"
#include "exitcode.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void die(int code, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s", msg);
	exit(code);
}

void die_err(const struct err *e)
{
	log_error("%s", e->msg);
	exit(e->code ? e->code : EXIT_SYSTEM);
}

void die_usage(const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s (see '%s --help')", msg, log_applet());
	exit(EXIT_USAGE);
}

/* Dies when p is NULL; returns p otherwise. */
static void *nonnull(void *p, size_t n)
{
	if (!p)
		die(EXIT_SYSTEM, "out of memory (%zu bytes)", n);
	return p;
}

void *xmalloc(size_t n)
{
	return nonnull(malloc(n ? n : 1), n);
}

void *xcalloc(size_t n, size_t size)
{
	return nonnull(calloc(n ? n : 1, size ? size : 1), n * size);
}

void *xrealloc(void *p, size_t n)
{
	return nonnull(realloc(p, n ? n : 1), n);
}

char *xstrdup(const char *s)
{
	return nonnull(strdup(s), strlen(s));
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	return nonnull(n < 0 ? NULL : p, 0);
}

int xopen(const char *path, int flags, mode_t mode)
{
	int fd = open(path, flags | O_CLOEXEC, mode);

	if (fd < 0)
		die(errno == ENOENT ? EXIT_NOTFOUND : EXIT_SYSTEM, "%s: %s", path, strerror(errno));
	return fd;
}
