/* mke2fs.c — the interim builder: mke2fs -d over a staging tree, until
 * image-pull feeds the native writer (ext4.c) directly. */
#include "ext4/ext4.h"
#include "err.h"
#include "exitcode.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

/* mke2fs is in sbin, which a user's PATH may lack. */
static const char *mke2fs_path(bool *search)
{
	static const char *const where[] = { "/usr/sbin/mke2fs", "/sbin/mke2fs" };

	*search = false;
	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++)
		if (access(where[i], X_OK) == 0)
			return where[i];
	*search = true;
	return "mke2fs";
}

int ext4_build_mke2fs(const char *tree, const char *out, const struct ext4_plan *p,
		      const char *label, struct err *e)
{
	char inodes[32], lbl[17], msg[2048] = "", ext[160], fake[48];
	char *argv[24];
	const char **env;
	struct proc_io io = { 0 };
	int argc = 0, fd, status;
	size_t mlen = 0, nenv = 0;

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

	/* e2fsprogs' own knob for a fixed "now" (superblock times), added to
	 * our environment. */
	for (char **v = environ; *v; v++)
		nenv++;
	env = calloc(nenv + 2, sizeof(*env));
	if (!env) {
		unlink(out);
		return err_set(e, EXIT_SYSTEM, "out of memory");
	}
	nenv = 0;
	for (char **v = environ; *v; v++)
		if (strncmp(*v, "E2FSPROGS_FAKE_TIME=", 20))
			env[nenv++] = *v;
	if (p->epoch) {
		snprintf(fake, sizeof(fake), "E2FSPROGS_FAKE_TIME=%lld", (long long)p->epoch);
		env[nenv++] = fake;
	}
	io.env = env;
	io.err = msg;
	io.err_size = sizeof(msg);
	argv[0] = (char *)mke2fs_path(&io.search_path);
	/* proc_run: the child dies with banger (PR_SET_PDEATHSIG). */
	status = proc_run((const char *const *)argv, &io, e);
	free(env);
	if (status == 0)
		return 0;
	mlen = strlen(msg);
	if (status < 0) {
		unlink(out);
		if (e->code == EXIT_NOTFOUND)
			return err_set(e, EXIT_SYSTEM, "cannot run mke2fs (install e2fsprogs)");
		return -1;
	}
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
		if (status > EXIT_SIGNAL)
			return err_set(e, status, "mke2fs killed by signal %d",
				       status - EXIT_SIGNAL);
		return err_set(e, EXIT_SYSTEM, "mke2fs -d %s failed (exit %d): %s", tree, status,
			       *last ? last : "no message");
	}
}
