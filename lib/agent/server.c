/* server.c — see server.h. */
#include "agent/server.h"
#include "clock.h"
#include "agent/agentproto.h"
#include "agent/identity.h"
#include "buf.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "guest/sysconf.h"
#include "guest/sysinit.h"
#include "limits.h"
#include "proc.h"
#include "version.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <linux/random.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef VMADDR_CID_LOCAL
#define VMADDR_CID_LOCAL 1
#endif

#define OUTQ_HIGH (256 * 1024) /* stop reading children's output above this */
#define STATE_FILE "/run/banger/first-boot.state"
/* A connection quiet this long may give its place to a new one. Short, so
 * a flood cannot keep a well-formed host out; long enough that a host
 * between HELLO and its first request is never taken for idle. */
#define EVICT_QUIET_MS 500
#define REST_MIN_MS 100 /* a listener out of fds rests this long, doubling */
#define REST_MAX_MS 1000
#define ACCEPT_BURST 16 /* connections taken off a listener's queue per turn */

enum chan_kind { CH_EXEC, CH_PUT, CH_GET, CH_TCP };

struct agent_conn;

struct chan {
	struct chan *next;
	struct agent_conn *c;
	uint32_t id;
	enum chan_kind kind;
	bool done; /* freed by the sweep at the end of the loop turn */
	/* exec */
	pid_t pid;
	bool pty;
	int in_fd, out_fd, err_fd; /* with a pty all three are the master */
	bool in_eof;		   /* the host sent end of input (never reset) */
	bool in_broken;		   /* the child closed its stdin: input is dropped and acked */
	bool in_done;		   /* nothing more goes to the child (pipe closed, pty EOF sent) */
	bool out_eof;		   /* pty master read EOF/EIO: wait for the exit */
	struct buf inq;		   /* stdin not yet written to the child */
	size_t inoff;
	uint32_t unacked; /* STDIN/DATA bytes not yet acknowledged */
	/* put / get; a TCP connection's socket is file_fd, its input inq */
	struct atomic_file af;
	long long size, got;
	int file_fd;
	bool connecting; /* TCP: connect in progress */
	bool rd_eof;	 /* TCP: the guest side's EOF was sent on */
	bool wr_done;	 /* TCP: the host's EOF was passed on (shutdown SHUT_WR) */
	long long port;	 /* TCP: the guest port, for messages */
};

struct agent_conn {
	struct agent_conn *next;
	struct agent_server *srv;
	int fd;
	bool serial; /* the shared virtio-serial stream: reset, never freed */
	bool synced; /* HELLO seen */
	bool dead;
	struct ap_decoder dec;
	struct buf out;
	size_t outoff;
	struct chan *chans;
	int nchans;
	long long since;  /* accepted (ms) */
	long long active; /* last bytes read, or a channel ended (ms) */
	long long peer;	  /* who connected: a Unix peer's pid, a vsock CID (kind above) */
};

enum slot_kind { SL_EXTRA, SL_CHLD, SL_LISTEN, SL_CONN, SL_IN, SL_OUT, SL_ERR, SL_TCP };
struct agent_slot {
	enum slot_kind kind;
	struct agent_conn *c;
	struct chan *ch;
	struct agent_listener *l;
};

/* Children's output and file chunks; what a session sent. One server per
 * process, one turn at a time: shared scratch. */
static unsigned char io[AP_CHUNK], inbuf[AP_CHUNK];

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

__attribute__((format(printf, 3, 4))) static void say(const struct agent_server *s,
						      enum log_level lvl, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;

	if (!s->note || (lvl == LOG_DEBUG && log_level() < LOG_DEBUG))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->note(lvl, msg);
}

/* --- sending ------------------------------------------------------------ */

static size_t outq_pending(const struct agent_conn *c)
{
	return c->out.len - c->outoff;
}

/* Queues a frame; a session whose peer does not read loses its session. */
static int send_frame(struct agent_conn *c, unsigned type, uint32_t ch, const void *p, size_t len)
{
	struct err e;

	if (c->dead)
		return -1;
	err_init(&e);
	if (ap_encode(&c->out, type, ch, p, len, &e) < 0) {
		say(c->srv, LOG_WARN, "%s — dropping the session", e.msg);
		c->dead = true;
		return -1;
	}
	return 0;
}

static int send_json(struct agent_conn *c, unsigned type, uint32_t ch, cJSON *obj)
{
	char *s = obj ? cJSON_PrintUnformatted(obj) : NULL;
	int rc;

	cJSON_Delete(obj);
	if (!s) {
		c->dead = true;
		return -1;
	}
	rc = send_frame(c, type, ch, s, strlen(s));
	free(s);
	return rc;
}

__attribute__((format(printf, 4, 5))) static void send_error(struct agent_conn *c, uint32_t ch,
							     int code, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;
	cJSON *o = cJSON_CreateObject();

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	say(c->srv, LOG_DEBUG, "channel %u: %s", (unsigned)ch, msg);
	cJSON_AddNumberToObject(o, "code", code);
	cJSON_AddStringToObject(o, "message", msg);
	send_json(c, AP_ERROR, ch, o);
}

static void send_ack(struct chan *ch, size_t n)
{
	unsigned char b[4];

	if (!n)
		return;
	ch->unacked -= n < ch->unacked ? n : ch->unacked;
	ap_set32(b, (uint32_t)n);
	send_frame(ch->c, AP_ACK, ch->id, b, 4);
}

/* --- channels ----------------------------------------------------------- */

static struct chan *chan_find(struct agent_conn *c, uint32_t id)
{
	for (struct chan *ch = c->chans; ch; ch = ch->next)
		if (ch->id == id && !ch->done)
			return ch;
	return NULL;
}

static struct chan *chan_new(struct agent_conn *c, uint32_t id, enum chan_kind kind)
{
	struct chan *ch = calloc(1, sizeof(*ch));

	if (!ch)
		return NULL;
	ch->c = c;
	ch->id = id;
	ch->kind = kind;
	ch->in_fd = ch->out_fd = ch->err_fd = ch->file_fd = -1;
	ch->af.fd = -1;
	buf_init(&ch->inq, LIMIT_AGENT_WINDOW, "stdin");
	ch->next = c->chans;
	c->chans = ch;
	c->nchans++;
	return ch;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void chan_close_fds(struct chan *ch)
{
	if (ch->pty) {
		close_fd(&ch->out_fd);
		ch->in_fd = ch->err_fd = -1;
	} else {
		close_fd(&ch->in_fd);
		close_fd(&ch->out_fd);
		close_fd(&ch->err_fd);
	}
	close_fd(&ch->file_fd);
	atomic_abort(&ch->af);
}

/* Ends a channel without a reply: kill what runs, drop a half put. */
static void chan_abort(struct chan *ch)
{
	if (ch->done)
		return;
	if (ch->kind == CH_EXEC && ch->pid > 0)
		kill(-ch->pid, SIGKILL);
	chan_close_fds(ch);
	ch->done = true;
}

static void chan_finish(struct chan *ch)
{
	chan_close_fds(ch);
	ch->done = true;
}

static void session_abort(struct agent_conn *c)
{
	for (struct chan *ch = c->chans; ch; ch = ch->next)
		chan_abort(ch);
}

/* Frees finished channels (only between loop turns: slots point at them). */
static void chans_sweep(struct agent_conn *c)
{
	struct chan **pp = &c->chans;

	while (*pp) {
		struct chan *ch = *pp;

		if (!ch->done) {
			pp = &ch->next;
			continue;
		}
		*pp = ch->next;
		buf_fini(&ch->inq);
		free(ch);
		c->nchans--;
		/* Idle counts from the end of the last channel. */
		c->active = now_ms();
	}
}

/* --- JSON helpers ------------------------------------------------------- */

/* Optional integer member in [lo, hi]; -1 when present but not one. */
static int json_int(const cJSON *o, const char *name, long long lo, long long hi, long long *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < (double)lo || v->valuedouble > (double)hi ||
	    v->valuedouble != (double)(long long)v->valuedouble)
		return -1;
	*out = (long long)v->valuedouble;
	return 0;
}

/* Optional string member; -1 when present but not a string or too long. */
static int json_str(const cJSON *o, const char *name, size_t max, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v) || strlen(v->valuestring) > max)
		return -1;
	*out = v->valuestring;
	return 0;
}

/* A NULL-terminated array of the strings in member name (caller frees the
 * array, not the strings). *out stays NULL when the member is absent. */
static int json_strv(const cJSON *o, const char *name, char ***out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name), *it;
	int n, i = 0;

	*out = NULL;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsArray(v) || (n = cJSON_GetArraySize(v)) > LIMIT_AGENT_ARGS)
		return -1;
	if (!(*out = calloc(n + 1, sizeof(char *))))
		return -1;
	cJSON_ArrayForEach(it, v)
	{
		if (!cJSON_IsString(it)) {
			free(*out);
			*out = NULL;
			return -1;
		}
		(*out)[i++] = it->valuestring;
	}
	return 0;
}

static cJSON *parse_json(const struct ap_frame *f, struct err *e)
{
	cJSON *o = cJSON_ParseWithLength((const char *)f->payload, f->len);

	if (!o || !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		err_set(e, EXIT_VERIFY, "%s frame: payload is not a JSON object",
			ap_type_name(f->type));
		return NULL;
	}
	return o;
}

/* --- hello -------------------------------------------------------------- */

static void read_state(char *out, size_t size)
{
	int fd = open(STATE_FILE, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, out, size - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0) {
		snprintf(out, size, "unknown");
		return;
	}
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

static long long boot_time(void)
{
	FILE *f = fopen("/proc/stat", "re");
	char line[256];
	long long bt = 0;

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "btime ", 6)) {
			bt = strtoll(line + 6, NULL, 10);
			break;
		}
	if (f)
		fclose(f);
	return bt;
}

static int do_hello(struct agent_conn *c, const struct ap_frame *f, struct err *e)
{
	cJSON *o = parse_json(f, e), *r;
	struct utsname u;
	char state[LIMIT_AGENT_LINE];
	long long v = AP_VERSION;

	if (!o)
		return -1;
	if (json_int(o, "version", 0, 255, &v) < 0 || v != AP_VERSION) {
		cJSON_Delete(o);
		return err_set(e, EXIT_VERIFY, "hello: protocol version %lld, agent speaks %d", v,
			       AP_VERSION);
	}
	cJSON_Delete(o);
	/* A new session: whatever the last one left is gone. */
	session_abort(c);
	buf_reset(&c->out);
	c->outoff = 0;
	c->synced = true;
	uname(&u);
	read_state(state, sizeof(state));
	r = cJSON_CreateObject();
	cJSON_AddNumberToObject(r, "version", AP_VERSION);
	{
		char agent[96];

		snprintf(agent, sizeof(agent), "banger %s", banger_version());
		cJSON_AddStringToObject(r, "agent", agent);
	}
	cJSON_AddStringToObject(r, "hostname", u.nodename);
	cJSON_AddStringToObject(r, "kernel", u.release);
	cJSON_AddNumberToObject(r, "boot_time", (double)boot_time());
	cJSON_AddNumberToObject(r, "uptime_ms", (double)boot_ms());
	cJSON_AddStringToObject(r, "first_boot", state);
	cJSON_AddNumberToObject(r, "window", LIMIT_AGENT_WINDOW);
	say(c->srv, LOG_DEBUG, "hello: session %s",
	    c->serial ? "on the serial port" : "on a socket");
	send_json(c, AP_READY, f->channel, r);
	return 0;
}

/* --- exec --------------------------------------------------------------- */

enum { STAGE_USER = 1, STAGE_IDS, STAGE_CWD, STAGE_PTY, STAGE_EXEC };

struct exec_req {
	char **argv, **env;
	const char *cwd, *user, *term;
	bool pty;
	struct winsize ws;
	char slave[64];
};

static __attribute__((noreturn)) void child_fail(int fd, int stage)
{
	int msg[2] = { stage, errno };

	if (write(fd, msg, sizeof(msg)) < 0)
		_exit(127);
	_exit(127);
}

static void env_add(char **env, int *n, int max, const char *k, const char *v)
{
	size_t len;
	char *s;

	if (!v || *n >= max)
		return;
	len = strlen(k) + strlen(v) + 2;
	if (!(s = malloc(len)))
		return;
	snprintf(s, len, "%s=%s", k, v);
	env[(*n)++] = s;
}

/* In the child, after fork: never returns. */
static void child(const struct exec_req *r, int in, int out, int errfd, int rep)
{
	sigset_t none;
	struct passwd *pw;
	const char *dir;
	int n = 0, max = LIMIT_AGENT_ARGS + 8;
	char **env = calloc(max + 1, sizeof(char *));

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setsid();
	if (r->pty) {
		int s = open(r->slave, O_RDWR);

		if (s < 0 || ioctl(s, TIOCSCTTY, 0) < 0)
			child_fail(rep, STAGE_PTY);
		ioctl(s, TIOCSWINSZ, &r->ws);
		in = out = errfd = s;
	}
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0)
		child_fail(rep, STAGE_PTY);
	errno = ENOENT;
	pw = r->user ? getpwnam(r->user) : getpwuid(getuid());
	if (r->user && !pw) {
		/* "UID[:GID]" works without an /etc/passwd (distroless images). */
		char *end;
		unsigned long uid = strtoul(r->user, &end, 10), gid = uid;

		if (*end == ':')
			gid = strtoul(end + 1, &end, 10);
		if (r->user[0] < '0' || r->user[0] > '9' || *end || uid > 0xfffffffe ||
		    gid > 0xfffffffe)
			child_fail(rep, STAGE_USER);
		pw = getpwuid(uid); /* for HOME etc., when there is one */
		if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
			child_fail(rep, STAGE_IDS);
	} else if (r->user && (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
			       setuid(pw->pw_uid) < 0)) {
		child_fail(rep, STAGE_IDS);
	}
	dir = r->cwd ? r->cwd : pw && pw->pw_dir && !access(pw->pw_dir, X_OK) ? pw->pw_dir : "/";
	if (chdir(dir) < 0)
		child_fail(rep, STAGE_CWD);
	if (env) {
		env_add(env, &n, max, "PATH",
			"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
		if (pw) {
			env_add(env, &n, max, "HOME", pw->pw_dir);
			env_add(env, &n, max, "USER", pw->pw_name);
			env_add(env, &n, max, "LOGNAME", pw->pw_name);
			env_add(env, &n, max, "SHELL", pw->pw_shell);
		}
		if (r->pty)
			env_add(env, &n, max, "TERM", r->term ? r->term : "xterm-256color");
		environ = env;
		for (int i = 0; r->env && r->env[i]; i++)
			if (strchr(r->env[i], '='))
				putenv(r->env[i]);
	}
	execvp(r->argv[0], r->argv);
	child_fail(rep, STAGE_EXEC);
}

static int open_pty(struct exec_req *r, int *master)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (m < 0)
		return -1;
	if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, r->slave, sizeof(r->slave))) {
		close(m);
		return -1;
	}
	*master = m;
	return 0;
}

static void report_spawn_failure(struct agent_conn *c, uint32_t id, const struct exec_req *r,
				 const int msg[2])
{
	const char *why = strerror(msg[1]);

	switch (msg[0]) {
	case STAGE_USER:
		send_error(c, id, EXIT_NOTFOUND, "user %s: not in the guest's /etc/passwd",
			   r->user);
		break;
	case STAGE_IDS:
		send_error(c, id, EXIT_SYSTEM, "user %s: cannot switch to it: %s", r->user, why);
		break;
	case STAGE_CWD:
		send_error(c, id, msg[1] == ENOENT ? EXIT_NOTFOUND : EXIT_SYSTEM,
			   "%s: cannot chdir: %s", r->cwd ? r->cwd : "the home directory", why);
		break;
	case STAGE_PTY:
		send_error(c, id, EXIT_SYSTEM, "cannot set up the terminal: %s", why);
		break;
	default:
		send_error(c, id, msg[1] == ENOENT ? 127 : 126, "%s: cannot execute: %s",
			   r->argv[0], why);
	}
}

/* Spawns the exec; failures to start are the channel's ERROR, not the
 * session's. -1 only for a malformed request (a protocol error). */
static int do_exec(struct agent_conn *c, const struct ap_frame *f, struct err *e)
{
	cJSON *o = parse_json(f, e), *pty;
	struct exec_req r;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, er[2] = { -1, -1 }, rep[2] = { -1, -1 };
	int master = -1, msg[2], got = 0;
	long long rows = 24, cols = 80;
	struct chan *ch;
	pid_t pid;

	if (!o)
		return -1;
	memset(&r, 0, sizeof(r));
	pty = cJSON_GetObjectItemCaseSensitive(o, "pty");
	if (json_strv(o, "argv", &r.argv) < 0 || !r.argv || !r.argv[0] ||
	    json_strv(o, "env", &r.env) < 0 || json_str(o, "cwd", LIMIT_PATH, &r.cwd) < 0 ||
	    json_str(o, "user", LIMIT_NAME, &r.user) < 0 ||
	    json_str(o, "term", LIMIT_NAME, &r.term) < 0 ||
	    (pty && !cJSON_IsNull(pty) &&
	     (!cJSON_IsObject(pty) || json_int(pty, "rows", 0, 65535, &rows) < 0 ||
	      json_int(pty, "cols", 0, 65535, &cols) < 0))) {
		err_set(e, EXIT_VERIFY,
			"exec: needs \"argv\" (1 to %d strings), optional \"env\" (strings), "
			"\"cwd\", \"user\", \"term\", \"pty\" {rows, cols}",
			LIMIT_AGENT_ARGS);
		goto fail;
	}
	r.pty = pty && cJSON_IsObject(pty);
	r.ws.ws_row = rows;
	r.ws.ws_col = cols;
	if (!(ch = chan_new(c, f->channel, CH_EXEC))) {
		send_error(c, f->channel, EXIT_SYSTEM, "exec: out of memory");
		goto done;
	}
	if (r.pty ? open_pty(&r, &master) < 0
		  : pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
			    pipe2(er, O_CLOEXEC) < 0)
		goto sysfail;
	if (pipe2(rep, O_CLOEXEC) < 0)
		goto sysfail;
	if ((pid = fork()) < 0)
		goto sysfail;
	if (pid == 0)
		child(&r, in[0], out[1], er[1], rep[1]);
	close(rep[1]);
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&er[1]);
	/* The report pipe closes at execve: read it to learn whether it started. */
	while (got < (int)sizeof(msg)) {
		ssize_t n = read(rep[0], (char *)msg + got, sizeof(msg) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	close(rep[0]);
	if (got == sizeof(msg)) {
		report_spawn_failure(c, f->channel, &r, msg);
		close_fd(&in[1]);
		close_fd(&out[0]);
		close_fd(&er[0]);
		close_fd(&master);
		ch->done = true;
		goto done;
	}
	ch->pid = pid;
	ch->pty = r.pty;
	if (r.pty) {
		set_nonblock(master);
		ch->in_fd = ch->out_fd = master;
	} else {
		ch->in_fd = in[1];
		ch->out_fd = out[0];
		ch->err_fd = er[0];
		set_nonblock(in[1]);
		set_nonblock(out[0]);
		set_nonblock(er[0]);
	}
	say(c->srv, LOG_DEBUG, "channel %u: exec %s (pid %d)", (unsigned)f->channel, r.argv[0],
	    (int)pid);
	goto done;
sysfail:
	send_error(c, f->channel, EXIT_SYSTEM, "exec %s: cannot start: %s", r.argv[0],
		   strerror(errno));
	for (int i = 0; i < 2; i++) {
		close_fd(&in[i]);
		close_fd(&out[i]);
		close_fd(&er[i]);
		close_fd(&rep[i]);
	}
	close_fd(&master);
	ch->done = true;
done:
	free(r.argv);
	free(r.env);
	cJSON_Delete(o);
	return 0;
fail:
	free(r.argv);
	free(r.env);
	cJSON_Delete(o);
	return -1;
}

/* Reads what the child left in its pipes (after it exited). */
static void drain(struct chan *ch, int *fd, unsigned type)
{
	/* Bounded: a background process may still be writing. */
	for (int i = 0; i < 16 && *fd >= 0; i++) {
		ssize_t n = read(*fd, io, sizeof(io));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		send_frame(ch->c, type, ch->id, io, n);
	}
}

static void exec_exited(struct chan *ch, int status)
{
	cJSON *o = cJSON_CreateObject();

	drain(ch, &ch->out_fd, AP_STDOUT);
	if (!ch->pty)
		drain(ch, &ch->err_fd, AP_STDERR);
	if (WIFSIGNALED(status))
		cJSON_AddNumberToObject(o, "signal", WTERMSIG(status));
	else
		cJSON_AddNumberToObject(o, "code", WEXITSTATUS(status));
	send_json(ch->c, AP_EXIT, ch->id, o);
	ch->pid = 0;
	chan_finish(ch);
}

/* Every session: the serial streams, then the socket sessions. */
static struct agent_conn *conn_after_serial(const struct agent_server *s, int from)
{
	for (int i = from; i < AGENT_SERIAL_PORTS; i++)
		if (s->serial[i])
			return s->serial[i];
	return s->conns;
}

static struct agent_conn *conn_first(const struct agent_server *s)
{
	return conn_after_serial(s, 0);
}

static struct agent_conn *conn_next(const struct agent_server *s, const struct agent_conn *c)
{
	for (int i = 0; i < AGENT_SERIAL_PORTS; i++)
		if (c == s->serial[i])
			return conn_after_serial(s, i + 1);
	return c->next;
}

static void reap(struct agent_server *s)
{
	struct signalfd_siginfo si;
	int status;
	pid_t pid;

	while (read(s->chld_fd, &si, sizeof(si)) == sizeof(si))
		;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (struct agent_conn *c = conn_first(s); c; c = conn_next(s, c))
			for (struct chan *ch = c->chans; ch; ch = ch->next)
				if (ch->kind == CH_EXEC && ch->pid == pid && !ch->done)
					exec_exited(ch, status);
}

static void exec_output(struct chan *ch, int *fd, unsigned type)
{
	ssize_t n = read(*fd, io, sizeof(io));

	if (n > 0) {
		send_frame(ch->c, type, ch->id, io, n);
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		/* EOF (EIO on a pty whose slave is gone): the exit comes by SIGCHLD.
		 * The pty master stays open (it is also stdin) until then. */
		if (ch->pty)
			ch->out_eof = true;
		else
			close_fd(fd);
	}
}

static void exec_input(struct chan *ch)
{
	size_t pending = ch->inq.len - ch->inoff;

	if (pending) {
		ssize_t n = write(ch->in_fd, ch->inq.data + ch->inoff, pending);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			/* The child closed its stdin: drop the rest, credit it back. */
			ch->in_broken = true;
			n = (ssize_t)pending;
		}
		ch->inoff += n;
		send_ack(ch, n);
		if (ch->inoff == ch->inq.len) {
			buf_reset(&ch->inq);
			ch->inoff = 0;
		}
	}
	if (ch->inq.len == 0 && (ch->in_eof || ch->in_broken)) {
		if (ch->pty) {
			struct termios t;
			char eof = tcgetattr(ch->in_fd, &t) == 0 ? (char)t.c_cc[VEOF] : 4;

			/* A terminal has no end of input: type its EOF character. */
			if (ch->in_eof && !ch->in_broken && write(ch->in_fd, &eof, 1) < 0)
				say(ch->c->srv, LOG_DEBUG, "channel %u: pty EOF: %s",
				    (unsigned)ch->id, strerror(errno));
		} else {
			close_fd(&ch->in_fd);
		}
		ch->in_done = true;
	}
}

static int do_stdin(struct agent_conn *c, struct chan *ch, const struct ap_frame *f, struct err *e)
{
	if (ch->in_eof)
		return err_set(e, EXIT_VERIFY, "stdin on channel %u after its end",
			       (unsigned)f->channel);
	if (!f->len) {
		ch->in_eof = true;
		return 0;
	}
	if ((size_t)ch->unacked + f->len > LIMIT_AGENT_WINDOW)
		return err_set(e, EXIT_VERIFY, "channel %u: stdin over the %d-byte window",
			       (unsigned)f->channel, LIMIT_AGENT_WINDOW);
	ch->unacked += f->len;
	if (ch->in_broken || ch->in_done) {
		send_ack(ch, f->len);
		return 0;
	}
	if (ch->inoff) { /* compact before appending */
		memmove(ch->inq.data, ch->inq.data + ch->inoff, ch->inq.len - ch->inoff);
		ch->inq.len -= ch->inoff;
		ch->inoff = 0;
	}
	if (buf_append(&ch->inq, f->payload, f->len, e) < 0)
		return -1;
	return 0;
}

/* --- put / get ---------------------------------------------------------- */

static bool path_busy(const struct agent_server *s, const char *path)
{
	for (const struct agent_conn *k = conn_first(s); k; k = conn_next(s, k))
		for (struct chan *ch = k->chans; ch; ch = ch->next)
			if (ch->kind == CH_PUT && !ch->done && !strcmp(ch->af.dst, path))
				return true;
	return false;
}

static int do_put(struct agent_conn *c, const struct ap_frame *f, struct err *e)
{
	cJSON *o = parse_json(f, e);
	const char *path = NULL;
	long long mode = 0644, uid = -1, gid = -1, size = -1;
	struct chan *ch;
	struct err fe;

	if (!o)
		return -1;
	if (json_str(o, "path", LIMIT_PATH - 64, &path) < 0 || !path ||
	    json_int(o, "mode", 0, 07777, &mode) < 0 ||
	    json_int(o, "uid", -1, 0xfffffffe, &uid) < 0 ||
	    json_int(o, "gid", -1, 0xfffffffe, &gid) < 0 ||
	    json_int(o, "size", -1, 1LL << 53, &size) < 0) {
		cJSON_Delete(o);
		return err_set(
			e, EXIT_VERIFY,
			"put: needs \"path\", optional \"mode\", \"uid\", \"gid\", \"size\"");
	}
	if (!(ch = chan_new(c, f->channel, CH_PUT))) {
		send_error(c, f->channel, EXIT_SYSTEM, "put: out of memory");
		goto out;
	}
	ch->size = size;
	err_init(&fe);
	if (path[0] != '/') {
		send_error(c, f->channel, EXIT_USAGE, "%s: put needs an absolute guest path", path);
		ch->done = true;
	} else if (path_busy(c->srv, path)) {
		send_error(c, f->channel, EXIT_BUSY, "%s: another put to it is in progress", path);
		ch->done = true;
	} else if (atomic_open(&ch->af, path, mode, &fe) < 0 ||
		   ((uid >= 0 || gid >= 0) && fchown(ch->af.fd, uid, gid) < 0 &&
		    err_errno(&fe, 0, "%s: chown %lld:%lld", path, uid, gid) < 0)) {
		send_error(c, f->channel, fe.code, "%s", fe.msg);
		chan_abort(ch);
	}
out:
	cJSON_Delete(o);
	return 0;
}

/* --- connect: a TCP connection inside the guest ----------------------------- */

static int do_connect(struct agent_conn *c, const struct ap_frame *f, struct err *e)
{
	cJSON *o = parse_json(f, e);
	const char *host = "127.0.0.1";
	long long port = -1;
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	struct chan *ch;
	int fd;

	if (!o)
		return -1;
	if (json_int(o, "port", 1, 65535, &port) < 0 || port < 0 ||
	    json_str(o, "host", 64, &host) < 0) {
		cJSON_Delete(o);
		return err_set(e, EXIT_VERIFY,
			       "connect: needs \"port\" 1..65535, optional \"host\" (an address)");
	}
	if (!(ch = chan_new(c, f->channel, CH_TCP))) {
		send_error(c, f->channel, EXIT_SYSTEM, "connect: out of memory");
		goto out;
	}
	/* An address, never a name: the host says where, the guest resolves nothing. */
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		len = sizeof(*in4);
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		len = sizeof(*in6);
	} else {
		send_error(c, f->channel, EXIT_USAGE, "connect: '%s' is not an IP address", host);
		ch->done = true;
		goto out;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS)) {
		send_error(c, f->channel, EXIT_NETWORK, "%s:%lld: cannot connect: %s", host, port,
			   strerror(errno));
		if (fd >= 0)
			close(fd);
		ch->done = true;
		goto out;
	}
	ch->file_fd = fd;
	ch->connecting = true;
	ch->port = port;
	say(c->srv, LOG_DEBUG, "channel %u: connect %s:%lld", (unsigned)f->channel, host, port);
out:
	cJSON_Delete(o);
	return 0;
}

/* The host's bytes for the guest socket, within the window; empty: its EOF. */
static int tcp_data(struct chan *ch, const struct ap_frame *f, struct err *e)
{
	if (ch->in_eof)
		return err_set(e, EXIT_VERIFY, "data on channel %u after its end",
			       (unsigned)f->channel);
	if (!f->len) {
		ch->in_eof = true;
		return 0;
	}
	if ((size_t)ch->unacked + f->len > LIMIT_AGENT_WINDOW)
		return err_set(e, EXIT_VERIFY, "channel %u: data over the %d-byte window",
			       (unsigned)f->channel, LIMIT_AGENT_WINDOW);
	ch->unacked += f->len;
	if (ch->inoff) {
		memmove(ch->inq.data, ch->inq.data + ch->inoff, ch->inq.len - ch->inoff);
		ch->inq.len -= ch->inoff;
		ch->inoff = 0;
	}
	return buf_append(&ch->inq, f->payload, f->len, e);
}

static void tcp_fail(struct chan *ch, const char *what)
{
	send_error(ch->c, ch->id, EXIT_NETWORK, "port %lld: %s: %s", ch->port, what,
		   strerror(errno));
	chan_finish(ch);
}

/* The socket is ready: finish the connect, pass bytes either way, pass
 * EOFs on; the channel ends (an empty DATA each way) when both are done. */
static void tcp_step(struct chan *ch, short re)
{
	if (ch->connecting) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(ch->file_fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
			errno = err ? err : errno;
			tcp_fail(ch, "cannot connect");
			return;
		}
		ch->connecting = false;
		send_json(ch->c, AP_OK, ch->id, cJSON_CreateObject());
		return;
	}
	if (re & (POLLIN | POLLHUP | POLLERR) && !ch->rd_eof) {
		ssize_t n = read(ch->file_fd, io, sizeof(io));

		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			tcp_fail(ch, "read");
			return;
		}
		if (n >= 0)
			send_frame(ch->c, AP_DATA, ch->id, io, n);
		ch->rd_eof = n == 0;
	}
	if (ch->inq.len > ch->inoff) {
		ssize_t n = write(ch->file_fd, ch->inq.data + ch->inoff, ch->inq.len - ch->inoff);

		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			tcp_fail(ch, "write");
			return;
		}
		if (n > 0) {
			ch->inoff += n;
			send_ack(ch, n);
		}
		if (ch->inoff == ch->inq.len) {
			buf_reset(&ch->inq);
			ch->inoff = 0;
		}
	}
	if (ch->in_eof && ch->inq.len == 0 && !ch->wr_done) {
		shutdown(ch->file_fd, SHUT_WR);
		ch->wr_done = true;
	}
	if (ch->rd_eof && ch->wr_done)
		chan_finish(ch);
}

static int do_data(struct agent_conn *c, struct chan *ch, const struct ap_frame *f, struct err *e)
{
	struct err fe;

	if (ch->kind == CH_TCP)
		return tcp_data(ch, f, e);
	if (ch->kind != CH_PUT)
		return err_set(e, EXIT_VERIFY, "data for channel %u, which is not a put",
			       (unsigned)f->channel);
	err_init(&fe);
	if (f->len) {
		if ((size_t)ch->unacked + f->len > LIMIT_AGENT_WINDOW)
			return err_set(e, EXIT_VERIFY, "channel %u: data over the %d-byte window",
				       (unsigned)f->channel, LIMIT_AGENT_WINDOW);
		ch->unacked += f->len;
		ch->got += f->len;
		if (file_write_all(ch->af.fd, f->payload, f->len, ch->af.dst, &fe) < 0) {
			send_error(c, ch->id, fe.code, "%s", fe.msg);
			chan_abort(ch);
			return 0;
		}
		send_ack(ch, f->len);
		return 0;
	}
	if (ch->size >= 0 && ch->got != ch->size) {
		send_error(c, ch->id, EXIT_VERIFY,
			   "%s: got %lld bytes, expected %lld — not installed", ch->af.dst, ch->got,
			   ch->size);
		chan_abort(ch);
		return 0;
	}
	if (atomic_commit(&ch->af, &fe) < 0)
		send_error(c, ch->id, fe.code, "%s", fe.msg);
	else
		send_json(c, AP_OK, ch->id, cJSON_CreateObject());
	chan_finish(ch);
	return 0;
}

static int do_get(struct agent_conn *c, const struct ap_frame *f, struct err *e)
{
	cJSON *o = parse_json(f, e), *r;
	const char *path = NULL;
	struct chan *ch;
	struct stat st;
	int fd;

	if (!o)
		return -1;
	if (json_str(o, "path", LIMIT_PATH, &path) < 0 || !path) {
		cJSON_Delete(o);
		return err_set(e, EXIT_VERIFY, "get: needs \"path\"");
	}
	if (!(ch = chan_new(c, f->channel, CH_GET))) {
		send_error(c, f->channel, EXIT_SYSTEM, "get: out of memory");
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		send_error(c, f->channel, errno == ENOENT ? EXIT_NOTFOUND : EXIT_SYSTEM,
			   "%s: cannot read: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		ch->done = true;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		send_error(c, f->channel, EXIT_USAGE, "%s: not a regular file", path);
		close(fd);
		ch->done = true;
		goto out;
	}
	ch->file_fd = fd;
	r = cJSON_CreateObject();
	cJSON_AddNumberToObject(r, "size", (double)st.st_size);
	cJSON_AddNumberToObject(r, "mode", st.st_mode & 07777);
	cJSON_AddNumberToObject(r, "uid", st.st_uid);
	cJSON_AddNumberToObject(r, "gid", st.st_gid);
	send_json(c, AP_FILE, f->channel, r);
out:
	cJSON_Delete(o);
	return 0;
}

/* One chunk of a get, when the session's queue has room. */
static void get_step(struct chan *ch)
{
	ssize_t n = read(ch->file_fd, io, sizeof(io));

	if (n < 0 && errno == EINTR)
		return;
	if (n < 0) {
		send_error(ch->c, ch->id, EXIT_SYSTEM, "read: %s", strerror(errno));
		chan_finish(ch);
		return;
	}
	send_frame(ch->c, AP_DATA, ch->id, io, n);
	if (n == 0)
		chan_finish(ch);
}

/* --- shutdown ----------------------------------------------------------- */

static void flush_now(struct agent_conn *c);

static bool init_is_systemd(void)
{
	char exe[LIMIT_PATH];
	ssize_t n = readlink("/proc/1/exe", exe, sizeof(exe) - 1);

	if (n < 8)
		return false;
	exe[n] = '\0';
	return !strcmp(exe + n - 8, "/systemd");
}

static int do_shutdown(struct agent_conn *c, const struct ap_frame *f, struct err *e)
{
	cJSON *o = parse_json(f, e);
	const char *action = NULL;
	bool reboot;
	int sig;

	if (!o)
		return -1;
	if (json_str(o, "action", 16, &action) < 0 || !action ||
	    (strcmp(action, "poweroff") && strcmp(action, "reboot"))) {
		cJSON_Delete(o);
		return err_set(e, EXIT_VERIFY,
			       "shutdown: \"action\" is \"poweroff\" or \"reboot\"");
	}
	reboot = !strcmp(action, "reboot");
	cJSON_Delete(o);
	/* systemd as PID 1 treats SIGTERM as "re-execute": use its own signals.
	 * Asked of /proc/1/exe: /run/systemd/system exists before systemd runs
	 * (the initramfs puts banger's units there). */
	if (c->srv->init_pid == 1 && init_is_systemd())
		sig = SIGRTMIN + (reboot ? 5 : 4);
	else
		sig = reboot ? SIGINT : SIGTERM;
	if (kill(c->srv->init_pid, sig) < 0) {
		send_error(c, f->channel, EXIT_SYSTEM, "cannot signal init (pid %d): %s",
			   (int)c->srv->init_pid, strerror(errno));
		return 0;
	}
	say(c->srv, LOG_INFO, "%s requested by the host", action);
	send_json(c, AP_OK, f->channel, cJSON_CreateObject());
	flush_now(c);
	return 0;
}

/* --- identity (after a restore) ------------------------------------------ */

/* Mixes the host's bytes into the input pool and makes the CRNG reseed
 * from it now: clones of one snapshot share the saved CRNG state, and
 * nothing else would reseed it for up to a minute. */
static int add_entropy(const unsigned char *p, size_t n, struct err *e)
{
	union {
		struct rand_pool_info info;
		unsigned char raw[sizeof(struct rand_pool_info) + LIMIT_AGENT_ENTROPY];
	} r;
	int fd, rc = 0;

	r.info.entropy_count = (int)n * 8;
	r.info.buf_size = (int)n;
	memcpy(r.info.buf, p, n);
	if ((fd = open("/dev/random", O_WRONLY | O_CLOEXEC)) < 0)
		return err_errno(e, EXIT_SYSTEM, "/dev/random");
	if (ioctl(fd, RNDADDENTROPY, &r.info) < 0)
		rc = err_errno(e, EXIT_SYSTEM, "/dev/random: RNDADDENTROPY");
	else if (ioctl(fd, RNDRESEEDCRNG) < 0)
		rc = err_errno(e, EXIT_SYSTEM, "/dev/random: RNDRESEEDCRNG");
	close(fd);
	return rc;
}

/* A fresh /etc/machine-id where one is used: the file exists, or systemd
 * runs. Rewritten in place when it is a mount point (systemd binds
 * /run/machine-id over it when the image has none: a rename onto that
 * fails, and the bind is read-only, so its source is what is written). */
static int set_machine_id(const char *id, struct err *e)
{
	char line[34];
	int fd, rc;

	if (access("/etc/machine-id", F_OK) < 0 && access("/run/systemd/system", F_OK) < 0)
		return 0;
	snprintf(line, sizeof(line), "%s\n", id);
	if (file_write_atomic("/etc/machine-id", line, 33, 0444, e) == 0)
		return 0;
	if ((fd = open("/etc/machine-id", O_WRONLY | O_TRUNC | O_CLOEXEC)) < 0 &&
	    (fd = open("/run/machine-id", O_WRONLY | O_TRUNC | O_CLOEXEC)) < 0)
		return -1; /* e holds the atomic write's reason */
	err_init(e);
	rc = file_write_all(fd, line, 33, "/etc/machine-id", e);
	close(fd);
	return rc;
}

/* Clones of one snapshot would share its SSH host keys: where the machine
 * has made some, they are made again (after the reseed), and sshd under
 * systemd restarted to serve them. */
static int new_host_keys(struct err *e)
{
	static const char *const keygen[] = { "/usr/bin/ssh-keygen", "-A", NULL };
	static const char *const restart[] = { "systemctl", "try-restart", "ssh.service", NULL };
	struct proc_io kio = { .timeout_ms = 60000 };
	struct proc_io sys = { .timeout_ms = 30000, .search_path = true };
	struct dirent *de;
	DIR *d;
	int st;

	if (access(keygen[0], X_OK) < 0 || access("/etc/ssh/ssh_host_ed25519_key", F_OK) < 0 ||
	    !(d = opendir("/etc/ssh")))
		return 0;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "ssh_host_", 9))
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	if ((st = proc_run(keygen, &kio, e)) != 0)
		return st < 0 ? -1 : err_set(e, EXIT_SYSTEM, "ssh-keygen -A: exit %d", st);
	if (access("/run/systemd/system", F_OK) == 0 && (st = proc_run(restart, &sys, e)) != 0)
		return st < 0 ? -1
			      : err_set(e, EXIT_SYSTEM, "systemctl try-restart ssh: exit %d", st);
	return 0;
}

/* The first failure is kept; cur is reset for the next step. */
static void keep_first(struct err *first, struct err *cur)
{
	if (cur->code && !first->code)
		*first = *cur;
	err_init(cur);
}

/* Applies every part of the request, the clock first (the rest may log
 * with it); the first failure is the answer, the others still run. */
static int do_identity(struct agent_conn *c, const struct ap_frame *f, struct err *e)
{
	struct ap_identity id;
	struct timespec ts;
	struct err first, cur;
	bool changed;

	if (identity_from_json((const char *)f->payload, f->len, &id, e) < 0)
		return -1;
	err_init(&first);
	err_init(&cur);
	ts.tv_sec = (time_t)id.time_sec;
	ts.tv_nsec = id.time_nsec;
	if (clock_settime(CLOCK_REALTIME, &ts) < 0)
		err_errno(&cur, EXIT_SYSTEM, "clock_settime");
	keep_first(&first, &cur);
	if (id.nentropy)
		add_entropy(id.entropy, id.nentropy, &cur);
	keep_first(&first, &cur);
	if (id.machine_id[0])
		set_machine_id(id.machine_id, &cur);
	keep_first(&first, &cur);
	new_host_keys(&cur);
	keep_first(&first, &cur);
	if (id.hostname[0] && sethostname(id.hostname, strlen(id.hostname)) < 0)
		err_errno(&cur, EXIT_SYSTEM, "sethostname %s", id.hostname);
	else if (id.hostname[0])
		sysconf_hostname("/", id.hostname, &changed, &cur);
	keep_first(&first, &cur);
	if (id.ip[0])
		sysinit_net_static(id.dev[0] ? id.dev : "eth0", id.ip, id.prefix,
				   id.gateway[0] ? id.gateway : NULL, &cur);
	keep_first(&first, &cur);
	if (first.code) {
		send_error(c, f->channel, first.code, "%s", first.msg);
		return 0;
	}
	say(c->srv, LOG_INFO, "identity re-applied: %s", id.hostname[0] ? id.hostname : "-");
	send_json(c, AP_OK, f->channel, cJSON_CreateObject());
	return 0;
}

/* --- frames ------------------------------------------------------------- */

static int handle_frame(struct agent_conn *c, const struct ap_frame *f, struct err *e)
{
	struct chan *ch;

	if (f->type == AP_HELLO)
		return do_hello(c, f, e);
	if (!c->synced)
		return err_set(e, EXIT_VERIFY, "%s frame before hello", ap_type_name(f->type));
	switch (f->type) {
	case AP_EXEC:
	case AP_PUT:
	case AP_GET:
	case AP_CONNECT:
		if (f->channel == 0 || chan_find(c, f->channel))
			return err_set(e, EXIT_VERIFY, "%s on channel %u, which is %s",
				       ap_type_name(f->type), (unsigned)f->channel,
				       f->channel ? "already open" : "reserved");
		if (c->nchans >= LIMIT_AGENT_CHANNELS) {
			send_error(c, f->channel, EXIT_BUSY, "%d channels already open",
				   LIMIT_AGENT_CHANNELS);
			return 0;
		}
		return f->type == AP_EXEC  ? do_exec(c, f, e)
		       : f->type == AP_PUT ? do_put(c, f, e)
		       : f->type == AP_GET ? do_get(c, f, e)
					   : do_connect(c, f, e);
	case AP_SHUTDOWN:
		return do_shutdown(c, f, e);
	case AP_IDENTITY:
		return do_identity(c, f, e);
	case AP_STDIN:
	case AP_DATA:
	case AP_RESIZE:
	case AP_SIGNAL:
	case AP_CLOSE:
		/* Frames for a channel that just ended may still be in flight. */
		if (!(ch = chan_find(c, f->channel)))
			return 0;
		if (f->type == AP_CLOSE) {
			chan_abort(ch);
			return 0;
		}
		if (f->type == AP_DATA)
			return do_data(c, ch, f, e);
		if (ch->kind != CH_EXEC)
			return err_set(e, EXIT_VERIFY, "%s for channel %u, which is not an exec",
				       ap_type_name(f->type), (unsigned)f->channel);
		if (f->type == AP_STDIN)
			return do_stdin(c, ch, f, e);
		cJSON *o = parse_json(f, e);
		long long a = -1, b = -1;

		if (!o)
			return -1;
		if (f->type == AP_SIGNAL) {
			int bad = json_int(o, "signal", 1, 64, &a) < 0 || a < 0;

			cJSON_Delete(o);
			if (bad)
				return err_set(e, EXIT_VERIFY, "signal: needs \"signal\" 1..64");
			if (ch->pid > 0)
				kill(-ch->pid, (int)a);
			return 0;
		}
		int bad = json_int(o, "rows", 0, 65535, &a) < 0 ||
			  json_int(o, "cols", 0, 65535, &b) < 0 || a < 0 || b < 0;
		cJSON_Delete(o);
		if (bad)
			return err_set(e, EXIT_VERIFY, "resize: needs \"rows\" and \"cols\"");
		if (ch->pty) {
			struct winsize ws = { .ws_row = a, .ws_col = b };

			ioctl(ch->out_fd, TIOCSWINSZ, &ws);
		}
		return 0;
	default:
		return err_set(e, EXIT_VERIFY, "%s frame goes from agent to host, not back",
			       ap_type_name(f->type));
	}
}

/* --- sessions ----------------------------------------------------------- */

static struct agent_conn *conn_new(struct agent_server *s, int fd)
{
	struct agent_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->srv = s;
	c->fd = fd;
	c->since = c->active = now_ms();
	ap_decoder_init(&c->dec);
	buf_init(&c->out, LIMIT_AGENT_OUTQ, "agent output queue");
	return c;
}

static void conn_write(struct agent_conn *c);

/* A protocol error: a socket session ends; the serial stream reports it,
 * drops the session and hunts for the next HELLO. */
static void protocol_error(struct agent_conn *c, const struct err *e)
{
	say(c->srv, LOG_WARN, "%s: %s", c->serial ? "serial port" : "session", e->msg);
	if (!c->serial) {
		/* Say why, if the socket takes it right now; never wait for it. */
		if (c->synced) {
			send_error(c, 0, e->code ? e->code : EXIT_VERIFY, "%s", e->msg);
			if (!c->dead)
				conn_write(c);
		}
		c->dead = true;
		return;
	}
	session_abort(c);
	if (c->synced)
		send_error(c, 0, e->code ? e->code : EXIT_VERIFY, "%s", e->msg);
	c->synced = false;
	ap_decoder_hunt(&c->dec, AP_HELLO, true, 0);
}

static void conn_read(struct agent_conn *c)
{
	ssize_t n = read(c->fd, inbuf, sizeof(inbuf));
	unsigned char *data = inbuf;
	size_t off = 0;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		say(c->srv, LOG_DEBUG, "%s: peer hung up", c->serial ? "serial port" : "session");
		c->dead = true;
		return;
	}
	c->active = now_ms();
	while (off < (size_t)n && !c->dead) {
		struct ap_frame f;
		struct err e;
		bool got;
		long used;

		err_init(&e);
		used = ap_decode(&c->dec, data + off, n - off, &f, &got, &e);
		if (used < 0) {
			protocol_error(c, &e);
			if (!c->serial)
				break;
			continue;
		}
		off += used;
		if (got && handle_frame(c, &f, &e) < 0)
			protocol_error(c, &e);
	}
}

static void conn_write(struct agent_conn *c)
{
	ssize_t n = write(c->fd, c->out.data + c->outoff, outq_pending(c));

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			c->dead = true;
		return;
	}
	c->outoff += n;
	if (c->outoff == c->out.len) {
		buf_reset(&c->out);
		c->outoff = 0;
		/* A burst's queue is not kept while idle. */
		if (c->out.cap > 2 * AP_CHUNK) {
			buf_fini(&c->out);
			buf_init(&c->out, LIMIT_AGENT_OUTQ, "agent output queue");
		}
	} else if (c->outoff > c->out.len / 2) {
		memmove(c->out.data, c->out.data + c->outoff, c->out.len - c->outoff);
		c->out.len -= c->outoff;
		c->outoff = 0;
	}
}

/* Best effort, before something drastic (shutdown): up to a second. */
static void flush_now(struct agent_conn *c)
{
	for (int i = 0; i < 100 && outq_pending(c) && !c->dead; i++) {
		struct pollfd p = { .fd = c->fd, .events = POLLOUT };

		if (poll(&p, 1, 10) > 0)
			conn_write(c);
	}
}

static void conn_free(struct agent_conn *c)
{
	session_abort(c);
	chans_sweep(c);
	close_fd(&c->fd);
	ap_decoder_fini(&c->dec);
	buf_fini(&c->out);
	free(c);
}

/* The serial stream after a hang-up: forget the session, wait for the
 * caller to hand over the port again. */
static void serial_reset(struct agent_conn *c)
{
	session_abort(c);
	chans_sweep(c);
	close_fd(&c->fd);
	buf_fini(&c->out);
	buf_init(&c->out, LIMIT_AGENT_OUTQ, "agent output queue");
	c->outoff = 0;
	c->synced = false;
	c->dead = false;
	ap_decoder_hunt(&c->dec, AP_HELLO, true, 0);
}

void agent_server_serial(struct agent_server *s, int port, int fd)
{
	struct agent_conn **c = &s->serial[port];

	if (!*c) {
		if (!(*c = conn_new(s, -1))) {
			say(s, LOG_ERROR, "serial port: out of memory");
			close_fd(&fd);
			return;
		}
		(*c)->serial = true;
		/* A restarted agent may open the port in the middle of a frame. */
		ap_decoder_hunt(&(*c)->dec, AP_HELLO, true, 0);
	}
	close_fd(&(*c)->fd);
	(*c)->fd = fd;
}

bool agent_server_serial_up(const struct agent_server *s, int port)
{
	return s->serial[port] && s->serial[port]->fd >= 0;
}

/* --- admission ---------------------------------------------------------- */

static bool chans_live(const struct agent_conn *c)
{
	for (const struct chan *ch = c->chans; ch; ch = ch->next)
		if (!ch->done)
			return true;
	return false;
}

static int peer_sessions(const struct agent_server *s, long long peer)
{
	int n = 0;

	for (const struct agent_conn *c = s->conns; c; c = c->next)
		n += !c->dead && c->peer == peer;
	return n;
}

/* The session to give up for a new connection from peer, which has mine
 * sessions (known false: out of fds, the newcomer not accepted yet). Only
 * half-open or idle ones (no live channel). Another peer's goes only while
 * that peer holds more than one session more than the newcomer's, so
 * floods share the slots and a host with one session keeps it; one's own
 * (or any, for an unknown newcomer) only once quiet for EVICT_QUIET_MS, so
 * a host between HELLO and its first request is never taken for idle. The
 * heaviest peer's first, half-open before idle, the longest quiet first. */
static struct agent_conn *victim(const struct agent_server *s, long long now, bool known,
				 long long peer, int mine)
{
	struct agent_conn *best = NULL;
	int best_n = 0;

	for (struct agent_conn *c = s->conns; c; c = c->next) {
		int n;

		if (c->dead || (c->synced && chans_live(c)))
			continue;
		n = peer_sessions(s, c->peer);
		if (known && c->peer != peer ? n <= mine + 1 : now - c->active < EVICT_QUIET_MS)
			continue;
		if (!best || n > best_n ||
		    (n == best_n && ((best->synced && !c->synced) ||
				     (best->synced == c->synced && c->active < best->active)))) {
			best = c;
			best_n = n;
		}
	}
	return best;
}

/* Ends c now, its fd closed at once (the fd is what we are short of). */
static void evict(struct agent_conn *c, const char *why)
{
	say(c->srv, LOG_DEBUG, "session: closed (%s) for a new connection", why);
	session_abort(c);
	close_fd(&c->fd);
	c->dead = true;
}

/* Refusals are told at most once a second, with a count: a flood must not
 * become a flood of console lines. */
__attribute__((format(printf, 3, 4))) static void refuse(struct agent_server *s, int fd,
							 const char *fmt, ...)
{
	long long now = now_ms();
	char why[256];
	va_list ap;

	close(fd);
	s->refused++;
	if (now - s->refused_at < 1000)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	say(s, LOG_WARN, "refused %u connection%s (%s)", s->refused, s->refused == 1 ? "" : "s",
	    why);
	s->refused = 0;
	s->refused_at = now;
}

/* Takes a new connection in, or refuses it; false when refused. */
static bool admit(struct agent_server *s, struct agent_listener *l, int fd,
		  const struct sockaddr_storage *ss)
{
	long long now = now_ms(), peer;
	struct agent_conn *c;
	int mine;

	if (l->vsock) {
		const struct sockaddr_vm *vm = (const struct sockaddr_vm *)ss;

		if (vm->svm_cid != VMADDR_CID_HOST &&
		    !(l->allow_local && vm->svm_cid == VMADDR_CID_LOCAL)) {
			refuse(s, fd, "vsock CID %u: only the host may connect", vm->svm_cid);
			return false;
		}
		peer = (1LL << 32) | vm->svm_cid;
	} else {
		struct ucred cr = { 0 };
		socklen_t len = sizeof(cr);

		/* A Unix peer is its process: one client's flood is its own. */
		peer = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 ? cr.pid : 0;
	}
	mine = peer_sessions(s, peer);
	if (mine >= LIMIT_AGENT_PEER_CONNS) {
		refuse(s, fd, "%d sessions from one peer", LIMIT_AGENT_PEER_CONNS);
		return false;
	}
	if (s->nconns >= LIMIT_AGENT_CONNS) {
		struct agent_conn *v = victim(s, now, true, peer, mine);

		if (!v) {
			refuse(s, fd, "%d sessions, none to spare", LIMIT_AGENT_CONNS);
			return false;
		}
		evict(v, v->synced ? "idle" : "no hello");
	}
	if (!(c = conn_new(s, fd))) {
		refuse(s, fd, "out of memory");
		return false;
	}
	c->peer = peer;
	c->next = s->conns;
	s->conns = c;
	s->nconns++;
	return true;
}

/* accept4 failed for want of fds: free one by evicting, else take the
 * pending connection off the queue with the reserve fd and rest. */
static bool out_of_fds(struct agent_server *s, struct agent_listener *l, long long now)
{
	struct agent_conn *v = victim(s, now, false, 0, 0);
	int fd;

	if (v) {
		evict(v, "out of fds");
		return true; /* try again at once: there is an fd now */
	}
	if (s->reserve_fd >= 0) {
		close_fd(&s->reserve_fd);
		fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			refuse(s, fd, "out of file descriptors");
		s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	l->rest_til = now + l->rest_ms;
	l->rest_ms = l->rest_ms * 2 > REST_MAX_MS ? REST_MAX_MS : l->rest_ms * 2;
	return false;
}

/* Up to ACCEPT_BURST connections off the queue; after a refusal the
 * listener rests REST_MIN_MS, so a peer that reconnects as fast as it is
 * refused costs a few accepts a turn, not a busy loop (a host behind it in
 * the queue waits one rest at most). */
static void accept_from(struct agent_server *s, struct agent_listener *l)
{
	bool refused = false;

	for (int i = 0; i < ACCEPT_BURST; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		long long now = now_ms();

		if (fd >= 0) {
			l->rest_ms = REST_MIN_MS;
			if (!admit(s, l, fd, &ss) && !refused) {
				refused = true;
				l->rest_til = now + REST_MIN_MS;
			}
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			if (out_of_fds(s, l, now))
				continue;
			return;
		}
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
			say(s, LOG_WARN, "accept: %s", strerror(errno));
			l->rest_til = now + REST_MIN_MS;
		}
		return;
	}
}

/* Ends connections past their deadline; returns ms until the next one
 * (-1: none). */
static int expire(struct agent_server *s, long long now)
{
	long long next = -1;

	for (struct agent_conn *c = s->conns; c; c = c->next) {
		long long due;

		if (c->dead)
			continue;
		if (!c->synced)
			due = c->since + s->hello_ms;
		else if (!chans_live(c))
			due = c->active + s->idle_ms;
		else
			continue;
		if (due <= now) {
			say(s, LOG_DEBUG, "session: %s — closed",
			    c->synced ? "idle with no channel" : "no hello in time");
			c->dead = true;
			continue;
		}
		if (next < 0 || due < next)
			next = due;
	}
	return next < 0 ? -1 : (int)(next - now);
}

/* --- the loop ----------------------------------------------------------- */

static void add(struct agent_server *s, int fd, short ev, enum slot_kind kind, struct agent_conn *c,
		struct chan *ch, struct agent_listener *l)
{
	if (s->npfd == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		struct pollfd *p = realloc(s->pfd, cap * sizeof(*p));
		struct agent_slot *sl = p ? realloc(s->slot, cap * sizeof(*sl)) : NULL;

		if (p)
			s->pfd = p;
		if (!sl)
			return; /* skipped this turn; tried again on the next */
		s->slot = sl;
		s->cap = cap;
	}
	s->pfd[s->npfd] = (struct pollfd){ .fd = fd, .events = ev };
	s->slot[s->npfd++] = (struct agent_slot){ kind, c, ch, l };
}

static bool add_conn(struct agent_server *s, struct agent_conn *c)
{
	bool work = false;

	if (!c || c->fd < 0 || c->dead)
		return false;
	add(s, c->fd, POLLIN | (outq_pending(c) ? POLLOUT : 0), SL_CONN, c, NULL, NULL);
	for (struct chan *ch = c->chans; ch; ch = ch->next) {
		if (ch->done)
			continue;
		bool room = outq_pending(c) < OUTQ_HIGH;

		if (ch->kind == CH_GET && room)
			work = true;
		if (ch->kind == CH_TCP) {
			short ev = ch->connecting ? POLLOUT
						  : (room && !ch->rd_eof ? POLLIN : 0) |
							    (ch->inq.len > ch->inoff ? POLLOUT : 0);

			/* The host's EOF with nothing left to write: pass it on now. */
			if (!ch->connecting && ch->in_eof && ch->inq.len == ch->inoff)
				work = true;
			if (ev)
				add(s, ch->file_fd, ev, SL_TCP, c, ch, NULL);
		}
		if (ch->kind != CH_EXEC)
			continue;
		if (room && ch->out_fd >= 0 && !ch->out_eof)
			add(s, ch->out_fd, POLLIN, SL_OUT, c, ch, NULL);
		if (room && !ch->pty && ch->err_fd >= 0)
			add(s, ch->err_fd, POLLIN, SL_ERR, c, ch, NULL);
		if (ch->in_fd >= 0 && !ch->in_done &&
		    (ch->inq.len > ch->inoff || ch->in_eof || ch->in_broken))
			add(s, ch->in_fd, POLLOUT, SL_IN, c, ch, NULL);
	}
	return work;
}

struct pollfd *agent_server_pollset(struct agent_server *s, size_t extra, size_t *n,
				    int *timeout_ms)
{
	long long now = now_ms();
	bool work = false;
	int t = expire(s, now);

	s->npfd = 0;
	for (size_t i = 0; i < extra; i++)
		add(s, -1, 0, SL_EXTRA, NULL, NULL, NULL);
	if (s->npfd < extra)
		return NULL;
	s->extra = extra;
	add(s, s->chld_fd, POLLIN, SL_CHLD, NULL, NULL, NULL);
	for (int i = 0; i < s->nls; i++) {
		struct agent_listener *l = &s->ls[i];
		long long rest = l->rest_til - now;

		if (rest > 0) {
			t = t < 0 || rest < t ? (int)rest : t;
			continue;
		}
		add(s, l->fd, POLLIN, SL_LISTEN, NULL, NULL, l);
	}
	for (struct agent_conn *c = conn_first(s); c; c = conn_next(s, c))
		work |= add_conn(s, c);
	*n = s->npfd;
	*timeout_ms = work ? 0 : t;
	return s->pfd;
}

static void dispatch_one(struct agent_server *s, size_t i)
{
	struct agent_slot *sl = &s->slot[i];
	short re = s->pfd[i].revents;

	if (!re || (sl->c && sl->c->dead) || (sl->ch && sl->ch->done))
		return;
	switch (sl->kind) {
	case SL_EXTRA:
		break;
	case SL_CHLD:
		reap(s);
		break;
	case SL_LISTEN:
		accept_from(s, sl->l);
		break;
	case SL_CONN:
		if (re & POLLOUT)
			conn_write(sl->c);
		if (re & POLLIN && !sl->c->dead)
			conn_read(sl->c);
		else if (re & (POLLHUP | POLLERR))
			sl->c->dead = true; /* the host side hung up (virtio-serial: POLLHUP) */
		break;
	case SL_OUT:
		exec_output(sl->ch, &sl->ch->out_fd, AP_STDOUT);
		break;
	case SL_ERR:
		exec_output(sl->ch, &sl->ch->err_fd, AP_STDERR);
		break;
	case SL_TCP:
		tcp_step(sl->ch, re);
		break;
	case SL_IN:
		exec_input(sl->ch);
		break;
	}
}

static void get_work(struct agent_conn *c)
{
	for (struct chan *ch = c->chans; ch; ch = ch->next) {
		if (ch->kind == CH_GET && !ch->done && !c->dead && outq_pending(c) < OUTQ_HIGH)
			get_step(ch);
		if (ch->kind == CH_TCP && !ch->done && !c->dead && !ch->connecting && ch->in_eof &&
		    ch->inq.len == ch->inoff && !ch->wr_done)
			tcp_step(ch, 0);
	}
}

static void sweep(struct agent_server *s)
{
	struct agent_conn **pp = &s->conns;

	for (int i = 0; i < AGENT_SERIAL_PORTS; i++) {
		if (!s->serial[i])
			continue;
		if (s->serial[i]->dead)
			serial_reset(s->serial[i]);
		chans_sweep(s->serial[i]);
	}
	while (*pp) {
		struct agent_conn *c = *pp;

		if (c->dead) {
			*pp = c->next;
			conn_free(c);
			s->nconns--;
			continue;
		}
		chans_sweep(c);
		pp = &c->next;
	}
}

void agent_server_dispatch(struct agent_server *s)
{
	/* Accepting may evict (closing a session's fd at once): listeners go
	 * last, after every slot that points at a session was served. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = s->extra; i < s->npfd; i++)
			if ((s->slot[i].kind == SL_LISTEN) == (pass == 1))
				dispatch_one(s, i);
	for (struct agent_conn *c = conn_first(s); c; c = conn_next(s, c))
		if (!c->serial || c->fd >= 0)
			get_work(c);
	sweep(s);
}

int agent_server_sessions(const struct agent_server *s)
{
	return s->nconns;
}

/* --- setup -------------------------------------------------------------- */

int agent_server_init(struct agent_server *s, pid_t init_pid, struct err *e)
{
	sigset_t set;

	memset(s, 0, sizeof(*s));
	s->init_pid = init_pid;
	s->hello_ms = LIMIT_AGENT_HELLO_MS;
	s->idle_ms = LIMIT_AGENT_IDLE_MS;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	/* A peer that hangs up must not kill us through a write. */
	signal(SIGPIPE, SIG_IGN);
	s->chld_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->chld_fd < 0)
		return err_errno(e, EXIT_SYSTEM, "signalfd");
	/* Kept for the moment accept runs out of fds (see out_of_fds). */
	s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return 0;
}

int agent_server_listen(struct agent_server *s, int fd, bool vsock, bool allow_local, struct err *e)
{
	if (s->nls >= AGENT_SERVER_LISTENERS)
		return err_set(e, EXIT_USAGE, "agent server: at most %d listeners",
			       AGENT_SERVER_LISTENERS);
	s->ls[s->nls++] = (struct agent_listener){
		.fd = fd, .vsock = vsock, .allow_local = allow_local, .rest_ms = REST_MIN_MS
	};
	return 0;
}

void agent_server_fini(struct agent_server *s)
{
	while (s->conns) {
		struct agent_conn *c = s->conns;

		s->conns = c->next;
		conn_free(c);
	}
	for (int i = 0; i < AGENT_SERIAL_PORTS; i++)
		if (s->serial[i])
			conn_free(s->serial[i]);
	for (int i = 0; i < s->nls; i++)
		close_fd(&s->ls[i].fd);
	close_fd(&s->chld_fd);
	close_fd(&s->reserve_fd);
	free(s->pfd);
	free(s->slot);
	memset(s, 0, sizeof(*s));
	s->chld_fd = s->reserve_fd = -1;
}
