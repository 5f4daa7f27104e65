/* vm-exec — run a command in a running microVM through its guest agent.
 *
 * Its usage, the text --help prints, is vm_exec_usage[] below.
 */
#include "applet.h"
#include "agent/agent.h"
#include "err.h"
#include "exitcode.h"
#include "store.h"
#include "strlist.h"
#include "vm/pause.h"
#include "vm/vm.h"
#include "xfuncs.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char vm_exec_usage[] =
	"usage: vm-exec [-it] [-e NAME=VALUE]... [-w DIR] [-u USER] [--timeout SECS] NAME [--]\n"
	"               CMD [ARGS...]\n"
	"\n"
	"Stdin, stdout, stderr and the exit code pass through (128+N when the\n"
	"command was killed by signal N, 127 when it was not found); Ctrl-C and\n"
	"other signals are forwarded. Talks to the agent over the VM's\n"
	"virtio-serial socket (QEMU) or hybrid vsock socket (Firecracker). The\n"
	"environment, directory and user are the VM's (its image's config and\n"
	"vm run's -e/-w/-u), then these options.\n"
	"\n"
	"  -i              keep stdin attached (it always is: accepted for docker's -i)\n"
	"  -t              run on a pseudo-terminal (interactive programs; -it as in\n"
	"                  docker)\n"
	"  -e NAME=VALUE   add to (or override in) the command's environment\n"
	"  -w DIR          working directory in the guest\n"
	"  -u USER         run as USER (default: the VM's, else root)\n"
	"  --timeout SECS  how long to wait for the agent to answer (default 10)\n"
	"\n"
	"examples:\n"
	"  banger vm exec web -- cat /etc/hostname\n"
	"  banger vm exec -it web -- bash\n"
	"  echo hi | banger vm exec -i web -- tr a-z A-Z\n";

static const struct option opts[] = {
	{ "interactive", no_argument, NULL, 'i' },
	{ "tty", no_argument, NULL, 't' },
	{ "env", required_argument, NULL, 'e' },
	{ "workdir", required_argument, NULL, 'w' },
	{ "user", required_argument, NULL, 'u' },
	{ "timeout", required_argument, NULL, 'T' },
	{ NULL, 0, NULL, 0 },
};

int vm_exec_main(int argc, char **argv)
{
	struct agent_exec_opts x = { .in_fd = 0, .out_fd = 1, .err_fd = 2 };
	static struct vm_config c;
	static struct strlist given; /* -e, laid over the VM's environment */
	const char **env;
	struct agent_addr addr;
	struct vm_paths p;
	struct store s;
	struct err e;
	int o, status, timeout_ms = VM_AGENT_TIMEOUT_MS;
	char *end;
	long v;

	err_init(&e);
	while ((o = xgetopt_long(argc, argv, "+ite:w:u:", opts, NULL)) != -1) {
		switch (o) {
		case 'i':
			break;
		case 't':
			x.tty = true;
			break;
		case 'e':
			/* Over the VM's environment: the last setting of a name wins. */
			if (!strchr(optarg, '='))
				die_usage("-e wants NAME=VALUE, not '%s'", optarg);
			if (strlist_setenv(&given, optarg, "-e", &e) < 0)
				die_usage("%s", e.msg);
			break;
		case 'w':
			x.cwd = optarg;
			break;
		case 'u':
			x.user = optarg;
			break;
		case 'T':
			v = strtol(optarg, &end, 10);
			if (*end || end == optarg || v < 1 || v > 3600)
				die_usage("--timeout '%s': give seconds from 1 to 3600", optarg);
			timeout_ms = (int)v * 1000;
			break;
		default:
			die_usage("unknown option");
		}
	}
	if (optind >= argc)
		die_usage("give the name of a VM and a command");
	if (store_init(&s, &e) < 0 || vm_paths_init(&s, argv[optind], &p, &e) < 0 ||
	    vm_config_load(&p, &c, &e) < 0)
		die_err(&e);
	for (const char *kv = strlist_next(&given, NULL); kv; kv = strlist_next(&given, kv))
		if (strlist_setenv(&c.env, kv, "-e", &e) < 0)
			die_usage("%s", e.msg);
	optind++;
	if (optind < argc && !strcmp(argv[optind], "--"))
		optind++;
	if (optind >= argc)
		die_usage("no command to run");
	if (vm_status_get(&p, NULL) != VM_RUNNING)
		die(EXIT_NO, "VM '%s' is not running — 'banger vm start %s'", c.name, c.name);
	if (vm_agent_address(&p, &c, &addr, &e) < 0)
		die_err(&e);
	env = xcalloc((size_t)c.env.n + 1, sizeof(*env));
	strlist_ptrs(&c.env, env);
	x.argv = (const char *const *)argv + optind;
	x.env = c.env.n ? env : NULL;
	if (!x.cwd && c.workdir[0])
		x.cwd = c.workdir;
	if (!x.user && c.user[0])
		x.user = c.user;
	x.term = getenv("TERM");
	if (agent_exec(&addr, timeout_ms, &x, &status, &e) < 0) {
		struct err ignored;

		err_init(&ignored);
		if (e.code == EXIT_GUEST &&
		    vm_run_state_get(&p, &c, VM_QUERY_TIMEOUT_MS, &ignored) == VM_RUN_PAUSED)
			die(EXIT_GUEST,
			    "VM '%s' is paused: its agent cannot answer — 'banger vm "
			    "resume %s'",
			    c.name, c.name);
		die_err(&e);
	}
	return status;
}
