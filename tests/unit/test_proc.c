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
	RUN(big_streams);
	RUN(timeout);
	RUN(dies_with_us);
	HARNESS_END();
}
