/* vsock-agent — the guest agent: answers the host over vsock or virtio-serial.
 *
 * Its usage, the text --help prints, is vsock_agent_usage[] below; the formats
 * and protocols are in docs/agent-protocol.md.
 */
#include "version.h"
#include "applet.h"
#include "agent/agentproto.h"
#include "buf.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "limits.h"
#include "log.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/vm_sockets.h>
#include <poll.h>
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
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef VMADDR_CID_LOCAL
#define VMADDR_CID_LOCAL 1
#endif

const char vsock_agent_usage[] =
	"usage: vsock-agent [-v] [--port PORT] [--no-vsock] [--allow-local]\n"
	"                   [--serial PATH | --no-serial] [--listen-unix PATH]\n"
	"                   [--init-pid PID]\n"
	"\n"
	"Serves the agent protocol (docs/agent-protocol.md): exec, put, get,\n"
	"signal, shutdown. Listens on AF_VSOCK port PORT (default 10789) for the\n"
	"host (CID 2) and on the virtio-serial port PATH (default\n"
	"/dev/virtio-ports/org.banger.agent; a Unix socket PATH is connected to\n"
	"instead, for tests).\n"
	"\n"
	"  --allow-local      also admit vsock peer CID 1 (the guest itself)\n"
	"  --no-vsock         no AF_VSOCK listener\n"
	"  --no-serial        no virtio-serial port\n"
	"  --listen-unix PATH also listen on a Unix socket (mode 0600)\n"
	"  --init-pid PID     the init asked to power off or reboot (default 1)\n"
	"\n"
	"Runs until SIGTERM or SIGINT, killing its children's process groups then.\n"
	"\n"
	"examples:\n"
	"  banger vsock-agent   (started by first-boot inside the guest)\n"
	"  banger vsock-agent --no-vsock --allow-local   (on a host, for tests)\n";

#define OUTQ_HIGH (256 * 1024) /* stop reading children's output above this */
#define SERIAL_RETRY_MS 100
#define STATE_FILE "/run/banger/first-boot.state"

enum chan_kind { CH_EXEC, CH_PUT, CH_GET };

struct conn;

struct chan {
	struct chan *next;
	struct conn *c;
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
	/* put / get */
	struct atomic_file af;
	long long size, got;
	int file_fd;
};

struct conn {
	struct conn *next;
	int fd;
	bool serial; /* the shared virtio-serial stream: reset, never freed */
	bool synced; /* HELLO seen */
	bool dead;
	struct ap_decoder dec;
	struct buf out;
	size_t outoff;
	struct chan *chans;
	int nchans;
};

enum slot_kind { SL_SIG, SL_LISTEN_VSOCK, SL_LISTEN_UNIX, SL_CONN, SL_IN, SL_OUT, SL_ERR };
struct slot {
	enum slot_kind kind;
	struct conn *c;
	struct chan *ch;
};

static struct {
	unsigned port;
	bool vsock, allow_local;
	const char *serial, *unix_path;
	pid_t init_pid;
	int sigfd, vsock_fd, unix_fd;
	struct conn *conns; /* socket sessions */
	int nconns;
	struct conn serial_conn;
	long long serial_retry; /* CLOCK_MONOTONIC ms when to (re)open the serial port */
	struct pollfd *pfd;
	struct slot *slot;
	size_t npfd, cap;
	bool quit;
	unsigned char io[AP_CHUNK]; /* children's output, file chunks */
	unsigned char in[AP_CHUNK]; /* what a session sent */
} A;

static long long now_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* --- sending ------------------------------------------------------------ */

static size_t outq_pending(const struct conn *c)
{
	return c->out.len - c->outoff;
}

/* Queues a frame; a session whose peer does not read loses its session. */
static int send_frame(struct conn *c, unsigned type, uint32_t ch, const void *p, size_t len)
{
	struct err e;

	if (c->dead)
		return -1;
	err_init(&e);
	if (ap_encode(&c->out, type, ch, p, len, &e) < 0) {
		log_warn("%s — dropping the session", e.msg);
		c->dead = true;
		return -1;
	}
	return 0;
}

static int send_json(struct conn *c, unsigned type, uint32_t ch, cJSON *obj)
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

__attribute__((format(printf, 4, 5))) static void send_error(struct conn *c, uint32_t ch, int code,
							     const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;
	cJSON *o = cJSON_CreateObject();

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_debug("channel %u: %s", (unsigned)ch, msg);
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

static struct chan *chan_find(struct conn *c, uint32_t id)
{
	for (struct chan *ch = c->chans; ch; ch = ch->next)
		if (ch->id == id && !ch->done)
			return ch;
	return NULL;
}

static struct chan *chan_new(struct conn *c, uint32_t id, enum chan_kind kind)
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

static void session_abort(struct conn *c)
{
	for (struct chan *ch = c->chans; ch; ch = ch->next)
		chan_abort(ch);
}

/* Frees finished channels (only between loop turns: slots point at them). */
static void chans_sweep(struct conn *c)
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

static int do_hello(struct conn *c, const struct ap_frame *f, struct err *e)
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
	cJSON_AddNumberToObject(r, "uptime_ms", (double)now_ms(CLOCK_BOOTTIME));
	cJSON_AddStringToObject(r, "first_boot", state);
	cJSON_AddNumberToObject(r, "window", LIMIT_AGENT_WINDOW);
	log_debug("hello: session %s", c->serial ? "on the serial port" : "on a socket");
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

static void report_spawn_failure(struct conn *c, uint32_t id, const struct exec_req *r,
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
static int do_exec(struct conn *c, const struct ap_frame *f, struct err *e)
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
	log_debug("channel %u: exec %s (pid %d)", (unsigned)f->channel, r.argv[0], (int)pid);
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
		ssize_t n = read(*fd, A.io, sizeof(A.io));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		send_frame(ch->c, type, ch->id, A.io, n);
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

static void reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct conn *lists[2] = { &A.serial_conn, A.conns };

		for (int l = 0; l < 2; l++)
			for (struct conn *c = lists[l]; c; c = l ? c->next : NULL)
				for (struct chan *ch = c->chans; ch; ch = ch->next)
					if (ch->kind == CH_EXEC && ch->pid == pid && !ch->done)
						exec_exited(ch, status);
	}
}

static void exec_output(struct chan *ch, int *fd, unsigned type)
{
	ssize_t n = read(*fd, A.io, sizeof(A.io));

	if (n > 0) {
		send_frame(ch->c, type, ch->id, A.io, n);
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
				log_debug("channel %u: pty EOF: %s", (unsigned)ch->id,
					  strerror(errno));
		} else {
			close_fd(&ch->in_fd);
		}
		ch->in_done = true;
	}
}

static int do_stdin(struct conn *c, struct chan *ch, const struct ap_frame *f, struct err *e)
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

static bool path_busy(const char *path)
{
	struct conn *lists[2] = { &A.serial_conn, A.conns };

	for (int l = 0; l < 2; l++)
		for (struct conn *k = lists[l]; k; k = l ? k->next : NULL)
			for (struct chan *ch = k->chans; ch; ch = ch->next)
				if (ch->kind == CH_PUT && !ch->done && !strcmp(ch->af.dst, path))
					return true;
	return false;
}

static int do_put(struct conn *c, const struct ap_frame *f, struct err *e)
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
	} else if (path_busy(path)) {
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

static int do_data(struct conn *c, struct chan *ch, const struct ap_frame *f, struct err *e)
{
	struct err fe;

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

static int do_get(struct conn *c, const struct ap_frame *f, struct err *e)
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
	ssize_t n = read(ch->file_fd, A.io, sizeof(A.io));

	if (n < 0 && errno == EINTR)
		return;
	if (n < 0) {
		send_error(ch->c, ch->id, EXIT_SYSTEM, "read: %s", strerror(errno));
		chan_finish(ch);
		return;
	}
	send_frame(ch->c, AP_DATA, ch->id, A.io, n);
	if (n == 0)
		chan_finish(ch);
}

/* --- shutdown ----------------------------------------------------------- */

static void flush_now(struct conn *c);

static int do_shutdown(struct conn *c, const struct ap_frame *f, struct err *e)
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
	/* systemd as PID 1 treats SIGTERM as "re-execute": use its own signals. */
	if (A.init_pid == 1 && access("/run/systemd/system", F_OK) == 0)
		sig = SIGRTMIN + (reboot ? 5 : 4);
	else
		sig = reboot ? SIGINT : SIGTERM;
	if (kill(A.init_pid, sig) < 0) {
		send_error(c, f->channel, EXIT_SYSTEM, "cannot signal init (pid %d): %s",
			   (int)A.init_pid, strerror(errno));
		return 0;
	}
	log_info("%s requested by the host", action);
	send_json(c, AP_OK, f->channel, cJSON_CreateObject());
	flush_now(c);
	return 0;
}

/* --- frames ------------------------------------------------------------- */

static int handle_frame(struct conn *c, const struct ap_frame *f, struct err *e)
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
					   : do_get(c, f, e);
	case AP_SHUTDOWN:
		return do_shutdown(c, f, e);
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

static struct conn *conn_new(int fd)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = fd;
	ap_decoder_init(&c->dec);
	buf_init(&c->out, LIMIT_AGENT_OUTQ, "agent output queue");
	return c;
}

static void conn_write(struct conn *c);

/* A protocol error: a socket session ends; the serial stream reports it,
 * drops the session and hunts for the next HELLO. */
static void protocol_error(struct conn *c, const struct err *e)
{
	log_warn("%s: %s", c->serial ? "serial port" : "session", e->msg);
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

static void conn_read(struct conn *c)
{
	ssize_t n = read(c->fd, A.in, sizeof(A.in));
	unsigned char *data = A.in;
	size_t off = 0;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		log_debug("%s: peer hung up", c->serial ? "serial port" : "session");
		c->dead = true;
		return;
	}
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

static void conn_write(struct conn *c)
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
static void flush_now(struct conn *c)
{
	for (int i = 0; i < 100 && outq_pending(c) && !c->dead; i++) {
		struct pollfd p = { .fd = c->fd, .events = POLLOUT };

		if (poll(&p, 1, 10) > 0)
			conn_write(c);
	}
}

static void conn_free(struct conn *c)
{
	session_abort(c);
	chans_sweep(c);
	close_fd(&c->fd);
	ap_decoder_fini(&c->dec);
	buf_fini(&c->out);
	free(c);
}

/* The serial stream after a hang-up: forget the session, reopen later. */
static void serial_reset(void)
{
	struct conn *c = &A.serial_conn;

	session_abort(c);
	chans_sweep(c);
	close_fd(&c->fd);
	buf_fini(&c->out);
	buf_init(&c->out, LIMIT_AGENT_OUTQ, "agent output queue");
	c->outoff = 0;
	c->synced = false;
	c->dead = false;
	ap_decoder_hunt(&c->dec, AP_HELLO, true, 0);
	A.serial_retry = now_ms(CLOCK_MONOTONIC) + SERIAL_RETRY_MS;
}

/* /dev/virtio-ports/NAME is a udev symlink: without udev (the minimal init,
 * an initramfs) find the port by its name in sysfs: /dev/vportNpM. */
static const char *serial_path(char *buf, size_t size)
{
	const char *dir = "/sys/class/virtio-ports";
	struct dirent *d;
	DIR *dp;

	if (strcmp(A.serial, AP_SERIAL) || access(A.serial, F_OK) == 0 || !(dp = opendir(dir)))
		return A.serial;
	while ((d = readdir(dp))) {
		char path[LIMIT_PATH], name[64];
		int fd;
		ssize_t n;

		if (d->d_name[0] == '.' ||
		    snprintf(path, sizeof(path), "%s/%s/name", dir, d->d_name) >=
			    (int)sizeof(path) ||
		    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		n = read(fd, name, sizeof(name) - 1);
		close(fd);
		if (n <= 0)
			continue;
		name[n] = '\0';
		name[strcspn(name, "\n")] = '\0';
		if (!strcmp(name, AP_SERIAL_NAME) &&
		    snprintf(buf, size, "/dev/%s", d->d_name) < (int)size) {
			closedir(dp);
			return buf;
		}
	}
	closedir(dp);
	return A.serial;
}

static void serial_open(void)
{
	struct conn *c = &A.serial_conn;
	char buf[LIMIT_PATH];
	const char *path = serial_path(buf, sizeof(buf));
	struct stat st;
	int fd;

	A.serial_retry = 0;
	if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", A.serial);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			close(fd);
			fd = -1;
		}
		if (fd >= 0)
			set_nonblock(fd);
	} else {
		fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	}
	if (fd < 0) {
		/* Absent on hypervisors without the port: look again now and then. */
		A.serial_retry = now_ms(CLOCK_MONOTONIC) + (errno == ENOENT ? 2000 : 1000);
		return;
	}
	c->fd = fd;
	log_debug("serial port %s open", path);
}

static void accept_conn(int lfd, bool vsock)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct conn *c;

	if (fd < 0)
		return;
	if (vsock) {
		const struct sockaddr_vm *vm = (const struct sockaddr_vm *)&ss;

		if (vm->svm_cid != VMADDR_CID_HOST &&
		    !(A.allow_local && vm->svm_cid == VMADDR_CID_LOCAL)) {
			log_warn("vsock: refused a connection from CID %u (only the host may "
				 "connect)",
				 vm->svm_cid);
			close(fd);
			return;
		}
	}
	if (A.nconns >= LIMIT_AGENT_CONNS || !(c = conn_new(fd))) {
		log_warn("refused a connection: %d sessions already open", A.nconns);
		close(fd);
		return;
	}
	c->next = A.conns;
	A.conns = c;
	A.nconns++;
}

/* --- the loop ----------------------------------------------------------- */

static void add(int fd, short ev, enum slot_kind kind, struct conn *c, struct chan *ch)
{
	if (A.npfd == A.cap) {
		size_t cap = A.cap ? A.cap * 2 : 32;
		struct pollfd *p = realloc(A.pfd, cap * sizeof(*p));
		struct slot *s = p ? realloc(A.slot, cap * sizeof(*s)) : NULL;

		if (p)
			A.pfd = p;
		if (!s)
			return; /* skipped this turn; tried again on the next */
		A.slot = s;
		A.cap = cap;
	}
	A.pfd[A.npfd] = (struct pollfd){ .fd = fd, .events = ev };
	A.slot[A.npfd++] = (struct slot){ kind, c, ch };
}

static bool add_conn(struct conn *c)
{
	bool work = false;

	if (c->fd < 0)
		return false;
	add(c->fd, POLLIN | (outq_pending(c) ? POLLOUT : 0), SL_CONN, c, NULL);
	for (struct chan *ch = c->chans; ch; ch = ch->next) {
		if (ch->done)
			continue;
		bool room = outq_pending(c) < OUTQ_HIGH;

		if (ch->kind == CH_GET && room)
			work = true;
		if (ch->kind != CH_EXEC)
			continue;
		if (room && ch->out_fd >= 0 && !ch->out_eof)
			add(ch->out_fd, POLLIN, SL_OUT, c, ch);
		if (room && !ch->pty && ch->err_fd >= 0)
			add(ch->err_fd, POLLIN, SL_ERR, c, ch);
		if (ch->in_fd >= 0 && !ch->in_done &&
		    (ch->inq.len > ch->inoff || ch->in_eof || ch->in_broken))
			add(ch->in_fd, POLLOUT, SL_IN, c, ch);
	}
	return work;
}

static void dispatch(size_t i)
{
	struct slot *s = &A.slot[i];
	short re = A.pfd[i].revents;

	if (!re)
		return;
	if (s->c && s->c->dead)
		return;
	if (s->ch && s->ch->done)
		return;
	switch (s->kind) {
	case SL_SIG: {
		struct signalfd_siginfo si;

		while (read(A.sigfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGCHLD)
				reap();
			else
				A.quit = true;
		}
		break;
	}
	case SL_LISTEN_VSOCK:
	case SL_LISTEN_UNIX:
		accept_conn(A.pfd[i].fd, s->kind == SL_LISTEN_VSOCK);
		break;
	case SL_CONN:
		if (re & POLLOUT)
			conn_write(s->c);
		if (re & POLLIN && !s->c->dead)
			conn_read(s->c);
		else if (re & (POLLHUP | POLLERR))
			s->c->dead = true; /* the host side hung up (virtio-serial: POLLHUP) */
		break;
	case SL_OUT:
		exec_output(s->ch, &s->ch->out_fd, AP_STDOUT);
		break;
	case SL_ERR:
		exec_output(s->ch, &s->ch->err_fd, AP_STDERR);
		break;
	case SL_IN:
		exec_input(s->ch);
		break;
	}
}

static void sweep(void)
{
	struct conn **pp = &A.conns;

	if (A.serial_conn.dead)
		serial_reset();
	chans_sweep(&A.serial_conn);
	while (*pp) {
		struct conn *c = *pp;

		if (c->dead) {
			*pp = c->next;
			conn_free(c);
			A.nconns--;
			continue;
		}
		chans_sweep(c);
		pp = &c->next;
	}
}

static void get_work(struct conn *c)
{
	for (struct chan *ch = c->chans; ch; ch = ch->next)
		if (ch->kind == CH_GET && !ch->done && !c->dead && outq_pending(c) < OUTQ_HIGH)
			get_step(ch);
}

static void loop(void)
{
	while (!A.quit) {
		bool work = false;
		int timeout = -1;

		A.npfd = 0;
		add(A.sigfd, POLLIN, SL_SIG, NULL, NULL);
		if (A.vsock_fd >= 0 && A.nconns < LIMIT_AGENT_CONNS)
			add(A.vsock_fd, POLLIN, SL_LISTEN_VSOCK, NULL, NULL);
		if (A.unix_fd >= 0 && A.nconns < LIMIT_AGENT_CONNS)
			add(A.unix_fd, POLLIN, SL_LISTEN_UNIX, NULL, NULL);
		work |= add_conn(&A.serial_conn);
		for (struct conn *c = A.conns; c; c = c->next)
			work |= add_conn(c);
		if (A.serial && A.serial_conn.fd < 0) {
			long long left = A.serial_retry - now_ms(CLOCK_MONOTONIC);

			if (left <= 0) {
				serial_open();
				continue;
			}
			timeout = (int)left;
		}
		if (work)
			timeout = 0;
		if (poll(A.pfd, A.npfd, timeout) < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			sleep(1);
			continue;
		}
		for (size_t i = 0; i < A.npfd; i++)
			dispatch(i);
		get_work(&A.serial_conn);
		for (struct conn *c = A.conns; c; c = c->next)
			get_work(c);
		sweep();
	}
}

/* --- setup -------------------------------------------------------------- */

static int listen_vsock(unsigned port)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK,
				  .svm_cid = VMADDR_CID_ANY,
				  .svm_port = port };
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
		log_warn("vsock port %u: cannot listen: %s (serial only)", port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_error("%s: socket path too long (max %zu bytes)", path,
			  sizeof(sa.sun_path) - 1);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	old = umask(077);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || listen(fd, 16) < 0) {
		log_error("%s: cannot listen: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int parse_num(const char *s, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

int vsock_agent_main(int argc, char **argv)
{
	sigset_t set;
	long v;

	A.port = AP_PORT;
	A.vsock = true;
	A.serial = AP_SERIAL;
	A.init_pid = 1;
	A.vsock_fd = A.unix_fd = A.serial_conn.fd = -1;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *arg = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(o, "-v")) {
			log_more();
		} else if (!strcmp(o, "--no-vsock")) {
			A.vsock = false;
		} else if (!strcmp(o, "--allow-local")) {
			A.allow_local = true;
		} else if (!strcmp(o, "--no-serial")) {
			A.serial = NULL;
		} else if (arg && !strcmp(o, "--port") && parse_num(arg, 0xfffffffe, &v) == 0) {
			A.port = v;
			i++;
		} else if (arg && !strcmp(o, "--init-pid") && parse_num(arg, 1 << 22, &v) == 0 &&
			   v) {
			A.init_pid = v;
			i++;
		} else if (arg && !strcmp(o, "--serial")) {
			A.serial = arg;
			i++;
		} else if (arg && !strcmp(o, "--listen-unix")) {
			A.unix_path = arg;
			i++;
		} else {
			log_error("bad option '%s' (see 'vsock-agent --help')", o);
			return EXIT_USAGE;
		}
	}
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	A.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (A.sigfd < 0) {
		log_error("signalfd: %s", strerror(errno));
		return EXIT_SYSTEM;
	}
	if (A.vsock)
		A.vsock_fd = listen_vsock(A.port);
	if (A.unix_path && (A.unix_fd = listen_unix(A.unix_path)) < 0)
		return EXIT_SYSTEM;
	if (A.serial) {
		A.serial_conn.serial = true;
		ap_decoder_init(&A.serial_conn.dec);
		ap_decoder_hunt(&A.serial_conn.dec, AP_HELLO, true, 0);
		buf_init(&A.serial_conn.out, LIMIT_AGENT_OUTQ, "agent output queue");
		serial_open();
	}
	if (A.vsock_fd < 0 && A.unix_fd < 0 && !A.serial) {
		log_error("nothing to listen on (vsock failed, no --serial, no --listen-unix)");
		return EXIT_SYSTEM;
	}
	log_info("ready: vsock %s, serial %s%s%s", A.vsock_fd >= 0 ? "on" : "off",
		 A.serial ? A.serial : "off", A.unix_path ? ", unix " : "",
		 A.unix_path ? A.unix_path : "");
	loop();
	session_abort(&A.serial_conn);
	for (struct conn *c = A.conns; c; c = c->next)
		session_abort(c);
	if (A.unix_path)
		unlink(A.unix_path);
	return EXIT_OK;
}
