/* kmod.h — kernel modules: which to load, in what order, and loading them.
 *
 * Host side (building an initramfs): a struct kmod_index reads a modules
 * tree (lib/modules/VERSION): modules.dep when present (depmod's output),
 * else modules.order for the paths and each module's own .modinfo
 * "depends=" (Debian's kernel .deb ships no modules.dep). modules.builtin
 * names what needs no loading. kmod_closure gives the wanted modules and
 * their dependencies, dependencies first. Soft dependencies are not
 * followed. Compressed modules (.ko.xz, .ko.zst, .ko.gz) are read
 * decompressed. Module names compare with '-' and '_' equal.
 *
 * Guest side: kmod_load is finit_module(2) on one file.
 * Caller-owned index (kmod_index_init/fini); reads block on disk I/O.
 */
#ifndef BANGER_KMOD_H
#define BANGER_KMOD_H

#include <stdbool.h>
#include <stddef.h>

#include "limits.h"

struct err;

struct kmod_mod {
	const char *rel;  /* path under the tree, as listed */
	char name[64];	  /* normalised: '-' -> '_' */
	const char *deps; /* modules.dep: the rest of the line; NULL: read .modinfo */
	int mark;	  /* closure walk state */
};

struct kmod_index {
	char dir[LIMIT_PATH];
	char *list;    /* modules.dep or modules.order text (owned) */
	char *builtin; /* modules.builtin text (owned, may be NULL) */
	struct kmod_mod *mods;
	int n;
	bool have_dep; /* deps come from modules.dep */
};

/* Reads dir/modules.dep (else modules.order) and dir/modules.builtin.
 * EXIT_NOTFOUND when dir has neither list. */
int kmod_index_init(struct kmod_index *x, const char *dir, struct err *e);
void kmod_index_fini(struct kmod_index *x);

/* The module called name (any '-'/'_' spelling), or NULL. */
struct kmod_mod *kmod_find(struct kmod_index *x, const char *name);
/* True when name is built into the kernel (modules.builtin). */
bool kmod_is_builtin(const struct kmod_index *x, const char *name);

/* The load order for want[0..nwant): every module with its dependencies
 * before it, each once, built-in ones left out. order[] receives indexes
 * into x->mods (at most max, else EXIT_VERIFY). A wanted name that is
 * neither a module nor built in is an error (EXIT_NOTFOUND) unless
 * missing_ok, in which case it is listed in skipped (up to nskipped_max).
 * A dependency that cannot be found is always an error. */
int kmod_closure(struct kmod_index *x, const char *const *want, int nwant, bool missing_ok,
		 int *order, int max, int *n, const char **skipped, int nskipped_max, int *nskipped,
		 struct err *e);

/* Reads the module at x->dir/rel (trying .xz, .zst and .gz suffixes when
 * rel itself is absent), decompressed, into a malloc'd buffer (caller
 * frees). At most LIMIT_MODULE_SIZE bytes. */
int kmod_read(const struct kmod_index *x, const char *rel, unsigned char **data, size_t *len,
	      struct err *e);

/* Copies the .modinfo value of key ("depends", "vermagic"...) of the ELF
 * module image into out. 0 found, 1 absent, -1 malformed (EXIT_VERIFY). */
int kmod_modinfo(const unsigned char *elf, size_t len, const char *key, char *out, size_t size,
		 struct err *e);

/* The module's aliases that name devices (virtio:, pci:, acpi…, of:,
 * platform:), space-separated, into out: a driver the VM needs only when
 * such a device is there. Not protocol or filesystem aliases (net-pf-40,
 * fs-overlay), which say nothing of the hardware. 0 found, 1 none, -1
 * malformed or over size (EXIT_VERIFY). */
int kmod_device_aliases(const unsigned char *elf, size_t len, char *out, size_t size,
			struct err *e);

/* Normalises a module file name or path to its module name
 * ("kernel/x/virtio-rng.ko.xz" -> "virtio_rng"). */
void kmod_name(const char *path, char *out, size_t size);

/* Loads the module file at path with params (may be "") through
 * finit_module(2). 1 when it was already loaded, 0 loaded, -1 error. */
int kmod_load(const char *path, const char *params, struct err *e);

#endif
