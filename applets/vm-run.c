/* vm-run — create and boot a microVM, then run a command or an interactive shell.
 *
 * Its usage, the text --help prints, is vm_run_usage[] below.
 */
#include "applet.h"
#include "clock.h"
#include "agent/agent.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "kernel/initramfs.h"
#include "kernel/kernel.h"
#include "lock.h"
#include "log.h"
#include "oci/image.h"
#include "oci/image_debian.h"
#include "oci/pull.h"
#include "path.h"
#include "store.h"
#include "strlist.h"
#include "units.h"
#include "vm/build.h"
#include "vm/snapshot.h"
#include "vm/vm.h"
#include "xfuncs.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

const char vm_run_usage[] =
	"usage: vm-run [-d] [--rm] [--name N] [--image NAME|REF] [--kernel NAME] [--cpus N]\n"
	"              [--memory SIZE] [--disk overlay|copy] [--disk-size SIZE]\n"
	"              [--net tap|user|none] [--nat]\n"
	"              [--ssh-key FILE] [--vmm firecracker|qemu] [--jail]\n"
	"              [--init auto|systemd|minimal] [--mount type=tmpfs,destination=DIR]...\n"
	"              [-e K=V]... [--env-file FILE]...\n"
	"              [-w DIR] [-u USER] [--entrypoint CMD] [--timeout SECS] [--no-wait]\n"
	"              [-p [HOSTIP:]HOSTPORT:GUESTPORT[/tcp]]... [--no-snapshot] [-- CMD...]\n"
	"\n"
	"Pulls the kernel (default debian-cloud, with banger's initramfs when it\n"
	"needs one) and the image when they are not installed. --image is an\n"
	"installed name, a catalog name or a registry reference, found exactly as\n"
	"'image pull' finds it (default: debian-bookworm, else\n"
	"docker.io/library/debian:bookworm). Then it creates the VM (see vm-create\n"
	"for the options), boots it,\n"
	"waits for the guest agent, then runs the command through it with stdio\n"
	"and exit code passed through; then stops the VM ('vm start NAME' boots\n"
	"it again). The command is the image's, as docker runs it: its Entrypoint\n"
	"followed by CMD, or by its Cmd when CMD is absent; a login shell when the\n"
	"image has neither. The image's Env, WorkingDir and User apply, and stay\n"
	"the defaults of 'vm exec'. Firecracker is used when it and /dev/kvm are\n"
	"usable, else QEMU (said once per store; 'banger doctor' says why).\n"
	"\n"
	"Boot cache (QEMU): the first run of a kind of VM (same banger, image,\n"
	"kernel, initramfs, size, disk layout, network kind, SSH key, init, VMM)\n"
	"snapshots it once its agent answers, before the command runs, as\n"
	"snapshot cache-HASH (not a guest running systemd: its PID 1 keeps the\n"
	"machine-id it booted with); later runs of that kind start from it instead of\n"
	"booting, with their own hostname, address, machine-id, RNG seed and\n"
	"clock re-applied. An entry that is refused (damaged, another banger...)\n"
	"is said in one line, replaced, and the VM boots cold. 'banger snapshot\n"
	"prune' drops the entries.\n"
	"\n"
	"  -d                leave the VM running in the background: print its name\n"
	"                    once its agent answers\n"
	"  --rm              remove the VM when the command ends\n"
	"  --init MODE       auto (default: the image's systemd, else banger's minimal\n"
	"                    init with the agent and sshd), systemd (installed with\n"
	"                    the package manager if missing), minimal\n"
	"  --mount type=tmpfs,destination=DIR[,tmpfs-size=SIZE][,tmpfs-mode=OCTAL]\n"
	"                    a tmpfs at DIR in the guest (mode 1777 by default)\n"
	"  -e, --env K=V     set K in the command's environment (K alone: this one's)\n"
	"  --env-file FILE   K=V lines (# comments and blank lines skipped)\n"
	"  -w, --workdir DIR the command's working directory\n"
	"  -u, --user USER   run as USER (NAME, UID or UID:GID)\n"
	"  --entrypoint CMD  replaces the image's Entrypoint (and drops its Cmd)\n"
	"  --timeout SECS    how long to wait for the guest agent (default 120)\n"
	"  --no-wait         with -d: return once the VMM started, without waiting\n"
	"  -p, --publish [HOSTIP:]HOSTPORT:GUESTPORT[/tcp]\n"
	"                    forward HOSTIP:HOSTPORT (default 127.0.0.1) to GUESTPORT on\n"
	"                    the guest's loopback, through the agent: any network mode,\n"
	"                    no root; for as long as the VM runs ('vm port NAME')\n"
	"  --no-snapshot     boot cold: neither start from the boot cache nor fill it\n"
	"\n"
	"examples:\n"
	"  banger vm run -- cat /etc/os-release\n"
	"  banger vm run -d --name web --nat\n"
	"  banger vm run --rm --image alpine:3 -- sh -c \"uname -a\"\n";

static const struct option opts[] = {
	VM_CONFIG_LONG_OPTIONS,
	{ "rm", no_argument, NULL, 'r' },
	{ "timeout", required_argument, NULL, 't' },
	{ "no-wait", no_argument, NULL, 'W' },
	{ "env", required_argument, NULL, 'e' },
	{ "env-file", required_argument, NULL, 'E' },
	{ "workdir", required_argument, NULL, 'w' },
	{ "user", required_argument, NULL, 'u' },
	{ "entrypoint", required_argument, NULL, 'P' },
	{ "publish", required_argument, NULL, 'p' },
	{ "no-snapshot", no_argument, NULL, 'S' },
	{ NULL, 0, NULL, 0 },
};

static struct {
	struct store s;
	struct vm_config c;
	struct vm_paths p;
	bool detach, rm, no_wait, no_snapshot;
	char cache[VM_NAME_MAX + 1]; /* the boot cache's entry for this VM, "" none */
	bool served;		     /* started from it */
	int timeout_s;
	char image_arg[1024]; /* --image as given: a name or a reference */
	/* The command's settings from the command line, laid over the image's
	 * config once it is known (apply_image_config). */
	struct strlist env;	    /* -e and --env-file, in order */
	const char *workdir, *user; /* -w, -u; NULL: the image's */
	const char *entrypoint;	    /* --entrypoint; NULL: the image's */
	struct strlist argv;	    /* what runs: Entrypoint + Cmd or CMD */
} run;

/* The kernel, its initramfs and the image, each pulled (or built) in
 * process only when missing, with the lib's whole message on failure. What
 * was fetched is said on stderr: stdout is the guest command's. */
static void ensure_pulled(const char *image, const char *fallback_ref)
{
	struct kernel_pull_opts ko = { .if_missing = true };
	struct image_guest guest = { .run = vm_build_in_guest, .ud = &run.s };
	struct image_pull_opts io = { .if_missing = true,
				      .fallback_ref = fallback_ref,
				      .guest = &guest,
				      .kernel = run.c.kernel };
	char initrd[LIMIT_PATH];
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
	if (initramfs_ensure(&run.s, run.c.kernel, initrd, &built, &ib, &e) < 0)
		die_err(&e);
	if (built)
		log_info("kernel %s: built banger's initramfs (%d modules, %s)", run.c.kernel,
			 ib.nmodules, ib.compress);
	if (image_pull(&run.s, image, &io, &ip, &e) < 0)
		die_err(&e);
	if (ip.outcome != IMAGE_PRESENT)
		log_info("image %s: pulled %s (%s)", ip.name, ip.source, ip.digest);
	snprintf(run.c.image, sizeof(run.c.image), "%s", ip.name);
}

/* ---- the boot cache ----------------------------------------------------- */

/* Starts the VM from its cache entry when there is a usable one (true);
 * false: boot it cold (a refused entry is said, and removed so this boot
 * fills it again). Dies only when the VM is left unusable. */
static bool cache_start(char *notice, size_t notice_size)
{
	int64_t t0 = now_ms();
	char why[ERR_MSG_MAX];
	struct err e;
	int k;

	err_init(&e);
	if (run.no_snapshot)
		return false;
	if ((k = snap_cache_name(&run.s, &run.p, &run.c, run.cache, sizeof(run.cache), &e)) != 0) {
		if (k < 0)
			log_info("boot cache: %s — booting cold", e.msg);
		run.cache[0] = '\0';
		return false;
	}
	k = snap_cache_start(&run.s, &run.p, &run.c, run.cache, run.timeout_s * 1000, notice,
			     notice_size, why, sizeof(why), &e);
	if (k < 0) {
		log_error("%s", e.msg);
		log_info("VM '%s' was created but did not start: 'banger vm rm %s' removes it",
			 run.c.name, run.c.name);
		exit(e.code);
	}
	if (why[0]) {
		/* The refusal's own fix ("take it again") is what this run does. */
		char *fix = NULL;

		for (char *q = strstr(why, " — "); q; q = strstr(q + 1, " — "))
			fix = q;
		if (fix)
			*fix = '\0';
		log_info("boot cache: %s — booting cold, and saving it anew", why);
		err_init(&e);
		snap_remove(&run.s, run.cache, &e);
	} else if (k) {
		log_debug("boot cache: started from snapshot %s, identity re-applied, in %lld ms",
			  run.cache, (long long)(now_ms() - t0));
	}
	return k == 1;
}

/* After a cold boot whose agent answers: saves the VM as its cache entry
 * (before the command runs, so the entry is the freshly booted guest). A
 * failure is said and the run goes on; another run saving it is fine. */
/* Whether the guest's PID 1 is systemd (asked of the guest: the image's
 * init may be anything, and --init auto decides in the guest). */
static bool guest_runs_systemd(void)
{
	static const char *const argv[] = { "readlink", "/proc/1/exe", NULL };
	struct agent_exec_opts x = { .argv = argv, .in_fd = -1, .err_fd = -1 };
	struct agent_addr addr;
	char out[256] = "";
	struct err e;
	int status = -1;
	ssize_t n;

	err_init(&e);
	x.out_fd = memfd_create("pid1", MFD_CLOEXEC);
	if (x.out_fd < 0 || vm_agent_address(&run.p, &run.c, &addr, &e) < 0 ||
	    agent_exec(&addr, VM_AGENT_TIMEOUT_MS, &x, &status, &e) < 0 || status != 0 ||
	    (n = pread(x.out_fd, out, sizeof(out) - 1, 0)) <= 0) {
		if (x.out_fd >= 0)
			close(x.out_fd);
		return false;
	}
	close(x.out_fd);
	out[n] = '\0';
	return strstr(out, "systemd") != NULL;
}

static void cache_fill(void)
{
	static struct snap_manifest m;
	int64_t t0 = now_ms();
	struct err e;
	int lock;

	if (!run.cache[0] || run.served)
		return;
	err_init(&e);
	/* systemd keeps the machine-id it read at boot in PID 1 (journald,
	 * dbus): a clone would share it whatever the file says. Cold boots. */
	if (guest_runs_systemd()) {
		log_debug("boot cache: not for a systemd guest (its machine-id lives in PID 1)");
		return;
	}
	err_init(&e);
	if ((lock = vm_lock(&run.s, run.c.name, &e)) < 0 ||
	    snap_create(&run.s, &run.p, &run.c, run.cache, &m, &e) < 0) {
		if (e.code != EXIT_BUSY)
			log_info("boot cache: not saved: %s", e.msg);
	} else {
		log_debug("boot cache: saved as snapshot %s in %lld ms (the guest stood still %lld "
			  "ms)",
			  run.cache, (long long)(now_ms() - t0), m.downtime_ms);
	}
	if (lock >= 0)
		lock_release(lock);
}

/* ---- the command and its settings (docker's rules) ---------------------- */

/* -e K=V, or -e K: this process's K (skipped when unset, as docker does). */
static void add_env(const char *kv, const char *from)
{
	size_t k = strcspn(kv, "=");
	struct err e;

	err_init(&e);
	if (!k || strcspn(kv, " \t\n") < k)
		die_usage("%s '%s': want NAME=VALUE (or NAME), no spaces in NAME", from, kv);
	if (!kv[k]) {
		const char *v = getenv(kv);
		char *both;

		if (!v)
			return;
		both = xcalloc(1, k + strlen(v) + 2);
		snprintf(both, k + strlen(v) + 2, "%s=%s", kv, v);
		if (strlist_setenv(&run.env, both, "-e", &e) < 0)
			die_usage("%s", e.msg);
		free(both);
		return;
	}
	if (strlist_setenv(&run.env, kv, "-e", &e) < 0)
		die_usage("%s", e.msg);
}

/* --env-file: K=V lines; blank lines and # comments skipped. */
static void add_env_file(const char *file)
{
	char *text, *line, *next;
	struct err e;
	size_t len;

	err_init(&e);
	if (file_read_all(file, LIMIT_STRLIST, &text, &len, &e) < 0) {
		err_prefix(&e, "--env-file");
		die_err(&e);
	}
	for (line = text; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (*line && line[strlen(line) - 1] == '\r')
			line[strlen(line) - 1] = '\0';
		if (*line && *line != '#')
			add_env(line, file);
	}
	free(text);
}

/* Lays the command line over the image's config (manifest.json "config")
 * into the VM's settings and run.argv, as docker does: --entrypoint
 * replaces Entrypoint and drops Cmd; CMD replaces Cmd; -e over Env; -w, -u
 * over WorkingDir, User. An image without a manifest (imported) has none. */
static void apply_image_config(char **cmd, int ncmd)
{
	static struct image_meta m;
	char dir[LIMIT_PATH];
	struct err e;

	err_init(&e);
	if (store_object_dir(&run.s, "images", run.c.image, dir, sizeof(dir), &e) < 0)
		die_err(&e);
	if (image_meta_read(dir, &m, &e) < 0) {
		if (e.code != EXIT_NOTFOUND)
			die_err(&e);
		memset(&m, 0, sizeof(m));
	}
	run.c.env = m.config.env;
	for (const char *p = strlist_next(&run.env, NULL); p; p = strlist_next(&run.env, p))
		if (strlist_setenv(&run.c.env, p, "the environment", &e) < 0)
			die_err(&e);
	snprintf(run.c.workdir, sizeof(run.c.workdir), "%s",
		 run.workdir ? run.workdir : m.config.workdir);
	snprintf(run.c.user, sizeof(run.c.user), "%s", run.user ? run.user : m.config.user);
	if (run.entrypoint) {
		if (*run.entrypoint &&
		    strlist_add(&run.argv, run.entrypoint, "--entrypoint", &e) < 0)
			die_usage("%s", e.msg);
	} else {
		run.argv = m.config.entrypoint;
	}
	if (ncmd) {
		for (int i = 0; i < ncmd; i++)
			if (strlist_add(&run.argv, cmd[i], "the command", &e) < 0)
				die_usage("%s", e.msg);
	} else if (!run.entrypoint) {
		for (const char *p = strlist_next(&m.config.cmd, NULL); p;
		     p = strlist_next(&m.config.cmd, p))
			if (strlist_add(&run.argv, p, "the image's Cmd", &e) < 0)
				die_err(&e);
	}
}

/* The guest side, in this process: wait until the agent answers, then run
 * the command (run.argv, with the VM's env, workdir and user), or a login
 * shell (bash if the guest has it) on a terminal when we have one. Signals
 * go to the guest meanwhile (lib/agent blocks them), so we live on to stop
 * or remove the VM. */
static int in_guest(bool cli_cmd)
{
	static const char *const shell[] = {
		"/bin/sh", "-c", "command -v bash >/dev/null && exec bash -l; exec sh -l", NULL
	};
	struct agent_exec_opts x = { .in_fd = 0, .out_fd = 1, .err_fd = 2 };
	const char **argv = xcalloc((size_t)run.argv.n + 1, sizeof(*argv));
	const char **env = xcalloc((size_t)run.c.env.n + 1, sizeof(*env));
	struct agent_addr addr;
	struct err e;
	int status;

	err_init(&e);
	if (vm_agent_address(&run.p, &run.c, &addr, &e) < 0)
		die_err(&e);
	if (vm_wait_agent(&run.p, &run.c, run.timeout_s * 1000, &e) < 0) {
		log_error("%s", e.msg);
		return e.code;
	}
	cache_fill();
	strlist_ptrs(&run.argv, argv);
	strlist_ptrs(&run.c.env, env);
	x.tty = isatty(0) && (!cli_cmd || isatty(1));
	x.term = getenv("TERM");
	x.argv = run.argv.n ? argv : shell;
	x.env = run.c.env.n ? env : NULL;
	x.cwd = run.c.workdir[0] ? run.c.workdir : NULL;
	x.user = run.c.user[0] ? run.c.user : NULL;
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
	while ((o = xgetopt_long(argc, argv, "+dp:e:w:u:", opts, &idx)) != -1) {
		if (o == 'd') {
			run.detach = true;
		} else if (o == 'p') {
			if (vm_config_option(&run.c, "publish", optarg, &e) < 0)
				die_usage("%s", e.msg);
		} else if (o == 'r') {
			run.rm = true;
		} else if (o == 'W') {
			run.no_wait = true;
		} else if (o == 'S') {
			run.no_snapshot = true;
		} else if (o == 'e') {
			add_env(optarg, "-e");
		} else if (o == 'E') {
			add_env_file(optarg);
		} else if (o == 'w' || o == 'u') {
			if (!*optarg || strlen(optarg) >= (o == 'w' ? LIMIT_PATH : LIMIT_RUN_USER))
				die_usage("-%c '%s': give a %s", o, optarg,
					  o == 'w' ? "directory" : "user name or UID[:GID]");
			*(o == 'w' ? &run.workdir : &run.user) = optarg;
		} else if (o == 'P') {
			run.entrypoint = optarg;
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
	if (run.no_wait && !run.detach)
		die_usage("--no-wait is for -d: without it vm run waits to run the command");
	if (store_init(&run.s, &e) < 0)
		die_err(&e);
	if (vm_config_finish(&run.c, reason, sizeof(reason), &e) < 0) {
		if (e.code == EXIT_USAGE)
			die_usage("%s", e.msg);
		die_err(&e);
	}
	/* Said once per store: it is a fact about the host, not this VM. */
	if (reason[0] && store_first_time(&run.s, "vmm-qemu-fallback"))
		log_info("%s: using QEMU (said once; 'banger doctor' checks this host)", reason);
	/* The default image is the installed or catalog debian-bookworm, else
	 * Docker Hub's debian:bookworm. */
	ensure_pulled(run.image_arg[0] ? run.image_arg : VM_DEFAULT_IMAGE,
		      run.image_arg[0] ? NULL : VM_DEFAULT_IMAGE_REF);
	apply_image_config(argv + optind, argc - optind);
	if (vm_create(&run.s, &run.c, &how, &e) < 0 ||
	    vm_paths_init(&run.s, run.c.name, &run.p, &e) < 0 ||
	    (lock = vm_lock(&run.s, run.c.name, &e)) < 0)
		die_err(&e);
	notice[0] = '\0';
	run.served = cache_start(notice, sizeof(notice));
	if (!run.served && vm_start(&run.s, &run.p, &run.c, notice, sizeof(notice), &e) < 0) {
		log_error("%s", e.msg);
		log_info("VM '%s' was created but did not start: 'banger vm rm %s' removes it",
			 run.c.name, run.c.name);
		return e.code;
	}
	if (notice[0])
		log_info("%s", notice);
	lock_release(lock);
	if (run.detach) {
		/* Ready means the agent answers: a vm exec right after works. */
		if (!run.no_wait && vm_wait_agent(&run.p, &run.c, run.timeout_s * 1000, &e) < 0)
			die_err(&e);
		if (!run.no_wait)
			cache_fill();
		printf("%s\n", run.c.name);
		return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
	}
	rc = in_guest(argc > optind);
	/* The VM lived for this command: stop it (orderly), or remove it. */
	err_init(&e);
	if ((lock = vm_lock(&run.s, run.c.name, &e)) < 0 ||
	    (run.rm ? vm_remove(&run.s, &run.p, &run.c, &e)
		    : vm_stop(&run.p, &run.c, VM_STOP_TIMEOUT_MS, false, &e)) < 0)
		log_error("%s", e.msg);
	lock_release(lock);
	return rc;
}
