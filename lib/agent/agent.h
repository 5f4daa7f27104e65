/* agent.h — the host side of the agent protocol (docs/agent-protocol.md).
 *
 * Speaks to a guest's vsock-agent over any connected byte stream:
 * Firecracker's hybrid vsock Unix socket (after the CONNECT handshake), a
 * QEMU virtio-serial chardev Unix socket, AF_VSOCK (inside a guest only), or
 * a pipe/socketpair in tests. One struct agent is one session on one stream;
 * several execs/puts/gets run at once on it as channels.
 *
 * Caller-owned struct (agent_open … agent_close). Not thread-safe. All calls
 * block (with the stated timeouts); errors fill struct err with EXIT_GUEST
 * for a dead or silent agent, EXIT_VERIFY for a protocol violation,
 * EXIT_NETWORK for a failed connect, or the code the agent reported.
 */
#ifndef BANGER_AGENT_H
#define BANGER_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/agentproto.h"
#include "buf.h"

struct err;

/* --- connecting --------------------------------------------------------- */

/* A connection spec, as the `agent` applet takes it:
 *   unix:PATH              QEMU virtio-serial chardev socket (or a test socket)
 *   firecracker:UDS[:PORT] Firecracker hybrid vsock: connect UDS, CONNECT PORT
 *   vsock:CID[:PORT]       AF_VSOCK — only ever inside a guest, never on a host
 * PORT defaults to AP_PORT. */
enum agent_via { AGENT_UNIX, AGENT_FIRECRACKER, AGENT_VSOCK };
struct agent_spec {
	enum agent_via via;
	char path[108]; /* sun_path for UNIX and FIRECRACKER */
	unsigned cid, port;
};

/* Parses "unix:PATH" etc. into s; EXIT_USAGE on a malformed spec. */
int agent_spec_parse(struct agent_spec *s, const char *text, struct err *e);

/* Connects once (no retry) and returns a blocking, CLOEXEC fd (caller
 * closes). FIRECRACKER includes the CONNECT/OK handshake (timeout_ms bounds
 * it). EXIT_NETWORK when nothing listens or the handshake is refused. */
int agent_connect(const struct agent_spec *s, int timeout_ms, struct err *e);

/* Firecracker's handshake on an already connected fd: writes "CONNECT PORT\n",
 * reads one line (≤ LIMIT_AGENT_LINE), expects "OK …". Blocks ≤ timeout_ms. */
int agent_fc_handshake(int fd, unsigned port, int timeout_ms, struct err *e);

/* --- the session -------------------------------------------------------- */

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

struct agent_chan; /* one exec/put/get in flight (internal) */

struct agent {
	int fd;
	struct ap_decoder dec;
	struct buf out; /* frames not yet written */
	struct agent_info info;
	uint32_t next_channel;
	struct agent_chan *chans; /* list of open channels */
	int sigfd, tty_fd;	  /* see agent_forward_signals; -1 when unused */
	bool dead;		  /* the stream failed; only agent_close is useful */
};

/* Starts a session on fd (the struct takes ownership of fd, even on
 * failure): sends HELLO with a fresh nonce and waits up to timeout_ms for the
 * matching READY, skipping anything else on the stream (leftovers of an
 * earlier session). With AGENT_SHARED_STREAM (a virtio-serial stream that
 * outlives sessions), when no READY comes within a second of the agent
 * having read the HELLO (all written, none left unread in a Unix socket:
 * QEMU reads only while the guest has the port open), it flushes the stream (AP_HDR + LIMIT_FRAME zero bytes,
 * enough to complete a frame an earlier host left half-sent) and says HELLO
 * again. Without it a silent agent just times out (EXIT_GUEST). */
#define AGENT_SHARED_STREAM 1u
int agent_open(struct agent *a, int fd, unsigned flags, int timeout_ms, struct err *e);

/* Connects and opens with backoff (50 ms doubling to 250 ms) until READY or
 * timeout_ms has passed — use this instead of polling SSH after a boot.
 * A unix: spec is treated as a shared stream (AGENT_SHARED_STREAM). */
int agent_wait_ready(struct agent *a, const struct agent_spec *s, int timeout_ms, struct err *e);

/* Closes the fd and frees everything; open channels are abandoned (the agent
 * kills their processes when the session ends). Safe after a failed
 * agent_open, and twice. */
void agent_close(struct agent *a);

/* --- operations --------------------------------------------------------- */

struct agent_exec_opts {
	const char *const *argv; /* required, argv[0] is looked up in the guest's PATH */
	const char *const *env;	 /* "K=V" entries added to the guest's default env; NULL ok */
	const char *cwd;	 /* NULL: the user's home, else / */
	const char *user;	 /* NULL: the agent's user (root) */
	bool pty;		 /* run on a pseudo-terminal (stdout and stderr merged) */
	const char *term;	 /* TERM for a pty; NULL: "xterm-256color" */
	unsigned short rows, cols;
	/* Local fds: stdin is read until EOF (-1: no input, EOF at once);
	 * output is written with blocking writes (-1: discarded). */
	int in_fd, out_fd, err_fd;
};

/* Starts an exec; returns its channel id (> 0) or 0 with e set. Does not
 * wait: run agent_wait() to pump all channels until this one ends. */
uint32_t agent_exec_start(struct agent *a, const struct agent_exec_opts *o, struct err *e);

/* Starts a put: streams local_fd (until EOF) to remote path, installed
 * atomically (temp + fsync + rename) with mode and owner (uid/gid -1:
 * the agent's). size is checked by the agent (-1: unknown). */
uint32_t agent_put_start(struct agent *a, int local_fd, const char *remote, unsigned mode, long uid,
			 long gid, long long size, struct err *e);

/* Starts a get: the remote file's bytes are written to local_fd. */
uint32_t agent_get_start(struct agent *a, const char *remote, int local_fd, struct err *e);

/* Pumps the session (every open channel makes progress) until channel ch
 * ends or timeout_ms (-1: forever) passes. On success *status is the
 * channel's result in banger exit-code terms: an exec's exit code, 128+N for
 * signal N, 0 for a finished put/get. -1 with e set when the agent reported
 * an error for ch (e->code is the agent's code: 127 command not found, 126
 * not executable, EXIT_NOTFOUND, EXIT_SYSTEM…) or the session failed. */
int agent_wait(struct agent *a, uint32_t ch, int timeout_ms, int *status, struct err *e);

/* Sends signal sig (Linux numbering) to exec ch's process group. Like
 * agent_resize it does not block: what the socket does not take at once is
 * sent by the next agent_wait. */
int agent_signal(struct agent *a, uint32_t ch, int sig, struct err *e);

/* New window size for a pty exec. */
int agent_resize(struct agent *a, uint32_t ch, unsigned short rows, unsigned short cols,
		 struct err *e);

/* Forward signals: while agent_wait pumps, signals read from sigfd (a
 * signalfd the caller made and blocked) are sent to every open exec, and
 * SIGWINCH becomes a RESIZE of every pty exec from the size of tty_fd. */
void agent_forward_signals(struct agent *a, int sigfd, int tty_fd);

/* Blocking conveniences: start + wait. */
int agent_exec(struct agent *a, const struct agent_exec_opts *o, int *status, struct err *e);
int agent_put(struct agent *a, int local_fd, const char *remote, unsigned mode, long uid, long gid,
	      long long size, struct err *e);
int agent_get(struct agent *a, const char *remote, int local_fd, struct err *e);

/* Asks the guest to power off (or reboot); returns once the agent accepted. */
int agent_shutdown(struct agent *a, bool reboot, struct err *e);

#endif
