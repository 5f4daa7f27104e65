/* server.h — the guest side of the agent protocol (docs/agent-protocol.md).
 *
 * Sessions and their channels: HELLO/READY, exec (fork, pty, user, cwd,
 * stdio with flow control), put (atomic), get, signal, resize, shutdown. One
 * session per socket connection, plus the one virtio-serial stream that
 * outlives sessions (resync by hunting for HELLO).
 *
 * The server accepts from the listening sockets it is given and defends
 * itself against peers that hold connections without using them: a
 * connection must say HELLO within LIMIT_AGENT_HELLO_MS, a session with no
 * live channel is closed after LIMIT_AGENT_IDLE_MS, a peer (a Unix socket's
 * process, a vsock CID) has at most LIMIT_AGENT_PEER_CONNS sessions, and at
 * LIMIT_AGENT_CONNS (or out of fds) a new connection takes the place of a
 * half-open or idle one — of a peer holding more than its share, or a quiet
 * one (docs/agent-protocol.md, "Floods"). When accept runs out of fds with
 * nothing to evict, a reserve fd is given up to take the pending connection
 * off the queue and close it, and that listener rests (100 ms doubling to
 * 1 s); after a refusal it rests 100 ms: a flood costs no busy loop.
 *
 * Caller-owned struct (agent_server_init ... agent_server_fini), one per
 * process: it blocks SIGCHLD and reaps every child through its own
 * signalfd. Not thread-safe; nothing blocks but the caller's poll. Events
 * worth telling (a refused peer, a protocol error) go to the note hook; the
 * server never prints and never exits.
 */
#ifndef BANGER_AGENT_SERVER_H
#define BANGER_AGENT_SERVER_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "log.h"

struct err;
struct agent_conn;
struct agent_slot;

#define AGENT_SERVER_LISTENERS 4
#define AGENT_SERIAL_PORTS 2 /* AP_SERIAL_NAME, AP_SERIAL_FORWARD_NAME */

struct agent_listener {
	int fd;
	bool vsock;	    /* AF_VSOCK: only the host (CID 2) may connect */
	bool allow_local;   /* vsock: also CID 1, the guest itself (tests) */
	long long rest_til; /* not accepting until then (ms, CLOCK_MONOTONIC) */
	int rest_ms;	    /* the next rest after running out of fds */
};

struct agent_server {
	pid_t init_pid; /* asked to power off or reboot */
	/* Told what happened (may be NULL); msg is one line. */
	void (*note)(enum log_level lvl, const char *msg);
	/* Deadlines, LIMIT_AGENT_HELLO_MS and LIMIT_AGENT_IDLE_MS by init. */
	int hello_ms, idle_ms;
	/* internal */
	int chld_fd, reserve_fd;
	struct agent_listener ls[AGENT_SERVER_LISTENERS];
	int nls;
	struct agent_conn *conns; /* socket sessions */
	int nconns;
	/* The virtio-serial streams (AP_SERIAL_NAME, AP_SERIAL_FORWARD_NAME),
	 * NULL without one: two ports, so a long forwarded connection on one
	 * never holds up vm exec on the other (QEMU's host end of a port takes
	 * one client at a time). */
	struct agent_conn *serial[AGENT_SERIAL_PORTS];
	struct pollfd *pfd;
	struct agent_slot *slot;
	size_t npfd, cap, extra;
	long long refused_at; /* when the last refusal was told */
	unsigned refused;     /* refusals since then, told at most once a second */
};

/* Blocks SIGCHLD (its signalfd reaps), keeps a reserve fd. EXIT_SYSTEM when
 * the signalfd cannot be made. */
int agent_server_init(struct agent_server *s, pid_t init_pid, struct err *e);

/* Ends every session (SIGKILL to each exec's process group), closes all fds
 * it owns, listeners included. */
void agent_server_fini(struct agent_server *s);

/* Hands over a listening, non-blocking socket to accept from. EXIT_USAGE
 * past AGENT_SERVER_LISTENERS. */
int agent_server_listen(struct agent_server *s, int fd, bool vsock, bool allow_local,
			struct err *e);

/* Hands over virtio-serial stream port (0 .. AGENT_SERIAL_PORTS-1; a
 * non-blocking fd). When the host side hangs up the server closes it
 * (agent_server_serial_up turns false) and keeps hunting for HELLO on the
 * next fd given. */
void agent_server_serial(struct agent_server *s, int port, int fd);
bool agent_server_serial_up(const struct agent_server *s, int port);

/* The poll set of one loop turn: entries [0, extra) are the caller's to fill
 * (its signalfd, say), the server's follow; *n is the total and *timeout_ms
 * when the server next has something to do (-1: only when an fd is ready).
 * The array lives until the next call. NULL when out of memory. */
struct pollfd *agent_server_pollset(struct agent_server *s, size_t extra, size_t *n,
				    int *timeout_ms);

/* After poll on that set: handles every ready fd of the server's, sends
 * what is due, ends expired connections, frees finished ones. */
void agent_server_dispatch(struct agent_server *s);

/* How many socket sessions are open (for tests and notes). */
int agent_server_sessions(const struct agent_server *s);

#endif
