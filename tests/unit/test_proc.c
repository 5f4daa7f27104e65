/* test_proc.c — the child-process runner against real programs. */
#include "harness.h"
#include "err.h"
#include "exitcode.h"
#include "proc.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void status_and_streams(void)
{
	const char *echo[] = { "/bin/sh", "-c", "cat; echo oops >&2; exit 3", NULL };
	char out[64], errb[64];
	struct proc_io io = { .input = "hello\n",
			      .input_len = 6,
			      .out = out,
			      .out_size = sizeof(out),
			      .err = errb,
			      .err_size = sizeof(errb) };
	struct err e;

	err_init(&e);
	CHECK(proc_run(echo, &io, &e) == 3);
	CHECK_STR(out, "hello\n");
	CHECK_STR(errb, "oops\n");
	CHECK(io.out_len == 6 && io.err_len == 5);
}

static void signals_and_missing(void)
{
	const char *killed[] = { "/bin/sh", "-c", "kill -TERM $$", NULL };
	const char *missing[] = { "/nonexistent/prog", NULL };
	const char *on_path[] = { "true", NULL };
	struct proc_io io = { 0 };
	struct err e;

	err_init(&e);
	CHECK(proc_run(killed, &io, &e) == 128 + SIGTERM);
	CHECK(proc_run(missing, &io, &e) == -1 && e.code == EXIT_NOTFOUND);
	CHECK(strstr(e.msg, "/nonexistent/prog: cannot run it") != NULL);
	err_init(&e);
	CHECK(proc_run(on_path, &io, &e) == -1 && e.code == EXIT_NOTFOUND);
	io.search_path = true;
	CHECK(proc_run(on_path, &io, &e) == 0);
}

static const char *go_to_tmp(void *arg)
{
	return chdir(arg) < 0 ? "its directory" : NULL;
}

static const char *refuse(void *arg)
{
	errno = EACCES;
	return "a test step";
}

/* The environment, a log fd and the setup hook (chroot-style callers). */
static void env_log_setup(void)
{
	const char *show[] = { "/bin/sh", "-c", "echo \"$FOO:$HOME\"; pwd; echo to-err >&2", NULL };
	const char *env[] = { "FOO=bar", NULL };
	char out[256], log[300], text[256] = "", tmp[256];
	struct proc_io io = { .out = out, .out_size = sizeof(out), .env = env };
	struct err e;
	ssize_t n;
	int fd;

	err_init(&e);
	snprintf(tmp, sizeof(tmp), "%s", harness_tmpdir());
	CHECK(proc_run(show, &io, &e) == 0);
	CHECK(!strncmp(out, "bar:\n", 5));
	io.setup = go_to_tmp;
	io.setup_arg = tmp;
	CHECK(proc_run(show, &io, &e) == 0);
	CHECK(strstr(out, tmp) != NULL);
	io.setup = refuse;
	CHECK(proc_run(show, &io, &e) == -1 && e.code == EXIT_SYSTEM);
	CHECK(strstr(e.msg, "/bin/sh: cannot set up a test step: Permission denied") != NULL);
	snprintf(log, sizeof(log), "%s/log", tmp);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	io = (struct proc_io){ .log_fd = fd, .env = env };
	CHECK(fd >= 0 && proc_run(show, &io, &e) == 0);
	close(fd);
	fd = open(log, O_RDONLY);
	n = fd >= 0 ? read(fd, text, sizeof(text) - 1) : -1;
	text[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	CHECK(!strncmp(text, "bar:\n", 5) && strstr(text, "to-err\n"));
}

/* A child that writes more than we keep, or reads less than we give, must
 * neither block nor kill us with SIGPIPE. */
static void big_streams(void)
{
	const char *chatty[] = { "/bin/sh", "-c", "yes x | head -c 1000000", NULL };
	const char *deaf[] = { "/bin/true", NULL };
	static char big[1 << 20];
	char out[16];
	struct proc_io io = { .out = out, .out_size = sizeof(out) };
	struct err e;

	err_init(&e);
	CHECK(proc_run(chatty, &io, &e) == 0);
	CHECK(io.out_len == 1000000 && strlen(out) == 15);
	memset(big, 'y', sizeof(big));
	io = (struct proc_io){ .input = big, .input_len = sizeof(big) };
	CHECK(proc_run(deaf, &io, &e) == 0);
}

static void timeout(void)
{
	const char *slow[] = { "/bin/sleep", "5", NULL };
	struct proc_io io = { .timeout_ms = 100 };
	struct err e;

	err_init(&e);
	CHECK(proc_run(slow, &io, &e) == -1 && strstr(e.msg, "killed"));
}

/* Gone, or a zombie waiting for whoever reaps orphans here. */
static bool gone(pid_t pid)
{
	char path[64], stat[256] = "";
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return true;
	n = read(fd, stat, sizeof(stat) - 1);
	close(fd);
	stat[n > 0 ? n : 0] = '\0';
	return strstr(stat, ") Z ") != NULL;
}

/* The child of a banger that is SIGKILLed goes with it. */
static void dies_with_us(void)
{
	char path[300], pidtext[32] = "";
	int status, fd;
	pid_t mid, grandchild = 0;

	snprintf(path, sizeof(path), "%s/pid", harness_tmpdir());
	unlink(path);
	if ((mid = fork()) == 0) {
		char cmd[1024];
		const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
		struct proc_io io = { 0 };
		struct err e;

		snprintf(cmd, sizeof(cmd), "echo $$ >%s.tmp && mv %s.tmp %s && exec sleep 30", path,
			 path, path);
		proc_run(argv, &io, &e);
		_exit(0);
	}
	for (int i = 0; i < 500 && (fd = open(path, O_RDONLY)) < 0; i++)
		poll(NULL, 0, 10);
	if (fd >= 0) {
		ssize_t n = read(fd, pidtext, sizeof(pidtext) - 1);

		pidtext[n > 0 ? n : 0] = '\0';
		close(fd);
		grandchild = (pid_t)strtol(pidtext, NULL, 10);
	}
	CHECK(grandchild > 0);
	kill(mid, SIGKILL);
	waitpid(mid, &status, 0);
	for (int i = 0; i < 300 && grandchild > 0 && !gone(grandchild); i++)
		poll(NULL, 0, 10);
	CHECK(grandchild > 0 && gone(grandchild));
}

int main(void)
{
	HARNESS_BEGIN("proc");
	signal(SIGPIPE, SIG_DFL); /* as a plain program has it: feeding must not die */
	RUN(status_and_streams);
	RUN(signals_and_missing);
	RUN(env_log_setup);
	RUN(big_streams);
	RUN(timeout);
	RUN(dies_with_us);
	HARNESS_END();
}
