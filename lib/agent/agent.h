/* agent.h — the host side of the agent protocol (docs/agent-protocol.md).
 *
 * Speaks to a guest's vsock-agent over any connected byte stream:
 * Firecracker's hybrid vsock Unix socket (after the CONNECT handshake), a
 * QEMU virtio-serial chardev Unix socket, AF_VSOCK (inside a guest only), or
 * a socketpair in tests.
 *
 * Callers use the transactions — agent_ping, agent_exec, agent_put,
 * agent_get, agent_shutdown — each one whole connection (connect, wait for
 * READY, the work, close), in this process. Below them one struct agent is
 * one session on one stream, several execs/puts/gets running at once on it
 * as channels; that level is exported for unit tests.
 *
 * Not thread-safe. All calls block (with the stated timeouts); errors fill
 * struct err with EXIT_GUEST for a dead or silent agent, EXIT_VERIFY for a
 * protocol violation, EXIT_NETWORK for a failed connect, EXIT_USAGE for a
 * bad address, or the code the agent reported.
 */
#ifndef BANGER_AGENT_H
#define BANGER_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/agentproto.h"
#include "buf.h"

struct err;

/* --- addresses ---------------------------------------------------------- */

/* Where the agent is:
 *   AGENT_UNIX         QEMU virtio-serial chardev socket (or a test socket)
 *   AGENT_FIRECRACKER  Firecracker hybrid vsock: connect path, CONNECT port
 *   AGENT_VSOCK        AF_VSOCK cid:port — only ever inside a guest */
enum agent_via { AGENT_UNIX, AGENT_FIRECRACKER, AGENT_VSOCK };
struct agent_addr {
	enum agent_via via;
	char path[108]; /* sun_path for UNIX and FIRECRACKER */
	unsigned cid, port;
};

/* Fills a from the value of one connection option: PATH (unix),
 * UDS[:PORT] (firecracker), CID[:PORT] (vsock); PORT defaults to AP_PORT.
 * EXIT_USAGE naming the value on a malformed one. Never blocks. */
int agent_addr_set(struct agent_addr *a, enum agent_via via, const char *value, struct err *e);

/* Firecracker's handshake on an already connected fd: writes "CONNECT PORT\n",
 * reads one line (<= LIMIT_AGENT_LINE), expects "OK ...". Blocks <= timeout_ms. */
int agent_fc_handshake(int fd, unsigned port, int timeout_ms, struct err *e);

/* --- transactions --------------------------------------------------------
 * Each connects (retrying with backoff, 50 ms doubling to 250 ms, until the
 * agent answers or timeout_ms has passed: EXIT_GUEST naming the last
 * reason), does one thing, and closes. They block. */

/* What READY told us (strings NUL-terminated, truncated never: the agent's
 * values longer than these are a protocol error). */
struct agent_info {
	int version;	/* protocol version */
	char agent[64]; /* agent build, "banger VERSION" */
	char hostname[256];
	char kernel[128];     /* uname -r */
	char first_boot[256]; /* first line of /run/banger/first-boot.state, or "unknown" */
	long long boot_time;  /* seconds since the epoch (/proc/stat btime) */
	long long uptime_ms;  /* guest CLOCK_BOOTTIME when READY was sent */
	uint32_t window;      /* per-channel STDIN/DATA credit the agent grants */
};

/* Waits until the agent answers; its facts into info (may be NULL).
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT end the wait (128+N, "interrupted")
 * instead of the process: they are blocked during the call. */
int agent_ping(const struct agent_addr *a, int timeout_ms, struct agent_info *info, struct err *e);

struct agent_exec_opts {
	const char *const *argv; /* argv[0] is looked up in the guest's PATH */
	/* Or several commands at once, each run as `/bin/sh -c CMD`, sharing the
	 * output fds; none reads input. At most LIMIT_AGENT_CHANNELS. */
	const char *const *cmds;
	size_t ncmds;
	const char *const *env; /* "K=V" entries added to the guest's default env; NULL ok */
	const char *cwd;	/* NULL: the user's home, else / */
	const char *user;	/* NULL: the agent's user (root) */
	/* On a pseudo-terminal (stdout and stderr merged). Its size comes from
	 * out_fd (else in_fd) when that is a terminal, else 24x80; in_fd, when
	 * a terminal, is in raw mode for the call (restored on every return)
	 * and SIGWINCH resizes the remote one. */
	bool tty;
	const char *term; /* TERM for the pty; NULL: "xterm-256color" */
	/* Local fds: in_fd is read until EOF (-1, or unreadable: no input);
	 * output is written with blocking writes (-1: discarded). */
	int in_fd, out_fd, err_fd;
};

/* Runs a command in the guest, streaming stdio, until it ends. SIGINT,
 * SIGTERM, SIGHUP and SIGQUIT are blocked during the call and read from a
 * signalfd in the one poll loop: before the agent answers they end the wait
 * (128+N); after, they go to the remote process group. On success *status
 * is the exit code, 128+N for signal N (with cmds: the first non-zero one,
 * in order). -1 with e set when a command could not run (e->code 127 not
 * found, 126 not executable, EXIT_NOTFOUND a user or cwd...; with cmds,
 * after all of them ended) or the session failed (EXIT_GUEST). */
int agent_exec(const struct agent_addr *a, int timeout_ms, const struct agent_exec_opts *o,
	       int *status, struct err *e);

/* Streams local_fd (until EOF) to the guest's absolute path remote,
 * installed atomically (temp + fsync + rename) with mode (-1: local_fd's
 * when it is a regular file, else 0644) and owner (-1: the agent's). The
 * size of a regular local_fd is checked by the agent. */
int agent_put(const struct agent_addr *a, int timeout_ms, int local_fd, const char *remote,
	      long mode, long uid, long gid, struct err *e);

/* Copies the guest's regular file remote to local (installed atomically,
 * mode 0644: whole or not at all), or with local NULL writes it to
 * local_fd. */
int agent_get(const struct agent_addr *a, int timeout_ms, const char *remote, const char *local,
	      int local_fd, struct err *e);

/* Asks the guest's init to power off (or reboot); returns once the agent
 * accepted (answers within 30 s once connected). */
int agent_shutdown(const struct agent_addr *a, int timeout_ms, bool reboot, struct err *e);

/* After a restore: sends id (identity.h) with time_sec/time_nsec set to
 * this host's clock just before it goes, and waits for the agent to have
 * applied it (OK), or its ERROR naming the first part that failed. */
struct ap_identity;
int agent_identity(const struct agent_addr *a, int timeout_ms, struct ap_identity *id,
		   struct err *e);

/* --- port forwarding -----------------------------------------------------
 * `-p [HOSTIP:]HOSTPORT:GUESTPORT[/tcp]`: the host listens on HOSTIP:HOSTPORT
 * (default 127.0.0.1), and each connection becomes a CONNECT channel to
 * the agent, which connects to 127.0.0.1:GUESTPORT inside the guest. No
 * root, no NAT, the same with every network mode and VMM. */

#define AGENT_PORTS_MAX 16	    /* -p options of one VM */
#define AGENT_FORWARD_WAIT_MS 10000 /* a connection waits this long for the agent */

struct agent_port {
	char host[46]; /* the host address listened on, numeric */
	unsigned short host_port, guest_port;
};

/* Parses a -p value; EXIT_USAGE naming it when malformed (a name instead
 * of an address, a port out of 1-65535, udp). Never blocks. */
int agent_port_parse(struct agent_port *p, const char *spec, struct err *e);

/* The value back, "HOSTIP:HOSTPORT:GUESTPORT" ([v6] bracketed), as snprintf. */
int agent_port_format(const struct agent_port *p, char *out, size_t size);

/* A listening, non-blocking CLOEXEC socket on the port's host side (caller
 * closes). EXIT_BUSY when the address is in use. */
int agent_port_listen(const struct agent_port *p, struct err *e);

/* Serves ports[i] on listening fds[i] until stop[0] or stop[1] (a signalfd,
 * a pidfd; -1: none) is readable: each accepted connection is a channel of
 * one session, opened with the first connection (waiting up to
 * AGENT_FORWARD_WAIT_MS) and closed after LIMIT_AGENT_IDLE_MS / 2 with none
 * (at once on a unix address: QEMU's chardev serves one host at a time, so
 * while a connection is forwarded there, vm exec waits for it);
 * a connection the guest refuses is closed. A lost session takes its
 * connections with it; the next one reconnects. Writes to a forwarded
 * connection block: a peer that does not read stalls the others.
 * 0 when stopped; -1 with e set only when the loop itself fails. */
int agent_forward(const struct agent_addr *a, const struct agent_port *ports, const int *fds,
		  size_t n, const int stop[2], struct err *e);

/* --- the session, under the transactions (and unit tests) ----------------- */

struct agent_chan; /* one exec/put/get in flight (internal) */

struct agent {
	int fd;
	struct ap_decoder dec;
	struct buf out; /* frames not yet written */
	struct agent_info info;
	uint32_t next_channel;
	struct agent_chan *chans; /* list of open channels */
	int sigfd, tty_fd;	  /* signals to forward / end a wait; -1 when unused */
	int signo;		  /* a signal that ended a wait (0: none) */
	bool dead;		  /* the stream failed; only agent_close is useful */
};

/* Starts a session on fd (the struct takes ownership of fd, even on
 * failure): sends HELLO with a fresh nonce and waits up to timeout_ms for the
 * matching READY, skipping anything else on the stream (leftovers of an
 * earlier session). With AGENT_SHARED_STREAM (a virtio-serial stream that
 * outlives sessions), when no READY comes within a second of the agent
 * having read the HELLO (all written, none left unread in a Unix socket:
 * QEMU reads only while the guest has the port open), it flushes the stream
 * (AP_HDR + LIMIT_FRAME zero bytes, enough to complete a frame an earlier
 * host left half-sent) and says HELLO again. Without it a silent agent just
 * times out (EXIT_GUEST). */
#define AGENT_SHARED_STREAM 1u
int agent_open(struct agent *a, int fd, unsigned flags, int timeout_ms, struct err *e);

/* Closes the fd and frees everything; open channels are abandoned (the agent
 * kills their processes when the session ends). Safe after a failed
 * agent_open, and twice. */
void agent_close(struct agent *a);

#endif
