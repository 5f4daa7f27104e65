/* proc.c — see proc.h. */
#include "proc.h"
#include "clock.h"
#include "err.h"
#include "exitcode.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* What a child that could not start sends back before it exits. */
struct failure {
	int errnum;
	const char *what; /* NULL: the exec; else the setup step (a literal) */
};

/* Forks argv with fd[0..2] as its standard streams; io (NULL for a
 * detached VMM) adds PATH search, an environment and a setup hook. The
 * exec's failure comes back through a close-on-exec pipe, so "not found" is
 * an error here, not a child that exits 127. A detached child gets its own
 * session and outlives us (a VMM); any other dies with us (PR_SET_PDEATHSIG),
 * so a killed banger leaves no helper writing on. */
static int start(const char *const *argv, const int fd[3], const struct proc_io *io, pid_t *pid,
		 struct err *e)
{
	struct failure f = { 0, NULL };
	int pfd[2];
	pid_t parent = getpid(), p;
	ssize_t got;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return err_errno(e, EXIT_SYSTEM, "pipe");
	p = fork();
	if (p < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return err_errno(e, EXIT_SYSTEM, "fork");
	}
	if (p == 0) {
		char *const *av = (char *const *)argv;
		char *const *env = io && io->env ? (char *const *)io->env : environ;
		sigset_t none;

		if (!io)
			setsid();
		else if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(127); /* the parent is already gone */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL); /* callers may block signals */
		signal(SIGPIPE, SIG_DFL);
		if (dup2(fd[0], 0) < 0 || dup2(fd[1], 1) < 0 || dup2(fd[2], 2) < 0)
			f.what = "its standard streams";
		if (!f.what && io && io->setup)
			f.what = io->setup(io->setup_arg);
		if (!f.what && io && io->search_path)
			execvpe(av[0], av, env);
		else if (!f.what)
			execve(av[0], av, env);
		f.errnum = errno;
		if (write(pfd[1], &f, sizeof(f)) < 0)
			_exit(127);
		_exit(127);
	}
	close(pfd[1]);
	do
		got = read(pfd[0], &f, sizeof(f));
	while (got < 0 && errno == EINTR);
	close(pfd[0]);
	if (got == (ssize_t)sizeof(f)) {
		waitpid(p, NULL, 0);
		errno = f.errnum;
		if (f.what)
			return err_errno(e, EXIT_SYSTEM, "%s: cannot set up %s", argv[0], f.what);
		return err_errno(e, f.errnum == ENOENT ? EXIT_NOTFOUND : EXIT_SYSTEM,
				 "%s: cannot run it", argv[0]);
	}
	*pid = p;
	return 0;
}

int proc_spawn_detached(const char *const *argv, const char *log, pid_t *pid, struct err *e)
{
	int in = open("/dev/null", O_RDONLY | O_CLOEXEC), out = -1, r = -1;

	if (in < 0)
		return err_errno(e, EXIT_SYSTEM, "/dev/null");
	out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (out < 0)
		err_errno(e, 0, "%s", log);
	else
		r = start(argv, (const int[3]){ in, out, out }, NULL, pid, e);
	close(in);
	if (out >= 0)
		close(out);
	return r;
}

void proc_kill(pid_t pid)
{
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

int proc_exec(const char *const *argv, struct err *e)
{
	execvp(argv[0], (char *const *)argv);
	return err_errno(e, errno == ENOENT ? EXIT_NOTFOUND : EXIT_SYSTEM, "%s: cannot run it",
			 argv[0]);
}

/* One captured stream: the first size-1 bytes kept, the rest counted. */
struct sink {
	int fd;
	char *buf;
	size_t size, *len;
};

static void sink_read(struct sink *k)
{
	char scratch[4096];
	size_t room = k->buf && *k->len + 1 < k->size ? k->size - 1 - *k->len : 0;
	ssize_t n =
		room ? read(k->fd, k->buf + *k->len, room) : read(k->fd, scratch, sizeof(scratch));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(k->fd);
		k->fd = -1;
		return;
	}
	if (room)
		k->buf[*k->len + (size_t)n] = '\0';
	*k->len += (size_t)n;
}

/* Writes what fits of the input; a child that stops reading ends it (EPIPE,
 * with SIGPIPE held back for this thread only). */
static void feed(int *fd, const char *in, size_t len, size_t *done)
{
	sigset_t pipe_set, old, pending;
	struct timespec zero = { 0, 0 };
	bool was_pending;
	ssize_t n;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	n = write(*fd, in + *done, len - *done);
	if (n < 0 && errno == EPIPE && !was_pending)
		sigtimedwait(&pipe_set, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (n > 0)
		*done += (size_t)n;
	if ((n < 0 && errno != EINTR && errno != EAGAIN) || *done == len) {
		close(*fd);
		*fd = -1;
	}
}

static int wait_child(pid_t p, int64_t deadline, int timeout_ms, const char *name, struct err *e)
{
	int status;

	for (;;) {
		pid_t w = waitpid(p, &status, deadline ? WNOHANG : 0);

		if (w == p)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (w < 0 && errno != EINTR)
			return err_errno(e, EXIT_SYSTEM, "wait for %s", name);
		if (w == 0 && now_ms() >= deadline) {
			kill(p, SIGKILL);
			waitpid(p, NULL, 0);
			return err_set(e, EXIT_SYSTEM, "%s: still running after %d ms, killed",
				       name, timeout_ms);
		}
		if (w == 0)
			poll(NULL, 0, 10);
	}
}

int proc_run(const char *const *argv, struct proc_io *io, struct err *e)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, er[2] = { -1, -1 }, fd[3], null, r = -1;
	int64_t deadline = io->timeout_ms > 0 ? now_ms() + io->timeout_ms : 0;
	struct sink sinks[2] = { { -1, io->out, io->out_size, &io->out_len },
				 { -1, io->err, io->err_size, &io->err_len } };
	size_t fed = 0;
	pid_t p;

	io->out_len = io->err_len = 0;
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		return err_errno(e, EXIT_SYSTEM, "/dev/null");
	if ((io->input && pipe2(in, O_CLOEXEC) < 0) || (io->out && pipe2(out, O_CLOEXEC) < 0) ||
	    (io->err && pipe2(er, O_CLOEXEC) < 0)) {
		err_errno(e, EXIT_SYSTEM, "pipe");
		goto out;
	}
	fd[0] = io->input ? in[0] : null;
	fd[1] = io->out ? out[1] : io->log_fd > 0 ? io->log_fd : null;
	fd[2] = io->err ? er[1] : io->log_fd > 0 ? io->log_fd : null;
	if (start(argv, fd, io, &p, e) < 0)
		goto out;
	close(in[0]);
	close(out[1]);
	close(er[1]);
	in[0] = out[1] = er[1] = -1;
	if (in[1] >= 0)
		fcntl(in[1], F_SETFL, O_NONBLOCK);
	sinks[0].fd = out[0];
	sinks[1].fd = er[0];
	out[0] = er[0] = -1;
	if (in[1] >= 0 && !io->input_len) {
		close(in[1]);
		in[1] = -1;
	}
	while (in[1] >= 0 || sinks[0].fd >= 0 || sinks[1].fd >= 0) {
		struct pollfd pf[3] = { { .fd = in[1], .events = POLLOUT },
					{ .fd = sinks[0].fd, .events = POLLIN },
					{ .fd = sinks[1].fd, .events = POLLIN } };
		int left = deadline ? (int)(deadline - now_ms()) : -1;

		if (deadline && left <= 0)
			break; /* wait_child kills it */
		if (poll(pf, 3, left) < 0 && errno != EINTR)
			break;
		if (pf[0].revents)
			feed(&in[1], io->input, io->input_len, &fed);
		for (int i = 0; i < 2; i++)
			if (pf[i + 1].revents)
				sink_read(&sinks[i]);
	}
	r = wait_child(p, deadline, io->timeout_ms, argv[0], e);
out:
	for (int i = 0; i < 2; i++) {
		if (sinks[i].fd >= 0)
			close(sinks[i].fd);
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (er[i] >= 0)
			close(er[i]);
	}
	close(null);
	return r;
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

pid_t proc_fork_daemon(const int *keep, size_t nkeep, struct err *e)
{
	pid_t pid = fork();
	DIR *d;

	if (pid < 0)
		return err_errno(e, EXIT_SYSTEM, "fork");
	if (pid > 0)
		return pid;
	/* The child: nothing of the command that made it but what it keeps
	 * (a lock's fd held on would lock the VM for good). */
	setsid();
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	if ((d = opendir("/proc/self/fd"))) {
		struct dirent *de;

		while ((de = readdir(d))) {
			int fd = (int)strtol(de->d_name, NULL, 10);
			bool kept = fd <= 2 || de->d_name[0] < '0' || de->d_name[0] > '9' ||
				    fd == dirfd(d);

			for (size_t i = 0; i < nkeep && !kept; i++)
				kept = keep[i] == fd;
			if (!kept)
				close(fd);
		}
		closedir(d);
	}
	return 0;
}
