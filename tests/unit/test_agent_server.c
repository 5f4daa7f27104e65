/* Unit tests: lib/agent/server.c — the agent's sessions driven in-process:
 * the test is the host, writing frames to a Unix socket the server listens
 * on and running the server's loop turns until the answer is there. Real
 * children (echo, cat), real files; then the admission rules: the HELLO
 * deadline, the idle timeout, the per-peer cap, eviction at the cap, and
 * running out of fds. */
#include "harness.h"
#include "clock.h"

#include "agent/agentproto.h"
#include "agent/server.h"
#include "buf.h"
#include "err.h"
#include "exitcode.h"
#include "limits.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct agent_server S;
static char sock_path[108];
static int notes_warn;

static void note(enum log_level lvl, const char *msg)
{
	(void)msg;
	notes_warn += lvl == LOG_WARN;
}

/* A server listening on a fresh socket. */
static void server_up(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct err e;
	int fd;

	err_init(&e);
	snprintf(sock_path, sizeof(sock_path), "%s/agent.sock", harness_tmpdir());
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	unlink(sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0)
		exit(2);
	CHECK(agent_server_init(&S, getpid(), &e) == 0);
	S.note = note;
	CHECK(agent_server_listen(&S, fd, false, false, &e) == 0);
}

static void server_down(void)
{
	agent_server_fini(&S);
	unlink(sock_path);
}

/* One loop turn, waiting at most ms. */
static void turn(int ms)
{
	size_t n;
	int t;
	struct pollfd *p = agent_server_pollset(&S, 0, &n, &t);

	if (p)
		poll(p, n, t < 0 || t > ms ? ms : t);
	agent_server_dispatch(&S);
}

static void turns(int ms)
{
	long long end = now_ms() + ms;

	while (now_ms() < end)
		turn(10);
}

static int client(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		exit(2);
	return fd;
}

static void send_frame(int fd, unsigned type, uint32_t ch, const char *payload, size_t len)
{
	struct buf b;
	struct err e;

	buf_init(&b, 1 << 20, "test");
	CHECK(ap_encode(&b, type, ch, payload, len, &e) == 0);
	CHECK(write(fd, b.data, b.len) == (ssize_t)b.len);
	buf_fini(&b);
}

static void send_json(int fd, unsigned type, uint32_t ch, const char *json)
{
	send_frame(fd, type, ch, json, strlen(json));
}

/* The host side of one connection: bytes read and not yet taken. */
struct host {
	int fd;
	bool closed;
	unsigned char b[2 * AP_CHUNK];
	size_t len;
};

static void host_init(struct host *h, int fd)
{
	h->fd = fd;
	h->closed = false;
	h->len = 0;
}

static void host_fini(struct host *h)
{
	close(h->fd);
}

/* Runs the server until a frame of type arrives on h (its payload copied
 * into out, NUL-terminated; frames before it are skipped), the connection
 * closes, or 5 s pass. */
static bool await(struct host *h, unsigned type, uint32_t *ch, char *out, size_t size)
{
	long long end = now_ms() + 5000;

	while (now_ms() < end) {
		struct ap_hdr hd;
		struct err e;

		while (h->len >= AP_HDR && ap_parse_hdr(h->b, &hd, &e) == 0 &&
		       h->len >= AP_HDR + hd.len) {
			bool match = hd.type == type;

			if (match && ch)
				*ch = hd.channel;
			if (match && out)
				snprintf(out, size, "%.*s", (int)hd.len,
					 (const char *)h->b + AP_HDR);
			memmove(h->b, h->b + AP_HDR + hd.len, h->len - AP_HDR - hd.len);
			h->len -= AP_HDR + hd.len;
			if (match)
				return true;
		}
		if (h->closed)
			return false;
		ssize_t n = read(h->fd, h->b + h->len, sizeof(h->b) - h->len);

		if (n == 0 || (n < 0 && errno != EAGAIN))
			h->closed = true;
		else if (n > 0)
			h->len += n;
		else
			turn(10);
	}
	return false;
}

static void hello(struct host *h)
{
	uint32_t ch = 0;

	send_json(h->fd, AP_HELLO, 77, "{\"version\":1}");
	CHECK(await(h, AP_READY, &ch, NULL, 0) && ch == 77);
}

static bool closed_soon(struct host *h, int ms)
{
	long long end = now_ms() + ms;
	char c;

	while (now_ms() < end) {
		ssize_t n = read(h->fd, &c, 1);

		if (n == 0 || (n < 0 && errno != EAGAIN))
			return true;
		turn(10);
	}
	return false;
}

static void ready_and_exec(void)
{
	struct host h;
	char out[4096];

	server_up();
	host_init(&h, client());
	send_json(h.fd, AP_HELLO, 5, "{\"version\":1}");
	CHECK(await(&h, AP_READY, NULL, out, sizeof(out)));
	CHECK(strstr(out, "\"window\":262144") && strstr(out, "\"first_boot\":"));
	send_json(h.fd, AP_EXEC, 1, "{\"argv\":[\"sh\",\"-c\",\"echo hi; exit 3\"]}");
	send_frame(h.fd, AP_STDIN, 1, NULL, 0);
	CHECK(await(&h, AP_STDOUT, NULL, out, sizeof(out)));
	CHECK_STR(out, "hi\n");
	CHECK(await(&h, AP_EXIT, NULL, out, sizeof(out)));
	CHECK_STR(out, "{\"code\":3}");
	/* stdin through the window, acknowledged. */
	send_json(h.fd, AP_EXEC, 2, "{\"argv\":[\"cat\"]}");
	send_frame(h.fd, AP_STDIN, 2, "round trip", 10);
	CHECK(await(&h, AP_STDOUT, NULL, out, sizeof(out)));
	CHECK_STR(out, "round trip");
	send_frame(h.fd, AP_STDIN, 2, NULL, 0);
	CHECK(await(&h, AP_EXIT, NULL, out, sizeof(out)));
	CHECK_STR(out, "{\"code\":0}");
	send_json(h.fd, AP_EXEC, 3, "{\"argv\":[\"no-such-command-x\"]}");
	CHECK(await(&h, AP_ERROR, NULL, out, sizeof(out)));
	CHECK(strstr(out, "\"code\":127"));
	host_fini(&h);
	server_down();
}

static void put_and_get(void)
{
	char path[400], req[600], out[4096];
	struct host h;
	struct stat st;

	server_up();
	host_init(&h, client());
	hello(&h);
	snprintf(path, sizeof(path), "%s/put.txt", harness_tmpdir());
	snprintf(req, sizeof(req), "{\"path\":\"%s\",\"mode\":384,\"size\":5}", path);
	send_json(h.fd, AP_PUT, 1, req);
	send_frame(h.fd, AP_DATA, 1, "hello", 5);
	send_frame(h.fd, AP_DATA, 1, NULL, 0);
	CHECK(await(&h, AP_OK, NULL, NULL, 0));
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600 && st.st_size == 5);
	snprintf(req, sizeof(req), "{\"path\":\"%s\"}", path);
	send_json(h.fd, AP_GET, 2, req);
	CHECK(await(&h, AP_FILE, NULL, out, sizeof(out)) && strstr(out, "\"size\":5"));
	CHECK(await(&h, AP_DATA, NULL, out, sizeof(out)));
	CHECK_STR(out, "hello");
	/* A size that does not match: refused, the old file stays. */
	snprintf(req, sizeof(req), "{\"path\":\"%s\",\"size\":9}", path);
	send_json(h.fd, AP_PUT, 3, req);
	send_frame(h.fd, AP_DATA, 3, "short", 5);
	send_frame(h.fd, AP_DATA, 3, NULL, 0);
	CHECK(await(&h, AP_ERROR, NULL, out, sizeof(out)) && strstr(out, "\"code\":5"));
	CHECK(stat(path, &st) == 0 && st.st_size == 5);
	send_json(h.fd, AP_GET, 4, "{\"path\":\"/\"}");
	CHECK(await(&h, AP_ERROR, NULL, out, sizeof(out)) && strstr(out, "not a regular file"));
	host_fini(&h);
	unlink(path);
	server_down();
}

static void protocol_errors_close(void)
{
	struct host h;

	server_up();
	host_init(&h, client());
	send_json(h.fd, AP_EXEC, 1, "{\"argv\":[\"true\"]}"); /* before HELLO */
	CHECK(closed_soon(&h, 2000));
	host_fini(&h);
	host_init(&h, client());
	hello(&h);
	CHECK(write(h.fd, "\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb", 12) == 12);
	CHECK(await(&h, AP_ERROR, NULL, NULL, 0)); /* says why on channel 0 */
	CHECK(closed_soon(&h, 2000));
	host_fini(&h);
	server_down();
}

static void hello_deadline_and_idle(void)
{
	struct host quiet, half, idle, busy;

	server_up();
	S.hello_ms = 200;
	S.idle_ms = 300;
	host_init(&quiet, client());
	host_init(&half, client());
	CHECK(write(half.fd, "\xba\x9e\x01", 3) == 3);
	host_init(&idle, client());
	hello(&idle);
	host_init(&busy, client());
	hello(&busy);
	send_json(busy.fd, AP_EXEC, 1, "{\"argv\":[\"sleep\",\"5\"]}");
	turns(50);
	CHECK(agent_server_sessions(&S) == 4);
	CHECK(closed_soon(&quiet, 1000)); /* no HELLO within hello_ms */
	CHECK(closed_soon(&half, 1000));
	CHECK(closed_soon(&idle, 1000)); /* no channel for idle_ms */
	CHECK(!closed_soon(&busy, 500)); /* a live channel is not idle */
	CHECK(agent_server_sessions(&S) == 1);
	host_fini(&quiet);
	host_fini(&half);
	host_fini(&idle);
	host_fini(&busy);
	turns(50);
	server_down();
}

/* Connects n times from a child process, which then waits to be killed. */
static pid_t flood_from_child(int n, int ready[2])
{
	pid_t pid = fork();

	if (pid == 0) {
		for (int i = 0; i < n; i++)
			client();
		(void)!write(ready[1], "x", 1);
		pause();
		_exit(0);
	}
	return pid;
}

static void caps_and_eviction(void)
{
	struct host h[LIMIT_AGENT_PEER_CONNS + 1], newcomer;
	int ready[2];
	pid_t kids[2];
	char c;

	server_up();
	/* One peer (this process): LIMIT_AGENT_PEER_CONNS, then refused. */
	for (int i = 0; i <= LIMIT_AGENT_PEER_CONNS; i++) {
		host_init(&h[i], client());
		turns(5);
	}
	CHECK(agent_server_sessions(&S) == LIMIT_AGENT_PEER_CONNS);
	CHECK(closed_soon(&h[LIMIT_AGENT_PEER_CONNS], 500));
	CHECK(!closed_soon(&h[0], 100));
	for (int i = 0; i <= LIMIT_AGENT_PEER_CONNS; i++)
		host_fini(&h[i]);
	turns(150); /* the listener rests after a refusal */
	CHECK(agent_server_sessions(&S) == 0);

	/* Two other peers fill every session with half-open connections. */
	if (pipe(ready) < 0)
		exit(2);
	for (int k = 0; k < 2; k++) {
		kids[k] = flood_from_child(LIMIT_AGENT_CONNS / 2, ready);
		CHECK(read(ready[0], &c, 1) == 1);
		turns(50);
	}
	turns(150);
	CHECK(agent_server_sessions(&S) == LIMIT_AGENT_CONNS);
	/* A newcomer with no session takes one of theirs, at once. */
	host_init(&newcomer, client());
	hello(&newcomer);
	CHECK(agent_server_sessions(&S) == LIMIT_AGENT_CONNS);
	for (int k = 0; k < 2; k++) {
		kill(kids[k], SIGKILL);
		waitpid(kids[k], NULL, 0);
	}
	close(ready[0]);
	close(ready[1]);
	host_fini(&newcomer);
	turns(50);
	server_down();
}

static void out_of_fds(void)
{
	struct rlimit old, low;
	int ready[2], free_fds = 0;
	rlim_t lim = 0;
	pid_t kid;
	char c;

	server_up();
	if (pipe(ready) < 0 || getrlimit(RLIMIT_NOFILE, &old) < 0)
		exit(2);
	kid = flood_from_child(8, ready);
	CHECK(read(ready[0], &c, 1) == 1);
	/* Room for 4 sessions: a limit with 4 free fd numbers below it. */
	while (free_fds < 4 && lim < old.rlim_cur)
		free_fds += fcntl((int)lim++, F_GETFD) < 0;
	low = old;
	low.rlim_cur = lim;
	CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
	turns(100);
	/* The fds ran out with every session fresh: nothing to evict, so the
	 * reserve fd shed a pending one, it is back, and the listener rests. */
	CHECK(agent_server_sessions(&S) >= 2 && agent_server_sessions(&S) < 8);
	CHECK(S.ls[0].rest_ms > 100);
	CHECK(S.reserve_fd >= 0);
	/* Resting, the listener is not in the poll set: no busy loop. */
	size_t n;
	int t;
	struct pollfd *p = agent_server_pollset(&S, 0, &n, &t);
	bool listening = false;

	for (size_t i = 0; p && i < n; i++)
		listening |= p[i].fd == S.ls[0].fd;
	CHECK(p && (!listening || S.ls[0].rest_til <= now_ms()) && t != 0);
	CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	close(ready[0]);
	close(ready[1]);
	turns(1100);
	CHECK(agent_server_sessions(&S) == 0);
	server_down();
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	HARNESS_BEGIN("agent_server");
	RUN(ready_and_exec);
	RUN(put_and_get);
	RUN(protocol_errors_close);
	RUN(hello_deadline_and_idle);
	RUN(caps_and_eviction);
	RUN(out_of_fds);
	HARNESS_END();
}
