/* xfuncs.c — see xfuncs.h. */
#include "xfuncs.h"
#include "err.h"
#include "exitcode.h"
#include "log.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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

int xgetopt_long(int argc, char **argv, const char *optstring, const struct option *longopts,
		 int *longindex)
{
	char spec[128];
	const char *a;
	int prev = optind, o, i;
	size_t n;

	/* ':' right after any '+'/'-' makes a missing value ':' instead of '?'. */
	if (*optstring == '+' || *optstring == '-')
		n = (size_t)snprintf(spec, sizeof(spec), "%c:%s", *optstring, optstring + 1);
	else
		n = (size_t)snprintf(spec, sizeof(spec), ":%s", optstring);
	if (n >= sizeof(spec))
		die(EXIT_SYSTEM, "option string too long (%zu bytes)", n);
	opterr = 0;
	o = longopts ? getopt_long(argc, argv, spec, longopts, longindex)
		     : getopt(argc, argv, spec);
	if (o != '?' && o != ':')
		return o;
	/* The offending word: optind has not moved in the middle of a cluster
	 * of short options (getopt reads "--long" as one when longopts is NULL);
	 * musl steps optind past argc for a short option missing its value. */
	i = optind == prev ? prev : optind - 1 < argc ? optind - 1 : argc - 1;
	a = i > 0 && i < argc ? argv[i] : "";
	if (!strncmp(a, "--", 2) && a[2]) {
		n = strcspn(a, "=");
		if (o == ':')
			die_usage("option '%.*s' needs a value", (int)n, a);
		for (const struct option *l = longopts; a[n] && l && l->name; l++)
			if (l->has_arg == no_argument && !strncmp(l->name, a + 2, n - 2))
				die_usage("option '%.*s' takes no value", (int)n, a);
		die_usage("unknown option '%.*s'", (int)n, a);
	}
	if (o == ':')
		die_usage("option '-%c' needs a value", optopt);
	die_usage("unknown option '-%c'", optopt);
}

/* Dies when p is NULL; returns p otherwise. */
static void *nonnull(void *p, size_t n)
{
	if (!p)
		die(EXIT_SYSTEM, "out of memory (%zu bytes)", n);
	return p;
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

int xopen(const char *path, int flags, mode_t mode)
{
	int fd = open(path, flags | O_CLOEXEC, mode);

	if (fd < 0)
		die(errno == ENOENT ? EXIT_NOTFOUND : EXIT_SYSTEM, "%s: %s", path, strerror(errno));
	return fd;
}

void xprint_json(cJSON *j)
{
	char *text = j ? cJSON_Print(j) : NULL;

	if (!text)
		die(EXIT_SYSTEM, "out of memory");
	printf("%s\n", text);
	free(text);
	cJSON_Delete(j);
}
