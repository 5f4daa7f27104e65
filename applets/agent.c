/* agent — talk to a guest's agent: ping, exec, put, get, shutdown.
 *
 * Its usage, the text --help prints, is agent_usage[] below; the formats and
 * protocols are in docs/agent-protocol.md.
 */
#include "applet.h"
#include "agent/agent.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "log.h"
#include "xfuncs.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

const char agent_usage[] =
	"usage: agent COMMAND [--unix PATH | --firecracker UDS[:PORT] | --vsock CID[:PORT]]\n"
	"             [--timeout SECS] [ARGS...]\n"
	"\n"
	"Speaks the agent protocol (docs/agent-protocol.md) to vsock-agent:\n"
	"  --unix PATH              a QEMU virtio-serial chardev socket (or a test socket)\n"
	"  --firecracker UDS[:PORT] Firecracker's hybrid vsock socket (port 10789)\n"
	"  --vsock CID[:PORT]       AF_VSOCK, only from inside a guest\n"
	"  --timeout SECS           wait this long for the agent (default 10)\n"
	"\n"
	"Commands:\n"
	"  ping                     wait until the agent answers; print what it says\n"
	"  exec [-t] [-e K=V]... [-w DIR] [-u USER] [-c CMD]... [--] [ARGV...]\n"
	"                           run ARGV in the guest, or each CMD with sh -c,\n"
	"                           all at once; -t: on a terminal. Exits with its\n"
	"                           code, 128+N when killed by signal N, 127 when\n"
	"                           not found\n"
	"  put [-m MODE] [-o UID:GID] LOCAL REMOTE\n"
	"                           copy LOCAL ('-': stdin) to the guest, atomically\n"
	"  get REMOTE LOCAL         copy a guest file to LOCAL ('-': stdout)\n"
	"  shutdown [--reboot]      ask the guest's init to power off (or reboot)\n";

static struct {
	struct agent_spec spec;
	bool have_spec;
	int timeout_ms;
	struct agent a;
	struct termios saved;
	bool raw;
	/* what is left of the command line after the connection options */
	char **args;
	int nargs;
	/* exec options */
	const char **env, **cmds;
	int nenv, ncmds;
} G;

static void connect_agent(void)
{
	struct err e;

	err_init(&e);
	if (!G.have_spec)
		die_usage("needs --unix PATH, --firecracker UDS[:PORT] or --vsock CID[:PORT]");
	if (agent_wait_ready(&G.a, &G.spec, G.timeout_ms, &e) < 0)
		die_err(&e);
}

static void restore_tty(void)
{
	if (G.raw)
		tcsetattr(0, TCSADRAIN, &G.saved);
	G.raw = false;
}

static int cmd_ping(void)
{
	struct agent_info *i = &G.a.info;

	if (G.nargs)
		die_usage("ping takes no arguments");
	connect_agent();
	printf("agent=%s\nhostname=%s\nkernel=%s\nfirst_boot=%s\nboot_time=%lld\nuptime_ms=%lld\n",
	       i->agent, i->hostname, i->kernel, i->first_boot, i->boot_time, i->uptime_ms);
	agent_close(&G.a);
	return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
}

static int signal_fd(bool winch)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	if (winch)
		sigaddset(&set, SIGWINCH);
	sigprocmask(SIG_BLOCK, &set, NULL);
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		die(EXIT_SYSTEM, "signalfd: %s", strerror(errno));
	return fd;
}

static int cmd_exec(void)
{
	struct agent_exec_opts o = { .in_fd = 0, .out_fd = 1, .err_fd = 2 };
	uint32_t ids[LIMIT_AGENT_CHANNELS];
	int n = 0, rc = EXIT_OK, i = 0;
	struct err e;

	G.env = xcalloc(G.nargs + 1, sizeof(char *));
	G.cmds = xcalloc(G.nargs + 1, sizeof(char *));
	for (; i < G.nargs; i++) {
		const char *a = G.args[i], *v = i + 1 < G.nargs ? G.args[i + 1] : NULL;

		if (!strcmp(a, "--")) {
			i++;
			break;
		} else if (!strcmp(a, "-t")) {
			o.pty = true;
		} else if (a[0] != '-') {
			break;
		} else if (!v) {
			die_usage("exec: %s needs a value", a);
		} else if (!strcmp(a, "-e")) {
			if (!strchr(v, '='))
				die_usage("exec: -e wants NAME=VALUE, not '%s'", v);
			G.env[G.nenv++] = v;
			i++;
		} else if (!strcmp(a, "-w")) {
			o.cwd = v;
			i++;
		} else if (!strcmp(a, "-u")) {
			o.user = v;
			i++;
		} else if (!strcmp(a, "-c")) {
			G.cmds[G.ncmds++] = v;
			i++;
		} else {
			die_usage("exec: unknown option '%s'", a);
		}
	}
	if (G.ncmds && i < G.nargs)
		die_usage("exec: give -c CMD or ARGV, not both");
	if (!G.ncmds && i >= G.nargs)
		die_usage("exec: no command");
	if (G.ncmds > LIMIT_AGENT_CHANNELS)
		die_usage("exec: at most %d -c commands", LIMIT_AGENT_CHANNELS);
	o.env = G.nenv ? G.env : NULL;
	connect_agent();
	if (o.pty) {
		struct winsize ws;

		if (ioctl(1, TIOCGWINSZ, &ws) == 0 || ioctl(0, TIOCGWINSZ, &ws) == 0) {
			o.rows = ws.ws_row;
			o.cols = ws.ws_col;
		}
		o.term = getenv("TERM");
		if (isatty(0) && tcgetattr(0, &G.saved) == 0) {
			struct termios raw = G.saved;

			cfmakeraw(&raw);
			if (tcsetattr(0, TCSADRAIN, &raw) == 0)
				G.raw = true;
		}
	}
	agent_forward_signals(&G.a, signal_fd(o.pty), isatty(1) ? 1 : 0);
	err_init(&e);
	if (G.ncmds) {
		/* Concurrent commands share our stdout/stderr; none reads stdin. */
		o.in_fd = -1;
		for (; n < G.ncmds; n++) {
			const char *argv[] = { "/bin/sh", "-c", G.cmds[n], NULL };

			o.argv = argv;
			if (!(ids[n] = agent_exec_start(&G.a, &o, &e)))
				break;
		}
	} else {
		o.argv = (const char *const *)G.args + i;
		if ((ids[0] = agent_exec_start(&G.a, &o, &e)))
			n = 1;
	}
	if (!n) {
		restore_tty();
		die_err(&e);
	}
	for (int k = 0; k < n; k++) {
		int status = 0;

		if (agent_wait(&G.a, ids[k], -1, &status, &e) < 0) {
			restore_tty();
			log_error("%s", e.msg);
			status = e.code;
		}
		if (status && rc == EXIT_OK)
			rc = status;
	}
	restore_tty();
	agent_close(&G.a);
	return rc;
}

static int cmd_put(void)
{
	long uid = -1, gid = -1, mode = -1;
	const char *local, *remote;
	long long size = -1;
	struct stat st;
	struct err e;
	int i = 0, fd;

	for (; i + 1 < G.nargs && G.args[i][0] == '-' && G.args[i][1]; i += 2) {
		const char *v = G.args[i + 1];
		char *end;

		if (!strcmp(G.args[i], "-m")) {
			mode = strtol(v, &end, 8);
			if (*end || !*v || mode < 0 || mode > 07777)
				die_usage("put: -m wants an octal mode, not '%s'", v);
		} else if (!strcmp(G.args[i], "-o")) {
			uid = strtol(v, &end, 10);
			if (*end != ':' || uid < 0)
				die_usage("put: -o wants UID:GID, not '%s'", v);
			gid = strtol(end + 1, &end, 10);
			if (*end || gid < 0)
				die_usage("put: -o wants UID:GID, not '%s'", v);
		} else {
			die_usage("put: unknown option '%s'", G.args[i]);
		}
	}
	if (G.nargs - i != 2)
		die_usage("put wants LOCAL REMOTE");
	local = G.args[i];
	remote = G.args[i + 1];
	fd = strcmp(local, "-") ? xopen(local, O_RDONLY | O_CLOEXEC, 0) : 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		size = st.st_size;
		if (mode < 0)
			mode = st.st_mode & 07777;
	}
	if (mode < 0)
		mode = 0644;
	connect_agent();
	err_init(&e);
	if (agent_put(&G.a, fd, remote, (unsigned)mode, uid, gid, size, &e) < 0)
		die_err(&e);
	agent_close(&G.a);
	return EXIT_OK;
}

static int cmd_get(void)
{
	struct atomic_file af = { .fd = -1 };
	struct err e;
	int fd = 1;

	if (G.nargs != 2)
		die_usage("get wants REMOTE LOCAL");
	err_init(&e);
	if (strcmp(G.args[1], "-")) {
		if (atomic_open(&af, G.args[1], 0644, &e) < 0)
			die_err(&e);
		fd = af.fd;
	}
	connect_agent();
	if (agent_get(&G.a, G.args[0], fd, &e) < 0) {
		atomic_abort(&af);
		die_err(&e);
	}
	if (af.fd >= 0 && atomic_commit(&af, &e) < 0)
		die_err(&e);
	agent_close(&G.a);
	return EXIT_OK;
}

static int cmd_shutdown(void)
{
	bool reboot = G.nargs == 1 && !strcmp(G.args[0], "--reboot");
	struct err e;

	if (G.nargs > 1 || (G.nargs == 1 && !reboot))
		die_usage("shutdown takes only --reboot");
	connect_agent();
	err_init(&e);
	if (agent_shutdown(&G.a, reboot, &e) < 0)
		die_err(&e);
	agent_close(&G.a);
	return EXIT_OK;
}

int agent_main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(void);
	} cmds[] = {
		{ "ping", cmd_ping }, { "exec", cmd_exec },	    { "put", cmd_put },
		{ "get", cmd_get },   { "shutdown", cmd_shutdown },
	};
	const char *spec = NULL;
	int (*fn)(void) = NULL;
	struct err e;
	bool dashdash = false;

	/* A closed stdio fd would be reused by the connection: fill the gaps. */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			die(EXIT_SYSTEM, "/dev/null: cannot open: %s", strerror(errno));
	G.timeout_ms = 10000;
	G.args = xcalloc(argc, sizeof(char *));
	/* Connection options may come before or after the command. */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *buf = NULL;

		if (!dashdash &&
		    (!strcmp(a, "--unix") || !strcmp(a, "--firecracker") || !strcmp(a, "--vsock") ||
		     !strcmp(a, "--timeout") || !strcmp(a, "--wait"))) {
			if (!v)
				die_usage("%s needs a value", a);
			i++;
			if (!strcmp(a, "--timeout") || !strcmp(a, "--wait")) {
				char *end;
				double s = strtod(v, &end);

				if (*end || s <= 0 || s > 86400)
					die_usage("%s wants seconds, not '%s'", a, v);
				G.timeout_ms = (int)(s * 1000);
				continue;
			}
			buf = xasprintf("%s:%s", a + 2, v);
			spec = buf;
			err_init(&e);
			if (agent_spec_parse(&G.spec, spec, &e) < 0)
				die_err(&e);
			G.have_spec = true;
			free(buf);
			continue;
		}
		if (!fn) {
			for (size_t k = 0; k < sizeof(cmds) / sizeof(*cmds); k++)
				if (!strcmp(a, cmds[k].name))
					fn = cmds[k].fn;
			if (!fn)
				die_usage("unknown command '%s'", a);
			continue;
		}
		if (!strcmp(a, "--"))
			dashdash = true;
		G.args[G.nargs++] = argv[i];
	}
	if (!fn)
		die_usage("needs a command: ping, exec, put, get or shutdown");
	return fn();
}
