/* vsock-agent — the guest agent: answers the host over vsock or virtio-serial.
 *
 * Its usage, the text --help prints, is vsock_agent_usage[] below; the formats
 * and protocols are in docs/agent-protocol.md.
 */
#include "applet.h"
#include "clock.h"
#include "agent/agentproto.h"
#include "agent/server.h"
#include "err.h"
#include "exitcode.h"
#include "limits.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

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

#define SERIAL_RETRY_MS 100

static struct {
	unsigned port;
	bool vsock, allow_local;
	/* [0] the agent's port (or --serial PATH), [1] the forwarder's: -p's
	 * connections never hold up vm exec (server.h). NULL: none. */
	const char *serial[AGENT_SERIAL_PORTS], *unix_path;
	pid_t init_pid;
	int sigfd;
	struct agent_server srv;
	long long serial_retry[AGENT_SERIAL_PORTS]; /* CLOCK_MONOTONIC ms to (re)open it */
} A;

static void note(enum log_level lvl, const char *msg)
{
	log_msg(lvl, "%s", msg);
}

/* --- the serial port ------------------------------------------------------ */

/* /dev/virtio-ports/NAME is a udev symlink: without udev (the minimal init,
 * an initramfs) find the port by its name in sysfs: /dev/vportNpM. */
static const char *serial_path(int port, char *buf, size_t size)
{
	const char *dir = "/sys/class/virtio-ports";
	struct dirent *d;
	DIR *dp;

	static const char *const defaults[] = { AP_SERIAL, AP_SERIAL_FORWARD };
	static const char *const names[] = { AP_SERIAL_NAME, AP_SERIAL_FORWARD_NAME };

	if (strcmp(A.serial[port], defaults[port]) || access(A.serial[port], F_OK) == 0 ||
	    !(dp = opendir(dir)))
		return A.serial[port];
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
		if (!strcmp(name, names[port]) &&
		    snprintf(buf, size, "/dev/%s", d->d_name) < (int)size) {
			closedir(dp);
			return buf;
		}
	}
	closedir(dp);
	return A.serial[port];
}

static void serial_open(int port)
{
	char buf[LIMIT_PATH];
	const char *path = serial_path(port, buf, sizeof(buf));
	struct stat st;
	int fd;

	A.serial_retry[port] = 0;
	if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", A.serial[port]);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			close(fd);
			fd = -1;
		}
		if (fd >= 0)
			fcntl(fd, F_SETFL, O_NONBLOCK);
	} else {
		fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	}
	if (fd < 0) {
		/* Absent on hypervisors without the port: look again now and then. */
		A.serial_retry[port] = now_ms() + (errno == ENOENT ? 2000 : 1000);
		return;
	}
	agent_server_serial(&A.srv, port, fd);
	log_debug("serial port %s open", path);
}

/* --- listeners ------------------------------------------------------------- */

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

/* --- the loop ---------------------------------------------------------------- */

static void loop(void)
{
	bool was_up[AGENT_SERIAL_PORTS];

	for (int i = 0; i < AGENT_SERIAL_PORTS; i++)
		was_up[i] = agent_server_serial_up(&A.srv, i);
	while (1) {
		struct signalfd_siginfo si;
		struct pollfd *p;
		size_t n;
		int timeout;

		for (int i = 0; i < AGENT_SERIAL_PORTS; i++) {
			if (A.serial[i] && !agent_server_serial_up(&A.srv, i)) {
				/* Hung up (the host side closed): look again shortly. */
				if (was_up[i])
					A.serial_retry[i] = now_ms() + SERIAL_RETRY_MS;
				if (now_ms() >= A.serial_retry[i])
					serial_open(i);
			}
			was_up[i] = agent_server_serial_up(&A.srv, i);
		}
		if (!(p = agent_server_pollset(&A.srv, 1, &n, &timeout))) {
			log_error("out of memory; trying again");
			sleep(1);
			continue;
		}
		p[0] = (struct pollfd){ .fd = A.sigfd, .events = POLLIN };
		for (int i = 0; i < AGENT_SERIAL_PORTS; i++) {
			long long left = A.serial_retry[i] - now_ms();

			if (!A.serial[i] || was_up[i])
				continue;
			left = left < 0 ? 0 : left;
			if (timeout < 0 || left < timeout)
				timeout = (int)left;
		}
		if (poll(p, n, timeout) < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			sleep(1);
			continue;
		}
		if (p[0].revents && read(A.sigfd, &si, sizeof(si)) == sizeof(si))
			return;
		agent_server_dispatch(&A.srv);
	}
}

int vsock_agent_main(int argc, char **argv)
{
	struct err e;
	sigset_t set;
	int fd;
	long v;

	A.port = AP_PORT;
	A.vsock = true;
	A.serial[0] = AP_SERIAL;
	A.serial[1] = AP_SERIAL_FORWARD;
	A.init_pid = 1;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *arg = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(o, "-v")) {
			log_more();
		} else if (!strcmp(o, "--no-vsock")) {
			A.vsock = false;
		} else if (!strcmp(o, "--allow-local")) {
			A.allow_local = true;
		} else if (!strcmp(o, "--no-serial")) {
			A.serial[0] = A.serial[1] = NULL;
		} else if (arg && !strcmp(o, "--port") && parse_num(arg, 0xfffffffe, &v) == 0) {
			A.port = v;
			i++;
		} else if (arg && !strcmp(o, "--init-pid") && parse_num(arg, 1 << 22, &v) == 0 &&
			   v) {
			A.init_pid = v;
			i++;
		} else if (arg && !strcmp(o, "--serial")) {
			A.serial[0] = arg; /* one stream, as given: no forwarder's port */
			A.serial[1] = NULL;
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
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	err_init(&e);
	A.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (A.sigfd < 0 || agent_server_init(&A.srv, A.init_pid, &e) < 0) {
		log_error("signalfd: %s", A.sigfd < 0 ? strerror(errno) : e.msg);
		return EXIT_SYSTEM;
	}
	A.srv.note = note;
	if (A.vsock && (fd = listen_vsock(A.port)) >= 0)
		agent_server_listen(&A.srv, fd, true, A.allow_local, &e);
	if (A.unix_path) {
		if ((fd = listen_unix(A.unix_path)) < 0)
			return EXIT_SYSTEM;
		agent_server_listen(&A.srv, fd, false, false, &e);
	}
	for (int i = 0; i < AGENT_SERIAL_PORTS; i++)
		if (A.serial[i])
			serial_open(i);
	if (!A.srv.nls && !A.serial[0]) {
		log_error("nothing to listen on (vsock failed, no --serial, no --listen-unix)");
		return EXIT_SYSTEM;
	}
	log_info("ready: vsock %s, serial %s%s%s", A.srv.nls > (A.unix_path ? 1 : 0) ? "on" : "off",
		 A.serial[0] ? A.serial[0] : "off", A.unix_path ? ", unix " : "",
		 A.unix_path ? A.unix_path : "");
	loop();
	agent_server_fini(&A.srv);
	if (A.unix_path)
		unlink(A.unix_path);
	return EXIT_OK;
}
