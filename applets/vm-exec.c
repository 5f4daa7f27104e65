/* vm-exec — run a command in a running microVM through its guest agent.
 *
 * Its usage, the text --help prints, is vm_exec_usage[] below.
 */
#include "applet.h"
#include "agent/agent.h"
#include "err.h"
#include "exitcode.h"
#include "store.h"
#include "vm/vm.h"
#include "xfuncs.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char vm_exec_usage[] =
	"usage: vm-exec [-it] [-e NAME=VALUE]... [-w DIR] [-u USER] NAME [--] CMD [ARGS...]\n"
	"\n"
	"Stdin, stdout, stderr and the exit code pass through (128+N when the\n"
	"command was killed by signal N, 127 when it was not found); Ctrl-C and\n"
	"other signals are forwarded. Talks to the agent over the VM's\n"
	"virtio-serial socket (QEMU) or hybrid vsock socket (Firecracker).\n"
	"\n"
	"  -i            keep stdin attached (it always is: accepted for docker's -i)\n"
	"  -t            run on a pseudo-terminal (interactive programs; -it as in\n"
	"                docker)\n"
	"  -e NAME=VALUE add to the command's environment\n"
	"  -w DIR        working directory in the guest\n"
	"  -u USER       run as USER (default root)\n"
	"\n"
	"examples:\n"
	"  banger vm exec web -- cat /etc/hostname\n"
	"  banger vm exec -it web -- bash\n"
	"  echo hi | banger vm exec -i web -- tr a-z A-Z\n";

int vm_exec_main(int argc, char **argv)
{
	struct agent_exec_opts x = { .in_fd = 0, .out_fd = 1, .err_fd = 2 };
	const char **env = xcalloc((size_t)argc + 1, sizeof(*env));
	struct agent_addr addr;
	struct vm_config c;
	struct vm_paths p;
	struct store s;
	struct err e;
	int o, nenv = 0, status;

	err_init(&e);
	while ((o = xgetopt(argc, argv, "+ite:w:u:")) != -1) {
		switch (o) {
		case 'i':
			break;
		case 't':
			x.tty = true;
			break;
		case 'e':
			if (!strchr(optarg, '='))
				die_usage("-e wants NAME=VALUE, not '%s'", optarg);
			env[nenv++] = optarg;
			break;
		case 'w':
			x.cwd = optarg;
			break;
		case 'u':
			x.user = optarg;
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
	optind++;
	if (optind < argc && !strcmp(argv[optind], "--"))
		optind++;
	if (optind >= argc)
		die_usage("no command to run");
	if (vm_status_get(&p, NULL) != VM_RUNNING)
		die(EXIT_NO, "VM '%s' is not running — 'banger vm start %s'", c.name, c.name);
	if (vm_agent_address(&p, &c, &addr, &e) < 0)
		die_err(&e);
	x.argv = (const char *const *)argv + optind;
	x.env = nenv ? env : NULL;
	x.term = getenv("TERM");
	if (agent_exec(&addr, VM_AGENT_TIMEOUT_MS, &x, &status, &e) < 0)
		die_err(&e);
	return status;
}
