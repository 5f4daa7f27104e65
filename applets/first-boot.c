/* first-boot — the guest init: PID 1 of every banger VM, or a systemd oneshot.
 *
 * Its usage, the text --help prints, is first_boot_usage[] below; the formats
 * and protocols are in docs/first-boot.md.
 */
#include "applet.h"
#include "guest/cmdline.h"
#include "clock.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "log.h"
#include "path.h"
#include "guest/sysconf.h"
#include "guest/sysinit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char first_boot_usage[] =
	"usage: first-boot [--root DIR] [--cmdline FILE]\n"
	"\n"
	"As PID 1: mounts /proc /sys /dev /run, applies the banger.* kernel\n"
	"parameters (hostname, SSH key, DNS, masks), grows the root filesystem,\n"
	"then execs the image's systemd, or stays a minimal init that runs the\n"
	"agent (and sshd), reaps orphans and shuts down on SIGTERM, SIGINT\n"
	"(Ctrl-Alt-Del), SIGPWR, SIGUSR1 or SIGUSR2. Not PID 1: applies the\n"
	"settings once and exits (banger-first-boot.service). Progress goes to the\n"
	"console as \"banger: first-boot: ...\"; state to /run/banger/first-boot.state.\n"
	"\n"
	"  --root DIR      apply the file settings under DIR, skip live changes\n"
	"                  (mounts, hostname, resize, unmount) and systemd\n"
	"  --cmdline FILE  read the parameters from FILE, not /proc/cmdline\n"
	"\n"
	"banger.init=systemd installs systemd with the distribution's package\n"
	"manager when the image has none (and the network is up); nothing is\n"
	"installed otherwise.\n"
	"\n"
	"Environment: BANGER_AGENT=PATH runs PATH as the agent, BANGER_SYSTEMD=PATH\n"
	"is the systemd to hand over to. See docs/first-boot.md.\n"
	"\n"
	"examples:\n"
	"  banger first-boot --root /mnt --cmdline /tmp/cmdline   (settings into a mounted image)\n"
	"  init=/usr/local/libexec/banger-first-boot   (on a guest kernel command line)\n";

#define STATE_REL "run/banger/first-boot.state"
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 30000
#define STABLE_MS 10000 /* a service up this long is healthy again */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const char *const default_masks[] = { "dev-ttyS0.device", "dev-vdb.device" };

/* A supervised child: the agent, sshd. */
struct service {
	const char *name;
	char path[LIMIT_PATH];
	const char *argv[6];
	pid_t pid;
	unsigned backoff_ms;
	uint64_t started_ms;
	uint64_t restart_at_ms; /* 0: not waiting to restart */
	bool enabled;
};

enum { SVC_AGENT, SVC_SSHD, NSVC };

static struct {
	const char *root; /* "/" unless --root */
	bool live;	  /* root is the running system: mounts, resize, hostname */
	bool pid1;
	struct cmdline cl;
	struct guest_config cfg;
	char hostname[72];
	uint64_t grown_from, grown_to;
	int errors;
	char last_error[ERR_MSG_MAX + 64];
	int sfd; /* signalfd: every signal PID 1 cares about */
	sigset_t sigs;
	int shutdown_sig; /* 0 until a shutdown was asked for */
	struct service svc[NSVC];
} fb;

/* Logs a failed step and goes on: PID 1 has no right to die. */
static void failed(const struct err *e, const char *step)
{
	fb.errors++;
	snprintf(fb.last_error, sizeof(fb.last_error), "%s: %s", step, e->msg);
	log_error("%s: %s", step, e->msg);
}

static int root_path(char *out, size_t size, const char *rel, struct err *e)
{
	return path_join(out, size, fb.root, rel, e);
}

/* The first line is the phase (docs/agent-protocol.md: the agent's READY
 * reports it verbatim): starting, installing, systemd, init, done, or
 * "failed MESSAGE"; then KEY=VALUE lines (docs/first-boot.md). */
static void write_state(const char *phase)
{
	char path[LIMIT_PATH], text[2048];
	struct err e = { 0 };
	int n;

	err_init(&e);
	n = snprintf(text, sizeof(text),
		     "%s%s%s\nversion=1\nrole=%s\nhostname=%s\nboot_ms=%" PRIu64
		     "\nresized=%" PRIu64 " %" PRIu64 "\nerrors=%d\nlast_error=%s\n",
		     phase, strcmp(phase, "failed") ? "" : " ",
		     strcmp(phase, "failed") ? "" : fb.last_error, fb.pid1 ? "pid1" : "oneshot",
		     fb.hostname, (uint64_t)boot_ms(), fb.grown_from, fb.grown_to, fb.errors,
		     fb.last_error);
	if (n < 0 || (size_t)n >= sizeof(text))
		n = (int)sizeof(text) - 1;
	if (root_path(path, sizeof(path), "run/banger", &e) < 0 ||
	    path_mkdirs(path, 0755, &e) < 0 || root_path(path, sizeof(path), STATE_REL, &e) < 0 ||
	    file_write_atomic(path, text, (size_t)n, 0644, &e) < 0)
		failed(&e, "state file");
}

static void read_cmdline(const char *file)
{
	char *text = NULL;
	size_t len = 0;
	struct err e = { 0 };

	err_init(&e);
	if (file_read_all(file, LIMIT_CMDLINE + 1, &text, &len, &e) < 0 ||
	    cmdline_parse(&fb.cl, text, len, &e) < 0) {
		failed(&e, "kernel command line");
		fb.cl.nword = 0;
	}
	free(text);
	err_init(&e);
	if (guest_config_parse(&fb.cfg, &fb.cl, &e) < 0)
		failed(&e, "parameters");
}

/* The per-VM settings: the same as PID 1 and as a oneshot, idempotent. */
static void apply_settings(void)
{
	struct guest_config *g = &fb.cfg;
	struct err e = { 0 };
	bool changed;
	int n;

	err_init(&e);
	if (g->hostname) {
		snprintf(fb.hostname, sizeof(fb.hostname), "%s", g->hostname);
		if (fb.live && sethostname(g->hostname, strlen(g->hostname)) < 0) {
			err_errno(&e, 0, "sethostname %s", g->hostname);
			failed(&e, "hostname");
		}
		err_init(&e);
		if (sysconf_hostname(fb.root, g->hostname, &changed, &e) < 0)
			failed(&e, "hostname");
		else
			log_info("hostname %s%s", g->hostname, changed ? "" : " (unchanged)");
	} else {
		gethostname(fb.hostname, sizeof(fb.hostname) - 1);
	}
	err_init(&e);
	if (g->ssh_keys_len) {
		if ((n = sysconf_ssh_keys(fb.root, g->ssh_keys, &e)) < 0)
			failed(&e, "ssh key");
		else
			log_info("ssh key: %d line%s added to /root/.ssh/authorized_keys", n,
				 n == 1 ? "" : "s");
	}
	err_init(&e);
	if (g->ndns) {
		if (sysconf_dns(fb.root, g->dns, g->ndns, &changed, &e) < 0)
			failed(&e, "dns");
		else
			log_info("dns %s%s%s", g->dns[0], g->ndns > 1 ? " ..." : "",
				 changed ? "" : " (unchanged)");
	}
	/* tmpfs mounts before anything runs: the agent's commands and systemd
	 * see them. Made with MS_NOSUID|MS_NODEV, as docker's --tmpfs. */
	for (int i = 0; fb.live && fb.pid1 && i < g->ntmpfs; i++) {
		char opts[64];

		err_init(&e);
		if (g->tmpfs_bytes[i])
			snprintf(opts, sizeof(opts), "mode=%o,size=%" PRIu64, g->tmpfs_mode[i],
				 g->tmpfs_bytes[i]);
		else
			snprintf(opts, sizeof(opts), "mode=%o", g->tmpfs_mode[i]);
		if (path_mkdirs(g->tmpfs_dir[i], 0755, &e) < 0) {
			failed(&e, "tmpfs");
		} else if (mount("tmpfs", g->tmpfs_dir[i], "tmpfs", MS_NOSUID | MS_NODEV, opts) <
			   0) {
			err_errno(&e, 0, "mount tmpfs on %s (%s)", g->tmpfs_dir[i], opts);
			failed(&e, "tmpfs");
		} else {
			log_info("tmpfs on %s (%s)", g->tmpfs_dir[i], opts);
		}
	}
	err_init(&e);
	if (fb.live && g->resize) {
		n = sysinit_grow_root("/", &fb.grown_from, &fb.grown_to, &e);
		if (n < 0)
			failed(&e, "grow root");
		else if (n > 0)
			log_info("root filesystem grown from %" PRIu64 " to %" PRIu64 " MiB",
				 fb.grown_from >> 20, fb.grown_to >> 20);
	}
}

static void mask_units(void)
{
	struct err e = { 0 };
	int n;

	err_init(&e);
	n = sysconf_mask_units(fb.root, default_masks, 2, &e);
	if (n >= 0 && fb.cfg.nmask) {
		int m = sysconf_mask_units(fb.root, fb.cfg.mask, fb.cfg.nmask, &e);
		n = m < 0 ? m : n + m;
	}
	if (n < 0)
		failed(&e, "mask units");
	else if (n > 0)
		log_info("masked %d systemd unit%s", n, n == 1 ? "" : "s");
}

static bool executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* Reaps every exited child; notes the services among them. */
static void reap(pid_t *watch, int *watch_status)
{
	int st;
	pid_t pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (watch && pid == *watch) {
			*watch = 0;
			*watch_status = st;
		}
		for (int i = 0; i < NSVC; i++) {
			struct service *s = &fb.svc[i];
			uint64_t up;

			if (s->pid != pid)
				continue;
			s->pid = 0;
			if (!s->enabled)
				continue;
			up = boot_ms() - s->started_ms;
			if (up >= STABLE_MS)
				s->backoff_ms = BACKOFF_MIN_MS;
			if (WIFSIGNALED(st))
				log_warn("%s killed by signal %d; restarting in %u ms", s->name,
					 WTERMSIG(st), s->backoff_ms);
			else
				log_warn("%s exited with %d; restarting in %u ms", s->name,
					 WEXITSTATUS(st), s->backoff_ms);
			s->restart_at_ms = boot_ms() + s->backoff_ms;
			s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
									   : s->backoff_ms * 2;
		}
	}
}

/* fork + exec with PID 1's signal state undone. */
static pid_t spawn(const char *path, const char *const *argv)
{
	sigset_t none;
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();
	execv(path, (char *const *)argv);
	_exit(127);
}

static void service_start(struct service *s)
{
	s->restart_at_ms = 0;
	s->started_ms = boot_ms();
	s->pid = spawn(s->path, s->argv);
	if (s->pid < 0) {
		struct err e = { 0 };

		err_init(&e);
		err_errno(&e, 0, "%s: fork", s->name);
		failed(&e, s->name);
		s->pid = 0;
		s->restart_at_ms = boot_ms() + s->backoff_ms;
	}
}

static bool shutdown_signal(int sig)
{
	return sig == SIGTERM || sig == SIGINT || sig == SIGPWR || sig == SIGUSR1 || sig == SIGUSR2;
}

/* Waits for signals up to timeout_ms (-1: forever) and handles them: reaps
 * children, records a shutdown request. */
static void wait_signals(int timeout_ms, pid_t *watch, int *watch_status)
{
	struct pollfd p = { .fd = fb.sfd, .events = POLLIN };
	struct signalfd_siginfo si;

	if (poll(&p, 1, timeout_ms) <= 0)
		return;
	while (read(fb.sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		int sig = (int)si.ssi_signo;

		if (sig == SIGCHLD)
			reap(watch, watch_status);
		else if (shutdown_signal(sig) && !fb.shutdown_sig)
			fb.shutdown_sig = sig;
		else if (sig == SIGHUP)
			log_info("SIGHUP ignored");
	}
	/* SIGCHLD coalesces; a final sweep never hurts. */
	reap(watch, watch_status);
}

/* Runs argv (through PATH) for at most until_ms, reaping everything else
 * meanwhile. Returns the exit status, or -1 on timeout or shutdown. */
static int run_bounded(const char *const *argv, uint64_t until_ms)
{
	sigset_t none;
	pid_t pid = fork(), watch;
	int st = 0;

	if (pid == 0) {
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setpgid(0, 0);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	watch = pid;
	while (watch) {
		uint64_t now = boot_ms();

		if (now >= until_ms || fb.shutdown_sig) {
			log_warn("%s: %s, stopped", argv[0],
				 fb.shutdown_sig ? "shutdown requested" : "time limit reached");
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			/* Bounded: a child stuck in the kernel is reaped later. */
			for (int i = 0; watch && i < 50; i++)
				wait_signals(100, &watch, &st);
			return -1;
		}
		wait_signals((int)(until_ms - now), &watch, &st);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static const char *find_systemd(void)
{
	static const char *const cands[] = { "/lib/systemd/systemd", "/usr/lib/systemd/systemd" };
	const char *env = getenv("BANGER_SYSTEMD");

	if (env && *env)
		return executable(env) ? env : NULL;
	if (!fb.live || fb.cfg.init == INIT_MINIMAL)
		return NULL;
	for (size_t i = 0; i < 2; i++)
		if (executable(cands[i]))
			return cands[i];
	return NULL;
}

/* A default route on an interface other than lo. */
static bool network_up(void)
{
	char line[256], ifname[32];
	unsigned long dst;
	FILE *f = fopen("/proc/net/route", "re");
	bool up = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%31s %lx", ifname, &dst) == 2 && dst == 0 && strcmp(ifname, "lo"))
			up = true;
	fclose(f);
	return up;
}

struct family {
	const char *ids; /* space-separated os-release IDs */
	const char *update[4];
	const char *install[10];
};

/* Alpine has no systemd: it gets an SSH server and keeps the minimal init. */
static const struct family families[] = {
	{ "debian ubuntu",
	  { "apt-get", "update", NULL },
	  { "apt-get", "install", "-y", "--no-install-recommends", "systemd", "systemd-sysv",
	    "openssh-server", NULL } },
	{ "alpine", { "apk", "update", NULL }, { "apk", "add", "openssh-server", NULL } },
	{ "fedora rhel centos rocky almalinux",
	  { NULL },
	  { "dnf", "install", "-y", "systemd", "openssh-server", NULL } },
	{ "arch",
	  { NULL },
	  { "pacman", "-Sy", "--noconfirm", "--needed", "systemd", "openssh", NULL } },
	{ "opensuse suse sles opensuse-leap opensuse-tumbleweed",
	  { NULL },
	  { "zypper", "--non-interactive", "install", "systemd", "openssh", NULL } },
};

static bool word_in(const char *word, const char *list)
{
	size_t len = strlen(word);

	for (const char *p = list; *p;) {
		const char *sp = strchr(p, ' ');
		size_t l = sp ? (size_t)(sp - p) : strlen(p);

		if (l == len && !strncmp(p, word, len))
			return true;
		p = sp ? sp + 1 : p + l;
	}
	return false;
}

static const struct family *os_family(void)
{
	char id[256], like[256];
	struct err e = { 0 };

	err_init(&e);
	if (sysconf_os_release(fb.root, "ID", id, sizeof(id), &e) != 0)
		return NULL;
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		if (word_in(id, families[i].ids))
			return &families[i];
	if (sysconf_os_release(fb.root, "ID_LIKE", like, sizeof(like), &e) != 0)
		return NULL;
	for (char *w = like; *w;) {
		char *sp = strchr(w, ' ');

		if (sp)
			*sp = '\0';
		for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
			if (word_in(w, families[i].ids))
				return &families[i];
		if (!sp)
			break;
		w = sp + 1;
	}
	return NULL;
}

/* Tries to install systemd and an SSH server (banger.init=systemd only:
 * the default runs the image as it is, and must not change its disk). */
static void try_install(void)
{
	const struct family *f;
	uint64_t until;
	int rc;

	if (!fb.live)
		return;
	if (!fb.cfg.install) {
		log_info("no systemd, and installing it is off (banger.install=0): staying a "
			 "minimal init");
		return;
	}
	if (!(f = os_family())) {
		log_info("no systemd, unknown distribution: staying a minimal init");
		return;
	}
	if (!network_up()) {
		log_info("no systemd and no network to install it: staying a minimal init");
		return;
	}
	setenv("DEBIAN_FRONTEND", "noninteractive", 1);
	until = boot_ms() + (uint64_t)fb.cfg.install_timeout_s * 1000;
	write_state("installing");
	log_info("no systemd: installing it with %s (at most %d s)", f->install[0],
		 fb.cfg.install_timeout_s);
	if (f->update[0] && run_bounded(f->update, until) != 0)
		log_warn("%s failed; trying the install anyway", f->update[0]);
	rc = run_bounded(f->install, until);
	if (rc != 0)
		log_warn("%s install failed (%d): staying a minimal init", f->install[0], rc);
}

/* Images carry no SSH host keys (a shared key would be every VM's): each
 * VM makes its own on its first boot, before sshd or systemd's ssh.service. */
static void host_keys(void)
{
	if (executable("/usr/bin/ssh-keygen") && access("/etc/ssh/ssh_host_ed25519_key", F_OK) &&
	    access("/etc/ssh/ssh_host_rsa_key", F_OK)) {
		static const char *const keygen[] = { "/usr/bin/ssh-keygen", "-A", NULL };

		if (run_bounded(keygen, boot_ms() + 60000) != 0)
			log_warn("ssh-keygen -A failed: sshd may refuse to start");
	}
}

static void handover(const char *systemd)
{
	sigset_t none;
	struct err e = { 0 };

	mask_units();
	host_keys();
	write_state("systemd");
	log_info("handing over to %s", systemd);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execl(systemd, systemd, (char *)NULL);
	err_errno(&e, 0, "%s: exec", systemd);
	failed(&e, "systemd");
	sigprocmask(SIG_SETMASK, &fb.sigs, NULL);
}

static void setup_services(void)
{
	struct service *a = &fb.svc[SVC_AGENT], *s = &fb.svc[SVC_SSHD];
	const char *env = getenv("BANGER_AGENT");
	char path[LIMIT_PATH];
	struct err e = { 0 };

	a->name = "agent";
	a->backoff_ms = BACKOFF_MIN_MS;
	a->enabled = true;
	if (env && *env) {
		snprintf(a->path, sizeof(a->path), "%s", env);
		a->argv[0] = env;
	} else {
		/* This very binary: the guest's agent is always the banger that
		 * booted it (the initramfs put it on /run), never an older copy
		 * an image may carry. */
		snprintf(a->path, sizeof(a->path), "/proc/self/exe");
		a->argv[0] = "vsock-agent";
	}

	s->name = "sshd";
	s->backoff_ms = BACKOFF_MIN_MS;
	err_init(&e);
	if (!fb.live || root_path(path, sizeof(path), "usr/sbin/sshd", &e) < 0 || !executable(path))
		return;
	host_keys();
	mkdir("/run/sshd", 0755);
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->argv[0] = "/usr/sbin/sshd";
	s->argv[1] = "-D";
	s->argv[2] = "-e";
	s->enabled = true;
}

static void shutdown_now(void)
{
	/* The agent asks for a power-off with SIGTERM and a reboot with SIGINT,
	 * which is also what Ctrl-Alt-Del sends; banger.halt can force one. */
	bool rb = fb.cfg.halt == HALT_REBOOT ||
		  (fb.cfg.halt == HALT_AUTO && fb.shutdown_sig == SIGINT);
	const char *what = rb ? "reboot" : "power off";
	uint64_t until;
	struct err e = { 0 };

	log_info("signal %d: shutting down (%s)", fb.shutdown_sig, what);
	for (int i = 0; i < NSVC; i++)
		fb.svc[i].enabled = false;
	kill(-1, SIGTERM);
	kill(-1, SIGCONT);
	until = boot_ms() + (uint64_t)fb.cfg.shutdown_timeout_s * 1000;
	while ((uint64_t)boot_ms() < until) {
		errno = 0;
		if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
			break;
		wait_signals(100, NULL, NULL);
	}
	if (!(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)) {
		log_warn("processes still running after %d s: killing them",
			 fb.cfg.shutdown_timeout_s);
		kill(-1, SIGKILL);
		for (int i = 0; i < 20 && !(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD); i++)
			wait_signals(100, NULL, NULL);
	}
	sync();
	err_init(&e);
	if (fb.live && sysinit_unmount_all(&e) < 0)
		log_warn("%s", e.msg);
	log_info("%s", what);
	reboot(rb ? RB_AUTOBOOT : RB_POWER_OFF);
	/* Only reached when reboot(2) failed: stay alive, keep reaping. */
	err_errno(&e, 0, "reboot(2)");
	failed(&e, "shutdown");
	for (;;)
		wait_signals(-1, NULL, NULL);
}

/* The minimal init: supervise, reap, shut down on request. Never returns. */
static void minimal_init(void)
{
	struct err e = { 0 };

	/* No udev here: name the virtio-serial ports the agent listens on. */
	if (fb.live && sysinit_virtio_port_links(&e) < 0)
		failed(&e, "virtio ports");
	setup_services();
	for (int i = 0; i < NSVC; i++)
		if (fb.svc[i].enabled)
			service_start(&fb.svc[i]);
	write_state("init");
	log_info("ready (minimal init, agent pid %d, %" PRIu64 " ms since boot)",
		 (int)fb.svc[SVC_AGENT].pid, (uint64_t)boot_ms());
	for (;;) {
		uint64_t now = boot_ms(), next = 0;

		if (fb.shutdown_sig)
			shutdown_now();
		for (int i = 0; i < NSVC; i++) {
			struct service *s = &fb.svc[i];

			if (!s->enabled || !s->restart_at_ms)
				continue;
			if (s->restart_at_ms <= now)
				service_start(s);
			else if (!next || s->restart_at_ms < next)
				next = s->restart_at_ms;
		}
		wait_signals(next ? (int)(next - now) : -1, NULL, NULL);
	}
}

static void pid1_setup(void)
{
	struct err e = { 0 };
	int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGPWR, SIGUSR1, SIGUSR2, SIGHUP };

	sigemptyset(&fb.sigs);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&fb.sigs, sigs[i]);
	sigprocmask(SIG_BLOCK, &fb.sigs, NULL);
	fb.sfd = signalfd(-1, &fb.sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (!getenv("PATH"))
		setenv("PATH", DEFAULT_PATH, 1);
	umask(022);
	if (fb.live) {
		err_init(&e);
		if (sysinit_mount_api(&e) < 0)
			failed(&e, "mount");
		sysinit_console();
	}
	/* Ctrl-Alt-Del becomes SIGINT to us. In a PID namespace this is
	 * refused (EINVAL), which is right: the host's keyboard is not ours. */
	reboot(RB_DISABLE_CAD);
	if (fb.sfd < 0) {
		err_errno(&e, 0, "signalfd");
		failed(&e, "signals");
	}
}

/* What needs the parameters: / read-write unless "ro" was asked for. */
static void pid1_live_setup(void)
{
	struct err e = { 0 };

	err_init(&e);
	if (!fb.cfg.root_ro_explicit && sysinit_remount_root_rw(&e) < 0)
		failed(&e, "root");
	err_init(&e);
	if (sysinit_loopback_up(&e) < 0)
		failed(&e, "loopback");
}

static void network_setup(void)
{
	const struct guest_config *g = &fb.cfg;
	struct err e = { 0 };

	if (sysinit_net_static(g->ip_dev, g->ip_addr, g->ip_prefix, g->ip_gw, &e) < 0)
		failed(&e, "network");
	else
		log_info("network %s %s/%d%s%s", g->ip_dev, g->ip_addr, g->ip_prefix,
			 g->ip_gw ? " via " : "", g->ip_gw ? g->ip_gw : "");
}

/* Masks only matter where systemd may run. */
static bool has_systemd_dir(void)
{
	char path[LIMIT_PATH];
	struct err e = { 0 };
	struct stat st;

	return root_path(path, sizeof(path), "etc/systemd", &e) == 0 && stat(path, &st) == 0 &&
	       S_ISDIR(st.st_mode);
}

int first_boot_main(int argc, char **argv)
{
	const char *cmdline_file = "/proc/cmdline", *systemd;

	fb.root = "/";
	fb.pid1 = getpid() == 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--root") && i + 1 < argc) {
			fb.root = argv[++i];
		} else if (!strcmp(argv[i], "--cmdline") && i + 1 < argc) {
			cmdline_file = argv[++i];
		} else if (!fb.pid1) {
			/* As PID 1, stray kernel words land in argv: ignore them. */
			log_error("unknown argument '%s' (see 'first-boot --help')", argv[i]);
			return EXIT_USAGE;
		}
	}
	fb.live = !strcmp(fb.root, "/");
	if (fb.pid1) {
		/* The mounts come first: /proc/cmdline needs /proc. */
		pid1_setup();
		log_info("starting (banger PID 1, %" PRIu64 " ms since boot)", (uint64_t)boot_ms());
	}
	read_cmdline(cmdline_file);
	if (fb.pid1 && fb.live)
		pid1_live_setup();
	if (fb.pid1)
		write_state("starting");
	/* ip= as PID 1 only (a oneshot leaves the network to systemd); with
	 * --root only from an explicit --cmdline, never the host's. */
	if (fb.pid1 && fb.cfg.ip_addr && (fb.live || strcmp(cmdline_file, "/proc/cmdline")))
		network_setup();
	apply_settings();
	if (!fb.pid1) {
		if (has_systemd_dir())
			mask_units();
		write_state(fb.errors ? "failed" : "done");
		log_info("settings applied%s", fb.errors ? " with errors (see above)" : "");
		return fb.errors ? EXIT_SYSTEM : EXIT_OK;
	}
	if (fb.cfg.init != INIT_MINIMAL) {
		if (!(systemd = find_systemd()) && fb.cfg.init == INIT_SYSTEMD) {
			try_install();
			systemd = find_systemd();
		} else if (!systemd && fb.live) {
			log_info("no systemd in the image: minimal init (banger.init=systemd "
				 "installs it)");
		}
		if (systemd && !fb.shutdown_sig)
			handover(systemd);
	}
	minimal_init();
	return EXIT_OK; /* not reached */
}
