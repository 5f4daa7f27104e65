/* vm-ssh — open an SSH session to a microVM (or run a command over SSH).
 *
 * Its usage, the text --help prints, is vm_ssh_usage[] below.
 */
#include "applet.h"
#include "agent/agent.h"
#include "err.h"
#include "exitcode.h"
#include "path.h"
#include "store.h"
#include "vm/vm.h"
#include "proc.h"
#include "xfuncs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
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
	"Checks first and says what is missing, with the fix: no network (--net\n"
	"none), no key (the VM was created without --ssh-key and no -i is given),\n"
	"or nothing answering on port 22 within 3 seconds — then the guest agent\n"
	"is asked whether the image has sshd at all (exit 1 for each).\n"
	"\n"
	"  -i KEY   identity file (private key)\n"
	"  -l USER  user in the guest (default root)\n"
	"\n"
	"examples:\n"
	"  banger vm ssh web\n"
	"  banger vm ssh -l admin web -- uptime\n";

#define SSH_PROBE_MS 3000

/* Whether something accepts TCP connections on addr:port within timeout_ms. */
static bool port_answers(const char *addr, int port, int timeout_ms)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct pollfd pfd = { .events = POLLOUT };
	socklen_t len = sizeof(int);
	int err = 1;

	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1 ||
	    (pfd.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return false;
	if (connect(pfd.fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		err = 0;
	else if (errno == EINPROGRESS && poll(&pfd, 1, timeout_ms) == 1)
		getsockopt(pfd.fd, SOL_SOCKET, SO_ERROR, &err, &len);
	close(pfd.fd);
	return err == 0;
}

/* Port 22 is silent: the agent tells a missing sshd from a stopped one. */
static void why_silent(const struct vm_paths *p, const struct vm_config *c, const char *where)
{
	const char *const check[] = { "sh", "-c",
				      "command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ]",
				      NULL };
	struct agent_exec_opts x = { .argv = check, .in_fd = -1, .out_fd = -1, .err_fd = -1 };
	struct agent_addr addr;
	struct err e;
	int status = -1;

	err_init(&e);
	if (vm_agent_address(p, c, &addr, &e) < 0 || agent_exec(&addr, 5000, &x, &status, &e) < 0)
		die(EXIT_NO,
		    "VM '%s': nothing answers on %s, and its agent does not either — is the guest "
		    "up? See 'banger vm logs %s'",
		    c->name, where, c->name);
	if (status)
		die(EXIT_NO,
		    "VM '%s': no sshd in the image — install openssh-server in it ('banger vm "
		    "exec %s -- apt-get install -y openssh-server' on Debian), or use 'banger vm "
		    "exec %s'",
		    c->name, c->name, c->name);
	die(EXIT_NO,
	    "VM '%s': sshd is installed but nothing answers on %s — start it ('banger vm exec %s "
	    "-- systemctl start ssh') or see 'banger vm logs %s'",
	    c->name, where, c->name, c->name);
}

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
		die(EXIT_NO,
		    "VM '%s' has no network to reach (--net %s) — use 'banger vm exec %s', or "
		    "create it with --net user (or --net tap as root)",
		    c.name, c.net, c.name);
	}
	if (!c.ssh_key[0] && !key)
		die(EXIT_NO,
		    "VM '%s' was created without --ssh-key, so no key of yours is authorized — "
		    "create it with --ssh-key ~/.ssh/id_ed25519.pub, give -i KEY for a key the "
		    "image has, or use 'banger vm exec %s'",
		    c.name, c.name);
	{
		char where[64];
		const char *ip = strcmp(c.net, "tap") ? "127.0.0.1" : c.ip;

		snprintf(where, sizeof(where), "%s port %s", ip, port);
		if (!port_answers(ip, strcmp(c.net, "tap") ? c.ssh_port : 22, SSH_PROBE_MS))
			why_silent(&p, &c, where);
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
