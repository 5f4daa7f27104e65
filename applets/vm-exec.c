/* vm-exec — run a command in a running microVM through its guest agent.
 *
 * Its usage, the text --help prints, is vm_exec_usage[] below.
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "store.h"
#include "vm/vm.h"
#include "xfuncs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char vm_exec_usage[] =
	"usage: vm-exec [-t] [-e NAME=VALUE]... [-w DIR] [-u USER] NAME [--] CMD [ARGS...]\n"
	"\n"
	"Stdin, stdout, stderr and the exit code pass through (128+N when the\n"
	"command was killed by signal N, 127 when it was not found); Ctrl-C and\n"
	"other signals are forwarded. Talks to the agent over the VM's\n"
	"virtio-serial socket (QEMU) or hybrid vsock socket (Firecracker), through\n"
	"'banger agent exec'.\n"
	"\n"
	"  -t            run on a pseudo-terminal (interactive programs)\n"
	"  -e NAME=VALUE add to the command's environment\n"
	"  -w DIR        working directory in the guest\n"
	"  -u USER       run as USER (default root)\n";

int vm_exec_main(int argc, char **argv)
{
	char exe[LIMIT_PATH], opt[16], sock[LIMIT_PATH];
	struct vm_config c;
	struct vm_paths p;
	struct store s;
	struct err e;
	char **av = xcalloc((size_t)argc + 16, sizeof(*av));
	int o, n = 0;
	ssize_t len;

	err_init(&e);
	av[n++] = "banger";
	av[n++] = "agent";
	av[n++] = "exec";
	while ((o = xgetopt(argc, argv, "+te:w:u:")) != -1) {
		switch (o) {
		case 't':
			av[n++] = "-t";
			break;
		case 'e':
			if (!strchr(optarg, '='))
				die_usage("-e wants NAME=VALUE, not '%s'", optarg);
			av[n++] = "-e";
			av[n++] = optarg;
			break;
		case 'w':
			av[n++] = "-w";
			av[n++] = optarg;
			break;
		case 'u':
			av[n++] = "-u";
			av[n++] = optarg;
			break;
		default:
			die_usage("unknown option");
		}
		if (n > argc + 8)
			die_usage("too many options");
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
	av[n++] = opt;
	av[n++] = sock;
	av[n++] = "--";
	while (optind < argc)
		av[n++] = argv[optind++];
	av[n] = NULL;
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len < 0)
		die(EXIT_SYSTEM, "/proc/self/exe: %s", strerror(errno));
	exe[len] = '\0';
	execv(exe, av);
	die(EXIT_SYSTEM, "%s: cannot run: %s", exe, strerror(errno));
}
