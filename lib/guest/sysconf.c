/* sysconf.c — see sysconf.h. */
#include "guest/sysconf.h"
#include "buf.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "limits.h"
#include "path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HOSTS_MARK "\t# banger"
#define LIMIT_ETC_FILE (1024 * 1024)

/* Reads ROOT/rel into b; a missing file is empty. 1 if it existed. */
static int read_rel(const char *root, const char *rel, char *path, size_t psize, char **out,
		    size_t *len, struct err *e)
{
	if (path_join(path, psize, root, rel, e) < 0)
		return -1;
	*out = NULL;
	*len = 0;
	if (file_read_all(path, LIMIT_ETC_FILE, out, len, e) < 0) {
		if (e->code != EXIT_NOTFOUND)
			return -1;
		err_init(e);
		return 0;
	}
	return 1;
}

/* Writes data to path unless the file already holds exactly that. */
static int write_if_changed(const char *path, const char *old, size_t oldlen, bool existed,
			    const char *data, size_t len, mode_t mode, bool *changed, struct err *e)
{
	if (existed && old && oldlen == len && !memcmp(old, data, len)) {
		*changed = false;
		return 0;
	}
	*changed = true;
	return file_write_atomic(path, data, len, mode, e);
}

static int mkdir_rel(const char *root, const char *rel, unsigned mode, struct err *e)
{
	char path[LIMIT_PATH];

	if (path_join(path, sizeof(path), root, rel, e) < 0)
		return -1;
	return path_mkdirs(path, mode, e);
}

int sysconf_hostname(const char *root, const char *name, bool *changed, struct err *e)
{
	char path[LIMIT_PATH], *old = NULL;
	size_t oldlen;
	struct buf b;
	bool ch1 = false, ch2 = false;
	int existed, rc = -1;

	buf_init(&b, LIMIT_ETC_FILE, "/etc/hosts");
	if (mkdir_rel(root, "etc", 0755, e) < 0)
		return -1;
	existed = read_rel(root, "etc/hostname", path, sizeof(path), &old, &oldlen, e);
	if (existed < 0 || buf_appendf(&b, e, "%s\n", name) < 0 ||
	    write_if_changed(path, old, oldlen, existed, b.data, b.len, 0644, &ch1, e) < 0)
		goto out;
	free(old);
	old = NULL;
	buf_reset(&b);

	existed = read_rel(root, "etc/hosts", path, sizeof(path), &old, &oldlen, e);
	if (existed < 0)
		goto out;
	if (!existed && buf_appendf(&b, e,
				    "127.0.0.1\tlocalhost\n::1\t\tlocalhost "
				    "ip6-localhost ip6-loopback\n") < 0)
		goto out;
	/* Keep every line but ours, then add ours for the current name. */
	for (char *line = old; line && *line;) {
		char *nl = strchr(line, '\n');
		size_t l = nl ? (size_t)(nl - line) : strlen(line);
		size_t ml = sizeof(HOSTS_MARK) - 1;

		if (!(l >= ml && !memcmp(line + l - ml, HOSTS_MARK, ml)) &&
		    (buf_append(&b, line, l, e) < 0 || buf_append(&b, "\n", 1, e) < 0))
			goto out;
		line = nl ? nl + 1 : line + l;
	}
	if (buf_appendf(&b, e, "127.0.1.1\t%s%s\n", name, HOSTS_MARK) < 0 ||
	    write_if_changed(path, old, oldlen, existed, b.data, b.len, 0644, &ch2, e) < 0)
		goto out;
	rc = 0;
out:
	*changed = ch1 || ch2;
	free(old);
	buf_fini(&b);
	return rc;
}

/* True when the text holds line (without its newline) as a whole line. */
static bool has_line(const char *text, const char *line, size_t len)
{
	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);

		if (l == len && !memcmp(p, line, len))
			return true;
		p = nl ? nl + 1 : p + l;
	}
	return false;
}

int sysconf_ssh_keys(const char *root, const char *keys, struct err *e)
{
	char path[LIMIT_PATH], *old = NULL;
	size_t oldlen;
	struct buf b;
	int existed, added = 0, rc = -1;

	buf_init(&b, LIMIT_ETC_FILE, "authorized_keys");
	if (mkdir_rel(root, "root", 0700, e) < 0 || mkdir_rel(root, "root/.ssh", 0700, e) < 0)
		return -1;
	if (path_join(path, sizeof(path), root, "root/.ssh", e) < 0 || chmod(path, 0700) < 0 ||
	    chown(path, 0, 0) < 0) {
		if (!e->code)
			err_errno(e, 0, "%s: cannot make it private to root", path);
		return -1;
	}
	existed = read_rel(root, "root/.ssh/authorized_keys", path, sizeof(path), &old, &oldlen, e);
	if (existed < 0)
		goto out;
	if (old && buf_append(&b, old, oldlen, e) < 0)
		goto out;
	if (b.len && b.data[b.len - 1] != '\n' && buf_append(&b, "\n", 1, e) < 0)
		goto out;
	for (const char *p = keys; *p;) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);

		while (l && (p[l - 1] == '\r' || p[l - 1] == ' '))
			l--;
		if (l && p[0] != '#' && !has_line(b.data, p, l)) {
			if (buf_append(&b, p, l, e) < 0 || buf_append(&b, "\n", 1, e) < 0)
				goto out;
			added++;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	if (added && file_write_atomic(path, b.data, b.len, 0600, e) < 0)
		goto out;
	if (chown(path, 0, 0) < 0 && errno != ENOENT) {
		err_errno(e, 0, "%s: chown root", path);
		goto out;
	}
	rc = added;
out:
	free(old);
	buf_fini(&b);
	return rc;
}

int sysconf_dns(const char *root, const char *const *servers, int n, bool *changed, struct err *e)
{
	char path[LIMIT_PATH], *old = NULL;
	size_t oldlen;
	struct buf b;
	struct stat st;
	int existed, rc = -1;

	*changed = false;
	buf_init(&b, LIMIT_ETC_FILE, "resolv.conf");
	if (mkdir_rel(root, "etc", 0755, e) < 0 ||
	    buf_appendf(&b, e, "# from banger.dns (first-boot)\n") < 0)
		goto out;
	for (int i = 0; i < n; i++)
		if (buf_appendf(&b, e, "nameserver %s\n", servers[i]) < 0)
			goto out;
	if (path_join(path, sizeof(path), root, "etc/resolv.conf", e) < 0)
		goto out;
	/* A symlink is replaced even if its target holds the same text. */
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		*changed = true;
		rc = file_write_atomic(path, b.data, b.len, 0644, e);
		goto out;
	}
	existed = read_rel(root, "etc/resolv.conf", path, sizeof(path), &old, &oldlen, e);
	if (existed < 0)
		goto out;
	rc = write_if_changed(path, old, oldlen, existed, b.data, b.len, 0644, changed, e);
out:
	free(old);
	buf_fini(&b);
	return rc;
}

int sysconf_install_unit(const char *dir, const char *name, const char *text, size_t len,
			 struct err *e)
{
	const char *p = text, *end = text + len;
	char path[LIMIT_PATH], dest[LIMIT_PATH];
	bool install = false;

	if (path_join(path, sizeof(path), dir, name, e) < 0 || path_mkdirs(dir, 0755, e) < 0 ||
	    file_write_atomic(path, text, len, 0644, e) < 0 ||
	    path_join(dest, sizeof(dest), "..", name, e) < 0)
		return -1;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;

		if (p < eol && *p == '[')
			install = eol - p == 9 && !strncmp(p, "[Install]", 9);
		else if (install && eol - p > 9 && !strncmp(p, "WantedBy=", 9))
			for (const char *t = p + 9; t < eol;) {
				const char *w = t;
				char wants[LIMIT_PATH];

				while (t < eol && *t != ' ' && *t != '\t')
					t++;
				if (t > w && (path_joinf(wants, sizeof(wants), e, dir, "%.*s.wants",
							 (int)(t - w), w) < 0 ||
					      path_mkdirs(wants, 0755, e) < 0 ||
					      path_join(path, sizeof(path), wants, name, e) < 0))
					return -1;
				if (t > w && symlink(dest, path) < 0 && errno != EEXIST)
					return err_errno(e, 0, "%s: cannot link", path);
				while (t < eol && (*t == ' ' || *t == '\t'))
					t++;
			}
		p = eol + 1;
	}
	return 0;
}

int sysconf_mask_units(const char *root, const char *const *units, int n, struct err *e)
{
	char dir[LIMIT_PATH], path[LIMIT_PATH], target[32];
	int made = 0;

	if (path_join(dir, sizeof(dir), root, "etc/systemd/system", e) < 0 ||
	    path_mkdirs(dir, 0755, e) < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		ssize_t l;

		if (path_join(path, sizeof(path), dir, units[i], e) < 0)
			return -1;
		l = readlink(path, target, sizeof(target) - 1);
		if (l >= 0 || errno != ENOENT) {
			/* Masked already, or someone else's unit or link: theirs to keep. */
			if (l >= 0 || access(path, F_OK) == 0 || errno != ENOENT)
				continue;
		}
		if (symlink("/dev/null", path) < 0)
			return err_errno(e, 0, "%s: cannot mask", path);
		made++;
	}
	return made;
}

static int os_release_in(const char *path, const char *key, char *out, size_t size, struct err *e)
{
	char *text, *line;
	size_t len, klen = strlen(key);
	int rc = 1;

	if (file_read_all(path, LIMIT_OS_RELEASE, &text, &len, e) < 0)
		return e->code == EXIT_NOTFOUND ? 2 : -1;
	for (line = text; line && *line;) {
		char *nl = strchr(line, '\n');

		if (nl)
			*nl = '\0';
		if (!strncmp(line, key, klen) && line[klen] == '=') {
			char *v = line + klen + 1;
			size_t vl = strlen(v);

			if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
				v++;
				vl -= 2;
			}
			if (vl >= size) {
				rc = err_set(e, EXIT_VERIFY, "%s: %s value too long", path, key);
			} else {
				memcpy(out, v, vl);
				out[vl] = '\0';
				rc = 0;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	free(text);
	return rc;
}

int sysconf_os_release(const char *root, const char *key, char *out, size_t size, struct err *e)
{
	char path[LIMIT_PATH];
	int rc;

	if (path_join(path, sizeof(path), root, "etc/os-release", e) < 0)
		return -1;
	rc = os_release_in(path, key, out, size, e);
	if (rc != 2)
		return rc;
	if (path_join(path, sizeof(path), root, "usr/lib/os-release", e) < 0)
		return -1;
	rc = os_release_in(path, key, out, size, e);
	if (rc == 2) {
		err_init(e);
		return 1;
	}
	return rc;
}
