/* vm-run — create and boot a microVM, then run a command or an interactive shell.
 *
 * Its usage, the text --help prints, is vm_run_usage[] below.
 */
#include "applet.h"
#include "agent/agent.h"
#include "err.h"
#include "exitcode.h"
#include "kernel/initramfs.h"
#include "kernel/kernel.h"
#include "lock.h"
#include "log.h"
#include "oci/pull.h"
#include "path.h"
#include "store.h"
#include "units.h"
#include "vm/vm.h"
#include "xfuncs.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char vm_run_usage[] =
	"usage: vm-run [-d] [--rm] [--name N] [--image NAME|REF] [--kernel NAME] [--cpus N]\n"
	"              [--memory MiB] [--disk-size SIZE] [--net tap|user|none] [--nat]\n"
	"              [--ssh-key FILE] [--vmm firecracker|qemu] [--jail] [--timeout SECS]\n"
	"              [-p [HOSTIP:]HOSTPORT:GUESTPORT[/tcp]]... [-- CMD...]\n"
	"\n"
	"Pulls the kernel (default debian-cloud, with banger's initramfs when it\n"
	"needs one) and the image when they are not installed. --image is an\n"
	"installed name, a catalog name or a registry reference, found exactly as\n"
	"'image pull' finds it: a reference is the image pulled from that registry,\n"
	"repository and tag or digest, and nothing else (default: debian-bookworm,\n"
	"else docker.io/library/debian:bookworm). Then it creates the VM (see\n"
	"vm-create for the options), boots it,\n"
	"waits for the guest agent, then runs CMD through it with stdio and exit\n"
	"code passed through, or a shell when CMD is absent; then stops the VM\n"
	"('vm start NAME' boots it again). Firecracker is used when it and\n"
	"/dev/kvm are usable, else QEMU (said once).\n"
	"\n"
	"  -d              leave the VM running in the background; print its name\n"
	"  --rm            remove the VM when CMD or the shell ends\n"
	"  --timeout SECS  how long to wait for the guest agent (default 120)\n"
	"  -p, --publish [HOSTIP:]HOSTPORT:GUESTPORT[/tcp]\n"
	"                  forward HOSTIP:HOSTPORT (default 127.0.0.1) to GUESTPORT on\n"
	"                  the guest's loopback, through the agent: any network mode,\n"
	"                  no root; for as long as the VM runs ('vm port NAME')\n"
	"\n"
	"examples:\n"
	"  banger vm run -- cat /etc/os-release\n"
	"  banger vm run -d --name web --nat\n"
	"  banger vm run --rm --image alpine:3 -- sh -c \"uname -a\"\n";

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
	{ "publish", required_argument, NULL, 'p' },
	{ NULL, 0, NULL, 0 },
};

static struct {
	struct store s;
	struct vm_config c;
	struct vm_paths p;
	bool detach, rm;
	int timeout_s;
	char image_arg[1024]; /* --image as given: a name or a reference */
} run;

/* The kernel, its initramfs and the image, each pulled (or built) in
 * process only when missing, with the lib's whole message on failure. What
 * was fetched is said on stderr: stdout is the guest command's. */
static void ensure_pulled(const char *image, const char *fallback_ref)
{
	struct kernel_pull_opts ko = { .if_missing = true };
	struct image_pull_opts io = { .if_missing = true, .fallback_ref = fallback_ref };
	struct initramfs_built ib;
	struct image_pulled ip;
	enum bundle_outcome kout;
	struct err e;
	bool built;

	err_init(&e);
	io.progress = log_level() >= LOG_INFO;
	if (kernel_pull(&run.s, run.c.kernel, &ko, &kout, &e) < 0)
		die_err(&e);
	if (kout != BUNDLE_ALREADY)
		log_info("kernel %s: pulled", run.c.kernel);
	if (initramfs_ensure(&run.s, run.c.kernel, &built, &ib, &e) < 0)
		die_err(&e);
	if (built)
		log_info("kernel %s needs an initramfs: built (%d modules, %s)", run.c.kernel,
			 ib.nmodules, ib.compress);
	if (image_pull(&run.s, image, &io, &ip, &e) < 0)
		die_err(&e);
	if (ip.outcome != IMAGE_PRESENT)
		log_info("image %s: pulled %s (%s)", ip.name, ip.source, ip.digest);
	snprintf(run.c.image, sizeof(run.c.image), "%s", ip.name);
}

/* The guest side, in this process: wait until the agent answers, then run
 * the command, or a login shell (bash if the guest has it) on a terminal
 * when we have one. Signals go to the guest meanwhile (lib/agent blocks
 * them), so we live on to stop or remove the VM. */
static int in_guest(char **cmd, int ncmd)
{
	static const char *const shell[] = {
		"/bin/sh", "-c", "command -v bash >/dev/null && exec bash -l; exec sh -l", NULL
	};
	struct agent_exec_opts x = { .in_fd = 0, .out_fd = 1, .err_fd = 2 };
	struct agent_addr addr;
	struct err e;
	int status;

	err_init(&e);
	if (vm_agent_address(&run.p, &run.c, &addr, &e) < 0)
		die_err(&e);
	if (agent_ping(&addr, run.timeout_s * 1000, NULL, &e) < 0) {
		log_error("the guest agent of '%s' did not answer within %d s (%s) — see "
			  "'banger vm logs %s'",
			  run.c.name, run.timeout_s, e.msg, run.c.name);
		return e.code > EXIT_SIGNAL ? e.code : EXIT_GUEST;
	}
	x.tty = isatty(0) && (!ncmd || isatty(1));
	x.term = getenv("TERM");
	x.argv = ncmd ? (const char *const *)cmd : shell;
	if (agent_exec(&addr, VM_AGENT_TIMEOUT_MS, &x, &status, &e) < 0) {
		log_error("%s", e.msg);
		return e.code;
	}
	return status;
}

int vm_run_main(int argc, char **argv)
{
	char reason[128], notice[256];
	struct err e;
	enum vm_copy_how how;
	int o, idx, rc, lock;

	err_init(&e);
	vm_config_defaults(&run.c, "");
	run.c.vmm[0] = run.c.net[0] = '\0';
	run.timeout_s = 120;
	while ((o = xgetopt_long(argc, argv, "+dp:", opts, &idx)) != -1) {
		if (o == 'd') {
			run.detach = true;
		} else if (o == 'p') {
			if (vm_config_option(&run.c, "publish", optarg, &e) < 0)
				die_usage("%s", e.msg);
		} else if (o == 'r') {
			run.rm = true;
		} else if (o == 't') {
			uint64_t v;

			if (parse_u64(optarg, 10, 3600, &v) < 0 || !v)
				die_usage("--timeout '%s': give seconds from 1 to 3600", optarg);
			run.timeout_s = (int)v;
		} else if (o == 0 && !strcmp(opts[idx].name, "image")) {
			/* A name or a reference: image_pull resolves it. */
			if (strlen(optarg) >= sizeof(run.image_arg))
				die_usage("--image: reference too long");
			snprintf(run.image_arg, sizeof(run.image_arg), "%s", optarg);
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
	/* The default image is the installed or catalog debian-bookworm, else
	 * Docker Hub's debian:bookworm. */
	ensure_pulled(run.image_arg[0] ? run.image_arg : VM_DEFAULT_IMAGE,
		      run.image_arg[0] ? NULL : VM_DEFAULT_IMAGE_REF);
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
