/* err.c — fixed-buffer error values (see err.h). */
#include "err.h"
#include "exitcode.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void err_init(struct err *e)
{
	e->code = 0;
	e->msg[0] = '\0';
}

/* Marks a truncated message rather than cutting it silently. */
static void mark_truncated(struct err *e, int n)
{
	static const char ell[] = "...";

	if (n >= (int)sizeof(e->msg))
		memcpy(e->msg + sizeof(e->msg) - sizeof(ell), ell, sizeof(ell));
}

static int errno_code(int err)
{
	switch (err) {
	case ENOENT:
		return EXIT_NOTFOUND;
	case EEXIST:
	case EBUSY:
	case EWOULDBLOCK:
		return EXIT_BUSY;
	case ECONNREFUSED:
	case ECONNRESET:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case ENETUNREACH:
		return EXIT_NETWORK;
	default:
		return EXIT_SYSTEM;
	}
}

int err_set(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	mark_truncated(e, n);
	e->code = code ? code : EXIT_SYSTEM;
	return -1;
}

int err_errno(struct err *e, int code, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	int n;
	size_t len;

	va_start(ap, fmt);
	n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	len = n < 0 ? 0 : (size_t)n;
	if (len < sizeof(e->msg)) {
		n = snprintf(e->msg + len, sizeof(e->msg) - len, ": %s", strerror(saved));
		mark_truncated(e, (int)len + n);
	} else {
		mark_truncated(e, n);
	}
	e->code = code ? code : errno_code(saved);
	errno = saved;
	return -1;
}

int err_prefix(struct err *e, const char *fmt, ...)
{
	char old[ERR_MSG_MAX];
	va_list ap;
	int n, m;

	memcpy(old, e->msg, sizeof(old));
	va_start(ap, fmt);
	n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(e->msg)) {
		mark_truncated(e, n);
		return -1;
	}
	m = snprintf(e->msg + n, sizeof(e->msg) - (size_t)n, ": %s", old);
	mark_truncated(e, n + m);
	if (!e->code)
		e->code = EXIT_SYSTEM;
	return -1;
}

const char *exitcode_name(int code)
{
	static const char *const names[] = {
		[EXIT_OK] = "ok",	    [EXIT_NO] = "no",
		[EXIT_USAGE] = "usage",	    [EXIT_NOTIMPL] = "not implemented",
		[EXIT_NETWORK] = "network", [EXIT_VERIFY] = "verification",
		[EXIT_SYSTEM] = "system",   [EXIT_NOTFOUND] = "not found",
		[EXIT_BUSY] = "busy",	    [EXIT_GUEST] = "guest",
	};

	if (code > EXIT_SIGNAL && code < EXIT_SIGNAL + 65)
		return "killed by signal";
	if (code >= 0 && code < (int)(sizeof(names) / sizeof(names[0])) && names[code])
		return names[code];
	return "unknown";
}
