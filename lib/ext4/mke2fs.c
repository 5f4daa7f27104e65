/* mke2fs.c — the interim builder: mke2fs -d over a staging tree, until
 * image-pull feeds the native writer (ext4.c) directly. */
#include "ext4/ext4.h"
#include "err.h"
#include "exitcode.h"
#include "proc.h"
#include "limits.h"

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

/* Runs an e2fsprogs tool on out (proc_run, blocks), keeping the end of
 * what it says for the error; epoch (when set) is its idea of "now". */
static int run_tool(char **argv, int64_t epoch, const char *tree, const char *out, struct err *e)
{
	char msg[2048], fake[48];
	const char *env[] = { "PATH=/usr/sbin:/sbin:/usr/bin:/bin", epoch ? fake : NULL, NULL };
	struct proc_io io = {
		.err = msg, .err_size = sizeof(msg), .search_path = true, .env = env
	};
	size_t mlen;
	int rc;

	/* e2fsprogs' own knob for a fixed "now" (superblock times). */
	snprintf(fake, sizeof(fake), "E2FSPROGS_FAKE_TIME=%lld", (long long)epoch);
	rc = proc_run((const char *const *)argv, &io, e);
	if (rc == 0)
		return 0;
	unlink(out);
	if (rc < 0)
		return err_prefix(e, "%s (install e2fsprogs)", argv[0]);
	mlen = strlen(msg);
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
		if (rc > 128)
			return err_set(e, EXIT_SIGNAL + rc - 128, "%s killed by signal %d", argv[0],
				       rc - 128);
		return err_set(e, EXIT_SYSTEM, "%s -d %s failed (exit %d): %s", argv[0], tree, rc,
			       *last ? last : "no message");
	}
}

/* mke2fs -d copies each file's ctime, which no one can set, and atime,
 * which its own reading of directories moves: with a fixed epoch every
 * inode in use gets it for both afterwards (debugfs), so the same tree
 * gives the same bytes. A fresh file system allocates inodes in order:
 * the root (2), then first_ino up to the count in use. */
static int fix_ctimes(const char *out, int64_t epoch, struct err *e)
{
	unsigned char sb[1024];
	char cmds[LIMIT_PATH + 16], *argv[6];
	uint32_t count, nfree, first;
	int fd = open(out, O_RDONLY | O_CLOEXEC);
	FILE *f;
	int rc;

	if (fd < 0 || pread(fd, sb, sizeof(sb), 1024) != (ssize_t)sizeof(sb)) {
		if (fd >= 0)
			close(fd);
		return err_errno(e, EXIT_SYSTEM, "%s: cannot read the superblock", out);
	}
	close(fd);
	count = (uint32_t)sb[0] | (uint32_t)sb[1] << 8 | (uint32_t)sb[2] << 16 |
		(uint32_t)sb[3] << 24;
	nfree = (uint32_t)sb[16] | (uint32_t)sb[17] << 8 | (uint32_t)sb[18] << 16 |
		(uint32_t)sb[19] << 24;
	first = (uint32_t)sb[84] | (uint32_t)sb[85] << 8 | (uint32_t)sb[86] << 16 |
		(uint32_t)sb[87] << 24;
	snprintf(cmds, sizeof(cmds), "%s.times", out);
	f = fopen(cmds, "we");
	if (!f)
		return err_errno(e, EXIT_SYSTEM, "%s: cannot create", cmds);
	for (uint32_t i = 2; nfree <= count && i <= count - nfree; i = i == 2 ? first : i + 1)
		fprintf(f, "sif <%u> ctime @%lld\nsif <%u> atime @%lld\n", i, (long long)epoch, i,
			(long long)epoch);
	if (fclose(f) != 0) {
		unlink(cmds);
		return err_errno(e, EXIT_SYSTEM, "%s: cannot write", cmds);
	}
	argv[0] = "debugfs";
	argv[1] = "-w";
	argv[2] = "-f";
	argv[3] = cmds;
	argv[4] = (char *)out;
	argv[5] = NULL;
	rc = run_tool(argv, epoch, out, out, e);
	unlink(cmds);
	return rc;
}

int ext4_build_mke2fs(const char *tree, const char *out, const struct ext4_plan *p,
		      const char *label, struct err *e)
{
	char inodes[32], lbl[17], ext[160];
	char *argv[24];
	int argc = 0, fd;

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

	if (run_tool(argv, p->epoch, tree, out, e) < 0)
		return -1;
	return p->epoch ? fix_ctimes(out, p->epoch, e) : 0;
}
