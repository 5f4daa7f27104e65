/* lock.c — see lock.h. */
#include "lock.h"
#include "err.h"
#include "exitcode.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

int lock_acquire(const char *path, enum lock_mode mode, bool wait, bool *waited, struct err *e)
{
	int op = mode == LOCK_SHARED_MODE ? LOCK_SH : LOCK_EX;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

	if (waited)
		*waited = false;
	if (fd < 0)
		return err_errno(e, 0, "%s: cannot open lock", path);
	if (flock(fd, op | LOCK_NB) == 0)
		return fd;
	if (errno != EWOULDBLOCK) {
		err_errno(e, 0, "%s: lock", path);
		close(fd);
		return -1;
	}
	if (!wait) {
		close(fd);
		return err_set(e, EXIT_BUSY, "%s: in use by another banger — try again later",
			       path);
	}
	if (waited)
		*waited = true;
	if (flock(fd, op) < 0) {
		err_errno(e, 0, "%s: waiting for lock", path);
		close(fd);
		return -1;
	}
	return fd;
}

void lock_release(int fd)
{
	if (fd >= 0)
		close(fd);
}
