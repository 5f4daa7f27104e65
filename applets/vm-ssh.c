/* vm-ssh — open an SSH session to a microVM (or run a command over SSH).
 *
 * Its usage, the text --help prints, is vm_ssh_usage[] below.
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "path.h"
#include "store.h"
#include "vm/vm.h"
#include "proc.h"
#include "xfuncs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char vm_ssh_usage[] =
	"usage: vm-ssh [-i KEY] [-l USER] NAME [-- SSH-ARGS...]\n"
	"\n"
	"Runs ssh(1) to the VM: its address on the bridge (--net tap), or the\n"
	"127.0.0.1 port QEMU forwards to its port 22 (--net user). Host keys are\n"
	"remembered per VM in BANGER_HOME/vms/NAME/known_hosts (accepted on first\n"
	"use). The key is the one given with --ssh-key at creation, as authorized\n"
	"for root by first-boot; -i names its private half. BANGER_SSH overrides\n"
	"the ssh program. For commands without SSH, see vm-exec.\n"
	"\n"
	"  -i KEY   identity file (private key)\n"
	"  -l USER  user in the guest (default root)\n"
	"\n"
	"examples:\n"
	"  banger vm ssh web\n"
	"  banger vm ssh -l admin web -- uptime\n";

int vm_ssh_main(int argc, char **argv)
{
	const char *key = NULL, *user = "root", *ssh = getenv("BANGER_SSH");
	char known[LIMIT_PATH + 32], port[16], dest[128];
	struct vm_config c;
	struct vm_paths p;
	struct store s;
	struct err e;
	char **av;
	int o, n = 0;

	err_init(&e);
	while ((o = xgetopt(argc, argv, "+i:l:")) != -1) {
		if (o == 'i')
			key = optarg;
		else if (o == 'l')
			user = optarg;
		else
			die_usage("unknown option");
	}
	if (optind >= argc)
		die_usage("give the name of a VM");
	if (strchr(user, '@') || !*user)
		die_usage("-l '%s': not a user name", user);
	if (store_init(&s, &e) < 0 || vm_paths_init(&s, argv[optind], &p, &e) < 0 ||
	    vm_config_load(&p, &c, &e) < 0)
		die_err(&e);
	if (vm_status_get(&p, NULL) != VM_RUNNING)
		die(EXIT_NO, "VM '%s' is not running — 'banger vm start %s'", c.name, c.name);
	if (!strcmp(c.net, "tap")) {
		snprintf(dest, sizeof(dest), "%s@%s", user, c.ip);
		snprintf(port, sizeof(port), "22");
	} else if (!strcmp(c.net, "user") && c.ssh_port > 0) {
		snprintf(dest, sizeof(dest), "%s@127.0.0.1", user);
		snprintf(port, sizeof(port), "%d", c.ssh_port);
	} else {
		die(EXIT_NO, "VM '%s' has no network to reach (--net %s) — use 'banger vm exec %s'",
		    c.name, c.net, c.name);
	}
	snprintf(known, sizeof(known), "UserKnownHostsFile=%s/known_hosts", p.dir);
	av = xcalloc((size_t)argc + 16, sizeof(*av));
	av[n++] = (char *)(ssh && *ssh ? ssh : "ssh");
	av[n++] = "-o";
	av[n++] = known;
	av[n++] = "-o";
	av[n++] = "StrictHostKeyChecking=accept-new";
	av[n++] = "-o";
	av[n++] = "LogLevel=ERROR";
	av[n++] = "-p";
	av[n++] = port;
	if (key) {
		av[n++] = "-i";
		av[n++] = (char *)key;
	}
	av[n++] = dest;
	for (int i = optind + 1; i < argc; i++)
		if (i > optind + 1 || strcmp(argv[i], "--"))
			av[n++] = argv[i];
	av[n] = NULL;
	proc_exec((const char *const *)av, &e);
	die(e.code, "%s%s", e.msg, e.code == EXIT_NOTFOUND ? " — install openssh-client" : "");
}
