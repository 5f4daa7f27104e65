/* initramfs.h — building the initramfs that lets a stock kernel boot a
 * banger VM: a reproducible cpio (newc) archive with banger as /init and the
 * kernel modules the VM needs, in load order.
 *
 * What goes in is written down in the top-level initramfs/ directory and
 * built into the binary (lib/embed.S): content.list (directories, device
 * nodes) and modules/FLAVOUR.list (the modules each kernel flavour needs).
 * "default" is lenient (a name the kernel lacks is left out and reported);
 * any other flavour is strict (a name the kernel lacks fails the build).
 * The /init side is initramfs/init.c. See docs/initramfs.md.
 *
 * Nothing here prints; all calls block on disk I/O.
 */
#ifndef BANGER_INITRAMFS_H
#define BANGER_INITRAMFS_H

#include <stdbool.h>
#include <stdint.h>

#include "limits.h"

struct err;
struct store;

/* In the archive: the modules, flat, and the order to load them in. */
#define INITRAMFS_MOD_DIR "lib/modules"
#define INITRAMFS_ORDER_FILE "lib/modules/banger.order"
/* "NAME ALIAS…" for each driver that serves only devices (kmod.h): /init
 * loads it only when a device matching an alias is there. */
#define INITRAMFS_DEVICES_FILE "lib/modules/banger.devices"
#define INITRAMFS_EXTRA_MAX 32	 /* --module names */
#define INITRAMFS_SKIPPED_MAX 16 /* left-out names reported */
#define INITRAMFS_DEFAULT_FLAVOUR "default"

struct initramfs_opts {
	const char *out;	  /* the archive (replaced atomically) */
	const char *kernel;	  /* kernels/KERNEL: its modules/, config, manifest; or NULL */
	const char *modules;	  /* a lib/modules/VERSION directory (wins over the kernel's) */
	const char *config;	  /* the kernel's .config; NULL: found beside the modules */
	const char *compress;	  /* gzip, zstd, none; NULL: zstd if CONFIG_RD_ZSTD=y, else gzip */
	const char *init;	  /* the /init program; NULL: /proc/self/exe */
	const char *flavour;	  /* modules/FLAVOUR.list; NULL: the kernel manifest's
					  * "initramfs_modules", else "default" */
	const char *const *extra; /* more modules by name; each must exist */
	int nextra;
};

struct initramfs_built {
	int nmodules;
	char compress[8];
	char flavour[LIMIT_NAME + 1];
	char moddir[LIMIT_PATH]; /* "" when the kernel has no modules tree */
	uint64_t bytes;		 /* archive size */
	int nskipped;		 /* default-list names the kernel lacks, left out */
	char skipped[INITRAMFS_SKIPPED_MAX][64];
};

/* Writes the archive o->out. Errors: an unknown kernel or module
 * (EXIT_NOTFOUND), an unknown flavour or --compress (EXIT_USAGE), a
 * corrupt module (EXIT_VERIFY), I/O (EXIT_SYSTEM). On failure o->out is
 * untouched. */
int initramfs_build(const struct store *s, const struct initramfs_opts *o,
		    struct initramfs_built *b, struct err *e);

/* The initramfs kernel KERNEL boots with, its path into out: the
 * kernel's own kernels/KERNEL/initrd.img when there is one, else banger's,
 * kernels/KERNEL/banger-initrd.img, built (initramfs_build) when missing or
 * made by another banger binary (its sha256 is kept beside it) — the guest
 * runs the banger of the host (docs/initramfs.md). *built says whether it
 * was built. */
int initramfs_ensure(const struct store *s, const char *kernel, char out[LIMIT_PATH], bool *built,
		     struct initramfs_built *b, struct err *e);

/* A module list, as read from modules/FLAVOUR.list. */
struct initramfs_list {
	int n;
	char names[LIMIT_MODULES][64];
};

/* Parses flavour's list (one name a line; '#' comments and blank lines
 * skipped). EXIT_USAGE for an unknown flavour (the message lists those
 * there are), EXIT_VERIFY for a name of 64 bytes or more or more than
 * LIMIT_MODULES names. */
int initramfs_module_list(const char *flavour, struct initramfs_list *l, struct err *e);

#endif
