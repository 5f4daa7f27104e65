/* doctor — check this host can run microVMs, and say how to fix what is missing.
 *
 * Its usage, the text --help prints, is doctor_usage[] below.
 */
#include "applet.h"
#include "catalog/catalog.h"
#include "err.h"
#include "exitcode.h"
#include "vm/firecracker.h"
#include "path.h"
#include "vm/qemu.h"
#include "store.h"
#include "vm/vm.h"
#include "proc.h"
#include "xfuncs.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <grp.h>
#include <pwd.h>

const char doctor_usage[] =
	"usage: doctor [--json]\n"
	"\n"
	"One line a check: OK, WARN (works, but something is degraded) or FAIL\n"
	"(something banger needs), the finding, and the fix, judged for the user\n"
	"running it: without /dev/kvm access VMs run under QEMU's emulator (a\n"
	"WARN), without /dev/net/tun access with QEMU user networking. Checks\n"
	"/dev/kvm, firecracker (>= 1.8) and jailer, QEMU, /dev/net/tun, bridge\n"
	"support, nftables or iptables, IP forwarding, vhost-vsock, free and\n"
	"writable space in the store, and the default kernel and image. Exits 1\n"
	"when a check FAILs. --json prints an array of {check, status, detail, fix}.\n"
	"\n"
	"examples:\n"
	"  banger doctor\n"
	"  banger doctor --json | jq -r '.[] | select(.status != \"OK\") | .fix'\n";

/* What TCG costs is said, not hidden: it works, but slowly. */
#define DOCTOR_TCG_COST                                                                            \
	"every guest instruction translated: boots take tens of seconds and work runs many times " \
	"slower than with KVM"

static struct {
	cJSON *json; /* NULL: text output */
	int fails;
} doc;

static void report(const char *status, const char *check, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void report(const char *status, const char *check, const char *fix, const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (!strcmp(status, "FAIL"))
		doc.fails++;
	if (doc.json) {
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddStringToObject(o, "check", check) ||
		    !cJSON_AddStringToObject(o, "status", status) ||
		    !cJSON_AddStringToObject(o, "detail", detail) ||
		    !cJSON_AddStringToObject(o, "fix", fix ? fix : ""))
			die(EXIT_SYSTEM, "out of memory");
		cJSON_AddItemToArray(doc.json, o);
		return;
	}
	printf("%-4s %-12s %s%s%s\n", status, check, detail, fix ? " — " : "", fix ? fix : "");
}

/* First line of `exe ARG` into out; -1 when it cannot run or says nothing. */
static int first_line(const char *exe, const char *arg, char *out, size_t size)
{
	const char *argv[] = { exe, arg, NULL };
	struct proc_io io = { .out = out, .out_size = size, .timeout_ms = 10000 };
	struct err e;

	err_init(&e);
	out[0] = '\0';
	if (proc_run(argv, &io, &e) != 0 || !io.out_len)
		return -1;
	out[strcspn(out, "\n")] = '\0';
	return 0;
}

/* Who may open a root-owned device: its group, or "root" when only root. */
static const char *dev_group(const char *dev, char *out, size_t size)
{
	struct stat st;
	struct group *g;

	if (stat(dev, &st) < 0 || !(st.st_mode & 060) || !(g = getgrgid(st.st_gid)) ||
	    !strcmp(g->gr_name, "root"))
		return NULL;
	snprintf(out, size, "%s", g->gr_name);
	return out;
}

static void check_kvm(void)
{
	char qemu[LIMIT_PATH], group[64], fix[256];
	const struct passwd *pw = getpwuid(getuid());
	const char *user = pw ? pw->pw_name : "USER";
	struct store st;
	struct err e;

	err_init(&e);
	if (vm_kvm_usable() && store_init(&st, &e) == 0 && vm_kvm_hangs(&st))
		report("WARN", "kvm",
		       "check nested virtualization on the host (a reboot of this host probes "
		       "again)",
		       "/dev/kvm opens but QEMU's guests hung on it on this boot: VMs run under "
		       "QEMU's emulator (TCG), %s",
		       DOCTOR_TCG_COST);
	else if (vm_kvm_usable() &&
		 vm_find_exe("BANGER_QEMU", "qemu-system-x86_64", qemu, sizeof(qemu)) == 0 &&
		 !qemu_kvm_works(qemu))
		report("WARN", "kvm",
		       "check nested virtualization on the host (BANGER_ACCEL=tcg skips the "
		       "attempt)",
		       "/dev/kvm opens but QEMU fails on it: VMs run under QEMU's emulator (TCG), "
		       "%s",
		       DOCTOR_TCG_COST);
	else if (vm_kvm_usable())
		report("OK", "kvm", NULL, "/dev/kvm is usable");
	else if (access("/dev/kvm", F_OK) == 0) {
		int why = errno;

		/* A permission question, not a broken host: TCG still runs VMs. */
		if (dev_group("/dev/kvm", group, sizeof(group)))
			snprintf(fix, sizeof(fix),
				 "as root: usermod -aG %s %s, then log in again (Firecracker "
				 "needs it too)",
				 group, user);
		else
			snprintf(fix, sizeof(fix),
				 "as root: groupadd -f kvm && chgrp kvm /dev/kvm && chmod 660 "
				 "/dev/kvm && usermod -aG kvm %s (a udev rule keeps it)",
				 user);
		report("WARN", "kvm", fix,
		       "/dev/kvm: %s for %s: VMs run under QEMU's emulator (TCG), %s",
		       strerror(why), user, DOCTOR_TCG_COST);
	} else
		report("WARN", "kvm",
		       "enable virtualization (modprobe kvm_intel or kvm_amd; nested virt in a "
		       "cloud VM)",
		       "no /dev/kvm: VMs run under QEMU's emulator (TCG), %s", DOCTOR_TCG_COST);
}

static bool check_firecracker(void)
{
	char exe[LIMIT_PATH], line[256];
	int maj, min, pat;

	if (vm_find_exe("BANGER_FIRECRACKER", "firecracker", exe, sizeof(exe)) < 0) {
		report("WARN", "firecracker",
		       "install Firecracker >= 1.8 (github.com/firecracker-microvm/firecracker "
		       "releases) or set BANGER_FIRECRACKER",
		       "not found: VMs use QEMU");
		return false;
	}
	if (first_line(exe, "--version", line, sizeof(line)) < 0 ||
	    fc_parse_version(line, &maj, &min, &pat) < 0) {
		report("FAIL", "firecracker", "reinstall Firecracker >= 1.8",
		       "%s --version does not answer like Firecracker", exe);
		return false;
	}
	if (maj < FC_MIN_VERSION_MAJOR ||
	    (maj == FC_MIN_VERSION_MAJOR && min < FC_MIN_VERSION_MINOR)) {
		report("FAIL", "firecracker",
		       "upgrade to Firecracker >= 1.8 (older ones cannot boot Debian kernels over "
		       "ACPI)",
		       "%s is v%d.%d.%d", exe, maj, min, pat);
		return false;
	}
	report("OK", "firecracker", NULL, "%s v%d.%d.%d", exe, maj, min, pat);
	return true;
}

static void check_jailer(void)
{
	char exe[LIMIT_PATH];

	if (vm_find_exe("BANGER_JAILER", "jailer", exe, sizeof(exe)) == 0)
		report("OK", "jailer", NULL, "%s", exe);
	else
		report("WARN", "jailer",
		       "install jailer beside firecracker or set BANGER_JAILER (only --jail needs "
		       "it)",
		       "not found");
}

static void check_qemu(bool fc_ok)
{
	char exe[LIMIT_PATH], line[256];

	if (vm_find_exe("BANGER_QEMU", "qemu-system-x86_64", exe, sizeof(exe)) < 0) {
		report(fc_ok && vm_kvm_usable() ? "WARN" : "FAIL", "qemu",
		       "apt-get install qemu-system-x86 (or set BANGER_QEMU)",
		       "qemu-system-x86_64 not found%s",
		       fc_ok ? "" : ": with no usable Firecracker, no VM can run");
		return;
	}
	if (first_line(exe, "--version", line, sizeof(line)) < 0)
		report("FAIL", "qemu", "reinstall qemu-system-x86", "%s --version fails", exe);
	else
		report("OK", "qemu", NULL, "%s", line);
}

/* access(), not open(): opening a vhost device would create an instance. */
static void check_dev(const char *check, const char *dev, const char *status, const char *fix,
		      const char *what)
{
	if (access(dev, R_OK | W_OK) == 0) {
		report("OK", check, NULL, "%s is usable", dev);
		return;
	}
	report(status, check, fix, "%s: %s (%s)", dev, strerror(errno), what);
}

/* Missing is a module question; refused is a permission question, and only
 * tap networking (root's default) needs the device at all. */
static void check_tun(void)
{
	if (access("/dev/net/tun", R_OK | W_OK) == 0) {
		report("OK", "tun", NULL, "/dev/net/tun is usable");
	} else if (errno == ENOENT) {
		report(geteuid() == 0 ? "FAIL" : "WARN", "tun", "as root: modprobe tun",
		       "/dev/net/tun: missing (tap networking needs it%s)",
		       geteuid() == 0 ? ", and it is root's default" : "");
	} else if (geteuid() != 0) {
		report("WARN", "tun",
		       "nothing for --net user; for --net tap run as root (creating a tap and "
		       "joining the bridge needs CAP_NET_ADMIN, not only the device)",
		       "/dev/net/tun: %s: no tap networking for this user; "
		       "VMs use QEMU user networking (the default for non-root, needs no tun)",
		       strerror(errno));
	} else {
		report("FAIL", "tun", "check the device node: ls -l /dev/net/tun (crw-rw-rw-)",
		       "/dev/net/tun: %s (tap networking needs it)", strerror(errno));
	}
}

static void check_bridge(void)
{
	if (access("/sys/module/bridge", F_OK) == 0 || access("/sys/class/net/banger0", F_OK) == 0)
		report("OK", "bridge", NULL, "bridge support is loaded");
	else
		report("WARN", "bridge", "modprobe bridge (it also loads on first use)",
		       "the bridge module is not loaded");
}

static bool on_path(const char *name)
{
	char exe[LIMIT_PATH];

	return vm_find_exe(NULL, name, exe, sizeof(exe)) == 0;
}

static void check_nat(void)
{
	char v[8] = "";
	int fd;

	if (on_path("nft"))
		report("OK", "nat", NULL, "nft found (--nat uses nftables)");
	else if (on_path("iptables"))
		report("OK", "nat", NULL, "iptables found (--nat uses it; nft is preferred)");
	else
		report("WARN", "nat", "apt-get install nftables",
		       "neither nft nor iptables: --nat cannot work");
	fd = open("/proc/sys/net/ipv4/ip_forward", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, v, sizeof(v) - 1) < 0)
			v[0] = '\0';
		close(fd);
	}
	if (v[0] == '1')
		report("OK", "ip_forward", NULL, "net.ipv4.ip_forward is on");
	else
		report("WARN", "ip_forward",
		       "--nat turns it on (or sysctl -w net.ipv4.ip_forward=1)",
		       "net.ipv4.ip_forward is off: guests cannot reach beyond the host");
}

static void check_space(const struct store *s)
{
	char dir[LIMIT_PATH];
	struct statvfs sv;
	unsigned long long gib;

	snprintf(dir, sizeof(dir), "%s", s->home);
	/* The nearest existing parent: the home may not exist yet. */
	while (statvfs(dir, &sv) < 0) {
		char *slash = strrchr(dir, '/');

		if (!slash || slash == dir) {
			snprintf(dir, sizeof(dir), "/");
			if (statvfs(dir, &sv) < 0) {
				report("FAIL", "disk", "check the filesystem", "%s: %s", s->home,
				       strerror(errno));
				return;
			}
			break;
		}
		*slash = '\0';
	}
	/* Another user's store (BANGER_HOME shared from root) cannot even be locked. */
	if (access(dir, W_OK) < 0) {
		report("FAIL", "disk",
		       geteuid() ? "unset BANGER_HOME: each user has a store of their own "
				   "($XDG_DATA_HOME/banger, else ~/.local/share/banger)"
				 : "check the filesystem is mounted read-write",
		       "%s: %s for this user (the store is %s)", dir, strerror(errno), s->home);
		return;
	}
	gib = (unsigned long long)sv.f_bavail * sv.f_frsize >> 30;
	if (gib >= 5)
		report("OK", "disk", NULL, "%llu GiB free for %s", gib, s->home);
	else
		report(gib >= 1 ? "WARN" : "FAIL", "disk",
		       "free space or set BANGER_HOME elsewhere (images take 1-2 GiB each)",
		       "only %llu GiB free for %s", gib, s->home);
}

static void check_object(const struct store *s, const char *kind, enum catalog_type type,
			 const char *name, const char *file, const char *pull)
{
	char dir[LIMIT_PATH], path[LIMIT_PATH], fix[160];
	struct catalog cat;
	struct err e;

	err_init(&e);
	if (store_object_dir(s, type == CATALOG_KERNELS ? "kernels" : "images", name, dir,
			     sizeof(dir), &e) < 0 ||
	    path_join(path, sizeof(path), dir, file, &e) < 0) {
		report("FAIL", kind, "check BANGER_HOME", "%s", e.msg);
		return;
	}
	if (access(path, R_OK) == 0) {
		report("OK", kind, NULL, "default %s '%s' is installed", kind, name);
		return;
	}
	/* Not local but pullable is fine: vm run pulls it on first use. */
	catalog_init(&cat);
	if (catalog_load(&cat, type, NULL, &e) == 0 && catalog_find(&cat, name, &e)) {
		snprintf(fix, sizeof(fix), "'banger %s %s' now, or let vm run do it", pull, name);
		report("WARN", kind, fix,
		       "default %s '%s' is not installed; %s has it (the first vm run downloads "
		       "it)",
		       kind, name, cat.source);
	} else if (type == CATALOG_IMAGES) {
		snprintf(fix, sizeof(fix), "'banger %s --name %s %s' (vm run does it)", pull, name,
			 VM_DEFAULT_IMAGE_REF);
		report("WARN", kind, fix,
		       "default %s '%s' is neither installed nor in the catalog: it comes from a "
		       "registry (%s)",
		       kind, name, VM_DEFAULT_IMAGE_REF);
	} else {
		snprintf(fix, sizeof(fix),
			 "'banger %s %s' from a catalog that has it (BANGER_%s_CATALOG)", pull,
			 name, "KERNEL");
		report("WARN", kind, fix, "default %s '%s' is neither installed nor in the catalog",
		       kind, name);
	}
	catalog_fini(&cat);
}

int doctor_main(int argc, char **argv)
{
	struct store s;
	struct err e;
	bool fc_ok;

	err_init(&e);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			doc.json = cJSON_CreateArray();
		else
			die_usage("unknown argument '%s'", argv[i]);
	}
	if (store_init(&s, &e) < 0)
		die_err(&e);
	check_kvm();
	fc_ok = check_firecracker();
	check_jailer();
	check_qemu(fc_ok);
	check_tun();
	check_bridge();
	check_nat();
	check_dev("vhost-vsock", "/dev/vhost-vsock", "WARN",
		  "modprobe vhost_vsock (Firecracker's vsock needs it; QEMU uses virtio-serial)",
		  "no vsock to guests");
	check_space(&s);
	check_object(&s, "kernel", CATALOG_KERNELS, VM_DEFAULT_KERNEL, "vmlinux", "kernel pull");
	check_object(&s, "image", CATALOG_IMAGES, VM_DEFAULT_IMAGE, "rootfs.ext4", "image pull");
	if (doc.json) {
		char *text = cJSON_Print(doc.json);

		if (!text)
			die(EXIT_SYSTEM, "out of memory");
		printf("%s\n", text);
		cJSON_free(text);
		cJSON_Delete(doc.json);
	}
	if (fflush(stdout))
		return EXIT_SYSTEM;
	return doc.fails ? EXIT_NO : EXIT_OK;
}
