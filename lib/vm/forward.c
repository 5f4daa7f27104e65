/* forward.c — a VM's published ports (-p): the forwarder daemon that lives
 * as long as the VM, see vm.h and lib/agent's agent_forward. */
#include "vm/vm.h"
#include "agent/agent.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "proc.h"

#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

int vm_forward_listen(const struct vm_config *c, int *fds, struct err *e)
{
	for (int i = 0; i < c->nports; i++) {
		if ((fds[i] = agent_port_listen(&c->ports[i], e)) < 0) {
			while (i--)
				close(fds[i]);
			return err_prefix(e, "VM '%s'", c->name);
		}
	}
	return 0;
}

/* The daemon: forwards until the VMM is gone or it is told to stop. */
static __attribute__((noreturn)) void forwarder(const struct vm_paths *p, const struct vm_config *c,
						pid_t vmm, const int *fds)
{
	struct agent_addr a;
	sigset_t set;
	struct err e;
	int stop[2];

	err_init(&e);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	stop[0] = signalfd(-1, &set, SFD_CLOEXEC);
	/* Readable once the VMM has exited: the forwarder goes with its VM. */
	stop[1] = (int)syscall(SYS_pidfd_open, vmm, 0);
	if (vm_agent_address(p, c, &a, &e) < 0)
		_exit(EXIT_USAGE);
	/* Under QEMU the forwarder has a virtio-serial port of its own. */
	if (a.via == AGENT_UNIX && strlen(p->fwd_sock) < sizeof(a.path))
		memcpy(a.path, p->fwd_sock, strlen(p->fwd_sock) + 1);
	_exit(agent_forward(&a, c->ports, fds, (size_t)c->nports, stop, &e) < 0 ? e.code : 0);
}

int vm_forward_spawn(const struct vm_paths *p, const struct vm_config *c, pid_t vmm, int *fds,
		     struct err *e)
{
	char line[64];
	pid_t pid;
	int n, r = 0;

	if (!c->nports)
		return 0;
	pid = proc_fork_daemon(fds, (size_t)c->nports, e);
	if (pid == 0)
		forwarder(p, c, vmm, fds);
	for (int i = 0; i < c->nports; i++)
		close(fds[i]);
	if (pid < 0)
		return -1;
	n = snprintf(line, sizeof(line), "%d %llu\n", (int)pid, vm_proc_starttime(pid));
	if (file_write_atomic(p->forward, line, (size_t)n, 0644, e) < 0) {
		kill(pid, SIGTERM);
		r = -1;
	}
	return r;
}

void vm_forward_stop(const struct vm_paths *p)
{
	char line[64] = "";
	unsigned long long start = 0;
	int pid = 0;
	struct err e;
	char *text = NULL;
	size_t len;

	err_init(&e);
	if (file_read_all(p->forward, sizeof(line) - 1, &text, &len, &e) < 0)
		return;
	memcpy(line, text, len < sizeof(line) - 1 ? len : sizeof(line) - 1);
	free(text);
	/* Only the process it recorded: a pid may have been reused since. */
	if (sscanf(line, "%d %llu", &pid, &start) == 2 && pid > 0 &&
	    vm_proc_starttime(pid) == start)
		kill(pid, SIGTERM);
	unlink(p->forward);
}
