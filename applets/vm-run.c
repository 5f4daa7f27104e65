/* vm-run — create and boot a microVM, then run a command or an interactive shell.
 *
 * usage: vm-run [-d] [--rm] [--name N] [--image NAME] [--kernel NAME] [--cpus N]
 *               [--memory MiB] [--disk-size SIZE] [--net tap|user|none] [--nat]
 *               [--ssh-key FILE] [--vmm firecracker|qemu] [--jail] [--timeout SECS]
 *               [-- CMD...]
 *
 * Pulls the kernel (default debian-cloud) and image (default debian-bookworm)
 * when they are not installed, creates the VM (see vm-create for the
 * options), boots it, waits for the guest agent, then runs CMD through it
 * with stdio and exit code passed through, or a shell when CMD is absent;
 * then stops the VM (vm start NAME boots it again). Firecracker is used when
 * it and /dev/kvm are usable, else QEMU (said once).
 *
 *   -d              leave the VM running in the background; print its name
 *   --rm            remove the VM when CMD or the shell ends
 *   --timeout SECS  how long to wait for the guest agent (default 120)
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "lock.h"
#include "log.h"
#include "path.h"
#include "store.h"
#include "vm.h"
#include "xfuncs.h"

#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char vm_run_usage[] =
	"usage: vm-run [-d] [--rm] [--name N] [--image NAME] [--kernel NAME] [--cpus N]\n"
	"              [--memory MiB] [--disk-size SIZE] [--net tap|user|none] [--nat]\n"
	"              [--ssh-key FILE] [--vmm firecracker|qemu] [--jail] [--timeout SECS]\n"
	"              [-- CMD...]\n"
	"\n"
	"Pulls the kernel (default debian-cloud) and image (default debian-bookworm)\n"
	"when they are not installed, creates the VM (see vm-create for the\n"
	"options), boots it, waits for the guest agent, then runs CMD through it\n"
	"with stdio and exit code passed through, or a shell when CMD is absent;\n"
	"then stops the VM (vm start NAME boots it again). Firecracker is used when\n"
	"it and /dev/kvm are usable, else QEMU (said once).\n"
	"\n"
	"  -d              leave the VM running in the background; print its name\n"
	"  --rm            remove the VM when CMD or the shell ends\n"
	"  --timeout SECS  how long to wait for the guest agent (default 120)\n";

static const struct option opts[] = {
	{ "name", required_argument, NULL, 0 },
	{ "image", required_argument, NULL, 0 },
	{ "kernel", required_argument, NULL, 0 },
	{ "cpus", required_argument, NULL, 0 },
	{ "memory", required_argument, NULL, 0 },
	{ "disk-size", required_argument, NULL, 0 },
	{ "net", required_argument, NULL, 0 },
	{ "nat", no_argument, NULL, 0 },
	{ "ssh-key", required_argument, NULL, 0 },
	{ "vmm", required_argument, NULL, 0 },
	{ "jail", no_argument, NULL, 0 },
	{ "rm", no_argument, NULL, 'r' },
	{ "timeout", required_argument, NULL, 't' },
	{ NULL, 0, NULL, 0 },
};

static struct {
	struct store s;
	struct vm_config c;
	struct vm_paths p;
	bool detach, rm;
	int timeout_s;
} run;

/* Runs this binary with argv (argv[0] "banger") and returns its exit code;
 * with quiet, its stdout goes to /dev/null. We ignore the terminal's
 * signals meanwhile: the child forwards them to the guest, and we must
 * live on to clean up (--rm). */
static int self(const char *const *av, bool quiet)
{
	char exe[LIMIT_PATH];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	void (*old_int)(int), (*old_quit)(int);
	int status;
	pid_t p;

	if (n < 0)
		die(EXIT_SYSTEM, "/proc/self/exe: cannot find this binary");
	exe[n] = '\0';
	if ((p = fork()) < 0)
		die(EXIT_SYSTEM, "fork failed");
	if (p == 0) {
		if (quiet) {
			int null = open("/dev/null", O_WRONLY);

			if (null < 0 || dup2(null, 1) < 0)
				_exit(EXIT_SYSTEM);
		}
		execv(exe, (char *const *)av);
		_exit(127);
	}
	old_int = signal(SIGINT, SIG_IGN);
	old_quit = signal(SIGQUIT, SIG_IGN);
	while (waitpid(p, &status, 0) < 0)
		;
	signal(SIGINT, old_int);
	signal(SIGQUIT, old_quit);
	return WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_SIGNAL + WTERMSIG(status);
}

/* Pulls kind/name when its file is missing. */
static void ensure(const char *kinds, const char *name, const char *file, const char *applet)
{
	char dir[LIMIT_PATH], path[LIMIT_PATH];
	struct err e;
	int rc;

	err_init(&e);
	if (store_object_dir(&run.s, kinds, name, dir, sizeof(dir), &e) < 0 ||
	    path_join(path, sizeof(path), dir, file, &e) < 0)
		die_err(&e);
	if (access(path, R_OK) == 0)
		return;
	log_info("%s is not installed: running 'banger %s %s'", name, applet, name);
	const char *av[] = { "banger", applet, name, NULL };
	if ((rc = self(av, false)) != 0)
		die(rc, "%s '%s' is missing and '%s %s' failed (exit %d)", kinds, name, applet,
		    name, rc);
}

/* The guest side, through the agent applet: wait until the agent answers,
 * then run the command, or a login shell (bash if the guest has it) on a
 * terminal when we have one. */
static int in_guest(char **cmd, int ncmd)
{
	static const char shell[] = "command -v bash >/dev/null && exec bash -l; exec sh -l";
	char opt[16], sock[LIMIT_PATH], secs[16];
	const char **av = xcalloc((size_t)ncmd + 16, sizeof(*av));
	struct err e;
	int n = 0, rc;

	err_init(&e);
	if (vm_agent_option(&run.p, &run.c, opt, sock, sizeof(sock), &e) < 0)
		die_err(&e);
	snprintf(secs, sizeof(secs), "%d", run.timeout_s);
	const char *ping[] = { "banger", "agent", "ping", opt, sock, "--timeout", secs, NULL };
	if ((rc = self(ping, true)) != 0) {
		log_error("the guest agent of '%s' did not answer within %d s (exit %d) — see "
			  "'banger vm logs %s'",
			  run.c.name, run.timeout_s, rc, run.c.name);
		free(av);
		return EXIT_GUEST;
	}
	av[n++] = "banger";
	av[n++] = "agent";
	av[n++] = "exec";
	av[n++] = opt;
	av[n++] = sock;
	if (isatty(0) && (!ncmd || isatty(1)))
		av[n++] = "-t";
	av[n++] = "--";
	if (ncmd) {
		for (int i = 0; i < ncmd; i++)
			av[n++] = cmd[i];
	} else {
		av[n++] = "/bin/sh";
		av[n++] = "-c";
		av[n++] = shell;
	}
	av[n] = NULL;
	rc = self(av, false);
	free(av);
	return rc;
}

int vm_run_main(int argc, char **argv)
{
	char reason[128], notice[256];
	struct err e;
	enum vm_copy_how how;
	int o, idx, rc, lock;
	char *end;

	err_init(&e);
	vm_config_defaults(&run.c, "");
	run.c.vmm[0] = run.c.net[0] = '\0';
	run.timeout_s = 120;
	while ((o = getopt_long(argc, argv, "+d", opts, &idx)) != -1) {
		if (o == 'd') {
			run.detach = true;
		} else if (o == 'r') {
			run.rm = true;
		} else if (o == 't') {
			long v = strtol(optarg, &end, 10);

			if (*end || end == optarg || v < 1 || v > 3600)
				die_usage("--timeout '%s': give seconds from 1 to 3600", optarg);
			run.timeout_s = (int)v;
		} else if (o == 0) {
			if (vm_config_option(&run.c, opts[idx].name, optarg, &e) < 0)
				die_usage("%s", e.msg);
		} else {
			die_usage("unknown option");
		}
	}
	if (run.detach && run.rm)
		die_usage("-d and --rm do not go together");
	if (!run.c.vmm[0] && strcmp(vm_pick_vmm(reason, sizeof(reason)), "firecracker"))
		log_info("%s: using QEMU", reason);
	vm_config_finish(&run.c);
	if (store_init(&run.s, &e) < 0)
		die_err(&e);
	ensure("kernels", run.c.kernel, "vmlinux", "kernel-pull");
	ensure("images", run.c.image, "rootfs.ext4", "image-pull");
	if (vm_create(&run.s, &run.c, &how, &e) < 0 ||
	    vm_paths_init(&run.s, run.c.name, &run.p, &e) < 0 ||
	    (lock = vm_lock(&run.s, run.c.name, &e)) < 0)
		die_err(&e);
	if (vm_start(&run.s, &run.p, &run.c, notice, sizeof(notice), &e) < 0) {
		log_error("%s", e.msg);
		log_info("VM '%s' was created but did not start: 'banger vm rm %s' removes it",
			 run.c.name, run.c.name);
		return e.code;
	}
	if (notice[0])
		log_info("%s", notice);
	lock_release(lock);
	if (run.detach) {
		printf("%s\n", run.c.name);
		return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
	}
	rc = in_guest(argv + optind, argc - optind);
	/* The VM lived for this command: stop it (orderly), or remove it. */
	err_init(&e);
	if ((lock = vm_lock(&run.s, run.c.name, &e)) < 0 ||
	    (run.rm ? vm_remove(&run.s, &run.p, &run.c, &e)
		    : vm_stop(&run.p, &run.c, VM_STOP_TIMEOUT_MS, false, &e)) < 0)
		log_error("%s", e.msg);
	lock_release(lock);
	return rc;
}
