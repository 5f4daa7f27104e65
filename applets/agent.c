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
	"  shutdown [--reboot]      ask the guest's init to power off (or reboot)\n"
	"\n"
	"examples:\n"
	"  banger agent ping --unix ~/.local/share/banger/vms/web/agent.sock\n"
	"  banger agent exec --unix /var/lib/banger/vms/web/agent.sock -- uname -a\n";

static struct {
	struct agent_addr addr;
	bool have_addr;
	int timeout_ms;
	/* what is left of the command line after the connection options */
	char **args;
	int nargs;
} G;

static void need_addr(void)
{
	if (!G.have_addr)
		die_usage("needs --unix PATH, --firecracker UDS[:PORT] or --vsock CID[:PORT]");
}

static int cmd_ping(void)
{
	struct agent_info i;
	struct err e;

	if (G.nargs)
		die_usage("ping takes no arguments");
	need_addr();
	err_init(&e);
	if (agent_ping(&G.addr, G.timeout_ms, &i, &e) < 0)
		die_err(&e);
	printf("agent=%s\nhostname=%s\nkernel=%s\nfirst_boot=%s\nboot_time=%lld\nuptime_ms=%lld\n",
	       i.agent, i.hostname, i.kernel, i.first_boot, i.boot_time, i.uptime_ms);
	return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
}

static int cmd_exec(void)
{
	struct agent_exec_opts o = { .in_fd = 0, .out_fd = 1, .err_fd = 2 };
	const char **env = xcalloc(G.nargs + 1, sizeof(char *));
	const char **cmds = xcalloc(G.nargs + 1, sizeof(char *));
	int nenv = 0, status, i = 0;
	struct err e;

	for (; i < G.nargs; i++) {
		const char *a = G.args[i], *v = i + 1 < G.nargs ? G.args[i + 1] : NULL;

		if (!strcmp(a, "--")) {
			i++;
			break;
		} else if (!strcmp(a, "-t")) {
			o.tty = true;
		} else if (a[0] != '-') {
			break;
		} else if (!v) {
			die_usage("exec: %s needs a value", a);
		} else if (!strcmp(a, "-e")) {
			if (!strchr(v, '='))
				die_usage("exec: -e wants NAME=VALUE, not '%s'", v);
			env[nenv++] = v;
			i++;
		} else if (!strcmp(a, "-w")) {
			o.cwd = v;
			i++;
		} else if (!strcmp(a, "-u")) {
			o.user = v;
			i++;
		} else if (!strcmp(a, "-c")) {
			cmds[o.ncmds++] = v;
			i++;
		} else {
			die_usage("exec: unknown option '%s'", a);
		}
	}
	if (o.ncmds && i < G.nargs)
		die_usage("exec: give -c CMD or ARGV, not both");
	if (!o.ncmds && i >= G.nargs)
		die_usage("exec: no command");
	if (o.ncmds > LIMIT_AGENT_CHANNELS)
		die_usage("exec: at most %d -c commands", LIMIT_AGENT_CHANNELS);
	need_addr();
	o.env = nenv ? env : NULL;
	o.cmds = o.ncmds ? cmds : NULL;
	o.argv = (const char *const *)G.args + i;
	o.term = getenv("TERM");
	err_init(&e);
	if (agent_exec(&G.addr, G.timeout_ms, &o, &status, &e) < 0)
		die_err(&e);
	return status;
}

static int cmd_put(void)
{
	long uid = -1, gid = -1, mode = -1;
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
	need_addr();
	fd = strcmp(G.args[i], "-") ? xopen(G.args[i], O_RDONLY | O_CLOEXEC, 0) : 0;
	err_init(&e);
	if (agent_put(&G.addr, G.timeout_ms, fd, G.args[i + 1], mode, uid, gid, &e) < 0)
		die_err(&e);
	return EXIT_OK;
}

static int cmd_get(void)
{
	struct err e;

	if (G.nargs != 2)
		die_usage("get wants REMOTE LOCAL");
	need_addr();
	err_init(&e);
	if (agent_get(&G.addr, G.timeout_ms, G.args[0], strcmp(G.args[1], "-") ? G.args[1] : NULL,
		      1, &e) < 0)
		die_err(&e);
	return EXIT_OK;
}

static int cmd_shutdown(void)
{
	bool reboot = G.nargs == 1 && !strcmp(G.args[0], "--reboot");
	struct err e;

	if (G.nargs > 1 || (G.nargs == 1 && !reboot))
		die_usage("shutdown takes only --reboot");
	need_addr();
	err_init(&e);
	if (agent_shutdown(&G.addr, G.timeout_ms, reboot, &e) < 0)
		die_err(&e);
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
	static const char *const via[] = { "--unix", "--firecracker", "--vsock" };
	int (*fn)(void) = NULL;
	struct err e;
	bool dashdash = false;

	G.timeout_ms = 10000;
	G.args = xcalloc(argc, sizeof(char *));
	/* Connection options may come before or after the command. */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool opt = false;

		for (int k = 0; !dashdash && k < 3; k++) {
			if (strcmp(a, via[k]))
				continue;
			if (!v)
				die_usage("%s needs a value", a);
			err_init(&e);
			if (agent_addr_set(&G.addr, (enum agent_via)k, v, &e) < 0)
				die_err(&e);
			G.have_addr = opt = true;
			i++;
		}
		if (opt)
			continue;
		if (!dashdash && (!strcmp(a, "--timeout") || !strcmp(a, "--wait"))) {
			char *end;
			double s = v ? strtod(v, &end) : 0;

			if (!v)
				die_usage("%s needs a value", a);
			if (*end || s <= 0 || s > 86400)
				die_usage("%s wants seconds, not '%s'", a, v);
			G.timeout_ms = (int)(s * 1000);
			i++;
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
