/* path.c — see path.h. */
#include "path.h"
#include "err.h"
#include "exitcode.h"
#include "limits.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int path_join(char *dst, size_t size, const char *a, const char *b, struct err *e)
{
	size_t la = strlen(a);
	int n;

	while (la > 1 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	if (*b)
		n = snprintf(dst, size, "%.*s%s%s", (int)la, a, (la && a[la - 1] == '/') ? "" : "/",
			     b);
	else
		n = snprintf(dst, size, "%.*s", (int)la, a);
	if (n < 0 || (size_t)n >= size)
		return err_set(e, EXIT_VERIFY, "%s/%s: path longer than %zu bytes", a, b, size - 1);
	return 0;
}

int path_joinf(char *dst, size_t size, struct err *e, const char *a, const char *fmt, ...)
{
	char tail[LIMIT_PATH];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tail, sizeof(tail), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tail))
		return err_set(e, EXIT_VERIFY, "%s: path too long", a);
	return path_join(dst, size, a, tail, e);
}

bool path_is_confined(const char *name)
{
	const char *p = name;

	if (!*name || *name == '/')
		return false;
	while (*p) {
		size_t len = strcspn(p, "/");

		if (len > LIMIT_NAME || (len == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += len;
		while (*p == '/')
			p++;
	}
	return true;
}

bool path_is_simple_name(const char *s)
{
	size_t i;

	if (!s[0] || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
		       (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (i = 0; s[i]; i++) {
		char c = s[i];

		if (i >= 64)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int path_mkdirs(const char *path, unsigned mode, struct err *e)
{
	char tmp[LIMIT_PATH];
	size_t len = strlen(path);
	char *p;

	if (len >= sizeof(tmp))
		return err_set(e, EXIT_VERIFY, "%s: path too long", path);
	memcpy(tmp, path, len + 1);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return err_errno(e, 0, "%s: cannot create directory", tmp);
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return err_errno(e, 0, "%s: cannot create directory", tmp);
	return 0;
}

/* Empties the directory open at fd; consumes fd. */
static int remove_contents(int fd, const char *path, struct err *e)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		close(fd);
		return err_errno(e, 0, "%s: cannot read directory", path);
	}
	while (rc == 0 && (de = readdir(d))) {
		int sub;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(fd, de->d_name, 0) == 0)
			continue;
		if (errno != EISDIR && errno != EPERM) {
			rc = err_errno(e, 0, "%s/%s: cannot remove", path, de->d_name);
			break;
		}
		sub = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			rc = err_errno(e, 0, "%s/%s: cannot open", path, de->d_name);
			break;
		}
		rc = remove_contents(sub, de->d_name, e);
		if (rc == 0 && unlinkat(fd, de->d_name, AT_REMOVEDIR) < 0)
			rc = err_errno(e, 0, "%s/%s: cannot remove", path, de->d_name);
	}
	closedir(d);
	return rc;
}

int path_remove_tree(const char *path, struct err *e)
{
	int fd;

	if (unlink(path) == 0 || errno == ENOENT)
		return 0;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, 0, "%s: cannot open", path);
	if (remove_contents(fd, path, e) < 0)
		return -1;
	if (rmdir(path) < 0)
		return err_errno(e, 0, "%s: cannot remove", path);
	return 0;
}
