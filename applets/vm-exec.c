/* vm-exec — run a command in a running microVM through its guest agent.
 *
 * Its usage, the text --help prints, is vm_exec_usage[] below.
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "store.h"
#include "strlist.h"
#include "vm/vm.h"
#include "xfuncs.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char vm_exec_usage[] =
	"usage: vm-exec [-t] [-e NAME=VALUE]... [-w DIR] [-u USER] [--timeout SECS] NAME [--]\n"
	"               CMD [ARGS...]\n"
	"\n"
	"Stdin, stdout, stderr and the exit code pass through (128+N when the\n"
	"command was killed by signal N, 127 when it was not found); Ctrl-C and\n"
	"other signals are forwarded. Talks to the agent over the VM's\n"
	"virtio-serial socket (QEMU) or hybrid vsock socket (Firecracker), through\n"
	"'banger agent exec'. The environment, directory and user are the VM's\n"
	"(its image's config and vm run's -e/-w/-u), then these options.\n"
	"\n"
	"  -t              run on a pseudo-terminal (interactive programs)\n"
	"  -e NAME=VALUE   add to (or override in) the command's environment\n"
	"  -w DIR          working directory in the guest\n"
	"  -u USER         run as USER (default: the VM's, else root)\n"
	"  --timeout SECS  how long to wait for the agent to answer (default 10)\n";

static const struct option opts[] = {
	{ "tty", no_argument, NULL, 't' },	     { "env", required_argument, NULL, 'e' },
	{ "workdir", required_argument, NULL, 'w' }, { "user", required_argument, NULL, 'u' },
	{ "timeout", required_argument, NULL, 'T' }, { NULL, 0, NULL, 0 },
};

int vm_exec_main(int argc, char **argv)
{
	char exe[LIMIT_PATH], opt[16], sock[LIMIT_PATH];
	static struct vm_config c;
	struct vm_paths p;
	struct store s;
	struct err e;
	const char **env = xcalloc((size_t)argc + 1, sizeof(*env));
	const char *workdir = NULL, *user = NULL, *timeout = NULL;
	const char **av;
	bool tty = false;
	int o, n = 0, nenv = 0;
	ssize_t len;

	err_init(&e);
	while ((o = getopt_long(argc, argv, "+te:w:u:", opts, NULL)) != -1) {
		switch (o) {
		case 't':
			tty = true;
			break;
		case 'e':
			if (!strchr(optarg, '='))
				die_usage("-e wants NAME=VALUE, not '%s'", optarg);
			env[nenv++] = optarg;
			break;
		case 'w':
			workdir = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case 'T': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || end == optarg || v < 1 || v > 3600)
				die_usage("--timeout '%s': give seconds from 1 to 3600", optarg);
			timeout = optarg;
			break;
		}
		default:
			die_usage("unknown option");
		}
	}
	if (optind >= argc)
		die_usage("give the name of a VM and a command");
	if (store_init(&s, &e) < 0 || vm_paths_init(&s, argv[optind], &p, &e) < 0 ||
	    vm_config_load(&p, &c, &e) < 0)
		die_err(&e);
	optind++;
	if (optind < argc && !strcmp(argv[optind], "--"))
		optind++;
	if (optind >= argc)
		die_usage("no command to run");
	if (vm_status_get(&p, NULL) != VM_RUNNING)
		die(EXIT_NO, "VM '%s' is not running — 'banger vm start %s'", c.name, c.name);
	if (vm_agent_option(&p, &c, opt, sock, sizeof(sock), &e) < 0)
		die_err(&e);
	/* The VM's settings first, the command line's after: the agent applies
	 * the environment in order, so -e overrides. */
	if (!workdir && c.workdir[0])
		workdir = c.workdir;
	if (!user && c.user[0])
		user = c.user;
	av = xcalloc((size_t)argc + (size_t)c.env.n * 2 + (size_t)nenv * 2 + 16, sizeof(*av));
	av[n++] = "banger";
	av[n++] = "agent";
	av[n++] = "exec";
	av[n++] = opt;
	av[n++] = sock;
	if (timeout) {
		av[n++] = "--timeout";
		av[n++] = timeout;
	}
	if (tty)
		av[n++] = "-t";
	for (const char *v = strlist_next(&c.env, NULL); v; v = strlist_next(&c.env, v)) {
		av[n++] = "-e";
		av[n++] = v;
	}
	for (int i = 0; i < nenv; i++) {
		av[n++] = "-e";
		av[n++] = env[i];
	}
	if (workdir) {
		av[n++] = "-w";
		av[n++] = workdir;
	}
	if (user) {
		av[n++] = "-u";
		av[n++] = user;
	}
	av[n++] = "--";
	while (optind < argc)
		av[n++] = argv[optind++];
	av[n] = NULL;
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len < 0)
		die(EXIT_SYSTEM, "/proc/self/exe: %s", strerror(errno));
	exe[len] = '\0';
	execv(exe, (char *const *)av);
	die(EXIT_SYSTEM, "%s: cannot run: %s", exe, strerror(errno));
}
