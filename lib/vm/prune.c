/* prune.c — see prune.h. */
#include "vm/prune.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "limits.h"
#include "lock.h"
#include "path.h"
#include "store.h"
#include "units.h"
#include "vm/vm.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void prune_line(char *out, size_t size, const char *what, const char *name, uint64_t bytes)
{
	char sz[32];

	format_size(bytes, sz, sizeof(sz));
	snprintf(out, size, "%-8s %s %s", what, name, sz);
}

static uint64_t tree_bytes;

static int add_size(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)path;
	(void)flag;
	(void)f;
	tree_bytes += (uint64_t)st->st_blocks * 512;
	return 0;
}

/* Disk space a file or tree takes (allocated blocks: sparse disks count
 * what they hold). nftw is not reentrant here, and need not be. */
static uint64_t du(const char *path)
{
	tree_bytes = 0;
	nftw(path, add_size, 16, FTW_PHYS | FTW_MOUNT);
	return tree_bytes;
}

/* Names of the simple-named entries of dir (sorted); *n their number. */
static char **entries(const char *dir, size_t *n, bool hidden, struct err *e)
{
	char **v = NULL;
	struct dirent *de;
	DIR *d = opendir(dir);

	*n = 0;
	if (!d) {
		if (errno == ENOENT)
			return NULL;
		err_errno(e, 0, "%s", dir);
		return NULL;
	}
	while ((de = readdir(d))) {
		char **nv;

		if (hidden ? de->d_name[0] != '.' || !strcmp(de->d_name, ".") ||
				     !strcmp(de->d_name, "..")
			   : !path_is_simple_name(de->d_name))
			continue;
		if (!(nv = realloc(v, (*n + 1) * sizeof(*v))) || !(nv[*n] = strdup(de->d_name))) {
			free(nv ? nv : v);
			closedir(d);
			err_set(e, EXIT_SYSTEM, "out of memory");
			*n = 0;
			return NULL;
		}
		v = nv;
		(*n)++;
	}
	closedir(d);
	return v;
}

static void entries_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The VMs that use kind's object name: their config names it, or (an
 * image) their base disk is its very file, whatever name it has now. Their
 * names go into out, comma-separated (may be NULL). -1: cannot tell. */
static int vm_users(const struct store *s, const char *field, const char *name, char *out,
		    size_t size)
{
	char dir[LIMIT_PATH], idir[LIMIT_PATH], file[LIMIT_PATH];
	struct stat img, base;
	struct err e;
	size_t n, len = 0;
	char **vms;
	bool image = !strcmp(field, "image");
	int users = 0;

	err_init(&e);
	if (out && size)
		out[0] = '\0';
	if (path_join(dir, sizeof(dir), s->home, "vms", &e) < 0)
		return -1;
	if (!image || store_object_dir(s, "images", name, idir, sizeof(idir), &e) < 0 ||
	    path_join(file, sizeof(file), idir, "rootfs.ext4", &e) < 0 || stat(file, &img) < 0)
		memset(&img, 0, sizeof(img));
	vms = entries(dir, &n, false, &e);
	if (e.code)
		return -1;
	for (size_t i = 0; i < n && users >= 0; i++) {
		struct vm_paths p;
		struct vm_config c;
		bool used;

		err_init(&e);
		if (vm_paths_init(s, vms[i], &p, &e) < 0 || vm_config_load(&p, &c, &e) < 0) {
			users = -1; /* a damaged VM may use anything */
			break;
		}
		used = !strcmp(image ? c.image : c.kernel, name) ||
		       (image && img.st_ino && stat(p.base, &base) == 0 &&
			base.st_dev == img.st_dev && base.st_ino == img.st_ino);
		if (!used)
			continue;
		users++;
		if (out && len < size)
			len += (size_t)snprintf(out + len, size - len, "%s%s",
						users > 1 ? ", " : "", vms[i]);
	}
	entries_free(vms, n);
	return users;
}

static bool in_use_by_vm(const struct store *s, const char *field, const char *name)
{
	return vm_users(s, field, name, NULL, 0) != 0;
}

int prune_image_users(const struct store *s, const char *name, char *out, size_t size)
{
	return vm_users(s, "image", name, out, size);
}

static void report(const struct prune_opts *o, const char *what, const char *name, uint64_t bytes,
		   uint64_t *freed)
{
	*freed += bytes;
	if (o->fn)
		o->fn(o->ctx, what, name, bytes);
}

/* Removes kind/NAME (under its lock) when no VM uses it. */
static int prune_unused(const struct store *s, const char *kind, const char *field,
			const struct prune_opts *o, uint64_t *freed, struct err *e)
{
	char dir[LIMIT_PATH], obj[LIMIT_PATH];
	size_t n;
	char **names;
	int rc = 0;

	if (path_join(dir, sizeof(dir), s->home, kind, e) < 0)
		return -1;
	names = entries(dir, &n, false, e);
	if (e->code)
		return -1;
	for (size_t i = 0; i < n && rc == 0; i++) {
		int lock;

		if (in_use_by_vm(s, field, names[i]))
			continue;
		if ((lock = store_lock(s, kind, names[i], NULL, e)) < 0 ||
		    store_object_dir(s, kind, names[i], obj, sizeof(obj), e) < 0) {
			lock_release(lock);
			rc = -1;
			break;
		}
		report(o, field, names[i], du(obj), freed);
		if (!o->dry_run)
			rc = path_remove_tree(obj, e);
		lock_release(lock);
	}
	entries_free(names, n);
	return rc;
}

/* kind/.NAME.staging.PID whose PID is gone. */
static int prune_staging(const struct store *s, const char *kind, const struct prune_opts *o,
			 uint64_t *freed, struct err *e)
{
	char dir[LIMIT_PATH], path[LIMIT_PATH];
	size_t n;
	char **names;
	int rc = 0;

	if (path_join(dir, sizeof(dir), s->home, kind, e) < 0)
		return -1;
	names = entries(dir, &n, true, e);
	if (e->code)
		return -1;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *st = strstr(names[i], ".staging.");
		char *end;
		long pid;

		if (!st)
			continue;
		pid = strtol(st + 9, &end, 10);
		if (*end || pid <= 0 || kill((pid_t)pid, 0) == 0 || errno == EPERM)
			continue;
		if (path_join(path, sizeof(path), dir, names[i], e) < 0) {
			rc = -1;
			break;
		}
		report(o, "staging", names[i], du(path), freed);
		if (!o->dry_run)
			rc = path_remove_tree(path, e);
	}
	entries_free(names, n);
	return rc;
}

/* Fails with EXIT_BUSY while another banger holds an image lock. */
static int no_pull_running(const struct store *s, struct err *e)
{
	char dir[LIMIT_PATH], path[LIMIT_PATH];
	size_t n;
	char **names;
	int rc = 0;

	if (path_join(dir, sizeof(dir), s->home, "images", e) < 0)
		return -1;
	names = entries(dir, &n, true, e);
	if (e->code)
		return -1;
	for (size_t i = 0; i < n && rc == 0; i++) {
		size_t len = strlen(names[i]);
		int fd;

		if (len < 6 || strcmp(names[i] + len - 5, ".lock") ||
		    path_join(path, sizeof(path), dir, names[i], e) < 0)
			continue;
		if ((fd = lock_acquire(path, LOCK_EXCLUSIVE_MODE, false, NULL, e)) < 0) {
			err_set(e, EXIT_BUSY,
				"image '%.*s' is being pulled or removed — prune when it is done",
				(int)(len - 6), names[i] + 1);
			rc = -1;
		}
		lock_release(fd);
	}
	entries_free(names, n);
	return rc;
}

/* Adds the digests images/NAME/layers lists to *refs (a JSON array as a
 * set; small). Returns 1 when the image has no layers file but came from a
 * registry (so it may use any blob). */
static int image_refs(const char *dir, cJSON *refs, struct err *e)
{
	char path[LIMIT_PATH], *text;
	size_t len;
	cJSON *m;
	const cJSON *src;
	int unlisted;

	if (path_join(path, sizeof(path), dir, "layers", e) < 0)
		return -1;
	if (file_read_all(path, LIMIT_JSON_DOC, &text, &len, e) == 0) {
		for (char *l = text, *nl; *l; l = nl ? nl + 1 : l + strlen(l)) {
			nl = strchr(l, '\n');
			if (nl)
				*nl = '\0';
			if (!strncmp(l, "sha256:", 7))
				cJSON_AddItemToArray(refs, cJSON_CreateString(l + 7));
			if (!nl)
				break;
		}
		free(text);
		return 0;
	}
	err_init(e);
	/* Imported files and catalog bundles use no blobs. */
	if (path_join(path, sizeof(path), dir, "manifest.json", e) < 0)
		return -1;
	if (file_read_all(path, LIMIT_JSON_DOC, &text, &len, e) < 0) {
		err_init(e);
		return 1;
	}
	m = cJSON_ParseWithLength(text, len);
	free(text);
	src = cJSON_GetObjectItemCaseSensitive(m, "source");
	unlisted = !cJSON_IsString(src) || !(strncmp(src->valuestring, "import:", 7) == 0 ||
					     strstr(src->valuestring, "://") != NULL);
	cJSON_Delete(m);
	return unlisted;
}

static bool listed(const cJSON *refs, const char *hex)
{
	const cJSON *r;

	cJSON_ArrayForEach(r, refs) if (!strcmp(r->valuestring, hex)) return true;
	return false;
}

int prune_images(const struct store *s, const struct prune_opts *o, uint64_t *freed,
		 char unlisted[65], struct err *e)
{
	char dir[LIMIT_PATH], blobs[LIMIT_PATH], path[LIMIT_PATH];
	cJSON *refs = NULL;
	char **names = NULL, **hex = NULL;
	size_t n = 0, nh = 0;
	time_t start = time(NULL);
	int rc = -1;

	*freed = 0;
	unlisted[0] = '\0';
	if (no_pull_running(s, e) < 0 || prune_staging(s, "images", o, freed, e) < 0 ||
	    (o->all && prune_unused(s, "images", "image", o, freed, e) < 0))
		return -1;
	if (path_join(dir, sizeof(dir), s->home, "images", e) < 0 ||
	    path_join(blobs, sizeof(blobs), s->home, "oci/blobs/sha256", e) < 0 ||
	    !(refs = cJSON_CreateArray()))
		goto out;
	names = entries(dir, &n, false, e);
	if (e->code)
		goto out;
	for (size_t i = 0; i < n; i++) {
		char obj[LIMIT_PATH];
		int u;

		if (path_join(obj, sizeof(obj), dir, names[i], e) < 0)
			goto out;
		/* A dry run still lists what -a would have removed. */
		if (o->all && o->dry_run && !in_use_by_vm(s, "image", names[i]))
			continue;
		if ((u = image_refs(obj, refs, e)) < 0)
			goto out;
		if (u && !unlisted[0])
			snprintf(unlisted, 65, "%s", names[i]);
	}
	if (unlisted[0]) { /* any blob may be in use */
		rc = 0;
		goto out;
	}
	hex = entries(blobs, &nh, false, e);
	if (e->code)
		goto out;
	for (size_t i = 0; i < nh; i++) {
		struct stat st;
		char name[80];

		if (listed(refs, hex[i]) || path_join(path, sizeof(path), blobs, hex[i], e) < 0 ||
		    lstat(path, &st) < 0 || st.st_mtime >= start)
			continue;
		snprintf(name, sizeof(name), "sha256:%s", hex[i]);
		report(o, "blob", name, (uint64_t)st.st_blocks * 512, freed);
		if (!o->dry_run && unlink(path) < 0 && errno != ENOENT) {
			err_errno(e, 0, "%s: cannot remove", path);
			goto out;
		}
	}
	rc = 0;
out:
	entries_free(names, n);
	entries_free(hex, nh);
	cJSON_Delete(refs);
	return rc;
}

int prune_kernels(const struct store *s, const struct prune_opts *o, uint64_t *freed, struct err *e)
{
	*freed = 0;
	if (prune_staging(s, "kernels", o, freed, e) < 0 ||
	    (o->all && prune_unused(s, "kernels", "kernel", o, freed, e) < 0))
		return -1;
	return 0;
}
