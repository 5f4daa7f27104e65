/* copy.c — see copy.h. */
#include "vm/copy.h"
#include "agent/agent.h"
#include "catalog/extract.h"
#include "err.h"
#include "exitcode.h"
#include "limits.h"
#include "path.h"
#include "vm/vm.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum kind { K_NONE, K_FILE, K_DIR, K_NOPARENT };

/* The last component of p (no trailing slashes) into out. */
static void base_of(const char *p, char *out, size_t size)
{
	size_t n = strlen(p);
	const char *b;

	while (n > 1 && p[n - 1] == '/')
		n--;
	b = p + n;
	while (b > p && b[-1] != '/')
		b--;
	snprintf(out, size, "%.*s", (int)(n - (size_t)(b - p)), b);
}

/* Its directory ("." or "/" for the edge cases) into out. */
static void dir_of(const char *p, char *out, size_t size)
{
	size_t n = strlen(p);

	while (n > 1 && p[n - 1] == '/')
		n--;
	while (n && p[n - 1] != '/')
		n--;
	while (n > 1 && p[n - 1] == '/')
		n--;
	snprintf(out, size, "%.*s", n ? (int)n : 1, n ? p : ".");
}

static bool ends_with(const char *s, const char *tail)
{
	size_t a = strlen(s), b = strlen(tail);

	return a >= b && !strcmp(s + a - b, tail);
}

/* Runs argv in the guest; its stdout (small) into out. */
static int guest_run(const struct agent_addr *a, const char *const *argv, int in_fd, int out_fd,
		     int *status, struct err *e)
{
	struct agent_exec_opts x = { .argv = argv, .in_fd = in_fd, .out_fd = out_fd, .err_fd = 2 };

	if (agent_exec(a, VM_AGENT_TIMEOUT_MS, &x, status, e) < 0)
		return err_prefix(e, "guest");
	return 0;
}

/* What remote (a trailing '/' aside) is in the guest. */
static int guest_kind(const struct agent_addr *a, const char *path, enum kind *k, struct err *e)
{
	char remote[LIMIT_PATH], ans[8] = "";
	const char *const argv[] = {
		"sh",
		"-c",
		"if [ -d \"$1\" ]; then echo d; elif [ -e \"$1\" ]; then echo f; "
		"elif [ -d \"$(dirname \"$1\")\" ]; then echo n; else echo p; fi",
		"sh",
		remote,
		NULL
	};
	size_t len = strlen(path);
	int pfd[2], status = 0;
	ssize_t n;

	while (len > 1 && path[len - 1] == '/')
		len--;
	if (len >= sizeof(remote))
		return err_set(e, EXIT_USAGE, "%s: path too long", path);
	memcpy(remote, path, len);
	remote[len] = '\0';
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return err_errno(e, EXIT_SYSTEM, "pipe");
	if (guest_run(a, argv, -1, pfd[1], &status, e) < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	close(pfd[1]);
	n = read(pfd[0], ans, sizeof(ans) - 1);
	close(pfd[0]);
	if (status || n < 1)
		return err_set(e, EXIT_GUEST, "guest: cannot look at %s (exit %d)", remote, status);
	*k = ans[0] == 'd' ? K_DIR : ans[0] == 'f' ? K_FILE : ans[0] == 'n' ? K_NONE : K_NOPARENT;
	return 0;
}

/* ---- in: a tar of a local tree written into a pipe by a thread ---------- */

struct tar_job {
	const char *src; /* the local directory */
	const char *top; /* the name its root gets in the archive ("." for contents) */
	int fd;		 /* write end, closed when done */
	struct err e;
	int rc;
};

static int tar_write_tree(struct tar_job *j)
{
	struct archive *disk = archive_read_disk_new(), *out = archive_write_new();
	struct archive_entry *ae;
	size_t skip = strlen(j->src);
	char name[LIMIT_PATH], buf[65536];
	int r, rc = -1;

	if (!disk || !out) {
		err_set(&j->e, EXIT_SYSTEM, "out of memory");
		goto done;
	}
	archive_read_disk_set_standard_lookup(disk);
	archive_read_disk_set_symlink_physical(disk);
	if (archive_write_set_format_pax_restricted(out) != ARCHIVE_OK ||
	    archive_write_open_fd(out, j->fd) != ARCHIVE_OK ||
	    archive_read_disk_open(disk, j->src) != ARCHIVE_OK) {
		err_set(&j->e, EXIT_SYSTEM, "%s: %s", j->src,
			archive_error_string(disk) ? archive_error_string(disk) : "cannot read");
		goto done;
	}
	while (skip > 1 && j->src[skip - 1] == '/')
		skip--;
	for (;;) {
		const char *p;
		int fd;

		ae = archive_entry_new();
		r = archive_read_next_header2(disk, ae);
		if (r == ARCHIVE_EOF) {
			archive_entry_free(ae);
			break;
		}
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			err_set(&j->e, EXIT_SYSTEM, "%s: %s", j->src, archive_error_string(disk));
			archive_entry_free(ae);
			goto done;
		}
		archive_read_disk_descend(disk);
		p = archive_entry_pathname(ae) + skip;
		if ((size_t)snprintf(name, sizeof(name), "%s%s", j->top, p) >= sizeof(name)) {
			err_set(&j->e, EXIT_USAGE, "%s%s: path too long", j->top, p);
			archive_entry_free(ae);
			goto done;
		}
		archive_entry_set_pathname(ae, name);
		if (archive_write_header(out, ae) != ARCHIVE_OK) {
			err_set(&j->e, EXIT_GUEST, "tar to the guest: %s",
				archive_error_string(out));
			archive_entry_free(ae);
			goto done;
		}
		if (archive_entry_filetype(ae) == AE_IFREG && archive_entry_size(ae) > 0) {
			ssize_t n;

			if ((fd = open(archive_entry_sourcepath(ae), O_RDONLY | O_CLOEXEC)) < 0) {
				err_errno(&j->e, EXIT_SYSTEM, "%s", archive_entry_sourcepath(ae));
				archive_entry_free(ae);
				goto done;
			}
			while ((n = read(fd, buf, sizeof(buf))) > 0)
				if (archive_write_data(out, buf, (size_t)n) < 0)
					break;
			close(fd);
		}
		archive_entry_free(ae);
	}
	if (archive_write_close(out) != ARCHIVE_OK) {
		err_set(&j->e, EXIT_GUEST, "tar to the guest: %s", archive_error_string(out));
		goto done;
	}
	rc = 0;
done:
	archive_read_free(disk);
	archive_write_free(out);
	return rc;
}

static void *tar_thread(void *arg)
{
	struct tar_job *j = arg;

	j->rc = tar_write_tree(j);
	close(j->fd);
	return NULL;
}

/* Streams the local directory src as top/... into the guest's dir. */
static int dir_in(const struct agent_addr *a, const char *src, const char *top, const char *dir,
		  struct err *e)
{
	const char *const argv[] = { "tar", "-x", "-p", "-f", "-", "-C", dir, NULL };
	struct tar_job j = { .src = src, .top = top };
	pthread_t t;
	int pfd[2], status = 0, rc;

	err_init(&j.e);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return err_errno(e, EXIT_SYSTEM, "pipe");
	j.fd = pfd[1];
	if (pthread_create(&t, NULL, tar_thread, &j)) {
		close(pfd[0]);
		close(pfd[1]);
		return err_set(e, EXIT_SYSTEM, "cannot start a thread");
	}
	rc = guest_run(a, argv, pfd[0], -1, &status, e);
	close(pfd[0]); /* a guest that stopped reading ends the writer (EPIPE) */
	pthread_join(t, NULL);
	if (j.rc < 0) {
		*e = j.e;
		return -1;
	}
	if (rc < 0)
		return -1;
	if (status)
		return err_set(e, EXIT_GUEST, "guest: tar -x into %s failed (exit %d)", dir,
			       status);
	return 0;
}

int vm_copy_in(const struct agent_addr *a, const char *local, const char *remote, long mode,
	       struct err *e)
{
	char dir[LIMIT_PATH], base[LIMIT_PATH], target[LIMIT_PATH];
	bool contents = ends_with(local, "/.") || !strcmp(local, ".");
	enum kind k;
	struct stat st;
	int fd, rc;

	if (guest_kind(a, remote, &k, e) < 0)
		return -1;
	if (k == K_NOPARENT)
		return err_set(e, EXIT_NOTFOUND, "%s: no such directory in the guest", remote);
	if (ends_with(remote, "/") && k != K_DIR)
		return err_set(e, k == K_NONE ? EXIT_NOTFOUND : EXIT_USAGE,
			       "%s: not a directory in the guest — drop the trailing '/' to name "
			       "the copy",
			       remote);
	if (!strcmp(local, "-")) {
		const char *const argv[] = { "tar", "-x", "-p", "-f", "-", "-C", remote, NULL };
		int status = 0;

		if (k != K_DIR)
			return err_set(e, k == K_NONE ? EXIT_NOTFOUND : EXIT_USAGE,
				       "%s: a tar on stdin goes into a directory, and this is none",
				       remote);
		if (guest_run(a, argv, 0, -1, &status, e) < 0)
			return -1;
		return status ? err_set(e, EXIT_GUEST, "guest: tar -x into %s failed (exit %d)",
					remote, status)
			      : 0;
	}
	if (stat(local, &st) < 0)
		return err_errno(e, errno == ENOENT ? EXIT_NOTFOUND : EXIT_SYSTEM, "%s", local);
	base_of(local, base, sizeof(base));
	if (S_ISDIR(st.st_mode)) {
		if (k == K_FILE)
			return err_set(e, EXIT_USAGE,
				       "cannot copy directory %s onto the guest's file %s", local,
				       remote);
		if (k == K_DIR && !contents)
			return dir_in(a, local, base, remote, e);
		if (k == K_DIR)
			return dir_in(a, local, ".", remote, e);
		/* A new directory: it is the copy (or gets the contents). */
		dir_of(remote, dir, sizeof(dir));
		base_of(remote, target, sizeof(target));
		return dir_in(a, local, target, dir, e);
	}
	if (contents)
		return err_set(e, EXIT_USAGE, "%s: not a directory", local);
	if (k == K_DIR) {
		if (path_join(target, sizeof(target), remote, base, e) < 0)
			return -1;
		remote = target;
	}
	if ((fd = open(local, O_RDONLY | O_CLOEXEC)) < 0)
		return err_errno(e, EXIT_SYSTEM, "%s", local);
	rc = agent_put(a, VM_AGENT_TIMEOUT_MS, fd, remote, mode, -1, -1, e);
	close(fd);
	return rc;
}

/* ---- out: the guest's tar unpacked by a thread, confined ---------------- */

struct untar_job {
	const char *dest; /* an existing local directory */
	int fd;		  /* read end */
	struct err e;
	int rc;
};

static void *untar_thread(void *arg)
{
	struct untar_job *j = arg;
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	struct extract x;
	char buf[16];
	int r;

	j->rc = -1;
	if (!a || archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    extract_open(&x, j->dest, "the guest's tar", &j->e) < 0) {
		if (!j->e.code)
			err_set(&j->e, EXIT_SYSTEM, "out of memory");
		goto drain;
	}
	if (archive_read_open_fd(a, j->fd, 65536) != ARCHIVE_OK) {
		err_set(&j->e, EXIT_GUEST, "the guest's tar: %s", archive_error_string(a));
		extract_close(&x);
		goto drain;
	}
	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK)
		if ((r = extract_entry(&x, a, ae, &j->e)) != 0)
			break;
	if (r == EXTRACT_ARCHIVE_FAILED || (r != ARCHIVE_EOF && r != 0 && !j->e.code))
		err_set(&j->e, EXIT_GUEST, "the guest's tar: %s", archive_error_string(a));
	else if (r == ARCHIVE_EOF)
		j->rc = 0;
	extract_close(&x);
drain:
	/* Keep reading so the agent's writes never block on a full pipe. */
	while (read(j->fd, buf, sizeof(buf)) > 0)
		;
	archive_read_free(a);
	return NULL;
}

/* tar -c in the guest of cdir's entry name, unpacked into the local dest. */
static int dir_out(const struct agent_addr *a, const char *cdir, const char *name, const char *dest,
		   struct err *e)
{
	const char *const argv[] = { "tar", "-c", "-f", "-", "-C", cdir, name, NULL };
	struct untar_job j = { .dest = dest };
	pthread_t t;
	int pfd[2], status = 0, rc;

	err_init(&j.e);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return err_errno(e, EXIT_SYSTEM, "pipe");
	j.fd = pfd[0];
	if (pthread_create(&t, NULL, untar_thread, &j)) {
		close(pfd[0]);
		close(pfd[1]);
		return err_set(e, EXIT_SYSTEM, "cannot start a thread");
	}
	rc = guest_run(a, argv, -1, pfd[1], &status, e);
	close(pfd[1]);
	pthread_join(t, NULL);
	close(pfd[0]);
	if (rc < 0)
		return -1;
	if (status)
		return err_set(e, EXIT_GUEST, "guest: tar -c of %s/%s failed (exit %d)", cdir, name,
			       status);
	if (j.rc < 0) {
		*e = j.e;
		return -1;
	}
	return 0;
}

int vm_copy_out(const struct agent_addr *a, const char *remote, const char *local, struct err *e)
{
	char cdir[LIMIT_PATH], base[LIMIT_PATH], target[LIMIT_PATH], parent[LIMIT_PATH];
	bool contents = ends_with(remote, "/.");

	struct stat st;
	bool exists;
	enum kind k;

	if (guest_kind(a, remote, &k, e) < 0)
		return -1;
	if (k == K_NONE || k == K_NOPARENT)
		return err_set(e, EXIT_NOTFOUND, "%s: no such file or directory in the guest",
			       remote);
	dir_of(remote, cdir, sizeof(cdir));
	base_of(remote, base, sizeof(base));
	if (!strcmp(local, "-")) {
		const char *const argv[] = { "tar", "-c", "-f", "-", "-C", cdir, base, NULL };
		int status = 0;

		if (guest_run(a, argv, -1, 1, &status, e) < 0)
			return -1;
		return status ? err_set(e, EXIT_GUEST, "guest: tar -c of %s failed (exit %d)",
					remote, status)
			      : 0;
	}
	exists = stat(local, &st) == 0;
	if (!exists && errno != ENOENT)
		return err_errno(e, EXIT_SYSTEM, "%s", local);
	if (ends_with(local, "/") && !(exists && S_ISDIR(st.st_mode)))
		return err_set(e, exists ? EXIT_USAGE : EXIT_NOTFOUND,
			       "%s: not a directory — drop the trailing '/' to name the copy",
			       local);
	if (k == K_FILE) {
		if (contents)
			return err_set(e, EXIT_USAGE, "%s: not a directory in the guest", remote);
		if (exists && S_ISDIR(st.st_mode)) {
			if (path_join(target, sizeof(target), local, base, e) < 0)
				return -1;
			local = target;
		}
		dir_of(local, parent, sizeof(parent));
		if (access(parent, F_OK) < 0)
			return err_errno(e, EXIT_NOTFOUND, "%s", parent);
		return agent_get(a, VM_AGENT_TIMEOUT_MS, remote, local, -1, e);
	}
	if (exists && !S_ISDIR(st.st_mode))
		return err_set(e, EXIT_USAGE, "cannot copy the guest's directory %s onto file %s",
			       remote, local);
	if (exists && contents)
		return dir_out(a, remote, ".", local, e);
	if (exists)
		return dir_out(a, cdir, base, local, e);
	/* A new local directory: the copy, named as asked, gets the contents. */
	dir_of(local, parent, sizeof(parent));
	if (stat(parent, &st) < 0 || !S_ISDIR(st.st_mode))
		return err_set(e, EXIT_NOTFOUND, "%s: no such directory", parent);
	if (mkdir(local, 0755) < 0)
		return err_errno(e, EXIT_SYSTEM, "%s: cannot create", local);
	return dir_out(a, remote, ".", local, e);
}
