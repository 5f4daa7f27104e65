/* proc.c — see proc.h. */
#include "proc.h"
#include "clock.h"
#include "err.h"
#include "exitcode.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

int proc_spawn_detached(const char *const *argv, const char *log, pid_t *pid, struct err *e)
{
	int pfd[2], child_errno = 0;
	ssize_t got;
	pid_t p;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return err_errno(e, EXIT_SYSTEM, "pipe");
	p = fork();
	if (p < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return err_errno(e, EXIT_SYSTEM, "fork");
	}
	if (p == 0) {
		int in = open("/dev/null", O_RDONLY);
		int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		setsid();
		if (in >= 0 && out >= 0 && dup2(in, 0) >= 0 && dup2(out, 1) >= 0 &&
		    dup2(out, 2) >= 0) {
			signal(SIGPIPE, SIG_DFL);
			execv(argv[0], (char *const *)argv);
		}
		child_errno = errno;
		if (write(pfd[1], &child_errno, sizeof(child_errno)) < 0)
			_exit(127);
		_exit(127);
	}
	close(pfd[1]);
	do
		got = read(pfd[0], &child_errno, sizeof(child_errno));
	while (got < 0 && errno == EINTR);
	close(pfd[0]);
	if (got == (ssize_t)sizeof(child_errno)) {
		waitpid(p, NULL, 0);
		errno = child_errno;
		return err_errno(e, EXIT_SYSTEM, "%s: cannot start", argv[0]);
	}
	*pid = p;
	return 0;
}

static int unix_addr(const char *path, struct sockaddr_un *sa, struct err *e)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return err_set(e, EXIT_USAGE,
			       "%s: socket path longer than %zu bytes — use a shorter BANGER_HOME",
			       path, sizeof(sa->sun_path) - 1);
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

int proc_connect_unix(const char *path, struct err *e)
{
	struct sockaddr_un sa;
	int fd;

	if (unix_addr(path, &sa, e) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_errno(e, EXIT_SYSTEM, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err_errno(e, EXIT_GUEST, "%s: cannot connect", path);
		close(fd);
		return -1;
	}
	return fd;
}

int proc_wait_socket(const char *path, pid_t pid, int timeout_ms, struct err *e)
{
	struct sockaddr_un sa;
	int64_t deadline = now_ms() + timeout_ms;
	int status;

	if (unix_addr(path, &sa, e) < 0)
		return -1;
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return err_errno(e, EXIT_SYSTEM, "socket");
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(fd);
			return 0;
		}
		close(fd);
		if (pid > 0 && waitpid(pid, &status, WNOHANG) == pid)
			return err_set(e, EXIT_GUEST,
				       "the VMM (pid %d) exited (%s %d) before opening %s — see "
				       "the VM's log ('banger vm logs NAME')",
				       (int)pid, WIFSIGNALED(status) ? "signal" : "status",
				       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
				       path);
		if (now_ms() > deadline)
			return err_set(e, EXIT_GUEST,
				       "%s: no VMM answered within %d ms — see the VM's log", path,
				       timeout_ms);
		poll(NULL, 0, 10);
	}
}
