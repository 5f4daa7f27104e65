/* proc.h — the one home of child processes on the host side.
 *
 * Every program banger runs on the host (nft, iptables, qemu probes, the
 * VMMs, ssh) starts here; `make lint` (scripts/check-layers.sh) refuses
 * fork/exec/posix_spawn anywhere else outside the guest's PID 1 and agent.
 * A VMM outlives the banger command that started it: it runs in its own
 * session with stdin on /dev/null and stdout/stderr appended to the VM's log.
 * Any other child dies with banger (PR_SET_PDEATHSIG) and is waited for.
 */
#ifndef BANGER_PROC_H
#define BANGER_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct err;

/* Forks and execs argv[0] (a path, not searched on PATH) detached, output
 * appended to log. An exec failure is reported here (through a close-on-exec
 * pipe), not as a later mysterious death. *pid gets the child. Never waits
 * for the child beyond its exec. */
int proc_spawn_detached(const char *const *argv, const char *log, pid_t *pid, struct err *e);

/* The standard streams of a proc_run child. Each is /dev/null unless given. */
struct proc_io {
	const char *input; /* written to stdin, then EOF */
	size_t input_len;
	char *out; /* stdout: the first out_size-1 bytes, NUL-terminated */
	size_t out_size;
	char *err; /* stderr, likewise (kept for a message) */
	size_t err_size;
	int log_fd;		/* > 0: stdout and stderr not captured go here (a log) */
	bool search_path;	/* look argv[0] up on PATH (else it is a path) */
	int timeout_ms;		/* > 0: SIGKILL after this long, an error */
	const char *const *env; /* the child's environment (NULL: ours) */
	/* Runs in the child just before the exec (unshare, mounts, chroot…):
	 * returns NULL, or what it could not do (a string literal), with errno
	 * set; proc_run then fails with "ARGV0: cannot set up WHAT: why". */
	const char *(*setup)(void *arg);
	void *setup_arg;
	/* Filled in: bytes the child wrote; more than *_size - 1 means the
	 * rest was read and dropped, so a chatty child never blocks. */
	size_t out_len, err_len;
};

/* Runs argv to its end and returns its exit status (0-255; 128+N when
 * killed by signal N). -1 with e set when it cannot run (EXIT_NOTFOUND for
 * a missing program), cannot be waited for, or outlives io->timeout_ms.
 * Blocks; feeds input and drains output together, so neither side stalls. */
int proc_run(const char *const *argv, struct proc_io *io, struct err *e);

/* Replaces this process with argv (looked up on PATH), as a shell's exec
 * does: for a command the user asked to become (vm ssh). Returns only on
 * failure: -1 with e set (EXIT_NOTFOUND when it is not installed). */
int proc_exec(const char *const *argv, struct err *e);

/* Forks a daemon of this process, for work that outlives the command (a
 * VM's port forwarder): no exec, so it runs lib code in-process. In the
 * child (0 returned): its own session, stdio on /dev/null, every fd but
 * keep[0..nkeep) closed; it must end with _exit. In the parent: the pid.
 * -1 with e set when fork fails. */
pid_t proc_fork_daemon(const int *keep, size_t nkeep, struct err *e);

/* SIGKILLs pid, our child that failed to come up, and reaps it. Blocks
 * only until the kernel has taken it down. */
void proc_kill(pid_t pid);

/* Waits up to timeout_ms for a Unix socket at path to accept a connection,
 * giving up early when pid (if > 0, our child) has exited. Blocks. */
int proc_wait_socket(const char *path, pid_t pid, int timeout_ms, struct err *e);

/* Connects to a Unix stream socket; returns the fd (close-on-exec) or -1. */
int proc_connect_unix(const char *path, struct err *e);

#endif
