/* initramfs — build the initramfs that lets a stock kernel boot a banger VM.
 *
 * Its usage, the text --help prints, is initramfs_usage[] below; the formats
 * and protocols are in docs/initramfs.md. The build is initramfs_build()
 * (lib/kernel/initramfs.c), what goes in is initramfs/, and the /init it
 * boots into is initramfs/init.c.
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "initramfs/init.h"
#include "kernel/initramfs.h"
#include "log.h"
#include "store.h"
#include "xfuncs.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char initramfs_usage[] =
	"usage: initramfs [KERNEL] -o FILE [--modules DIR] [--config FILE]\n"
	"                 [--module NAME]... [--compress gzip|zstd|none] [--init FILE]\n"
	"                 [--flavour NAME]\n"
	"\n"
	"Writes a cpio (newc) archive with banger as /init and the kernel modules a\n"
	"banger VM needs that the kernel does not build in (the flavour's list in\n"
	"initramfs/modules/: virtio PCI and MMIO, virtio block, net and console,\n"
	"vsock and its virtio and loopback transports, ext4), with their\n"
	"dependencies, in load order. Booted, /init\n"
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
	"  --flavour NAME  the module list initramfs/modules/NAME.list (default: the\n"
	"                  kernel manifest's initramfs_modules, else default)\n"
	"  --compress C    gzip, zstd or none (default: zstd when the config has\n"
	"                  CONFIG_RD_ZSTD=y, else gzip)\n"
	"  --init FILE     the program to install as /init (default: this banger)\n"
	"\n"
	"See docs/initramfs.md.\n"
	"\n"
	"examples:\n"
	"  banger initramfs -o /tmp/initrd.img\n"
	"  banger initramfs debian-cloud -o /tmp/initrd.img\n";

static struct {
	struct initramfs_opts o;
	const char *extra[INITRAMFS_EXTRA_MAX];
} ir;

static void parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		const char **slot = NULL;

		if (!strcmp(o, "-o") || !strcmp(o, "--output"))
			slot = &ir.o.out;
		else if (!strcmp(o, "--modules"))
			slot = &ir.o.modules;
		else if (!strcmp(o, "--config"))
			slot = &ir.o.config;
		else if (!strcmp(o, "--compress"))
			slot = &ir.o.compress;
		else if (!strcmp(o, "--init"))
			slot = &ir.o.init;
		else if (!strcmp(o, "--flavour"))
			slot = &ir.o.flavour;
		else if (!strcmp(o, "--module")) {
			if (i + 1 >= argc)
				die_usage("--module needs a module name");
			if (ir.o.nextra >= INITRAMFS_EXTRA_MAX)
				die_usage("at most %d --module options", INITRAMFS_EXTRA_MAX);
			ir.extra[ir.o.nextra++] = argv[++i];
			continue;
		} else if (o[0] == '-') {
			die_usage("unknown option '%s'", o);
		} else if (!ir.o.kernel) {
			ir.o.kernel = o;
			continue;
		} else {
			die_usage("one KERNEL only (got '%s' and '%s')", ir.o.kernel, o);
		}
		if (i + 1 >= argc)
			die_usage("%s needs a value", o);
		*slot = argv[++i];
	}
	if (!ir.o.out)
		die_usage("-o FILE is required");
	if (!ir.o.kernel && !ir.o.modules)
		die_usage("name a KERNEL or pass --modules DIR");
	if (ir.o.compress && strcmp(ir.o.compress, "gzip") && strcmp(ir.o.compress, "zstd") &&
	    strcmp(ir.o.compress, "none"))
		die_usage("--compress: '%s' is not gzip, zstd or none", ir.o.compress);
	ir.o.extra = ir.extra;
}

/* What the build left out or assumed, then the one-line summary. */
static void initramfs_report(const struct initramfs_built *b, const char *out)
{
	for (int i = 0; i < b->nskipped; i++)
		log_warn("module %s: not in %s and not built in — left out", b->skipped[i],
			 b->moddir);
	if (!b->moddir[0])
		log_info("no modules tree: the kernel must build in what it needs");
	log_info("%s: %d module%s, %s, %llu KiB", out, b->nmodules, b->nmodules == 1 ? "" : "s",
		 b->compress, (unsigned long long)(b->bytes / 1024));
}

int initramfs_main(int argc, char **argv)
{
	struct initramfs_built b;
	struct store s;
	struct err e;

	/* Booted as the initramfs' /init. */
	if (getpid() == 1)
		initramfs_init();
	parse_args(argc, argv);
	err_init(&e);
	if ((ir.o.kernel && store_init(&s, &e) < 0) ||
	    initramfs_build(ir.o.kernel ? &s : NULL, &ir.o, &b, &e) < 0)
		die_err(&e);
	initramfs_report(&b, ir.o.out);
	return EXIT_OK;
}
