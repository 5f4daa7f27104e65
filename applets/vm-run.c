/* vm-run — create and boot a microVM, then run a command or an interactive shell.
 *
 * Its usage, the text --help prints, is vm_run_usage[] below.
 */
#include "applet.h"
#include "agent/agent.h"
#include "catalog/catalog.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "lock.h"
#include "log.h"
#include "path.h"
#include "store.h"
#include "units.h"
#include "vm/vm.h"
#include "xfuncs.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char vm_run_usage[] =
	"usage: vm-run [-d] [--rm] [--name N] [--image NAME|REF] [--kernel NAME] [--cpus N]\n"
	"              [--memory MiB] [--disk-size SIZE] [--net tap|user|none] [--nat]\n"
	"              [--ssh-key FILE] [--vmm firecracker|qemu] [--jail] [--timeout SECS]\n"
	"              [-- CMD...]\n"
	"\n"
	"Pulls the kernel (default debian-cloud, with banger's initramfs when it\n"
	"needs one) and the image (default debian-bookworm; a registry reference\n"
	"such as debian:bookworm is pulled as debian-bookworm) when they are not\n"
	"installed, creates the VM (see vm-create for the options), boots it,\n"
	"waits for the guest agent, then runs CMD through it with stdio and exit\n"
	"code passed through, or a shell when CMD is absent; then stops the VM\n"
	"('vm start NAME' boots it again). Firecracker is used when it and\n"
	"/dev/kvm are usable, else QEMU (said once).\n"
	"\n"
	"  -d              leave the VM running in the background; print its name\n"
	"  --rm            remove the VM when CMD or the shell ends\n"
	"  --timeout SECS  how long to wait for the guest agent (default 120)\n"
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
	{ NULL, 0, NULL, 0 },
};

static struct {
	struct store s;
	struct vm_config c;
	struct vm_paths p;
	bool detach, rm;
	int timeout_s;
	char image_ref[1024]; /* --image as a registry reference, "" for a name */
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

/* Pulls kind/name when its file is missing: `banger APPLET [--name NAME] REF`
 * (ref NULL: the name is the reference). */
static void ensure(const char *kinds, const char *name, const char *ref, const char *file,
		   const char *applet)
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
	log_info("%s is not installed: running 'banger %s %s'", name, applet, ref ? ref : name);
	const char *by_name[] = { "banger", applet, name, NULL };
	const char *by_ref[] = { "banger", applet, "--name", name, ref, NULL };
	if ((rc = self(ref ? by_ref : by_name, false)) != 0)
		die(rc, "%s '%s' is missing and '%s %s' failed (exit %d)", kinds, name, applet,
		    ref ? ref : name, rc);
}

/* A kernel whose manifest says it needs an initramfs (a stock distribution
 * kernel, virtio as modules) gets banger's, built once beside it. */
static void ensure_initramfs(const char *kernel)
{
	char dir[LIMIT_PATH], manifest[LIMIT_PATH], initrd[LIMIT_PATH], *text = NULL;
	struct err e;
	size_t len;
	int rc;

	err_init(&e);
	if (store_object_dir(&run.s, "kernels", kernel, dir, sizeof(dir), &e) < 0 ||
	    path_join(manifest, sizeof(manifest), dir, "manifest.json", &e) < 0 ||
	    path_join(initrd, sizeof(initrd), dir, "initrd.img", &e) < 0)
		die_err(&e);
	if (access(initrd, R_OK) == 0 ||
	    file_read_all(manifest, LIMIT_JSON_DOC, &text, &len, &e) < 0)
		return;
	cJSON *m = cJSON_ParseWithLength(text, len);
	bool needs = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "needs_initramfs"));

	cJSON_Delete(m);
	free(text);
	if (!needs)
		return;
	log_info("kernel %s needs an initramfs: running 'banger initramfs %s'", kernel, kernel);
	const char *av[] = { "banger", "initramfs", kernel, "-o", initrd, NULL };
	if ((rc = self(av, false)) != 0)
		die(rc,
		    "kernel '%s' needs an initramfs and 'banger initramfs %s -o %s' failed (exit "
		    "%d)",
		    kernel, kernel, initrd, rc);
}

static bool catalog_has(enum catalog_type type, const char *name)
{
	struct catalog cat;
	struct err e;
	bool has;

	err_init(&e);
	catalog_init(&cat);
	has = catalog_load(&cat, type, NULL, &e) == 0 && catalog_find(&cat, name, &e);
	catalog_fini(&cat);
	return has;
}

/* The store name of an image reference, as image-pull names it by default:
 * the last path component with ':' and '@' as '-' (debian:bookworm and
 * localhost:5000/library/debian:bookworm are debian-bookworm). */
static void image_name(const char *ref, char *out, size_t size)
{
	const char *slash = strrchr(ref, '/');
	size_t n = 0;

	for (const char *p = slash ? slash + 1 : ref; *p && n + 1 < size && n < 64; p++)
		out[n++] = (*p == ':' || *p == '@') ? '-' : *p;
	out[n] = '\0';
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
	bool default_image;

	err_init(&e);
	vm_config_defaults(&run.c, "");
	run.c.vmm[0] = run.c.net[0] = '\0';
	run.timeout_s = 120;
	while ((o = xgetopt_long(argc, argv, "+d", opts, &idx)) != -1) {
		if (o == 'd') {
			run.detach = true;
		} else if (o == 'r') {
			run.rm = true;
		} else if (o == 't') {
			uint64_t v;

			if (parse_u64(optarg, 10, 3600, &v) < 0 || !v)
				die_usage("--timeout '%s': give seconds from 1 to 3600", optarg);
			run.timeout_s = (int)v;
		} else if (o == 0 && !strcmp(opts[idx].name, "image") &&
			   !path_is_simple_name(optarg)) {
			/* A reference: pulled under the name image-pull gives it. */
			if (strlen(optarg) >= sizeof(run.image_ref))
				die_usage("--image: reference too long");
			snprintf(run.image_ref, sizeof(run.image_ref), "%s", optarg);
			image_name(optarg, run.c.image, sizeof(run.c.image));
			if (!path_is_simple_name(run.c.image))
				die_usage(
					"--image '%s': give --name-able reference or an image name",
					optarg);
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
	default_image = !run.c.image[0];
	vm_config_finish(&run.c);
	if (store_init(&run.s, &e) < 0)
		die_err(&e);
	/* The default image comes from the image catalog when it has one of that
	 * name, else from Docker Hub's debian:bookworm. */
	if (default_image && !catalog_has(CATALOG_IMAGES, VM_DEFAULT_IMAGE))
		snprintf(run.image_ref, sizeof(run.image_ref), "%s", VM_DEFAULT_IMAGE_REF);
	ensure("kernels", run.c.kernel, NULL, "vmlinux", "kernel-pull");
	ensure_initramfs(run.c.kernel);
	ensure("images", run.c.image, run.image_ref[0] ? run.image_ref : NULL, "rootfs.ext4",
	       "image-pull");
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
