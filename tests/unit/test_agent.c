/* Unit tests: lib/agent/agent.c — addresses, Firecracker's CONNECT
 * handshake, and session start (HELLO/READY) on a dirty stream, against a
 * scripted peer in a child process over a socketpair; then the transactions
 * against the real server (lib/agent/server.c) in a child. */
#include "harness.h"

#include "agent/agent.h"
#include "agent/agentproto.h"
#include "agent/server.h"
#include "buf.h"
#include "err.h"
#include "exitcode.h"
#include "limits.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void addresses(void)
{
	struct agent_addr s;
	struct err e;

	CHECK(agent_addr_set(&s, AGENT_UNIX, "/run/x.sock", &e) == 0);
	CHECK(s.via == AGENT_UNIX && !strcmp(s.path, "/run/x.sock") && s.port == AP_PORT);
	CHECK(agent_addr_set(&s, AGENT_UNIX, "/run/x:52", &e) == 0 && !strcmp(s.path, "/run/x:52"));
	CHECK(agent_addr_set(&s, AGENT_FIRECRACKER, "/v/fc.vsock", &e) == 0);
	CHECK(s.via == AGENT_FIRECRACKER && !strcmp(s.path, "/v/fc.vsock") && s.port == AP_PORT);
	CHECK(agent_addr_set(&s, AGENT_FIRECRACKER, "/v/fc.vsock:52", &e) == 0);
	CHECK(!strcmp(s.path, "/v/fc.vsock") && s.port == 52);
	CHECK(agent_addr_set(&s, AGENT_VSOCK, "1:10789", &e) == 0);
	CHECK(s.via == AGENT_VSOCK && s.cid == 1 && s.port == 10789);
	CHECK(agent_addr_set(&s, AGENT_VSOCK, "3", &e) == 0 && s.cid == 3 && s.port == AP_PORT);
	err_init(&e);
	CHECK(agent_addr_set(&s, AGENT_VSOCK, "x", &e) == -1 && e.code == EXIT_USAGE);
	CHECK_STR(e.msg, "--vsock 'x': not CID[:PORT]");
	CHECK(agent_addr_set(&s, AGENT_VSOCK, "1:", &e) == -1);
	CHECK(agent_addr_set(&s, AGENT_VSOCK, "1:99999999999", &e) == -1);
	CHECK(agent_addr_set(&s, AGENT_UNIX, "", &e) == -1);
	CHECK(agent_addr_set(&s, AGENT_FIRECRACKER, ":52", &e) == -1);
	char longp[200];
	memset(longp, 'a', sizeof(longp));
	longp[sizeof(longp) - 1] = '\0';
	CHECK(agent_addr_set(&s, AGENT_UNIX, longp, &e) == -1 && strstr(e.msg, "too long"));
}

/* Runs peer(fd) in a child on one end of a socketpair; returns the other. */
static int spawn_peer(void (*peer)(int fd), pid_t *pid)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		exit(2);
	*pid = fork();
	if (*pid == 0) {
		close(sv[0]);
		peer(sv[1]);
		_exit(0);
	}
	close(sv[1]);
	return sv[0];
}

static void reap(pid_t pid)
{
	int st;

	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

static void read_line(int fd, char *line, size_t size)
{
	size_t n = 0;

	while (n + 1 < size && read(fd, line + n, 1) == 1 && line[n] != '\n')
		n++;
	line[n] = '\0';
}

static void fc_ok(int fd)
{
	char line[64];

	read_line(fd, line, sizeof(line));
	if (!strcmp(line, "CONNECT 10789"))
		(void)!write(fd, "OK 1073741824\nSTREAM", 20);
	pause();
}

static void fc_refuse(int fd)
{
	char line[64];

	read_line(fd, line, sizeof(line));
	close(fd); /* nothing listens on that port in the guest */
}

static void fc_garbage(int fd)
{
	char junk[LIMIT_AGENT_LINE + 10];

	memset(junk, 'x', sizeof(junk));
	(void)!write(fd, junk, sizeof(junk));
	pause();
}

static void fc_handshake(void)
{
	struct err e;
	pid_t pid;
	char rest[8] = { 0 };
	int fd = spawn_peer(fc_ok, &pid);

	CHECK(agent_fc_handshake(fd, 10789, 5000, &e) == 0);
	/* Nothing past the OK line was consumed: it is the agent's stream. */
	CHECK(read(fd, rest, 6) == 6 && !strcmp(rest, "STREAM"));
	close(fd);
	reap(pid);

	fd = spawn_peer(fc_refuse, &pid);
	err_init(&e);
	CHECK(agent_fc_handshake(fd, 10789, 5000, &e) == -1);
	CHECK(e.code == EXIT_NETWORK && strstr(e.msg, "closed"));
	close(fd);
	reap(pid);

	fd = spawn_peer(fc_garbage, &pid);
	err_init(&e);
	CHECK(agent_fc_handshake(fd, 10789, 5000, &e) == -1 && e.code == EXIT_VERIFY);
	close(fd);
	reap(pid);

	fd = spawn_peer(fc_ok, &pid); /* answers only port 10789 */
	err_init(&e);
	CHECK(agent_fc_handshake(fd, 52, 300, &e) == -1 && e.code == EXIT_GUEST);
	close(fd);
	reap(pid);
}

/* A scripted agent: waits for HELLO number `which` (1-based, earlier ones
 * ignored), then writes junk, a stale READY, and the right READY. */
static int peer_which;
static const char ready[] = "{\"version\":1,\"window\":4096,\"hostname\":\"vm9\",\"kernel\":"
			    "\"6.1\",\"first_boot\":\"init\",\"boot_time\":5,\"uptime_ms\":812}";

static void fake_agent(int fd)
{
	struct ap_decoder d;
	struct buf out;
	struct err e;
	unsigned char b[65536];
	int hellos = 0;

	ap_decoder_init(&d);
	ap_decoder_hunt(&d, AP_HELLO, true, 0);
	buf_init(&out, 1 << 20, "fake");
	for (;;) {
		ssize_t n = read(fd, b, sizeof(b));
		size_t off = 0;

		if (n <= 0)
			_exit(0);
		while (off < (size_t)n) {
			struct ap_frame f;
			bool got;
			long used = ap_decode(&d, b + off, n - off, &f, &got, &e);

			if (used < 0) {
				/* The zero flush: hunt past it, like the real agent. */
				ap_decoder_hunt(&d, AP_HELLO, true, 0);
				off++;
				continue;
			}
			off += used;
			if (!got || f.type != AP_HELLO || ++hellos < peer_which)
				continue;
			buf_reset(&out);
			buf_append(&out, "\x01\x02junk", 6, &e);
			ap_encode(&out, AP_READY, f.channel + 1, "{\"version\":1,\"window\":9}", 24,
				  &e);
			ap_encode(&out, AP_READY, f.channel, ready, strlen(ready), &e);
			(void)!write(fd, out.data, out.len);
		}
	}
}

static void open_skips_leftovers(void)
{
	struct agent a;
	struct err e;
	pid_t pid;

	peer_which = 1;
	err_init(&e);
	CHECK(agent_open(&a, spawn_peer(fake_agent, &pid), 0, 5000, &e) == 0);
	CHECK_STR(a.info.hostname, "vm9");
	CHECK_STR(a.info.kernel, "6.1");
	CHECK_STR(a.info.first_boot, "init");
	CHECK(a.info.window == 4096 && a.info.uptime_ms == 812 && a.info.boot_time == 5);
	agent_close(&a);
	agent_close(&a); /* twice is fine */
	reap(pid);
}

static void open_flushes_a_shared_stream(void)
{
	struct agent a;
	struct err e;
	pid_t pid;

	/* The first HELLO is "eaten" (as by an earlier host's half frame). */
	peer_which = 2;
	err_init(&e);
	CHECK(agent_open(&a, spawn_peer(fake_agent, &pid), AGENT_SHARED_STREAM, 10000, &e) == 0);
	CHECK_STR(a.info.hostname, "vm9");
	agent_close(&a);
	reap(pid);

	/* Without the flag a silent agent is a timeout, and nothing else. */
	err_init(&e);
	CHECK(agent_open(&a, spawn_peer(fake_agent, &pid), 0, 1500, &e) == -1);
	CHECK(e.code == EXIT_GUEST && strstr(e.msg, "no answer"));
	agent_close(&a);
	reap(pid);
}

/* The transactions against the real server (lib/agent/server.c) running
 * its loop in a child process on a Unix socket. */
static pid_t server_child(const char *path)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		struct agent_server srv;
		struct err e;
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    listen(fd, 16) < 0 || agent_server_init(&srv, getpid(), &e) < 0 ||
		    agent_server_listen(&srv, fd, false, false, &e) < 0)
			_exit(2);
		for (;;) {
			size_t n;
			int t;
			struct pollfd *p = agent_server_pollset(&srv, 0, &n, &t);

			poll(p, n, t);
			agent_server_dispatch(&srv);
		}
	}
	return pid;
}

static void transactions(void)
{
	const char *argv[] = { "sh", "-c", "echo out; echo err >&2; exit 3", NULL };
	const char *missing[] = { "no-such-command-x", NULL };
	const char *cmds[] = { "exit 0", "kill -TERM $$", "exit 4" };
	struct agent_exec_opts o = { .argv = argv, .in_fd = -1 };
	char path[108], file[300], back[300], buf[64] = { 0 };
	struct agent_addr addr;
	struct agent_info info;
	int out[2], errp[2], status, fd;
	struct err e;
	pid_t srv;

	snprintf(path, sizeof(path), "%s/a.sock", harness_tmpdir());
	unlink(path);
	srv = server_child(path);
	err_init(&e);
	CHECK(agent_addr_set(&addr, AGENT_FIRECRACKER, "/x", &e) == 0);
	CHECK(agent_addr_set(&addr, AGENT_UNIX, path, &e) == 0);
	/* The server is still starting: ping waits for it. */
	CHECK(agent_ping(&addr, 5000, &info, &e) == 0 && info.window == LIMIT_AGENT_WINDOW);
	CHECK(pipe(out) == 0 && pipe(errp) == 0);
	o.out_fd = out[1];
	o.err_fd = errp[1];
	CHECK(agent_exec(&addr, 5000, &o, &status, &e) == 0 && status == 3);
	CHECK(read(out[0], buf, sizeof(buf) - 1) == 4 && !strcmp(buf, "out\n"));
	CHECK(read(errp[0], buf, sizeof(buf) - 1) == 4 && !strncmp(buf, "err\n", 4));
	o.argv = missing;
	CHECK(agent_exec(&addr, 5000, &o, &status, &e) == -1 && e.code == 127);
	CHECK(strstr(e.msg, "no-such-command-x: cannot execute"));
	/* Several at once: the first non-zero status, in order (SIGTERM: 143). */
	o.cmds = cmds;
	o.ncmds = 3;
	CHECK(agent_exec(&addr, 5000, &o, &status, &e) == 0 && status == 143);
	o.ncmds = LIMIT_AGENT_CHANNELS + 1;
	CHECK(agent_exec(&addr, 5000, &o, &status, &e) == -1 && e.code == EXIT_USAGE);
	snprintf(file, sizeof(file), "%s/put.in", harness_tmpdir());
	snprintf(back, sizeof(back), "%s/get.out", harness_tmpdir());
	CHECK(write(out[1], "payload", 7) == 7);
	close(out[1]);
	CHECK(agent_put(&addr, 5000, out[0], file, 0600, -1, -1, &e) == 0);
	CHECK(agent_get(&addr, 5000, file, back, -1, &e) == 0);
	fd = open(back, O_RDONLY);
	memset(buf, 0, sizeof(buf));
	CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) == 7 && !strcmp(buf, "payload"));
	close(fd);
	CHECK(agent_get(&addr, 5000, "/no/such", back, -1, &e) == -1 && e.code == EXIT_NOTFOUND);
	unlink(file);
	unlink(back);
	close(out[0]);
	close(errp[0]);
	close(errp[1]);
	kill(srv, SIGKILL);
	waitpid(srv, NULL, 0);

	/* Nobody there: a guest error after the timeout... */
	CHECK(agent_ping(&addr, 300, NULL, &e) == -1 && e.code == EXIT_GUEST);
	CHECK(strstr(e.msg, "not ready within 300 ms"));
	/* ...or sooner, a signal: 128+N, the caller alive, its mask as it was. */
	sigset_t before, after;
	pid_t pinger = fork();

	if (pinger == 0) {
		usleep(200000);
		kill(getppid(), SIGINT);
		_exit(0);
	}
	sigprocmask(SIG_BLOCK, NULL, &before);
	CHECK(agent_ping(&addr, 10000, NULL, &e) == -1 && e.code == EXIT_SIGNAL + SIGINT);
	sigprocmask(SIG_BLOCK, NULL, &after);
	CHECK(sigismember(&after, SIGINT) == sigismember(&before, SIGINT));
	waitpid(pinger, NULL, 0);
}

static void port_specs(void)
{
	struct agent_port p;
	struct err e;
	char out[80];

	err_init(&e);
	CHECK(agent_port_parse(&p, "8080:80", &e) == 0);
	CHECK(!strcmp(p.host, "127.0.0.1") && p.host_port == 8080 && p.guest_port == 80);
	CHECK(agent_port_parse(&p, "0.0.0.0:8080:80/tcp", &e) == 0 && !strcmp(p.host, "0.0.0.0"));
	CHECK(agent_port_parse(&p, "[::1]:9:10", &e) == 0 && !strcmp(p.host, "::1"));
	agent_port_format(&p, out, sizeof(out));
	CHECK_STR(out, "[::1]:9:10");
	CHECK(agent_port_parse(&p, "80", &e) == -1 && e.code == EXIT_USAGE);
	CHECK(agent_port_parse(&p, "8080:80/udp", &e) == -1 && strstr(e.msg, "only tcp"));
	CHECK(agent_port_parse(&p, "localhost:8080:80", &e) == -1 && strstr(e.msg, "not an IP"));
	CHECK(agent_port_parse(&p, "0:80", &e) == -1);
	CHECK(agent_port_parse(&p, "8080:65536", &e) == -1);
	CHECK(agent_port_parse(&p, "1:2:3:4", &e) == -1);
	CHECK(agent_port_parse(&p, "8080:-80", &e) == -1);
}

/* A TCP server standing in for the guest's: answers "got:" and what it
 * read until EOF, then closes. Returns its port. */
static unsigned short echo_server(pid_t *pid)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (l < 0 || bind(l, (struct sockaddr *)&sa, len) < 0 || listen(l, 4) < 0 ||
	    getsockname(l, (struct sockaddr *)&sa, &len) < 0)
		exit(2);
	if ((*pid = fork()) == 0) {
		for (;;) {
			char b[256] = "got:";
			size_t n = 4;
			ssize_t r;
			int c = accept(l, NULL, NULL);

			while (c >= 0 && (r = read(c, b + n, sizeof(b) - n)) > 0)
				n += r;
			(void)!write(c, b, n);
			close(c);
		}
	}
	close(l);
	return ntohs(sa.sin_port);
}

static void forwarding(void)
{
	struct agent_port port = { .host = "127.0.0.1" };
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	struct agent_addr addr;
	pid_t srv, echo, fwd;
	char path[108], b[256];
	struct err e;
	int lfd, stop[2];

	snprintf(path, sizeof(path), "%s/f.sock", harness_tmpdir());
	unlink(path);
	srv = server_child(path);
	err_init(&e);
	CHECK(agent_addr_set(&addr, AGENT_UNIX, path, &e) == 0);
	port.guest_port = echo_server(&echo);
	CHECK((lfd = agent_port_listen(&port, &e)) >= 0);
	CHECK(getsockname(lfd, (struct sockaddr *)&sa, &len) == 0);
	CHECK(agent_port_listen(
		      &(struct agent_port){ .host = "127.0.0.1", .host_port = ntohs(sa.sin_port) },
		      &e) == -1 &&
	      e.code == EXIT_BUSY);
	if (pipe(stop) < 0)
		exit(2);
	if ((fwd = fork()) == 0) {
		int st[2] = { stop[0], -1 };

		_exit(agent_forward(&addr, &port, &lfd, 1, st, &e) == 0 ? 0 : 1);
	}
	close(lfd);
	/* Two connections in turn through one session, each with a half-close. */
	for (int round = 0; round < 2; round++) {
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		size_t n = 0;
		ssize_t r;

		CHECK(connect(c, (struct sockaddr *)&sa, sizeof(sa)) == 0);
		CHECK(write(c, round ? "second" : "first", round ? 6 : 5) > 0);
		shutdown(c, SHUT_WR);
		while ((r = read(c, b + n, sizeof(b) - 1 - n)) > 0)
			n += r;
		b[n] = '\0';
		CHECK_STR(b, round ? "got:second" : "got:first");
		close(c);
	}
	/* A guest port nobody listens on: the connection is closed. */
	kill(echo, SIGKILL);
	waitpid(echo, NULL, 0);
	{
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		CHECK(connect(c, (struct sockaddr *)&sa, sizeof(sa)) == 0);
		CHECK(read(c, b, sizeof(b)) <= 0);
		close(c);
	}
	int status = -1;

	CHECK(write(stop[1], "x", 1) == 1);
	CHECK(waitpid(fwd, &status, 0) == fwd && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(stop[0]);
	close(stop[1]);
	kill(srv, SIGKILL);
	waitpid(srv, NULL, 0);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	HARNESS_BEGIN("agent");
	RUN(addresses);
	RUN(fc_handshake);
	RUN(open_skips_leftovers);
	RUN(open_flushes_a_shared_stream);
	RUN(transactions);
	RUN(port_specs);
	RUN(forwarding);
	HARNESS_END();
}
