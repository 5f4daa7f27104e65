/* mke2fs.c — the interim builder: mke2fs -d over a staging tree, until
 * image-pull feeds the native writer (ext4.c) directly. */
#include "ext4/ext4.h"
#include "err.h"
#include "exitcode.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void exec_mke2fs(char **argv)
{
	static const char *const where[] = { "/usr/sbin/mke2fs", "/sbin/mke2fs" };

	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++)
		execv(where[i], argv);
	execvp("mke2fs", argv);
	dprintf(2, "cannot run mke2fs: %s (install e2fsprogs)\n", strerror(errno));
	_exit(127);
}

int ext4_build_mke2fs(const char *tree, const char *out, const struct ext4_plan *p,
		      const char *label, struct err *e)
{
	char inodes[32], lbl[17], msg[2048], ext[160], fake[32];
	char *argv[24];
	int argc = 0, pipefd[2], fd, status;
	size_t mlen = 0;
	pid_t pid;

	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return err_errno(e, 0, "%s: cannot create", out);
	if (ftruncate(fd, (off_t)p->bytes) < 0) {
		err_errno(e, 0, "%s: cannot size to %" PRIu64 " bytes", out, p->bytes);
		close(fd);
		unlink(out);
		return -1;
	}
	close(fd);
	snprintf(inodes, sizeof(inodes), "%" PRIu64, p->inodes);
	snprintf(lbl, sizeof(lbl), "%s", label ? label : "banger");
	argv[argc++] = "mke2fs";
	argv[argc++] = "-q";
	argv[argc++] = "-F";
	argv[argc++] = "-t";
	argv[argc++] = "ext4";
	argv[argc++] = "-b";
	argv[argc++] = "4096";
	if (p->inodes) {
		argv[argc++] = "-N";
		argv[argc++] = inodes;
	}
	argv[argc++] = "-L";
	argv[argc++] = lbl;
	if (p->uuid) {
		argv[argc++] = "-U";
		argv[argc++] = (char *)p->uuid;
	}
	snprintf(ext, sizeof(ext), "lazy_itable_init=0,lazy_journal_init=1,nodiscard%s%s",
		 p->uuid ? ",hash_seed=" : "", p->uuid ? p->uuid : "");
	argv[argc++] = "-E";
	argv[argc++] = ext;
	argv[argc++] = "-d";
	argv[argc++] = (char *)tree;
	argv[argc++] = (char *)out;
	argv[argc] = NULL;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return err_errno(e, EXIT_SYSTEM, "pipe");
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return err_errno(e, EXIT_SYSTEM, "fork");
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		signal(SIGPIPE, SIG_DFL);
		/* e2fsprogs' own knob for a fixed "now" (superblock times). */
		if (p->epoch) {
			snprintf(fake, sizeof(fake), "%lld", (long long)p->epoch);
			setenv("E2FSPROGS_FAKE_TIME", fake, 1);
		}
		exec_mke2fs(argv);
	}
	close(pipefd[1]);
	/* Keep the end of what mke2fs says: its error is the last line. */
	for (;;) {
		char chunk[512];
		ssize_t n = read(pipefd[0], chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (mlen + (size_t)n > sizeof(msg) - 1) {
			size_t drop = mlen + (size_t)n - (sizeof(msg) - 1);

			memmove(msg, msg + drop, mlen - drop);
			mlen -= drop;
		}
		memcpy(msg + mlen, chunk, (size_t)n);
		mlen += (size_t)n;
	}
	close(pipefd[0]);
	msg[mlen] = '\0';
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return err_errno(e, EXIT_SYSTEM, "waitpid mke2fs");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	unlink(out);
	while (mlen && (msg[mlen - 1] == '\n' || msg[mlen - 1] == ' '))
		msg[--mlen] = '\0';
	{
		char *last = strrchr(msg, '\n');

		last = last ? last + 1 : msg;
		if (strstr(msg, "No space left"))
			return err_set(e, EXIT_SYSTEM,
				       "%s: disk full while building the ext4 image (%s) — free "
				       "some space",
				       out, last);
		if (WIFSIGNALED(status))
			return err_set(e, EXIT_SIGNAL + WTERMSIG(status),
				       "mke2fs killed by signal %d", WTERMSIG(status));
		return err_set(e, EXIT_SYSTEM, "mke2fs -d %s failed (exit %d): %s", tree,
			       WEXITSTATUS(status), *last ? last : "no message");
	}
}
