/* initramfs — build the initramfs that lets a stock kernel boot a banger VM.
 *
 * Its usage, the text --help prints, is initramfs_usage[] below; the formats
 * and protocols are in docs/initramfs.md.
 */
#include "applet.h"
#include "guest/cmdline.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "kernel/kmod.h"
#include "log.h"
#include "path.h"
#include "store.h"
#include "guest/sysinit.h"
#include "xfuncs.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

const char initramfs_usage[] =
	"usage: initramfs [KERNEL] -o FILE [--modules DIR] [--config FILE]\n"
	"                 [--module NAME]... [--compress gzip|zstd|none] [--init FILE]\n"
	"\n"
	"Writes a cpio (newc) archive with banger as /init and the kernel modules a\n"
	"banger VM needs that the kernel does not build in (virtio PCI and MMIO,\n"
	"virtio block, net and console, vsock and its virtio and loopback\n"
	"transports, ext4), with their dependencies, in load order. Booted, /init\n"
	"loads them, waits for root=, mounts it, switches to it and runs\n"
	"first-boot. The archive is reproducible: the same inputs give the same\n"
	"bytes.\n"
	"\n"
	"  KERNEL          a kernel in BANGER_HOME/kernels/ (its modules/ tree and\n"
	"                  config)\n"
	"  -o FILE         the archive to write (replaced atomically)\n"
	"  --modules DIR   take modules from DIR, a lib/modules/VERSION directory\n"
	"  --config FILE   the kernel's config (default: found beside the modules)\n"
	"  --module NAME   also include module NAME (repeatable)\n"
	"  --compress C    gzip, zstd or none (default: zstd when the config has\n"
	"                  CONFIG_RD_ZSTD=y, else gzip)\n"
	"  --init FILE     the program to install as /init (default: this banger)\n"
	"\n"
	"See docs/initramfs.md.\n"
	"\n"
	"examples:\n"
	"  banger initramfs -o /tmp/initrd.img\n"
	"  banger initramfs debian-cloud -o /tmp/initrd.img\n";

/* In the archive: the modules, flat, and the order to load them in. */
#define MOD_DIR "lib/modules"
#define ORDER_FILE "lib/modules/banger.order"
#define NEWROOT "/newroot"
#define FIRST_BOOT "/usr/local/libexec/banger-first-boot"
#define BANGER_IN_ROOT "/usr/local/libexec/banger"
#define MAX_EXTRA 32

static const char *const wanted[] = {
	"virtio_pci",
	"virtio_mmio",
	"virtio_blk",
	"virtio_net",
	"virtio_console",
	"vsock",
	"vmw_vsock_virtio_transport",
	"vsock_loopback",
	"ext4",
};

static struct {
	const char *kernel, *out, *modules, *config, *compress, *init;
	const char *extra[MAX_EXTRA];
	int nextra;
	struct archive *a;
	unsigned ino;
} ir;

/* ---- /init: PID 1 inside the initramfs (no x-helpers: never exit) ---- */

/* Nothing left to try: say so and stop the VM (exiting would panic). */
__attribute__((noreturn)) static void init_fatal(const struct err *e, bool reboot_)
{
	log_error("%s", e->msg);
	log_error("cannot boot: %s", reboot_ ? "rebooting" : "powering off");
	sync();
	reboot(reboot_ ? RB_AUTOBOOT : RB_POWER_OFF);
	for (;;)
		pause();
}

static void init_load_modules(const struct cmdline *cl)
{
	char *list = NULL, path[LIMIT_PATH], params[1024];
	size_t len;
	int loaded = 0, already = 0, failed = 0;
	struct err e;

	err_init(&e);
	if (file_read_all("/" ORDER_FILE, 64 * 1024, &list, &len, &e) < 0) {
		log_warn("%s", e.msg);
		return;
	}
	for (char *name = list; name && *name;) {
		char *nl = strchr(name, '\n');
		int r;

		if (nl)
			*nl = '\0';
		err_init(&e);
		if (*name && (path_joinf(path, sizeof(path), &e, "/" MOD_DIR, "%s.ko", name) < 0 ||
			      cmdline_module_params(cl, name, params, sizeof(params), &e) < 0 ||
			      (r = kmod_load(path, params, &e)) < 0)) {
			log_warn("%s", e.msg);
			failed++;
		} else if (*name) {
			*(r ? &already : &loaded) += 1;
		}
		name = nl ? nl + 1 : NULL;
	}
	free(list);
	log_info("modules: %d loaded, %d built in or already loaded, %d failed", loaded, already,
		 failed);
}

/* The program to run in the new root, and how to call it. */
static void init_pick(const struct guest_config *g, char *path, size_t size, const char **argv0)
{
	char in_root[LIMIT_PATH];
	struct err e;

	err_init(&e);
	if (g->init_path) {
		snprintf(path, size, "%s", g->init_path);
		*argv0 = g->init_path;
		return;
	}
	*argv0 = "first-boot";
	snprintf(path, size, "%s", FIRST_BOOT);
	if (path_join(in_root, sizeof(in_root), NEWROOT, FIRST_BOOT, &e) == 0 &&
	    access(in_root, X_OK) == 0)
		return;
	snprintf(path, size, "%s", BANGER_IN_ROOT);
	if (path_join(in_root, sizeof(in_root), NEWROOT, BANGER_IN_ROOT, &e) == 0 &&
	    access(in_root, X_OK) == 0)
		return;
	/* The image has no banger: bring ours along on /run (moved over). */
	unsigned char *data;
	size_t len;
	snprintf(path, size, "/run/banger/banger");
	if (path_mkdirs("/run/banger", 0755, &e) < 0 ||
	    file_read_all("/init", 64 << 20, (char **)&data, &len, &e) < 0) {
		log_warn("%s", e.msg);
		return;
	}
	if (file_write_atomic(path, data, len, 0755, &e) < 0)
		log_warn("%s", e.msg);
	free(data);
}

static int init_stage(void)
{
	struct cmdline cl;
	struct guest_config g;
	char *text = NULL, path[LIMIT_PATH];
	const char *argv0;
	unsigned long flags = MS_RDONLY;
	size_t len = 0;
	struct err e;

	log_init("initramfs");
	err_init(&e);
	if (sysinit_mount_api(&e) < 0)
		log_warn("%s", e.msg);
	sysinit_console();
	err_init(&e);
	if (file_read_all("/proc/cmdline", LIMIT_CMDLINE + 1, &text, &len, &e) < 0 ||
	    cmdline_parse(&cl, text, len, &e) < 0) {
		log_warn("%s", e.msg);
		cl.nword = 0;
	}
	free(text);
	err_init(&e);
	if (guest_config_parse(&g, &cl, &e) < 0)
		log_warn("%s", e.msg);
	init_load_modules(&cl);

	err_init(&e);
	if (!g.root || !*g.root) {
		err_set(&e, EXIT_USAGE, "no root= on the kernel command line — pass root=/dev/vda");
		init_fatal(&e, g.halt == HALT_REBOOT);
	}
	if (strncmp(g.root, "/dev/", 5)) {
		err_set(&e, EXIT_USAGE, "root=%s: only root=/dev/NAME is understood here", g.root);
		init_fatal(&e, g.halt == HALT_REBOOT);
	}
	if (sysinit_wait_block(g.root, g.root_timeout_s, &e) < 0)
		init_fatal(&e, g.halt == HALT_REBOOT);
	if (g.root_rw)
		flags = 0;
	mkdir(NEWROOT, 0755);
	if (mount(g.root, NEWROOT, g.rootfstype, flags, g.rootflags) < 0) {
		err_errno(&e, 0, "cannot mount %s (%s) on /: check root= and rootfstype=", g.root,
			  g.rootfstype);
		init_fatal(&e, g.halt == HALT_REBOOT);
	}
	log_info("root %s mounted (%s, %s)", g.root, g.rootfstype, flags ? "ro" : "rw");
	init_pick(&g, path, sizeof(path), &argv0);
	if (sysinit_switch_root(NEWROOT, &e) < 0)
		init_fatal(&e, g.halt == HALT_REBOOT);
	execl(path, argv0, (char *)NULL);
	err_errno(&e, 0, "%s: cannot run it as init — check init= or the image", path);
	init_fatal(&e, g.halt == HALT_REBOOT);
}

/* ---- building the archive (host side) ---- */

static void add_entry(const char *name, mode_t type, mode_t perm, const void *data, size_t len,
		      dev_t rdev)
{
	struct archive_entry *en = archive_entry_new();

	if (!en)
		die(EXIT_SYSTEM, "out of memory");
	archive_entry_set_pathname(en, name);
	archive_entry_set_filetype(en, type);
	archive_entry_set_perm(en, perm);
	archive_entry_set_uid(en, 0);
	archive_entry_set_gid(en, 0);
	archive_entry_set_mtime(en, 0, 0);
	archive_entry_set_nlink(en, type == AE_IFDIR ? 2 : 1);
	archive_entry_set_ino(en, ++ir.ino);
	if (type == AE_IFCHR)
		archive_entry_set_rdev(en, rdev);
	archive_entry_set_size(en, type == AE_IFREG ? (la_int64_t)len : 0);
	if (archive_write_header(ir.a, en) != ARCHIVE_OK ||
	    (len && archive_write_data(ir.a, data, len) != (la_ssize_t)len))
		die(EXIT_SYSTEM, "%s: %s: %s", ir.out, name, archive_error_string(ir.a));
	archive_entry_free(en);
}

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

/* The kernel config beside a modules tree: DIR/config, or
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

static void parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		const char **slot = NULL;

		if (!strcmp(o, "-o") || !strcmp(o, "--output"))
			slot = &ir.out;
		else if (!strcmp(o, "--modules"))
			slot = &ir.modules;
		else if (!strcmp(o, "--config"))
			slot = &ir.config;
		else if (!strcmp(o, "--compress"))
			slot = &ir.compress;
		else if (!strcmp(o, "--init"))
			slot = &ir.init;
		else if (!strcmp(o, "--module")) {
			if (i + 1 >= argc)
				die_usage("--module needs a module name");
			if (ir.nextra >= MAX_EXTRA)
				die_usage("at most %d --module options", MAX_EXTRA);
			ir.extra[ir.nextra++] = argv[++i];
			continue;
		} else if (o[0] == '-') {
			die_usage("unknown option '%s'", o);
		} else if (!ir.kernel) {
			ir.kernel = o;
			continue;
		} else {
			die_usage("one KERNEL only (got '%s' and '%s')", ir.kernel, o);
		}
		if (i + 1 >= argc)
			die_usage("%s needs a value", o);
		*slot = argv[++i];
	}
	if (!ir.out)
		die_usage("-o FILE is required");
	if (!ir.kernel && !ir.modules)
		die_usage("name a KERNEL or pass --modules DIR");
	if (ir.compress && strcmp(ir.compress, "gzip") && strcmp(ir.compress, "zstd") &&
	    strcmp(ir.compress, "none"))
		die_usage("--compress: '%s' is not gzip, zstd or none", ir.compress);
}

static int build(void)
{
	char moddir[LIMIT_PATH] = "", kdir[LIMIT_PATH] = "", config[LIMIT_PATH] = "";
	const char *want[sizeof(wanted) / sizeof(wanted[0]) + MAX_EXTRA], *skipped[16];
	int order[LIMIT_MODULES], n = 0, nskipped = 0, nwant = 0;
	struct kmod_index x;
	struct atomic_file af;
	struct buf_order {
		char text[LIMIT_MODULES * 66];
		size_t len;
	} *ord = xcalloc(1, sizeof(struct buf_order));
	struct err e;
	bool have_modules;

	err_init(&e);
	if (ir.kernel) {
		struct store s;

		if (store_init(&s, &e) < 0 ||
		    store_object_dir(&s, "kernels", ir.kernel, kdir, sizeof(kdir), &e) < 0)
			die_err(&e);
		if (access(kdir, F_OK) < 0)
			die(EXIT_NOTFOUND, "kernel %s: not in %s — run 'banger kernel pull %s'",
			    ir.kernel, kdir, ir.kernel);
		if (!ir.modules) {
			char base[LIMIT_PATH];

			if (path_join(base, sizeof(base), kdir, "modules", &e) < 0)
				die_err(&e);
			if (!find_modules_under(base, moddir, sizeof(moddir)))
				moddir[0] = '\0'; /* everything built in */
		}
	}
	if (ir.modules)
		snprintf(moddir, sizeof(moddir), "%s", ir.modules);
	have_modules = moddir[0] != '\0';
	if (ir.config)
		snprintf(config, sizeof(config), "%s", ir.config);
	else if (!have_modules ||
		 !find_config(moddir, kdir[0] ? kdir : NULL, config, sizeof(config)))
		config[0] = '\0';
	if (!ir.compress)
		ir.compress = config[0] && config_has(config, "CONFIG_RD_ZSTD=y") ? "zstd" : "gzip";

	if (have_modules) {
		if (kmod_index_init(&x, moddir, &e) < 0)
			die_err(&e);
		for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++)
			want[nwant++] = wanted[i];
		/* Asked for by name: must exist; the defaults may be absent. */
		for (int i = 0; i < ir.nextra; i++) {
			if (!kmod_find(&x, ir.extra[i]) && !kmod_is_builtin(&x, ir.extra[i]))
				die(EXIT_NOTFOUND,
				    "module %s: neither in %s nor built in — check "
				    "the name",
				    ir.extra[i], moddir);
			want[nwant++] = ir.extra[i];
		}
		if (kmod_closure(&x, want, nwant, true, order, LIMIT_MODULES, &n, skipped, 16,
				 &nskipped, &e) < 0)
			die_err(&e);
		for (int i = 0; i < nskipped; i++)
			log_warn("module %s: not in %s and not built in — left out", skipped[i],
				 moddir);
	} else {
		log_info("no modules tree: the kernel must build in what it needs");
	}

	if (atomic_open(&af, ir.out, 0644, &e) < 0)
		die_err(&e);
	ir.a = archive_write_new();
	if (!ir.a || archive_write_set_format_cpio_newc(ir.a) != ARCHIVE_OK)
		die(EXIT_SYSTEM, "libarchive: cannot write cpio newc");
	if (!strcmp(ir.compress, "gzip")) {
		if (archive_write_add_filter_gzip(ir.a) != ARCHIVE_OK ||
		    archive_write_set_filter_option(ir.a, "gzip", "timestamp", NULL) !=
			    ARCHIVE_OK ||
		    archive_write_set_filter_option(ir.a, "gzip", "compression-level", "9") !=
			    ARCHIVE_OK)
			die(EXIT_SYSTEM, "libarchive: gzip: %s", archive_error_string(ir.a));
	} else if (!strcmp(ir.compress, "zstd")) {
		if (archive_write_add_filter_zstd(ir.a) != ARCHIVE_OK ||
		    archive_write_set_filter_option(ir.a, "zstd", "compression-level", "19") !=
			    ARCHIVE_OK)
			die(EXIT_SYSTEM, "libarchive: zstd: %s", archive_error_string(ir.a));
	}
	archive_write_set_bytes_in_last_block(ir.a, 1);
	if (archive_write_open_fd(ir.a, af.fd) != ARCHIVE_OK)
		die(EXIT_SYSTEM, "%s: %s", ir.out, archive_error_string(ir.a));

	static const char *const dirs[] = {
		"dev", "proc", "sys", "run", "newroot", "lib", MOD_DIR
	};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		add_entry(dirs[i], AE_IFDIR, 0755, NULL, 0, 0);
	add_entry("dev/console", AE_IFCHR, 0600, NULL, 0, makedev(5, 1));

	char *self;
	size_t selflen;
	const char *init = ir.init ? ir.init : "/proc/self/exe";
	if (file_read_all(init, 256 << 20, &self, &selflen, &e) < 0)
		die_err(&e);
	add_entry("init", AE_IFREG, 0755, self, selflen, 0);
	free(self);

	for (int i = 0; i < n; i++) {
		struct kmod_mod *m = &x.mods[order[i]];
		unsigned char *data;
		size_t len;
		char name[LIMIT_PATH];

		if (kmod_read(&x, m->rel, &data, &len, &e) < 0)
			die_err(&e);
		snprintf(name, sizeof(name), MOD_DIR "/%s.ko", m->name);
		add_entry(name, AE_IFREG, 0644, data, len, 0);
		free(data);
		ord->len += (size_t)snprintf(ord->text + ord->len, sizeof(ord->text) - ord->len,
					     "%s\n", m->name);
	}
	add_entry(ORDER_FILE, AE_IFREG, 0644, ord->text, ord->len, 0);
	if (archive_write_close(ir.a) != ARCHIVE_OK)
		die(EXIT_SYSTEM, "%s: %s", ir.out, archive_error_string(ir.a));
	archive_write_free(ir.a);
	if (atomic_commit(&af, &e) < 0)
		die_err(&e);

	struct stat st;
	stat(ir.out, &st);
	log_info("%s: %d module%s, %s, %lld KiB", ir.out, n, n == 1 ? "" : "s", ir.compress,
		 (long long)st.st_size / 1024);
	if (have_modules)
		kmod_index_fini(&x);
	free(ord);
	return EXIT_OK;
}

int initramfs_main(int argc, char **argv)
{
	/* Booted as the initramfs' /init. */
	if (getpid() == 1)
		return init_stage();
	parse_args(argc, argv);
	return build();
}
