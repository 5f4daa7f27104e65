/* store.h — where banger keeps things: BANGER_HOME and its layout.
 *
 * BANGER_HOME, else /var/lib/banger for root, else $XDG_DATA_HOME/banger,
 * else ~/.local/share/banger. Objects live in KIND/NAME/ (kernels, images,
 * vms), are built in KIND/.NAME.staging.PID and renamed in when complete
 * (file_commit_dir), and are serialised by KIND/.NAME.lock. Shared caches:
 * oci/blobs/sha256/, tmp/. See docs/architecture.md.
 */
#ifndef BANGER_STORE_H
#define BANGER_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "limits.h"

struct err;

struct store {
	char home[LIMIT_PATH];
};

/* Resolves the home directory (does not create it). Never blocks. */
int store_init(struct store *s, struct err *e);

/* home/KIND, created (mode 0755) if missing. */
int store_kind_dir(const struct store *s, const char *kind, char *out, size_t size, struct err *e);

/* home/KIND/NAME (not created). NAME must pass path_is_simple_name, else
 * EXIT_USAGE with a message that says what names may look like. */
int store_object_dir(const struct store *s, const char *kind, const char *name, char *out,
		     size_t size, struct err *e);

/* Takes KIND/.NAME.lock (exclusive, waiting; see lock.h). Returns the fd.
 * Then sweeps KIND (store_sweep): any store operation clears what killed
 * ones left. */
int store_lock(const struct store *s, const char *kind, const char *name, bool *waited,
	       struct err *e);

/* Creates a fresh, empty KIND/.NAME.staging.PID (removing a leftover one of
 * the same name); the caller fills it and hands it to file_commit_dir, or
 * removes it with path_remove_tree on failure. */
int store_staging(const struct store *s, const char *kind, const char *name, char *out, size_t size,
		  struct err *e);

/* store_lock for an object that must exist (rm, lookups): when KIND/NAME
 * is absent, EXIT_NOTFOUND and no lock file is created. */
int store_lock_existing(const struct store *s, const char *kind, const char *name, bool *waited,
			struct err *e);
/* Removes every KIND/.NAME.staging.PID whose PID is gone, whatever NAME —
 * each under NAME's lock, skipped when it is busy. Best effort; blocks on
 * disk I/O only. */
void store_sweep(const struct store *s, const char *kind);
/* Removes KIND/.NAME.staging.* left behind by processes that died (their
 * PID is gone). Call with the object's lock held. */
void store_sweep_staging(const struct store *s, const char *kind, const char *name);

/* True the first time it is asked about `what` in this store (it creates
 * the marker home/notices/WHAT), so a notice about the host is said once,
 * not on every command. False when said before, or when the marker cannot
 * be made (a read-only store: better silent than repeating). */
bool store_first_time(const struct store *s, const char *what);

#endif
