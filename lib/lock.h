/* lock.h — advisory lock files (flock), one per object (kernel, image, VM).
 *
 * The kernel drops a flock when its holder dies, so a crashed banger never
 * leaves a stale lock. The lock file itself is never deleted (deleting it
 * would let two processes lock two different inodes of one name).
 */
#ifndef BANGER_LOCK_H
#define BANGER_LOCK_H

#include <stdbool.h>

struct err;

enum lock_mode { LOCK_SHARED_MODE, LOCK_EXCLUSIVE_MODE };

/* Opens (creating) path and locks it. With wait, blocks until granted
 * (EINTR aborts with an error, so Ctrl-C works); without, fails at once with
 * EXIT_BUSY. Returns the fd that holds the lock, or -1. *waited tells if
 * another holder made us wait (may be NULL). */
int lock_acquire(const char *path, enum lock_mode mode, bool wait, bool *waited, struct err *e);

/* Releases by closing the fd; -1 is ignored. */
void lock_release(int fd);

#endif
