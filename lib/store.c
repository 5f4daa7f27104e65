/* store.c — see store.h. */
#include "store.h"
#include "err.h"
#include "exitcode.h"
#include "lock.h"
#include "path.h"
#include "units.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int store_init(struct store *s, struct err *e)
{
	const char *env = getenv("BANGER_HOME");
	const char *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");

	if (env && *env)
		return path_join(s->home, sizeof(s->home), env, "", e);
	if (geteuid() == 0)
		return path_join(s->home, sizeof(s->home), "/var/lib/banger", "", e);
	if (xdg && *xdg == '/')
		return path_join(s->home, sizeof(s->home), xdg, "banger", e);
	if (home && *home == '/')
		return path_join(s->home, sizeof(s->home), home, ".local/share/banger", e);
	return err_set(e, EXIT_USAGE, "cannot find a home for banger's store — set BANGER_HOME");
}

int store_kind_dir(const struct store *s, const char *kind, char *out, size_t size, struct err *e)
{
	if (path_join(out, size, s->home, kind, e) < 0)
		return -1;
	return path_mkdirs(out, 0755, e);
}

int store_object_dir(const struct store *s, const char *kind, const char *name, char *out,
		     size_t size, struct err *e)
{
	if (!path_is_simple_name(name))
		return err_set(e, EXIT_USAGE,
			       "'%s': not a valid name — use letters, digits, '.', '_' and '-' "
			       "(at most 64, starting with a letter or digit)",
			       name);
	return path_joinf(out, size, e, s->home, "%s/%s", kind, name);
}

static int lock_path(const struct store *s, const char *kind, const char *name, char *path,
		     size_t size, struct err *e)
{
	char dir[LIMIT_PATH];

	if (!path_is_simple_name(name))
		return store_object_dir(s, kind, name, path, size, e);
	if (store_kind_dir(s, kind, dir, sizeof(dir), e) < 0)
		return -1;
	return path_joinf(path, size, e, dir, ".%s.lock", name);
}

int store_lock(const struct store *s, const char *kind, const char *name, bool *waited,
	       struct err *e)
{
	char path[LIMIT_PATH];
	int fd;

	if (lock_path(s, kind, name, path, sizeof(path), e) < 0)
		return -1;
	fd = lock_acquire(path, LOCK_EXCLUSIVE_MODE, true, waited, e);
	if (fd >= 0)
		store_sweep(s, kind);
	return fd;
}

int store_lock_existing(const struct store *s, const char *kind, const char *name, bool *waited,
			struct err *e)
{
	char dir[LIMIT_PATH], path[LIMIT_PATH];
	struct stat st;

	if (store_object_dir(s, kind, name, dir, sizeof(dir), e) < 0 ||
	    lock_path(s, kind, name, path, sizeof(path), e) < 0)
		return -1;
	/* No object, no lock file: a failed lookup leaves nothing. (One that
	 * exists has had its lock file since it was made.) */
	if (lstat(dir, &st) < 0 && lstat(path, &st) < 0) {
		store_sweep(s, kind);
		return err_set(e, EXIT_NOTFOUND, "%s: not found in %s", name, kind);
	}
	return store_lock(s, kind, name, waited, e);
}

int store_staging(const struct store *s, const char *kind, const char *name, char *out, size_t size,
		  struct err *e)
{
	char dir[LIMIT_PATH];

	if (!path_is_simple_name(name))
		return store_object_dir(s, kind, name, out, size, e);
	if (store_kind_dir(s, kind, dir, sizeof(dir), e) < 0 ||
	    path_joinf(out, size, e, dir, ".%s.staging.%d", name, (int)getpid()) < 0 ||
	    path_remove_tree(out, e) < 0)
		return -1;
	if (mkdir(out, 0755) < 0)
		return err_errno(e, 0, "%s: cannot create", out);
	return 0;
}

void store_sweep(const struct store *s, const char *kind)
{
	char dir[LIMIT_PATH], path[LIMIT_PATH], name[LIMIT_NAME + 1];
	struct err e;
	struct dirent *de;
	DIR *d;

	err_init(&e);
	if (path_join(dir, sizeof(dir), s->home, kind, &e) < 0 || !(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		const char *tag = strstr(de->d_name, ".staging.");
		char *end;
		long pid;
		size_t n;
		int lock;

		if (de->d_name[0] != '.' || !tag || tag == de->d_name)
			continue;
		pid = strtol(tag + 9, &end, 10);
		n = (size_t)(tag - de->d_name - 1);
		if (*end || pid <= 0 || n >= sizeof(name) || kill((pid_t)pid, 0) == 0 ||
		    errno == EPERM)
			continue; /* not a staging dir, or its maker is alive */
		memcpy(name, de->d_name + 1, n);
		name[n] = '\0';
		if (!path_is_simple_name(name) ||
		    lock_path(s, kind, name, path, sizeof(path), &e) < 0)
			continue;
		/* Under NAME's lock, so no live pull of NAME (a reused pid) is
		 * caught between its check and its mkdir; busy: next time. */
		lock = lock_acquire(path, LOCK_EXCLUSIVE_MODE, false, NULL, &e);
		if (lock < 0)
			continue;
		if (kill((pid_t)pid, 0) < 0 && errno == ESRCH &&
		    path_join(path, sizeof(path), dir, de->d_name, &e) == 0)
			path_remove_tree(path, &e);
		lock_release(lock);
	}
	closedir(d);
}

void store_sweep_staging(const struct store *s, const char *kind, const char *name)
{
	char dir[LIMIT_PATH], prefix[LIMIT_NAME + 16], path[LIMIT_PATH];
	struct err e;
	struct dirent *de;
	DIR *d;
	int n;

	err_init(&e);
	if (path_join(dir, sizeof(dir), s->home, kind, &e) < 0 || !(d = opendir(dir)))
		return;
	n = snprintf(prefix, sizeof(prefix), ".%s.staging.", name);
	while (n > 0 && (size_t)n < sizeof(prefix) && (de = readdir(d))) {
		uint64_t pid;

		if (strncmp(de->d_name, prefix, (size_t)n))
			continue;
		if (parse_u64(de->d_name + n, 10, 0x7fffffff, &pid) < 0 || !pid ||
		    (kill((pid_t)pid, 0) == 0 || errno == EPERM))
			continue; /* still alive: not ours to remove */
		if (path_join(path, sizeof(path), dir, de->d_name, &e) == 0)
			path_remove_tree(path, &e);
	}
	closedir(d);
}

bool store_first_time(const struct store *s, const char *what)
{
	char dir[LIMIT_PATH], path[LIMIT_PATH];
	struct err e;
	int fd;

	err_init(&e);
	if (store_kind_dir(s, "notices", dir, sizeof(dir), &e) < 0 ||
	    path_join(path, sizeof(path), dir, what, &e) < 0)
		return false;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}
