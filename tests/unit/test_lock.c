/* Unit tests: lib/lock.c — exclusion across processes, waiting, release on death. */
#include "harness.h"

#include "err.h"
#include "exitcode.h"
#include "lock.h"
#include "path.h"

#include <sys/wait.h>
#include <unistd.h>

static void second_locker_is_refused_or_waits(void)
{
	const char *t = harness_tmpdir();
	char p[512];
	struct err e;
	int fd, pipefd[2];
	bool waited;
	pid_t pid;
	char c;

	path_join(p, sizeof(p), t, "lock", &e);
	CHECK(pipe(pipefd) == 0);
	pid = fork();
	if (pid == 0) {
		struct err ce;
		int cfd = lock_acquire(p, LOCK_EXCLUSIVE_MODE, false, NULL, &ce);

		if (write(pipefd[1], cfd >= 0 ? "y" : "n", 1) != 1)
			_exit(2);
		usleep(300 * 1000);
		_exit(0); /* dying releases the lock */
	}
	CHECK(read(pipefd[0], &c, 1) == 1 && c == 'y');
	err_init(&e);
	fd = lock_acquire(p, LOCK_EXCLUSIVE_MODE, false, NULL, &e);
	CHECK(fd == -1 && e.code == EXIT_BUSY);
	CHECK(lock_acquire(p, LOCK_SHARED_MODE, false, NULL, &e) == -1);
	fd = lock_acquire(p, LOCK_EXCLUSIVE_MODE, true, &waited, &e);
	CHECK(fd >= 0 && waited);
	lock_release(fd);
	waitpid(pid, NULL, 0);
	fd = lock_acquire(p, LOCK_SHARED_MODE, false, &waited, &e);
	int fd2 = lock_acquire(p, LOCK_SHARED_MODE, false, NULL, &e);
	CHECK(fd >= 0 && fd2 >= 0 && !waited); /* shared locks coexist */
	lock_release(fd);
	lock_release(fd2);
	close(pipefd[0]);
	close(pipefd[1]);
	path_remove_tree(t, &e);
}

int main(void)
{
	HARNESS_BEGIN("lock");
	RUN(second_locker_is_refused_or_waits);
	HARNESS_END();
}
