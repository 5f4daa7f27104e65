/* kernel.c — see kernel.h. */
#include "kernel/kernel.h"
#include "catalog/catalog.h"
#include "deb/deb.h"
#include "digest.h"
#include "err.h"
#include "exitcode.h"
#include "catalog/extract.h"
#include "file.h"
#include "path.h"
#include "store.h"
#include "suggest.h"
#include "kernel/vmlinux.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* dir/vmlinux must be an ELF kernel. */
static int check_vmlinux(const char *dir, const char *what, struct err *e)
{
	char path[LIMIT_PATH], head[64];
	ssize_t n;
	int fd;

	if (path_join(path, sizeof(path), dir, "vmlinux", e) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, EXIT_VERIFY, "%s: no vmlinux in it — not a kernel bundle", what);
	n = read(fd, head, sizeof(head));
	close(fd);
	return vmlinux_check_elf(head, n < 0 ? 0 : (size_t)n, what, e) < 0
		       ? err_prefix(e, "vmlinux")
		       : 0;
}

static int add_str(cJSON *m, const char *k, const char *v, struct err *e)
{
	cJSON_DeleteItemFromObjectCaseSensitive(m, k);
	if (!cJSON_AddStringToObject(m, k, v ? v : ""))
		return err_set(e, EXIT_SYSTEM, "out of memory");
	return 0;
}

static int add_num(cJSON *m, const char *k, double v, struct err *e)
{
	cJSON_DeleteItemFromObjectCaseSensitive(m, k);
	if (!cJSON_AddNumberToObject(m, k, v))
		return err_set(e, EXIT_SYSTEM, "out of memory");
	return 0;
}

static int add_bool(cJSON *m, const char *k, bool v, struct err *e)
{
	cJSON_DeleteItemFromObjectCaseSensitive(m, k);
	if (!cJSON_AddBoolToObject(m, k, v))
		return err_set(e, EXIT_SYSTEM, "out of memory");
	return 0;
}

/* ---- bundle entries ------------------------------------------------------ */

static int fill_bundle(const char *staging, void *ud, cJSON *m, struct err *e)
{
	const struct bundle_src *src = ud;

	if (bundle_download(src, staging, e) < 0 || check_vmlinux(staging, src->url, e) < 0)
		return -1;
	return add_str(m, "source", src->url, e) || add_num(m, "size", (double)src->size, e) ||
			       add_bool(m, "needs_initramfs", false, e)
		       ? -1
		       : 0;
}

/* ---- deb entries --------------------------------------------------------- */

struct deb_ctx {
	const struct deb_pkg *pkg;
	const char *url;
	const char *ca_file;
	const char *label;
};

static int fill_deb(const char *staging, void *ud, cJSON *m, struct err *e)
{
	struct deb_ctx *c = ud;
	struct deb_kernel k;

	if (deb_kernel_unpack(c->url, c->pkg->sha256, c->pkg->size, c->ca_file, c->label, staging,
			      &k, e) < 0)
		return -1;
	/* The Debian kernel keeps virtio and vsock as modules: the guest needs an
	 * initramfs that loads them (the initramfs applet builds one). */
	if (add_str(m, "kernel_version", k.version, e) || add_str(m, "source", c->url, e) ||
	    add_num(m, "size", (double)c->pkg->size, e) ||
	    add_str(m, "package", c->pkg->package, e) ||
	    add_str(m, "package_version", c->pkg->version, e) ||
	    add_bool(m, "needs_initramfs", true, e) || add_bool(m, "modules", k.modules, e))
		return -1;
	return 0;
}

/* Length of a mirror URL without trailing slashes. */
static size_t trimmed(const char *mirror)
{
	size_t n = strlen(mirror);

	while (n && mirror[n - 1] == '/')
		n--;
	return n;
}

/* The newest matching package of the entry's mirror and its "also"
 * sources (only o->mirror when given). An "also" source without the
 * package (or without that suite) is passed over; any other failure
 * fails the pull, since the newest kernel cannot be known then. */
static int deb_newest(const struct catalog_entry *ent, const struct kernel_pull_opts *o,
		      struct deb_pkg *best, const char **best_mirror, struct err *e)
{
	const char *mirror = o->mirror && *o->mirror ? o->mirror : ent->mirror;
	struct deb_pkg cand;
	const cJSON *src;

	if (deb_resolve(mirror, ent->suite, ent->component, ent->deb_arch, ent->package, o->ca_file,
			best, e) < 0)
		return -1;
	*best_mirror = mirror;
	if (o->mirror && *o->mirror)
		return 0;
	cJSON_ArrayForEach(src, ent->also)
	{
		const char *m = cJSON_GetObjectItemCaseSensitive(src, "mirror")->valuestring;
		const char *suite = cJSON_GetObjectItemCaseSensitive(src, "suite")->valuestring;
		struct err e2;

		err_init(&e2);
		if (deb_resolve(m, suite, ent->component, ent->deb_arch, ent->package, o->ca_file,
				&cand, &e2) < 0) {
			if (e2.code == EXIT_NOTFOUND)
				continue;
			return err_set(e, e2.code, "%s — or --mirror MIRROR to use one mirror only",
				       e2.msg);
		}
		if (deb_version_cmp(cand.version, best->version) > 0) {
			*best = cand;
			*best_mirror = m;
		}
	}
	return 0;
}

/* One catalog entry installed as kernels/ENT->NAME. */
static int pull_entry(const struct store *s, const struct catalog_entry *ent,
		      const struct kernel_pull_opts *o, enum bundle_outcome *out, struct err *e)
{
	const cJSON *flavour = cJSON_GetObjectItemCaseSensitive(ent->raw, "initramfs_modules");
	cJSON *m = cJSON_CreateObject();
	int rc = -1;

	if (!m)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	/* Which initramfs/modules list the kernel's initramfs takes (initramfs.h). */
	if (cJSON_IsString(flavour) && add_str(m, "initramfs_modules", flavour->valuestring, e))
		goto out;
	if (add_str(m, "kind", catalog_kind_name(ent->kind), e) ||
	    add_str(m, "distro", ent->distro, e) || add_str(m, "arch", ent->arch, e) ||
	    add_str(m, "kernel_version", ent->kernel_version, e))
		goto out;
	if (ent->kind == CATALOG_BUNDLE) {
		struct bundle_src src = { .url = ent->url,
					  .sha256 = ent->sha256,
					  .size = ent->size,
					  .ca_file = o->ca_file,
					  .label = ent->name };

		rc = bundle_install_custom(s, KERNEL_KIND, ent->name, ent->sha256, o->force,
					   fill_bundle, &src, m, out, e);
	} else if (ent->kind == CATALOG_DEB) {
		struct deb_pkg pkg;
		char url[LIMIT_URL];
		const char *mirror;
		struct deb_ctx c = {
			.pkg = &pkg, .url = url, .ca_file = o->ca_file, .label = ent->name
		};

		if (deb_newest(ent, o, &pkg, &mirror, e) < 0)
			goto out;
		if (snprintf(url, sizeof(url), "%.*s/%s", (int)trimmed(mirror), mirror,
			     pkg.filename) >= (int)sizeof(url)) {
			err_set(e, EXIT_VERIFY, "%s: package URL too long", pkg.filename);
			goto out;
		}
		if (add_str(m, "mirror", mirror, e) < 0)
			goto out;
		rc = bundle_install_custom(s, KERNEL_KIND, ent->name, pkg.sha256, o->force,
					   fill_deb, &c, m, out, e);
	} else {
		err_set(e, EXIT_USAGE, "%s: an %s entry is an image, not a kernel", ent->name,
			catalog_kind_name(ent->kind));
	}
out:
	cJSON_Delete(m);
	return rc;
}

static bool has_vmlinux(const struct store *s, const char *name)
{
	char dir[LIMIT_PATH], file[LIMIT_PATH];
	struct err e;

	err_init(&e);
	return store_object_dir(s, KERNEL_KIND, name, dir, sizeof(dir), &e) == 0 &&
	       path_join(file, sizeof(file), dir, "vmlinux", &e) == 0 && access(file, R_OK) == 0;
}

int kernel_pull(const struct store *s, const char *name, const struct kernel_pull_opts *o,
		enum bundle_outcome *out, struct err *e)
{
	const struct catalog_entry *ent;
	struct catalog cat;
	int rc;

	if (!path_is_simple_name(name))
		return err_set(e, EXIT_USAGE, "'%s' is not a kernel name", name);
	if (o->if_missing && has_vmlinux(s, name)) {
		*out = BUNDLE_ALREADY;
		return 0;
	}
	catalog_init(&cat);
	if (catalog_load(&cat, CATALOG_KERNELS, o->catalog, e) < 0) {
		catalog_fini(&cat);
		return -1;
	}
	ent = catalog_find(&cat, name, e);
	if (!ent) {
		const char **names = calloc(cat.n + 1, sizeof(*names));
		char hint[256] = "";

		for (size_t i = 0; names && i < cat.n; i++)
			names[i] = cat.entries[i].name;
		if (names)
			suggest_phrase(name, names, cat.n, hint, sizeof(hint));
		free(names);
		rc = err_set(e, EXIT_NOTFOUND,
			     "%s: not in the kernel catalog %.200s%s%s — 'kernel-list --catalog' "
			     "shows what can be pulled",
			     name, cat.source, hint[0] ? "; " : "", hint);
	} else
		rc = pull_entry(s, ent, o, out, e);
	catalog_fini(&cat);
	return rc;
}

void kernel_installed_version(const struct store *s, const char *name, char *out, size_t size)
{
	char dir[LIMIT_PATH];
	struct err e;
	cJSON *m;
	const cJSON *v;

	out[0] = '\0';
	err_init(&e);
	if (store_object_dir(s, KERNEL_KIND, name, dir, sizeof(dir), &e) < 0 ||
	    !(m = bundle_read_manifest(dir, &e)))
		return;
	v = cJSON_GetObjectItemCaseSensitive(m, "kernel_version");
	if (cJSON_IsString(v))
		snprintf(out, size, "%s", v->valuestring);
	cJSON_Delete(m);
}

/* ---- import --------------------------------------------------------------- */

static int copy_file(const char *src, const char *dst, mode_t mode, struct err *e)
{
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;

	if (in < 0)
		return err_errno(e, 0, "%s: cannot open", src);
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0755);
	if (out < 0)
		err_errno(e, 0, "%s: cannot create", dst);
	else
		rc = file_copy_fd(in, out, src, NULL, e);
	close(in);
	if (out >= 0 && close(out) < 0 && rc == 0)
		rc = err_errno(e, 0, "%s: write", dst);
	return rc;
}

/* Copies the tree at src into dst (created). rel is dst's name inside
 * the kernel dir, to keep copied symlinks inside it; links that would
 * leave it (a modules tree's build -> /usr/src/…) are left out. */
static int copy_tree(const char *src, const char *dst, const char *rel, struct err *e)
{
	char s[LIMIT_PATH], d[LIMIT_PATH], r[LIMIT_PATH], target[LIMIT_PATH];
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int rc = 0;

	if (mkdir(dst, 0755) < 0 && errno != EEXIST)
		return err_errno(e, 0, "%s: cannot create", dst);
	dir = opendir(src);
	if (!dir)
		return err_errno(e, 0, "%s: cannot read directory", src);
	while (rc == 0 && (de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (path_join(s, sizeof(s), src, de->d_name, e) < 0 ||
		    path_join(d, sizeof(d), dst, de->d_name, e) < 0 ||
		    path_join(r, sizeof(r), rel, de->d_name, e) < 0 || lstat(s, &st) < 0) {
			rc = e->code ? -1 : err_errno(e, 0, "%s", s);
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			rc = copy_tree(s, d, r, e);
		} else if (S_ISREG(st.st_mode)) {
			rc = copy_file(s, d, st.st_mode, e);
		} else if (S_ISLNK(st.st_mode)) {
			ssize_t n = readlink(s, target, sizeof(target) - 1);

			if (n < 0 || (size_t)n >= sizeof(target) - 1)
				continue;
			target[n] = '\0';
			if (extract_link_confined(r, target) && symlink(target, d) < 0)
				rc = err_errno(e, 0, "%s: cannot create", d);
		}
	}
	closedir(dir);
	return rc;
}

struct import_ctx {
	const struct kernel_import *in;
	const char *objdir;
	const char *sha256;
};

/* Has dir a lib/modules/VERSION layout below it? */
static bool has_lib_modules(const char *dir)
{
	char p[LIMIT_PATH];
	struct stat st;

	return snprintf(p, sizeof(p), "%s/lib/modules", dir) < (int)sizeof(p) &&
	       stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int fill_import(const char *staging, void *ud, cJSON *m, struct err *e)
{
	struct import_ctx *c = ud;
	const struct kernel_import *in = c->in;
	char dst[LIMIT_PATH], mods[LIMIT_PATH], src[LIMIT_PATH], rel[LIMIT_PATH];
	struct vmlinux_info vi = { 0 };
	struct stat st;

	if (!in->force && stat(c->objdir, &st) == 0)
		return err_set(
			e, EXIT_BUSY,
			"%s: a kernel of that name is installed — kernel-rm it or use --force",
			c->objdir);
	if (path_join(dst, sizeof(dst), staging, "vmlinux", e) < 0)
		return -1;
	if (in->vmlinuz) {
		if (vmlinux_extract_file(in->vmlinuz, dst, &vi, e) < 0)
			return -1;
	} else {
		if (copy_file(in->vmlinux, dst, 0644, e) < 0 ||
		    check_vmlinux(staging, in->vmlinux, e) < 0)
			return -1;
	}
	if (in->initrd) {
		if (path_join(dst, sizeof(dst), staging, "initrd.img", e) < 0 ||
		    copy_file(in->initrd, dst, 0644, e) < 0)
			return -1;
	}
	if (in->modules) {
		size_t len = strlen(in->modules);
		const char *base;

		while (len > 1 && in->modules[len - 1] == '/')
			len--;
		if (len >= sizeof(src))
			return err_set(e, EXIT_USAGE, "%s: path too long", in->modules);
		memcpy(src, in->modules, len);
		src[len] = '\0';
		if (stat(src, &st) < 0 || !S_ISDIR(st.st_mode))
			return err_set(e, EXIT_USAGE,
				       "%s: not a directory — --modules wants a root "
				       "holding lib/modules/ or one lib/modules/VERSION",
				       src);
		if (path_join(mods, sizeof(mods), staging, "modules/lib/modules", e) < 0 ||
		    path_mkdirs(mods, 0755, e) < 0)
			return -1;
		if (has_lib_modules(src)) {
			if (path_join(src + len, sizeof(src) - len, "", "lib/modules", e) < 0 ||
			    copy_tree(src, mods, "modules/lib/modules", e) < 0)
				return -1;
		} else {
			base = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
			if (vi.version[0])
				base = vi.version; /* the version the kernel looks for */
			if (path_join(dst, sizeof(dst), mods, base, e) < 0 ||
			    path_join(rel, sizeof(rel), "modules/lib/modules", base, e) < 0 ||
			    copy_tree(src, dst, rel, e) < 0)
				return -1;
		}
	}
	if (add_str(m, "kind", "import", e) ||
	    add_str(m, "source", in->vmlinuz ? in->vmlinuz : in->vmlinux, e) ||
	    add_str(m, "kernel_version", vi.version, e) ||
	    add_str(m, "compression", vi.compression ? vi.compression : "none", e) ||
	    /* Modules without an initrd: the drivers may be modules (a distro
	     * kernel), so vm-run builds banger's initramfs; when everything is
	     * built in, that initramfs is only /init and costs nothing. */
	    add_bool(m, "needs_initramfs", in->modules && !in->initrd, e))
		return -1;
	return 0;
}

int kernel_import(const struct store *s, const char *name, const struct kernel_import *in,
		  enum bundle_outcome *out, struct err *e)
{
	char objdir[LIMIT_PATH], sha[DIGEST_HEX_LEN + 1];
	const char *from = in->vmlinuz ? in->vmlinuz : in->vmlinux;
	struct import_ctx c = { .in = in, .objdir = objdir, .sha256 = sha };

	if (!from || (in->vmlinux && in->vmlinuz))
		return err_set(e, EXIT_USAGE, "give one of --vmlinux or --vmlinuz");
	if (store_object_dir(s, KERNEL_KIND, name, objdir, sizeof(objdir), e) < 0 ||
	    sha256_file(from, sha, e) < 0)
		return -1;
	/* Always through fill_import, which refuses an existing NAME without
	 * force: the digest covers only the kernel, not initrd or modules. */
	return bundle_install_custom(s, KERNEL_KIND, name, sha, true, fill_import, &c, NULL, out,
				     e);
}
