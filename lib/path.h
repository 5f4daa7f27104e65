/* path.h — bounded path building and checks for names that come from outside. */
#ifndef BANGER_PATH_H
#define BANGER_PATH_H

#include <stdbool.h>
#include <stddef.h>

struct err;

/* Writes "a/b" into dst (size bytes), collapsing duplicate slashes at the
 * seam. Fails (EXIT_VERIFY) rather than truncating. b may be empty. */
int path_join(char *dst, size_t size, const char *a, const char *b, struct err *e);

/* Like path_join with a printf-style second part. */
int path_joinf(char *dst, size_t size, struct err *e, const char *a, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* True when name is a relative path that stays inside its base lexically:
 * not empty, not absolute, no "..", no component longer than LIMIT_NAME.
 * "." components and a trailing slash are allowed. */
bool path_is_confined(const char *name);

/* True when s is a safe single name for the store (kernel/image/VM names):
 * [A-Za-z0-9][A-Za-z0-9._-]*, at most 64 bytes. */
bool path_is_simple_name(const char *s);

/* mkdir -p with mode; existing directories are fine. */
int path_mkdirs(const char *path, unsigned mode, struct err *e);

/* rm -rf without following symlinks (openat/unlinkat); a missing path is fine. */
int path_remove_tree(const char *path, struct err *e);

#endif
