/* prune.h — giving back the store's space that nothing uses.
 *
 * What counts as used: a blob in oci/blobs/sha256/ is used while an
 * installed image lists it in its layers file (image.h); an image or a
 * kernel is used while a VM's config.json names it (a VM boots from its own
 * disk copy, but restarts need its kernel, and vm run re-creates from the
 * image). Staging directories of processes that died are never used.
 *
 * Prunes take each object's lock (store_lock) while removing it, refuse
 * with EXIT_BUSY while a pull holds an image lock (its blobs are not listed
 * until it is done), and keep blobs written since the prune began (a pull
 * that started after that check). A pull that starts meanwhile and reuses
 * an old unlisted blob can still lose it: it then fails and is re-run.
 * Blocks on disk I/O.
 */
#ifndef BANGER_PRUNE_H
#define BANGER_PRUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;
struct store;

/* Called for each thing removed (or, with dry_run, that would be): what
 * ("blob", "image", "kernel", "staging"), its name, its size in bytes. */
typedef void (*prune_fn)(void *ctx, const char *what, const char *name, uint64_t bytes);

struct prune_opts {
	bool all;     /* also images / kernels no VM uses, not only leftovers */
	bool dry_run; /* report, remove nothing */
	prune_fn fn;  /* may be NULL */
	void *ctx;
};

/* "KIND NAME SIZE" for one reported thing, into out. */
void prune_line(char *out, size_t size, const char *what, const char *name, uint64_t bytes);

/* Images: staging leftovers, with all the images no VM uses, then the
 * blobs no remaining image lists. An image pulled from a registry before
 * layers files existed makes every blob count as used (said through
 * *unlisted, the first such image's name, "" when none). *freed gets the
 * bytes. */
int prune_images(const struct store *s, const struct prune_opts *o, uint64_t *freed,
		 char unlisted[65], struct err *e);

/* How many VMs use image name (their config names it, or their base disk
 * is its file: vm.h), their names comma-separated into out (cut at size).
 * -1 when a VM's config cannot be read (it may use anything). */
int prune_image_users(const struct store *s, const char *name, char *out, size_t size);

/* Kernels: staging leftovers, with all the kernels no VM uses. */
int prune_kernels(const struct store *s, const struct prune_opts *o, uint64_t *freed,
		  struct err *e);

#endif
