/* agent.c — see agent.h. */
#include "agent/agent.h"
#include "agent/identity.h"
#include "clock.h"
#include "err.h"
#include "file.h"
#include "exitcode.h"
#include "limits.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

enum chan_kind { AC_CTRL, AC_EXEC, AC_PUT, AC_GET, AC_TCP };

struct agent_chan {
	struct agent_chan *next;
	uint32_t id;
	enum chan_kind kind;
	bool pty;
	int in_fd;	    /* exec stdin or put source; -1 when done */
	bool in_ended;	    /* the empty STDIN/DATA was sent */
	uint32_t credit;    /* bytes we may still send */
	int out_fd, err_fd; /* exec output, get destination (out_fd) */
	int sock;	    /* a forwarded TCP connection (in_fd and out_fd until done) */
	bool rd_eof;	    /* TCP: the guest side's EOF came */
	bool done, failed;
	int status;
	struct err err;
};

/* --- connecting --------------------------------------------------------- */

static int parse_uint(const char *s, unsigned long max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int agent_addr_set(struct agent_addr *a, enum agent_via via, const char *value, struct err *e)
{
	static const char *const opt[] = { "--unix", "--firecracker", "--vsock" };
	const char *colon = via == AGENT_UNIX ? NULL : strrchr(value, ':');
	size_t n = strlen(value);

	memset(a, 0, sizeof(*a));
	a->via = via;
	a->port = AP_PORT;
	if (via == AGENT_VSOCK) {
		char cid[16];

		n = colon ? (size_t)(colon - value) : n;
		if (n >= sizeof(cid))
			goto bad;
		memcpy(cid, value, n);
		cid[n] = '\0';
		if (parse_uint(cid, 0xffffffffUL, &a->cid) < 0 ||
		    (colon && parse_uint(colon + 1, 0xffffffffUL, &a->port) < 0))
			goto bad;
		return 0;
	}
	/* UDS[:PORT] — a trailing :DIGITS is the port (a path may hold colons). */
	if (colon && parse_uint(colon + 1, 0xffffffffUL, &a->port) == 0)
		n = (size_t)(colon - value);
	if (!n)
		goto bad;
	if (n >= sizeof(a->path))
		return err_set(e, EXIT_USAGE, "%s %s: socket path too long (max %zu bytes)",
			       opt[via], value, sizeof(a->path) - 1);
	memcpy(a->path, value, n);
	a->path[n] = '\0';
	return 0;
bad:
	return err_set(e, EXIT_USAGE, "%s '%s': not %s", opt[via], value,
		       via == AGENT_UNIX    ? "a socket path"
		       : via == AGENT_VSOCK ? "CID[:PORT]"
					    : "UDS[:PORT]");
}

/* Waits for fd to be readable/writable; EXIT_GUEST on timeout. */
static int wait_fd(int fd, short ev, long long deadline, const char *what, struct err *e)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = ev };
		long long left = deadline < 0 ? -1 : deadline - now_ms();
		int r;

		if (deadline >= 0 && left <= 0)
			return err_set(e, EXIT_GUEST, "%s: timed out", what);
		r = poll(&p, 1, left > 0x7fffffff ? 0x7fffffff : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return err_errno(e, EXIT_SYSTEM, "%s: poll", what);
	}
}

int agent_fc_handshake(int fd, unsigned port, int timeout_ms, struct err *e)
{
	char line[LIMIT_AGENT_LINE + 1];
	long long deadline = now_ms() + timeout_ms;
	size_t n = 0;
	int len = snprintf(line, sizeof(line), "CONNECT %u\n", port);

	if (write(fd, line, len) != len)
		return err_errno(e, EXIT_NETWORK, "firecracker vsock: cannot send CONNECT");
	/* One byte at a time: what follows the line is the agent's stream. */
	for (;;) {
		ssize_t r;

		if (wait_fd(fd, POLLIN, deadline, "firecracker vsock: waiting for OK", e) < 0)
			return -1;
		r = read(fd, line + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return err_errno(e, EXIT_NETWORK, "firecracker vsock: reading the answer");
		if (r == 0)
			return err_set(e, EXIT_NETWORK,
				       "firecracker vsock: connection closed after CONNECT %u — is "
				       "the guest agent listening on that port?",
				       port);
		if (line[n] == '\n')
			break;
		if (++n >= LIMIT_AGENT_LINE)
			return err_set(e, EXIT_VERIFY,
				       "firecracker vsock: answer line longer than %d bytes",
				       LIMIT_AGENT_LINE);
	}
	line[n] = '\0';
	if (strncmp(line, "OK ", 3))
		return err_set(e, EXIT_NETWORK, "firecracker vsock: CONNECT %u answered \"%.80s\"",
			       port, line);
	return 0;
}

/* Our fds never take over a closed stdio fd: the caller's fd 0 would then
 * be the agent (or a signalfd), read as the command's input. */
static int above_stdio(int fd)
{
	int up;

	if (fd < 0 || fd > 2)
		return fd;
	up = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return up;
}

/* Connects once (no retry) and returns a blocking, CLOEXEC fd above stdio.
 * FIRECRACKER includes the CONNECT/OK handshake (timeout_ms bounds it).
 * EXIT_NETWORK when nothing listens or the handshake is refused. */
static int agent_connect(const struct agent_addr *s, int timeout_ms, struct err *e)
{
	int fd;

	if (s->via == AGENT_VSOCK) {
		struct sockaddr_vm sa = { .svm_family = AF_VSOCK,
					  .svm_cid = s->cid,
					  .svm_port = s->port };

		fd = above_stdio(socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
		if (fd < 0)
			return err_errno(e, EXIT_NETWORK,
					 "vsock: socket (is vsock available here?)");
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			err_errno(e, EXIT_NETWORK, "vsock %u:%u: cannot connect", s->cid, s->port);
			close(fd);
			return -1;
		}
		return fd;
	}
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memcpy(sa.sun_path, s->path, strlen(s->path) + 1);
	fd = above_stdio(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (fd < 0)
		return err_errno(e, EXIT_SYSTEM, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err_errno(e, EXIT_NETWORK, "%s: cannot connect", s->path);
		close(fd);
		return -1;
	}
	if (s->via == AGENT_FIRECRACKER && agent_fc_handshake(fd, s->port, timeout_ms, e) < 0) {
		err_prefix(e, "%s", s->path);
		close(fd);
		return -1;
	}
	return fd;
}

/* --- the session -------------------------------------------------------- */

static struct agent_chan *chan_find(struct agent *a, uint32_t id)
{
	for (struct agent_chan *c = a->chans; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

static void chan_free(struct agent *a, struct agent_chan *ch)
{
	for (struct agent_chan **pp = &a->chans; *pp; pp = &(*pp)->next)
		if (*pp == ch) {
			*pp = ch->next;
			free(ch);
			return;
		}
}

/* The session is unusable from here on; e already says why. */
static int fail(struct agent *a, struct err *e)
{
	(void)e;
	a->dead = true;
	return -1;
}

static int send_frame(struct agent *a, unsigned type, uint32_t ch, const void *p, size_t len,
		      struct err *e)
{
	if (a->dead)
		return err_set(e, EXIT_GUEST, "agent session is closed");
	if (ap_encode(&a->out, type, ch, p, len, e) < 0)
		return fail(a, e);
	return 0;
}

static int send_json(struct agent *a, unsigned type, uint32_t ch, cJSON *o, struct err *e)
{
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;
	int rc;

	cJSON_Delete(o);
	if (!s)
		return err_set(e, EXIT_SYSTEM, "agent: out of memory");
	rc = send_frame(a, type, ch, s, strlen(s), e);
	free(s);
	return rc;
}

/* Writes all of p to a local fd, waiting if it is non-blocking. */
static int write_local(int fd, const void *p, size_t n, struct err *e)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };

			poll(&pf, 1, -1);
			continue;
		}
		if (w < 0)
			return err_errno(e, 0, "writing the output");
		c += w;
		n -= w;
	}
	return 0;
}

static void chan_end(struct agent_chan *ch, int status)
{
	ch->done = true;
	ch->status = status;
	ch->in_fd = -1;
}

static int json_ll(const cJSON *o, const char *name, long long *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsNumber(v))
		return -1;
	*out = (long long)v->valuedouble;
	return 0;
}

static int handle_error_frame(struct agent *a, struct agent_chan *ch, const struct ap_frame *f,
			      struct err *e)
{
	cJSON *o = cJSON_ParseWithLength((const char *)f->payload, f->len);
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "message");
	long long code = EXIT_GUEST;
	struct err *to = ch ? &ch->err : e;

	json_ll(o, "code", &code);
	if (code <= 0 || code > 255)
		code = EXIT_GUEST;
	err_set(to, (int)code, "guest: %s",
		cJSON_IsString(m) ? m->valuestring : "the agent reported an error");
	cJSON_Delete(o);
	if (!ch)
		return fail(a, e);
	ch->failed = true;
	chan_end(ch, (int)code);
	return 0;
}

static int handle_frame(struct agent *a, const struct ap_frame *f, struct err *e)
{
	struct agent_chan *ch = chan_find(a, f->channel);
	cJSON *o;
	long long v;

	switch (f->type) {
	case AP_READY:
		return 0; /* late answer to an earlier HELLO */
	case AP_ERROR:
		if (!f->channel)
			return handle_error_frame(a, NULL, f, e);
		if (ch && !ch->done)
			handle_error_frame(a, ch, f, e);
		return 0;
	default:
		break;
	}
	if (!ch || ch->done)
		return 0; /* a channel we closed or gave up on */
	switch (f->type) {
	case AP_STDOUT:
	case AP_STDERR: {
		int fd = f->type == AP_STDOUT ? ch->out_fd : ch->err_fd;

		if (ch->kind != AC_EXEC)
			break;
		if (fd >= 0 && write_local(fd, f->payload, f->len, &ch->err) < 0) {
			/* Nobody reads our output any more: stop the remote side too. */
			send_frame(a, AP_CLOSE, ch->id, NULL, 0, e);
			ch->failed = true;
			chan_end(ch, ch->err.code);
		}
		return 0;
	}
	case AP_EXIT:
		if (ch->kind != AC_EXEC)
			break;
		o = cJSON_ParseWithLength((const char *)f->payload, f->len);
		if (json_ll(o, "signal", &v) == 0 && v > 0 && v < 128)
			chan_end(ch, EXIT_SIGNAL + (int)v);
		else if (json_ll(o, "code", &v) == 0 && v >= 0 && v < 256)
			chan_end(ch, (int)v);
		else {
			cJSON_Delete(o);
			return err_set(e, EXIT_VERIFY, "agent: malformed exit frame");
		}
		cJSON_Delete(o);
		return 0;
	case AP_ACK:
		if (f->len != 4)
			break;
		v = ap_get32(f->payload);
		if ((unsigned long long)ch->credit + v > LIMIT_AGENT_WINDOW * 2ULL)
			return err_set(e, EXIT_VERIFY, "agent: acknowledged more than was sent");
		ch->credit += (uint32_t)v;
		return 0;
	case AP_FILE:
		return ch->kind == AC_GET ? 0
					  : err_set(e, EXIT_VERIFY, "agent: unexpected file frame");
	case AP_DATA:
		if (ch->kind == AC_TCP && !f->len) {
			/* The guest side is done writing: so are we, to our peer. */
			shutdown(ch->sock, SHUT_WR);
			ch->rd_eof = true;
			if (ch->in_ended)
				chan_end(ch, 0);
			return 0;
		}
		if (ch->kind != AC_GET && ch->kind != AC_TCP)
			break;
		if (!f->len) {
			chan_end(ch, 0);
			return 0;
		}
		if (write_local(ch->out_fd, f->payload, f->len, &ch->err) < 0) {
			send_frame(a, AP_CLOSE, ch->id, NULL, 0, e);
			ch->failed = true;
			chan_end(ch, ch->err.code);
		}
		return 0;
	case AP_OK:
		if (ch->kind == AC_TCP)
			return 0; /* connected in the guest */
		if (ch->kind != AC_PUT && ch->kind != AC_CTRL)
			break;
		chan_end(ch, 0);
		return 0;
	default:
		break;
	}
	return err_set(e, EXIT_VERIFY, "agent: unexpected %s frame on channel %u",
		       ap_type_name(f->type), (unsigned)f->channel);
}

static int feed(struct agent *a, const unsigned char *p, size_t n, struct err *e)
{
	while (n) {
		struct ap_frame f;
		bool got;
		long used = ap_decode(&a->dec, p, n, &f, &got, e);

		if (used < 0)
			return fail(a, e);
		p += used;
		n -= used;
		if (got && handle_frame(a, &f, e) < 0)
			return fail(a, e);
	}
	return 0;
}

/* One non-blocking write of the queue (one per turn, so reads never starve). */
static int flush_out(struct agent *a, struct err *e)
{
	ssize_t w;

	if (!a->out.len)
		return 0;
	/* A library must not die of SIGPIPE; pipes (tests) take plain write. */
	w = send(a->fd, a->out.data, a->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w < 0 && errno == ENOTSOCK)
		w = write(a->fd, a->out.data, a->out.len);
	if (w < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (w < 0) {
		unsigned char b[AP_CHUNK];
		ssize_t r;

		err_errno(e, EXIT_GUEST, "agent: write");
		/* The agent may have said why it hung up (ERROR on channel 0). */
		while (!a->dead && (r = read(a->fd, b, sizeof(b))) > 0)
			feed(a, b, r, e);
		return fail(a, e);
	}
	memmove(a->out.data, a->out.data + w, a->out.len - w);
	a->out.len -= w;
	return 0;
}

static int read_in(struct agent *a, struct err *e)
{
	unsigned char b[AP_CHUNK];
	ssize_t r = read(a->fd, b, sizeof(b));

	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (r < 0) {
		err_errno(e, EXIT_GUEST, "agent: read");
		return fail(a, e);
	}
	if (r == 0) {
		err_set(e, EXIT_GUEST, "agent closed the connection");
		return fail(a, e);
	}
	return feed(a, b, r, e);
}

/* Reads local input for one channel within its credit. */
static int local_input(struct agent *a, struct agent_chan *ch, struct err *e)
{
	unsigned char b[AP_CHUNK];
	size_t want = ch->credit < sizeof(b) ? ch->credit : sizeof(b);
	ssize_t r = read(ch->in_fd, b, want);
	unsigned type = ch->kind == AC_EXEC ? AP_STDIN : AP_DATA;

	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (r < 0 && ch->kind == AC_EXEC)
		r = 0; /* unreadable stdin (a directory…) is no input */
	if (r < 0) {
		err_errno(&ch->err, 0, "reading the input");
		send_frame(a, AP_CLOSE, ch->id, NULL, 0, e);
		ch->failed = true;
		chan_end(ch, ch->err.code);
		return 0;
	}
	if (r == 0) {
		ch->in_fd = -1;
		ch->in_ended = true;
		if (send_frame(a, type, ch->id, NULL, 0, e) < 0)
			return -1;
		if (ch->kind == AC_TCP && ch->rd_eof)
			chan_end(ch, 0);
		return 0;
	}
	ch->credit -= r;
	return send_frame(a, type, ch->id, b, r, e);
}

static void forward_signal(struct agent *a, struct err *e)
{
	struct signalfd_siginfo si;

	while (read(a->sigfd, &si, sizeof(si)) == sizeof(si)) {
		for (struct agent_chan *ch = a->chans; ch; ch = ch->next) {
			if (ch->kind != AC_EXEC || ch->done)
				continue;
			cJSON *o = cJSON_CreateObject();

			if (si.ssi_signo == SIGWINCH) {
				struct winsize ws;

				if (!ch->pty || a->tty_fd < 0 ||
				    ioctl(a->tty_fd, TIOCGWINSZ, &ws) < 0) {
					cJSON_Delete(o);
					continue;
				}
				cJSON_AddNumberToObject(o, "rows", ws.ws_row);
				cJSON_AddNumberToObject(o, "cols", ws.ws_col);
				send_json(a, AP_RESIZE, ch->id, o, e);
			} else {
				cJSON_AddNumberToObject(o, "signal", si.ssi_signo);
				send_json(a, AP_SIGNAL, ch->id, o, e);
			}
		}
	}
}

/* One turn: poll the stream, local inputs, forwarded signals, and the
 * caller's nextra fds (their revents filled in, or 0). */
static int pump_with(struct agent *a, long long deadline, struct pollfd *extra, int nextra,
		     struct err *e)
{
	struct pollfd p[2 + LIMIT_AGENT_CHANNELS + AGENT_PORTS_MAX + 2];
	struct agent_chan *who[2 + LIMIT_AGENT_CHANNELS + AGENT_PORTS_MAX + 2];
	int n = 0, r, x;
	long long left = deadline < 0 ? -1 : deadline - now_ms();

	if (a->dead)
		return err_set(e, EXIT_GUEST, "agent session is closed");
	p[n] = (struct pollfd){ .fd = a->fd, .events = POLLIN | (a->out.len ? POLLOUT : 0) };
	who[n++] = NULL;
	if (a->sigfd >= 0) {
		p[n] = (struct pollfd){ .fd = a->sigfd, .events = POLLIN };
		who[n++] = NULL;
	}
	/* Local input only while the queue is short: the agent's pace rules. */
	for (struct agent_chan *ch = a->chans; ch && a->out.len < AP_CHUNK; ch = ch->next)
		if (!ch->done && ch->in_fd >= 0 && ch->credit > 0 &&
		    n < 2 + LIMIT_AGENT_CHANNELS) { /* the rest is for extra */
			p[n] = (struct pollfd){ .fd = ch->in_fd, .events = POLLIN };
			who[n++] = ch;
		}
	if (left < 0 && deadline >= 0)
		left = 0;
	x = n;
	for (int i = 0; i < nextra; i++)
		p[n++] = extra[i];
	r = poll(p, n, left > 1000 ? 1000 : (int)left);
	for (int i = 0; i < nextra; i++)
		extra[i].revents = r > 0 ? p[x + i].revents : 0;
	n = x;
	if (r < 0 && errno != EINTR)
		return err_errno(e, EXIT_SYSTEM, "poll");
	if (r <= 0)
		return 0;
	if (p[0].revents & POLLOUT && flush_out(a, e) < 0)
		return -1;
	if (p[0].revents & (POLLIN | POLLHUP | POLLERR) && read_in(a, e) < 0)
		return -1;
	for (int i = 1; i < n; i++) {
		if (!p[i].revents)
			continue;
		if (!who[i]) {
			forward_signal(a, e);
			continue;
		}
		if (!who[i]->done && who[i]->in_fd >= 0 && local_input(a, who[i], e) < 0)
			return -1;
	}
	return a->dead ? -1 : 0;
}

static int pump(struct agent *a, long long deadline, struct err *e)
{
	return pump_with(a, deadline, NULL, 0, e);
}

static uint32_t nonce(void)
{
	uint32_t v = 0;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
		v = (uint32_t)now_ms() ^ (uint32_t)getpid() << 16;
	return v ? v : 1;
}

static int parse_ready(struct agent *a, const struct ap_frame *f)
{
	cJSON *o = cJSON_ParseWithLength((const char *)f->payload, f->len);
	struct {
		const char *name;
		char *dst;
		size_t size;
	} strs[] = {
		{ "agent", a->info.agent, sizeof(a->info.agent) },
		{ "hostname", a->info.hostname, sizeof(a->info.hostname) },
		{ "kernel", a->info.kernel, sizeof(a->info.kernel) },
		{ "first_boot", a->info.first_boot, sizeof(a->info.first_boot) },
	};
	long long v, w;

	if (!cJSON_IsObject(o) || json_ll(o, "version", &v) < 0 || json_ll(o, "window", &w) < 0 ||
	    w < 1 || w > LIMIT_AGENT_WINDOW) {
		cJSON_Delete(o);
		return -1;
	}
	a->info.version = (int)v;
	a->info.window = (uint32_t)w;
	json_ll(o, "boot_time", &a->info.boot_time);
	json_ll(o, "uptime_ms", &a->info.uptime_ms);
	for (size_t i = 0; i < sizeof(strs) / sizeof(*strs); i++) {
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, strs[i].name);

		if (cJSON_IsString(s) && strlen(s->valuestring) < strs[i].size)
			memcpy(strs[i].dst, s->valuestring, strlen(s->valuestring) + 1);
	}
	cJSON_Delete(o);
	return 0;
}

static int send_hello(struct agent *a, uint32_t n, struct err *e)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "version", AP_VERSION);
	ap_decoder_hunt(&a->dec, AP_READY, false, n);
	return send_json(a, AP_HELLO, n, o, e);
}

/* Bytes we sent that the peer has not read yet (Unix sockets: SIOCOUTQ). */
static bool stream_unread(int fd)
{
	int n = 0;

	return ioctl(fd, TIOCOUTQ, &n) == 0 && n > 0;
}

/* A signal read from sigfd (SIGWINCH aside) ends a wait: -1 with e set. */
static int wait_interrupted(int sigfd, struct err *e)
{
	struct signalfd_siginfo si;

	while (sigfd >= 0 && read(sigfd, &si, sizeof(si)) == sizeof(si))
		if (si.ssi_signo != SIGWINCH)
			return err_set(e, EXIT_SIGNAL + (int)si.ssi_signo,
				       "agent: waiting interrupted (%s)",
				       strsignal((int)si.ssi_signo));
	return 0;
}

static int open_session(struct agent *a, int fd, unsigned flags, int timeout_ms, int sigfd,
			struct err *e)
{
	long long deadline = now_ms() + timeout_ms, retry = now_ms() + 1000;
	uint32_t n = nonce();

	memset(a, 0, sizeof(*a));
	a->fd = fd;
	a->sigfd = sigfd;
	a->tty_fd = -1;
	a->next_channel = 1;
	ap_decoder_init(&a->dec);
	buf_init(&a->out, LIMIT_AGENT_OUTQ, "agent request queue");
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		err_errno(e, EXIT_SYSTEM, "agent: fcntl");
		return fail(a, e);
	}
	if (send_hello(a, n, e) < 0)
		return -1;
	/* Hunt for READY with our nonce; everything before it is left over. */
	for (;;) {
		unsigned char b[AP_CHUNK], *p = b;
		ssize_t r;

		if (now_ms() >= deadline) {
			err_set(e, EXIT_GUEST,
				"agent: no answer within %d ms — is the guest up and its agent "
				"running?",
				timeout_ms);
			return fail(a, e);
		}
		/* The second counts from when the agent could have read our HELLO:
		 * all of it written, and none left unread in the socket (QEMU
		 * reads only while the guest has the port open). */
		if (a->out.len || stream_unread(fd))
			retry = now_ms() + 1000;
		if (flags & AGENT_SHARED_STREAM && now_ms() >= retry) {
			/* Finish whatever frame an earlier host left half-sent. */
			static unsigned char zero[AP_CHUNK]; /* .bss, not the binary */

			for (size_t left = AP_HDR + LIMIT_FRAME; left;) {
				size_t k = left < sizeof(zero) ? left : sizeof(zero);

				if (buf_append(&a->out, zero, k, e) < 0)
					return fail(a, e);
				left -= k;
			}
			n = nonce();
			if (send_hello(a, n, e) < 0)
				return -1;
			retry = now_ms() + 1000;
		}
		struct pollfd pf[2] = { { .fd = fd, .events = POLLIN | (a->out.len ? POLLOUT : 0) },
					{ .fd = sigfd, .events = POLLIN } };
		long long left = deadline - now_ms();

		if (poll(pf, 2, left > 100 ? 100 : (int)(left > 0 ? left : 0)) <= 0)
			continue;
		if (pf[1].revents && wait_interrupted(sigfd, e) < 0)
			return fail(a, e);
		if (pf[0].revents & POLLOUT && flush_out(a, e) < 0)
			return -1;
		if (!(pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		r = read(fd, b, sizeof(b));
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0) {
			if (r < 0)
				err_errno(e, EXIT_GUEST, "agent: read");
			else
				err_set(e, EXIT_GUEST, "agent closed the connection");
			return fail(a, e);
		}
		while (r > 0) {
			struct ap_frame f;
			bool got;
			long used = ap_decode(&a->dec, p, r, &f, &got, e);

			if (used < 0)
				return fail(a, e);
			p += used;
			r -= used;
			if (!got)
				continue;
			if (parse_ready(a, &f) < 0) {
				ap_decoder_hunt(&a->dec, AP_READY, false, n);
				continue;
			}
			/* Bytes after READY belong to the session (none expected yet). */
			return r ? feed(a, p, r, e) : 0;
		}
	}
}

int agent_open(struct agent *a, int fd, unsigned flags, int timeout_ms, struct err *e)
{
	return open_session(a, fd, flags, timeout_ms, -1, e);
}

/* Connects and opens with backoff until READY or timeout_ms has passed; a
 * unix address is a shared stream (QEMU's chardev). A signal on sigfd
 * (-1: none watched) ends the wait. */
static int wait_ready(struct agent *a, const struct agent_addr *s, int timeout_ms, int sigfd,
		      struct err *e)
{
	long long deadline = now_ms() + timeout_ms;
	int delay = 50;

	err_init(e);
	memset(a, 0, sizeof(*a));
	a->fd = a->sigfd = a->tty_fd = -1;
	a->dead = true;
	for (;;) {
		long long left = deadline - now_ms();
		int fd;

		if (left <= 0) {
			char last[ERR_MSG_MAX];

			snprintf(last, sizeof(last), "%s", e->msg[0] ? e->msg : "no answer");
			return err_set(e, EXIT_GUEST, "agent: not ready within %d ms: %s",
				       timeout_ms, last);
		}
		fd = agent_connect(s, (int)left, e);
		if (fd >= 0) {
			if (open_session(a, fd, s->via == AGENT_UNIX ? AGENT_SHARED_STREAM : 0,
					 (int)(deadline - now_ms()), sigfd, e) == 0)
				return 0;
			agent_close(a);
			if (e->code != EXIT_GUEST && e->code != EXIT_NETWORK)
				return -1;
		}
		left = deadline - now_ms();
		if (left <= 0)
			continue;
		struct pollfd pf = { .fd = sigfd, .events = POLLIN };

		if (poll(&pf, 1, delay < left ? delay : (int)left) > 0 &&
		    wait_interrupted(sigfd, e) < 0)
			return -1;
		/* Reconnecting is cheap; noticing a ready guest late is not. */
		delay = delay * 2 > 250 ? 250 : delay * 2;
	}
}

void agent_close(struct agent *a)
{
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
	while (a->chans)
		chan_free(a, a->chans);
	ap_decoder_fini(&a->dec);
	buf_fini(&a->out);
	a->dead = true;
}

/* --- operations --------------------------------------------------------- */

static struct agent_chan *chan_new(struct agent *a, enum chan_kind kind, struct err *e)
{
	struct agent_chan *ch;
	int open = 0;

	if (a->dead) {
		err_set(e, EXIT_GUEST, "agent session is closed");
		return NULL;
	}
	for (ch = a->chans; ch; ch = ch->next)
		open++;
	if (open >= LIMIT_AGENT_CHANNELS) {
		err_set(e, EXIT_BUSY, "agent: %d channels already open", LIMIT_AGENT_CHANNELS);
		return NULL;
	}
	if (!(ch = calloc(1, sizeof(*ch)))) {
		err_set(e, EXIT_SYSTEM, "agent: out of memory");
		return NULL;
	}
	ch->kind = kind;
	ch->in_fd = ch->out_fd = ch->err_fd = -1;
	ch->credit = a->info.window;
	if (kind != AC_CTRL) {
		do
			ch->id = a->next_channel++;
		while (!ch->id || chan_find(a, ch->id));
	}
	ch->next = a->chans;
	a->chans = ch;
	return ch;
}

static cJSON *strv_json(const char *const *v)
{
	cJSON *arr = cJSON_CreateArray();

	for (; v && *v; v++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(*v));
	return arr;
}

/* Starts one exec of argv with o's settings and the given stdin; returns
 * its channel id, or 0 with e set. */
static uint32_t exec_start(struct agent *a, const char *const *argv,
			   const struct agent_exec_opts *o, int in_fd, unsigned short rows,
			   unsigned short cols, struct err *e)
{
	struct agent_chan *ch;
	cJSON *j;

	if (!(ch = chan_new(a, AC_EXEC, e)))
		return 0;
	j = cJSON_CreateObject();
	cJSON_AddItemToObject(j, "argv", strv_json(argv));
	if (o->env)
		cJSON_AddItemToObject(j, "env", strv_json(o->env));
	if (o->cwd)
		cJSON_AddStringToObject(j, "cwd", o->cwd);
	if (o->user)
		cJSON_AddStringToObject(j, "user", o->user);
	if (o->tty) {
		cJSON *p = cJSON_AddObjectToObject(j, "pty");

		cJSON_AddNumberToObject(p, "rows", rows ? rows : 24);
		cJSON_AddNumberToObject(p, "cols", cols ? cols : 80);
		cJSON_AddStringToObject(j, "term", o->term ? o->term : "xterm-256color");
	}
	ch->pty = o->tty;
	ch->in_fd = in_fd;
	ch->out_fd = o->out_fd;
	ch->err_fd = o->err_fd;
	if (send_json(a, AP_EXEC, ch->id, j, e) < 0 ||
	    (in_fd < 0 && send_frame(a, AP_STDIN, ch->id, NULL, 0, e) < 0)) {
		chan_free(a, ch);
		return 0;
	}
	return ch->id;
}

static uint32_t put_start(struct agent *a, int local_fd, const char *remote, unsigned mode,
			  long uid, long gid, long long size, struct err *e)
{
	struct agent_chan *ch = chan_new(a, AC_PUT, e);
	cJSON *j;

	if (!ch)
		return 0;
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "path", remote);
	cJSON_AddNumberToObject(j, "mode", mode & 07777);
	if (uid >= 0)
		cJSON_AddNumberToObject(j, "uid", (double)uid);
	if (gid >= 0)
		cJSON_AddNumberToObject(j, "gid", (double)gid);
	if (size >= 0)
		cJSON_AddNumberToObject(j, "size", (double)size);
	ch->in_fd = local_fd;
	if (send_json(a, AP_PUT, ch->id, j, e) < 0) {
		chan_free(a, ch);
		return 0;
	}
	return ch->id;
}

static uint32_t get_start(struct agent *a, const char *remote, int local_fd, struct err *e)
{
	struct agent_chan *ch = chan_new(a, AC_GET, e);
	cJSON *j;

	if (!ch)
		return 0;
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "path", remote);
	ch->out_fd = local_fd;
	if (send_json(a, AP_GET, ch->id, j, e) < 0) {
		chan_free(a, ch);
		return 0;
	}
	return ch->id;
}

/* Pumps the session (every open channel makes progress) until channel id
 * ends or timeout_ms (-1: forever) passes. *status is the channel's result
 * (exit code, 128+N, 0 for a put/get); -1 with e set when the agent
 * reported an error for it or the session failed. */
static int chan_wait(struct agent *a, uint32_t id, int timeout_ms, int *status, struct err *e)
{
	long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	struct agent_chan *ch = chan_find(a, id);

	if (!ch)
		return err_set(e, EXIT_USAGE, "agent: no channel %u", (unsigned)id);
	while (!ch->done) {
		if (deadline >= 0 && now_ms() >= deadline)
			return err_set(e, EXIT_GUEST, "agent: no result within %d ms", timeout_ms);
		if (pump(a, deadline, e) < 0)
			return -1;
	}
	/* Requests still queued (a CLOSE, say) go out before we return. */
	while (a->out.len && !a->dead) {
		struct pollfd pf = { .fd = a->fd, .events = POLLOUT };

		if (poll(&pf, 1, 1000) <= 0 || flush_out(a, e) < 0)
			break;
	}
	if (ch->failed) {
		*e = ch->err;
		chan_free(a, ch);
		return -1;
	}
	*status = ch->status;
	chan_free(a, ch);
	return 0;
}

/* --- transactions --------------------------------------------------------- */

/* The signals a waiting or running client turns into frames or errors,
 * read from a signalfd; the old mask comes back at the end. */
struct sigwatch {
	int fd;
	sigset_t old;
};

static int sigwatch_start(struct sigwatch *w, bool winch, struct err *e)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	if (winch)
		sigaddset(&set, SIGWINCH);
	if (sigprocmask(SIG_BLOCK, &set, &w->old) < 0)
		return err_errno(e, EXIT_SYSTEM, "agent: sigprocmask");
	w->fd = above_stdio(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
	if (w->fd < 0) {
		err_errno(e, EXIT_SYSTEM, "agent: signalfd");
		sigprocmask(SIG_SETMASK, &w->old, NULL);
		return -1;
	}
	return 0;
}

static void sigwatch_stop(struct sigwatch *w)
{
	struct signalfd_siginfo si;

	/* What was meant for the guest is not delivered to us afterwards. */
	while (read(w->fd, &si, sizeof(si)) == sizeof(si))
		;
	close(w->fd);
	sigprocmask(SIG_SETMASK, &w->old, NULL);
}

int agent_ping(const struct agent_addr *addr, int timeout_ms, struct agent_info *info,
	       struct err *e)
{
	struct sigwatch w;
	struct agent a;
	int rc;

	if (sigwatch_start(&w, false, e) < 0)
		return -1;
	rc = wait_ready(&a, addr, timeout_ms, w.fd, e);
	if (rc == 0 && info)
		*info = a.info;
	agent_close(&a);
	sigwatch_stop(&w);
	return rc;
}

/* The local terminal for a pty exec: its size, and raw mode on in_fd. */
struct local_tty {
	unsigned short rows, cols;
	int fd; /* in raw mode, restored at the end; -1: none */
	struct termios saved;
};

static void tty_start(struct local_tty *t, const struct agent_exec_opts *o)
{
	struct winsize ws;

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	if (!o->tty)
		return;
	if ((o->out_fd >= 0 && ioctl(o->out_fd, TIOCGWINSZ, &ws) == 0) ||
	    (o->in_fd >= 0 && ioctl(o->in_fd, TIOCGWINSZ, &ws) == 0)) {
		t->rows = ws.ws_row;
		t->cols = ws.ws_col;
	}
	if (o->in_fd >= 0 && isatty(o->in_fd) && tcgetattr(o->in_fd, &t->saved) == 0) {
		struct termios raw = t->saved;

		/* The remote terminal does the line editing and the echo. */
		cfmakeraw(&raw);
		if (tcsetattr(o->in_fd, TCSADRAIN, &raw) == 0)
			t->fd = o->in_fd;
	}
}

static void tty_stop(struct local_tty *t)
{
	if (t->fd >= 0)
		tcsetattr(t->fd, TCSADRAIN, &t->saved);
	t->fd = -1;
}

int agent_exec(const struct agent_addr *addr, int timeout_ms, const struct agent_exec_opts *o,
	       int *status, struct err *e)
{
	uint32_t ids[LIMIT_AGENT_CHANNELS];
	size_t want = o->cmds ? o->ncmds : 1, n = 0;
	struct local_tty t;
	struct sigwatch w;
	struct agent a;
	struct err first;
	bool failed = false;

	*status = 0;
	if (o->cmds ? !o->ncmds : !o->argv || !o->argv[0])
		return err_set(e, EXIT_USAGE, "exec: no command");
	if (want > LIMIT_AGENT_CHANNELS)
		return err_set(e, EXIT_USAGE, "exec: at most %d commands at once",
			       LIMIT_AGENT_CHANNELS);
	if (sigwatch_start(&w, o->tty, e) < 0)
		return -1;
	if (wait_ready(&a, addr, timeout_ms, w.fd, e) < 0) {
		agent_close(&a);
		sigwatch_stop(&w);
		return -1;
	}
	tty_start(&t, o);
	a.tty_fd = o->out_fd >= 0 && isatty(o->out_fd) ? o->out_fd : o->in_fd;
	for (; n < want; n++) {
		const char *sh[] = { "/bin/sh", "-c", o->cmds ? o->cmds[n] : NULL, NULL };

		/* Concurrent commands share the output; none reads the input. */
		ids[n] = exec_start(&a, o->cmds ? sh : o->argv, o, o->cmds ? -1 : o->in_fd, t.rows,
				    t.cols, e);
		if (!ids[n])
			break;
	}
	if (n < want) {
		first = *e;
		failed = true;
	}
	for (size_t k = 0; k < n; k++) {
		int st = 0;

		err_init(e);
		if (chan_wait(&a, ids[k], -1, &st, e) < 0) {
			if (!failed)
				first = *e;
			failed = true;
			continue;
		}
		if (st && !*status)
			*status = st;
	}
	tty_stop(&t);
	agent_close(&a);
	sigwatch_stop(&w);
	if (failed) {
		*e = first;
		return -1;
	}
	return 0;
}

int agent_put(const struct agent_addr *addr, int timeout_ms, int local_fd, const char *remote,
	      long mode, long uid, long gid, struct err *e)
{
	long long size = -1;
	struct agent a;
	struct stat st;
	uint32_t id;
	int status, rc = -1;

	if (fstat(local_fd, &st) == 0 && S_ISREG(st.st_mode)) {
		size = st.st_size;
		if (mode < 0)
			mode = st.st_mode & 07777;
	}
	if (mode < 0)
		mode = 0644;
	if (wait_ready(&a, addr, timeout_ms, -1, e) == 0 &&
	    (id = put_start(&a, local_fd, remote, (unsigned)mode, uid, gid, size, e)))
		rc = chan_wait(&a, id, -1, &status, e);
	agent_close(&a);
	return rc;
}

int agent_get(const struct agent_addr *addr, int timeout_ms, const char *remote, const char *local,
	      int local_fd, struct err *e)
{
	struct atomic_file af = { .fd = -1 };
	struct agent a;
	uint32_t id;
	int status, rc = -1;

	if (local) {
		if (atomic_open(&af, local, 0644, e) < 0)
			return -1;
		local_fd = af.fd;
	}
	if (wait_ready(&a, addr, timeout_ms, -1, e) == 0 &&
	    (id = get_start(&a, remote, local_fd, e)))
		rc = chan_wait(&a, id, -1, &status, e);
	agent_close(&a);
	if (rc < 0)
		atomic_abort(&af);
	else if (local)
		rc = atomic_commit(&af, e);
	return rc;
}

int agent_shutdown(const struct agent_addr *addr, int timeout_ms, bool reboot, struct err *e)
{
	struct agent_chan *ch;
	struct agent a;
	cJSON *o;
	int status, rc = -1;

	if (wait_ready(&a, addr, timeout_ms, -1, e) < 0)
		goto out;
	if (!(ch = chan_new(&a, AC_CTRL, e)))
		goto out;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "action", reboot ? "reboot" : "poweroff");
	if (send_json(&a, AP_SHUTDOWN, 0, o, e) == 0)
		rc = chan_wait(&a, 0, 30000, &status, e);
out:
	agent_close(&a);
	return rc;
}

int agent_identity(const struct agent_addr *addr, int timeout_ms, struct ap_identity *id,
		   struct err *e)
{
	struct timespec ts;
	struct agent a;
	char *json;
	int status, rc = -1;

	if (wait_ready(&a, addr, timeout_ms, -1, e) < 0)
		goto out;
	if (!chan_new(&a, AC_CTRL, e))
		goto out;
	/* The clock is read last, just before the frame goes. */
	clock_gettime(CLOCK_REALTIME, &ts);
	id->time_sec = ts.tv_sec;
	id->time_nsec = ts.tv_nsec;
	if (!(json = identity_to_json(id, e)))
		goto out;
	if (send_frame(&a, AP_IDENTITY, 0, json, strlen(json), e) == 0)
		rc = chan_wait(&a, 0, 30000, &status, e);
	free(json);
out:
	agent_close(&a);
	return rc;
}

/* --- port forwarding ------------------------------------------------------ */

int agent_port_parse(struct agent_port *p, const char *spec, struct err *e)
{
	char buf[128], *parts[3], *slash, *end;
	int n = 0;
	struct in6_addr a6;
	struct in_addr a4;

	memset(p, 0, sizeof(*p));
	if (strlen(spec) >= sizeof(buf))
		goto bad;
	memcpy(buf, spec, strlen(spec) + 1);
	if ((slash = strchr(buf, '/'))) {
		if (strcmp(slash, "/tcp"))
			return err_set(e, EXIT_USAGE, "-p %s: only tcp is forwarded", spec);
		*slash = '\0';
	}
	/* HOSTPORT:GUESTPORT, or HOSTIP:HOSTPORT:GUESTPORT ([v6] in brackets). */
	for (char *q = buf, *c; n < 3; q = c + 1) {
		parts[n++] = q;
		if (*q == '[' && (c = strchr(q, ']')) && c[1] == ':') {
			*c = '\0';
			parts[n - 1] = q + 1;
			c++;
		} else if (!(c = strchr(q, ':'))) {
			break;
		}
		*c = '\0';
		if (n == 3)
			goto bad;
	}
	if (n < 2)
		goto bad;
	snprintf(p->host, sizeof(p->host), "%s", n == 3 ? parts[0] : "127.0.0.1");
	if (inet_pton(AF_INET, p->host, &a4) != 1 && inet_pton(AF_INET6, p->host, &a6) != 1)
		return err_set(e, EXIT_USAGE, "-p %s: '%s' is not an IP address", spec, p->host);
	for (int k = 0; k < 2; k++) {
		const char *v = parts[n - 2 + k];
		unsigned long port;

		errno = 0;
		port = strtoul(v, &end, 10);
		if (*v < '0' || *v > '9' || *end || errno || port < 1 || port > 65535)
			goto bad;
		*(k ? &p->guest_port : &p->host_port) = (unsigned short)port;
	}
	return 0;
bad:
	return err_set(e, EXIT_USAGE,
		       "-p %s: give [HOSTIP:]HOSTPORT:GUESTPORT[/tcp], ports 1-65535", spec);
}

int agent_port_format(const struct agent_port *p, char *out, size_t size)
{
	bool v6 = strchr(p->host, ':') != NULL;

	return snprintf(out, size, "%s%s%s:%u:%u", v6 ? "[" : "", p->host, v6 ? "]" : "",
			p->host_port, p->guest_port);
}

int agent_port_listen(const struct agent_port *p, struct err *e)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	socklen_t len = sizeof(*in4);
	int fd, one = 1;

	if (inet_pton(AF_INET, p->host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(p->host_port);
	} else if (inet_pton(AF_INET6, p->host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(p->host_port);
		len = sizeof(*in6);
	} else {
		return err_set(e, EXIT_USAGE, "%s: not an IP address", p->host);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_errno(e, EXIT_SYSTEM, "socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 64) < 0) {
		err_errno(e, errno == EADDRINUSE ? EXIT_BUSY : EXIT_SYSTEM,
			  "-p %s:%u: cannot listen (pick another host port)", p->host,
			  p->host_port);
		close(fd);
		return -1;
	}
	return fd;
}

/* A channel for one accepted connection: CONNECT to guest_port. */
static bool tcp_start(struct agent *a, unsigned short guest_port, int sock, struct err *e)
{
	struct agent_chan *ch = chan_new(a, AC_TCP, e);
	cJSON *j;

	if (!ch)
		return false;
	j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "port", guest_port);
	ch->sock = ch->in_fd = ch->out_fd = sock;
	if (send_json(a, AP_CONNECT, ch->id, j, e) < 0) {
		chan_free(a, ch);
		return false;
	}
	return true;
}

/* Closes the local side of every finished connection (all, with every). */
static void tcp_sweep(struct agent *a, bool every)
{
	struct agent_chan *ch = a->chans, *next;

	for (; ch; ch = next) {
		next = ch->next;
		if (ch->kind == AC_TCP && (ch->done || every)) {
			close(ch->sock);
			chan_free(a, ch);
		}
	}
}

int agent_forward(const struct agent_addr *addr, const struct agent_port *ports, const int *fds,
		  size_t n, const int stop[2], struct err *e)
{
	struct pollfd x[AGENT_PORTS_MAX + 2];
	long long quiet_since = now_ms();
	struct agent a;
	bool up = false;

	if (n > AGENT_PORTS_MAX)
		return err_set(e, EXIT_USAGE, "at most %d ports", AGENT_PORTS_MAX);
	memset(&a, 0, sizeof(a));
	a.fd = a.sigfd = a.tty_fd = -1;
	a.dead = true;
	for (;;) {
		for (size_t i = 0; i < n; i++)
			x[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		x[n] = (struct pollfd){ .fd = stop[0], .events = POLLIN };
		x[n + 1] = (struct pollfd){ .fd = stop[1], .events = POLLIN };
		if (up && pump_with(&a, now_ms() + 1000, x, (int)n + 2, e) < 0) {
			/* The session went (the guest rebooted, the agent restarted):
			 * its connections with it; the next one opens a new session. */
			tcp_sweep(&a, true);
			agent_close(&a);
			up = false;
		} else if (!up && poll(x, n + 2, 1000) < 0 && errno != EINTR) {
			return err_errno(e, EXIT_SYSTEM, "poll");
		}
		if (x[n].revents || x[n + 1].revents)
			break;
		for (size_t i = 0; i < n; i++) {
			int sock;

			if (!(x[i].revents & POLLIN) ||
			    (sock = accept4(fds[i], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
				continue;
			/* The session is opened for the first connection, not before:
			 * on QEMU's one-host port the forwarder holds it only while
			 * something is forwarded. */
			err_init(e);
			if (!up && wait_ready(&a, addr, AGENT_FORWARD_WAIT_MS, -1, e) == 0)
				up = true;
			if (!up || !tcp_start(&a, ports[i].guest_port, sock, e))
				close(sock);
		}
		tcp_sweep(&a, false);
		if (a.chans)
			quiet_since = now_ms();
		/* Give the session up before the agent's idle timeout does; on
		 * QEMU's chardev (one host at a time) as soon as nothing is
		 * forwarded, so vm exec gets its turn. */
		if (up && now_ms() - quiet_since >
				  (addr->via == AGENT_UNIX ? 0 : LIMIT_AGENT_IDLE_MS / 2)) {
			agent_close(&a);
			up = false;
		}
	}
	tcp_sweep(&a, true);
	agent_close(&a);
	return 0;
}
