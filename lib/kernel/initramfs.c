/* initramfs.c — see initramfs.h. */
#include "kernel/initramfs.h"
#include "buf.h"
#include "embed.h"
#include "digest.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "kernel/kernel.h"
#include "kernel/kmod.h"
#include "path.h"
#include "store.h"

#include <archive.h>
#include <archive_entry.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* The lists of initramfs/, built in. Adding a flavour: its file, a line in
 * lib/embed.S and embed.h, and a line here. */
static const struct {
	const char *flavour;
	struct embedded (*text)(void);
} lists[] = {
	{ "debian-cloud", embedded_initramfs_mods_debian_cloud },
	{ INITRAMFS_DEFAULT_FLAVOUR, embedded_initramfs_mods_default },
};

#define LIST_COUNT (sizeof(lists) / sizeof(lists[0]))

/* Calls fn for each line of text that is not blank or a '#' comment, with
 * the line's words split on blanks (at most 8). */
static int each_line(struct embedded text, const char *what,
		     int (*fn)(void *ud, char **w, int nw, struct err *e), void *ud, struct err *e)
{
	const char *p = text.data, *end = text.data + text.size;
	char line[512];

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *w[8], *save = NULL;
		int nw = 0;

		if (len >= sizeof(line))
			return err_set(e, EXIT_VERIFY, "%s: a line longer than %zu bytes", what,
				       sizeof(line) - 1);
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + 1;
		if (strchr(line, '#'))
			*strchr(line, '#') = '\0';
		for (char *t = strtok_r(line, " \t\r", &save); t && nw < 8;
		     t = strtok_r(NULL, " \t\r", &save))
			w[nw++] = t;
		if (nw && fn(ud, w, nw, e) < 0)
			return err_prefix(e, "%s", what);
	}
	return 0;
}

static int add_name(void *ud, char **w, int nw, struct err *e)
{
	struct initramfs_list *l = ud;

	if (nw != 1 || strlen(w[0]) >= sizeof(l->names[0]))
		return err_set(e, EXIT_VERIFY, "'%s': want one module name a line", w[0]);
	if (l->n >= LIMIT_MODULES)
		return err_set(e, EXIT_VERIFY, "more than %d modules", LIMIT_MODULES);
	snprintf(l->names[l->n++], sizeof(l->names[0]), "%s", w[0]);
	return 0;
}

int initramfs_module_list(const char *flavour, struct initramfs_list *l, struct err *e)
{
	char what[LIMIT_NAME + 40];

	l->n = 0;
	for (size_t i = 0; i < LIST_COUNT; i++) {
		if (strcmp(lists[i].flavour, flavour))
			continue;
		snprintf(what, sizeof(what), "initramfs/modules/%s.list", flavour);
		return each_line(lists[i].text(), what, add_name, l, e);
	}
	return err_set(e, EXIT_USAGE,
		       "initramfs flavour '%.64s': no such module list (there are: %s, %s)",
		       flavour, lists[0].flavour, lists[1].flavour);
}

/* ---- the archive ------------------------------------------------------------ */

struct cpio {
	struct archive *a;
	unsigned ino;
	const char *out;
};

static int add_entry(struct cpio *c, const char *name, mode_t type, mode_t perm, const void *data,
		     size_t len, dev_t rdev, struct err *e)
{
	struct archive_entry *en = archive_entry_new();
	int rc = 0;

	if (!en)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	archive_entry_set_pathname(en, name);
	archive_entry_set_filetype(en, type);
	archive_entry_set_perm(en, perm);
	archive_entry_set_uid(en, 0);
	archive_entry_set_gid(en, 0);
	archive_entry_set_mtime(en, 0, 0);
	archive_entry_set_nlink(en, type == AE_IFDIR ? 2 : 1);
	archive_entry_set_ino(en, ++c->ino);
	if (type == AE_IFCHR)
		archive_entry_set_rdev(en, rdev);
	archive_entry_set_size(en, type == AE_IFREG ? (la_int64_t)len : 0);
	if (archive_write_header(c->a, en) != ARCHIVE_OK ||
	    (len && archive_write_data(c->a, data, len) != (la_ssize_t)len))
		rc = err_set(e, EXIT_SYSTEM, "%s: %s: %s", c->out, name,
			     archive_error_string(c->a));
	archive_entry_free(en);
	return rc;
}

static int octal(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	*v = strtoul(s, &end, 8);
	return *s && !*end && *v <= max ? 0 : -1;
}

/* One line of content.list: TYPE PATH MODE [MAJOR MINOR]. */
static int add_content(void *ud, char **w, int nw, struct err *e)
{
	struct cpio *c = ud;
	unsigned long mode, maj = 0, min = 0;
	char *end;

	if (nw < 3 || !path_is_confined(w[1]) || octal(w[2], 07777, &mode) < 0)
		return err_set(e, EXIT_VERIFY, "'%s': want TYPE PATH MODE [MAJOR MINOR]", w[0]);
	if (!strcmp(w[0], "dir") && nw == 3)
		return add_entry(c, w[1], AE_IFDIR, (mode_t)mode, NULL, 0, 0, e);
	if (strcmp(w[0], "chr") || nw != 5)
		return err_set(e, EXIT_VERIFY, "'%s %s': only dir and chr MAJOR MINOR", w[0], w[1]);
	maj = strtoul(w[3], &end, 10);
	if (*end || maj > 4095 || (min = strtoul(w[4], &end, 10), *end) || min > 1048575)
		return err_set(e, EXIT_VERIFY, "'%s': bad device number", w[1]);
	return add_entry(c, w[1], AE_IFCHR, (mode_t)mode, NULL, 0,
			 makedev((unsigned)maj, (unsigned)min), e);
}

static int open_archive(struct cpio *c, int fd, const char *compress, struct err *e)
{
	struct archive *a = archive_write_new();

	c->a = a;
	if (!a || archive_write_set_format_cpio_newc(a) != ARCHIVE_OK)
		return err_set(e, EXIT_SYSTEM, "libarchive: cannot write cpio newc");
	if (!strcmp(compress, "gzip")) {
		if (archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
		    archive_write_set_filter_option(a, "gzip", "timestamp", NULL) != ARCHIVE_OK ||
		    archive_write_set_filter_option(a, "gzip", "compression-level", "9") !=
			    ARCHIVE_OK)
			return err_set(e, EXIT_SYSTEM, "libarchive: gzip: %s",
				       archive_error_string(a));
	} else if (!strcmp(compress, "zstd")) {
		if (archive_write_add_filter_zstd(a) != ARCHIVE_OK ||
		    archive_write_set_filter_option(a, "zstd", "compression-level", "19") !=
			    ARCHIVE_OK)
			return err_set(e, EXIT_SYSTEM, "libarchive: zstd: %s",
				       archive_error_string(a));
	}
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open_fd(a, fd) != ARCHIVE_OK)
		return err_set(e, EXIT_SYSTEM, "%s: %s", c->out, archive_error_string(a));
	return 0;
}

/* ---- finding the kernel's pieces ---------------------------------------------- */

/* Finds the single VERSION directory under base/lib/modules. */
static bool find_modules_under(const char *base, char *out, size_t size)
{
	char dir[LIMIT_PATH];
	struct dirent *de;
	DIR *d;
	struct err e;
	bool found = false;

	err_init(&e);
	if (path_join(dir, sizeof(dir), base, "lib/modules", &e) < 0 || !(d = opendir(dir)))
		return false;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && !found &&
		    path_join(out, size, dir, de->d_name, &e) == 0)
			found = true;
	closedir(d);
	return found;
}

/* The kernel config beside a modules tree: KDIR/config, DIR/config, or
 * DIR/../../../boot/config-VERSION (an unpacked kernel package). */
static bool find_config(const char *moddir, const char *kdir, char *out, size_t size)
{
	const char *ver = strrchr(moddir, '/');
	struct err e;

	err_init(&e);
	ver = ver ? ver + 1 : moddir;
	if (kdir && path_join(out, size, kdir, "config", &e) == 0 && access(out, R_OK) == 0)
		return true;
	if (path_join(out, size, moddir, "config", &e) == 0 && access(out, R_OK) == 0)
		return true;
	if (path_joinf(out, size, &e, moddir, "../../../boot/config-%s", ver) == 0 &&
	    access(out, R_OK) == 0)
		return true;
	return false;
}

static bool config_has(const char *config, const char *line)
{
	char *text;
	size_t len, l = strlen(line);
	struct err e;
	bool yes = false;

	err_init(&e);
	if (file_read_all(config, 4 << 20, &text, &len, &e) < 0)
		return false;
	for (char *p = text; p && *p;) {
		if (!strncmp(p, line, l) && (p[l] == '\n' || !p[l]))
			yes = true;
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	free(text);
	return yes;
}

/* kdir/manifest.json, parsed; NULL when it is missing or unreadable. */
static cJSON *kernel_manifest(const char *kdir)
{
	char path[LIMIT_PATH], *text = NULL;
	size_t len;
	struct err e;
	cJSON *m;

	err_init(&e);
	if (path_join(path, sizeof(path), kdir, "manifest.json", &e) < 0 ||
	    file_read_all(path, LIMIT_JSON_DOC, &text, &len, &e) < 0)
		return NULL;
	m = cJSON_ParseWithLength(text, len);
	free(text);
	return m;
}

/* Where the modules, config and flavour come from. */
struct inputs {
	char kdir[LIMIT_PATH], config[LIMIT_PATH];
	const char *compress;
};

static int find_inputs(const struct store *s, const struct initramfs_opts *o, struct inputs *in,
		       struct initramfs_built *b, struct err *e)
{
	const char *flavour = o->flavour;
	cJSON *m = NULL;
	int rc = 0;

	in->kdir[0] = in->config[0] = b->moddir[0] = '\0';
	if (o->kernel) {
		char base[LIMIT_PATH];

		if (store_object_dir(s, KERNEL_KIND, o->kernel, in->kdir, sizeof(in->kdir), e) < 0)
			return -1;
		if (access(in->kdir, F_OK) < 0)
			return err_set(e, EXIT_NOTFOUND,
				       "kernel %s: not in %s — run 'banger kernel pull %s'",
				       o->kernel, in->kdir, o->kernel);
		if (!o->modules) {
			if (path_join(base, sizeof(base), in->kdir, "modules", e) < 0)
				return -1;
			if (!find_modules_under(base, b->moddir, sizeof(b->moddir)))
				b->moddir[0] = '\0'; /* everything built in */
		}
		m = kernel_manifest(in->kdir);
		if (!flavour) {
			const cJSON *f = cJSON_GetObjectItemCaseSensitive(m, "initramfs_modules");

			flavour = cJSON_IsString(f) ? f->valuestring : NULL;
		}
	}
	if (o->modules)
		snprintf(b->moddir, sizeof(b->moddir), "%s", o->modules);
	if (o->config)
		snprintf(in->config, sizeof(in->config), "%s", o->config);
	else if (!b->moddir[0] || !find_config(b->moddir, in->kdir[0] ? in->kdir : NULL, in->config,
					       sizeof(in->config)))
		in->config[0] = '\0';
	in->compress = o->compress;
	if (!in->compress)
		in->compress = in->config[0] && config_has(in->config, "CONFIG_RD_ZSTD=y") ? "zstd"
											   : "gzip";
	if (strcmp(in->compress, "gzip") && strcmp(in->compress, "zstd") &&
	    strcmp(in->compress, "none"))
		rc = err_set(e, EXIT_USAGE, "--compress: '%.32s' is not gzip, zstd or none",
			     in->compress);
	snprintf(b->compress, sizeof(b->compress), "%s", in->compress);
	snprintf(b->flavour, sizeof(b->flavour), "%s",
		 flavour ? flavour : INITRAMFS_DEFAULT_FLAVOUR);
	cJSON_Delete(m);
	return rc;
}

/* The load order of the flavour's modules and the extra ones. */
static int closure(struct kmod_index *x, const struct initramfs_opts *o,
		   const struct initramfs_list *l, int *order, struct initramfs_built *b,
		   struct err *e)
{
	const char *want[LIMIT_MODULES + INITRAMFS_EXTRA_MAX], *skipped[INITRAMFS_SKIPPED_MAX];
	bool lenient = !strcmp(b->flavour, INITRAMFS_DEFAULT_FLAVOUR);
	int nwant = 0, nskipped = 0;

	if (o->nextra > INITRAMFS_EXTRA_MAX)
		return err_set(e, EXIT_USAGE, "at most %d extra modules", INITRAMFS_EXTRA_MAX);
	for (int i = 0; i < l->n; i++)
		want[nwant++] = l->names[i];
	/* Asked for by name: must exist; a lenient list's may be absent. */
	for (int i = 0; i < o->nextra; i++) {
		if (!kmod_find(x, o->extra[i]) && !kmod_is_builtin(x, o->extra[i]))
			return err_set(e, EXIT_NOTFOUND,
				       "module %s: neither in %s nor built in — check the name",
				       o->extra[i], b->moddir);
		want[nwant++] = o->extra[i];
	}
	if (kmod_closure(x, want, nwant, lenient, order, LIMIT_MODULES, &b->nmodules, skipped,
			 INITRAMFS_SKIPPED_MAX, &nskipped, e) < 0)
		return lenient ? -1
			       : err_prefix(e, "initramfs/modules/%s.list (the kernel changed?)",
					    b->flavour);
	for (int i = 0; i < nskipped; i++)
		snprintf(b->skipped[i], sizeof(b->skipped[i]), "%s", skipped[i]);
	b->nskipped = nskipped;
	return 0;
}

int initramfs_build(const struct store *s, const struct initramfs_opts *o,
		    struct initramfs_built *b, struct err *e)
{
	struct initramfs_list *l = NULL;
	struct kmod_index x;
	struct atomic_file af = { .fd = -1 };
	struct cpio c = { .out = o->out };
	struct inputs in;
	struct buf ord, dev;
	struct stat st;
	int *order = NULL, rc = -1;
	bool have_index = false;
	char *self = NULL;
	size_t selflen;

	memset(b, 0, sizeof(*b));
	buf_init(&ord, (size_t)LIMIT_MODULES * 66, "the module order");
	buf_init(&dev, (size_t)LIMIT_MODULES * 1024, "the modules' device aliases");
	if (find_inputs(s, o, &in, b, e) < 0)
		return -1;
	if (!(l = malloc(sizeof(*l))) || !(order = calloc(LIMIT_MODULES, sizeof(*order)))) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		goto out;
	}
	if (initramfs_module_list(b->flavour, l, e) < 0)
		goto out;
	if (b->moddir[0]) {
		if (kmod_index_init(&x, b->moddir, e) < 0)
			goto out;
		have_index = true;
		if (closure(&x, o, l, order, b, e) < 0)
			goto out;
	}
	if (file_read_all(o->init ? o->init : "/proc/self/exe", 256 << 20, &self, &selflen, e) <
		    0 ||
	    atomic_open(&af, o->out, 0644, e) < 0 || open_archive(&c, af.fd, in.compress, e) < 0 ||
	    each_line(embedded_initramfs_content(), "initramfs/content.list", add_content, &c, e) <
		    0 ||
	    add_entry(&c, "init", AE_IFREG, 0755, self, selflen, 0, e) < 0)
		goto out;
	for (int i = 0; i < b->nmodules; i++) {
		struct kmod_mod *m = &x.mods[order[i]];
		unsigned char *data;
		size_t len;
		char name[LIMIT_PATH];
		int r;

		char aliases[1024];

		if (kmod_read(&x, m->rel, &data, &len, e) < 0)
			goto out;
		snprintf(name, sizeof(name), INITRAMFS_MOD_DIR "/%s.ko", m->name);
		r = add_entry(&c, name, AE_IFREG, 0644, data, len, 0, e);
		if (r == 0)
			r = kmod_device_aliases(data, len, aliases, sizeof(aliases), e);
		free(data);
		if (r < 0 || buf_appendf(&ord, e, "%s\n", m->name) < 0 ||
		    (r == 0 && buf_appendf(&dev, e, "%s %s\n", m->name, aliases) < 0))
			goto out;
	}
	if (add_entry(&c, INITRAMFS_ORDER_FILE, AE_IFREG, 0644, ord.data, ord.len, 0, e) < 0 ||
	    add_entry(&c, INITRAMFS_DEVICES_FILE, AE_IFREG, 0644, dev.data, dev.len, 0, e) < 0)
		goto out;
	if (archive_write_close(c.a) != ARCHIVE_OK) {
		err_set(e, EXIT_SYSTEM, "%s: %s", o->out, archive_error_string(c.a));
		goto out;
	}
	if (atomic_commit(&af, e) < 0)
		goto out;
	b->bytes = stat(o->out, &st) == 0 ? (uint64_t)st.st_size : 0;
	rc = 0;
out:
	if (c.a)
		archive_write_free(c.a);
	if (af.fd >= 0)
		atomic_abort(&af);
	if (have_index)
		kmod_index_fini(&x);
	buf_fini(&ord);
	buf_fini(&dev);
	free(self);
	free(order);
	free(l);
	return rc;
}

/* The digest of the banger that built banger-initrd.img, written after
 * the archive: a missing or other digest means build again. */
#define STAMP "banger-initrd.sha256"

int initramfs_ensure(const struct store *s, const char *kernel, char out[LIMIT_PATH], bool *built,
		     struct initramfs_built *b, struct err *e)
{
	char kdir[LIMIT_PATH], stamp[LIMIT_PATH], want[DIGEST_HEX_LEN + 1], *have = NULL;
	struct initramfs_opts o = { .kernel = kernel, .out = out };
	size_t len = 0;
	bool fresh;

	*built = false;
	if (store_object_dir(s, KERNEL_KIND, kernel, kdir, sizeof(kdir), e) < 0 ||
	    path_join(out, LIMIT_PATH, kdir, "initrd.img", e) < 0)
		return -1;
	/* The kernel's own (imported with it, or made with banger initramfs -o):
	 * its maker's choice, used as it is. */
	if (access(out, R_OK) == 0)
		return 0;
	if (path_join(out, LIMIT_PATH, kdir, "banger-initrd.img", e) < 0 ||
	    path_join(stamp, sizeof(stamp), kdir, STAMP, e) < 0 ||
	    sha256_file("/proc/self/exe", want, e) < 0)
		return -1;
	fresh = access(out, R_OK) == 0 &&
		file_read_all(stamp, DIGEST_HEX_LEN + 1, &have, &len, e) == 0 &&
		len == DIGEST_HEX_LEN && !memcmp(have, want, len);
	free(have);
	err_init(e);
	if (fresh)
		return 0;
	if (initramfs_build(s, &o, b, e) < 0)
		return err_prefix(e, "kernel %s: building banger's initramfs", kernel);
	if (file_write_atomic(stamp, want, DIGEST_HEX_LEN, 0644, e) < 0)
		return -1;
	*built = true;
	return 0;
}
