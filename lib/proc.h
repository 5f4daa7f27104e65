/* proc.h — starting a VMM detached, and waiting for its sockets.
 *
 * A VMM outlives the banger command that started it: it runs in its own
 * session with stdin on /dev/null and stdout/stderr appended to the VM's log.
 */
#ifndef BANGER_PROC_H
#define BANGER_PROC_H

#include <sys/types.h>

struct err;

/* Forks and execs argv[0] (a path, not searched on PATH) detached, output
 * appended to log. An exec failure is reported here (through a close-on-exec
 * pipe), not as a later mysterious death. *pid gets the child. Never waits
 * for the child beyond its exec. */
int proc_spawn_detached(const char *const *argv, const char *log, pid_t *pid, struct err *e);

/* Waits up to timeout_ms for a Unix socket at path to accept a connection,
 * giving up early when pid (if > 0, our child) has exited. Blocks. */
int proc_wait_socket(const char *path, pid_t pid, int timeout_ms, struct err *e);

/* Connects to a Unix stream socket; returns the fd (close-on-exec) or -1. */
int proc_connect_unix(const char *path, struct err *e);

#endif
